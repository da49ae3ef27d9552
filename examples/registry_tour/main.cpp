// registry_tour: the demo until the example VMM (minivmm) exists.
//
// Registers a small storage stack's drivers, prints the registry, checks the stack statically,
// then builds the stack by hand through type-erased descriptors (what the chain manager will do
// from configuration), checking each link's interfaces at run time before constructing, and runs a
// write/read workload through it.
#include <pdm/pdm.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace tour {

struct media {
  static constexpr std::string_view interface_id = "tour.media/1";
  virtual bool read(std::uint64_t offset, void* out, std::size_t size) = 0;
  virtual bool write(std::uint64_t offset, const void* in, std::size_t size) = 0;

 protected:
  ~media() = default;
};
struct block {
  static constexpr std::string_view interface_id = "tour.block/1";
  virtual bool read_sector(std::uint64_t lba, std::array<std::uint8_t, 512>& out) = 0;
  virtual bool write_sector(std::uint64_t lba, const std::array<std::uint8_t, 512>& in) = 0;

 protected:
  ~block() = default;
};
struct block_port {
  static constexpr std::string_view interface_id = "tour.block-port/1";
};

// Bottom: a disk image in memory.
class ram_disk final : public media {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "RamDisk", .description = "Disk image in memory", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<media>;
  explicit ram_disk(pdm::driver_context& /*ctx*/) : bytes_(64 * 512) {}
  bool read(std::uint64_t offset, void* out, std::size_t size) override {
    if (offset + size > bytes_.size()) return false;
    std::memcpy(out, bytes_.data() + offset, size);
    return true;
  }
  bool write(std::uint64_t offset, const void* in, std::size_t size) override {
    if (offset + size > bytes_.size()) return false;
    std::memcpy(bytes_.data() + offset, in, size);
    return true;
  }
  void connect_below(void* /*below*/) {}

 private:
  std::vector<std::uint8_t> bytes_;
};

// Middle: counts traffic and passes it on.
class tracer final : public media {
 public:
  static constexpr pdm::driver_traits traits{.name = "Tracer",
                                             .description = "Counts media traffic",
                                             .class_mask = pdm::driver_class::filter | pdm::driver_class::media};
  using provides = pdm::interface_list<media>;
  using needs_below = pdm::interface_list<media>;
  explicit tracer(pdm::driver_context& /*ctx*/) {}
  ~tracer() { std::printf("  Tracer saw %d reads and %d writes\n", reads_, writes_); }
  bool read(std::uint64_t offset, void* out, std::size_t size) override {
    ++reads_;
    return below_->read(offset, out, size);
  }
  bool write(std::uint64_t offset, const void* in, std::size_t size) override {
    ++writes_;
    return below_->write(offset, in, size);
  }
  void connect_below(media* below) { below_ = below; }

 private:
  media* below_ = nullptr;
  int reads_ = 0;
  int writes_ = 0;
};

// Top: sectors over a medium.
class block_layer final : public block {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Block", .description = "Sectors over a medium", .class_mask = pdm::driver_class::block};
  using provides = pdm::interface_list<block>;
  using needs_below = pdm::interface_list<media>;
  using needs_above = pdm::interface_list<block_port>;
  explicit block_layer(pdm::driver_context& /*ctx*/) {}
  bool read_sector(std::uint64_t lba, std::array<std::uint8_t, 512>& out) override {
    return below_->read(lba * 512, out.data(), out.size());
  }
  bool write_sector(std::uint64_t lba, const std::array<std::uint8_t, 512>& in) override {
    return below_->write(lba * 512, in.data(), in.size());
  }
  void connect_below(media* below) { below_ = below; }

 private:
  media* below_ = nullptr;
};

using drivers = pdm::driver_list<block_layer, tracer, ram_disk>;
using port = pdm::device_port<pdm::interface_list<block_port>, pdm::interface_list<block>>;
static_assert(pdm::static_chain<port, block_layer, tracer, ram_disk>::valid);

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

}  // namespace tour

int main() {
  using namespace tour;
  pdm::registry registry;
  if (pdm::status s = registry.add(drivers{}); !s) {
    std::fprintf(stderr, "registration failed: %s\n", s.error_value().message().c_str());
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
  std::printf("static chain <port> -> Block -> Tracer -> RamDisk: checked at compile time\n");

  // Build the stack top to bottom by name, checking each link before constructing.
  const char* stack[] = {"Block", "Tracer", "RamDisk"};
  std::vector<pdm::driver_object> chain;  // the chain manager will own these
  for (const char* name : stack) {
    const pdm::driver_descriptor* d = registry.find(name);
    if (d == nullptr) {
      std::fprintf(stderr, "%s\n", pdm::error(pdm::errc::driver_not_found).driver(name).message().c_str());
      return 1;
    }
    if (!chain.empty()) {
      for (const pdm::interface_ref& need : chain.back().descriptor().needs_below) {
        if (!d->provides_key(need.key)) {
          std::fprintf(stderr, "%s\n",
                       pdm::error(pdm::errc::missing_interface, std::string(need.id)).driver(name).message().c_str());
          return 1;
        }
      }
    }
    pdm::result<pdm::driver_object> object = pdm::driver_object::create(*d, 0);
    if (!object) {
      std::fprintf(stderr, "%s\n", object.error_value().message().c_str());
      return 1;
    }
    chain.push_back(std::move(object).value());
  }
  // Link each driver to the media interface of the one below it (type-erased queries).
  static_cast<block_layer*>(chain[0].get())->connect_below(chain[1].query<media>());
  static_cast<tracer*>(chain[1].get())->connect_below(chain[2].query<media>());

  // Workload: write 16 sectors with a pattern, read them back, verify.
  auto* top = chain[0].query<block>();
  int verified = 0;
  for (std::uint64_t lba = 0; lba < 16; ++lba) {
    std::array<std::uint8_t, 512> out{};
    out.fill(static_cast<std::uint8_t>(lba * 7 + 1));
    std::array<std::uint8_t, 512> in{};
    if (top->write_sector(lba, out) && top->read_sector(lba, in) && in == out) ++verified;
  }
  std::printf("workload: %d/16 sectors written and verified\n", verified);

  // Destroy bottom-most first, as the chain manager does.
  while (!chain.empty()) chain.pop_back();
  std::printf("%s\n", verified == 16 ? "demo ok" : "demo FAILED");
  return verified == 16 ? 0 : 1;
}
