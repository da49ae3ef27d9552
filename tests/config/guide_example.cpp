// The config chapter of the guide (docs/config.md), run: its JSON example is examples/configs/vm.json, and
// every output it quotes is what the quoted code prints. The code of each snippet is repeated here; the
// JSON and the outputs are read from the guide itself, so the guide, the file and pdm cannot drift apart.
#include <pdm/config/json.hpp>
#include <pdm/config/override.hpp>
#include <pdm/config/tree.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifndef PDM_SOURCE_DIR
#error "the build defines PDM_SOURCE_DIR as the repository's root directory"
#endif

namespace {

const std::filesystem::path source_dir{PDM_SOURCE_DIR};
const std::filesystem::path example_file = source_dir / "examples" / "configs" / "vm.json";

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open ", file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The body of the fenced block right after the line `<!-- marker -->` in the guide, with its last newline.
std::string guide_block(std::string_view marker) {
  static const std::string guide = read_text(source_dir / "docs" / "config.md");
  const std::string tag = "<!-- " + std::string(marker) + " -->\n```";
  const std::size_t at = guide.find(tag);
  REQUIRE_MESSAGE(at != std::string::npos, "docs/config.md has no fenced block after <!-- ", marker, " -->");
  CHECK_MESSAGE(guide.find(tag, at + 1) == std::string::npos, "docs/config.md marks two blocks ", marker);
  const std::size_t body = guide.find('\n', at + tag.size()) + 1;  // past the fence and its language
  const std::size_t close = guide.find("\n```\n", body - 1);
  REQUIRE_MESSAGE(close != std::string::npos, "the block after <!-- ", marker, " --> is not closed");
  return guide.substr(body, close + 1 - body);
}

pdm::config_tree load_example() {
  pdm::result<pdm::config_tree> loaded = pdm::load_json_file(example_file);
  REQUIRE_MESSAGE(loaded.has_value(), loaded.error_value().message());
  return std::move(loaded).value();
}

// ---- the guide's snippets, as they appear there (std::cout replaced by `out`) -----------------------

pdm::status add_serial_port(pdm::config_node& root) {
  pdm::result<pdm::config_node*> device = root.ensure_child("Devices/serial/0/Config");
  if (!device) return device.error_value();
  if (pdm::status s = (*device)->add_value("IRQ", 4); !s) return s;
  if (pdm::status s = (*device)->add_value("IOBase", 0x3f8); !s) return s;

  pdm::result<pdm::config_node*> lun = root.ensure_child("Devices/serial/0/LUN#0");
  if (!lun) return lun.error_value();
  pdm::config_node& l = **lun;
  if (pdm::status s = l.add_value("Driver", "Char"); !s) return s;
  if (pdm::result<pdm::config_node*> n = l.add_child("AttachedDriver"); !n) return n.error_value();
  if (pdm::status s = l.add_value("AttachedDriver/Driver", "TCP"); !s) return s;
  if (pdm::result<pdm::config_node*> n = l.add_child("AttachedDriver/Config"); !n) return n.error_value();
  if (pdm::status s = l.add_value("AttachedDriver/Config/Location", "127.0.0.1:5023"); !s) return s;
  return l.add_value("AttachedDriver/Config/IsServer", true);
}

pdm::status copy_dvd(pdm::config_node& vm) {
  pdm::config_node& ahci = *vm.find_child("Devices/ahci/0");
  pdm::config_tree copy = ahci.find_child("LUN#1")->clone();
  if (pdm::status s = copy->set_value("AttachedDriver/Config/Path", "/var/lib/minivmm/tools.iso"); !s) return s;
  if (pdm::status s = ahci.adopt("LUN#2", std::move(copy)); !s) return s;
  return pdm::ok();
}

pdm::status merge_settings(pdm::config_node& vm, std::ostream& out) {
  pdm::result<pdm::config_tree> extra = pdm::load_json(R"({"ReadOnly": true, "Cache": "writethrough"})");
  pdm::config_node& raw = *vm.find_child("Devices/ahci/0/LUN#0/AttachedDriver/Config");
  out << raw.merge(extra->root(), {.values = pdm::value_merge::fail}).error_value().message() << '\n';
  if (pdm::status s = raw.merge(extra->root()); !s) return s;
  out << raw.dump();
  return pdm::ok();
}

pdm::status override_serial(pdm::config_node& vm, std::ostream& out) {
  const std::vector<std::string> overrides{
      "Devices/serial/0/Config/IOBase=0x2f8",                           // an integer stays an integer
      "Devices/serial/0/Config/IRQ=3",                                  //
      "Devices/serial/0/LUN#0/AttachedDriver/Config/IsServer=0",        // a bool takes 0 and 1 too
      "Devices/serial/0/LUN#0/AttachedDriver/Config/Location=5024",     // a string stays a string
      "Devices/serial/0/LUN#0/AttachedDriver/Config/Timeout=30",        // new: an integer
      "Devices/serial/0/LUN#0/AttachedDriver/Config/Peer:string=0042",  // new, forced to a string
  };
  if (pdm::status s = pdm::apply_overrides(vm, overrides); !s) return s;
  out << vm.find_child("Devices/serial/0")->dump();

  const std::vector<std::string> bad{"Devices/serial/0/Config/IRQ=5", "Devices/serial/0/Config/IOBase=0x3f8h"};
  out << pdm::apply_overrides(vm, bad).error_value().message() << '\n';  // and IRQ is still 3
  return pdm::ok();
}

}  // namespace

