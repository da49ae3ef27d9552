// Breaks pdm::rule::driver_lists_each_interface_once: `needs_below` lists the same interface twice.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver lists an interface twice in provides, needs_below or needs_above
// EXPECT-GCC: pdm::rule::driver_lists_each_interface_once<driver_needing_media_twice>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_lists_each_interface_once<driver_needing_media_twice>' "pdm: a driver lists an interface twice in provides, needs_below or needs_above"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

#include <string_view>

struct media {
  static constexpr std::string_view interface_id = "test.media/1";
};

struct driver_needing_media_twice {
  static constexpr pdm::driver_traits traits{
      .name = "NeedsMediaTwice", .description = "Needs media twice", .class_mask = pdm::driver_class::block};
  using needs_below = pdm::interface_list<media, media>;
  explicit driver_needing_media_twice(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_needing_media_twice>::size;
