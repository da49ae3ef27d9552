// pdm/services/state_stream.hpp - the saved-state stream: a header, one record per unit, an end
// marker; written to memory or a file, read back with every length and checksum checked.
//
// Layout (every integer little-endian; CRC = CRC-32C, pdm/services/crc32c.hpp):
//
//   stream header, 16 bytes:   "PDMSTATE"  u32 format (1)  u32 CRC of the 12 bytes before it
//   unit record, per unit:     u32 "UNIT"  u32 version  u32 instance  u16 name length (1..1024)
//                              name (UTF-8)  u64 data length  u32 CRC of the header bytes before it
//                              data  u32 CRC of the data
//   end marker, 12 bytes:      u32 "END!"  u32 number of units  u32 CRC of the 8 bytes before it
//
// and nothing after the end marker. A unit's header has its own checksum, so a reader trusts its
// data length only after the header checked out, and even then never allocates more than the
// input still holds: a length beyond what is left is `stream_truncated` (or `stream_too_large`
// beyond the reader's limit) before any allocation. next() checks the data's checksum before it
// returns a unit; a caller may take that check on itself (data_check::by_caller), as the VM's
// load does for units it decodes into a fresh object: it decodes first, reading the bytes from
// memory once, and checks them right after, while they are still in cache, and drops the object
// on a mismatch. Either way no driver sees a corrupted unit.
//
// The VM's save and load (pdm::vm::save_state / load_state) walk the units through these two
// classes; they are public for tools that inspect a stream without a VM.
#pragma once

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pdm/core/errc.hpp"
#include "pdm/core/error.hpp"
#include "pdm/core/utf8.hpp"
#include "pdm/services/crc32c.hpp"

namespace pdm {

/// \brief The layout version a stream's header carries; a reader refuses any other.
inline constexpr std::uint32_t state_stream_format = 1;
/// \brief The longest unit name a stream holds, in bytes (a name says where its driver is configured).
inline constexpr std::size_t max_state_unit_name = 1024;

namespace detail {

inline constexpr std::array<char, 8> state_stream_magic{'P', 'D', 'M', 'S', 'T', 'A', 'T', 'E'};
inline constexpr std::uint32_t state_unit_magic = 0x54494E55U;  // "UNIT" as little-endian bytes
inline constexpr std::uint32_t state_end_magic = 0x21444E45U;   // "END!"
inline constexpr std::size_t state_stream_header_size = 16;
inline constexpr std::size_t state_end_size = 12;
// A unit header without its name: magic, version, instance, name length, data length, CRC.
inline constexpr std::size_t state_unit_fixed_size = 4 + 4 + 4 + 2 + 8 + 4;

inline void put_le(std::vector<std::byte>& out, std::uint64_t v, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) out.push_back(static_cast<std::byte>((v >> (8U * i)) & 0xFFU));
}
inline std::uint64_t get_le(const std::byte* p, std::size_t bytes) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = bytes; i-- > 0;) v = (v << 8U) | static_cast<std::uint64_t>(p[i]);
  return v;
}
inline std::uint32_t crc_of(const std::vector<std::byte>& b, std::size_t from, std::size_t to) noexcept {
  return detail::crc32c(std::span<const std::byte>(b.data() + from, to - from));
}

// Closes a FILE* it owns.
struct file_closer {
  void operator()(std::FILE* f) const noexcept { (void)std::fclose(f); }
};
using file_ptr = std::unique_ptr<std::FILE, file_closer>;

inline error file_error(std::string_view what, const std::string& path, int err) {
  std::string d(what);
  d += " '";
  d += path;
  d += "'";
  if (err != 0) {
    d += ": ";
    d += std::generic_category().message(err);
  }
  return error(errc::io_error, std::move(d));
}

}  // namespace detail

