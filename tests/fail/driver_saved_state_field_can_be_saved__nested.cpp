// Breaks pdm::rule::driver_saved_state_field_can_be_saved: a pointer inside a nested aggregate in a vector.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's saved_state has a field pdm cannot save
// EXPECT-GCC: pdm::rule::driver_saved_state_field_can_be_saved<driver_with_pointer_in_state, const char\*>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_saved_state_field_can_be_saved<driver_with_pointer_in_state, const char \*>' "pdm: a driver's saved_state has a field pdm cannot save
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

#include <cstdint>
#include <vector>

struct driver_with_pointer_in_state {
  static constexpr pdm::driver_traits traits{
      .name = "PointerState", .description = "State with a pointer", .class_mask = pdm::driver_class::media};
  struct request {
    std::uint64_t sector = 0;
    const char* label = nullptr;
  };
  struct saved_state {
    std::uint32_t count = 0;
    std::vector<request> pending;
  };
  static constexpr std::uint32_t saved_state_version = 1;
  explicit driver_with_pointer_in_state(pdm::driver_context& /*ctx*/) {}
  saved_state& saved() { return state_; }

 private:
  saved_state state_;
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_pointer_in_state>::size;
