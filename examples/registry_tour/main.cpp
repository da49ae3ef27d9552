// registry_tour: the demo until the example VMM (minivmm) exists.
//
// Registers a small storage stack's drivers and prints the registry; loads the VM's config from
// JSON (examples/configs/tour.json, or the file given), applies `path=value` overrides from the
// command line, and has a pdm::vm attach the chain a LUN's config describes: each driver found by
// name, its interfaces checked against the driver above before it is constructed, its `Config`
// node bound to its typed config struct (every problem reported at once). Then it powers the VM
// on, runs a write/read workload through the chain, powers off and detaches the chain.
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
  using static_port = pdm::device_port<pdm::interface_list<example::block_port>, pdm::interface_list<example::block>>;
  static_assert(pdm::static_chain<static_port, example::block_layer, example::tracer, example::ram_disk>::valid);
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

  // The VM: the registry, the config and a disk controller with one LUN. The controller offers a
  // block port to the chain's top driver and needs the block interface from it.
  pdm::vm_options options;
  options.emt = pdm::emt_mode::current_thread;  // this thread runs the chain operations
  pdm::vm vm(std::move(registry), std::move(*config), options);
  example::block_port port;
  pdm::device_spec disk;
  disk.name = "disk";
  disk.luns.push_back(pdm::lun_spec{
      .number = 0, .offers = {pdm::offer<example::block_port>(port)}, .needs = pdm::interfaces<example::block>()});
  disk.hooks.on_detach = [](std::uint32_t lun, pdm::attach_flags) { std::printf("disk: LUN#%u detached\n", lun); };
  if (pdm::status s = vm.add_device(std::move(disk)); !s) {
    print_error(s.error_value());
    return 1;
  }

  // Attach the chain configured for LUN#0: each driver found by name, its interfaces checked
  // against the driver above before it is constructed, its Config bound to its typed struct; each
  // constructor attaches the driver below it.
  pdm::result<pdm::driver_ref> top = vm.attach("disk", 0, 0, pdm::attach_flags::not_hot_plug);
  if (!top) {
    print_error(top.error_value());
    return 1;
  }
  std::printf("%s", vm.dump().value().c_str());
  if (pdm::status s = vm.power_on(); !s) {
    print_error(s.error_value());
    return 1;
  }

  // Workload: write 16 sectors with a pattern, read them back, verify.
  auto* blocks = top->query<example::block>();  // not null: the device's needs were checked
  int verified = 0;
  for (std::uint64_t lba = 0; lba < 16; ++lba) {
    example::block::sector out{};
    out.fill(static_cast<std::uint8_t>(lba * 7 + 1));
    example::block::sector in{};
    if (blocks->write_sector(lba, out) && blocks->read_sector(lba, in) && in == out) ++verified;
  }
  std::printf("workload: %d/16 sectors written and verified\n", verified);

  // Power off, then detach the chain: bottom-most first, each parent told.
  if (pdm::status s = vm.power_off(); !s) print_error(s.error_value());
  if (pdm::status s = vm.detach("disk", 0, 0); !s) print_error(s.error_value());
  const pdm::driver_counts blocks_made = vm.counts("Block").value();
  std::printf("Block instances: %u live, %u made\n", blocks_made.live, blocks_made.next_instance);
  std::printf("%s\n", verified == 16 ? "demo ok" : "demo FAILED");
  return verified == 16 ? 0 : 1;
}
