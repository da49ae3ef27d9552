// examples/drivers/storage.hpp - a small storage stack: Block over Tracer over RamDisk.
//
// Real, if small, drivers with typed configuration: each declares a config struct described to
// Boost.Hana, with descriptions, ranges and required keys in `config_fields`. Block and Tracer
// attach the driver configured below them from their constructors. The demo
// (examples/registry_tour) has a pdm::vm build the stack from a JSON config, and
// docs/config-reference.md is generated from `example::storage_drivers` (the test
// config_reference_is_current keeps it current).
#pragma once

#include <pdm/config/binding.hpp>
#include <pdm/driver/context.hpp>
#include <pdm/driver/interface.hpp>
#include <pdm/driver/registry.hpp>
#include <pdm/driver/traits.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace example {

// Interfaces ---------------------------------------------------------------------------------

/// Byte-addressed storage.
struct media {
  static constexpr std::string_view interface_id = "example.media/1";
  virtual bool read(std::uint64_t offset, void* out, std::size_t size) = 0;
  virtual bool write(std::uint64_t offset, const void* in, std::size_t size) = 0;
  [[nodiscard]] virtual std::uint64_t size() const = 0;

 protected:
  ~media() = default;
};

/// 512-byte sectors.
struct block {
  static constexpr std::string_view interface_id = "example.block/1";
  using sector = std::array<std::uint8_t, 512>;
  virtual bool read_sector(std::uint64_t lba, sector& out) = 0;
  virtual bool write_sector(std::uint64_t lba, const sector& in) = 0;

 protected:
  ~block() = default;
};

/// What a storage controller's LUN offers the driver at the top of its chain.
struct block_port {
  static constexpr std::string_view interface_id = "example.block-port/1";
};

// RamDisk: the bottom, a disk image in memory --------------------------------------------------

struct ram_disk_config {
  std::uint32_t size_sectors = 64;
  std::uint8_t fill = 0;
  pdm::config_bytes uuid;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "size_sectors", .description = "Disk size in 512-byte sectors", .min = 1, .max = 65536},
      {.member = "fill", .description = "Byte every sector holds before it is first written"},
      {.member = "uuid", .description = "Disk identity, reported to the guest", .key = "UUID"},
  };
};

class ram_disk final : public media {
 public:
  static constexpr pdm::driver_traits traits{.name = "RamDisk",
                                             .description = "Disk image in memory",
                                             .class_mask = pdm::driver_class::media,
                                             .max_instances = 16};
  using provides = pdm::interface_list<media>;
  using config_type = ram_disk_config;

  ram_disk(pdm::driver_context& /*ctx*/, const config_type& config)
      : bytes_(std::size_t{config.size_sectors} * 512, config.fill) {}
  bool read(std::uint64_t offset, void* out, std::size_t size) override {
    if (offset > bytes_.size() || size > bytes_.size() - offset) return false;
    std::memcpy(out, bytes_.data() + offset, size);
    return true;
  }
  bool write(std::uint64_t offset, const void* in, std::size_t size) override {
    if (offset > bytes_.size() || size > bytes_.size() - offset) return false;
    std::memcpy(bytes_.data() + offset, in, size);
    return true;
  }
  [[nodiscard]] std::uint64_t size() const override { return bytes_.size(); }

 private:
  std::vector<std::uint8_t> bytes_;
};

// Tracer: a filter that counts traffic ------------------------------------------------------------

struct tracer_config {
  std::string label = "trace";
  bool report = true;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "label", .description = "Name printed with the counts"},
      {.member = "report", .description = "Print the counts when the driver is destroyed"},
  };
};

class tracer final : public media {
 public:
  static constexpr pdm::driver_traits traits{.name = "Tracer",
                                             .description = "Counts media traffic and passes it on",
                                             .class_mask = pdm::driver_class::filter | pdm::driver_class::media};
  using provides = pdm::interface_list<media>;
  using needs_below = pdm::interface_list<media>;
  using config_type = tracer_config;

  tracer(pdm::driver_context& ctx, const config_type& config) : config_(config) {
    pdm::result<pdm::driver_ref> below = ctx.attach();
    if (!below) {
      ctx.fail(below.error_value());
      return;
    }
    below_ = below->query<media>();  // not null: the chain manager checked needs_below
  }
  ~tracer() {
    if (config_.report) std::printf("  %s: %d reads, %d writes\n", config_.label.c_str(), reads_, writes_);
  }
  tracer(const tracer&) = delete;
  tracer& operator=(const tracer&) = delete;
  tracer(tracer&&) = delete;
  tracer& operator=(tracer&&) = delete;

  bool read(std::uint64_t offset, void* out, std::size_t size) override {
    ++reads_;
    return below_->read(offset, out, size);
  }
  bool write(std::uint64_t offset, const void* in, std::size_t size) override {
    ++writes_;
    return below_->write(offset, in, size);
  }
  [[nodiscard]] std::uint64_t size() const override { return below_->size(); }
  void on_detach_below(pdm::attach_flags /*flags*/) { below_ = nullptr; }
  [[nodiscard]] int reads() const { return reads_; }
  [[nodiscard]] int writes() const { return writes_; }

 private:
  tracer_config config_;
  media* below_ = nullptr;
  int reads_ = 0;
  int writes_ = 0;
};

// Block: the top, sectors over a medium ---------------------------------------------------------

enum class write_policy { write_back, write_through, read_only };
BOOST_DESCRIBE_ENUM(write_policy, write_back, write_through, read_only)

struct block_config {
  write_policy policy = write_policy::write_back;
  std::optional<std::uint64_t> max_sectors;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "policy", .description = "How writes are handled; read_only refuses them"},
      {.member = "max_sectors", .description = "Sectors visible to the guest (default: the whole medium)"},
  };
};

class block_layer final : public block {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Block", .description = "512-byte sectors over a medium", .class_mask = pdm::driver_class::block};
  using provides = pdm::interface_list<block>;
  using needs_below = pdm::interface_list<media>;
  using needs_above = pdm::interface_list<block_port>;
  using config_type = block_config;

  block_layer(pdm::driver_context& ctx, const config_type& config) : config_(config) {
    pdm::result<pdm::driver_ref> below = ctx.attach();
    if (!below) {
      ctx.fail(below.error_value());
      return;
    }
    below_ = below->query<media>();
  }
  bool read_sector(std::uint64_t lba, sector& out) override {
    return visible(lba) && below_->read(lba * 512, out.data(), out.size());
  }
  bool write_sector(std::uint64_t lba, const sector& in) override {
    return config_.policy != write_policy::read_only && visible(lba) && below_->write(lba * 512, in.data(), in.size());
  }
  void on_detach_below(pdm::attach_flags /*flags*/) { below_ = nullptr; }

 private:
  [[nodiscard]] bool visible(std::uint64_t lba) const {
    return below_ != nullptr && lba < below_->size() / 512 && (!config_.max_sectors || lba < *config_.max_sectors);
  }
  block_config config_;
  media* below_ = nullptr;
};

/// The example drivers, as a VMM lists them.
using storage_drivers = pdm::driver_list<block_layer, tracer, ram_disk>;

}  // namespace example

BOOST_HANA_ADAPT_STRUCT(example::ram_disk_config, size_sectors, fill, uuid);
BOOST_HANA_ADAPT_STRUCT(example::tracer_config, label, report);
BOOST_HANA_ADAPT_STRUCT(example::block_config, policy, max_sectors);
