// Breaks pdm::rule::config_member_type_is_bindable: a member is a double (config values have no floating point).
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a config member must be an integer, bool, std::string, pdm::config_bytes, a described enum, a described struct, or std::optional, std::vector or std::map<std::string, \.\.\.> of one
// EXPECT-GCC: pdm::rule::config_member_type_is_bindable<config_with_double, double>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::config_member_type_is_bindable<config_with_double, double>' "pdm: a config member must be an integer, bool, std::string, pdm::config_bytes, a described enum, a described struct, or std::optional, std::vector or std::map<std::string, \.\.\.> of one"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/config/binding.hpp>

#include <cstdint>
#include <string>
#include <vector>

struct config_with_double {
  double rate = 1.5;
};
BOOST_HANA_ADAPT_STRUCT(config_with_double, rate);

int main() {
  const pdm::config_tree tree;
  return pdm::bind<config_with_double>(tree.root()) ? 0 : 1;
}
