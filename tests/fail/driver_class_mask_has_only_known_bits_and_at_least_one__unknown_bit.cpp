// Breaks pdm::rule::driver_class_mask_has_only_known_bits_and_at_least_one: class_mask has an unknown bit.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's traits\.class_mask must set at least one pdm::driver_class bit and no unknown bits
// EXPECT-GCC: pdm::rule::driver_class_mask_has_only_known_bits_and_at_least_one<driver_with_unknown_class_bit>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_class_mask_has_only_known_bits_and_at_least_one<driver_with_unknown_class_bit>' "pdm: a driver's traits\.class_mask must set at least one pdm::driver_class bit and no unknown bits"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_with_unknown_class_bit {
  static constexpr pdm::driver_traits traits{
      .name = "UnknownClassBit",
      .description = "A media driver with an undefined class bit",
      .class_mask = pdm::driver_class::media | static_cast<pdm::driver_class>(1U << 30)};
  explicit driver_with_unknown_class_bit(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_unknown_class_bit>::size;
