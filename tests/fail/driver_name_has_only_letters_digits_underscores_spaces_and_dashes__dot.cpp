// Breaks pdm::rule::driver_name_has_only_letters_digits_underscores_spaces_and_dashes: '.' in traits.name.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's traits\.name may contain only letters, digits, '_', ' ' and '-'
// EXPECT-GCC: pdm::rule::driver_name_has_only_letters_digits_underscores_spaces_and_dashes<driver_with_dot_in_name>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_name_has_only_letters_digits_underscores_spaces_and_dashes<driver_with_dot_in_name>' "pdm: a driver's traits\.name may contain only letters, digits, '_', ' ' and '-'"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_with_dot_in_name {
  static constexpr pdm::driver_traits traits{
      .name = "disk.raw", .description = "A driver with a dot in its name", .class_mask = pdm::driver_class::media};
  explicit driver_with_dot_in_name(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_dot_in_name>::size;
