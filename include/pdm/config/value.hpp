// pdm/config/value.hpp - the typed values a config tree holds, and the rules for names.
//
// A value is an integer (any value from INT64_MIN to UINT64_MAX, so both signed and large unsigned
// integers survive a round trip), a UTF-8 string, a byte string, or a bool. Bool is a type of its
// own; reading a bool also accepts the integers 0 and 1, which is how VirtualBox-style configs store
// flags, but reading an integer never accepts a bool. Reading an integer into a C++ type checks the
// range: a value of 300 read as std::uint8_t is `integer_too_big`, -1 read as unsigned is
// `integer_too_small`.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "pdm/core/error.hpp"
#include "pdm/core/utf8.hpp"

namespace pdm {

/// \brief A byte-string config value.
using config_bytes = std::vector<std::byte>;

/// \brief The four kinds of config value.
enum class value_kind : std::uint8_t { integer, string, bytes, boolean };

/// \brief The kind's name as the docs, dumps and errors spell it: "integer", "string", "bytes", "bool".
[[nodiscard]] constexpr std::string_view value_kind_name(value_kind k) noexcept {
  switch (k) {
    case value_kind::integer:
      return "integer";
    case value_kind::string:
      return "string";
    case value_kind::bytes:
      return "bytes";
    case value_kind::boolean:
      return "bool";
  }
  return "?";
}

/// \brief Limits that keep config input bounded; the JSON loader and the tree enforce them.
struct config_limits {
  static constexpr std::size_t max_name_bytes = 255;                             ///< a node or value name
  static constexpr std::size_t max_value_bytes = std::size_t{16} * 1024 * 1024;  ///< a string or bytes value
  static constexpr std::size_t max_depth = 64;                                   ///< nodes below a tree's root
};

/// \brief The integer types config values convert to (bool and character types are not integers here).
template <class T>
concept config_integer =
    std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char> && !std::same_as<T, wchar_t> &&
    !std::same_as<T, char8_t> && !std::same_as<T, char16_t> && !std::same_as<T, char32_t>;

namespace detail {

// Appends the byte `u` as two lower-case hex digits.
inline void append_hex(std::string& out, unsigned u) {
  static constexpr char digits[] = "0123456789abcdef";
  out += digits[(u >> 4U) & 0xFU];
  out += digits[u & 0xFU];
}

}  // namespace detail

/// \brief Why `name` is not a valid node or value name, or an empty view if it is one.
///
/// A name is 1..255 bytes of well-formed UTF-8 without '/', without control characters, and not
/// starting with '$' (reserved: the JSON format spells byte strings as {"$bytes": "..."}).
[[nodiscard]] constexpr std::string_view name_problem(std::string_view name) noexcept {
  if (name.empty()) return "a name cannot be empty";
  if (name.size() > config_limits::max_name_bytes) return "a name is at most 255 bytes";
  if (name.front() == '$') return "names starting with '$' are reserved";
  for (char c : name) {
    if (c == '/') return "a name cannot contain '/' (it separates path components)";
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return "a name cannot contain control characters";
  }
  if (!detail::valid_utf8(name)) return "a name must be valid UTF-8";
  return {};
}

/// \brief True if `name` can name a node or value.
[[nodiscard]] constexpr bool valid_name(std::string_view name) noexcept { return name_problem(name).empty(); }

/// \brief One config value: integer, string, bytes or bool.
class config_value {
 public:
  /// \brief The integer 0.
  config_value() noexcept : v_(integer_rep{0, false}) {}
  /// \brief An integer of any integer type.
  template <config_integer T>
  config_value(T v) noexcept  // NOLINT(google-explicit-constructor)
      : v_(integer_rep{static_cast<std::uint64_t>(v), std::is_signed_v<T> && v < 0}) {}
  /// \brief A bool.
  config_value(bool b) noexcept : v_(b) {}  // NOLINT(google-explicit-constructor)
  /// \brief A string (check it with valid_string() before storing text from outside).
  config_value(std::string s) noexcept : v_(std::move(s)) {}  // NOLINT(google-explicit-constructor)
  config_value(std::string_view s) : v_(std::string(s)) {}    // NOLINT(google-explicit-constructor)
  config_value(const char* s) : v_(std::string(s)) {}         // NOLINT(google-explicit-constructor)
  config_value(char* s) : v_(std::string(s)) {}               // NOLINT(google-explicit-constructor)
  /// \brief A byte string.
  config_value(config_bytes b) noexcept : v_(std::move(b)) {}  // NOLINT(google-explicit-constructor)
  /// Deleted: these would otherwise become a bool. Config values have no floating point (store
  /// an integer in a documented unit), characters are not integers here, and an enum is stored
  /// by name (a string) or as an explicit integer.
  template <class T>
  requires std::floating_point<T> || std::same_as<T, char> || std::same_as<T, wchar_t> || std::same_as<T, char8_t> ||
      std::same_as<T, char16_t> || std::same_as<T, char32_t> || std::is_enum_v<T>
      config_value(T)
  = delete;
  template <class T>
  requires(!std::same_as<std::remove_cv_t<T>, char>) config_value(T*)
  = delete;
  config_value(std::nullptr_t) = delete;

