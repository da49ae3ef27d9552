#include <pdm/config/json.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <thread>

#include <sys/stat.h>

namespace {

const char* const vm_json = R"({
  "Devices": {
    "serial": {
      "0": {
        "LUN#0": {
          "Driver": "Char",
          "AttachedDriver": {
            "Driver": "TCP",
            "Config": {
              "Location": "127.0.0.1:5023",
              "IsServer": true
            }
          }
        }
      }
    }
  },
  "Big": 18446744073709551615,
  "Low": -9223372036854775808,
  "Key": {
    "$bytes": "AAEC/w=="
  },
  "Empty": {}
}
)";

pdm::error load_error(std::string_view text) {
  pdm::result<pdm::config_tree> r = pdm::load_json(text);
  REQUIRE_FALSE(r);
  return r.error_value();
}

}  // namespace

TEST_CASE("a JSON file loads into a tree with every kind of value") {
  pdm::result<pdm::config_tree> r = pdm::load_json(vm_json);
  REQUIRE(r);
  const pdm::config_tree& t = *r;
  CHECK(*t->get<std::string>("Devices/serial/0/LUN#0/AttachedDriver/Driver") == "TCP");
  CHECK(*t->get<bool>("Devices/serial/0/LUN#0/AttachedDriver/Config/IsServer"));
  CHECK(*t->get<std::uint64_t>("Big") == std::numeric_limits<std::uint64_t>::max());
  CHECK(*t->get<std::int64_t>("Low") == std::numeric_limits<std::int64_t>::min());
  CHECK(*t->get<pdm::config_bytes>("Key") ==
        pdm::config_bytes{std::byte{0}, std::byte{1}, std::byte{2}, std::byte{0xff}});
  CHECK(t->find_child("Empty") != nullptr);
  CHECK(t->find_child("Empty")->empty());
}

TEST_CASE("save then load is lossless, and keeps key order") {
  pdm::result<pdm::config_tree> r = pdm::load_json(vm_json);
  REQUIRE(r);
  const std::string saved = pdm::save_json(r->root());
  pdm::result<pdm::config_tree> again = pdm::load_json(saved);
  REQUIRE(again);
  CHECK(*again == *r);
  CHECK(pdm::save_json(again->root()) == saved);
  // The file above is written in the same style, so it round-trips byte for byte.
  CHECK(saved == vm_json);
}

TEST_CASE("bytes of every length survive base64") {
  pdm::config_tree t;
  pdm::config_bytes b;
  for (int n = 0; n < 8; ++n) {
    REQUIRE(t->set_value("B" + std::to_string(n), b));
    b.push_back(static_cast<std::byte>(0xF0 + n));
  }
  pdm::result<pdm::config_tree> back = pdm::load_json(pdm::save_json(t.root(), -1));
  REQUIRE(back);
  CHECK(*back == t);
  CHECK(pdm::save_json(t.root(), -1).find(R"("B1":{"$bytes":"8A=="})") != std::string::npos);
}

TEST_CASE("malformed JSON: a parse error with line and column") {
  const pdm::error e = load_error("{\n  \"A\": 1,\n  \"B\": ]\n}");
  CHECK(e == pdm::errc::parse_error);
  CHECK(e.detail().starts_with("line 3, column 8: "));
  CHECK(load_error("") == pdm::errc::parse_error);
  CHECK(load_error("{\"A\": 1") == pdm::errc::parse_error);
  CHECK(load_error("{\"A\": 1} trailing") == pdm::errc::parse_error);
  CHECK(load_error("{\"A\": \"\xff\"}") == pdm::errc::parse_error);  // invalid UTF-8 in a string
}

TEST_CASE("the top level must be an object") {
  CHECK(load_error("[1, 2]") == pdm::errc::wrong_type);
  CHECK(load_error("  42") == pdm::errc::wrong_type);
  CHECK(load_error("\"text\"").detail() == "line 1, column 1: a config file holds one JSON object");
}

