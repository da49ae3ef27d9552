// examples/minivmm/storage_drivers.hpp - minivmm's storage stack: Block over (Trace over) RawImage.
//
// RawImage is a disk image in a host file (POSIX pread/pwrite), with a probe so that a mount
// without a format finds it. Trace is a filter a DriverTransformations rule injects between Block
// and RawImage: it counts traffic in statistics and logs each request to a file. Block turns the
// medium into 512-byte sectors for the storage controller, keeps its counters in saved state, and,
// when mountable, ejects and mounts media at run time (ctx.mount_prepare + ctx.attach).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pdm/config/binding.hpp>
#include <pdm/driver/context.hpp>
#include <pdm/driver/interface.hpp>
#include <pdm/driver/traits.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "interfaces.hpp"

namespace minivmm {

/// "cannot open 'x': No such file or directory" as a pdm error (the chain manager adds the
/// driver, its instance and its config path).
inline pdm::error host_error(std::string what, int code) {
  return pdm::error(pdm::errc::io_error, std::move(what) + ": " + std::strerror(code));
}

// RawImage ---------------------------------------------------------------------------------------

struct raw_image_config {
  std::string path;
  bool read_only = false;
  bool create = false;
  std::uint32_t size_sectors = 2048;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "path", .description = "The image file (relative to the VM's directory)", .required = true},
      {.member = "read_only", .description = "Open the image read-only; writes fail"},
      {.member = "create", .description = "Create the image (sparse, SizeSectors long) if it does not exist"},
      {.member = "size_sectors",
       .description = "Size in 512-byte sectors of an image made by Create",
       .min = 1,
       .max = 16 * 1024 * 1024},
  };
};

class raw_image final : public media {
 public:
  static constexpr pdm::driver_traits traits{.name = "RawImage",
                                             .description = "Raw disk image in a host file",
                                             .class_mask = pdm::driver_class::media,
                                             .max_instances = 64};
  using provides = pdm::interface_list<media>;
  using config_type = raw_image_config;

  /// Any regular file can be a raw image; one named like an image is surely one.
  static int probe(std::span<const std::byte> /*head*/, std::string_view file) {
    const auto ends_with = [&](std::string_view suffix) { return file.ends_with(suffix); };
    return ends_with(".img") || ends_with(".iso") || ends_with(".raw") ? 60 : 10;
  }

