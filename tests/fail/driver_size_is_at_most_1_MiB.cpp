// Breaks pdm::rule::driver_size_is_at_most_1_MiB: the driver object is 1 MiB + 1 byte.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver object must be at most 1 MiB \(sizeof\); keep large buffers on the heap
// EXPECT-GCC: pdm::rule::driver_size_is_at_most_1_MiB<oversized_driver>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_size_is_at_most_1_MiB<oversized_driver>' "pdm: a driver object must be at most 1 MiB \(sizeof\); keep large buffers on the heap"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct oversized_driver {
  static constexpr pdm::driver_traits traits{
      .name = "Oversized", .description = "A driver with a buffer inside", .class_mask = pdm::driver_class::media};
  explicit oversized_driver(pdm::driver_context& /*ctx*/) {}
  char buffer[(std::size_t{1} << 20) + 1];
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<oversized_driver>::size;
