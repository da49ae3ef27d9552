// Breaks pdm::rule::bottom_driver_needs_nothing_below: the bottom driver of a static_chain needs media below it.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: broken static chain: the bottom driver \(Bottom\) needs an interface \(I\) from below, but nothing is attached below it
// EXPECT-GCC: pdm::rule::bottom_driver_needs_nothing_below<block_at_the_bottom, media>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::bottom_driver_needs_nothing_below<block_at_the_bottom, media>' "pdm: broken static chain: the bottom driver \(Bottom\) needs an interface \(I\) from below, but nothing is attached below it"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/analysis/static_chain.hpp>

#include <string_view>

struct media {
  static constexpr std::string_view interface_id = "test.media/1";
};
struct block {
  static constexpr std::string_view interface_id = "test.block/1";
};

struct block_at_the_bottom : block {
  static constexpr pdm::driver_traits traits{
      .name = "Block", .description = "A block layer over media", .class_mask = pdm::driver_class::block};
  using provides = pdm::interface_list<block>;
  using needs_below = pdm::interface_list<media>;
  explicit block_at_the_bottom(pdm::driver_context& /*ctx*/) {}
};

using port = pdm::device_port<pdm::interface_list<>, pdm::interface_list<block>>;
[[maybe_unused]] constexpr bool valid = pdm::static_chain<port, block_at_the_bottom>::valid;
