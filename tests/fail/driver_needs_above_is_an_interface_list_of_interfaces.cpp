// Breaks pdm::rule::driver_needs_above_is_an_interface_list_of_interfaces: a needed class has an empty id.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's `needs_above` must be a pdm::interface_list of interfaces \(classes with a non-empty constexpr interface_id\)
// EXPECT-GCC: pdm::rule::driver_needs_above_is_an_interface_list_of_interfaces<driver_needing_an_unnamed_port>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_needs_above_is_an_interface_list_of_interfaces<driver_needing_an_unnamed_port>' "pdm: a driver's `needs_above` must be a pdm::interface_list of interfaces \(classes with a non-empty constexpr interface_id\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

#include <string_view>

struct port_with_empty_id {
  static constexpr std::string_view interface_id = "";
};

struct driver_needing_an_unnamed_port {
  static constexpr pdm::driver_traits traits{
      .name = "NeedsUnnamed", .description = "Needs an interface without id", .class_mask = pdm::driver_class::block};
  using needs_above = pdm::interface_list<port_with_empty_id>;
  explicit driver_needing_an_unnamed_port(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_needing_an_unnamed_port>::size;
