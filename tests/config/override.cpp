#include <pdm/config/override.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

TEST_CASE("a new value takes the kind its text reads as") {
  pdm::config_tree t;
  REQUIRE(pdm::apply_override(t.root(), "Devices/serial/0/Config/Port=5023"));
  REQUIRE(pdm::apply_override(t.root(), "Devices/serial/0/Config/Server=true"));
  REQUIRE(pdm::apply_override(t.root(), "Devices/serial/0/Config/Path=/tmp/a=b"));
  REQUIRE(pdm::apply_override(t.root(), "Hex=0x10"));
  REQUIRE(pdm::apply_override(t.root(), "Neg=-5"));
  REQUIRE(pdm::apply_override(t.root(), "Empty="));
  CHECK(*t->get<int>("Devices/serial/0/Config/Port") == 5023);
  CHECK(t->find_value("Devices/serial/0/Config/Server")->kind() == pdm::value_kind::boolean);
  CHECK(*t->get<std::string>("Devices/serial/0/Config/Path") == "/tmp/a=b");
  CHECK(*t->get<int>("Hex") == 16);
  CHECK(*t->get<int>("Neg") == -5);
  CHECK(t->get<std::string>("Empty")->empty());
}

TEST_CASE("an existing value keeps its kind") {
  pdm::config_tree t;
  REQUIRE(t->add_value("Name", "x"));
  REQUIRE(t->add_value("Port", 1));
  REQUIRE(t->add_value("Flag", false));
  REQUIRE(pdm::apply_override(t.root(), "Name=123"));
  CHECK(*t->get<std::string>("Name") == "123");
  const pdm::status s = pdm::apply_override(t.root(), "Port=abc");
  CHECK(s.error_value() == pdm::errc::wrong_type);
  CHECK(s.error_value().config_path() == "Port");
  CHECK(*t->get<int>("Port") == 1);
  REQUIRE(pdm::apply_override(t.root(), "Flag=1"));
  CHECK(*t->get<bool>("Flag"));
  CHECK(pdm::apply_override(t.root(), "Flag=yes").error_value() == pdm::errc::wrong_type);
}

TEST_CASE("a :kind suffix forces the kind") {
  pdm::config_tree t;
  REQUIRE(pdm::apply_override(t.root(), "S:string=42"));
  REQUIRE(pdm::apply_override(t.root(), "I:integer=0xFFFFFFFFFFFFFFFF"));
  REQUIRE(pdm::apply_override(t.root(), "B:bytes=00ff10"));
  REQUIRE(pdm::apply_override(t.root(), "F:bool=0"));
  CHECK(*t->get<std::string>("S") == "42");
  CHECK(*t->get<std::uint64_t>("I") == UINT64_MAX);
  CHECK(*t->get<pdm::config_bytes>("B") == pdm::config_bytes{std::byte{0}, std::byte{0xff}, std::byte{0x10}});
  CHECK_FALSE(*t->get<bool>("F"));
  REQUIRE(pdm::apply_override(t.root(), "S:integer=7"));  // a forced kind replaces the old one
  CHECK(*t->get<int>("S") == 7);
  CHECK(pdm::apply_override(t.root(), "B:bytes=0g").error_value() == pdm::errc::wrong_type);
  CHECK(pdm::apply_override(t.root(), "B:bytes=abc").error_value() == pdm::errc::wrong_type);
  CHECK(pdm::apply_override(t.root(), "I:integer=").error_value() == pdm::errc::wrong_type);
}

TEST_CASE("integer overrides are range checked") {
  pdm::config_tree t;
  CHECK(pdm::apply_override(t.root(), "N=18446744073709551616").error_value() == pdm::errc::integer_too_big);
  CHECK(pdm::apply_override(t.root(), "N=-9223372036854775809").error_value() == pdm::errc::integer_too_small);
  REQUIRE(pdm::apply_override(t.root(), "N=-9223372036854775808"));
  CHECK(*t->get<std::int64_t>("N") == INT64_MIN);
  REQUIRE(pdm::apply_override(t.root(), "Z=-0"));
  CHECK(*t->get<int>("Z") == 0);
}