/// \brief Writes a saved-state stream: begin(), then begin_unit() / end_unit() per unit, then
/// finish(). To memory (the caller's vector, appended to) or to a file (written unit by unit).
class state_stream_writer {
 public:
  /// \brief A stream appended to `out`.
  explicit state_stream_writer(std::vector<std::byte>& out) noexcept : buffer_(&out), start_(out.size()) {}
  /// \brief A stream written to the file at `path` (created or truncated by begin()).
  explicit state_stream_writer(std::string path) : path_(std::move(path)), to_file_(true), buffer_(&own_) {}

  state_stream_writer(const state_stream_writer&) = delete;
  state_stream_writer& operator=(const state_stream_writer&) = delete;
  state_stream_writer(state_stream_writer&&) = delete;
  state_stream_writer& operator=(state_stream_writer&&) = delete;
  ~state_stream_writer() = default;

  /// \brief Writes the stream header (opens the file first, for a file stream).
  [[nodiscard]] status begin() {
    if (to_file_) {
      if (path_.empty()) return error(errc::io_error, "the saved-state file name is empty");
      file_.reset(std::fopen(path_.c_str(), "wb"));
      if (!file_) return detail::file_error("cannot create the saved-state file", path_, errno);
    }
    const std::size_t at = buffer_->size();
    for (const char c : detail::state_stream_magic) buffer_->push_back(static_cast<std::byte>(c));
    detail::put_le(*buffer_, state_stream_format, 4);
    detail::put_le(*buffer_, detail::crc_of(*buffer_, at, buffer_->size()), 4);
    return flush();
  }

  /// \brief Starts a unit's record and returns the vector its data goes to (for a
  /// state_writer); end_unit() completes it. `name` must be 1..1024 bytes of UTF-8.
  [[nodiscard]] result<std::vector<std::byte>*> begin_unit(std::string_view name, std::uint32_t instance,
                                                           std::uint32_t version) {
    if (in_unit_) return error(errc::invalid_argument, "begin_unit: the unit begun last was not ended");
    if (name.empty() || name.size() > max_state_unit_name || !detail::valid_utf8(name)) {
      return error(errc::invalid_argument, "a saved-state unit name must be 1 to 1024 bytes of UTF-8");
    }
    unit_start_ = buffer_->size();
    detail::put_le(*buffer_, detail::state_unit_magic, 4);
    detail::put_le(*buffer_, version, 4);
    detail::put_le(*buffer_, instance, 4);
    detail::put_le(*buffer_, name.size(), 2);
    const auto* p = reinterpret_cast<const std::byte*>(name.data());
    buffer_->insert(buffer_->end(), p, p + name.size());
    length_at_ = buffer_->size();
    buffer_->resize(buffer_->size() + 8 + 4);  // the length and the header's CRC, filled by end_unit()
    data_start_ = buffer_->size();
    in_unit_ = true;
    return buffer_;
  }

  /// \brief Completes the unit begun last: its length and checksums.
  [[nodiscard]] status end_unit() {
    if (!in_unit_) return error(errc::invalid_argument, "end_unit: no unit was begun");
    in_unit_ = false;
    std::vector<std::byte>& b = *buffer_;
    const std::uint64_t length = b.size() - data_start_;
    for (std::size_t i = 0; i < 8; ++i) b[length_at_ + i] = static_cast<std::byte>((length >> (8U * i)) & 0xFFU);
    const std::uint32_t header_crc = detail::crc_of(b, unit_start_, length_at_ + 8);
    for (std::size_t i = 0; i < 4; ++i)
      b[length_at_ + 8 + i] = static_cast<std::byte>((header_crc >> (8U * i)) & 0xFFU);
    detail::put_le(b, detail::crc_of(b, data_start_, b.size()), 4);
    ++units_;
    return flush();
  }

  /// \brief Drops the unit begun last (its hook failed): nothing of it stays in the stream.
  /// Does nothing when no unit is open.
  void abandon_unit() noexcept {
    if (!in_unit_) return;
    in_unit_ = false;
    buffer_->resize(unit_start_);
  }

