// Breaks pdm::rule::config_member_type_is_bindable: an enum member without BOOST_DESCRIBE_ENUM (names unknown).
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a config member must be an integer, bool, std::string, pdm::config_bytes, a described enum, a described struct, or std::optional, std::vector or std::map<std::string, \.\.\.> of one
// EXPECT-GCC: pdm::rule::config_member_type_is_bindable<config_with_plain_enum, cache_mode>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::config_member_type_is_bindable<config_with_plain_enum, cache_mode>' "pdm: a config member must be an integer, bool, std::string, pdm::config_bytes, a described enum, a described struct, or std::optional, std::vector or std::map<std::string, \.\.\.> of one"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/config/binding.hpp>

#include <cstdint>
#include <string>
#include <vector>

enum class cache_mode { none, write_back };
struct config_with_plain_enum {
  cache_mode cache = cache_mode::none;
};
BOOST_HANA_ADAPT_STRUCT(config_with_plain_enum, cache);

int main() {
  const pdm::config_tree tree;
  return pdm::bind<config_with_plain_enum>(tree.root()) ? 0 : 1;
}
