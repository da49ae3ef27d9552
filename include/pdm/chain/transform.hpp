// pdm/chain/transform.hpp - driver transformations: rules that rewrite a chain's config as it is
// attached.
//
// Rules live under `PDM/DriverTransformations/<rule>` and are applied in rule-name order each
// time a driver is about to be attached. A rule matches by `Device`, `LUN`, `BelowDriver` (the
// driver above the new one, `<top>` at the device) and optionally `AboveDriver` (the driver about
// to be attached), each a `|`-separated list of wildcard patterns (`*` any run of characters,
// `?` one character). Its `Action` says what to do:
//
//   inject       put `AttachedDriver` (the rule's template) above the driver about to be attached
//   mergeconfig  merge the rule's `Config` into the driver's `Config` (values replaced)
//   remove       drop the driver; the one configured below it takes its place
//   removetree   drop the driver and everything configured below it
//   replace      put the template in the driver's place, keeping what is configured below it
//   replacetree  put the template (with its own AttachedDriver chain) in place of the whole rest
//
// The chain manager applies the actions to the config tree (pdm/chain/vm.hpp); this header parses
// and checks the rules and matches them. Every rule is checked each time rules are read, so a
// misspelt key or action fails the attach with `misconfigured_transformation` and the rule's path.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pdm/config/tree.hpp"
#include "pdm/core/error.hpp"
#include "pdm/core/suggest.hpp"

