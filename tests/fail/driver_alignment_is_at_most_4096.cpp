// Breaks pdm::rule::driver_alignment_is_at_most_4096 (proposed; validate_descriptor checks it at run time only).
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver object must be aligned to at most 4096 bytes \(alignof\)
// EXPECT-GCC: pdm::rule::driver_alignment_is_at_most_4096<overaligned_driver>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_alignment_is_at_most_4096<overaligned_driver>' "pdm: a driver object must be aligned to at most 4096 bytes \(alignof\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct alignas(8192) overaligned_driver {
  static constexpr pdm::driver_traits traits{
      .name = "Overaligned", .description = "Aligned to 8 KiB", .class_mask = pdm::driver_class::media};
  explicit overaligned_driver(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<overaligned_driver>::size;
