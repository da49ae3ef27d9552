// Breaks pdm::rule::config_fields_name_each_member_at_most_once: config_fields describes the same member twice.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: config_fields describes a member twice
// EXPECT-GCC: pdm::rule::config_fields_name_each_member_at_most_once<config_described_twice>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::config_fields_name_each_member_at_most_once<config_described_twice>' "pdm: config_fields describes a member twice"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/config/binding.hpp>

#include <cstdint>
#include <string>
#include <vector>

struct config_described_twice {
  std::string path;
  static constexpr pdm::config_field config_fields[] = {{.member = "path", .required = true},
                                                        {.member = "path", .description = "The file"}};
};
BOOST_HANA_ADAPT_STRUCT(config_described_twice, path);

int main() {
  const pdm::config_tree tree;
  return pdm::bind<config_described_twice>(tree.root()) ? 0 : 1;
}
