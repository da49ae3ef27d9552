// pdm/driver/driver.hpp - the driver concept: what makes a class a pdm driver.
//
// A driver is an ordinary class:
//
//     class raw_file final : public media {
//      public:
//       static constexpr pdm::driver_traits traits{
//           .name = "RawFile", .description = "Raw disk image file",
//           .class_mask = pdm::driver_class::media, .max_instances = 64};
//       using provides = pdm::interface_list<media>;    // offered to the driver above
//       using needs_below = pdm::interface_list<>;      // required from the driver below
//       explicit raw_file(pdm::driver_context& ctx);
//     };
//
// Each rule is a named predicate in pdm::rule, so a failed check prints the rule and the
// driver's type together ("'pdm::rule::driver_name_is_at_most_31_characters<raw_file>'
// evaluates to false"), followed by one sentence saying what to change. pdm::driver<D> is the
// silent form (a concept usable in overloads); check_driver<D>() is the loud form that fires one
// static_assert per broken rule and is what driver_list uses.
#pragma once

#include <boost/hana/concept/struct.hpp>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

#include "pdm/core/error.hpp"
#include "pdm/driver/context.hpp"
#include "pdm/driver/interface.hpp"
#include "pdm/driver/traits.hpp"
#include "pdm/services/state_codec.hpp"

