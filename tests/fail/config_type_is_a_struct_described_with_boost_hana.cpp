// Breaks pdm::rule::config_type_is_a_struct_described_with_boost_hana: the config type is a struct nobody described to
// Boost.Hana.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a config type must be a struct described with BOOST_HANA_ADAPT_STRUCT or BOOST_HANA_DEFINE_STRUCT
// EXPECT-GCC: pdm::rule::config_type_is_a_struct_described_with_boost_hana<undescribed_config>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::config_type_is_a_struct_described_with_boost_hana<undescribed_config>' "pdm: a config type must be a struct described with BOOST_HANA_ADAPT_STRUCT or BOOST_HANA_DEFINE_STRUCT"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/config/binding.hpp>

#include <cstdint>
#include <string>
#include <vector>

struct undescribed_config {
  std::string path;
};

int main() {
  const pdm::config_tree tree;
  return pdm::bind<undescribed_config>(tree.root()) ? 0 : 1;
}
