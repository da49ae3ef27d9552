// pdm/driver/context.hpp - the per-instance context handed to a driver's constructor.
//
// The context is the driver's handle on pdm: who it is (name and instance number) and, as the
// chain manager and services grow, the helpers it may call. It lives as long as the instance,
// so a driver may keep a reference to it.
#pragma once

#include <cstdint>
#include <string_view>

namespace pdm {

/// \brief What a driver instance knows about itself; passed to its constructor.
class driver_context {
 public:
  /// \brief A context for instance `instance` of the driver called `driver_name`.
  driver_context(std::string_view driver_name, std::uint32_t instance) noexcept
      : name_(driver_name), instance_(instance) {}

  // Drivers hold references to their context, so it never moves or copies.
  driver_context(const driver_context&) = delete;
  driver_context& operator=(const driver_context&) = delete;
  driver_context(driver_context&&) = delete;
  driver_context& operator=(driver_context&&) = delete;
  ~driver_context() = default;

  /// \brief The driver's registered name.
  [[nodiscard]] std::string_view driver_name() const noexcept { return name_; }
  /// \brief This instance's number, unique among all instances ever made of the driver.
  [[nodiscard]] std::uint32_t instance() const noexcept { return instance_; }

 private:
  std::string_view name_;
  std::uint32_t instance_;
};

}  // namespace pdm
