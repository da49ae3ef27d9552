// Breaks pdm::rule::static_chain_has_at_least_one_driver (proposed): a device port with no driver below it.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a static_chain needs at least one driver below the device port
// EXPECT-GCC: pdm::rule::static_chain_has_at_least_one_driver<pdm::device_port<pdm::interface_list<>, pdm::interface_list<block> ?> ?>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::static_chain_has_at_least_one_driver<pdm::device_port<pdm::interface_list<>, pdm::interface_list<block> ?> ?>' "pdm: a static_chain needs at least one driver below the device port"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/analysis/static_chain.hpp>

#include <string_view>

struct block {
  static constexpr std::string_view interface_id = "test.block/1";
};

using port_without_drivers = pdm::device_port<pdm::interface_list<>, pdm::interface_list<block>>;
[[maybe_unused]] constexpr bool valid = pdm::static_chain<port_without_drivers>::valid;
