// Breaks pdm::rule::driver_saved_state_field_can_be_saved: a std::map field.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's saved_state has a field pdm cannot save \(the second argument names its type\); fields may be integers, bool, float, double, enums, std::array, std::string, std::vector and aggregates of these
// EXPECT-GCC: pdm::rule::driver_saved_state_field_can_be_saved<driver_with_map_state, std::map<int, int> >[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_saved_state_field_can_be_saved<driver_with_map_state, std::map<int, int, std::less<int>, std::allocator<std::pair<const int, int>>>>' "pdm: a driver's saved_state has a field pdm cannot save
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

#include <cstdint>
#include <map>

struct driver_with_map_state {
  static constexpr pdm::driver_traits traits{
      .name = "MapState", .description = "State with a map", .class_mask = pdm::driver_class::media};
  struct saved_state {
    int position = 0;
    std::map<int, int> sectors;
  };
  static constexpr std::uint32_t saved_state_version = 1;
  explicit driver_with_map_state(pdm::driver_context& /*ctx*/) {}
  saved_state& saved() { return state_; }

 private:
  saved_state state_;
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_map_state>::size;
