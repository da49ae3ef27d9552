// pdm/analysis/config_check.hpp - checks a configuration against a registry (and, if given, the
// VMM's devices) without constructing anything: what `minivmm check` and other tools run before a
// VM exists.
//
//   std::vector<pdm::error> problems = pdm::check_config(config, registry, devices);
//
// It walks every configured chain, `Devices/<device>/<instance>/LUN#<n>` and the AttachedDriver
// nodes below it, and reports every problem it finds, not only the first, each with a code from
// pdm's error category, the driver where there is one, and the config path:
//   - a driver's node: a key other than Driver, Config, AttachedDriver, Transformed
//     (`unknown_key`, with "did you mean"); no Driver (`missing_driver_name`); Driver not a
//     string, Config not a node (`wrong_type`); a name nothing registered (`driver_not_found`,
//     with "did you mean");
//   - the driver's Config bound to its config struct, exactly as an attach would (the binding's
//     own codes: unknown keys, types, ranges, required keys);
//   - interfaces, both ways, between each driver and the one above it (`missing_interface`),
//     and, with devices given, between the top driver and its LUN;
//   - more configured instances of a driver than its max_instances (`too_many_instances`);
//   - with devices given, a configured device or LUN the VMM does not have (`device_not_found`,
//     `lun_not_found`);
//   - the transformation rules under PDM/DriverTransformations (what the VM would refuse).
// Transformations are checked as rules, not applied: the chains are checked as configured. A
// config that passes can still fail to attach for run-time reasons (a file that cannot be opened,
// a constructor's own checks).
#pragma once

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "pdm/chain/device.hpp"
#include "pdm/chain/transform.hpp"
#include "pdm/config/tree.hpp"
#include "pdm/core/errc.hpp"
#include "pdm/core/error.hpp"
#include "pdm/core/suggest.hpp"
#include "pdm/driver/descriptor.hpp"
#include "pdm/driver/registry.hpp"

namespace pdm {

namespace detail {

// The state of one check_config() run.
class config_checker {
 public:
  config_checker(const registry& drivers, std::span<const device_spec> devices) : drivers_(drivers), devices_(devices) {
    configured_.resize(drivers_.size());
  }

  void check(const config_tree& config) {
    const config_node& root = config.root();
    if (const config_node* rules = root.find_child("PDM/DriverTransformations")) {
      result<std::vector<transformation_rule>> parsed = parse_transformations(*rules);
      if (!parsed) problems_.push_back(std::move(parsed).error_value());
    }
    if (const config_node* devices = root.find_child("Devices")) {
      for (const config_node& device : devices->children()) check_device(device);
    }
    for (std::size_t i = 0; i < configured_.size(); ++i) {
      const driver_descriptor& d = *drivers_.drivers()[i];
      if (configured_[i] > d.max_instances) {
        problems_.push_back(error(errc::too_many_instances, std::to_string(configured_[i]) +
                                                                " instances are configured; the driver allows " +
                                                                std::to_string(d.max_instances))
                                .driver(d.name));
      }
    }
  }

  std::vector<error> take() { return std::move(problems_); }

 private:
  static bool parse_number(std::string_view text, std::uint32_t& out) {
    if (text.empty()) return false;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
  }

  [[nodiscard]] const device_spec* find_device(std::string_view name, std::uint32_t instance) const {
    for (const device_spec& d : devices_) {
      if (d.name == name && d.instance == instance) return &d;
    }
    return nullptr;
  }

  void check_device(const config_node& device) {
    for (const config_node& instance_node : device.children()) {
      std::uint32_t instance = 0;
      if (!parse_number(instance_node.name(), instance)) {
        problems_.push_back(
            error(errc::invalid_name, "a device instance is named by its number, not '" + instance_node.name() + "'")
                .path(instance_node.path()));
        continue;
      }
      const device_spec* spec = find_device(device.name(), instance);
      if (!devices_.empty() && spec == nullptr) {
        problems_.push_back(
            error(errc::device_not_found, "the VMM has no device '" + device.name() + "' #" + std::to_string(instance))
                .path(instance_node.path()));
        continue;
      }
      for (const config_node& lun : instance_node.children()) {
        std::uint32_t number = 0;
        if (!lun.name().starts_with("LUN#")) continue;  // a device's own settings
        if (!parse_number(std::string_view(lun.name()).substr(4), number)) {
          problems_.push_back(
              error(errc::invalid_name, "a LUN node is LUN#<number>, not '" + lun.name() + "'").path(lun.path()));
          continue;
        }
        const lun_spec* port = nullptr;
        if (spec != nullptr) {
          const auto it = std::find_if(spec->luns.begin(), spec->luns.end(),
                                       [number](const lun_spec& l) { return l.number == number; });
          if (it == spec->luns.end()) {
            problems_.push_back(error(errc::lun_not_found, "device '" + device.name() + "' #" +
                                                               std::to_string(instance) + " has no LUN " +
                                                               std::to_string(number))
                                    .path(lun.path()));
            continue;
          }
          port = &*it;
        }
        check_position(lun, nullptr, port, device.name());
      }
    }
  }

