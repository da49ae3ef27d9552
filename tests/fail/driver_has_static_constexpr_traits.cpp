// Breaks pdm::rule::driver_has_static_constexpr_traits: the driver has no `traits` member.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver must declare `static constexpr pdm::driver_traits traits{\.\.\.}`
// EXPECT-GCC: pdm::rule::driver_has_static_constexpr_traits<driver_without_traits>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_has_static_constexpr_traits<driver_without_traits>' "pdm: a driver must declare `static constexpr pdm::driver_traits traits{\.\.\.}`"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_without_traits {
  explicit driver_without_traits(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_without_traits>::size;