  [[nodiscard]] value_kind kind() const noexcept {
    switch (v_.index()) {
      case 0:
        return value_kind::integer;
      case 1:
        return value_kind::string;
      case 2:
        return value_kind::bytes;
      default:
        return value_kind::boolean;
    }
  }
  [[nodiscard]] bool is_integer() const noexcept { return v_.index() == 0; }
  /// \brief For an integer: true if it is negative (then `as_int64()` holds it), else `as_uint64()` does.
  [[nodiscard]] bool is_negative() const noexcept {
    const integer_rep* i = std::get_if<0>(&v_);
    return i != nullptr && i->negative;
  }
  /// \brief An integer's bits: the value as uint64 when not negative, two's complement when negative.
  [[nodiscard]] std::uint64_t bits() const noexcept {
    const integer_rep* i = std::get_if<0>(&v_);
    return i != nullptr ? i->bits : 0;
  }
  /// \brief A string's text (empty for other kinds).
  [[nodiscard]] const std::string& string() const noexcept {
    static const std::string empty;
    const std::string* s = std::get_if<1>(&v_);
    return s != nullptr ? *s : empty;
  }
  /// \brief A byte string's bytes (empty for other kinds).
  [[nodiscard]] const config_bytes& bytes() const noexcept {
    static const config_bytes empty;
    const config_bytes* b = std::get_if<2>(&v_);
    return b != nullptr ? *b : empty;
  }
  /// \brief A bool's value (false for other kinds).
  [[nodiscard]] bool boolean() const noexcept {
    const bool* b = std::get_if<3>(&v_);
    return b != nullptr && *b;
  }

  /// \brief The value as T, checked: the kind must fit and an integer must be in T's range.
  ///
  /// Errors carry no path; config_node::get adds it.
  template <class T>
  [[nodiscard]] result<T> as() const {
    if constexpr (config_integer<T>) {
      if (!is_integer()) return kind_error("integer");
      const integer_rep& i = std::get<0>(v_);
      if (i.negative) {
        const auto v = static_cast<std::int64_t>(i.bits);
        if constexpr (std::is_unsigned_v<T>) {
          return range_error(errc::integer_too_small);
        } else {
          if (v < static_cast<std::int64_t>(std::numeric_limits<T>::min())) return range_error(errc::integer_too_small);
          return static_cast<T>(v);
        }
      } else {
        if (i.bits > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
          return range_error(errc::integer_too_big);
        }
        return static_cast<T>(i.bits);
      }
    } else if constexpr (std::same_as<T, bool>) {
      if (v_.index() == 3) return std::get<3>(v_);
      if (is_integer() && !is_negative() && bits() <= 1) return bits() == 1;
      if (is_integer()) {
        return error(errc::invalid_value, "a bool stored as an integer must be 0 or 1, not " + text());
      }
      return kind_error("bool");
    } else if constexpr (std::same_as<T, std::string>) {
      if (v_.index() != 1) return kind_error("string");
      return std::get<1>(v_);
    } else if constexpr (std::same_as<T, config_bytes>) {
      if (v_.index() != 2) return kind_error("bytes");
      return std::get<2>(v_);
    } else if constexpr (std::same_as<T, config_value>) {
      return *this;
    } else {
      static_assert(sizeof(T) == 0,
                    "config_value::as<T>: T must be an integer type, bool, std::string, "
                    "pdm::config_bytes or pdm::config_value");
    }
  }

  /// \brief The value as a person reads it: 42, -1, "text" (escaped), bytes[3] 0a0b0c, true.
  [[nodiscard]] std::string text() const {
    switch (kind()) {
      case value_kind::integer:
        return is_negative() ? std::to_string(static_cast<std::int64_t>(bits())) : std::to_string(bits());
      case value_kind::string:
        return quote(string());
      case value_kind::bytes: {
        std::string out = "bytes[" + std::to_string(bytes().size()) + "]";
        if (!bytes().empty()) out += ' ';
        for (std::byte b : bytes()) detail::append_hex(out, std::to_integer<unsigned>(b));
        return out;
      }
      case value_kind::boolean:
        return boolean() ? "true" : "false";
    }
    return {};
  }

  /// \brief `s` in double quotes with `"`, `\` and control characters escaped as in JSON.
  [[nodiscard]] static std::string quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (u < 0x20 || u == 0x7F) {
        out += "\\u00";
        detail::append_hex(out, u);
      } else {
        out += c;
      }
    }
    out += '"';
    return out;
  }

  friend bool operator==(const config_value& a, const config_value& b) noexcept {
    if (a.v_.index() != b.v_.index()) return false;
    switch (a.kind()) {
      case value_kind::integer:
        return a.bits() == b.bits() && a.is_negative() == b.is_negative();
      case value_kind::string:
        return a.string() == b.string();
      case value_kind::bytes:
        return a.bytes() == b.bytes();
      case value_kind::boolean:
        return a.boolean() == b.boolean();
    }
    return false;
  }

 private:
  struct integer_rep {
    std::uint64_t bits;
    bool negative;
    friend bool operator==(const integer_rep&, const integer_rep&) = default;
  };

  [[nodiscard]] error kind_error(std::string_view wanted) const {
    std::string d = "expected ";
    d += wanted;
    d += ", found ";
    d += value_kind_name(kind());
    return error(errc::wrong_type, std::move(d));
  }
  [[nodiscard]] error range_error(errc code) const { return error(code, text()); }

  std::variant<integer_rep, std::string, config_bytes, bool> v_;
};

/// \brief Why `v` cannot be stored in a config tree, or an empty view: strings must be valid UTF-8
/// (binary data belongs in bytes) and strings and bytes are at most 16 MiB.
[[nodiscard]] inline std::string_view value_problem(const config_value& v) noexcept {
  if (v.kind() == value_kind::string) {
    if (v.string().size() > config_limits::max_value_bytes) return "a string value is at most 16 MiB";
    if (!detail::valid_utf8(v.string())) return "a string value must be valid UTF-8 (use bytes for binary data)";
  }
  if (v.kind() == value_kind::bytes && v.bytes().size() > config_limits::max_value_bytes) {
    return "a bytes value is at most 16 MiB";
  }
  return {};
}

}  // namespace pdm
