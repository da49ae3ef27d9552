// pdm/services/state_codec.hpp - the bytes of one saved-state unit: state_writer and state_reader.
//
// A unit's data is a sequence of values in a defined encoding (pdm/services/state_fields.hpp
// lists the types): little-endian integers of their own size, IEEE floats as their bits, bool
// as one byte, enumerations as their underlying integer, std::array as its elements,
// std::string and std::vector as an 8-byte count and their elements, and aggregates as their
// fields in declaration order, found by Boost.PFR. Nothing else is written: no type tags, no
// field names. The unit's version (in the stream's unit header) says which layout it is.
//
// The writer appends to a byte vector. The reader reads from a span of bytes that the stream
// has already checked (length, checksum), and still treats every byte as untrusted: each read
// checks the bytes left, a bool must be 0 or 1, and a count must fit in the bytes left before
// anything is allocated for it. The first failure is kept (later reads do nothing), so a load
// hook may read several values and check once.
#pragma once

#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "pdm/core/errc.hpp"
#include "pdm/core/error.hpp"
#include "pdm/services/state_fields.hpp"

namespace pdm {

/// \brief Writes the data of one saved-state unit (see the encoding above).
class state_writer {
 public:
  /// \brief A writer appending to `out`, which keeps what it held before.
  explicit state_writer(std::vector<std::byte>& out) noexcept : out_(&out), start_(out.size()) {}

  /// \brief Appends `value`. T must be saveable (pdm/services/state_fields.hpp).
  template <class T>
  void write(const T& value) {
    static_assert(detail::saveable<T>,
                  "pdm::state_writer::write: this type cannot be saved (see pdm/services/state_fields.hpp)");
    put(value);
  }
  /// \brief Appends raw bytes (no count: the reader must know how many).
  void write_bytes(std::span<const std::byte> bytes) { append(bytes.data(), bytes.size()); }

  /// \brief How many bytes this writer appended.
  [[nodiscard]] std::size_t size() const noexcept { return out_->size() - start_; }

 private:
  // Grows the vector and copies into it. (Not vector::insert: g++ 12 warns, wrongly, that an
  // insert into a vector it can prove empty overflows, -Wstringop-overflow.)
  void append(const void* p, std::size_t n) {
    if (n == 0) return;
    const std::size_t at = out_->size();
    out_->resize(at + n);
    std::memcpy(out_->data() + at, p, n);
  }

  // A run of bytes: inserted without first zero-filling the room for it (as resize would),
  // which matters for the megabytes of a device's buffers.
  void append_run(const void* p, std::size_t n) {
    if (n == 0) return;
    const auto* b = static_cast<const std::byte*>(p);
    out_->insert(out_->end(), b, b + n);
  }

  template <class U>
  void put_scalar(U v) {
    if constexpr (std::is_enum_v<U>) {
      put_scalar(static_cast<std::underlying_type_t<U>>(v));
    } else if constexpr (std::is_floating_point_v<U>) {
      using bits = std::conditional_t<sizeof(U) == 4, std::uint32_t, std::uint64_t>;
      put_scalar(std::bit_cast<bits>(v));
    } else {
      std::byte b[sizeof(U)];
      if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(b, &v, sizeof(U));
      } else {
        using unsigned_t = std::make_unsigned_t<U>;
        auto u = static_cast<unsigned_t>(v);
        for (std::size_t i = 0; i < sizeof(U); ++i) {
          b[i] = static_cast<std::byte>(u & 0xFFU);
          if constexpr (sizeof(U) > 1) u = static_cast<unsigned_t>(u >> 8U);
        }
      }
      append(b, sizeof(U));
    }
  }

  template <class E>
  void put_run(const E* data, std::size_t n) {
    if constexpr (detail::state_bytes_as_in_memory<E>) {
      append_run(data, n * sizeof(E));
    } else {
      for (std::size_t i = 0; i < n; ++i) put(data[i]);
    }
  }

  template <class T>
  void put(const T& v) {
    constexpr detail::state_kind kind = detail::state_kind_of<T>();
    if constexpr (kind == detail::state_kind::scalar) {
      put_scalar(v);
    } else if constexpr (kind == detail::state_kind::boolean) {
      out_->push_back(v ? std::byte{1} : std::byte{0});
    } else if constexpr (kind == detail::state_kind::array) {
      put_run(v.data(), v.size());
    } else if constexpr (kind == detail::state_kind::string) {
      put_scalar(static_cast<std::uint64_t>(v.size()));
      append_run(v.data(), v.size());
    } else if constexpr (kind == detail::state_kind::vector) {
      put_scalar(static_cast<std::uint64_t>(v.size()));
      if constexpr (std::is_same_v<typename T::value_type, bool>) {
        for (const bool b : v) put(b);  // std::vector<bool> has no data()
      } else {
        put_run(v.data(), v.size());
      }
    } else {
      static_assert(kind == detail::state_kind::aggregate);
      boost::pfr::for_each_field(v, [self = this](const auto& field) { self->put(field); });
    }
  }

