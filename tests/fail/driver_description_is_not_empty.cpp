// Breaks pdm::rule::driver_description_is_not_empty: traits.description is "".
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's traits\.description must not be empty
// EXPECT-GCC: pdm::rule::driver_description_is_not_empty<driver_without_description>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_description_is_not_empty<driver_without_description>' "pdm: a driver's traits\.description must not be empty"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_without_description {
  static constexpr pdm::driver_traits traits{
      .name = "NoDescription", .description = "", .class_mask = pdm::driver_class::media};
  explicit driver_without_description(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_without_description>::size;
