// Breaks pdm::rule::driver_saved_state_is_an_aggregate_with_a_version_above_zero: saved_state is not an aggregate.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's saved_state must be an aggregate, declared with `static constexpr std::uint32_t saved_state_version` above zero
// EXPECT-GCC: pdm::rule::driver_saved_state_is_an_aggregate_with_a_version_above_zero<driver_with_non_aggregate_state>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_saved_state_is_an_aggregate_with_a_version_above_zero<driver_with_non_aggregate_state>' "pdm: a driver's saved_state must be an aggregate, declared with `static constexpr std::uint32_t saved_state_version` above zero"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

#include <cstdint>

struct driver_with_non_aggregate_state {
  static constexpr pdm::driver_traits traits{
      .name = "ClassState", .description = "State with a constructor", .class_mask = pdm::driver_class::media};
  class saved_state {
   public:
    explicit saved_state(int position) : position_(position) {}

   private:
    int position_;
  };
  static constexpr std::uint32_t saved_state_version = 1;
  explicit driver_with_non_aggregate_state(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_non_aggregate_state>::size;
