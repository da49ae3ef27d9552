// Breaks pdm::rule::config_struct_is_default_constructible: the config struct has no default constructor.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a config struct must be default constructible \(defaults come from member initializers\)
// EXPECT-GCC: pdm::rule::config_struct_is_default_constructible<config_without_default>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::config_struct_is_default_constructible<config_without_default>' "pdm: a config struct must be default constructible \(defaults come from member initializers\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/config/binding.hpp>

#include <cstdint>
#include <string>
#include <vector>

struct config_without_default {
  explicit config_without_default(int size) : size(size) {}
  int size;
};
BOOST_HANA_ADAPT_STRUCT(config_without_default, size);

int main() {
  const pdm::config_tree tree;
  return pdm::bind<config_without_default>(tree.root()) ? 0 : 1;
}
