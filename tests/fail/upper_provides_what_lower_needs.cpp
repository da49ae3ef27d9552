// Breaks pdm::rule::upper_provides_what_lower_needs: the device port lacks the media_port the top driver needs.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: broken static chain: the driver or device port above \(Upper\) does not provide an interface \(I\) that the driver below it \(Lower\) needs from above
// EXPECT-GCC: pdm::rule::upper_provides_what_lower_needs<pdm::device_port<pdm::interface_list<>, pdm::interface_list<media> ?>, disk_needing_a_port, media_port>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::upper_provides_what_lower_needs<pdm::device_port<pdm::interface_list<>, pdm::interface_list<media> ?>, disk_needing_a_port, media_port>' "pdm: broken static chain: the driver or device port above \(Upper\) does not provide an interface \(I\) that the driver below it \(Lower\) needs from above"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/analysis/static_chain.hpp>

#include <string_view>

struct media {
  static constexpr std::string_view interface_id = "test.media/1";
};
struct media_port {
  static constexpr std::string_view interface_id = "test.media-port/1";
};

struct disk_needing_a_port : media {
  static constexpr pdm::driver_traits traits{
      .name = "PortDisk", .description = "Reports media changes", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<media>;
  using needs_above = pdm::interface_list<media_port>;
  explicit disk_needing_a_port(pdm::driver_context& /*ctx*/) {}
};

using portless = pdm::device_port<pdm::interface_list<>, pdm::interface_list<media>>;
[[maybe_unused]] constexpr bool valid = pdm::static_chain<portless, disk_needing_a_port>::valid;
