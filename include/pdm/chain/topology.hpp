// pdm/chain/topology.hpp - a VM's devices, LUNs and chains as plain values: what vm::topology()
// returns, and what tools draw (pdm/analysis/graph.hpp) or print without touching a live VM.
//
// A topology is a snapshot: it owns its strings and stays valid after the VM changes or goes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pdm {

/// \brief One driver of a chain, as vm::topology() saw it.
struct chain_entry {
  std::string driver;                 ///< the driver's registered name
  std::uint32_t instance = 0;         ///< its instance number
  std::string config_path;            ///< where it is configured: the LUN#n or an AttachedDriver node
  std::vector<std::string> provides;  ///< the ids of the interfaces it offers upward
  std::vector<std::string> notes;     ///< what transformations did at its place ("rule: what")
};

/// \brief One LUN of a device and its chain, top to bottom (empty when nothing is attached).
struct lun_view {
  std::uint32_t number = 0;
  std::vector<chain_entry> chain;
};

/// \brief One device instance and its LUNs, in LUN number order.
struct device_view {
  std::string name;
  std::uint32_t instance = 0;
  std::vector<lun_view> luns;
};

}  // namespace pdm
