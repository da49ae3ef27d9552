// Breaks pdm::rule::lower_provides_what_upper_needs: the driver below lacks the media the driver above needs.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: broken static chain: the driver below \(Lower\) does not provide an interface \(I\) that the driver or device port above it \(Upper\) needs from below
// EXPECT-GCC: pdm::rule::lower_provides_what_upper_needs<block_over_media, sink_without_media, media>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::lower_provides_what_upper_needs<block_over_media, sink_without_media, media>' "pdm: broken static chain: the driver below \(Lower\) does not provide an interface \(I\) that the driver or device port above it \(Upper\) needs from below"
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

struct block_over_media : block {
  static constexpr pdm::driver_traits traits{
      .name = "Block", .description = "A block layer over media", .class_mask = pdm::driver_class::block};
  using provides = pdm::interface_list<block>;
  using needs_below = pdm::interface_list<media>;
  explicit block_over_media(pdm::driver_context& /*ctx*/) {}
};

struct sink_without_media {
  static constexpr pdm::driver_traits traits{
      .name = "NullSink", .description = "Provides nothing", .class_mask = pdm::driver_class::media};
  explicit sink_without_media(pdm::driver_context& /*ctx*/) {}
};

using port = pdm::device_port<pdm::interface_list<>, pdm::interface_list<block>>;
[[maybe_unused]] constexpr bool valid = pdm::static_chain<port, block_over_media, sink_without_media>::valid;
