// Breaks pdm::rule::driver_is_a_non_const_class: a const-qualified class is not a driver.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver must be a non-const, non-volatile class type
// EXPECT-GCC: pdm::rule::driver_is_a_non_const_class<const const_listed_driver>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_is_a_non_const_class<const const_listed_driver>' "pdm: a driver must be a non-const, non-volatile class type"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct const_listed_driver {
  static constexpr pdm::driver_traits traits{
      .name = "ConstListed", .description = "Listed as const", .class_mask = pdm::driver_class::media};
  explicit const_listed_driver(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<const const_listed_driver>::size;
