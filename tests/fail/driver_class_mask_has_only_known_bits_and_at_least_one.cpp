// Breaks pdm::rule::driver_class_mask_has_only_known_bits_and_at_least_one: class_mask is none.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's traits\.class_mask must set at least one pdm::driver_class bit and no unknown bits
// EXPECT-GCC: pdm::rule::driver_class_mask_has_only_known_bits_and_at_least_one<driver_without_class>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_class_mask_has_only_known_bits_and_at_least_one<driver_without_class>' "pdm: a driver's traits\.class_mask must set at least one pdm::driver_class bit and no unknown bits"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_without_class {
  static constexpr pdm::driver_traits traits{
      .name = "NoClass", .description = "A driver that belongs to no class", .class_mask = pdm::driver_class::none};
  explicit driver_without_class(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_without_class>::size;
