// Breaks pdm::rule::driver_saved_state_is_an_aggregate_with_a_version_above_zero: no saved_state_version.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's saved_state must be an aggregate, declared with `static constexpr std::uint32_t saved_state_version` above zero
// EXPECT-GCC: pdm::rule::driver_saved_state_is_an_aggregate_with_a_version_above_zero<driver_with_unversioned_state>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_saved_state_is_an_aggregate_with_a_version_above_zero<driver_with_unversioned_state>' "pdm: a driver's saved_state must be an aggregate, declared with `static constexpr std::uint32_t saved_state_version` above zero"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_with_unversioned_state {
  static constexpr pdm::driver_traits traits{
      .name = "UnversionedState", .description = "State without version", .class_mask = pdm::driver_class::media};
  struct saved_state {
    int position = 0;
  };
  explicit driver_with_unversioned_state(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_unversioned_state>::size;
