// Breaks pdm::rule::drivers_in_a_list_have_different_names: two drivers of a driver_list are both named "RawFile".
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: two drivers in a driver_list have the same traits\.name; names must be unique
// EXPECT-GCC: pdm::rule::drivers_in_a_list_have_different_names<first_raw_file, second_raw_file>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::drivers_in_a_list_have_different_names<first_raw_file, second_raw_file>' "pdm: two drivers in a driver_list have the same traits\.name; names must be unique"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct first_raw_file {
  static constexpr pdm::driver_traits traits{
      .name = "RawFile", .description = "The first raw file driver", .class_mask = pdm::driver_class::media};
  explicit first_raw_file(pdm::driver_context& /*ctx*/) {}
};

struct second_raw_file {
  static constexpr pdm::driver_traits traits{
      .name = "RawFile", .description = "The second raw file driver", .class_mask = pdm::driver_class::media};
  explicit second_raw_file(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<first_raw_file, second_raw_file>::size;