TEST_CASE("the example file holds a storage chain, a serial chain and a transformation rule") {
  const pdm::config_tree t = load_example();
  const pdm::config_node& vm = t.root();
  const pdm::config_node* lun0 = vm.find_child("Devices/ahci/0/LUN#0");
  REQUIRE(lun0 != nullptr);
  CHECK(*lun0->get<std::string>("Driver") == "Block");
  CHECK(*lun0->get<std::string>("AttachedDriver/Driver") == "RawFile");
  CHECK(*lun0->get<std::string>("AttachedDriver/Config/Path") == "/var/lib/minivmm/disk0.img");
  CHECK_FALSE(*lun0->get<bool>("AttachedDriver/Config/ReadOnly"));
  CHECK_FALSE(lun0->has_child("AttachedDriver/AttachedDriver"));  // RawFile is the bottom of the chain
  const pdm::config_bytes uuid{std::byte{0x6f}, std::byte{0x1c}, std::byte{0x2a}, std::byte{0x8e},
                               std::byte{0x3b}, std::byte{0x4d}, std::byte{0x4e}, std::byte{0x5f},
                               std::byte{0x9a}, std::byte{0x0b}, std::byte{0x1c}, std::byte{0x2d},
                               std::byte{0x3e}, std::byte{0x4f}, std::byte{0x5a}, std::byte{0x6b}};
  CHECK(*lun0->get<pdm::config_bytes>("Config/Uuid") == uuid);

  CHECK(*vm.get<std::string>("Devices/ahci/0/LUN#1/Driver") == "Block");
  CHECK(*vm.get<std::string>("Devices/ahci/0/LUN#1/AttachedDriver/Driver") == "RawFile");
  CHECK(*vm.get<bool>("Devices/ahci/0/LUN#1/AttachedDriver/Config/ReadOnly"));

  const pdm::config_node* serial = vm.find_child("Devices/serial/0/LUN#0");
  REQUIRE(serial != nullptr);
  CHECK(*serial->get<std::string>("Driver") == "Char");
  CHECK(*serial->get<std::string>("AttachedDriver/Driver") == "TCP");
  CHECK(*serial->get<std::string>("AttachedDriver/Config/Location") == "127.0.0.1:5023");
  CHECK(*serial->get<bool>("AttachedDriver/Config/IsServer"));
  CHECK(*vm.get<std::uint16_t>("Devices/serial/0/Config/IOBase") == 0x3f8);

  const pdm::config_node* rule = vm.find_child("PDM/DriverTransformations/TraceDisk0");
  REQUIRE(rule != nullptr);
  CHECK(*rule->get<std::string>("Device") == "ahci");
  CHECK(*rule->get<std::string>("LUN") == "0");
  CHECK(*rule->get<std::string>("BelowDriver") == "Block");
  CHECK(*rule->get<std::string>("AboveDriver") == "RawFile");
  CHECK(*rule->get<std::string>("Action") == "inject");
  CHECK(*rule->get<std::string>("AttachedDriver/Driver") == "Trace");
  CHECK(rule->has_child("AttachedDriver/Config"));
  CHECK(*rule->get<std::uint32_t>("AttachedDriver/Config/MaxRecords") == 4096);
}

TEST_CASE("the guide's JSON example is the example file, which is what save_json writes") {
  const pdm::config_tree file = load_example();
  pdm::result<pdm::config_tree> doc = pdm::load_json(guide_block("config-example"), {.source_name = "docs/config.md"});
  REQUIRE_MESSAGE(doc.has_value(), doc.error_value().message());
  CHECK(*doc == file);
  CHECK(pdm::save_json(doc->root()) == pdm::save_json(file.root()));  // the same, but a failure shows the texts
  CHECK(pdm::save_json(file.root()) == read_text(example_file));
}

TEST_CASE("guide: a restricted root") {
  pdm::config_tree t = load_example();
  pdm::config_node& vm = t.root();
  std::ostringstream out;

  pdm::config_node& tcp = *vm.find_child("Devices/serial/0/LUN#0/AttachedDriver/Config");
  tcp.set_restricted_root();
  out << tcp.parent().error_value().message() << '\n';

  CHECK(out.str() == guide_block("output: restricted-root"));
}