  raw_image(pdm::driver_context& ctx, config_type config) : config_(std::move(config)) {
    int flags = (config_.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    if (config_.create && !config_.read_only) flags |= O_CREAT;
    fd_ = ::open(config_.path.c_str(), flags, 0644);
    if (fd_ < 0) {
      const int code = errno;
      ctx.fail(host_error("cannot open image '" + config_.path + "'", code));
      return;
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const int code = errno;
      ctx.fail(host_error("cannot stat image '" + config_.path + "'", code));
      return;
    }
    if (!S_ISREG(st.st_mode)) {
      ctx.fail(pdm::error(pdm::errc::io_error, "image '" + config_.path + "' is not a regular file"));
      return;
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
    if (size_ == 0 && config_.create) {
      size_ = std::uint64_t{config_.size_sectors} * sector_size;
      if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
        const int code = errno;
        ctx.fail(host_error("cannot size image '" + config_.path + "'", code));
        return;
      }
    }
    if (auto c = ctx.add_counter("BytesRead", pdm::stat_unit::bytes, "Bytes read from the image")) bytes_read_ = *c;
    if (auto c = ctx.add_counter("BytesWritten", pdm::stat_unit::bytes, "Bytes written to the image")) {
      bytes_written_ = *c;
    }
  }
  ~raw_image() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_image(const raw_image&) = delete;
  raw_image& operator=(const raw_image&) = delete;
  raw_image(raw_image&&) = delete;
  raw_image& operator=(raw_image&&) = delete;

  bool read(std::uint64_t offset, std::span<std::byte> out) override {
    if (!in_bounds(offset, out.size())) return false;
    for (std::size_t done = 0; done < out.size();) {
      const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      if (n == 0) {  // a sparse tail shorter than the size we gave it: zeros
        std::memset(out.data() + done, 0, out.size() - done);
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    if (bytes_read_ != nullptr) bytes_read_->add(out.size());
    return true;
  }
  bool write(std::uint64_t offset, std::span<const std::byte> in) override {
    if (config_.read_only || !in_bounds(offset, in.size())) return false;
    for (std::size_t done = 0; done < in.size();) {
      const ssize_t n = ::pwrite(fd_, in.data() + done, in.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    if (bytes_written_ != nullptr) bytes_written_->add(in.size());
    return true;
  }
  [[nodiscard]] std::uint64_t size() const override { return size_; }
  [[nodiscard]] bool read_only() const override { return config_.read_only; }
  [[nodiscard]] std::string location() const override { return config_.path; }

 private:
  [[nodiscard]] bool in_bounds(std::uint64_t offset, std::size_t n) const {
    return fd_ >= 0 && offset <= size_ && n <= size_ - offset;
  }
  raw_image_config config_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  pdm::stat_counter* bytes_read_ = nullptr;
  pdm::stat_counter* bytes_written_ = nullptr;
};

// Trace ------------------------------------------------------------------------------------------

struct trace_config {
  std::optional<std::string> log_path;
  std::uint32_t max_records = 4096;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "log_path", .description = "File that gets one line per request (none: statistics only)"},
      {.member = "max_records", .description = "Lines written to the log at most", .max = 1'000'000},
  };
};

class trace final : public media {
 public:
  static constexpr pdm::driver_traits traits{.name = "Trace",
                                             .description = "Counts and logs media requests, passes them on",
                                             .class_mask = pdm::driver_class::filter | pdm::driver_class::media};
  using provides = pdm::interface_list<media>;
  using needs_below = pdm::interface_list<media>;
  using config_type = trace_config;

  trace(pdm::driver_context& ctx, const config_type& config) : max_records_(config.max_records) {
    pdm::result<pdm::driver_ref> below = ctx.attach();
    if (!below) {
      ctx.fail(below.error_value());
      return;
    }
    below_ = below->query<media>();  // not null: needs_below was checked
    if (config.log_path) {
      log_ = std::fopen(config.log_path->c_str(), "w");
      if (log_ == nullptr) {
        const int code = errno;
        ctx.fail(host_error("cannot open trace log '" + *config.log_path + "'", code));
        return;
      }
    }
    if (auto c = ctx.add_counter("Reads", pdm::stat_unit::count, "Read requests")) reads_ = *c;
    if (auto c = ctx.add_counter("Writes", pdm::stat_unit::count, "Write requests")) writes_ = *c;
  }
  ~trace() {
    if (log_ != nullptr) std::fclose(log_);
  }
  trace(const trace&) = delete;
  trace& operator=(const trace&) = delete;
  trace(trace&&) = delete;
  trace& operator=(trace&&) = delete;

  bool read(std::uint64_t offset, std::span<std::byte> out) override {
    const bool ok = below_ != nullptr && below_->read(offset, out);
    record(reads_, 'R', offset, out.size(), ok);
    return ok;
  }
  bool write(std::uint64_t offset, std::span<const std::byte> in) override {
    const bool ok = below_ != nullptr && below_->write(offset, in);
    record(writes_, 'W', offset, in.size(), ok);
    return ok;
  }
  [[nodiscard]] std::uint64_t size() const override { return below_ == nullptr ? 0 : below_->size(); }
  [[nodiscard]] bool read_only() const override { return below_ == nullptr || below_->read_only(); }
  [[nodiscard]] std::string location() const override { return below_ == nullptr ? "" : below_->location(); }
  void on_detach_below(pdm::attach_flags /*flags*/) { below_ = nullptr; }

 private:
  void record(pdm::stat_counter* counter, char kind, std::uint64_t offset, std::size_t size, bool ok) {
    if (counter != nullptr) counter->add();
    if (log_ == nullptr || records_ >= max_records_) return;
    ++records_;
    std::fprintf(log_, "%c offset=%llu size=%zu %s\n", kind, static_cast<unsigned long long>(offset), size,
                 ok ? "ok" : "failed");
  }
  media* below_ = nullptr;
  std::FILE* log_ = nullptr;
  std::uint32_t max_records_;
  std::uint32_t records_ = 0;
  pdm::stat_counter* reads_ = nullptr;
  pdm::stat_counter* writes_ = nullptr;
};

// Block ------------------------------------------------------------------------------------------

enum class drive_type { hard_disk, dvd };
BOOST_DESCRIBE_ENUM(drive_type, hard_disk, dvd)

struct block_config {
  drive_type type = drive_type::hard_disk;
  bool mountable = false;
  bool read_only = false;
  pdm::config_bytes uuid;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "type", .description = "What the guest sees: hard_disk or dvd"},
      {.member = "mountable", .description = "Removable media: may start empty, mount and eject at run time"},
      {.member = "read_only", .description = "Refuse the guest's writes"},
      {.member = "uuid", .description = "Disk identity reported to the guest"},
  };
};

class block_layer final : public block, public mount {
 public:
  static constexpr pdm::driver_traits traits{.name = "Block",
                                             .description = "512-byte sectors over a medium; mounts media",
                                             .class_mask = pdm::driver_class::block | pdm::driver_class::mountable,
                                             .max_instances = 32};
  using provides = pdm::interface_list<block, mount>;
  using needs_below = pdm::interface_list<media>;
  using needs_above = pdm::interface_list<block_port>;
  using config_type = block_config;