TEST_CASE("malformed overrides and paths") {
  pdm::config_tree t;
  REQUIRE(t->add_child("Node"));
  CHECK(pdm::apply_override(t.root(), "no-equals-sign").error_value() == pdm::errc::invalid_argument);
  CHECK(pdm::apply_override(t.root(), "=1").error_value() == pdm::errc::invalid_name);
  CHECK(pdm::apply_override(t.root(), "a//b=1").error_value() == pdm::errc::invalid_name);
  CHECK(pdm::apply_override(t.root(), "Node=1").error_value() == pdm::errc::wrong_type);
  CHECK(pdm::apply_override(t.root(), "S=\xff").error_value() == pdm::errc::invalid_value);
}

TEST_CASE("a list of overrides is all or nothing") {
  pdm::config_tree t;
  REQUIRE(t->ensure_child("VM"));
  REQUIRE(t->add_value("VM/Port", 1));
  const pdm::config_tree before = t->clone();
  const std::vector<std::string> bad{"New/Value=1", "Port=2", "Port=x"};
  const pdm::status s = pdm::apply_overrides(*t->find_child("VM"), bad);
  CHECK(s.error_value() == pdm::errc::wrong_type);
  CHECK(s.error_value().config_path() == "VM/Port");
  CHECK(t == before);
  const std::vector<std::string> good{"New/Value=1", "Port=2"};
  REQUIRE(pdm::apply_overrides(*t->find_child("VM"), good));
  CHECK(*t->get<int>("VM/New/Value") == 1);
  CHECK(*t->get<int>("VM/Port") == 2);
}

TEST_CASE("a failed override leaves nothing behind") {
  pdm::config_tree t;
  CHECK(pdm::apply_override(t.root(), "New/Sub/Port:integer=abc").error_value() == pdm::errc::wrong_type);
  CHECK(pdm::apply_override(t.root(), "New/$bad/Port=1").error_value() == pdm::errc::invalid_name);
  CHECK(pdm::apply_override(t.root(), "New/Sub/S=\xff").error_value() == pdm::errc::invalid_value);
  CHECK(t->empty());
}

TEST_CASE("an unknown :kind is an error, not part of the name") {
  pdm::config_tree t;
  const pdm::status s = pdm::apply_override(t.root(), "Flag:boolean=1");
  CHECK(s.error_value() == pdm::errc::invalid_argument);
  CHECK(s.error_value().detail() == "unknown kind \"boolean\" (integer, string, bytes or bool)");
  CHECK(pdm::apply_override(t.root(), "X:float=1.5").error_value() == pdm::errc::invalid_argument);
  CHECK(t->empty());
  REQUIRE(pdm::apply_override(t.root(), "Drive:C=1"));  // not a lower-case word: part of the name
  CHECK(*t->get<int>("Drive:C") == 1);
}

TEST_CASE("overrides respect the depth limit, even in a deep node and in a list") {
  pdm::config_tree t;
  std::string deep = "n";
  for (int i = 1; i < 62; ++i) deep += "/n";
  pdm::config_node& node = **t->ensure_child(deep);  // depth 62
  REQUIRE(pdm::apply_override(node, "a/b/c=1"));     // c's node, b, at depth 64: the deepest allowed
  CHECK(pdm::apply_override(node, "x/y/z/w=1").error_value() == pdm::errc::nesting_too_deep);
  const pdm::config_tree before = t->clone();
  const std::vector<std::string> list{"First=1", "x/y/z/w=1"};
  CHECK(pdm::apply_overrides(node, list).error_value() == pdm::errc::nesting_too_deep);
  CHECK(t == before);
}