  std::vector<std::byte>* out_;
  std::size_t start_;
};

namespace detail {
// Reads a T from each sizeof(T) bytes of a stream (T trivially copyable, its encoding its bytes),
// for vector::assign: random access, so the vector allocates once and copies each element in.
template <class T>
struct bytes_iterator {
  using iterator_category = std::random_access_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using pointer = const T*;
  using reference = T;  // made on the fly: a vector only copies from it

  const std::byte* at = nullptr;

  T operator*() const noexcept {
    T v;
    std::memcpy(static_cast<void*>(&v), at, sizeof(T));
    return v;
  }
  T operator[](difference_type i) const noexcept { return *(*this + i); }
  bytes_iterator& operator++() noexcept {
    at += sizeof(T);
    return *this;
  }
  bytes_iterator operator++(int) noexcept {  // NOLINT(cert-dcl21-cpp): as the standard iterators
    bytes_iterator old = *this;
    at += sizeof(T);
    return old;
  }
  bytes_iterator& operator--() noexcept {
    at -= sizeof(T);
    return *this;
  }
  bytes_iterator operator--(int) noexcept {  // NOLINT(cert-dcl21-cpp): as the standard iterators
    bytes_iterator old = *this;
    at -= sizeof(T);
    return old;
  }
  bytes_iterator& operator+=(difference_type n) noexcept {
    at += n * static_cast<difference_type>(sizeof(T));
    return *this;
  }
  bytes_iterator& operator-=(difference_type n) noexcept {
    at -= n * static_cast<difference_type>(sizeof(T));
    return *this;
  }
  friend bytes_iterator operator+(bytes_iterator i, difference_type n) noexcept { return i += n; }
  friend bytes_iterator operator+(difference_type n, bytes_iterator i) noexcept { return i += n; }
  friend bytes_iterator operator-(bytes_iterator i, difference_type n) noexcept { return i -= n; }
  friend difference_type operator-(bytes_iterator a, bytes_iterator b) noexcept {
    return (a.at - b.at) / static_cast<difference_type>(sizeof(T));
  }
  friend bool operator==(bytes_iterator a, bytes_iterator b) noexcept { return a.at == b.at; }
  friend auto operator<=>(bytes_iterator a, bytes_iterator b) noexcept { return a.at <=> b.at; }
};
}  // namespace detail

/// \brief Reads the data of one saved-state unit (see the encoding above), checking every byte.
class state_reader {
 public:
  /// \brief A reader over `data`, the unit's bytes; `version` is the unit's version in the stream.
  explicit state_reader(std::span<const std::byte> data, std::uint32_t version = 0) noexcept
      : data_(data), version_(version) {}

  /// \brief Reads a T into `value`. On failure returns the error (and keeps it: later reads do
  /// nothing and return it again); `value` may then hold part of what was read, so read into a
  /// fresh object and keep it only on success.
  template <class T>
  status read(T& value) {
    static_assert(detail::saveable<T>,
                  "pdm::state_reader::read: this type cannot be loaded (see pdm/services/state_fields.hpp)");
    if (!failed_) get(value);
    return failed_ ? status(failure()) : ok();
  }
  /// \brief Reads `bytes.size()` raw bytes.
  status read_bytes(std::span<std::byte> bytes) {
    if (!failed_ && !bytes.empty() && take(bytes.size())) {
      std::memcpy(bytes.data(), data_.data() + offset_, bytes.size());
      offset_ += bytes.size();
    }
    return failed_ ? status(failure()) : ok();
  }

  /// \brief Passes over `n` bytes (of a field an older layout had and the driver no longer needs).
  status skip(std::size_t n) {
    if (!failed_ && take(n)) offset_ += n;
    return failed_ ? status(failure()) : ok();
  }

  /// \brief The unit's version in the stream (what a driver's load hook branches on).
  [[nodiscard]] std::uint32_t version() const noexcept { return version_; }
  /// \brief Bytes not read yet.
  [[nodiscard]] std::size_t remaining() const noexcept { return data_.size() - offset_; }
  /// \brief How many bytes were read.
  [[nodiscard]] std::size_t offset() const noexcept { return offset_; }
  /// \brief The first failure's code, or an empty code.
  [[nodiscard]] std::error_code code() const noexcept { return failed_ ? make_error_code(code_) : std::error_code(); }
  /// \brief The first failure, as an error with a sentence saying where in the unit it was.
  [[nodiscard]] error failure() const {
    if (!failed_) return {};
    return error(code_,
                 what_ + " at byte " + std::to_string(failed_at_) + " of the unit's " + std::to_string(data_.size()));
  }

 private:
  void fail(errc code, const char* what) {
    if (failed_) return;
    failed_ = true;
    code_ = code;
    what_ = what;
    failed_at_ = offset_;
  }
  // True when n more bytes are there; otherwise fails with stream_truncated.
  bool take(std::size_t n) {
    if (n <= remaining()) return true;
    fail(errc::stream_truncated, "the unit ends inside a value");
    return false;
  }

