// Breaks pdm::rule::driver_provides_is_an_interface_list_of_interfaces: a provided class has no interface_id.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's `provides` must be a pdm::interface_list of interfaces \(classes with a non-empty constexpr interface_id\)
// EXPECT-GCC: pdm::rule::driver_provides_is_an_interface_list_of_interfaces<driver_providing_a_plain_class>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_provides_is_an_interface_list_of_interfaces<driver_providing_a_plain_class>' "pdm: a driver's `provides` must be a pdm::interface_list of interfaces \(classes with a non-empty constexpr interface_id\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct not_an_interface {
  virtual void read() = 0;
};

struct driver_providing_a_plain_class : not_an_interface {
  static constexpr pdm::driver_traits traits{
      .name = "ProvidesPlain", .description = "Provides a class without id", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<not_an_interface>;
  explicit driver_providing_a_plain_class(pdm::driver_context& /*ctx*/) {}
  void read() override {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_providing_a_plain_class>::size;