  /// \brief Writes the end marker, and closes the file of a file stream.
  [[nodiscard]] status finish() {
    if (in_unit_) return error(errc::invalid_argument, "finish: the unit begun last was not ended");
    const std::size_t at = buffer_->size();
    detail::put_le(*buffer_, detail::state_end_magic, 4);
    detail::put_le(*buffer_, units_, 4);
    detail::put_le(*buffer_, detail::crc_of(*buffer_, at, buffer_->size()), 4);
    if (status s = flush(); !s) return s;
    if (file_) {
      std::FILE* f = file_.release();
      if (std::fclose(f) != 0) return detail::file_error("cannot write the saved-state file", path_, errno);
    }
    return ok();
  }

  /// \brief How many units were completed.
  [[nodiscard]] std::uint32_t units() const noexcept { return units_; }
  /// \brief Bytes of the stream so far (written to the file, or appended to the vector).
  [[nodiscard]] std::uint64_t bytes() const noexcept { return written_ + (buffer_->size() - start_); }

 private:
  // A file stream writes what the buffer holds and empties it.
  status flush() {
    if (!file_ || buffer_->empty()) return ok();
    if (std::fwrite(buffer_->data(), 1, buffer_->size(), file_.get()) != buffer_->size()) {
      return detail::file_error("cannot write the saved-state file", path_, errno);
    }
    written_ += buffer_->size();
    buffer_->clear();
    return ok();
  }

  std::string path_;
  bool to_file_ = false;
  detail::file_ptr file_;
  std::vector<std::byte> own_;  // a file stream's unit buffer
  std::vector<std::byte>* buffer_;
  std::size_t start_ = 0;  // what the caller's vector held before the stream
  bool in_unit_ = false;
  std::size_t unit_start_ = 0;
  std::size_t length_at_ = 0;
  std::size_t data_start_ = 0;
  std::uint32_t units_ = 0;
  std::uint64_t written_ = 0;
};

/// \brief One unit as a reader found it; `data` stays valid until the reader's next call.
struct state_unit_record {
  std::string name;
  std::uint32_t instance = 0;
  std::uint32_t version = 0;
  std::span<const std::byte> data;
  std::uint32_t data_crc = 0;  ///< the checksum the stream holds for `data`
  std::uint64_t offset = 0;    ///< where the unit's record starts in the stream
};

/// \brief Who checks a unit's data against its checksum: next() before it returns the unit (the
/// default), or the caller, with state_stream_reader::intact() (before trusting the data) and
/// state_stream_reader::data_mismatch() (the error to return).
enum class data_check {
  before_return,
  by_caller,
};

/// \brief Reads a saved-state stream: open(), then next() until it returns no unit (the end
/// marker, checked), all from memory or a file.
class state_stream_reader {
 public:
  /// \brief Reads the stream in `data` (which must outlive the reader).
  explicit state_stream_reader(std::span<const std::byte> data) noexcept : memory_(data), size_(data.size()) {}
  /// \brief Reads the stream in the file at `path` (opened by open()).
  explicit state_stream_reader(std::string path) : path_(std::move(path)), from_file_(true) {}

  state_stream_reader(const state_stream_reader&) = delete;
  state_stream_reader& operator=(const state_stream_reader&) = delete;
  state_stream_reader(state_stream_reader&&) = delete;
  state_stream_reader& operator=(state_stream_reader&&) = delete;
  ~state_stream_reader() = default;

  /// \brief The largest unit data the reader accepts (default 1 GiB); a longer one is
  /// `stream_too_large`. The reader never allocates more than the input holds either way.
  void set_max_unit_size(std::uint64_t bytes) noexcept { max_unit_ = bytes; }

