// Breaks pdm::rule::driver_name_is_not_empty: traits.name is "".
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's traits\.name must not be empty
// EXPECT-GCC: pdm::rule::driver_name_is_not_empty<driver_with_empty_name>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_name_is_not_empty<driver_with_empty_name>' "pdm: a driver's traits\.name must not be empty"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_with_empty_name {
  static constexpr pdm::driver_traits traits{
      .name = "", .description = "A driver without a name", .class_mask = pdm::driver_class::media};
  explicit driver_with_empty_name(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_empty_name>::size;
