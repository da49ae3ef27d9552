// pdm/chain/vm_state.hpp - the states of a VM's power state machine.
//
//   created --power_on--> powering_on --> running --suspend--> suspending --> suspended
//   suspended --resume--> resuming --> running
//   running | suspended --reset--> resetting --> (the state it came from)
//   running | suspended --power_off--> powering_off --> off
//   any steady state --(vm destroyed)--> destroying
//
// The -ing states last while drivers and devices are being notified (and while the VM waits for
// drivers that finish a notification asynchronously).
#pragma once

#include <string_view>

namespace pdm {

/// \brief Where a VM is in its life; see the state diagram in pdm/chain/vm_state.hpp.
enum class vm_state : unsigned char {
  created,       ///< constructed, devices being added, chains being attached; not yet powered on
  powering_on,   ///< power-on notifications are being delivered
  running,       ///< powered on and running
  suspending,    ///< suspend notifications are being delivered
  suspended,     ///< suspended; resume or power off next
  resuming,      ///< resume notifications are being delivered
  resetting,     ///< reset notifications are being delivered
  powering_off,  ///< power-off notifications are being delivered
  off,           ///< powered off; only destruction follows
  destroying,    ///< the VM is being destroyed: every chain is torn down
};

/// \brief The state's name as written in docs and messages ("powering_on").
[[nodiscard]] constexpr std::string_view to_string(vm_state s) noexcept {
  switch (s) {
    case vm_state::created:
      return "created";
    case vm_state::powering_on:
      return "powering_on";
    case vm_state::running:
      return "running";
    case vm_state::suspending:
      return "suspending";
    case vm_state::suspended:
      return "suspended";
    case vm_state::resuming:
      return "resuming";
    case vm_state::resetting:
      return "resetting";
    case vm_state::powering_off:
      return "powering_off";
    case vm_state::off:
      return "off";
    case vm_state::destroying:
      return "destroying";
  }
  return "unknown";
}

/// \brief True for the states a power operation passes through (notifications under way).
[[nodiscard]] constexpr bool is_transitional(vm_state s) noexcept {
  return s == vm_state::powering_on || s == vm_state::suspending || s == vm_state::resuming ||
         s == vm_state::resetting || s == vm_state::powering_off || s == vm_state::destroying;
}

}  // namespace pdm