namespace pdm {

namespace detail {

template <class D>
concept has_traits = requires {
  { D::traits } -> std::convertible_to<const driver_traits&>;
  // Forces traits to be a constant expression.
  typename std::integral_constant<std::uint32_t, D::traits.max_instances>;
};

template <class D>
constexpr driver_traits traits_of() noexcept {
  if constexpr (has_traits<D>) {
    return D::traits;
  } else {
    return {};
  }
}

// The optional member type lists; absent means empty.
template <class D>
struct provides_of {
  using type = interface_list<>;
};
template <class D>
requires requires { typename D::provides; }
struct provides_of<D> {
  using type = typename D::provides;
};
template <class D>
struct needs_below_of {
  using type = interface_list<>;
};
template <class D>
requires requires { typename D::needs_below; }
struct needs_below_of<D> {
  using type = typename D::needs_below;
};
template <class D>
struct needs_above_of {
  using type = interface_list<>;
};
template <class D>
requires requires { typename D::needs_above; }
struct needs_above_of<D> {
  using type = typename D::needs_above;
};

template <class List>
struct all_interfaces : std::false_type {};
template <class... Is>
struct all_interfaces<interface_list<Is...>> : std::bool_constant<(interface<Is> && ...)> {};

template <class I, class... Is>
constexpr int count_of() noexcept {
  return (0 + ... + int(std::is_same_v<I, Is>));
}
template <class List>
struct no_duplicates : std::true_type {};
template <class... Is>
struct no_duplicates<interface_list<Is...>> : std::bool_constant<((count_of<Is, Is...>() == 1) && ...)> {};

template <class D, class List>
struct implements_all : std::false_type {};
template <class D, class... Is>
struct implements_all<D, interface_list<Is...>> : std::bool_constant<(std::is_convertible_v<D*, Is*> && ...)> {};

template <class D>
concept has_config_type = requires {
  typename D::config_type;
};

template <class D>
constexpr bool usable_constructor() noexcept {
  if constexpr (has_config_type<D>) {
    // An rvalue: the constructor may take the config by const&, by value (and move from it) or by &&.
    return std::is_constructible_v<D, driver_context&, typename D::config_type&&>;
  } else {
    return std::is_constructible_v<D, driver_context&>;
  }
}

// Optional hooks. A hook counts as declared when its name is a (non-overloaded) member;
// a declared hook must then be callable with the documented signature.
template <class D>
concept declares_on_power_on = requires {
  &D::on_power_on;
};
template <class D>
concept declares_on_reset = requires {
  &D::on_reset;
};
template <class D>
concept declares_on_suspend = requires {
  &D::on_suspend;
};
template <class D>
concept declares_on_resume = requires {
  &D::on_resume;
};
template <class D>
concept declares_on_power_off = requires {
  &D::on_power_off;
};
template <class D>
concept declares_on_detach_below = requires {
  &D::on_detach_below;
};
template <class D>
concept declares_on_attach_below = requires {
  &D::on_attach_below;
};

template <class D>
concept declares_probe = requires {
  &D::probe;
};
template <class D>
concept hook_probe = requires(std::span<const std::byte> head, std::string_view file) {
  { D::probe(head, file) } -> std::convertible_to<int>;
};

template <class D>
concept hook_on_power_on = requires(D& d) {
  { d.on_power_on() } -> std::same_as<void>;
};
template <class D>
concept hook_on_reset = requires(D& d) {
  { d.on_reset() } -> std::same_as<void>;
};
template <class D>
concept hook_on_suspend = requires(D& d) {
  { d.on_suspend() } -> std::same_as<void>;
};
template <class D>
concept hook_on_resume = requires(D& d) {
  { d.on_resume() } -> std::same_as<void>;
};
template <class D>
concept hook_on_power_off = requires(D& d) {
  { d.on_power_off() } -> std::same_as<void>;
};
template <class D>
concept hook_on_detach_below = requires(D& d, attach_flags f) {
  { d.on_detach_below(f) } -> std::same_as<void>;
};
template <class D>
concept hook_on_attach_below = requires(D& d, attach_flags f) {
  { d.on_attach_below(f) } -> std::same_as<status>;
};

template <class D>
concept has_saved_state = requires {
  typename D::saved_state;
};
template <class D>
concept has_saved_state_version = requires {
  { D::saved_state_version } -> std::convertible_to<std::uint32_t>;
  typename std::integral_constant<std::uint32_t, D::saved_state_version>;
};
// The automatic saved-state unit reaches the driver's state through saved().
template <class D>
concept has_saved_accessor = requires(D& d) {
  { d.saved() } -> std::same_as<typename D::saved_state&>;
};
template <class D>
concept declares_load_older_state = requires {
  &D::load_older_state;
};
template <class D>
concept hook_load_older_state = has_saved_state<D> && requires(D& d, state_reader& in, typename D::saved_state& out) {
  { d.load_older_state(in, out) } -> std::same_as<status>;
};

// The first field type in D's saved_state (depth-first) that pdm cannot save; void when every
// field can be saved, and also while D's saved_state breaks an earlier rule (not an aggregate,
// no version, no saved()), so that one mistake gives one error.
template <class D>
constexpr auto first_unsaveable_field_of() noexcept {
  if constexpr (has_saved_state<D> && has_saved_state_version<D> && has_saved_accessor<D>) {
    if constexpr (std::is_class_v<typename D::saved_state> && std::is_aggregate_v<typename D::saved_state>) {
      return std::type_identity<first_unsaveable_t<typename D::saved_state>>{};
    } else {
      return std::type_identity<void>{};
    }
  } else {
    return std::type_identity<void>{};
  }
}
template <class D>
using first_unsaveable_field_t = typename decltype(first_unsaveable_field_of<D>())::type;

}  // namespace detail

/// \brief The rules a driver must follow; each is true when the rule holds for D.
///
/// Their names are sentences on purpose: a compiler prints them with the driver's type when a
/// rule is broken.
namespace rule {

template <class D>
inline constexpr bool driver_is_a_non_const_class = std::is_class_v<D> && !std::is_const_v<D> && !std::is_volatile_v<D>;

template <class D>
inline constexpr bool driver_has_static_constexpr_traits = detail::has_traits<D>;

template <class D>
inline constexpr bool driver_name_is_not_empty = !detail::traits_of<D>().name.empty();

template <class D>
inline constexpr bool driver_name_is_at_most_31_characters =
    detail::traits_of<D>().name.size() <= max_driver_name_length;

template <class D>
inline constexpr bool driver_name_has_only_letters_digits_underscores_spaces_and_dashes =
    detail::check_driver_name(detail::traits_of<D>().name) != detail::driver_name_problem::bad_character;

template <class D>
inline constexpr bool driver_description_is_not_empty = !detail::traits_of<D>().description.empty();

template <class D>
inline constexpr bool driver_class_mask_has_only_known_bits_and_at_least_one =
    detail::is_known_class_mask(detail::traits_of<D>().class_mask);

template <class D>
inline constexpr bool driver_max_instances_is_not_zero = detail::traits_of<D>().max_instances > 0;

template <class D>
inline constexpr bool driver_size_is_at_most_1_MiB = sizeof(D) <= max_driver_size;

template <class D>
inline constexpr bool driver_alignment_is_at_most_4096 = alignof(D) <= max_driver_alignment;

template <class D>
inline constexpr bool driver_is_constructible_from_its_context_and_config = detail::usable_constructor<D>();

template <class D>
inline constexpr bool driver_destructor_is_noexcept = std::is_nothrow_destructible_v<D>;

template <class D>
inline constexpr bool driver_provides_is_an_interface_list_of_interfaces =
    detail::all_interfaces<typename detail::provides_of<D>::type>::value;

template <class D>
inline constexpr bool driver_needs_below_is_an_interface_list_of_interfaces =
    detail::all_interfaces<typename detail::needs_below_of<D>::type>::value;

template <class D>
inline constexpr bool driver_needs_above_is_an_interface_list_of_interfaces =
    detail::all_interfaces<typename detail::needs_above_of<D>::type>::value;

template <class D>
inline constexpr bool driver_lists_each_interface_once =
    detail::no_duplicates<typename detail::provides_of<D>::type>::value&&
        detail::no_duplicates<typename detail::needs_below_of<D>::type>::value&&
            detail::no_duplicates<typename detail::needs_above_of<D>::type>::value;

template <class D>
inline constexpr bool driver_derives_publicly_from_every_interface_it_provides =
    detail::implements_all<D, typename detail::provides_of<D>::type>::value;

template <class D>
inline constexpr bool driver_hooks_have_the_documented_signatures =
    (!detail::declares_on_power_on<D> || detail::hook_on_power_on<D>)&&(
        !detail::declares_on_reset<D> ||
        detail::hook_on_reset<D>)&&(!detail::declares_on_suspend<D> ||
                                    detail::hook_on_suspend<
                                        D>)&&(!detail::declares_on_resume<D> ||
                                              detail::hook_on_resume<
                                                  D>)&&(!detail::declares_on_power_off<D> ||
                                                        detail::hook_on_power_off<
                                                            D>)&&(!detail::declares_on_detach_below<D> ||
                                                                  detail::hook_on_detach_below<
                                                                      D>)&&(!detail::declares_on_attach_below<D> ||
                                                                            detail::hook_on_attach_below<
                                                                                D>)&&(!detail::declares_probe<D> ||
                                                                                      detail::hook_probe<D>);

template <class D>
inline constexpr bool driver_config_type_is_a_struct_described_with_boost_hana = [] {
  if constexpr (detail::has_config_type<D>) {
    return boost::hana::Struct<typename D::config_type>::value;
  } else {
    return true;
  }
}();

template <class D>
inline constexpr bool driver_saved_state_is_an_aggregate_with_a_version_above_zero = [] {
  if constexpr (detail::has_saved_state<D>) {
    if constexpr (detail::has_saved_state_version<D>) {
      return std::is_aggregate_v<typename D::saved_state> && D::saved_state_version > 0;
    } else {
      return false;
    }
  } else {
    return true;
  }
}();

/// \brief A driver with a saved_state has `saved_state& saved()`, what the automatic unit saves
/// and loads.
template <class D>
inline constexpr bool driver_saved_state_is_reachable_through_saved = [] {
  // Checked once the saved_state itself is right, so one mistake gives one error.
  if constexpr (detail::has_saved_state<D> && driver_saved_state_is_an_aggregate_with_a_version_above_zero<D>) {
    return detail::has_saved_accessor<D>;
  } else {
    return true;
  }
}();

/// \brief Field, the first field type of D's saved_state that pdm cannot save (void if none),
/// is void: every field can be saved. Checked as
/// driver_saved_state_field_can_be_saved<D, detail::first_unsaveable_field_t<D>>, so that the
/// diagnostic names the driver and the field's type.
template <class D, class Field>
inline constexpr bool driver_saved_state_field_can_be_saved = std::is_void_v<Field>;

/// \brief A declared load_older_state is `pdm::status load_older_state(pdm::state_reader&,
/// saved_state&)`, in a driver with a saved_state.
template <class D>
inline constexpr bool driver_load_older_state_has_the_documented_signature =
    !detail::declares_load_older_state<D> || detail::hook_load_older_state<D>;

}  // namespace rule

namespace detail {

// Rules that need D to be a class with traits and well-formed lists; checked only once
// those hold, so a missing traits member gives one error instead of ten.
template <class D>
constexpr bool structural_rules_hold() noexcept {
  return rule::driver_is_a_non_const_class<D> && rule::driver_has_static_constexpr_traits<D> &&
         rule::driver_provides_is_an_interface_list_of_interfaces<D> &&
         rule::driver_needs_below_is_an_interface_list_of_interfaces<D> &&
         rule::driver_needs_above_is_an_interface_list_of_interfaces<D>;
}

template <class D>
constexpr bool value_rules_hold() noexcept {
  return rule::driver_name_is_not_empty<D> && rule::driver_name_is_at_most_31_characters<D> &&
         rule::driver_name_has_only_letters_digits_underscores_spaces_and_dashes<D> &&
         rule::driver_description_is_not_empty<D> && rule::driver_class_mask_has_only_known_bits_and_at_least_one<D> &&
         rule::driver_max_instances_is_not_zero<D> && rule::driver_size_is_at_most_1_MiB<D> &&
         rule::driver_alignment_is_at_most_4096<D> && rule::driver_is_constructible_from_its_context_and_config<D> &&
         rule::driver_destructor_is_noexcept<D> && rule::driver_lists_each_interface_once<D> &&
         rule::driver_derives_publicly_from_every_interface_it_provides<D> &&
         rule::driver_hooks_have_the_documented_signatures<D> &&
         rule::driver_saved_state_is_an_aggregate_with_a_version_above_zero<D> &&
         rule::driver_saved_state_is_reachable_through_saved<D> &&
         rule::driver_saved_state_field_can_be_saved<D, detail::first_unsaveable_field_t<D>> &&
         rule::driver_load_older_state_has_the_documented_signature<D> &&
         rule::driver_config_type_is_a_struct_described_with_boost_hana<D>;
}

template <class D>
struct class_checks {
  static_assert(rule::driver_is_a_non_const_class<D>, "pdm: a driver must be a non-const, non-volatile class type");
};

// Checked once D is a class, so a non-class driver gives one error instead of two.
template <class D>
struct structural_checks {
  static_assert(rule::driver_has_static_constexpr_traits<D>,
                "pdm: a driver must declare `static constexpr pdm::driver_traits traits{...}`");
  static_assert(rule::driver_provides_is_an_interface_list_of_interfaces<D>,
                "pdm: a driver's `provides` must be a pdm::interface_list of interfaces (classes with a "
                "non-empty constexpr interface_id)");
  static_assert(rule::driver_needs_below_is_an_interface_list_of_interfaces<D>,
                "pdm: a driver's `needs_below` must be a pdm::interface_list of interfaces (classes with a "
                "non-empty constexpr interface_id)");
  static_assert(rule::driver_needs_above_is_an_interface_list_of_interfaces<D>,
                "pdm: a driver's `needs_above` must be a pdm::interface_list of interfaces (classes with a "
                "non-empty constexpr interface_id)");
};

template <class D>
struct value_checks {
  static_assert(rule::driver_name_is_not_empty<D>, "pdm: a driver's traits.name must not be empty");
  static_assert(rule::driver_name_is_at_most_31_characters<D>,
                "pdm: a driver's traits.name must be at most 31 characters long");
  static_assert(rule::driver_name_has_only_letters_digits_underscores_spaces_and_dashes<D>,
                "pdm: a driver's traits.name may contain only letters, digits, '_', ' ' and '-'");
  static_assert(rule::driver_description_is_not_empty<D>, "pdm: a driver's traits.description must not be empty");
  static_assert(rule::driver_class_mask_has_only_known_bits_and_at_least_one<D>,
                "pdm: a driver's traits.class_mask must set at least one pdm::driver_class bit and no unknown bits");
  static_assert(rule::driver_max_instances_is_not_zero<D>, "pdm: a driver's traits.max_instances must be above zero");
  static_assert(rule::driver_size_is_at_most_1_MiB<D>,
                "pdm: a driver object must be at most 1 MiB (sizeof); keep large buffers on the heap");
  static_assert(rule::driver_alignment_is_at_most_4096<D>,
                "pdm: a driver object must be aligned to at most 4096 bytes (alignof)");
  static_assert(rule::driver_is_constructible_from_its_context_and_config<D>,
                "pdm: a driver needs a constructor D(pdm::driver_context&), or D(pdm::driver_context&, const "
                "config_type&) when it declares a config_type");
  static_assert(rule::driver_destructor_is_noexcept<D>, "pdm: a driver's destructor must not throw (noexcept)");
  static_assert(rule::driver_lists_each_interface_once<D>,
                "pdm: a driver lists an interface twice in provides, needs_below or needs_above");
  static_assert(rule::driver_derives_publicly_from_every_interface_it_provides<D>,
                "pdm: a driver claims to provide an interface it does not implement (it must derive publicly "
                "and unambiguously from every interface in `provides`)");
  static_assert(rule::driver_hooks_have_the_documented_signatures<D>,
                "pdm: a driver hook has the wrong signature; expected void on_power_on(), on_reset(), "
                "on_suspend(), on_resume(), on_power_off(), void on_detach_below(pdm::attach_flags), "
                "pdm::status on_attach_below(pdm::attach_flags) and static int probe(std::span<const std::byte>, "
                "std::string_view)");
  static_assert(rule::driver_config_type_is_a_struct_described_with_boost_hana<D>,
                "pdm: a driver's config_type must be a struct described with BOOST_HANA_ADAPT_STRUCT or "
                "BOOST_HANA_DEFINE_STRUCT (see pdm/config/binding.hpp)");
  static_assert(rule::driver_saved_state_is_an_aggregate_with_a_version_above_zero<D>,
                "pdm: a driver's saved_state must be an aggregate, declared with `static constexpr std::uint32_t "
                "saved_state_version` above zero");
  static_assert(rule::driver_saved_state_is_reachable_through_saved<D>,
                "pdm: a driver with a saved_state needs a member function `saved_state& saved()` returning the "
                "state pdm saves and loads");
  static_assert(rule::driver_saved_state_field_can_be_saved<D, detail::first_unsaveable_field_t<D>>,
                "pdm: a driver's saved_state has a field pdm cannot save (the second argument names its type); "
                "fields may be integers, bool, float, double, enums, std::array, std::string, std::vector and "
                "aggregates of these");
  static_assert(rule::driver_load_older_state_has_the_documented_signature<D>,
                "pdm: a driver's load_older_state must be `pdm::status load_older_state(pdm::state_reader&, "
                "saved_state&)`, in a driver with a saved_state");
};

// The checks to instantiate for D: the first group with a broken rule (or value_checks).
template <class D>
using checks_for =
    std::conditional_t<!rule::driver_is_a_non_const_class<D>, class_checks<D>,
                       std::conditional_t<!structural_rules_hold<D>(), structural_checks<D>, value_checks<D>>>;

// Instantiates D's checks, firing one static_assert per broken rule. It is never called and
// its address is never compared: the checks must not feed any constant, or clang reports
// every constant computed from a failed instantiation as a further error.
template <class D>
void diagnose_driver() noexcept {
  (void)sizeof(checks_for<D>);
}

}  // namespace detail

/// \brief True when D follows every driver rule; silent, so usable in overloads and requires.
template <class D>
concept driver = detail::structural_rules_hold<D>() && detail::value_rules_hold<D>();

/// \brief Checks D against every driver rule, with one static_assert message per broken rule.
///
/// Returns whether D is a valid driver, so it can gate further instantiation without the
/// caller repeating the diagnostics.
template <class D>
consteval bool check_driver() {
  (void)&detail::diagnose_driver<D>;
  return driver<D>;
}

/// \brief The interfaces D provides upward (an interface_list; empty if D declares none).
template <class D>
using provides_t = typename detail::provides_of<D>::type;
/// \brief The interfaces D needs from the driver below it.
template <class D>
using needs_below_t = typename detail::needs_below_of<D>::type;
/// \brief The interfaces D needs from whatever is above it (the device's port or a driver).
template <class D>
using needs_above_t = typename detail::needs_above_of<D>::type;

/// \brief True if driver D lists interface I in `provides`.
template <class D, class I>
inline constexpr bool provides_v = list_contains_v<provides_t<D>, I>;

/// \brief Interface I of a driver whose type is known: a derived-to-base conversion, no look-up.
///
/// It is a compile error to ask for an interface D does not list in `provides`. A const driver
/// gives a const interface.
template <interface I, class D>
[[nodiscard]] constexpr auto query_interface(D& driver) noexcept
    -> std::conditional_t<std::is_const_v<D>, const I&, I&> {
  static_assert(provides_v<std::remove_const_t<D>, I>,
                "pdm: query_interface<I>(driver): the driver does not list interface I in `provides`");
  using result = std::conditional_t<std::is_const_v<D>, const I&, I&>;
  if constexpr (provides_v<std::remove_const_t<D>, I>) {
    return static_cast<result>(driver);
  } else {
    return *static_cast<std::remove_reference_t<result>*>(nullptr);  // not reached: the static_assert failed
  }
}

}  // namespace pdm
