// Breaks pdm::rule::driver_has_static_constexpr_traits: `traits` is static but not constexpr.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver must declare `static constexpr pdm::driver_traits traits{\.\.\.}`
// EXPECT-GCC: pdm::rule::driver_has_static_constexpr_traits<driver_with_runtime_traits>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_has_static_constexpr_traits<driver_with_runtime_traits>' "pdm: a driver must declare `static constexpr pdm::driver_traits traits{\.\.\.}`"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_with_runtime_traits {
  static inline const pdm::driver_traits traits{
      .name = "RuntimeTraits", .description = "Traits known only at run time", .class_mask = pdm::driver_class::media};
  explicit driver_with_runtime_traits(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_runtime_traits>::size;
