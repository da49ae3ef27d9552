// Breaks pdm::rule::driver_provides_is_an_interface_list_of_interfaces: `provides` is an interface, not a list.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's `provides` must be a pdm::interface_list of interfaces \(classes with a non-empty constexpr interface_id\)
// EXPECT-GCC: pdm::rule::driver_provides_is_an_interface_list_of_interfaces<driver_providing_a_bare_interface>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_provides_is_an_interface_list_of_interfaces<driver_providing_a_bare_interface>' "pdm: a driver's `provides` must be a pdm::interface_list of interfaces \(classes with a non-empty constexpr interface_id\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

#include <string_view>

struct media {
  static constexpr std::string_view interface_id = "test.media/1";
};

struct driver_providing_a_bare_interface : media {
  static constexpr pdm::driver_traits traits{
      .name = "BareProvides", .description = "provides without a list", .class_mask = pdm::driver_class::media};
  using provides = media;
  explicit driver_providing_a_bare_interface(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_providing_a_bare_interface>::size;
