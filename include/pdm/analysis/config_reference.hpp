// pdm/analysis/config_reference.hpp - a Markdown reference of every driver's config keys.
//
// config_reference(driver_list<Ds...>{}) writes one section per driver: its name, description
// and instance limit, then a table of the keys its config struct binds (key, type, default,
// description; required keys say so). A project generates its reference from its own driver
// list and keeps it in its docs; pdm's docs/config-reference.md is generated this way from the
// example drivers, and a test fails when that file is stale.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pdm/config/schema.hpp"
#include "pdm/driver/driver.hpp"
#include "pdm/driver/registry.hpp"
#include "pdm/driver/traits.hpp"

namespace pdm {

namespace detail {

inline std::string markdown_cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

template <class D>
void append_driver_reference(std::string& out) {
  constexpr driver_traits t = D::traits;
  out += "## `";
  out += t.name;
  out += "`\n\n";
  out += t.description;
  out += t.description.ends_with('.') ? "" : ".";
  if (t.max_instances != unlimited_instances) {
    out += " At most " + std::to_string(t.max_instances) + (t.max_instances == 1 ? " instance." : " instances.");
  }
  out += "\n\n";
  if constexpr (!has_config_type<D>) {
    out += "Takes no configuration keys.\n\n";
  } else {
    const std::vector<config_key_info> keys = config_schema<typename D::config_type>();
    if (keys.empty()) {
      out += "Takes no configuration keys.\n\n";
      return;
    }
    out += "| key | type | default | description |\n|---|---|---|---|\n";
    // Appends one piece at a time (g++ 12 warns falsely about `"..." + std::string` chains).
    for (const config_key_info& k : keys) {
      out += "| `";
      out += markdown_cell(k.key);
      out += "` | ";
      out += markdown_cell(k.type);
      out += " | ";
      if (k.required) {
        out += "*required*";
      } else if (!k.default_value.empty()) {
        out += '`';
        out += markdown_cell(k.default_value);
        out += '`';
      }
      out += " | ";
      out += markdown_cell(k.description);
      out += " |\n";
    }
    out += "\n";
  }
}

}  // namespace detail

/// \brief Markdown: `# <title>`, the `intro` paragraph, then one section per driver in list order.
template <class... Ds>
[[nodiscard]] std::string config_reference(driver_list<Ds...> /*drivers*/, std::string_view title,
                                           std::string_view intro = {}) {
  std::string out = "# " + std::string(title) + "\n\n";
  if (!intro.empty()) {
    out += intro;
    out += intro.ends_with('\n') ? "\n" : "\n\n";
  }
  (detail::append_driver_reference<Ds>(out), ...);
  while (out.size() >= 2 && out.ends_with("\n\n")) out.pop_back();
  return out;
}

}  // namespace pdm