TEST_CASE("guide: typed queries and their errors") {
  pdm::config_tree t = load_example();
  pdm::config_node& vm = t.root();

  const pdm::config_node& serial = *vm.find_child("Devices/serial/0");
  pdm::result<std::uint16_t> io_base = serial.get<std::uint16_t>("Config/IOBase");      // 1016
  pdm::result<std::uint32_t> baud = serial.get_or<std::uint32_t>("Config/Baud", 9600);  // 9600: not set
  pdm::result<bool> server = serial.get<bool>("LUN#0/AttachedDriver/Config/IsServer");  // true
  pdm::result<std::string> path = vm.get<std::string>("Devices/ahci/0/LUN#1/AttachedDriver/Config/Path");
  pdm::result<pdm::config_bytes> uuid = vm.get<pdm::config_bytes>("Devices/ahci/0/LUN#0/Config/Uuid");  // 16 bytes
  CHECK(*io_base == 1016);
  CHECK(*baud == 9600);
  CHECK(*server);
  CHECK(*path == "/var/lib/minivmm/install.iso");
  CHECK(uuid->size() == 16);
  CHECK(serial.get_or<std::string>("Config/IRQ", "x").error_value() == pdm::errc::wrong_type);

  std::ostringstream out;
  out << serial.get<std::uint8_t>("Config/IOBase").error_value().message() << '\n'
      << serial.get<std::string>("Config/IRQ").error_value().message() << '\n'
      << serial.get<int>("Config/Baud").error_value().message() << '\n'
      << vm.get<int>("Devices/serial/1/Config/IRQ").error_value().message() << '\n'
      << serial.get<int>("Config").error_value().message() << '\n'
      << serial.get<int>("LUN#0/AttachedDriver/Config/IsServer").error_value().message() << '\n';
  CHECK(out.str() == guide_block("output: get-errors"));
}

TEST_CASE("guide: walking the LUNs") {
  pdm::config_tree t = load_example();
  pdm::config_node& vm = t.root();
  std::ostringstream out;

  for (const pdm::config_node& device : vm.find_child("Devices")->children()) {
    for (const pdm::config_node& instance : device.children()) {
      for (const pdm::config_node& lun : instance.children()) {
        if (!lun.name().starts_with("LUN#")) continue;
        out << lun.path() << ": " << lun.get<std::string>("Driver").value_or("?") << '\n';
      }
    }
  }

  CHECK(out.str() == guide_block("output: walk"));
}

TEST_CASE("guide: the serial port built by hand equals the file's") {
  const pdm::config_tree file = load_example();
  pdm::config_tree built;
  REQUIRE(add_serial_port(built.root()));
  CHECK(*built->find_child("Devices/serial") == *file->find_child("Devices/serial"));

  // The same settings in another order are another tree.
  pdm::config_tree reordered = file->find_child("Devices/serial/0/LUN#0/AttachedDriver")->clone();
  REQUIRE(reordered->remove_value("Driver"));
  REQUIRE(reordered->add_value("Driver", "TCP"));
  CHECK_FALSE(reordered == file->find_child("Devices/serial/0/LUN#0/AttachedDriver")->clone());
}

TEST_CASE("guide: clone and adopt duplicate a chain") {
  pdm::config_tree t = load_example();
  REQUIRE(copy_dvd(t.root()));
  CHECK(*t->get<std::string>("Devices/ahci/0/LUN#2/AttachedDriver/Config/Path") == "/var/lib/minivmm/tools.iso");
  CHECK(*t->get<std::string>("Devices/ahci/0/LUN#1/AttachedDriver/Config/Path") == "/var/lib/minivmm/install.iso");
  CHECK(*t->get<bool>("Devices/ahci/0/LUN#2/Config/Mountable"));
  CHECK(copy_dvd(t.root()).error_value() == pdm::errc::already_exists);
}

TEST_CASE("guide: merge") {
  pdm::config_tree t = load_example();
  std::ostringstream out;
  REQUIRE(merge_settings(t.root(), out));
  CHECK(out.str() == guide_block("output: merge"));
}

