// Small, real drivers shared by the unit tests: a memory-backed medium, a block layer that
// needs a medium below, and a counting filter. They do something observable so tests can tell
// a working instance from an empty shell.
#pragma once

#include <pdm/pdm.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace test {

struct media {
  static constexpr std::string_view interface_id = "pdm.test.media/1";
  virtual std::size_t read(std::uint64_t offset, void* out, std::size_t size) = 0;
  virtual std::size_t write(std::uint64_t offset, const void* in, std::size_t size) = 0;
  [[nodiscard]] virtual std::uint64_t size() const = 0;

 protected:
  ~media() = default;
};

struct block {
  static constexpr std::string_view interface_id = "pdm.test.block/1";
  virtual bool read_sector(std::uint64_t lba, std::array<std::uint8_t, 512>& out) = 0;

 protected:
  ~block() = default;
};

struct media_port {
  static constexpr std::string_view interface_id = "pdm.test.media-port/1";
  virtual void media_changed() = 0;

 protected:
  ~media_port() = default;
};

struct mount {
  static constexpr std::string_view interface_id = "pdm.test.mount/1";
  [[nodiscard]] virtual bool is_mounted() const = 0;

 protected:
  ~mount() = default;
};

/// A medium backed by a vector: writes are readable back.
class memory_disk final : public media, public mount {
 public:
  static constexpr pdm::driver_traits traits{.name = "MemDisk",
                                             .description = "A disk image held in memory",
                                             .class_mask = pdm::driver_class::media,
                                             .max_instances = 8};
  using provides = pdm::interface_list<media, mount>;

  explicit memory_disk(pdm::driver_context& ctx) : instance_(ctx.instance()), bytes_(4096) {}

  std::size_t read(std::uint64_t offset, void* out, std::size_t size) override {
    if (offset >= bytes_.size()) return 0;
    const std::size_t n = std::min<std::size_t>(size, bytes_.size() - offset);
    std::memcpy(out, bytes_.data() + offset, n);
    return n;
  }
  std::size_t write(std::uint64_t offset, const void* in, std::size_t size) override {
    if (offset >= bytes_.size()) return 0;
    const std::size_t n = std::min<std::size_t>(size, bytes_.size() - offset);
    std::memcpy(bytes_.data() + offset, in, n);
    return n;
  }
  [[nodiscard]] std::uint64_t size() const override { return bytes_.size(); }
  [[nodiscard]] bool is_mounted() const override { return true; }
  [[nodiscard]] std::uint32_t instance() const { return instance_; }

 private:
  std::uint32_t instance_;
  std::vector<std::uint8_t> bytes_;
};

/// A block layer: needs a medium below, offers sectors above, counts power events.
class block_layer final : public block {
 public:
  struct config_type {
    std::uint32_t sector_size = 512;
  };
  static constexpr pdm::driver_traits traits{
      .name = "Block", .description = "Sector access over a medium", .class_mask = pdm::driver_class::block};
  using provides = pdm::interface_list<block>;
  using needs_below = pdm::interface_list<media>;
  using needs_above = pdm::interface_list<media_port>;

  block_layer(pdm::driver_context& /*ctx*/, const config_type& cfg) : sector_size_(cfg.sector_size) {}
  [[nodiscard]] std::uint32_t sector_size() const { return sector_size_; }

  bool read_sector(std::uint64_t lba, std::array<std::uint8_t, 512>& out) override {
    if (below_ == nullptr) return false;
    return below_->read(lba * sector_size_, out.data(), out.size()) == out.size();
  }
  void connect(media* below) { below_ = below; }

  void on_power_on() { ++power_events; }
  void on_suspend() { ++power_events; }
  void on_detach_below(pdm::attach_flags /*flags*/) { below_ = nullptr; }
  pdm::status on_attach_below(pdm::attach_flags /*flags*/) { return pdm::ok(); }

  int power_events = 0;

 private:
  std::uint32_t sector_size_;
  media* below_ = nullptr;
};

/// A filter that passes media through and counts calls; it keeps a log string to show it ran.
class counting_filter final : public media {
 public:
  static constexpr pdm::driver_traits traits{.name = "Counter",
                                             .description = "Counts media calls",
                                             .class_mask = pdm::driver_class::filter | pdm::driver_class::media,
                                             .max_instances = 2};
  using provides = pdm::interface_list<media>;
  using needs_below = pdm::interface_list<media>;

  explicit counting_filter(pdm::driver_context& ctx) : log_(std::string(ctx.driver_name()) + " constructed") {}
  ~counting_filter() { ++destroyed; }

  std::size_t read(std::uint64_t offset, void* out, std::size_t size) override {
    ++calls;
    return below_ != nullptr ? below_->read(offset, out, size) : 0;
  }
  std::size_t write(std::uint64_t offset, const void* in, std::size_t size) override {
    ++calls;
    return below_ != nullptr ? below_->write(offset, in, size) : 0;
  }
  [[nodiscard]] std::uint64_t size() const override { return below_ != nullptr ? below_->size() : 0; }
  void connect(media* below) { below_ = below; }
  [[nodiscard]] const std::string& log() const { return log_; }

  int calls = 0;
  static inline int destroyed = 0;

 private:
  std::string log_;
  media* below_ = nullptr;
};

/// Makes a driver_object and fails the test case if that fails.
inline pdm::driver_object make_object(const pdm::driver_descriptor& d, std::uint32_t instance, void* config = nullptr) {
  pdm::result<pdm::driver_object> r = pdm::driver_object::create(d, instance, config);
  if (!r) throw std::runtime_error(r.error_value().message());
  return std::move(r).value();
}

}  // namespace test

BOOST_HANA_ADAPT_STRUCT(test::block_layer::config_type, sector_size);
