// Breaks pdm::rule::config_keys_are_valid_names: a key given in config_fields contains '/'.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a config key must be a valid name \(1\.\.255 bytes, no '/', no control characters, no leading '\$'\)
// EXPECT-GCC: pdm::rule::config_keys_are_valid_names<config_with_slash_key>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::config_keys_are_valid_names<config_with_slash_key>' "pdm: a config key must be a valid name \(1\.\.255 bytes, no '/', no control characters, no leading '\$'\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/config/binding.hpp>

#include <cstdint>
#include <string>
#include <vector>

struct config_with_slash_key {
  std::string path;
  static constexpr pdm::config_field config_fields[] = {{.member = "path", .key = "Image/Path"}};
};
BOOST_HANA_ADAPT_STRUCT(config_with_slash_key, path);

int main() {
  const pdm::config_tree tree;
  return pdm::bind<config_with_slash_key>(tree.root()) ? 0 : 1;
}
