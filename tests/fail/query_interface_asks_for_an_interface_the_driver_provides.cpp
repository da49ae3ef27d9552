// Breaks query_interface<I>(driver): the driver does not list interface I in `provides`.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: query_interface<I>\(driver\): the driver does not list interface I in `provides`
// EXPECT-GCC: pdm::provides_v<media_only_driver, block>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'provides_v<media_only_driver, block>' "pdm: query_interface<I>\(driver\): the driver does not list interface I in `provides`"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/driver.hpp>

#include <string_view>

struct media {
  static constexpr std::string_view interface_id = "test.media/1";
};
struct block {
  static constexpr std::string_view interface_id = "test.block/1";
};

struct media_only_driver : media {
  static constexpr pdm::driver_traits traits{
      .name = "MediaOnly", .description = "Provides media only", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<media>;
  explicit media_only_driver(pdm::driver_context& /*ctx*/) {}
};

block& block_of(media_only_driver& driver) { return pdm::query_interface<block>(driver); }
