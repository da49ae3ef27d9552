// pdm/core/error.hpp - errors as values: pdm::error, pdm::result<T> and pdm::status.
//
// An error carries a std::error_code (usually from pdm::errc) plus the context a person needs
// to act on it: the driver's name, its instance number and the config path involved. pdm never
// throws its own errors; functions that can fail return result<T> or status.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "pdm/core/errc.hpp"

namespace pdm {

/// \brief Marks "no instance number" in an error's context.
inline constexpr std::uint32_t no_instance = UINT32_MAX;

/// \brief A failure: a code, a detail sentence, and where it happened (driver, instance, path).
class error {
 public:
  error() = default;

  /// \brief An error with a code and an optional detail sentence.
  explicit error(std::error_code code, std::string detail = {}) : code_(code), detail_(std::move(detail)) {}
  explicit error(errc code, std::string detail = {}) : error(make_error_code(code), std::move(detail)) {}

  /// \brief Sets the driver this error is about; returns *this for chaining.
  error& driver(std::string_view name, std::uint32_t instance = no_instance) & {
    driver_.assign(name);
    instance_ = instance;
    return *this;
  }
  error&& driver(std::string_view name, std::uint32_t instance = no_instance) && {
    return std::move(driver(name, instance));
  }
  /// \brief Sets the config path this error is about; returns *this for chaining.
  error& path(std::string_view config_path) & {
    path_.assign(config_path);
    return *this;
  }
  error&& path(std::string_view config_path) && { return std::move(path(config_path)); }
  /// \brief Adds a related problem (a config binding reports every problem it found this way).
  error& add_cause(error cause) & {
    causes_.push_back(std::move(cause));
    return *this;
  }

  [[nodiscard]] const std::error_code& code() const noexcept { return code_; }
  [[nodiscard]] const std::string& detail() const noexcept { return detail_; }
  [[nodiscard]] const std::string& driver_name() const noexcept { return driver_; }
  [[nodiscard]] std::uint32_t instance() const noexcept { return instance_; }
  [[nodiscard]] const std::string& config_path() const noexcept { return path_; }
  /// \brief The related problems, in the order they were found (empty for a single failure).
  [[nodiscard]] const std::vector<error>& causes() const noexcept { return causes_; }

  /// \brief The full message: `driver 'RawFile' #0 at 'Devices/x/0/LUN#0': <code text>: <detail>`,
  /// then one indented line per cause.
  [[nodiscard]] std::string message() const {
    std::string out;
    if (!driver_.empty()) {
      out += "driver '";
      out += driver_;
      out += '\'';
      if (instance_ != no_instance) {
        out += " #";
        out += std::to_string(instance_);
      }
    }
    if (!path_.empty()) {
      out += out.empty() ? "at '" : " at '";
      out += path_;
      out += '\'';
    }
    if (!out.empty()) out += ": ";
    out += code_.message();
    if (!detail_.empty()) {
      out += ": ";
      out += detail_;
    }
    for (const error& cause : causes_) {
      out += "\n  - ";
      out += cause.message();
    }
    return out;
  }

  /// \brief Compares the code only, so `err == pdm::errc::driver_not_found` reads naturally.
  friend bool operator==(const error& e, errc c) noexcept { return e.code_ == make_error_code(c); }
  friend bool operator==(const error& e, const std::error_code& c) noexcept { return e.code_ == c; }

 private:
  std::error_code code_;
  std::string detail_;
  std::string driver_;
  std::uint32_t instance_ = no_instance;
  std::string path_;
  std::vector<error> causes_;
};

/// \brief Either a T or a pdm::error, in the manner of C++23's std::expected.
template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;

  result(const T& value) : state_(std::in_place_index<0>, value) {}        // NOLINT(google-explicit-constructor)
  result(T&& value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  result(error e) : state_(std::in_place_index<1>, std::move(e)) {}        // NOLINT(google-explicit-constructor)
  result(errc code) : result(error(code)) {}                               // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// \brief The value; precondition: has_value() (checked by assert in debug builds).
  [[nodiscard]] T& value() & noexcept {
    assert(has_value() && "pdm::result::value() on an error: test the result first");
    return *std::get_if<0>(&state_);
  }
  [[nodiscard]] const T& value() const& noexcept {
    assert(has_value() && "pdm::result::value() on an error: test the result first");
    return *std::get_if<0>(&state_);
  }
  [[nodiscard]] T&& value() && noexcept {
    assert(has_value() && "pdm::result::value() on an error: test the result first");
    return std::move(*std::get_if<0>(&state_));
  }
  T& operator*() & noexcept { return value(); }
  const T& operator*() const& noexcept { return value(); }
  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }

  /// \brief The error; precondition: !has_value() (checked by assert in debug builds).
  [[nodiscard]] const error& error_value() const& noexcept {
    assert(!has_value() && "pdm::result::error_value() on a value: test the result first");
    return *std::get_if<1>(&state_);
  }
  [[nodiscard]] error&& error_value() && noexcept {
    assert(!has_value() && "pdm::result::error_value() on a value: test the result first");
    return std::move(*std::get_if<1>(&state_));
  }

  /// \brief The value, or `fallback` on error.
  template <class U>
  [[nodiscard]] T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, error> state_;
};

/// \brief Success or a pdm::error.
template <>
class [[nodiscard]] result<void> {
 public:
  // Not `= default`: with a defaulted constructor, `status{}` (and so every `return ok();`)
  // zero-fills the whole optional<error>, about 150 bytes, before constructing it.
  result() noexcept {}                        // NOLINT(modernize-use-equals-default)
  result(error e) : error_(std::move(e)) {}   // NOLINT(google-explicit-constructor)
  result(errc code) : result(error(code)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool has_value() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }
  [[nodiscard]] const error& error_value() const& noexcept {
    assert(!has_value() && "pdm::status::error_value() on success: test the status first");
    return *error_;
  }
  [[nodiscard]] error&& error_value() && noexcept {
    assert(!has_value() && "pdm::status::error_value() on success: test the status first");
    return std::move(*error_);
  }

 private:
  std::optional<error> error_;
};

/// \brief The result of an operation that yields nothing but can fail.
using status = result<void>;

/// \brief A successful status, for readability at return sites.
[[nodiscard]] inline status ok() noexcept { return {}; }  // the user-provided constructor: no zero-fill

}  // namespace pdm
