#include <pdm/config/binding.hpp>
#include <pdm/config/json.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace disk {

enum class cache_mode { none, write_through, write_back };
BOOST_DESCRIBE_ENUM(cache_mode, none, write_through, write_back)

struct parent_image {
  std::string path;
  std::string format = "raw";
  static constexpr pdm::config_field config_fields[] = {{.member = "path", .required = true}};
};

struct snapshot {
  std::uint32_t generation = 0;
  bool sealed = true;
};

struct config {
  std::string path;
  bool read_only = false;
  std::uint32_t block_size = 512;
  cache_mode cache = cache_mode::write_through;
  std::optional<std::uint64_t> size;
  pdm::config_bytes uuid;
  std::optional<parent_image> parent;
  std::vector<std::string> tags;
  std::map<std::string, snapshot> snapshots;
  std::vector<std::uint16_t> ports;
  std::int8_t priority = -1;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "path", .description = "The image file", .required = true},
      {.member = "block_size", .description = "Bytes per block", .min = 512, .max = 4096},
      {.member = "uuid", .key = "UUID"},
      {.member = "ports", .min = 1024, .max = 49151},
      {.member = "priority", .min = -4, .max = 4},
  };
};

// The other spelling: BOOST_HANA_DEFINE_STRUCT declares the members (no initializers, so the
// defaults are value-initialized), BOOST_DEFINE_ENUM_CLASS declares and describes an enum.
BOOST_DEFINE_ENUM_CLASS(led_color, off, green, amber)
struct led_config {
  BOOST_HANA_DEFINE_STRUCT(led_config, (std::uint8_t, lun_count), (led_color, color), (std::string, label));
};

}  // namespace disk

BOOST_HANA_ADAPT_STRUCT(disk::parent_image, path, format);
BOOST_HANA_ADAPT_STRUCT(disk::snapshot, generation, sealed);
BOOST_HANA_ADAPT_STRUCT(disk::config, path, read_only, block_size, cache, size, uuid, parent, tags, snapshots, ports,
                        priority);

namespace {

// Like a driver's Config node inside a VM's tree, so errors show full paths.
pdm::config_tree tree_of(std::string_view config_json) {
  std::string text = R"({"Devices": {"ahci": {"0": {"LUN#0": {"Config": )";
  text += config_json;
  text += "}}}}}";
  pdm::result<pdm::config_tree> t = pdm::load_json(text);
  REQUIRE(t);
  return std::move(t).value();
}

const pdm::config_node& config_node(const pdm::config_tree& t) { return *t->find_child("Devices/ahci/0/LUN#0/Config"); }

constexpr std::string_view base = "Devices/ahci/0/LUN#0/Config";

std::vector<std::pair<pdm::errc, std::string>> problems(const pdm::error& e) {
  std::vector<std::pair<pdm::errc, std::string>> out;
  for (const pdm::error& c : e.causes()) {
    out.emplace_back(static_cast<pdm::errc>(c.code().value()), c.config_path().substr(base.size()));
  }
  return out;
}

}  // namespace

static_assert(pdm::config_struct<disk::config>);
static_assert(pdm::config_struct<disk::parent_image>);
static_assert(!pdm::config_struct<int>);

TEST_CASE("defaults come from member initializers; keys are CamelCase or as the table says") {
  const pdm::config_tree t = tree_of(R"({"Path": "disk.img"})");
  const pdm::result<disk::config> c = pdm::bind<disk::config>(config_node(t));
  REQUIRE(c);
  CHECK(c->path == "disk.img");
  CHECK_FALSE(c->read_only);
  CHECK(c->block_size == 512);
  CHECK(c->cache == disk::cache_mode::write_through);
  CHECK_FALSE(c->size.has_value());
  CHECK(c->uuid.empty());
  CHECK_FALSE(c->parent.has_value());
  CHECK(c->tags.empty());
  CHECK(c->priority == -1);
}