  /// What survives a save and restore: the drive's counters and the medium it had.
  struct saved_state {
    std::uint64_t sectors_read = 0;
    std::uint64_t sectors_written = 0;
    std::uint32_t media_changes = 0;
    std::string medium;
  };
  static constexpr std::uint32_t saved_state_version = 1;
  saved_state& saved() { return state_; }

  block_layer(pdm::driver_context& ctx, const config_type& config) : ctx_(ctx), config_(config) {
    port_ = ctx.above().query<block_port>();  // not null: needs_above was checked
    pdm::result<pdm::driver_ref> below = ctx.attach();
    if (!below) {
      // A removable drive may start empty; a fixed disk needs its medium.
      if (config_.mountable && below.error_value() == pdm::errc::no_attached_driver) return;
      ctx.fail(below.error_value());
      return;
    }
    take(*below);
  }

  bool read_sectors(std::uint64_t lba, std::span<std::byte> out) override {
    if (!visible(lba, out.size()) || !below_->read(lba * sector_size, out)) return false;
    state_.sectors_read += out.size() / sector_size;
    return true;
  }
  bool write_sectors(std::uint64_t lba, std::span<const std::byte> in) override {
    if (writes_refused() || !visible(lba, in.size()) || !below_->write(lba * sector_size, in)) return false;
    state_.sectors_written += in.size() / sector_size;
    return true;
  }
  [[nodiscard]] block_info info() const override {
    return block_info{.sectors = below_ == nullptr ? 0 : below_->size() / sector_size,
                      .sectors_read = state_.sectors_read,
                      .sectors_written = state_.sectors_written,
                      .media_changes = state_.media_changes,
                      .read_only = writes_refused(),
                      .removable = config_.mountable,
                      .medium = below_ == nullptr ? std::string() : state_.medium};
  }

  bool mount_image(std::string_view path, std::string_view format) override {
    if (!config_.mountable) {
      (void)ctx_.set_error(pdm::error(pdm::errc::invalid_argument, "this drive is not mountable"));
      return false;
    }
    if (below_ != nullptr && !unmount()) return false;
    if (pdm::status s = ctx_.mount_prepare(path, format); !s) {
      (void)ctx_.set_error(s.error_value());
      return false;
    }
    pdm::result<pdm::driver_ref> below = ctx_.attach();
    if (!below) {
      (void)ctx_.set_error(below.error_value());
      return false;
    }
    take(*below);
    ++state_.media_changes;
    port_->medium_changed(true);
    return true;
  }
  bool unmount() override {
    if (below_ == nullptr) return false;
    if (pdm::status s = ctx_.detach(); !s) {
      (void)ctx_.set_error(s.error_value());
      return false;
    }
    below_ = nullptr;
    ++state_.media_changes;
    port_->medium_changed(false);
    return true;
  }
  [[nodiscard]] bool mounted() const override { return below_ != nullptr; }
  void on_detach_below(pdm::attach_flags /*flags*/) { below_ = nullptr; }

 private:
  void take(const pdm::driver_ref& below) {
    below_ = below.query<media>();  // not null: needs_below was checked
    state_.medium = below_->location();
  }
  [[nodiscard]] bool writes_refused() const {
    return config_.read_only || config_.type == drive_type::dvd || below_ == nullptr || below_->read_only();
  }
  [[nodiscard]] bool visible(std::uint64_t lba, std::size_t bytes) const {
    if (below_ == nullptr || bytes % sector_size != 0) return false;
    const std::uint64_t sectors = below_->size() / sector_size;
    return lba <= sectors && bytes / sector_size <= sectors - lba;
  }
  pdm::driver_context& ctx_;
  block_config config_;
  block_port* port_ = nullptr;
  media* below_ = nullptr;
  saved_state state_;
};

}  // namespace minivmm

BOOST_HANA_ADAPT_STRUCT(minivmm::raw_image_config, path, read_only, create, size_sectors);
BOOST_HANA_ADAPT_STRUCT(minivmm::trace_config, log_path, max_records);
BOOST_HANA_ADAPT_STRUCT(minivmm::block_config, type, mountable, read_only, uuid);