TEST_CASE("values JSON has but configs do not: floats, null, arrays") {
  const pdm::error f = load_error("{\"A\": {\"Rate\": 1.5}}");
  CHECK(f == pdm::errc::wrong_type);
  CHECK(f.config_path() == "A/Rate");
  CHECK(f.detail().find("floating-point number 1.5") != std::string::npos);
  CHECK(load_error("{\"A\": null}") == pdm::errc::wrong_type);
  const pdm::error a = load_error("{\"List\": [1]}");
  CHECK(a == pdm::errc::wrong_type);
  CHECK(a.config_path() == "List");
}

TEST_CASE("huge numbers: integer_too_big, never a silent float") {
  const pdm::error e = load_error("{\"N\": 18446744073709551616}");
  CHECK(e == pdm::errc::integer_too_big);
  CHECK(e.config_path() == "N");
  CHECK(load_error("{\"N\": -9223372036854775809}") == pdm::errc::integer_too_big);
  CHECK(load_error("{\"N\": 1" + std::string(400, '0') + "}") == pdm::errc::integer_too_big);
  CHECK(load_error("{\"N\": 1e400}") == pdm::errc::wrong_type);
}

TEST_CASE("duplicate keys are refused with their path and position") {
  const pdm::error e = load_error("{\"D\": {\"Port\": 1,\n \"Port\": 2}}");
  CHECK(e == pdm::errc::duplicate_key);
  CHECK(e.config_path() == "D/Port");
  CHECK(e.detail().starts_with("line 2, column 7: "));
  CHECK(load_error(R"({"D": {}, "D": 1})") == pdm::errc::duplicate_key);
  CHECK(load_error(R"({"D": 1, "D": {"x": 1}})") == pdm::errc::duplicate_key);
  CHECK(load_error(R"({"D": {}, "D": {}})") == pdm::errc::duplicate_key);
}

TEST_CASE("nesting deeper than the limit is refused") {
  std::string deep;
  for (int i = 0; i < 66; ++i) deep += "{\"n\":";  // the root and 65 levels below it
  deep += "1";
  for (int i = 0; i < 66; ++i) deep += "}";
  CHECK(load_error(deep) == pdm::errc::nesting_too_deep);
  std::string ok;  // the root plus 64 levels
  for (int i = 0; i < 64; ++i) ok += "{\"n\":";
  ok += "{}";
  for (int i = 0; i < 64; ++i) ok += "}";
  CHECK(pdm::load_json(ok).has_value());
  pdm::json_load_options shallow;
  shallow.max_depth = 2;
  CHECK(pdm::load_json(R"({"a": {"b": {"c": {}}}})", shallow).error_value() == pdm::errc::nesting_too_deep);
  // A very deep document fails fast and does not exhaust the stack.
  const std::string abyss = std::string(100000, '[') + std::string(100000, ']');
  CHECK(load_error("{\"a\":" + abyss + "}") == pdm::errc::wrong_type);
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"n\":";
  CHECK(load_error(objects) == pdm::errc::nesting_too_deep);
}

TEST_CASE("bad names: '/', a leading '$', too long") {
  const pdm::error slash = load_error(R"({"a/b": 1})");
  CHECK(slash == pdm::errc::invalid_name);
  CHECK(slash.detail().find("'/'") != std::string::npos);
  CHECK(load_error(R"({"$ref": 1})") == pdm::errc::invalid_name);
  CHECK(load_error("{\"" + std::string(256, 'k') + "\": 1}") == pdm::errc::invalid_name);
  CHECK(load_error(R"({"": 1})") == pdm::errc::invalid_name);
  CHECK(load_error(R"({"a\u0001b": 1})") == pdm::errc::invalid_name);
  CHECK(load_error("{\"\xc3\x28\": 1}") == pdm::errc::parse_error);  // invalid UTF-8: the parser's check
}

TEST_CASE("huge strings and inputs are refused") {
  const std::string big = "{\"S\": \"" + std::string(pdm::config_limits::max_value_bytes + 1, 'x') + "\"}";
  CHECK(load_error(big) == pdm::errc::invalid_value);
  pdm::json_load_options small;
  small.max_input_bytes = 10;
  CHECK(pdm::load_json(R"({"A": 12345678})", small).error_value() == pdm::errc::out_of_range);
}

