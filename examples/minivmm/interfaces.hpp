// examples/minivmm/interfaces.hpp - the interfaces minivmm's devices and drivers talk through.
//
// Storage:  storage controller LUN --block_port-->  Block --block, mount-->  (Trace) --media-->  RawImage
// Serial:   serial port LUN         --char_port-->   Char  --char_device-->  TCP | RawFile | UnixSocket (stream)
//
// An arrow's label is what the upper side offers downwards (a port) or what the lower side
// provides upwards; every interface is a plain abstract class with an `interface_id`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace minivmm {

/// Byte-addressed storage: a disk image.
struct media {
  static constexpr std::string_view interface_id = "minivmm.media/1";
  virtual bool read(std::uint64_t offset, std::span<std::byte> out) = 0;
  virtual bool write(std::uint64_t offset, std::span<const std::byte> in) = 0;
  [[nodiscard]] virtual std::uint64_t size() const = 0;
  [[nodiscard]] virtual bool read_only() const = 0;
  /// Where the bytes live ("disk0.img").
  [[nodiscard]] virtual std::string location() const = 0;

 protected:
  ~media() = default;
};

inline constexpr std::size_t sector_size = 512;

/// What a Block driver tells its device about itself.
struct block_info {
  std::uint64_t sectors = 0;  ///< 0 while no medium is mounted
  std::uint64_t sectors_read = 0;
  std::uint64_t sectors_written = 0;
  std::uint32_t media_changes = 0;
  bool read_only = false;
  bool removable = false;  ///< media can be mounted and ejected
  std::string medium;      ///< the medium's location, empty while none is mounted
};

/// 512-byte sectors, what the storage controller's guest-visible disk reads and writes.
struct block {
  static constexpr std::string_view interface_id = "minivmm.block/1";
  virtual bool read_sectors(std::uint64_t lba, std::span<std::byte> out) = 0;
  virtual bool write_sectors(std::uint64_t lba, std::span<const std::byte> in) = 0;
  [[nodiscard]] virtual block_info info() const = 0;

 protected:
  ~block() = default;
};

/// Removable media: a Block driver configured as mountable provides it.
struct mount {
  static constexpr std::string_view interface_id = "minivmm.mount/1";
  /// Replaces the medium (if any) with the image at `path`; `format` names the media driver, or
  /// is empty to let the drivers' probes choose. On failure the drive is left empty.
  virtual bool mount_image(std::string_view path, std::string_view format) = 0;
  /// Ejects the medium; false if there was none.
  virtual bool unmount() = 0;
  [[nodiscard]] virtual bool mounted() const = 0;

 protected:
  ~mount() = default;
};

/// What a storage controller's LUN offers the Block driver above it.
struct block_port {
  static constexpr std::string_view interface_id = "minivmm.block-port/1";
  /// A medium was mounted or ejected (on the EMT).
  virtual void medium_changed(bool present) = 0;

 protected:
  ~block_port() = default;
};

/// A byte stream: a TCP connection, a file, a Unix-domain socket.
struct stream {
  static constexpr std::string_view interface_id = "minivmm.stream/1";
  /// Waits up to `timeout` for input (or for interrupt()) and reads what there is; returns the
  /// number of bytes read, 0 when none came. Called by one thread at a time.
  virtual std::size_t read(std::span<std::byte> out, std::chrono::milliseconds timeout) = 0;
  /// Writes all of `in`; false when nobody is there to take it (the bytes are dropped).
  virtual bool write(std::span<const std::byte> in) = 0;
  /// Wakes a read() that waits (any thread).
  virtual void interrupt() = 0;
  /// Where the stream goes ("tcp 127.0.0.1:5023 (listening)").
  [[nodiscard]] virtual std::string endpoint() const = 0;

 protected:
  ~stream() = default;
};

/// What a Char driver's traffic amounts to.
struct char_counters {
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t bytes_dropped = 0;
};

/// A character device, what a serial port's transmitter writes to.
struct char_device {
  static constexpr std::string_view interface_id = "minivmm.char/1";
  /// Queues `bytes` for sending (on the EMT); the Char driver's I/O thread sends them.
  virtual bool send(std::span<const std::byte> bytes) = 0;
  [[nodiscard]] virtual char_counters counters() const = 0;

 protected:
  ~char_device() = default;
};

/// What a serial port's LUN offers the Char driver above it: the receiver.
struct char_port {
  static constexpr std::string_view interface_id = "minivmm.char-port/1";
  /// Bytes arrived from the stream (on the EMT, in order).
  virtual void received(std::span<const std::byte> bytes) = 0;

 protected:
  ~char_port() = default;
};

}  // namespace minivmm