  /// \brief Opens the file (for a file stream) and checks the stream header.
  [[nodiscard]] status open() {
    if (from_file_) {
      if (path_.empty()) return error(errc::io_error, "the saved-state file name is empty");
      file_.reset(std::fopen(path_.c_str(), "rb"));
      if (!file_) return detail::file_error("cannot open the saved-state file", path_, errno);
      if (std::fseek(file_.get(), 0, SEEK_END) != 0) return detail::file_error("cannot read", path_, errno);
      const long end = std::ftell(file_.get());
      if (end < 0 || std::fseek(file_.get(), 0, SEEK_SET) != 0) return detail::file_error("cannot read", path_, errno);
      size_ = static_cast<std::uint64_t>(end);
    }
    const std::byte* h = nullptr;
    if (status s = fetch(detail::state_stream_header_size, h, "the stream header"); !s) return s;
    if (std::memcmp(h, detail::state_stream_magic.data(), detail::state_stream_magic.size()) != 0) {
      return fail(errc::stream_bad_magic, "the stream does not start with \"PDMSTATE\"", 0);
    }
    if (detail::get_le(h + 12, 4) != detail::crc32c(std::span<const std::byte>(h, 12))) {
      return fail(errc::stream_corrupted, "the stream header's checksum does not match", 0);
    }
    const auto format = static_cast<std::uint32_t>(detail::get_le(h + 8, 4));
    if (format != state_stream_format) {
      return fail(errc::stream_corrupted,
                  "the stream's format is " + std::to_string(format) + ", this reader reads " +
                      std::to_string(state_stream_format),
                  8);
    }
    return ok();
  }

  /// \brief The next unit, or nullopt at the end marker (checked, and nothing may follow it).
  /// With data_check::by_caller the unit's data is not checked against its checksum: the
  /// caller must call intact() before it trusts the data.
  [[nodiscard]] result<std::optional<state_unit_record>> next(data_check check = data_check::before_return) {
    const std::uint64_t at = offset_;
    const std::byte* p = nullptr;
    if (status s = fetch(4, p, "a unit record or the end marker"); !s) return s.error_value();
    const auto magic = static_cast<std::uint32_t>(detail::get_le(p, 4));
    if (magic == detail::state_end_magic) return read_end(at);
    if (magic != detail::state_unit_magic) {
      return fail(errc::stream_corrupted, "neither a unit record nor the end marker", at);
    }
    // The fixed part of the header up to the name, then the name, then the length and CRC.
    header_.assign(p, p + 4);
    if (status s = fetch(10, p, "a unit header"); !s) return s.error_value();
    header_.insert(header_.end(), p, p + 10);
    const auto name_size = static_cast<std::size_t>(detail::get_le(p + 8, 2));
    if (name_size == 0 || name_size > max_state_unit_name) {
      // Not yet known to be a corrupted header or a bad name: the CRC comes after the name.
      return fail(errc::stream_corrupted, "a unit name length of " + std::to_string(name_size), at);
    }
    if (status s = fetch(name_size + 12, p, "a unit header"); !s) return s.error_value();
    header_.insert(header_.end(), p, p + name_size + 12);
    const std::size_t crc_at = header_.size() - 4;
    if (detail::get_le(header_.data() + crc_at, 4) !=
        detail::crc32c(std::span<const std::byte>(header_.data(), crc_at))) {
      return fail(errc::stream_corrupted, "a unit header's checksum does not match", at);
    }
    state_unit_record r;
    r.version = static_cast<std::uint32_t>(detail::get_le(header_.data() + 4, 4));
    r.instance = static_cast<std::uint32_t>(detail::get_le(header_.data() + 8, 4));
    r.name.assign(reinterpret_cast<const char*>(header_.data() + 14), name_size);
    if (!detail::valid_utf8(r.name)) return fail(errc::stream_corrupted, "a unit name that is not UTF-8", at);
    const std::uint64_t length = detail::get_le(header_.data() + 14 + name_size, 8);
    auto unit = [&r] { return "unit '" + r.name + "' #" + std::to_string(r.instance); };
    if (length > max_unit_) {
      return fail(
          errc::stream_too_large,
          unit() + " has " + std::to_string(length) + " bytes of data, above the limit of " + std::to_string(max_unit_),
          at);
    }
    if (length > size_ - offset_ || size_ - offset_ - length < 4) {
      return fail(errc::stream_truncated,
                  unit() + " has " + std::to_string(length) + " bytes of data, and the stream ends before", at);
    }
    const std::byte* data = nullptr;
    if (status s = fetch(static_cast<std::size_t>(length) + 4, data, "unit data"); !s) return s.error_value();
    r.data = std::span<const std::byte>(data, static_cast<std::size_t>(length));
    r.data_crc = static_cast<std::uint32_t>(detail::get_le(data + length, 4));
    r.offset = at;
    if (check == data_check::before_return && !intact(r)) return data_mismatch(r);
    ++units_;
    return std::optional<state_unit_record>(std::move(r));
  }