  // One driver's node, then the one below it. `above` is the driver above (null at the LUN);
  // `port` the LUN's interfaces when the devices are known.
  void check_position(const config_node& node, const driver_descriptor* above, const lun_spec* port,
                      const std::string& device) {
    const config_value* name = nullptr;
    const config_node* config = nullptr;
    const config_node* below = nullptr;
    bool ok = true;
    for (const auto& e : node.entries()) {
      const std::string& key = e.name();
      if (key == "Driver" && !e.is_node()) {
        name = &e.value();
      } else if (key == "Config") {
        if (e.is_node()) {
          config = &e.node();
        } else {
          problems_.push_back(error(errc::wrong_type, "Config must be a node, not a value").path(node.full_path(key)));
          ok = false;
        }
      } else if (key == "AttachedDriver" && e.is_node()) {
        below = &e.node();
      } else if (key != "Transformed") {
        static constexpr std::string_view known[] = {"Driver", "Config", "AttachedDriver", "Transformed"};
        std::string d = "'" + key + "' is not a key of a driver's node (Driver, Config, AttachedDriver)";
        if (std::string_view s = closest(key, known); !s.empty()) d += "; did you mean '" + std::string(s) + "'?";
        problems_.push_back(error(errc::unknown_key, std::move(d)).path(node.full_path(key)));
        ok = false;
      }
    }
    if (name == nullptr) {
      problems_.push_back(error(errc::missing_driver_name).path(node.path()));
      return;
    }
    if (name->kind() != value_kind::string) {
      problems_.push_back(
          error(errc::wrong_type, "Driver must be a string, not " + std::string(value_kind_name(name->kind())))
              .path(node.full_path("Driver")));
      return;
    }
    const std::size_t index = drivers_.find_index(name->string());
    if (index == registry::npos) {
      std::string d = "'" + name->string() + "' is not registered";
      std::vector<std::string_view> names;
      for (const driver_descriptor* x : drivers_.drivers()) names.push_back(x->name);
      if (std::string_view s = closest(name->string(), names); !s.empty()) {
        d += " (did you mean '" + std::string(s) + "'?)";
      }
      problems_.push_back(error(errc::driver_not_found, std::move(d)).path(node.full_path("Driver")));
      return;
    }
    const driver_descriptor& d = *drivers_.drivers()[index];
    ++configured_[index];
    check_interfaces(d, above, port, device, node);
    if (d.bind_config != nullptr) {
      const config_tree empty;
      status bound = d.bind_config(
          config != nullptr ? *config : empty.root(), [](void*, void*) {}, nullptr);
      if (!bound) {
        error e = std::move(bound).error_value();
        e.driver(d.name);
        if (e.config_path().empty()) e.path(node.full_path("Config"));
        problems_.push_back(std::move(e));
      }
    }
    if (ok && below != nullptr) check_position(*below, &d, nullptr, device);
  }

  void check_interfaces(const driver_descriptor& d, const driver_descriptor* above, const lun_spec* port,
                        const std::string& device, const config_node& node) {
    if (above == nullptr && port == nullptr) return;  // the top driver, and no device to check against
    const std::string who = above != nullptr ? "driver '" + std::string(above->name) + "' above it"
                                             : "device '" + device + "' (LUN " + std::to_string(port->number) + ")";
    const std::span<const interface_ref> wanted = above != nullptr ? above->needs_below : std::span(port->needs);
    for (const interface_ref& need : wanted) {
      if (!d.provides_key(need.key)) {
        problems_.push_back(error(errc::missing_interface,
                                  "it does not provide " + std::string(need.id) + ", which the " + who + " needs")
                                .driver(d.name)
                                .path(node.path()));
      }
    }
    for (const interface_ref& need : d.needs_above) {
      const bool offered = above != nullptr
                               ? above->provides_key(need.key)
                               : std::any_of(port->offers.begin(), port->offers.end(),
                                             [&](const offered_interface& o) { return o.ref.key == need.key; });
      if (!offered) {
        problems_.push_back(error(errc::missing_interface, "it needs " + std::string(need.id) +
                                                               " from above, which the " + who + " does not offer")
                                .driver(d.name)
                                .path(node.path()));
      }
    }
  }

  const registry& drivers_;
  std::span<const device_spec> devices_;
  std::vector<std::uint32_t> configured_;  // configured instances, by registry position
  std::vector<error> problems_;
};

}  // namespace detail

/// \brief Every problem of `config` as a VM built from `drivers` (and `devices`, when given)
/// would meet it, without constructing anything (see the header comment); empty when none.
[[nodiscard]] inline std::vector<error> check_config(const config_tree& config, const registry& drivers,
                                                     std::span<const device_spec> devices = {}) {
  detail::config_checker checker(drivers, devices);
  checker.check(config);
  return checker.take();
}

}  // namespace pdm
