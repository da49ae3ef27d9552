// Breaks pdm::rule::config_keys_are_unique: a nested config struct breaks a rule; the error names the nested struct.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: two members of a config struct have the same key
// EXPECT-GCC: pdm::rule::config_keys_are_unique<nested_with_clash>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::config_keys_are_unique<nested_with_clash>' "pdm: two members of a config struct have the same key"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/config/binding.hpp>

#include <cstdint>
#include <string>
#include <vector>

struct nested_with_clash {
  int size = 0;
  int other = 0;
  static constexpr pdm::config_field config_fields[] = {{.member = "other", .key = "Size"}};
};
BOOST_HANA_ADAPT_STRUCT(nested_with_clash, size, other);
struct outer_config {
  std::vector<nested_with_clash> disks;
};
BOOST_HANA_ADAPT_STRUCT(outer_config, disks);

int main() {
  const pdm::config_tree tree;
  return pdm::bind<outer_config>(tree.root()) ? 0 : 1;
}
