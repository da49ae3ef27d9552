// registry_tour: the demo until the example VMM (minivmm) exists.
//
// Registers a small storage stack's drivers and prints the registry; loads the VM's config from
// JSON (examples/configs/tour.json, or the file given), applies `path=value` overrides from the
// command line, and builds the chain a LUN's config describes, top to bottom: each driver found
// by name, its interfaces checked against the driver above before it is constructed, its
// `Config` node bound to its typed config struct through the descriptor (every problem reported at
// once). Then it runs
// a write/read workload through the chain. The chain manager will do all of this from the
// config; the demo shows the pieces it is made of.
//
// Usage: registry_tour [CONFIG.json] [path=value ...]
#include <pdm/pdm.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "../drivers/storage.hpp"

namespace {

std::string class_names(pdm::driver_class c) {
  std::string out;
  auto add = [&](pdm::driver_class bit, const char* name) {
    if (pdm::has_any(c, bit)) out += out.empty() ? name : std::string("|") + name;
  };
  add(pdm::driver_class::block, "block");
  add(pdm::driver_class::media, "media");
  add(pdm::driver_class::filter, "filter");
  return out;
}

void print_error(const pdm::error& e) { std::fprintf(stderr, "registry_tour: %s\n", e.message().c_str()); }

}  // namespace

int main(int argc, char** argv) {
  using example::storage_drivers;
  pdm::registry registry;
  if (pdm::status s = registry.add(storage_drivers{}); !s) {
    print_error(s.error_value());
    return 1;
  }
  std::printf("pdm %s registry: %zu drivers\n", pdm::version_string, registry.size());
  for (const pdm::driver_descriptor* d : registry.drivers()) {
    std::printf("  %-8s %-13s %5zu bytes  provides:", std::string(d->name).c_str(), class_names(d->class_mask).c_str(),
                d->size);
    for (const pdm::interface_ref& e : d->provides) std::printf(" %s", std::string(e.id).c_str());
    std::printf("  needs below:");
    for (const pdm::interface_ref& r : d->needs_below) std::printf(" %s", std::string(r.id).c_str());
    std::printf("\n");
  }
  using port = pdm::device_port<pdm::interface_list<example::block_port>, pdm::interface_list<example::block>>;
  static_assert(pdm::static_chain<port, example::block_layer, example::tracer, example::ram_disk>::valid);
  std::printf("static chain <port> -> Block -> Tracer -> RamDisk: checked at compile time\n");

  // The config: a file, then overrides.
  const std::string file = argc > 1 && std::string_view(argv[1]).find('=') == std::string_view::npos
                               ? argv[1]
                               : std::string(PDM_EXAMPLES_DIR) + "/configs/tour.json";
  pdm::result<pdm::config_tree> config = pdm::load_json_file(file);
  if (!config) {
    print_error(config.error_value());
    return 1;
  }
  std::vector<std::string> overrides;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]).find('=') != std::string_view::npos) overrides.emplace_back(argv[i]);
  }
  if (pdm::status s = pdm::apply_overrides(config->root(), overrides); !s) {
    print_error(s.error_value());
    return 1;
  }
  std::printf("config %s (%zu override%s)\n", file.c_str(), overrides.size(), overrides.size() == 1 ? "" : "s");

  // Build the chain of Devices/disk/0/LUN#0 top to bottom, checking each link before constructing.
  constexpr std::string_view lun_path = "Devices/disk/0/LUN#0";
  const pdm::config_node* node = config->root().find_child(lun_path);
  if (node == nullptr) {
    print_error(pdm::error(pdm::errc::no_attached_driver).path(lun_path));
    return 1;
  }
  std::vector<pdm::driver_object> chain;  // the chain manager will own these
  while (node != nullptr) {
    pdm::result<std::string> name = node->get<std::string>("Driver");
    if (!name) {
      print_error(pdm::error(pdm::errc::missing_driver_name).path(node->path()));
      return 1;
    }
    const pdm::driver_descriptor* d = registry.find(*name);
    if (d == nullptr) {
      print_error(pdm::error(pdm::errc::driver_not_found, *name).path(node->path()));
      return 1;
    }
    if (!chain.empty()) {
      for (const pdm::interface_ref& need : chain.back().descriptor().needs_below) {
        if (!d->provides_key(need.key)) {
          print_error(pdm::error(pdm::errc::missing_interface,
                                 std::string(chain.back().descriptor().name) + " needs " + std::string(need.id))
                          .driver(*name)
                          .path(node->path()));
          return 1;
        }
      }
    }
    // The driver's Config node (an empty one if there is none), bound to its config struct by the
    // descriptor, then the driver constructed with it.
    const pdm::config_tree empty;
    const pdm::config_node* cfg = node->find_child("Config");
    pdm::result<pdm::driver_object> object =
        pdm::driver_object::create_configured(*d, 0, cfg != nullptr ? *cfg : empty.root());
    if (!object) {
      print_error(object.error_value());
      return 1;
    }
    std::printf("  attached %-8s at %s\n", name->c_str(), node->path().c_str());
    chain.push_back(std::move(object).value());
    node = node->find_child("AttachedDriver");
  }
  // Link each driver to the media interface of the one below it (type-erased queries).
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const std::string_view name = chain[i].descriptor().name;
    const bool last = i + 1 == chain.size();
    if (name == "RamDisk" && !last) {
      print_error(pdm::error(pdm::errc::no_runtime_attach, "RamDisk takes no driver below it").driver(name, 0));
      return 1;
    }
    if (name != "RamDisk" && last) {
      print_error(pdm::error(pdm::errc::no_attached_driver, "it needs a medium below it").driver(name, 0));
      return 1;
    }
    if (last) break;
    auto* below = chain[i + 1].query<example::media>();
    if (name == "Block") static_cast<example::block_layer*>(chain[i].get())->connect_below(below);
    if (name == "Tracer") static_cast<example::tracer*>(chain[i].get())->connect_below(below);
  }

  // Workload: write 16 sectors with a pattern, read them back, verify.
  auto* top = chain.front().query<example::block>();
  if (top == nullptr) {
    print_error(pdm::error(pdm::errc::missing_interface, "the top driver provides no block interface"));
    return 1;
  }
  int verified = 0;
  for (std::uint64_t lba = 0; lba < 16; ++lba) {
    example::block::sector out{};
    out.fill(static_cast<std::uint8_t>(lba * 7 + 1));
    example::block::sector in{};
    if (top->write_sector(lba, out) && top->read_sector(lba, in) && in == out) ++verified;
  }
  std::printf("workload: %d/16 sectors written and verified\n", verified);

  // Destroy bottom-most first, as the chain manager does.
  while (!chain.empty()) chain.pop_back();
  std::printf("%s\n", verified == 16 ? "demo ok" : "demo FAILED");
  return verified == 16 ? 0 : 1;
}
