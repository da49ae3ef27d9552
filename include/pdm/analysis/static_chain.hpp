// pdm/analysis/static_chain.hpp - compile-time check of a declared driver stack.
//
// A stack is a device port followed by drivers from top to bottom, for example
//
//     using disk = pdm::static_chain<pdm::device_port<pdm::interface_list<media_port>,
//                                                     pdm::interface_list<block>>,
//                                    block_driver, vd_driver, raw_file>;
//     static_assert(disk::valid);
//
// Each element must provide what the element below it needs from above (needs_above), and
// the element below must provide everything the element above needs from below (needs_below);
// the bottom driver must need nothing from below. A broken link fails to compile with the rule
// `pdm::rule::lower_provides_what_upper_needs<Upper, Lower, Interface>`, which names both
// neighbours and the missing interface. Stacks of a typelist cost nothing at run time.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "pdm/driver/driver.hpp"
#include "pdm/driver/interface.hpp"

namespace pdm {

/// \brief The top of a stack: a device LUN's port, what it offers and what it needs below.
template <class Provides = interface_list<>, class NeedsBelow = interface_list<>>
struct device_port {
  using provides = Provides;
  using needs_below = NeedsBelow;
};

namespace rule {
/// \brief True when Lower provides interface I, which Upper needs from below.
template <class Upper, class Lower, class I>
inline constexpr bool lower_provides_what_upper_needs = provides_v<Lower, I>;
/// \brief True when Upper provides interface I, which Lower needs from above.
template <class Upper, class Lower, class I>
inline constexpr bool upper_provides_what_lower_needs = provides_v<Upper, I>;
/// \brief True when the bottom driver of a stack needs nothing from below (I is what it needs).
template <class Bottom, class I>
inline constexpr bool bottom_driver_needs_nothing_below = false;
/// \brief True when a static_chain has at least one driver below its device port.
template <class Port, class... Drivers>
inline constexpr bool static_chain_has_at_least_one_driver = sizeof...(Drivers) > 0;
}  // namespace rule

namespace detail {

template <class Upper, class Lower, class I>
struct needs_below_check {
  static_assert(rule::lower_provides_what_upper_needs<Upper, Lower, I>,
                "pdm: broken static chain: the driver below (Lower) does not provide an interface (I) that the "
                "driver or device port above it (Upper) needs from below");
};
template <class Upper, class Lower, class I>
struct needs_above_check {
  static_assert(rule::upper_provides_what_lower_needs<Upper, Lower, I>,
                "pdm: broken static chain: the driver or device port above (Upper) does not provide an "
                "interface (I) that the driver below it (Lower) needs from above");
};
template <class Bottom, class I>
struct bottom_check {
  static_assert(rule::bottom_driver_needs_nothing_below<Bottom, I>,
                "pdm: broken static chain: the bottom driver (Bottom) needs an interface (I) from below, but "
                "nothing is attached below it");
};

// Each fires its check outside any constant expression (see detail::diagnose_driver).
template <class Upper, class Lower, class I>
void diagnose_needs_below() noexcept {
  (void)sizeof(needs_below_check<Upper, Lower, I>);
}
template <class Upper, class Lower, class I>
void diagnose_needs_above() noexcept {
  (void)sizeof(needs_above_check<Upper, Lower, I>);
}
template <class Bottom, class I>
void diagnose_bottom() noexcept {
  (void)sizeof(bottom_check<Bottom, I>);
}

template <class I, class List>
constexpr bool in_list() noexcept {
  return list_contains_v<List, I>;
}

template <class Upper, class Lower, class I>
constexpr bool check_needs_below() noexcept {
  if constexpr (in_list<I, provides_t<Lower>>()) {
    return true;
  } else {
    (void)&diagnose_needs_below<Upper, Lower, I>;
    return false;
  }
}
template <class Upper, class Lower, class I>
constexpr bool check_needs_above() noexcept {
  if constexpr (in_list<I, provides_t<Upper>>()) {
    return true;
  } else {
    (void)&diagnose_needs_above<Upper, Lower, I>;
    return false;
  }
}

template <class Upper, class Lower, class NeedsBelow, class NeedsAbove>
struct link_checker;
template <class Upper, class Lower, class... Below, class... Above>
struct link_checker<Upper, Lower, interface_list<Below...>, interface_list<Above...>> {
  static constexpr bool ok = (true && ... && check_needs_below<Upper, Lower, Below>()) &&
                             (true && ... && check_needs_above<Upper, Lower, Above>());
};

template <class Upper, class Lower>
constexpr bool check_link() noexcept {
  return link_checker<Upper, Lower, needs_below_t<Upper>, needs_above_t<Lower>>::ok;
}

template <class Bottom, class Needs>
struct bottom_checker;
template <class Bottom, class... Is>
struct bottom_checker<Bottom, interface_list<Is...>> {
  static constexpr bool ok = [] {
    ((void)&diagnose_bottom<Bottom, Is>, ...);
    return sizeof...(Is) == 0;
  }();
};

template <class... Elements>
struct chain_checker {
  using tuple = std::tuple<Elements...>;
  template <std::size_t... Is>
  static constexpr bool links(std::index_sequence<Is...>) noexcept {
    return (true && ... && check_link<std::tuple_element_t<Is, tuple>, std::tuple_element_t<Is + 1, tuple>>());
  }
  static constexpr bool ok = links(std::make_index_sequence<sizeof...(Elements) - 1>{}) &&
                             bottom_checker<std::tuple_element_t<sizeof...(Elements) - 1, tuple>,
                                            needs_below_t<std::tuple_element_t<sizeof...(Elements) - 1, tuple>>>::ok;
};

// Links are checked only between valid drivers, so a broken driver gives its own rule's error
// and nothing else.
template <class Port, class... Drivers>
constexpr bool check_chain() noexcept {
  if constexpr (sizeof...(Drivers) > 0 && (check_driver<Drivers>() && ...)) {
    return chain_checker<Port, Drivers...>::ok;
  } else {
    return false;
  }
}

}  // namespace detail

/// \brief A device port and drivers, top to bottom, checked link by link at compile time.
template <class Port, class... Drivers>
struct static_chain {
  static_assert(rule::static_chain_has_at_least_one_driver<Port, Drivers...>,
                "pdm: a static_chain needs at least one driver below the device port");
  /// \brief True when every driver and link is well formed (a broken one does not compile at all).
  static constexpr bool valid = detail::check_chain<Port, Drivers...>();
  /// \brief The number of drivers below the port.
  static constexpr std::size_t depth = sizeof...(Drivers);
};

}  // namespace pdm
