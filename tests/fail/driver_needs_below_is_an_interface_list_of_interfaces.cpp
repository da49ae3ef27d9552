// Breaks pdm::rule::driver_needs_below_is_an_interface_list_of_interfaces: `needs_below` holds int.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's `needs_below` must be a pdm::interface_list of interfaces \(classes with a non-empty constexpr interface_id\)
// EXPECT-GCC: pdm::rule::driver_needs_below_is_an_interface_list_of_interfaces<driver_needing_int_below>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_needs_below_is_an_interface_list_of_interfaces<driver_needing_int_below>' "pdm: a driver's `needs_below` must be a pdm::interface_list of interfaces \(classes with a non-empty constexpr interface_id\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_needing_int_below {
  static constexpr pdm::driver_traits traits{
      .name = "NeedsInt", .description = "Needs a non-interface below", .class_mask = pdm::driver_class::block};
  using needs_below = pdm::interface_list<int>;
  explicit driver_needing_int_below(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_needing_int_below>::size;