TEST_CASE("every field kind binds") {
  const pdm::config_tree t = tree_of(R"({
    "Path": "disk.img", "ReadOnly": true, "BlockSize": 4096, "Cache": "write_back", "Size": 1099511627776,
    "UUID": {"$bytes": "AAEC"}, "Parent": {"Path": "base.img", "Format": "qcow"},
    "Tags": {"0": "fast", "1": "local"},
    "Snapshots": {"before-upgrade": {"Generation": 3}, "nightly": {"Generation": 9, "Sealed": false}},
    "Ports": {"a": 5023, "b": 5024}, "Priority": -4})");
  const pdm::result<disk::config> c = pdm::bind<disk::config>(config_node(t));
  REQUIRE(c);
  CHECK(c->read_only);
  CHECK(c->block_size == 4096);
  CHECK(c->cache == disk::cache_mode::write_back);
  CHECK(c->size == 1099511627776ULL);
  CHECK(c->uuid == pdm::config_bytes{std::byte{0}, std::byte{1}, std::byte{2}});
  REQUIRE(c->parent.has_value());
  CHECK(c->parent->path == "base.img");
  CHECK(c->parent->format == "qcow");
  CHECK(c->tags == std::vector<std::string>{"fast", "local"});
  REQUIRE(c->snapshots.size() == 2);
  CHECK(c->snapshots.at("before-upgrade").generation == 3);
  CHECK(c->snapshots.at("before-upgrade").sealed);
  CHECK_FALSE(c->snapshots.at("nightly").sealed);
  CHECK(c->ports == std::vector<std::uint16_t>{5023, 5024});
  CHECK(c->priority == -4);
}

TEST_CASE("every problem is reported at once, each with its full path") {
  const pdm::config_tree t = tree_of(R"({
    "Pth": "disk.img", "ReadOnly": 2, "BlockSize": 8192, "Cache": "writeback", "Size": -1,
    "UUID": "not bytes", "Parent": {"Format": "raw"}, "Tags": {"0": 1}, "Ports": {"a": 80},
    "Snapshots": {"s": {"Generation": "x", "Seald": true}}, "Priority": 5, "Extra": {}})");
  const pdm::result<disk::config> c = pdm::bind<disk::config>(config_node(t));
  REQUIRE_FALSE(c);
  const pdm::error& e = c.error_value();
  CHECK(e.config_path() == base);
  CHECK(e.detail() == "14 problems");
  using pdm::errc;
  CHECK(problems(e) == std::vector<std::pair<errc, std::string>>{
                           {errc::missing_required, "/Path"},
                           {errc::invalid_value, "/ReadOnly"},
                           {errc::out_of_range, "/BlockSize"},
                           {errc::invalid_value, "/Cache"},
                           {errc::integer_too_small, "/Size"},
                           {errc::wrong_type, "/UUID"},
                           {errc::missing_required, "/Parent/Path"},
                           {errc::wrong_type, "/Tags/0"},
                           {errc::wrong_type, "/Snapshots/s/Generation"},
                           {errc::unknown_key, "/Snapshots/s/Seald"},
                           {errc::out_of_range, "/Ports/a"},
                           {errc::out_of_range, "/Priority"},
                           {errc::unknown_key, "/Pth"},
                           {errc::unknown_key, "/Extra"},
                       });
  CHECK(e == errc::invalid_value);
}

TEST_CASE("messages say what is wrong and suggest what was meant") {
  const pdm::config_tree t = tree_of(R"({"Pth": "disk.img", "Path": "x", "Cache": "writeback", "BlockSize": 100})");
  const pdm::result<disk::config> c = pdm::bind<disk::config>(config_node(t));
  REQUIRE_FALSE(c);
  CHECK(c.error_value().message() ==
        "at 'Devices/ahci/0/LUN#0/Config': invalid config value: 3 problems\n"
        "  - at 'Devices/ahci/0/LUN#0/Config/BlockSize': value out of range: 100 is outside 512..4096\n"
        "  - at 'Devices/ahci/0/LUN#0/Config/Cache': invalid config value: \"writeback\" is not one of: none "
        "write_through write_back (did you mean 'write_back'?)\n"
        "  - at 'Devices/ahci/0/LUN#0/Config/Pth': unknown config key: \"Pth\" is not a key of this config; did you "
        "mean 'Path'?");
}

