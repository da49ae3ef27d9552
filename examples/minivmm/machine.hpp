// examples/minivmm/machine.hpp - minivmm's devices: a storage controller and serial ports.
//
// pdm does not emulate devices; the VMM does. minivmm's are the smallest that still talk to their
// driver chains the way real ones do: the storage controller ("ahci", instance 0) has one LUN per
// disk, offers each LUN's Block driver a block_port and is told of media changes; a serial port
// ("serial", instances 0..3) offers its Char driver a char_port (the receiver) and keeps what
// arrived. The machine owns these objects, so they outlive the VM it declares them to.
#pragma once

#include <pdm/chain/device.hpp>
#include <pdm/chain/vm.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "interfaces.hpp"

namespace minivmm {

inline constexpr std::uint32_t controller_ports = 4;
inline constexpr std::uint32_t serial_ports = 4;

/// One port of the storage controller, as its Block driver sees it.
class controller_port final : public block_port {
 public:
  void medium_changed(bool present) override {
    ++changes_;
    present_ = present;
  }
  [[nodiscard]] std::uint32_t changes() const { return changes_; }
  [[nodiscard]] bool present() const { return present_; }

 private:
  std::uint32_t changes_ = 0;
  bool present_ = false;
};

/// A serial port's receiver: what came from the stream, in order (on the EMT).
class serial_receiver final : public char_port {
 public:
  void received(std::span<const std::byte> bytes) override {
    inbox_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  [[nodiscard]] const std::string& inbox() const { return inbox_; }

 private:
  std::string inbox_;
};

/// The emulated hardware, declared to a pdm::vm as devices.
class machine {
 public:
  machine() = default;
  machine(const machine&) = delete;
  machine& operator=(const machine&) = delete;
  machine(machine&&) = delete;
  machine& operator=(machine&&) = delete;
  ~machine() = default;

  /// The device specs: for the VM, and for pdm::check_config (which needs no live objects, but
  /// gets the same specs so the check and the run agree).
  std::vector<pdm::device_spec> devices() {
    std::vector<pdm::device_spec> out;
    pdm::device_spec controller{.name = "ahci", .instance = 0};
    for (std::uint32_t lun = 0; lun < controller_ports; ++lun) {
      controller.luns.push_back(pdm::lun_spec{
          .number = lun, .offers = {pdm::offer<block_port>(ports_[lun])}, .needs = pdm::interfaces<block>()});
    }
    controller.hooks.on_detach = [this](std::uint32_t lun, pdm::attach_flags) { unplugged_.push_back(lun); };
    out.push_back(std::move(controller));
    for (std::uint32_t i = 0; i < serial_ports; ++i) {
      pdm::device_spec serial{.name = "serial", .instance = i};
      serial.luns.push_back(pdm::lun_spec{
          .number = 0, .offers = {pdm::offer<char_port>(receivers_[i])}, .needs = pdm::interfaces<char_device>()});
      serial.hooks.on_detach = [](std::uint32_t, pdm::attach_flags) {};
      out.push_back(std::move(serial));
    }
    return out;
  }

  /// Declares the devices to `vm`.
  pdm::status install(pdm::vm& vm) {
    for (pdm::device_spec& d : devices()) {
      if (pdm::status s = vm.add_device(std::move(d)); !s) return s;
    }
    return pdm::ok();
  }

  [[nodiscard]] const controller_port& port(std::uint32_t lun) const { return ports_.at(lun); }
  [[nodiscard]] const serial_receiver& serial(std::uint32_t instance) const { return receivers_.at(instance); }
  /// The controller LUNs whose chains were detached, in order.
  [[nodiscard]] const std::vector<std::uint32_t>& unplugged() const { return unplugged_; }

 private:
  std::array<controller_port, controller_ports> ports_{};
  std::array<serial_receiver, serial_ports> receivers_{};
  std::vector<std::uint32_t> unplugged_;
};

}  // namespace minivmm