namespace pdm {

/// \brief What a transformation rule does.
enum class transform_action { inject, mergeconfig, remove, removetree, replace, replacetree };

/// \brief The action's name as the config spells it.
[[nodiscard]] constexpr std::string_view to_string(transform_action a) noexcept {
  switch (a) {
    case transform_action::inject:
      return "inject";
    case transform_action::mergeconfig:
      return "mergeconfig";
    case transform_action::remove:
      return "remove";
    case transform_action::removetree:
      return "removetree";
    case transform_action::replace:
      return "replace";
    case transform_action::replacetree:
      return "replacetree";
  }
  return "unknown";
}

/// \brief One checked rule of `PDM/DriverTransformations`. The node pointers point into the
/// config tree and are valid as long as the rule's node is.
struct transformation_rule {
  std::string name;                         ///< the rule's node name; rules apply in name order
  const config_node* node = nullptr;        ///< the rule's node
  std::string device = "*";                 ///< patterns for the device name
  std::string lun = "*";                    ///< patterns for the LUN number, in decimal
  std::string below_driver = "*";           ///< patterns for the driver above (`<top>` at the device)
  std::optional<std::string> above_driver;  ///< patterns for the driver being attached, if given
  transform_action action = transform_action::inject;
  const config_node* attached = nullptr;  ///< the AttachedDriver template (inject, replace, replacetree)
  const config_node* config = nullptr;    ///< the Config to merge (mergeconfig)
};

/// \brief True if `text` matches `pattern`: `*` matches any run of characters, `?` one character.
[[nodiscard]] constexpr bool wildcard_match_one(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

/// \brief True if `text` matches one of the `|`-separated patterns in `patterns`.
[[nodiscard]] constexpr bool wildcard_match(std::string_view patterns, std::string_view text) noexcept {
  for (;;) {
    const std::size_t bar = patterns.find('|');
    if (wildcard_match_one(patterns.substr(0, bar), text)) return true;
    if (bar == std::string_view::npos) return false;
    patterns.remove_prefix(bar + 1);
  }
}

namespace detail {

inline constexpr std::array<std::string_view, 7> rule_keys = {"Device", "LUN",    "BelowDriver",   "AboveDriver",
                                                              "Action", "Config", "AttachedDriver"};
inline constexpr std::array<std::string_view, 6> action_names = {"inject",     "mergeconfig", "remove",
                                                                 "removetree", "replace",     "replacetree"};

[[nodiscard]] inline error misconfigured(const config_node& at, std::string_view name, std::string detail) {
  return error(errc::misconfigured_transformation, std::move(detail)).path(at.full_path(name));
}

// Reads the string value `key` of rule `r` into `out` if present.
[[nodiscard]] inline status rule_string(const config_node& r, std::string_view key, std::string& out) {
  const config_value* v = r.find_value(key);
  if (v == nullptr) return ok();
  if (v->kind() != value_kind::string) {
    return misconfigured(r, key, "must be a string, not " + std::string(value_kind_name(v->kind())));
  }
  out = v->string();
  return ok();
}

[[nodiscard]] inline result<transformation_rule> parse_rule(const config_node& r) {
  transformation_rule rule;
  rule.name = r.name();
  rule.node = &r;
  for (const auto& e : r.entries()) {
    if (std::find(rule_keys.begin(), rule_keys.end(), e.name()) == rule_keys.end()) {
      std::string d = "unknown key '" + std::string(e.name()) + "'";
      if (std::string_view s = closest(e.name(), rule_keys); !s.empty())
        d += " (did you mean '" + std::string(s) + "'?)";
      d += "; a rule has Device, LUN, BelowDriver, AboveDriver, Action, AttachedDriver and Config";
      return misconfigured(r, e.name(), std::move(d));
    }
    const bool node_key = e.name() == "Config" || e.name() == "AttachedDriver";
    if (node_key != e.is_node()) {
      return misconfigured(r, e.name(), node_key ? "must be a node" : "must be a string value, not a node");
    }
  }
  if (status s = rule_string(r, "Device", rule.device); !s) return std::move(s).error_value();
  if (status s = rule_string(r, "LUN", rule.lun); !s) return std::move(s).error_value();
  if (status s = rule_string(r, "BelowDriver", rule.below_driver); !s) return std::move(s).error_value();
  if (r.has_value("AboveDriver")) {
    std::string above;
    if (status s = rule_string(r, "AboveDriver", above); !s) return std::move(s).error_value();
    rule.above_driver = std::move(above);
  }
  std::string action = "inject";
  if (status s = rule_string(r, "Action", action); !s) return std::move(s).error_value();
  const auto* it = std::find(action_names.begin(), action_names.end(), action);
  if (it == action_names.end()) {
    std::string d = "unknown action '" + action + "'";
    if (std::string_view s = closest(action, action_names); !s.empty())
      d += " (did you mean '" + std::string(s) + "'?)";
    d += "; the actions are inject, mergeconfig, remove, removetree, replace and replacetree";
    return misconfigured(r, "Action", std::move(d));
  }
  rule.action = static_cast<transform_action>(it - action_names.begin());
  rule.attached = r.find_child("AttachedDriver");
  rule.config = r.find_child("Config");
  const bool takes_template = rule.action == transform_action::inject || rule.action == transform_action::replace ||
                              rule.action == transform_action::replacetree;
  if (takes_template) {
    if (rule.attached == nullptr) {
      return misconfigured(
          r, "AttachedDriver",
          std::string(action == "inject" ? "an " : "a ") + action + " rule needs an AttachedDriver node with a Driver");
    }
    const config_value* driver = rule.attached->find_value("Driver");
    if (driver == nullptr || driver->kind() != value_kind::string || driver->string().empty()) {
      return misconfigured(*rule.attached, "Driver", "the AttachedDriver template needs a Driver string");
    }
    if (rule.action != transform_action::replacetree && rule.attached->has_child("AttachedDriver")) {
      return misconfigured(*rule.attached, "AttachedDriver",
                           std::string(action == "inject" ? "an " : "a ") + action +
                               " template cannot have its own AttachedDriver (use replacetree)");
    }
  } else if (rule.attached != nullptr) {
    return misconfigured(r, "AttachedDriver", "only inject, replace and replacetree rules take an AttachedDriver");
  }
  if (rule.action == transform_action::mergeconfig) {
    if (rule.config == nullptr) return misconfigured(r, "Config", "a mergeconfig rule needs a Config node");
  } else if (rule.config != nullptr) {
    return misconfigured(r, "Config",
                         "only mergeconfig rules take a Config (an injected driver's goes in AttachedDriver/Config)");
  }
  return rule;
}

}  // namespace detail

/// \brief Parses and checks every rule under `rules` (the `PDM/DriverTransformations` node), in
/// rule-name order (byte-wise). The first broken rule gives `misconfigured_transformation`.
[[nodiscard]] inline result<std::vector<transformation_rule>> parse_transformations(const config_node& rules) {
  std::vector<transformation_rule> out;
  out.reserve(rules.size());
  for (const auto& e : rules.entries()) {
    if (!e.is_node()) return detail::misconfigured(rules, e.name(), "a transformation rule must be a node");
    result<transformation_rule> r = detail::parse_rule(e.node());
    if (!r) return std::move(r).error_value();
    out.push_back(std::move(*r));
  }
  std::sort(out.begin(), out.end(),
            [](const transformation_rule& a, const transformation_rule& b) { return a.name < b.name; });
  return out;
}

/// \brief Where a driver is about to be attached, as rules see it.
struct transform_site {
  std::string_view device;        ///< the device's name
  std::uint32_t lun = 0;          ///< the LUN number
  std::string_view driver_above;  ///< the driver above, or `<top>` at the device
};

/// \brief True if `rule` matches a driver called `driver` (empty: a removed driver) at `site`.
[[nodiscard]] inline bool rule_matches(const transformation_rule& rule, const transform_site& site,
                                       std::string_view driver) {
  if (!wildcard_match(rule.device, site.device)) return false;
  if (!wildcard_match(rule.lun, std::to_string(site.lun))) return false;
  if (!wildcard_match(rule.below_driver, site.driver_above)) return false;
  if (rule.above_driver) return !driver.empty() && wildcard_match(*rule.above_driver, driver);
  return true;
}

}  // namespace pdm
