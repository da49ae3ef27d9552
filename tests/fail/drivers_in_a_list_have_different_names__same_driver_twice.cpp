// Breaks pdm::rule::drivers_in_a_list_have_different_names: the same driver is listed twice.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: two drivers in a driver_list have the same traits\.name; names must be unique
// EXPECT-GCC: pdm::rule::drivers_in_a_list_have_different_names<driver_listed_twice, driver_listed_twice>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::drivers_in_a_list_have_different_names<driver_listed_twice, driver_listed_twice>' "pdm: two drivers in a driver_list have the same traits\.name; names must be unique"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_listed_twice {
  static constexpr pdm::driver_traits traits{
      .name = "Twice", .description = "Listed two times", .class_mask = pdm::driver_class::media};
  explicit driver_listed_twice(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_listed_twice, driver_listed_twice>::size;
