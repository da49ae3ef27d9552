// Breaks pdm::rule::driver_max_instances_is_not_zero: traits.max_instances is 0.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's traits\.max_instances must be above zero
// EXPECT-GCC: pdm::rule::driver_max_instances_is_not_zero<driver_with_zero_instances>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_max_instances_is_not_zero<driver_with_zero_instances>' "pdm: a driver's traits\.max_instances must be above zero"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_with_zero_instances {
  static constexpr pdm::driver_traits traits{.name = "ZeroInstances",
                                             .description = "A driver that allows no instance",
                                             .class_mask = pdm::driver_class::media,
                                             .max_instances = 0};
  explicit driver_with_zero_instances(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_zero_instances>::size;
