// Breaks pdm::rule::driver_saved_state_is_reachable_through_saved: no saved() accessor.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver with a saved_state needs a member function `saved_state& saved\(\)` returning the state pdm saves and loads
// EXPECT-GCC: pdm::rule::driver_saved_state_is_reachable_through_saved<driver_without_saved_accessor>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_saved_state_is_reachable_through_saved<driver_without_saved_accessor>' "pdm: a driver with a saved_state needs a member function `saved_state& saved\(\)` returning the state pdm saves and loads"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

#include <cstdint>

struct driver_without_saved_accessor {
  static constexpr pdm::driver_traits traits{
      .name = "NoAccessor", .description = "State without saved()", .class_mask = pdm::driver_class::media};
  struct saved_state {
    int position = 0;
  };
  static constexpr std::uint32_t saved_state_version = 1;
  explicit driver_without_saved_accessor(pdm::driver_context& /*ctx*/) {}
  saved_state state;  // a member, but pdm reaches the state only through saved()
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_without_saved_accessor>::size;
