// Breaks pdm::rule::driver_name_is_at_most_31_characters: traits.name has 32 characters.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's traits\.name must be at most 31 characters long
// EXPECT-GCC: pdm::rule::driver_name_is_at_most_31_characters<driver_with_long_name>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_name_is_at_most_31_characters<driver_with_long_name>' "pdm: a driver's traits\.name must be at most 31 characters long"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_with_long_name {
  static constexpr pdm::driver_traits traits{.name = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",  // 32 characters
                                             .description = "A driver with a name one character too long",
                                             .class_mask = pdm::driver_class::media};
  explicit driver_with_long_name(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_long_name>::size;