  template <class U>
  void get_scalar(U& v) {
    if constexpr (std::is_enum_v<U>) {
      std::underlying_type_t<U> raw{};
      get_scalar(raw);
      if (!failed_) v = static_cast<U>(raw);
    } else if constexpr (std::is_floating_point_v<U>) {
      using bits = std::conditional_t<sizeof(U) == 4, std::uint32_t, std::uint64_t>;
      bits raw = 0;
      get_scalar(raw);
      if (!failed_) v = std::bit_cast<U>(raw);
    } else {
      if (!take(sizeof(U))) return;
      const std::byte* p = data_.data() + offset_;
      if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(&v, p, sizeof(U));
      } else {
        using unsigned_t = std::make_unsigned_t<U>;
        unsigned_t u = 0;
        for (std::size_t i = sizeof(U); i-- > 0;) {
          if constexpr (sizeof(U) > 1) u = static_cast<unsigned_t>(u << 8U);
          u = static_cast<unsigned_t>(u | static_cast<unsigned_t>(p[i]));
        }
        v = static_cast<U>(u);
      }
      offset_ += sizeof(U);
    }
  }

  template <class E>
  void get_run(E* data, std::size_t n) {
    if constexpr (detail::state_bytes_as_in_memory<E>) {
      if (!take(n * sizeof(E))) return;
      if (n != 0) std::memcpy(static_cast<void*>(data), data_.data() + offset_, n * sizeof(E));
      offset_ += n * sizeof(E);
    } else {
      for (std::size_t i = 0; i < n && !failed_; ++i) get(data[i]);
    }
  }

  // Reads a count of elements whose smallest encoding is `min_size` bytes; fails, before
  // anything is allocated, when that many cannot fit in the bytes left.
  bool get_count(std::size_t min_size, std::size_t& n) {
    std::uint64_t count = 0;
    get_scalar(count);
    if (failed_) return false;
    if (count > remaining() / min_size) {
      offset_ -= sizeof(std::uint64_t);  // report the count's own position
      fail(errc::stream_too_large, "a count larger than the bytes left in the unit");
      return false;
    }
    n = static_cast<std::size_t>(count);
    return true;
  }

  template <class T>
  void get(T& v) {
    constexpr detail::state_kind kind = detail::state_kind_of<T>();
    if constexpr (kind == detail::state_kind::scalar) {
      get_scalar(v);
    } else if constexpr (kind == detail::state_kind::boolean) {
      if (!take(1)) return;
      const auto b = static_cast<unsigned char>(data_[offset_]);
      if (b > 1) {
        fail(errc::stream_corrupted, "a bool that is neither 0 nor 1");
        return;
      }
      v = b == 1;
      ++offset_;
    } else if constexpr (kind == detail::state_kind::array) {
      get_run(v.data(), v.size());
    } else if constexpr (kind == detail::state_kind::string) {
      std::size_t n = 0;
      if (!get_count(1, n)) return;
      v.assign(reinterpret_cast<const char*>(data_.data() + offset_), n);
      offset_ += n;
    } else if constexpr (kind == detail::state_kind::vector) {
      using element = typename T::value_type;
      std::size_t n = 0;
      if (!get_count(detail::state_min_size<element>(), n)) return;
      v.clear();
      if constexpr (std::is_same_v<element, unsigned char> || std::is_same_v<element, char>) {
        // Bytes (types that may read any object's bytes): copied in, without zero-filling the
        // vector first.
        const auto* p = reinterpret_cast<const element*>(data_.data() + offset_);
        v.assign(p, p + n);
        offset_ += n;
        return;
      } else if constexpr (detail::state_bytes_as_in_memory<element> && std::is_trivially_copyable_v<element>) {
        // Elements copied from their bytes as the vector builds them, without zero-filling it
        // first (get_count checked that n of them fit in the bytes left).
        const std::byte* p = data_.data() + offset_;
        v.assign(detail::bytes_iterator<element>{p}, detail::bytes_iterator<element>{p + n * sizeof(element)});
        offset_ += n * sizeof(element);
        return;
      }
      v.resize(n);
      if constexpr (std::is_same_v<element, bool>) {
        for (std::size_t i = 0; i < n && !failed_; ++i) {
          bool b = false;
          get(b);
          v[i] = b;
        }
      } else {
        get_run(v.data(), n);
      }
    } else {
      static_assert(kind == detail::state_kind::aggregate);
      boost::pfr::for_each_field(v, [self = this](auto& field) {
        if (!self->failed_) self->get(field);
      });
    }
  }

  std::span<const std::byte> data_;
  std::size_t offset_ = 0;
  std::uint32_t version_ = 0;
  bool failed_ = false;
  errc code_ = errc::stream_corrupted;
  std::size_t failed_at_ = 0;
  std::string what_;
};

}  // namespace pdm