  /// \brief Whether a unit's data matches the checksum the stream holds for it.
  [[nodiscard]] static bool intact(const state_unit_record& r) noexcept { return detail::crc32c(r.data) == r.data_crc; }
  /// \brief The error for a unit whose data does not match its checksum (what next() returns
  /// for it with data_check::before_return).
  [[nodiscard]] error data_mismatch(const state_unit_record& r) const {
    return fail(errc::stream_corrupted,
                "unit '" + r.name + "' #" + std::to_string(r.instance) + ": the data's checksum does not match",
                r.offset);
  }

  /// \brief The stream's size in bytes, and how far the reader is.
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }

 private:
  [[nodiscard]] error fail(errc code, std::string what, std::uint64_t at) const {
    std::string d = std::move(what);
    d += " (at byte " + std::to_string(at) + " of " + std::to_string(size_);
    if (!path_.empty()) d += " in '" + path_ + "'";
    d += ")";
    return error(code, std::move(d));
  }

  // Makes the next n bytes available at p and moves past them; stream_truncated if the stream
  // ends first. A file stream reads them into its buffer (n is already checked against the size).
  status fetch(std::size_t n, const std::byte*& p, const char* what) {
    if (n > size_ - offset_) {
      return fail(errc::stream_truncated, std::string("the stream ends inside ") + what, offset_);
    }
    if (file_) {
      buffer_.resize(n);
      if (n != 0 && std::fread(buffer_.data(), 1, n, file_.get()) != n) {
        return detail::file_error("cannot read the saved-state file", path_, errno);
      }
      p = buffer_.data();
    } else {
      p = memory_.data() + offset_;
    }
    offset_ += n;
    return ok();
  }

  result<std::optional<state_unit_record>> read_end(std::uint64_t at) {
    const std::byte* p = nullptr;
    if (status s = fetch(detail::state_end_size - 4, p, "the end marker"); !s) return s.error_value();
    std::array<std::byte, detail::state_end_size - 4> whole{};
    for (std::size_t i = 0; i < 4; ++i)
      whole[i] = static_cast<std::byte>((detail::state_end_magic >> (8U * i)) & 0xFFU);
    std::memcpy(whole.data() + 4, p, 4);
    if (detail::get_le(p + 4, 4) != detail::crc32c(std::span<const std::byte>(whole.data(), whole.size()))) {
      return fail(errc::stream_corrupted, "the end marker's checksum does not match", at);
    }
    const auto count = static_cast<std::uint32_t>(detail::get_le(p, 4));
    if (count != units_) {
      return fail(errc::stream_corrupted,
                  "the end marker counts " + std::to_string(count) + " units, the stream has " + std::to_string(units_),
                  at);
    }
    if (offset_ != size_) {
      return fail(errc::stream_corrupted, std::to_string(size_ - offset_) + " bytes after the end marker", offset_);
    }
    return std::optional<state_unit_record>();
  }

  std::span<const std::byte> memory_;
  std::string path_;
  bool from_file_ = false;
  detail::file_ptr file_;
  std::vector<std::byte> buffer_;  // a file stream's current piece
  std::vector<std::byte> header_;  // the unit header being checked
  std::uint64_t size_ = 0;
  std::uint64_t offset_ = 0;
  std::uint64_t max_unit_ = std::uint64_t{1} << 30U;
  std::uint32_t units_ = 0;
};

}  // namespace pdm
