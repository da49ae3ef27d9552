// Breaks pdm::rule::driver_destructor_is_noexcept: the destructor is noexcept(false).
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's destructor must not throw \(noexcept\)
// EXPECT-GCC: pdm::rule::driver_destructor_is_noexcept<driver_with_throwing_destructor>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_destructor_is_noexcept<driver_with_throwing_destructor>' "pdm: a driver's destructor must not throw \(noexcept\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_with_throwing_destructor {
  static constexpr pdm::driver_traits traits{.name = "ThrowingDtor",
                                             .description = "A driver whose destructor throws",
                                             .class_mask = pdm::driver_class::media};
  explicit driver_with_throwing_destructor(pdm::driver_context& /*ctx*/) {}
  ~driver_with_throwing_destructor() noexcept(false) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_throwing_destructor>::size;
