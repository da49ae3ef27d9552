// pdm/driver/descriptor.hpp - the type-erased, run-time description of a driver.
//
// A driver_descriptor is what the registry and the chain manager see of a driver: its traits,
// its size and alignment, how to construct and destroy it, its interface tables and which
// optional hooks it has. descriptor_of<D> makes one at compile time from a checked driver type;
// a shared-library module hands descriptors over at run time, and validate_descriptor() applies
// the same rules to them, as error values instead of static_asserts.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>

#include "pdm/config/fwd.hpp"
#include "pdm/core/error.hpp"
#include "pdm/driver/driver.hpp"

namespace pdm {

/// \brief The version of driver_descriptor's layout; a module's descriptors must carry it.
inline constexpr std::uint32_t descriptor_version = 0x70640004U;  // "pd", layout 0004

/// \brief Which optional hooks a driver has, as a bit mask.
enum class driver_hooks : std::uint32_t {
  none = 0,
  destructor = 1U << 0,  ///< not trivially destructible
  power_on = 1U << 1,
  reset = 1U << 2,
  suspend = 1U << 3,
  resume = 1U << 4,
  power_off = 1U << 5,
  detach_below = 1U << 6,  ///< notified when the driver below it is detached
  attach_below = 1U << 7,  ///< can attach a driver below itself at run time
  saved_state = 1U << 8,
  config = 1U << 9,  ///< takes a config_type in its constructor
  probe = 1U << 10,  ///< can tell whether a media file is its format (mount_prepare without a core driver)
};
[[nodiscard]] constexpr driver_hooks operator|(driver_hooks a, driver_hooks b) noexcept {
  return static_cast<driver_hooks>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
/// \brief True if `set` has the hook `h`.
[[nodiscard]] constexpr bool has_hook(driver_hooks set, driver_hooks h) noexcept {
  return (static_cast<std::uint32_t>(set) & static_cast<std::uint32_t>(h)) != 0;
}

/// \brief Everything pdm needs to know about a driver at run time.
struct driver_descriptor {
  using construct_fn = void (*)(void* storage, driver_context& ctx, void* config, resolved_interface* interfaces);
  using destroy_fn = void (*)(void* driver) noexcept;
  using notify_fn = void (*)(void* driver);
  using detach_fn = void (*)(void* driver, attach_flags flags);
  using attach_fn = status (*)(void* driver, attach_flags flags);
  using bind_config_fn = status (*)(const config_node& config, detail::bound_config_user use, void* context);
  using resolve_fn = void (*)(void* driver, resolved_interface* interfaces) noexcept;
  using probe_fn = int (*)(std::span<const std::byte> head, std::string_view file);
  using save_state_fn = status (*)(void* driver, state_writer& out);
  using stage_state_fn = status (*)(void* driver, state_reader& in, void*& staged);
  using finish_state_fn = void (*)(void* driver, void* staged) noexcept;

  std::uint32_t version = descriptor_version;  ///< must be descriptor_version
  std::string_view name;
  std::string_view description;
  driver_class class_mask = driver_class::none;
  std::uint32_t max_instances = 0;
  std::size_t size = 0;                        ///< sizeof the driver object
  std::size_t alignment = 0;                   ///< alignof the driver object; a power of two
  std::span<const interface_ref> provides;     ///< offered upward
  std::span<const interface_ref> needs_below;  ///< required from the driver below
  std::span<const interface_ref> needs_above;  ///< required from the device or driver above
  driver_hooks hooks = driver_hooks::none;
  /// Constructs the driver in `storage` (size and alignment as above). `config` points to the
  /// bound config_type, or is null for drivers without one. On success it writes one row
  /// {key, address} per provided interface to `interfaces`, in `provides` order. May throw what the
  /// constructor throws; then nothing is constructed.
  construct_fn construct = nullptr;
  /// For a driver with a config_type (hooks has driver_hooks::config): binds its Config node to a
  /// config_type and calls `use` with it (what construct then takes); the bind's problems
  /// otherwise. Null for drivers without a config_type.
  bind_config_fn bind_config = nullptr;
  /// Writes the {key, address} rows of the driver at `driver` (as construct does when it is
  /// done). The chain manager calls it while the driver's constructor runs, once its bases exist,
  /// so the driver it attaches below can already see its interfaces. Never null.
  resolve_fn resolve = nullptr;
  destroy_fn destroy = nullptr;  ///< runs the destructor; never null
  notify_fn on_power_on = nullptr;
  notify_fn on_reset = nullptr;
  notify_fn on_suspend = nullptr;
  notify_fn on_resume = nullptr;
  notify_fn on_power_off = nullptr;
  detach_fn on_detach_below = nullptr;
  attach_fn on_attach_below = nullptr;
  /// For a driver with a probe (hooks has driver_hooks::probe): how sure it is, 0..100, that the
  /// file whose first bytes are `head` is its format; 0 means not at all.
  probe_fn probe = nullptr;
  /// For a driver with a saved_state (hooks has driver_hooks::saved_state): the version of its
  /// layout, above zero; 0 otherwise.
  std::uint32_t saved_state_version = 0;
  /// Writes the driver's saved_state (what saved() returns) to `out`.
  save_state_fn save_state = nullptr;
  /// Decodes a unit (version in.version(), at most saved_state_version) into a new saved_state
  /// that `staged` then points to, without touching the driver: the same version through the
  /// aggregate's fields, an older one through the driver's load_older_state. A unit it cannot
  /// take (an older version and no load_older_state: `unit_version_too_old`; bytes left over:
  /// `stream_corrupted`) leaves `staged` null.
  stage_state_fn stage_state = nullptr;
  /// With a driver: moves the staged state into saved() and frees it; with a null driver: frees
  /// it only (the load was abandoned).
  finish_state_fn finish_state = nullptr;
  std::uint32_t version_end = descriptor_version;  ///< must be descriptor_version (catches layout skew)

  /// \brief True if the driver provides the interface with `key`.
  [[nodiscard]] bool provides_key(std::uint64_t key) const noexcept {
    return std::ranges::any_of(provides, [key](const interface_ref& e) { return e.key == key; });
  }
};

namespace detail {

template <class D, class... Is>
void store_interfaces(D* driver, resolved_interface* out, interface_list<Is...> /*provides*/) noexcept {
  if constexpr (sizeof...(Is) > 0) {
    std::size_t i = 0;
    ((out[i++] = resolved_interface{interface_key<Is>, static_cast<Is*>(driver)}), ...);
  } else {
    (void)driver;
    (void)out;
  }
}
template <class D>
void construct_driver(void* storage, driver_context& ctx, void* config, resolved_interface* interfaces) {
  D* driver = nullptr;
  if constexpr (has_config_type<D>) {
    driver = ::new (storage) D(ctx, std::move(*static_cast<typename D::config_type*>(config)));
  } else {
    (void)config;
    driver = ::new (storage) D(ctx);
  }
  store_interfaces(driver, interfaces, provides_t<D>{});
}
template <class D>
void resolve_driver(void* storage, resolved_interface* interfaces) noexcept {
  store_interfaces(static_cast<D*>(storage), interfaces, provides_t<D>{});
}
// Shared by every trivially destructible driver: one function instead of one per driver.
inline void destroy_trivial(void* /*driver*/) noexcept {}
template <class D>
void destroy_driver(void* driver) noexcept {
  static_cast<D*>(driver)->~D();
}
template <class D>
void call_power_on(void* d) {
  static_cast<D*>(d)->on_power_on();
}
template <class D>
void call_reset(void* d) {
  static_cast<D*>(d)->on_reset();
}
template <class D>
void call_suspend(void* d) {
  static_cast<D*>(d)->on_suspend();
}
template <class D>
void call_resume(void* d) {
  static_cast<D*>(d)->on_resume();
}
template <class D>
void call_power_off(void* d) {
  static_cast<D*>(d)->on_power_off();
}
template <class D>
void call_detach_below(void* d, attach_flags f) {
  static_cast<D*>(d)->on_detach_below(f);
}
template <class D>
status call_attach_below(void* d, attach_flags f) {
  return static_cast<D*>(d)->on_attach_below(f);
}

template <class D>
int call_probe(std::span<const std::byte> head, std::string_view file) {
  return static_cast<int>(D::probe(head, file));
}

template <class D>
status save_saved_state(void* d, state_writer& out) {
  out.write(static_cast<D*>(d)->saved());
  return ok();
}
template <class D>
status stage_saved_state(void* d, state_reader& in, void*& staged) {
  using state = typename D::saved_state;
  staged = nullptr;
  auto fresh = std::make_unique<state>();
  if (in.version() == D::saved_state_version) {
    if (status s = in.read(*fresh); !s) return s;
    if (in.remaining() != 0) {
      return error(errc::stream_corrupted,
                   std::to_string(in.remaining()) + " bytes follow the saved state in the unit");
    }
  } else if constexpr (hook_load_older_state<D>) {
    if (status s = static_cast<D*>(d)->load_older_state(in, *fresh); !s) return s;
    if (in.remaining() != 0) {
      return error(errc::stream_corrupted, "load_older_state left " + std::to_string(in.remaining()) +
                                               " bytes of the version " + std::to_string(in.version()) +
                                               " unit unread (skip() what it does not need)");
    }
  } else {
    return error(errc::unit_version_too_old,
                 "the unit has version " + std::to_string(in.version()) + "; the driver loads version " +
                     std::to_string(D::saved_state_version) + " and has no load_older_state for older ones");
  }
  staged = fresh.release();
  return ok();
}
template <class D>
void finish_saved_state(void* d, void* staged) noexcept {
  std::unique_ptr<typename D::saved_state> s(static_cast<typename D::saved_state*>(staged));
  if (d != nullptr && s) static_cast<D*>(d)->saved() = std::move(*s);
}

template <class D>
constexpr driver_hooks hooks_of() noexcept {
  driver_hooks h = driver_hooks::none;
  if constexpr (!std::is_trivially_destructible_v<D>) h = h | driver_hooks::destructor;
  if constexpr (hook_on_power_on<D>) h = h | driver_hooks::power_on;
  if constexpr (hook_on_reset<D>) h = h | driver_hooks::reset;
  if constexpr (hook_on_suspend<D>) h = h | driver_hooks::suspend;
  if constexpr (hook_on_resume<D>) h = h | driver_hooks::resume;
  if constexpr (hook_on_power_off<D>) h = h | driver_hooks::power_off;
  if constexpr (hook_on_detach_below<D>) h = h | driver_hooks::detach_below;
  if constexpr (hook_on_attach_below<D>) h = h | driver_hooks::attach_below;
  if constexpr (has_saved_state<D>) h = h | driver_hooks::saved_state;
  if constexpr (has_config_type<D>) h = h | driver_hooks::config;
  if constexpr (hook_probe<D>) h = h | driver_hooks::probe;
  return h;
}

template <class D>
constexpr driver_descriptor make_descriptor() noexcept {
  driver_descriptor d{
      .version = descriptor_version,
      .name = D::traits.name,
      .description = D::traits.description,
      .class_mask = D::traits.class_mask,
      .max_instances = D::traits.max_instances,
      .size = sizeof(D),
      .alignment = alignof(D),
      .provides = interface_refs_for<provides_t<D>>::value,
      .needs_below = interface_refs_for<needs_below_t<D>>::value,
      .needs_above = interface_refs_for<needs_above_t<D>>::value,
      .hooks = hooks_of<D>(),
      .construct = &construct_driver<D>,
      .resolve = &resolve_driver<D>,
  };
  if constexpr (has_config_type<D>) {
    // Defined in pdm/config/binding.hpp, which describing the config struct needs anyway.
    d.bind_config = &bind_config_erased<typename D::config_type>;
  }
  if constexpr (std::is_trivially_destructible_v<D>) {
    d.destroy = &destroy_trivial;
  } else {
    d.destroy = &destroy_driver<D>;
  }
  if constexpr (hook_on_power_on<D>) d.on_power_on = &call_power_on<D>;
  if constexpr (hook_on_reset<D>) d.on_reset = &call_reset<D>;
  if constexpr (hook_on_suspend<D>) d.on_suspend = &call_suspend<D>;
  if constexpr (hook_on_resume<D>) d.on_resume = &call_resume<D>;
  if constexpr (hook_on_power_off<D>) d.on_power_off = &call_power_off<D>;
  if constexpr (hook_on_detach_below<D>) d.on_detach_below = &call_detach_below<D>;
  if constexpr (hook_on_attach_below<D>) d.on_attach_below = &call_attach_below<D>;
  if constexpr (hook_probe<D>) d.probe = &call_probe<D>;
  if constexpr (has_saved_state<D>) {
    d.saved_state_version = D::saved_state_version;
    d.save_state = &save_saved_state<D>;
    d.stage_state = &stage_saved_state<D>;
    d.finish_state = &finish_saved_state<D>;
  }
  return d;
}

}  // namespace detail

/// \brief The descriptor of driver D, a constant with static storage duration.
///
/// D must satisfy pdm::driver; use check_driver<D>() first for readable diagnostics.
template <driver D>
inline constexpr driver_descriptor descriptor_of = detail::make_descriptor<D>();

/// \brief Checks a descriptor against the driver rules at run time (for dynamic registration).
///
/// Returns errc::unknown_registration_version for a layout mismatch and errc::invalid_registration
/// with a sentence naming the rule for anything else; the error names the driver where it can.
[[nodiscard]] inline status validate_descriptor(const driver_descriptor& d) {
  auto fail = [&d](errc code, std::string why) -> status {
    error e(code, std::move(why));
    if (detail::check_driver_name(d.name) == detail::driver_name_problem::none) e.driver(d.name);
    return e;
  };
  if (d.version != descriptor_version || d.version_end != descriptor_version) {
    return fail(errc::unknown_registration_version, "descriptor version " + std::to_string(d.version) + "/" +
                                                        std::to_string(d.version_end) + ", expected " +
                                                        std::to_string(descriptor_version));
  }
  switch (detail::check_driver_name(d.name)) {
    case detail::driver_name_problem::none:
      break;
    case detail::driver_name_problem::empty:
      return fail(errc::invalid_registration, "the name is empty");
    case detail::driver_name_problem::too_long:
      return fail(errc::invalid_registration,
                  "the name '" + std::string(d.name.substr(0, 64)) + "' is longer than 31 characters");
    case detail::driver_name_problem::bad_character:
      return fail(errc::invalid_registration,
                  "the name '" + std::string(d.name) + "' may contain only letters, digits, '_', ' ' and '-'");
  }
  if (d.description.empty()) return fail(errc::invalid_registration, "the description is empty");
  if (!detail::is_known_class_mask(d.class_mask)) {
    return fail(errc::invalid_registration, "the class mask must set at least one known driver_class bit and no other");
  }
  if (d.max_instances == 0) return fail(errc::invalid_registration, "max_instances is zero");
  if (d.size == 0 || d.size > max_driver_size) {
    return fail(errc::invalid_registration,
                "the instance size " + std::to_string(d.size) + " is not within 1 byte .. 1 MiB");
  }
  if (d.alignment == 0 || !std::has_single_bit(d.alignment) || d.alignment > max_driver_alignment) {
    return fail(errc::invalid_registration,
                "the alignment " + std::to_string(d.alignment) + " is not a power of two up to 4096");
  }
  if (d.construct == nullptr) return fail(errc::invalid_registration, "there is no constructor");
  if (d.destroy == nullptr) return fail(errc::invalid_registration, "there is no destroy function");
  if (d.resolve == nullptr) return fail(errc::invalid_registration, "there is no resolve function");
  if ((static_cast<std::uint32_t>(d.hooks) & ~((1U << 11) - 1)) != 0) {
    return fail(errc::invalid_registration, "the hook mask has unknown bits");
  }
  const std::pair<driver_hooks, bool> hook_fns[] = {
      {driver_hooks::power_on, d.on_power_on != nullptr},
      {driver_hooks::reset, d.on_reset != nullptr},
      {driver_hooks::suspend, d.on_suspend != nullptr},
      {driver_hooks::resume, d.on_resume != nullptr},
      {driver_hooks::power_off, d.on_power_off != nullptr},
      {driver_hooks::detach_below, d.on_detach_below != nullptr},
      {driver_hooks::attach_below, d.on_attach_below != nullptr},
      {driver_hooks::config, d.bind_config != nullptr},
      {driver_hooks::probe, d.probe != nullptr},
      {driver_hooks::saved_state,
       d.save_state != nullptr && d.stage_state != nullptr && d.finish_state != nullptr && d.saved_state_version != 0},
  };
  for (const auto& [hook, present] : hook_fns) {
    if (has_hook(d.hooks, hook) != present) {
      return fail(errc::invalid_registration, "the hook mask and the hook functions disagree");
    }
  }
  auto check_refs = [&](std::span<const interface_ref> refs, const char* what) -> status {
    std::unordered_set<std::uint64_t> seen;
    for (const interface_ref& r : refs) {
      if (r.id.empty()) return fail(errc::invalid_registration, std::string(what) + " has an empty interface id");
      if (r.key != hash_string(r.id)) {
        return fail(errc::invalid_registration,
                    std::string(what) + " has a wrong key for interface '" + std::string(r.id) + "'");
      }
      if (!seen.insert(r.key).second) {
        return fail(errc::invalid_registration,
                    std::string(what) + " lists interface '" + std::string(r.id) + "' twice");
      }
    }
    return ok();
  };
  if (status s = check_refs(d.provides, "provides"); !s) return s;
  if (status s = check_refs(d.needs_below, "needs_below"); !s) return s;
  if (status s = check_refs(d.needs_above, "needs_above"); !s) return s;
  return ok();
}

}  // namespace pdm