TEST_CASE("guide: a JSON file with a float") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "pdm-test-config-guide";
  std::filesystem::create_directories(dir);
  {
    std::ofstream file(dir / "vm-bad.json", std::ios::binary);
    file << guide_block("bad-config");
  }
  std::ostringstream out;

  pdm::result<pdm::config_tree> bad = pdm::load_json_file(dir / "vm-bad.json");
  out << bad.error_value().message() << '\n';

  std::string printed = out.str();  // as if run in `dir`, which the guide's snippet is
  const std::string prefix = (dir / "").string();
  for (std::size_t at = printed.find(prefix); at != std::string::npos; at = printed.find(prefix)) {
    printed.erase(at, prefix.size());
  }
  CHECK(printed == guide_block("output: bad-config"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("guide: JSON errors") {
  std::ostringstream out;
  for (std::string_view text : {R"({"Rate": 1.5})", R"({"Disks": ["a.img", "b.img"]})", R"({"IRQ": 4, "IRQ": 3})",
                                R"({"Dev/0": {}})", R"({"Port": 5023,})"}) {
    out << pdm::load_json(text).error_value().message() << '\n';
  }
  CHECK(out.str() == guide_block("output: json-errors"));
}

TEST_CASE("guide: what JSON input is refused, and with which code") {
  const auto code = [](std::string_view text) { return pdm::load_json(text).error_value().code(); };
  using pdm::errc;
  CHECK(code(R"({"A": 1 /* note */})") == errc::parse_error);
  CHECK(code(R"({"A": 1,})") == errc::parse_error);
  CHECK(code("") == errc::parse_error);
  CHECK(pdm::load_json("\xEF\xBB\xBF{}").has_value());  // a byte order mark is skipped
  CHECK(code("[]") == errc::wrong_type);
  for (const char* number : {"1.5", "1e3", "1.0"})
    CHECK(code(std::string(R"({"A": )") + number + "}") == errc::wrong_type);
  CHECK(code(R"({"A": 18446744073709551616})") == errc::integer_too_big);
  CHECK(code(R"({"A": null})") == errc::wrong_type);
  CHECK(code(R"({"A": [1]})") == errc::wrong_type);
  CHECK(code(R"({"A": 1, "A": 2})") == errc::duplicate_key);
  for (const char* key : {"", "a/b", "$x", "a\\u0007"})
    CHECK(code(std::string(R"({")") + key + R"(": 1})") == errc::invalid_name);
  CHECK(code("{\"" + std::string(256, 'k') + "\": 1}") == errc::invalid_name);
  CHECK(code("{\"A\": \"\xc3\"}") == errc::parse_error);
  CHECK(code(R"({"A": {"$bytes": "AA="}})") == errc::invalid_value);
  CHECK(code(R"({"A": {"$bytes": "AA==", "B": 1}})") == errc::invalid_value);
  CHECK(pdm::load_json(R"({"A": 1})", {.max_input_bytes = 4}).error_value() == errc::out_of_range);
  CHECK(pdm::load_json(R"({"A": {"$bytes": ""}, "E": {}})").has_value());
  CHECK(pdm::load_json(R"({"A": -9223372036854775808, "B": 18446744073709551615})").has_value());
}

TEST_CASE("guide: overrides") {
  pdm::config_tree t = load_example();
  std::ostringstream out;
  REQUIRE(override_serial(t.root(), out));
  CHECK(out.str() == guide_block("output: overrides"));
  CHECK(*t->get<int>("Devices/serial/0/Config/IRQ") == 3);

  // The rules the guide states beside the example.
  CHECK(pdm::apply_override(t.root(), "Devices/serial/0/Config/IRQ=abc").error_value() == pdm::errc::wrong_type);
  CHECK(pdm::apply_override(t.root(), "New=99999999999999999999").error_value() == pdm::errc::integer_too_big);
  CHECK(pdm::apply_override(t.root(), "New=-9223372036854775809").error_value() == pdm::errc::integer_too_small);
  CHECK(pdm::apply_override(t.root(), "Devices/serial/0=1").error_value() == pdm::errc::wrong_type);
  CHECK(pdm::apply_override(t.root(), "Devices/serial/0/Config/IRQ").error_value() == pdm::errc::invalid_argument);
  REQUIRE(pdm::apply_override(t.root(), "Path=/a=b"));
  CHECK(*t->get<std::string>("Path") == "/a=b");
  REQUIRE(pdm::apply_override(t.root(), "Empty="));
  CHECK(t->find_value("Empty")->kind() == pdm::value_kind::string);
  REQUIRE(pdm::apply_override(t.root(), "Key:bytes=00FF"));
  CHECK(t->get<pdm::config_bytes>("Key")->size() == 2);
  REQUIRE(pdm::apply_override(t.root(), "Devices/ahci/0/LUN#0/Config/Uuid:string=none"));
  CHECK(*t->get<std::string>("Devices/ahci/0/LUN#0/Config/Uuid") == "none");
}

TEST_CASE("guide: the dump") {
  pdm::config_tree t = load_example();
  pdm::config_node& vm = t.root();
  std::ostringstream out;

  out << vm.find_child("Devices/ahci/0/LUN#0")->dump();

  CHECK(out.str() == guide_block("output: dump"));
}
