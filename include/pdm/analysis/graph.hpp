// pdm/analysis/graph.hpp - driver stacks as Graphviz DOT: one cluster per device instance, a box
// per LUN, and below it the chain's drivers top to bottom, each with its instance number, the
// interfaces it offers and what transformations did there.
//
//   std::string dot = pdm::to_dot(*vm.topology());   // then: dot -Tsvg stacks.dot > stacks.svg
//
// The input is a topology (pdm/chain/topology.hpp), so the same function draws a live VM's
// stacks or any stacks a tool describes itself. Every name is quoted and escaped: a driver or
// device name cannot break the graph's syntax.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "pdm/chain/topology.hpp"

namespace pdm {

/// \brief What to_dot draws.
struct dot_options {
  std::string name = "pdm";     ///< the graph's name
  bool interfaces = true;       ///< list each driver's offered interfaces under its name
  bool transformations = true;  ///< list what transformations did at each driver's place
  bool empty_luns = true;       ///< draw LUNs with nothing attached (dashed)
};

namespace detail {

// A DOT double-quoted string: backslashes and quotes escaped, line breaks as \l (left-aligned
// lines), other control characters dropped.
inline std::string dot_quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\l";
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace detail

/// \brief The stacks of `devices` as a Graphviz DOT digraph (see the header comment).
[[nodiscard]] inline std::string to_dot(std::span<const device_view> devices, const dot_options& options = {}) {
  std::string out;
  auto add = [&out](std::initializer_list<std::string_view> parts) {
    for (const std::string_view p : parts) out += p;
  };
  add({"digraph ", detail::dot_quoted(options.name), " {\n"});
  add({"  rankdir=TB;\n", "  fontname=\"Helvetica\";\n", "  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n",
       "  edge [arrowsize=0.6];\n"});
  for (std::size_t d = 0; d < devices.size(); ++d) {
    const device_view& dev = devices[d];
    const std::string prefix = "d" + std::to_string(d);
    add({"  subgraph ", detail::dot_quoted("cluster_" + prefix), " {\n"});
    add({"    label=", detail::dot_quoted(dev.name + " #" + std::to_string(dev.instance)), ";\n"});
    add({"    style=rounded;\n"});
    for (std::size_t l = 0; l < dev.luns.size(); ++l) {
      const lun_view& lun = dev.luns[l];
      if (lun.chain.empty() && !options.empty_luns) continue;
      const std::string lun_id = prefix + "_l" + std::to_string(l);
      add({"    ", lun_id, " [shape=ellipse, label=", detail::dot_quoted("LUN#" + std::to_string(lun.number)),
           lun.chain.empty() ? ", style=dashed" : "", "];\n"});
      std::string above = lun_id;
      for (std::size_t k = 0; k < lun.chain.size(); ++k) {
        const chain_entry& e = lun.chain[k];
        std::string label = e.driver;
        label += " #";
        label += std::to_string(e.instance);
        label += '\n';
        if (options.interfaces) {
          for (const std::string& i : e.provides) {
            label += "  ";
            label += i;
            label += '\n';
          }
        }
        if (options.transformations) {
          for (const std::string& n : e.notes) {
            label += "  (";
            label += n;
            label += ")\n";
          }
        }
        const std::string id = lun_id + "_" + std::to_string(k);
        add({"    ", id, " [label=", detail::dot_quoted(label), ", tooltip=", detail::dot_quoted(e.config_path),
             "];\n"});
        add({"    ", above, " -> ", id, ";\n"});
        above = id;
      }
    }
    add({"  }\n"});
  }
  add({"}\n"});
  return out;
}

}  // namespace pdm