TEST_CASE("values where nodes belong and nodes where values belong") {
  const pdm::config_tree t = tree_of(R"({"Path": {}, "Parent": "base.img", "Tags": "a"})");
  const pdm::result<disk::config> c = pdm::bind<disk::config>(config_node(t));
  REQUIRE_FALSE(c);
  using pdm::errc;
  CHECK(problems(c.error_value()) == std::vector<std::pair<errc, std::string>>{
                                         {errc::wrong_type, "/Path"},
                                         {errc::wrong_type, "/Parent"},
                                         {errc::wrong_type, "/Tags"},
                                     });
}

TEST_CASE("integers: the member type's range and the table's range") {
  CHECK(pdm::bind<disk::config>(config_node(tree_of(R"({"Path": "p", "BlockSize": 4294967296})")))
            .error_value()
            .causes()
            .front() == pdm::errc::integer_too_big);
  CHECK(pdm::bind<disk::config>(config_node(tree_of(R"({"Path": "p", "Ports": {"x": 70000}})")))
            .error_value()
            .causes()
            .front() == pdm::errc::integer_too_big);
  CHECK(pdm::bind<disk::config>(config_node(tree_of(R"({"Path": "p", "Priority": -5})")))
            .error_value()
            .causes()
            .front() == pdm::errc::out_of_range);
  CHECK(pdm::bind<disk::config>(config_node(tree_of(R"({"Path": "p", "Priority": -200})")))
            .error_value()
            .causes()
            .front() == pdm::errc::integer_too_small);
  CHECK(pdm::bind<disk::config>(config_node(tree_of(R"({"Path": "p", "BlockSize": 512, "Priority": 4})"))));
}

TEST_CASE("an absent nested node still reports its required keys; an absent optional one does not") {
  const pdm::config_tree t = tree_of(R"({"Path": "p", "Parent": {}})");
  const pdm::result<disk::config> c = pdm::bind<disk::config>(config_node(t));
  REQUIRE_FALSE(c);
  CHECK(c.error_value().causes().front().config_path() == std::string(base) + "/Parent/Path");
  CHECK(pdm::bind<disk::config>(config_node(tree_of(R"({"Path": "p"})"))));
}

TEST_CASE("structs declared with BOOST_HANA_DEFINE_STRUCT and enums with BOOST_DEFINE_ENUM_CLASS bind too") {
  const pdm::result<disk::led_config> c =
      pdm::bind<disk::led_config>(config_node(tree_of(R"({"LunCount": 4, "Color": "amber"})")));
  REQUIRE(c);
  CHECK(c->lun_count == 4);
  CHECK(c->color == disk::led_color::amber);
  CHECK(c->label.empty());
  const pdm::result<disk::led_config> bad =
      pdm::bind<disk::led_config>(config_node(tree_of(R"({"LunCount": 256, "Colour": "amber"})")));
  REQUIRE_FALSE(bad);
  REQUIRE(bad.error_value().causes().size() == 2);
  CHECK(bad.error_value().causes()[0] == pdm::errc::integer_too_big);
  CHECK(bad.error_value().causes()[1].detail() == "\"Colour\" is not a key of this config; did you mean 'Color'?");
}

TEST_CASE("validate_config checks without keeping the result") {
  CHECK(pdm::validate_config<disk::config>(config_node(tree_of(R"({"Path": "p"})"))));
  const pdm::status s = pdm::validate_config<disk::config>(config_node(tree_of(R"({})")));
  REQUIRE_FALSE(s);
  CHECK(s.error_value().causes().at(0) == pdm::errc::missing_required);
}
