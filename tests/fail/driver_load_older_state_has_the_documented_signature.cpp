// Breaks pdm::rule::driver_load_older_state_has_the_documented_signature: it returns bool.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's load_older_state must be `pdm::status load_older_state\(pdm::state_reader&, saved_state&\)`, in a driver with a saved_state
// EXPECT-GCC: pdm::rule::driver_load_older_state_has_the_documented_signature<driver_with_bool_load_older_state>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_load_older_state_has_the_documented_signature<driver_with_bool_load_older_state>' "pdm: a driver's load_older_state must be `pdm::status load_older_state\(pdm::state_reader&, saved_state&\)`, in a driver with a saved_state"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

#include <cstdint>

struct driver_with_bool_load_older_state {
  static constexpr pdm::driver_traits traits{
      .name = "BoolLoadOlder", .description = "load_older_state returns bool", .class_mask = pdm::driver_class::media};
  struct saved_state {
    int position = 0;
  };
  static constexpr std::uint32_t saved_state_version = 2;
  explicit driver_with_bool_load_older_state(pdm::driver_context& /*ctx*/) {}
  saved_state& saved() { return state_; }
  bool load_older_state(pdm::state_reader& in, saved_state& out) { return static_cast<bool>(in.read(out.position)); }

 private:
  saved_state state_;
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_bool_load_older_state>::size;