TEST_CASE("malformed $bytes objects") {
  CHECK(load_error(R"({"K": {"$bytes": "@@@@"}})") == pdm::errc::invalid_value);
  CHECK(load_error(R"({"K": {"$bytes": "AAE"}})") == pdm::errc::invalid_value);
  CHECK(load_error(R"({"K": {"$bytes": "AB=="}})") == pdm::errc::invalid_value);  // stray bits
  CHECK(load_error(R"({"K": {"$bytes": 5}})") == pdm::errc::invalid_value);
  CHECK(load_error(R"({"K": {"$bytes": "AA==", "x": 1}})") == pdm::errc::invalid_value);
  CHECK(load_error(R"({"K": {"$bytes": {}}})") == pdm::errc::invalid_value);
  CHECK(load_error(R"({"K": {"$bytes": "AA=="}, "K": 1})") == pdm::errc::duplicate_key);
  CHECK(load_error(R"({"K": {"x": 1, "$bytes": "AA=="}})") == pdm::errc::invalid_name);
  pdm::result<pdm::config_tree> empty = pdm::load_json(R"({"K": {"$bytes": ""}})");
  REQUIRE(empty);
  CHECK(empty->root().get<pdm::config_bytes>("K")->empty());
}

TEST_CASE("files: load, save, and errors that name the file") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "pdm-test-config-json";
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "vm.json";
  pdm::result<pdm::config_tree> r = pdm::load_json(vm_json);
  REQUIRE(r);
  REQUIRE(pdm::save_json_file(r->root(), file));
  pdm::result<pdm::config_tree> back = pdm::load_json_file(file);
  REQUIRE(back);
  CHECK(*back == *r);

  {
    std::ofstream bad(dir / "bad.json");
    bad << "{\n\"A\": 1.25\n}\n";
  }
  const pdm::result<pdm::config_tree> e = pdm::load_json_file(dir / "bad.json");
  REQUIRE_FALSE(e);
  CHECK(e.error_value() == pdm::errc::wrong_type);
  CHECK(e.error_value().detail().starts_with((dir / "bad.json").string() + ":2:"));
  CHECK(pdm::load_json_file(dir / "missing.json").error_value() == pdm::errc::io_error);
  CHECK(pdm::save_json_file(r->root(), dir / "no" / "such" / "dir.json").error_value() == pdm::errc::io_error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a UTF-8 byte order mark is allowed") {
  pdm::result<pdm::config_tree> r = pdm::load_json("\xEF\xBB\xBF{\"A\": 1}");
  REQUIRE(r);
  CHECK(*r->root().get<int>("A") == 1);
}

TEST_CASE("parse errors quote bad bytes escaped, so the message is valid UTF-8") {
  const pdm::error e = load_error("{\"A\": \"\xff\"}");
  CHECK(e == pdm::errc::parse_error);
  CHECK(pdm::detail::valid_utf8(e.message()));
  CHECK(e.message().find("\\xff") != std::string::npos);
}

TEST_CASE("a file that is not a regular file (a pipe) loads too; a failed save keeps the old file") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "pdm-test-config-json-2";
  std::filesystem::create_directories(dir);
  const std::filesystem::path fifo = dir / "pipe.json";
  std::filesystem::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::thread writer([&] {
    std::ofstream out(fifo);
    out << R"({"Piped": {"Value": 7}})";
  });
  pdm::result<pdm::config_tree> piped = pdm::load_json_file(fifo);
  writer.join();
  REQUIRE(piped);
  CHECK(*piped->root().get<int>("Piped/Value") == 7);
  const std::filesystem::path file = dir / "keep.json";
  pdm::config_tree t;
  REQUIRE(t->add_value("A", 1));
  REQUIRE(pdm::save_json_file(t.root(), file));
  std::filesystem::create_directory(dir / "keep.json.pdm-tmp");  // the temporary cannot be written
  REQUIRE(t->set_value("A", 2));
  CHECK(pdm::save_json_file(t.root(), file).error_value() == pdm::errc::io_error);
  pdm::result<pdm::config_tree> back = pdm::load_json_file(file);
  REQUIRE(back);
  CHECK(*back->root().get<int>("A") == 1);
  std::filesystem::remove_all(dir);
}
