// Breaks pdm::rule::config_ranges_are_given_only_for_integers_and_not_empty: a range is given for a string member.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a config_fields range \(min, max\) applies only to integer members and needs min <= max
// EXPECT-GCC: pdm::rule::config_ranges_are_given_only_for_integers_and_not_empty<config_with_string_range>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::config_ranges_are_given_only_for_integers_and_not_empty<config_with_string_range>' "pdm: a config_fields range \(min, max\) applies only to integer members and needs min <= max"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/config/binding.hpp>

#include <cstdint>
#include <string>
#include <vector>

struct config_with_string_range {
  std::string path;
  static constexpr pdm::config_field config_fields[] = {{.member = "path", .min = 1, .max = 10}};
};
BOOST_HANA_ADAPT_STRUCT(config_with_string_range, path);

int main() {
  const pdm::config_tree tree;
  return pdm::bind<config_with_string_range>(tree.root()) ? 0 : 1;
}
