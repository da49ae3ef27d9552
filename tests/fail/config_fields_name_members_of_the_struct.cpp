// Breaks pdm::rule::config_fields_name_members_of_the_struct: config_fields describes a member that does not exist (a
// typo).
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: an entry of config_fields names a member the config struct does not have
// EXPECT-GCC: pdm::rule::config_fields_name_members_of_the_struct<config_with_typo>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::config_fields_name_members_of_the_struct<config_with_typo>' "pdm: an entry of config_fields names a member the config struct does not have"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/config/binding.hpp>

#include <cstdint>
#include <string>
#include <vector>

struct config_with_typo {
  std::string path;
  static constexpr pdm::config_field config_fields[] = {{.member = "pth", .required = true}};
};
BOOST_HANA_ADAPT_STRUCT(config_with_typo, path);

int main() {
  const pdm::config_tree tree;
  return pdm::bind<config_with_typo>(tree.root()) ? 0 : 1;
}
