// pdm/chain/device.hpp - the minimal device model the chain manager attaches chains to.
//
// A device is what the VMM emulates (a disk controller, a serial port). pdm does not emulate
// anything; it needs to know a device's name and instance, its numbered LUNs (attachment
// points), for each LUN the interfaces the device offers to the driver at the top of the chain
// (its "port") and the interfaces it needs from that driver, and which notifications the device
// wants: after a chain was attached at run time, before one is detached, and on power events.
//
//     my_port port;
//     pdm::device_spec disk{
//         .name = "disk", .instance = 0,
//         .luns = {{.number = 0, .offers = {pdm::offer<block_port>(port)}, .needs = pdm::interfaces<block>()}},
//         .hooks = {.on_detach = [](std::uint32_t lun, pdm::attach_flags) { /* forget the chain */ }}};
//     vm.add_device(std::move(disk));
//
// A device without on_detach cannot have its chains detached while the VM exists
// (errc::detach_not_possible), as a driver without on_detach_below cannot.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pdm/core/error.hpp"
#include "pdm/driver/interface.hpp"
#include "pdm/driver/traits.hpp"

namespace pdm {

/// \brief An interface a device offers on a LUN: its id and the object implementing it.
struct offered_interface {
  interface_ref ref{};
  void* address = nullptr;
};

/// \brief Offers `impl` as interface I (the device keeps `impl` alive as long as the VM).
template <interface I>
[[nodiscard]] offered_interface offer(I& impl) noexcept {
  return offered_interface{interface_ref{interface_key<I>, I::interface_id}, static_cast<void*>(&impl)};
}

/// \brief The refs of interfaces Is..., for lun_spec::needs.
template <interface... Is>
[[nodiscard]] std::vector<interface_ref> interfaces() {
  return {interface_ref{interface_key<Is>, Is::interface_id}...};
}

/// \brief One attachment point of a device.
struct lun_spec {
  std::uint32_t number = 0;                 ///< the N of `LUN#N` in the device's config
  std::vector<offered_interface> offers{};  ///< what the device offers to the chain's top driver
  std::vector<interface_ref> needs{};       ///< what the device needs from the chain's top driver
};

/// \brief Notification order a device asks for (the default: drivers before the device).
enum class device_flags : std::uint32_t {
  none = 0,
  reset_first = 1U << 0,      ///< notify the device of a reset before its drivers
  suspend_first = 1U << 1,    ///< notify the device of a suspend before its drivers
  power_off_first = 1U << 2,  ///< notify the device of a power off before its drivers
};
[[nodiscard]] constexpr device_flags operator|(device_flags a, device_flags b) noexcept {
  return static_cast<device_flags>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
[[nodiscard]] constexpr bool has_flag(device_flags value, device_flags flag) noexcept {
  return (static_cast<std::uint32_t>(value) & static_cast<std::uint32_t>(flag)) != 0;
}

/// \brief What a device is told; every member may be empty (the device is then not told).
struct device_hooks {
  /// After a chain was attached to `lun` at run time (vm::attach without not_hot_plug): the device
  /// takes its interfaces; an error makes the attach fail and the chain is destroyed again.
  std::function<status(std::uint32_t lun, attach_flags flags)> on_attach{};
  /// When the chain of `lun` goes by a detach: after the drivers below the top one were destroyed,
  /// before the top driver is (its interfaces are still valid here). Without it, chains cannot be
  /// detached.
  std::function<void(std::uint32_t lun, attach_flags flags)> on_detach{};
  std::function<void()> on_power_on{};
  std::function<void()> on_reset{};
  std::function<void()> on_suspend{};
  std::function<void()> on_resume{};
  std::function<void()> on_power_off{};
};

/// \brief A device instance as the VMM declares it to the VM.
struct device_spec {
  std::string name{};            ///< the <device> of `Devices/<device>/<instance>`; driver-name rules
  std::uint32_t instance = 0;    ///< the <instance>
  std::vector<lun_spec> luns{};  ///< its LUNs, each number at most once
  device_hooks hooks{};
  device_flags flags = device_flags::none;
};

}  // namespace pdm
