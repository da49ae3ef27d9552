// Breaks pdm::rule::driver_provides_is_an_interface_list_of_interfaces: `provides` holds int.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's `provides` must be a pdm::interface_list of interfaces \(classes with a non-empty constexpr interface_id\)
// EXPECT-GCC: pdm::rule::driver_provides_is_an_interface_list_of_interfaces<driver_providing_int>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_provides_is_an_interface_list_of_interfaces<driver_providing_int>' "pdm: a driver's `provides` must be a pdm::interface_list of interfaces \(classes with a non-empty constexpr interface_id\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_providing_int {
  static constexpr pdm::driver_traits traits{
      .name = "ProvidesInt", .description = "Provides a non-interface", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<int>;
  explicit driver_providing_int(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_providing_int>::size;
