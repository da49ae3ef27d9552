#include <pdm/config/schema.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nic {

enum class mode { off, promiscuous };
BOOST_DESCRIBE_ENUM(mode, off, promiscuous)

struct shaper {
  std::uint64_t bytes_per_second = 0;
};

struct filter {
  std::string pattern;
  bool drop = true;
  static constexpr pdm::config_field config_fields[] = {{.member = "pattern", .required = true}};
};

struct config {
  std::string mac;
  std::uint16_t mtu = 1500;
  mode rx_mode = mode::off;
  std::optional<std::int32_t> link_delay;
  pdm::config_bytes key{std::byte{0xab}};
  shaper shaping;
  std::optional<shaper> burst;
  std::vector<filter> filters;
  std::map<std::string, std::uint8_t> vlan_priority;
  std::vector<std::string> aliases;
  static constexpr pdm::config_field config_fields[] = {
      {.member = "mac", .description = "MAC address | colon separated", .required = true},
      {.member = "mtu", .description = "Largest frame", .min = 68, .max = 9000},
      {.member = "link_delay", .min = -5, .max = 5},
  };
};

}  // namespace nic

BOOST_HANA_ADAPT_STRUCT(nic::shaper, bytes_per_second);
BOOST_HANA_ADAPT_STRUCT(nic::filter, pattern, drop);
BOOST_HANA_ADAPT_STRUCT(nic::config, mac, mtu, rx_mode, link_delay, key, shaping, burst, filters, vlan_priority,
                        aliases);

TEST_CASE("a schema lists every key with its type, default, requirement and description") {
  const std::vector<pdm::config_key_info> s = pdm::config_schema<nic::config>();
  std::vector<std::string> rows;
  for (const pdm::config_key_info& k : s) {
    rows.push_back(k.key + " | " + k.type + " | " + k.default_value + " | " + (k.required ? "required" : "") + " | " +
                   k.description);
  }
  CHECK(rows == std::vector<std::string>{
                    "Mac | string | \"\" | required | MAC address | colon separated",
                    "Mtu | integer (uint16, 68..9000) | 1500 |  | Largest frame",
                    "RxMode | enum: off, promiscuous | \"off\" |  | ",
                    "LinkDelay | integer (int32, -5..5), optional |  |  | ",
                    "Key | bytes | bytes[1] ab |  | ",
                    "Shaping | node |  |  | ",
                    "Shaping/BytesPerSecond | integer (uint64) | 0 |  | ",
                    "Burst | node (optional) |  |  | ",
                    "Burst/BytesPerSecond | integer (uint64) | 0 |  | ",
                    "Filters | node: a list of nodes, one per child |  |  | ",
                    "Filters/<name>/Pattern | string | \"\" | required | ",
                    "Filters/<name>/Drop | bool | true |  | ",
                    "VlanPriority | node: a map of integer (uint8) values |  |  | ",
                    "Aliases | node: a list of string values |  |  | ",
                });
}
