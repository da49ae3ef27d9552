// Breaks registry::add(driver_list): the list holds a driver whose max_instances is 0.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's traits\.max_instances must be above zero
// EXPECT-GCC: pdm::rule::driver_max_instances_is_not_zero<unregistrable_driver>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_max_instances_is_not_zero<unregistrable_driver>' "pdm: a driver's traits\.max_instances must be above zero"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct unregistrable_driver {
  static constexpr pdm::driver_traits traits{.name = "Unregistrable",
                                             .description = "Allows no instance",
                                             .class_mask = pdm::driver_class::media,
                                             .max_instances = 0};
  explicit unregistrable_driver(pdm::driver_context& /*ctx*/) {}
};

pdm::status register_builtin(pdm::registry& registry) { return registry.add(pdm::driver_list<unregistrable_driver>{}); }
