// pdm/driver/traits.hpp - what a driver says about itself: name, description, class, limits.
//
// Every driver has a `static constexpr pdm::driver_traits traits{...}` member. The values are
// checked at compile time for drivers in a driver_list (see pdm/driver/driver.hpp) and at run
// time for descriptors registered dynamically (see pdm/driver/descriptor.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pdm {

/// \brief The kind of a driver, as a bit mask; a driver may belong to several classes.
enum class driver_class : std::uint32_t {
  none = 0,
  mouse = 1U << 0,
  keyboard = 1U << 1,
  block = 1U << 2,
  media = 1U << 3,
  mountable = 1U << 4,
  audio = 1U << 5,
  vmm_device = 1U << 6,
  status = 1U << 7,
  network = 1U << 8,
  acpi = 1U << 9,
  usb = 1U << 10,
  iscsi_transport = 1U << 11,
  character = 1U << 12,  ///< a char device layer (serial ports and the like)
  stream = 1U << 13,     ///< a byte stream below a char layer (TCP, pipe, file, socket)
  scsi = 1U << 14,
  host_parallel = 1U << 15,
  pci_raw = 1U << 16,
  filter = 1U << 17,  ///< a pass-through driver injected into chains (tracing, integrity)
  all_known = (1U << 18) - 1,
};

[[nodiscard]] constexpr driver_class operator|(driver_class a, driver_class b) noexcept {
  return static_cast<driver_class>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
[[nodiscard]] constexpr driver_class operator&(driver_class a, driver_class b) noexcept {
  return static_cast<driver_class>(static_cast<std::uint32_t>(a) & static_cast<std::uint32_t>(b));
}
/// \brief True if any bit of `mask` is set in `value`.
[[nodiscard]] constexpr bool has_any(driver_class value, driver_class mask) noexcept {
  return (value & mask) != driver_class::none;
}

/// \brief Flags of attach and detach operations.
enum class attach_flags : std::uint32_t {
  none = 0,
  not_hot_plug = 1U << 0,  ///< the operation is not a hot-plug (for example at VM construction)
  no_callbacks = 1U << 1,  ///< destroy without notifying parents (used by failure rollback)
};
[[nodiscard]] constexpr attach_flags operator|(attach_flags a, attach_flags b) noexcept {
  return static_cast<attach_flags>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
[[nodiscard]] constexpr bool has_flag(attach_flags value, attach_flags flag) noexcept {
  return (static_cast<std::uint32_t>(value) & static_cast<std::uint32_t>(flag)) != 0;
}

/// \brief max_instances for a driver with no practical limit.
inline constexpr std::uint32_t unlimited_instances = UINT32_MAX;

/// \brief The longest driver name, in characters (names are 1..31 of [A-Za-z0-9_ -]).
inline constexpr std::size_t max_driver_name_length = 31;

/// \brief The largest driver object, in bytes.
inline constexpr std::size_t max_driver_size = std::size_t{1} << 20;

/// \brief The largest alignment a driver may ask for.
inline constexpr std::size_t max_driver_alignment = 4096;

/// \brief A driver's self-description; a driver declares one as `static constexpr traits`.
struct driver_traits {
  std::string_view name;                              ///< 1..31 characters of [A-Za-z0-9_ -]; unique in a registry
  std::string_view description;                       ///< one line for people; must not be empty
  driver_class class_mask = driver_class::none;       ///< one or more known driver_class bits
  std::uint32_t max_instances = unlimited_instances;  ///< live instances allowed at once, > 0
};

namespace detail {

/// What is wrong with a driver name, if anything; shared by compile-time and run-time checks.
enum class driver_name_problem { none, empty, too_long, bad_character };

constexpr bool is_name_character(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ' ' || c == '-';
}

constexpr driver_name_problem check_driver_name(std::string_view name) noexcept {
  if (name.empty()) return driver_name_problem::empty;
  if (name.size() > max_driver_name_length) return driver_name_problem::too_long;
  for (char c : name) {
    if (!is_name_character(c)) return driver_name_problem::bad_character;
  }
  return driver_name_problem::none;
}

constexpr bool is_known_class_mask(driver_class mask) noexcept {
  return mask != driver_class::none && (mask & driver_class::all_known) == mask;
}

}  // namespace detail
}  // namespace pdm
