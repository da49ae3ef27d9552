// Breaks pdm::rule::config_keys_are_unique: two members map to the same key (`read_only` and a key renamed to
// ReadOnly).
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: two members of a config struct have the same key
// EXPECT-GCC: pdm::rule::config_keys_are_unique<config_with_clashing_keys>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::config_keys_are_unique<config_with_clashing_keys>' "pdm: two members of a config struct have the same key"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/config/binding.hpp>

#include <cstdint>
#include <string>
#include <vector>

struct config_with_clashing_keys {
  bool read_only = false;
  bool writable = true;
  static constexpr pdm::config_field config_fields[] = {{.member = "writable", .key = "ReadOnly"}};
};
BOOST_HANA_ADAPT_STRUCT(config_with_clashing_keys, read_only, writable);

int main() {
  const pdm::config_tree tree;
  return pdm::bind<config_with_clashing_keys>(tree.root()) ? 0 : 1;
}
