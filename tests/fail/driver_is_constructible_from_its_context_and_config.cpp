// Breaks pdm::rule::driver_is_constructible_from_its_context_and_config: no constructor from driver_context&.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver needs a constructor D\(pdm::driver_context&\), or D\(pdm::driver_context&, const config_type&\) when it declares a config_type
// EXPECT-GCC: pdm::rule::driver_is_constructible_from_its_context_and_config<driver_without_context_constructor>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_is_constructible_from_its_context_and_config<driver_without_context_constructor>' "pdm: a driver needs a constructor D\(pdm::driver_context&\), or D\(pdm::driver_context&, const config_type&\) when it declares a config_type"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_without_context_constructor {
  static constexpr pdm::driver_traits traits{
      .name = "NoContextCtor", .description = "A driver built from an int", .class_mask = pdm::driver_class::media};
  explicit driver_without_context_constructor(int /*unit*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_without_context_constructor>::size;
