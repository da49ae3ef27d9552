// Driver transformations through pdm::vm: what each action does to a chain and to the config,
// how rules match and in which order they apply, the loop guard, re-attaching, errors, and
// rollback of transformations when an attach fails.
#include <pdm/config/json.hpp>
#include <pdm/pdm.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chain/chain_drivers.hpp"

namespace {

pdm::config_tree parse(std::string_view json) {
  pdm::result<pdm::config_tree> t = pdm::load_json(json);
  if (!t) FAIL("bad test JSON: " << t.error_value().message());
  return std::move(*t);
}

// {"Driver": "A", "AttachedDriver": {"Driver": "B", ...}} for the drivers A, B, ...
std::string chain_json(const std::vector<std::string_view>& drivers) {
  std::string out;
  std::size_t open = 0;
  for (std::string_view d : drivers) {
    out += open == 0 ? "{" : ", \"AttachedDriver\": {";
    out += "\"Driver\": \"" + std::string(d) + "\"";
    ++open;
  }
  out.append(open, '}');
  return out;
}

// A device whose LUNs need bytes (not words), so that any pass-through driver may top its chains.
pdm::device_spec store_spec() {
  pdm::device_spec s{.name = "store", .instance = 0};
  for (std::uint32_t n : {0U, 1U}) {
    s.luns.push_back(pdm::lun_spec{.number = n, .offers = {}, .needs = pdm::interfaces<chain_test::bytes>()});
  }
  s.hooks.on_detach = [](std::uint32_t lun, pdm::attach_flags) {
    chain_test::note("store detach LUN#" + std::to_string(lun));
  };
  return s;
}

constexpr std::string_view rules = "PDM/DriverTransformations/";
constexpr std::string_view disk0 = "Devices/disk/0/LUN#0";
constexpr std::string_view disk1 = "Devices/disk/0/LUN#1";
constexpr std::string_view store0 = "Devices/store/0/LUN#0";

// A VM on the current thread with the devices `disk` (LUNs need words: Top goes on top) and
// `store` (LUNs need bytes), and helpers to configure, attach and look.
class bench {
 public:
  bench()
      : vm_(chain_test::make_registry(), pdm::config_tree{}, pdm::vm_options{.emt = pdm::emt_mode::current_thread}) {
    REQUIRE(vm_.add_device(disk_.spec()));
    REQUIRE(vm_.add_device(store_spec()));
    (void)chain_test::take_journal();
  }

  // Puts the JSON object `json` at `path` (replacing what was there).
  void put(std::string_view path, std::string_view json) {
    const std::size_t slash = path.rfind('/');
    pdm::config_node* parent = &vm_.config();
    if (slash != std::string_view::npos) {
      pdm::result<pdm::config_node*> p = vm_.config().ensure_child(path.substr(0, slash));
      REQUIRE(p);
      parent = *p;
    }
    const std::string_view name = slash != std::string_view::npos ? path.substr(slash + 1) : path;
    if (parent->has_child(name)) REQUIRE(parent->remove_child(name));
    REQUIRE(parent->adopt(name, parse(json)));
  }
  void rule(std::string_view name, std::string_view json) { put(std::string(rules) + std::string(name), json); }
  void chain_at(std::string_view path, const std::vector<std::string_view>& drivers) { put(path, chain_json(drivers)); }
  void set(std::string_view path, pdm::config_value v) {
    pdm::status s = vm_.config().set_value(path, std::move(v));
    REQUIRE(s);
  }

  pdm::result<pdm::driver_ref> attach(std::string_view device, std::uint32_t lun = 0) {
    return vm_.attach(device, 0, lun);
  }
  // Attaches and fails the test case if that fails.
  void attach_ok(std::string_view device, std::uint32_t lun = 0) {
    pdm::result<pdm::driver_ref> r = attach(device, lun);
    if (!r) FAIL("attach " << device << " LUN#" << lun << ": " << r.error_value().message());
  }
  void detach_ok(std::string_view device, std::uint32_t lun = 0) {
    pdm::status s = vm_.detach(device, 0, lun);
    if (!s) FAIL("detach " << device << " LUN#" << lun << ": " << s.error_value().message());
  }

  // "Top#0 > Cache#0 > Mem#0" (empty if nothing is attached).
  std::string chain(std::string_view device, std::uint32_t lun = 0) { return describe(device, lun, true); }
  // "Top > Cache > Mem".
  std::string names(std::string_view device, std::uint32_t lun = 0) { return describe(device, lun, false); }

  // The string value at `path`, or "<none>".
  std::string value(std::string_view path) const {
    const pdm::config_value* v = vm_.config().find_value(path);
    if (v == nullptr) return "<none>";
    if (v->kind() != pdm::value_kind::string) return "<not a string: " + v->text() + ">";
    return v->string();
  }
  bool has_node(std::string_view path) const { return vm_.config().has_child(path); }
  std::string config() const { return vm_.config().dump(); }
  std::string dump() {
    pdm::result<std::string> d = vm_.dump();
    REQUIRE(d);
    return *d;
  }
  pdm::driver_counts counts(std::string_view driver) {
    pdm::result<pdm::driver_counts> c = vm_.counts(driver);
    REQUIRE(c);
    return *c;
  }
  // The `occurrence`-th `driver` in a LUN's chain (from the top), as its interface I.
  template <class I>
  I* layer(std::string_view device, std::uint32_t lun, std::string_view driver, std::uint32_t occurrence = 0) {
    pdm::result<pdm::driver_ref> r = vm_.driver_on_lun(device, 0, lun, driver, occurrence);
    REQUIRE(r);
    I* i = r->query<I>();
    REQUIRE(i != nullptr);
    return i;
  }
  std::size_t mem_size(std::string_view device, std::uint32_t lun = 0) {
    return layer<chain_test::bytes>(device, lun, "Mem")->size();
  }

  pdm::vm& vm() { return vm_; }

 private:
  std::string describe(std::string_view device, std::uint32_t lun, bool instances) {
    pdm::result<std::vector<pdm::driver_ref>> c = vm_.chain(device, 0, lun);
    REQUIRE(c);
    std::string out;
    for (const pdm::driver_ref& r : *c) {
      if (!out.empty()) out += " > ";
      out += r.name();
      if (instances) out += "#" + std::to_string(r.instance());
    }
    return out;
  }

  chain_test::disk_device disk_;  // before vm_: the VM uses its port
  pdm::vm vm_;
};

std::string join(std::string_view a, std::string_view b) { return std::string(a) + "/" + std::string(b); }

// Everything an attach must leave as it was when it fails.
struct snapshot {
  std::string config;
  std::string dump;
  std::string restricted;  // the paths of the restricted roots (what Config a driver was handed)
  std::vector<std::pair<std::string, pdm::driver_counts>> counts;  // per test driver
};
void restricted_roots(const pdm::config_node& n, std::string& out) {
  for (const auto& e : n.entries()) {
    if (!e.is_node()) continue;
    if (e.node().is_restricted_root()) out += e.node().path() + "\n";
    restricted_roots(e.node(), out);
  }
}
snapshot take(bench& b) {
  snapshot s{b.config(), b.dump(), {}, {}};
  restricted_roots(b.vm().config(), s.restricted);
  for (std::string_view d : {"Top", "Cache", "Tracer", "Plain", "Mem", "Needy", "Solo"}) {
    s.counts.emplace_back(std::string(d), b.counts(d));
  }
  return s;
}
// Checks that `b` is as `before` says, part by part.
void check_unchanged(bench& b, const snapshot& before) {
  const snapshot now = take(b);
  CHECK(now.config == before.config);
  CHECK(now.dump == before.dump);
  CHECK(now.restricted == before.restricted);
  for (std::size_t i = 0; i < now.counts.size(); ++i) {
    INFO("counts of " << now.counts[i].first);
    CHECK(now.counts[i].second.live == before.counts[i].second.live);
    CHECK(now.counts[i].second.next_instance == before.counts[i].second.next_instance);
  }
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace

// --- The six actions ------------------------------------------------------------------------------

TEST_CASE("inject puts the template's driver above the matching one, which moves below it") {
  bench b;
  b.chain_at(disk0, {"Top", "Cache", "Mem"});
  b.rule("trace", R"({"BelowDriver": "Cache", "AttachedDriver": {"Driver": "Tracer"}})");
  const std::string rules_before = b.vm().config().find_child("PDM")->dump();

  b.attach_ok("disk");
  CHECK(b.chain("disk") == "Top#0 > Cache#0 > Tracer#0 > Mem#0");

  // The config now says what is attached, and which rule did what.
  const std::string cache = join(disk0, "AttachedDriver");
  const std::string tracer = join(cache, "AttachedDriver");
  const std::string mem = join(tracer, "AttachedDriver");
  CHECK(b.value(join(disk0, "Driver")) == "Top");
  CHECK(b.value(join(cache, "Driver")) == "Cache");
  CHECK(b.value(join(tracer, "Driver")) == "Tracer");
  CHECK(b.value(join(tracer, "Transformed/trace")) == "inject: injected above Mem");
  CHECK(b.value(join(mem, "Driver")) == "Mem");
  CHECK(b.value(join(mem, "Transformed/trace")) == "inject: moved below Tracer");
  CHECK_FALSE(b.has_node(join(mem, "AttachedDriver")));
  CHECK_FALSE(b.has_node(join(disk0, "Transformed")));
  CHECK_FALSE(b.has_node(join(cache, "Transformed")));
  // The rule itself is not changed by being applied.
  CHECK(b.vm().config().find_child("PDM")->dump() == rules_before);

  CHECK(b.dump() ==
        "disk #0\n"
        "  LUN#0\n"
        "    Top #0\n"
        "    Cache #0\n"
        "    Tracer #0         trace: inject: injected above Mem\n"
        "    Mem #0            trace: inject: moved below Tracer\n"
        "  LUN#1 (nothing attached)\n"
        "store #0\n"
        "  LUN#0 (nothing attached)\n"
        "  LUN#1 (nothing attached)\n");

  // The injected driver is really in the data path.
  auto* tr = dynamic_cast<chain_test::tracer*>(b.layer<chain_test::bytes>("disk", 0, "Tracer"));
  REQUIRE(tr != nullptr);
  chain_test::words* top = b.layer<chain_test::words>("disk", 0, "Top");
  CHECK(top->put(3, 0xC0FFEEU));
  std::uint32_t back = 0;
  CHECK(top->get(3, back));
  CHECK(back == 0xC0FFEEU);
  CHECK(tr->writes == 1);
  CHECK(tr->reads == 1);
  CHECK(b.counts("Tracer").live == 1);
  CHECK(b.counts("Tracer").next_instance == 1);
}

TEST_CASE("inject: the template's Config goes to the injected driver, the original keeps its own") {
  bench b;
  b.put(disk0, R"({"Driver": "Top", "AttachedDriver": {"Driver": "Mem", "Config": {"Size": 128}}})");
  // An injected Cache that does not attach below by itself.
  b.rule("cache", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Cache", "Config": {"Attach": false}}})");
  b.attach_ok("disk");
  CHECK(b.chain("disk") == "Top#0 > Cache#0");
  const std::string cache = join(disk0, "AttachedDriver");
  CHECK(b.vm().config().find_value(join(cache, "Config/Attach"))->text() == "false");
  CHECK(b.vm().config().get<int>(join(cache, "AttachedDriver/Config/Size")).value_or(0) == 128);
  CHECK(b.value(join(cache, "AttachedDriver/Driver")) == "Mem");

  // Attached later, the moved Mem is not injected into again, and has its own Config.
  REQUIRE(b.vm().extend_chain("disk", 0, 0));
  CHECK(b.chain("disk") == "Top#0 > Cache#0 > Mem#0");
  CHECK(b.mem_size("disk") == 128);
  CHECK(b.counts("Cache").live == 1);
}

TEST_CASE("mergeconfig replaces values in the driver's Config") {
  bench b;
  b.put(disk0, R"({"Driver": "Top", "AttachedDriver": {"Driver": "Mem", "Config": {"Size": 32, "Attach": true}}})");
  b.rule("grow", R"({"Action": "mergeconfig", "AboveDriver": "Mem", "Config": {"Size": 128}})");
  b.attach_ok("disk");
  CHECK(b.chain("disk") == "Top#0 > Mem#0");
  CHECK(b.mem_size("disk") == 128);
  const std::string mem = join(disk0, "AttachedDriver");
  CHECK(b.vm().config().get<int>(join(mem, "Config/Size")).value_or(0) == 128);
  CHECK(b.vm().config().find_value(join(mem, "Config/Attach"))->text() == "true");  // untouched
  CHECK(b.value(join(mem, "Transformed/grow")) == "mergeconfig: merged into Config");
  CHECK_FALSE(b.has_node(join(disk0, "Transformed")));
  CHECK(contains(b.dump(), "    Mem #0            grow: mergeconfig: merged into Config\n"));
}

TEST_CASE("mergeconfig creates the Config a driver does not have") {
  bench b;
  b.chain_at(disk0, {"Top", "Mem"});
  b.rule("grow", R"({"Action": "mergeconfig", "AboveDriver": "Mem", "Config": {"Size": 24}})");
  b.attach_ok("disk");
  CHECK(b.mem_size("disk") == 24);
}

TEST_CASE("mergeconfig merges nodes: values below are replaced or added, the others kept") {
  bench b;
  b.put(store0, R"({"Driver": "ImgA", "Config": {"Path": "old.img", "Extra": {"Keep": 1, "Change": 2}}})");
  b.rule(
      "img",
      R"({"Action": "mergeconfig", "Device": "store", "Config": {"Path": "new.img", "Extra": {"Change": 3, "Add": 4}}})");
  b.attach_ok("store");
  CHECK(b.chain("store") == "ImgA#0");
  const std::vector<std::string> journal = chain_test::take_journal();
  REQUIRE(!journal.empty());
  CHECK(journal.front() == "ctor ImgA#0 new.img");
  const pdm::config_node& root = b.vm().config();
  const std::string extra = join(store0, "Config/Extra");
  CHECK(root.get<int>(join(extra, "Keep")).value_or(0) == 1);
  CHECK(root.get<int>(join(extra, "Change")).value_or(0) == 3);
  CHECK(root.get<int>(join(extra, "Add")).value_or(0) == 4);
  CHECK(root.find_child(extra)->size() == 3);
}

TEST_CASE("remove drops the driver; the one configured below it takes its place") {
  bench b;
  b.put(disk0, R"({"Driver": "Top", "AttachedDriver": {"Driver": "Cache", "AttachedDriver":
                   {"Driver": "Tracer", "AttachedDriver": {"Driver": "Cache", "AttachedDriver":
                   {"Driver": "Mem", "Config": {"Size": 40}}}}}})");
  b.rule("drop", R"({"Action": "remove", "AboveDriver": "Cache"})");
  b.attach_ok("disk");
  CHECK(b.chain("disk") == "Top#0 > Tracer#0 > Mem#0");
  CHECK(b.counts("Cache").live == 0);
  CHECK(b.counts("Cache").next_instance == 0);  // never constructed
  CHECK(b.mem_size("disk") == 40);              // what moved up kept its Config

  const std::string tracer = join(disk0, "AttachedDriver");
  const std::string mem = join(tracer, "AttachedDriver");
  CHECK(b.value(join(tracer, "Driver")) == "Tracer");
  CHECK(b.value(join(tracer, "Transformed/drop")) == "remove: took the place of Cache");
  CHECK(b.value(join(mem, "Driver")) == "Mem");
  CHECK(b.value(join(mem, "Transformed/drop")) == "remove: took the place of Cache");
  CHECK_FALSE(b.has_node(join(mem, "AttachedDriver")));
  CHECK_FALSE(contains(b.vm().config().find_child(disk0)->dump(), "\"Cache\""));

  const std::string dump = b.dump();
  CHECK(contains(dump, "    Top #0\n    Tracer #0         drop: remove: took the place of Cache\n"));
  CHECK(contains(dump, "    Mem #0            drop: remove: took the place of Cache\n"));
}

TEST_CASE("remove and removetree of a driver with something below it") {
  bench b;
  b.chain_at(disk0, {"Top", "Cache", "Tracer", "Mem"});
  SUBCASE("remove keeps what is below") {
    b.rule("drop", R"({"Action": "remove", "AboveDriver": "Tracer"})");
    b.attach_ok("disk");
    CHECK(b.chain("disk") == "Top#0 > Cache#0 > Mem#0");
    CHECK(b.counts("Mem").live == 1);
  }
  SUBCASE("removetree drops it too") {
    b.rule("drop", R"({"Action": "removetree", "AboveDriver": "Tracer"})");
    b.attach_ok("disk");  // Cache finds nothing to attach below, which it accepts
    CHECK(b.chain("disk") == "Top#0 > Cache#0");
    CHECK(b.counts("Mem").live == 0);
    CHECK(b.counts("Mem").next_instance == 0);
    CHECK(b.counts("Tracer").next_instance == 0);
  }
  CHECK(b.counts("Tracer").live == 0);
}

TEST_CASE("remove or removetree of the only driver: the attach finds no driver, the config stays") {
  for (const std::string action : {"remove", "removetree"}) {
    CAPTURE(action);
    bench b;
    b.chain_at(store0, {"Mem"});
    b.rule("gone", R"({"Action": ")" + action + R"(", "BelowDriver": "<top>"})");
    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> r = b.attach("store");
    REQUIRE_FALSE(r);
    CHECK(r.error_value() == pdm::errc::no_attached_driver);
    CHECK(r.error_value().config_path() == store0);
    CHECK(contains(r.error_value().detail(), "transformation removed"));
    check_unchanged(b, before);
    CHECK(b.chain("store").empty());
  }
}

TEST_CASE("removetree of a driver at the bottom of a chain leaves the driver above it at the bottom") {
  bench b;
  b.chain_at(disk0, {"Top", "Cache", "Mem"});
  b.rule("nomem", R"({"Action": "removetree", "AboveDriver": "Mem"})");
  b.attach_ok("disk");
  CHECK(b.chain("disk") == "Top#0 > Cache#0");
  CHECK(b.counts("Mem").live == 0);
  // The config says what the chain is: the position is empty but for the rule's mark.
  const std::string mem = join(join(disk0, "AttachedDriver"), "AttachedDriver");
  CHECK_FALSE(b.vm().config().has_value(join(mem, "Driver")));
  CHECK(b.value(join(mem, "Transformed/nomem")) == "removetree: removed Mem");
  // Re-attached, it is the same again.
  b.detach_ok("disk");
  b.attach_ok("disk");
  CHECK(b.names("disk") == "Top > Cache");
}

TEST_CASE("replace puts the template in the driver's place and keeps what is below it") {
  bench b;
  b.put(disk0, R"({"Driver": "Top", "AttachedDriver": {"Driver": "Cache", "Config": {"Size": 99},
                   "AttachedDriver": {"Driver": "Mem", "Config": {"Size": 48}}}})");
  b.rule("swap", R"({"Action": "replace", "AboveDriver": "Cache",
                     "AttachedDriver": {"Driver": "Tracer", "Config": {"Size": 7}}})");
  b.attach_ok("disk");
  CHECK(b.chain("disk") == "Top#0 > Tracer#0 > Mem#0");
  CHECK(b.mem_size("disk") == 48);
  CHECK(b.counts("Cache").next_instance == 0);

  const std::string tracer = join(disk0, "AttachedDriver");
  const std::string mem = join(tracer, "AttachedDriver");
  CHECK(b.value(join(tracer, "Driver")) == "Tracer");
  CHECK(b.vm().config().get<int>(join(tracer, "Config/Size")).value_or(0) == 7);  // the template's
  CHECK(b.value(join(tracer, "Transformed/swap")) == "replace: replaced Cache");
  CHECK(b.value(join(mem, "Driver")) == "Mem");
  CHECK_FALSE(b.has_node(join(mem, "Transformed")));  // kept as it was
  CHECK(contains(b.dump(), "    Tracer #0         swap: replace: replaced Cache\n    Mem #0\n"));
}

TEST_CASE("replacetree puts the template's whole chain in place of the rest") {
  bench b;
  b.put(disk0, R"({"Driver": "Top", "AttachedDriver": {"Driver": "Cache",
                   "AttachedDriver": {"Driver": "Mem", "Config": {"Size": 128}}}})");
  b.rule("tree", R"({"Action": "replacetree", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Tracer",
                     "AttachedDriver": {"Driver": "Plain", "AttachedDriver": {"Driver": "Mem", "Config": {"Size": 32}}}}})");
  b.attach_ok("disk");
  CHECK(b.chain("disk") == "Top#0 > Tracer#0 > Plain#0 > Mem#0");
  CHECK(b.mem_size("disk") == 32);
  CHECK(b.counts("Cache").next_instance == 0);
  CHECK(b.counts("Mem").live == 1);

  const std::string tracer = join(disk0, "AttachedDriver");
  const std::string plain = join(tracer, "AttachedDriver");
  const std::string mem = join(plain, "AttachedDriver");
  CHECK(b.value(join(tracer, "Transformed/tree")) == "replacetree: replaced Cache and what was below it");
  CHECK(b.value(join(plain, "Transformed/tree")) == "replacetree: from the rule's template");
  CHECK(b.value(join(mem, "Transformed/tree")) == "replacetree: from the rule's template");
  CHECK_FALSE(contains(b.vm().config().find_child(disk0)->dump(), "\"Cache\""));

  CHECK(contains(b.dump(),
                 "    Top #0\n"
                 "    Tracer #0         tree: replacetree: replaced Cache and what was below it\n"
                 "    Plain #0          tree: replacetree: from the rule's template\n"
                 "    Mem #0            tree: replacetree: from the rule's template\n"));
}

TEST_CASE("replace and replacetree with a one-driver template differ in what stays below") {
  bench b;
  b.chain_at(disk0, {"Top", "Cache", "Mem"});
  SUBCASE("replace") {
    b.rule("r", R"({"Action": "replace", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Tracer"}})");
    b.attach_ok("disk");
    CHECK(b.chain("disk") == "Top#0 > Tracer#0 > Mem#0");
    CHECK(b.value(join(disk0, "AttachedDriver/Transformed/r")) == "replace: replaced Cache");
  }
  SUBCASE("replacetree") {
    b.rule("r", R"({"Action": "replacetree", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Tracer"}})");
    b.attach_ok("disk");
    CHECK(b.chain("disk") == "Top#0 > Tracer#0");
    CHECK(b.value(join(disk0, "AttachedDriver/Transformed/r")) == "replacetree: replaced Cache and what was below it");
    CHECK_FALSE(b.has_node(join(disk0, "AttachedDriver/AttachedDriver")));
  }
  SUBCASE("replacetree of the bottom driver") {
    b.rule("r", R"({"Action": "replacetree", "AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer"}})");
    b.attach_ok("disk");
    CHECK(b.chain("disk") == "Top#0 > Cache#0 > Tracer#0");
    CHECK(b.value(join(disk0, "AttachedDriver/AttachedDriver/Transformed/r")) == "replacetree: replaced Mem");
  }
}

TEST_CASE("a rule that replaces a driver by the same driver applies once") {
  bench b;
  b.put(store0, R"({"Driver": "Cache", "AttachedDriver": {"Driver": "Cache", "AttachedDriver": {"Driver": "Mem"}}})");
  SUBCASE("replace") {
    b.rule("same", R"({"Action": "replace", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Cache"}})");
    b.attach_ok("store");
    CHECK(b.chain("store") == "Cache#0 > Cache#1 > Mem#0");
    CHECK(b.value(join(store0, "Transformed/same")) == "replace: replaced Cache");
    CHECK(b.value(join(store0, "AttachedDriver/Transformed/same")) == "replace: replaced Cache");
  }
  SUBCASE("replacetree with the same driver in its template") {
    b.rule("same", R"({"Action": "replacetree", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Cache",
                       "AttachedDriver": {"Driver": "Cache", "AttachedDriver": {"Driver": "Mem"}}}})");
    b.attach_ok("store");
    CHECK(b.chain("store") == "Cache#0 > Cache#1 > Mem#0");
    CHECK(b.value(join(store0, "AttachedDriver/Transformed/same")) == "replacetree: from the rule's template");
  }
}

// --- Matching --------------------------------------------------------------------------------------

TEST_CASE("Device matches the device's name: patterns, wildcards and '|' lists") {
  struct row {
    const char* pattern;
    bool disk;
    bool store;
  };
  const row rows[] = {
      {"disk", true, false},  {"store", false, true},     {"disk|store", true, true}, {"st*", false, true},
      {"?isk", true, false},  {"*", true, true},          {"Disk", false, false},     {"dis", false, false},
      {"|disk", true, false}, {"x|y|s?ore", false, true},
  };
  for (const row& r : rows) {
    INFO("pattern: " << std::string(r.pattern));
    bench b;
    b.chain_at(disk0, {"Top", "Mem"});
    b.chain_at(store0, {"Mem"});
    b.rule("t", std::string(R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer"}, "Device": ")") +
                    r.pattern + "\"}");
    b.attach_ok("disk");
    b.attach_ok("store");
    CHECK(b.names("disk") == std::string(r.disk ? "Top > Tracer > Mem" : "Top > Mem"));
    CHECK(b.names("store") == std::string(r.store ? "Tracer > Mem" : "Mem"));
  }
}

TEST_CASE("LUN matches the LUN's number in decimal") {
  struct row {
    const char* pattern;
    bool lun0;
    bool lun1;
  };
  const row rows[] = {
      {"0", true, false},  {"1", false, true},   {"0|1", true, true}, {"?", true, true},
      {"1*", false, true}, {"01", false, false}, {"*", true, true},   {"2|3", false, false},
  };
  for (const row& r : rows) {
    INFO("pattern: " << std::string(r.pattern));
    bench b;
    b.chain_at(disk0, {"Top", "Mem"});
    b.chain_at(disk1, {"Top", "Mem"});
    b.rule("t", std::string(R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Cache"}, "LUN": ")") + r.pattern +
                    "\"}");
    b.attach_ok("disk", 0);
    b.attach_ok("disk", 1);
    CHECK(b.names("disk", 0) == std::string(r.lun0 ? "Top > Cache > Mem" : "Top > Mem"));
    CHECK(b.names("disk", 1) == std::string(r.lun1 ? "Top > Cache > Mem" : "Top > Mem"));
  }
}

TEST_CASE("BelowDriver matches the driver above the one being attached, <top> at the device") {
  struct row {
    const char* pattern;
    const char* chain;
  };
  const row rows[] = {
      {"<top>", "Tracer > Cache > Plain > Mem"},
      {"Cache", "Cache > Tracer > Plain > Mem"},
      {"Plain", "Cache > Plain > Tracer > Mem"},
      {"Plain|<top>", "Tracer > Cache > Plain > Tracer > Mem"},
      {"C*", "Cache > Tracer > Plain > Mem"},
      {"?lain", "Cache > Plain > Tracer > Mem"},
      {"<*>", "Tracer > Cache > Plain > Mem"},
      {"Mem", "Cache > Plain > Mem"},  // nothing is below Mem
      {"top", "Cache > Plain > Mem"},
      {"", "Cache > Plain > Mem"},
  };
  for (const row& r : rows) {
    INFO("pattern: " << std::string(r.pattern));
    bench b;
    b.chain_at(store0, {"Cache", "Plain", "Mem"});
    b.rule("t", std::string(R"({"AttachedDriver": {"Driver": "Tracer"}, "BelowDriver": ")") + r.pattern + "\"}");
    b.attach_ok("store");
    CHECK(b.names("store") == std::string(r.chain));
  }
}

TEST_CASE("AboveDriver matches the driver being attached; with BelowDriver both must match") {
  struct row {
    const char* below;
    const char* above;
    const char* chain;
  };
  const row rows[] = {
      {"*", "Mem", "Cache > Plain > Tracer > Mem"},
      {"*", "Plain|Mem", "Cache > Tracer > Plain > Tracer > Mem"},
      {"*", "*e", "Tracer > Cache > Plain > Mem"},
      {"*", "M??", "Cache > Plain > Tracer > Mem"},
      {"*", "Cache|Plain|Mem", "Tracer > Cache > Tracer > Plain > Tracer > Mem"},
      {"*", "mem", "Cache > Plain > Mem"},
      {"*", "Me", "Cache > Plain > Mem"},
      {"Plain", "Mem", "Cache > Plain > Tracer > Mem"},
      {"Cache", "Mem", "Cache > Plain > Mem"},
      {"<top>", "Plain", "Cache > Plain > Mem"},
      {"<top>", "Cache", "Tracer > Cache > Plain > Mem"},
  };
  for (const row& r : rows) {
    INFO("below: " << std::string(r.below));
    INFO("above: " << std::string(r.above));
    bench b;
    b.chain_at(store0, {"Cache", "Plain", "Mem"});
    b.rule("t", std::string(R"({"AttachedDriver": {"Driver": "Tracer"}, "BelowDriver": ")") + r.below +
                    R"(", "AboveDriver": ")" + r.above + "\"}");
    b.attach_ok("store");
    CHECK(b.names("store") == std::string(r.chain));
  }
}

TEST_CASE("a rule must match on every key it has") {
  bench b;
  b.chain_at(disk0, {"Top", "Cache", "Mem"});
  b.chain_at(disk1, {"Top", "Cache", "Mem"});
  b.chain_at(store0, {"Cache", "Mem"});
  b.rule("t", R"({"Device": "disk", "LUN": "1", "BelowDriver": "Cache", "AboveDriver": "Mem",
                  "AttachedDriver": {"Driver": "Tracer"}})");
  b.attach_ok("disk", 0);
  b.attach_ok("disk", 1);
  b.attach_ok("store");
  CHECK(b.names("disk", 0) == "Top > Cache > Mem");
  CHECK(b.names("disk", 1) == "Top > Cache > Tracer > Mem");
  CHECK(b.names("store") == "Cache > Mem");
  CHECK(b.counts("Tracer").live == 1);
}

// --- Order -------------------------------------------------------------------------------------------

TEST_CASE("rules apply in rule-name order, not in the order they were configured") {
  bench b;
  b.chain_at(store0, {"Mem"});
  SUBCASE("a-cache before b-tracer") {
    // Configured second, applied first: Cache goes above Mem; b-tracer then no longer sees Mem
    // there, and applies when Mem is attached below Cache.
    b.rule("b-tracer", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer"}})");
    b.rule("a-cache", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Cache"}})");
    b.attach_ok("store");
    CHECK(b.chain("store") == "Cache#0 > Tracer#0 > Mem#0");
  }
  SUBCASE("a-tracer before b-cache") {
    b.rule("b-cache", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Cache"}})");
    b.rule("a-tracer", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer"}})");
    b.attach_ok("store");
    CHECK(b.chain("store") == "Tracer#0 > Cache#0 > Mem#0");
  }
  SUBCASE("byte-wise: upper case before lower case, '1' before '9'") {
    b.rule("b", R"({"Action": "mergeconfig", "AboveDriver": "Mem", "Config": {"Size": 16}})");
    b.rule("a", R"({"Action": "mergeconfig", "AboveDriver": "Mem", "Config": {"Size": 24}})");
    b.rule("Z", R"({"Action": "mergeconfig", "AboveDriver": "Mem", "Config": {"Size": 8}})");
    b.rule("10", R"({"Action": "mergeconfig", "AboveDriver": "Mem", "Config": {"Size": 40}})");
    b.rule("9", R"({"Action": "mergeconfig", "AboveDriver": "Mem", "Config": {"Size": 32}})");
    b.attach_ok("store");
    CHECK(b.mem_size("store") == 16);  // "10" < "9" < "Z" < "a" < "b": b is last
  }
}

TEST_CASE("a later rule sees what an earlier one made; an earlier one does not") {
  bench b;
  b.chain_at(store0, {"Cache", "Mem"});
  SUBCASE("replace, then a mergeconfig that matches the replacement") {
    b.rule("b-merge", R"({"Action": "mergeconfig", "AboveDriver": "Tracer", "Config": {"Attach": false}})");
    b.rule("a-replace", R"({"Action": "replace", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Tracer"}})");
    b.attach_ok("store");
    CHECK(b.chain("store") == "Tracer#0");  // merged Attach = false: Tracer attaches nothing below
    CHECK(b.value(join(store0, "Transformed/a-replace")) == "replace: replaced Cache");
    CHECK(b.value(join(store0, "Transformed/b-merge")) == "mergeconfig: merged into Config");
  }
  SUBCASE("the mergeconfig comes first and finds no Tracer yet") {
    b.rule("b-replace", R"({"Action": "replace", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Tracer"}})");
    b.rule("a-merge", R"({"Action": "mergeconfig", "AboveDriver": "Tracer", "Config": {"Attach": false}})");
    b.attach_ok("store");
    CHECK(b.chain("store") == "Tracer#0 > Mem#0");
    CHECK_FALSE(b.vm().config().has_value(join(store0, "Config/Attach")));
    CHECK_FALSE(contains(b.dump(), "a-merge"));
  }
  SUBCASE("remove, then a rule for the driver that took the place") {
    b.rule("b-grow", R"({"Action": "mergeconfig", "BelowDriver": "<top>", "Config": {"Size": 96}})");
    b.rule("a-drop", R"({"Action": "remove", "AboveDriver": "Cache"})");
    b.attach_ok("store");
    CHECK(b.chain("store") == "Mem#0");
    CHECK(b.mem_size("store") == 96);
  }
}

TEST_CASE("the dump shows what rules did; inherited marks stay in the config only") {
  bench b;
  b.chain_at(disk0, {"Top", "Mem"});
  b.rule("b-inject", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer"}})");
  b.rule("a-merge", R"({"Action": "mergeconfig", "AboveDriver": "Mem", "Config": {"Size": 16}})");
  b.attach_ok("disk");
  CHECK(b.chain("disk") == "Top#0 > Tracer#0 > Mem#0");
  CHECK(b.mem_size("disk") == 16);
  const std::string tracer = join(disk0, "AttachedDriver");
  const std::string mem = join(tracer, "AttachedDriver");
  CHECK(b.value(join(tracer, "Transformed/a-merge")) == "inherited");
  CHECK(b.value(join(tracer, "Transformed/b-inject")) == "inject: injected above Mem");
  CHECK(b.value(join(mem, "Transformed/a-merge")) == "mergeconfig: merged into Config");
  CHECK(b.value(join(mem, "Transformed/b-inject")) == "inject: moved below Tracer");
  CHECK_FALSE(b.vm().config().has_value(join(tracer, "Config/Size")));  // merged into Mem's only
  CHECK(b.dump() ==
        "disk #0\n"
        "  LUN#0\n"
        "    Top #0\n"
        "    Tracer #0         b-inject: inject: injected above Mem\n"
        "    Mem #0            a-merge: mergeconfig: merged into Config; b-inject: inject: moved below Tracer\n"
        "  LUN#1 (nothing attached)\n"
        "store #0\n"
        "  LUN#0 (nothing attached)\n"
        "  LUN#1 (nothing attached)\n");
}

// --- The loop guard ----------------------------------------------------------------------------------

TEST_CASE("loop guard without AboveDriver: inject below every driver gives each exactly one") {
  bench b;
  b.chain_at(store0, {"Cache", "Plain", "Mem"});
  b.rule("every", R"({"BelowDriver": "*", "AttachedDriver": {"Driver": "Tracer"}})");
  b.attach_ok("store");
  CHECK(b.chain("store") == "Tracer#0 > Cache#0 > Tracer#1 > Plain#0 > Tracer#2 > Mem#0");
  CHECK(b.counts("Tracer").live == 3);
  // Each injected Tracer is marked as made by the rule, each configured driver as moved.
  CHECK(b.value(join(store0, "Transformed/every")) == "inject: injected above Cache");
  CHECK(b.value(join(store0, "AttachedDriver/Transformed/every")) == "inject: moved below Tracer");
  CHECK(b.value(join(store0, "AttachedDriver/AttachedDriver/Transformed/every")) == "inject: injected above Plain");
}

TEST_CASE("loop guard with AboveDriver") {
  bench b;
  SUBCASE("AboveDriver '*' matches the injected driver too, and still injects once per driver") {
    b.chain_at(store0, {"Cache", "Plain", "Mem"});
    b.rule("every", R"({"AboveDriver": "*", "AttachedDriver": {"Driver": "Tracer"}})");
    b.attach_ok("store");
    CHECK(b.names("store") == "Tracer > Cache > Tracer > Plain > Tracer > Mem");
  }
  SUBCASE("a driver injected above its own kind") {
    b.chain_at(store0, {"Tracer", "Mem"});
    b.rule("twice", R"({"AboveDriver": "Tracer", "AttachedDriver": {"Driver": "Tracer"}})");
    b.attach_ok("store");
    CHECK(b.chain("store") == "Tracer#0 > Tracer#1 > Mem#0");
  }
  SUBCASE("above each of two of its kind") {
    b.chain_at(store0, {"Cache", "Cache", "Mem"});
    b.rule("twice", R"({"AboveDriver": "Cache", "AttachedDriver": {"Driver": "Cache"}})");
    b.attach_ok("store");
    CHECK(b.names("store") == "Cache > Cache > Cache > Cache > Mem");
    CHECK(b.counts("Cache").live == 4);
  }
}

TEST_CASE("two inject rules that could ping-pong stop after one round") {
  bench b;
  b.chain_at(store0, {"Tracer", "Mem"});
  SUBCASE("with AboveDriver") {
    b.rule("a", R"({"AboveDriver": "Tracer", "AttachedDriver": {"Driver": "Cache"}})");
    b.rule("b", R"({"AboveDriver": "Cache", "AttachedDriver": {"Driver": "Tracer"}})");
    b.attach_ok("store");
    CHECK(b.chain("store") == "Tracer#0 > Cache#0 > Tracer#1 > Mem#0");
  }
  SUBCASE("with BelowDriver only (where the reference's guard does not work)") {
    b.rule("a", R"({"BelowDriver": "Tracer", "AttachedDriver": {"Driver": "Cache"}})");
    b.rule("b", R"({"BelowDriver": "Cache", "AttachedDriver": {"Driver": "Tracer"}})");
    b.attach_ok("store");
    CHECK(b.chain("store") == "Tracer#0 > Cache#0 > Tracer#1 > Mem#0");
  }
  CHECK(b.counts("Tracer").live == 2);
  CHECK(b.counts("Cache").live == 1);
}

// --- Re-attaching ------------------------------------------------------------------------------------

TEST_CASE("re-attaching after a detach does not apply the rules again") {
  struct row {
    const char* what;
    const char* rule;
    const char* chain;
  };
  const row rows[] = {
      {"inject", R"({"BelowDriver": "Cache", "AttachedDriver": {"Driver": "Tracer"}})", "Top > Cache > Tracer > Mem"},
      {"inject everywhere", R"({"BelowDriver": "Top|Cache", "AttachedDriver": {"Driver": "Tracer"}})",
       "Top > Tracer > Cache > Tracer > Mem"},
      {"mergeconfig", R"({"Action": "mergeconfig", "AboveDriver": "Mem", "Config": {"Size": 72}})",
       "Top > Cache > Mem"},
      {"remove", R"({"Action": "remove", "AboveDriver": "Cache"})", "Top > Mem"},
      {"replace", R"({"Action": "replace", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Cache"}})",
       "Top > Cache > Mem"},
      {"replacetree",
       R"({"Action": "replacetree", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Tracer",
           "AttachedDriver": {"Driver": "Cache", "AttachedDriver": {"Driver": "Mem"}}}})",
       "Top > Tracer > Cache > Mem"},
  };
  for (const row& r : rows) {
    INFO("what: " << std::string(r.what));
    bench b;
    b.chain_at(disk0, {"Top", "Cache", "Mem"});
    b.rule("r", r.rule);
    b.attach_ok("disk");
    CHECK(b.names("disk") == std::string(r.chain));
    const std::string config = b.config();
    for (int round = 0; round < 2; ++round) {
      CAPTURE(round);
      b.detach_ok("disk");
      CHECK(b.names("disk").empty());
      b.attach_ok("disk");
      CHECK(b.names("disk") == std::string(r.chain));
      CHECK(b.config() == config);
    }
  }
}

TEST_CASE("detaching part of a transformed chain and extending it again does not inject twice") {
  bench b;
  b.chain_at(disk0, {"Top", "Cache", "Mem"});
  b.rule("trace", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer"}})");
  b.attach_ok("disk");
  CHECK(b.chain("disk") == "Top#0 > Cache#0 > Tracer#0 > Mem#0");
  const std::string config = b.config();
  REQUIRE(b.vm().detach_driver("disk", 0, 0, "Tracer"));
  CHECK(b.chain("disk") == "Top#0 > Cache#0");
  REQUIRE(b.vm().extend_chain("disk", 0, 0));
  CHECK(b.chain("disk") == "Top#0 > Cache#0 > Tracer#1 > Mem#1");
  CHECK(b.config() == config);
  CHECK(b.counts("Tracer").live == 1);
}

TEST_CASE("a rule added after an attach applies at the next attach, once; the old ones do not again") {
  bench b;
  b.chain_at(disk0, {"Top", "Cache", "Mem"});
  b.rule("b-trace", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer"}})");
  b.attach_ok("disk");
  CHECK(b.names("disk") == "Top > Cache > Tracer > Mem");
  b.detach_ok("disk");
  b.rule("a-plain", R"({"AboveDriver": "Cache|Mem", "AttachedDriver": {"Driver": "Plain"}})");
  b.attach_ok("disk");
  CHECK(b.names("disk") == "Top > Plain > Cache > Tracer > Plain > Mem");
  const std::string config = b.config();
  b.detach_ok("disk");
  b.attach_ok("disk");
  CHECK(b.names("disk") == "Top > Plain > Cache > Tracer > Plain > Mem");
  CHECK(b.config() == config);
}

TEST_CASE("re-attaching gives the first attach's chain when an earlier-named rule matches what a later one made") {
  // In one pass, a rule sees only the driver configured when its turn comes: here "a" comes
  // before "b" makes the driver "a" would match, so "a" does not apply at the first attach. A
  // re-attach must give the same chain and config, not apply "a" now.
  struct row {
    const char* what;
    const char* a;
    const char* b;
    const char* chain;
  };
  const row rows[] = {
      {"inject, then an inject for the injected driver",
       R"({"AboveDriver": "Plain", "AttachedDriver": {"Driver": "Tracer"}})",
       R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Plain"}})", "Top > Cache > Plain > Mem"},
      {"replace, then a mergeconfig for the replacement",
       R"({"Action": "mergeconfig", "AboveDriver": "Tracer", "Config": {"Attach": false}})",
       R"({"Action": "replace", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Tracer"}})",
       "Top > Tracer > Mem"},
      {"remove, then an inject above the driver that took the place",
       R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer"}})",
       R"({"Action": "remove", "AboveDriver": "Cache"})", "Top > Mem"},
      {"replacetree, then an inject above the template's driver",
       R"({"AboveDriver": "Plain", "AttachedDriver": {"Driver": "Tracer"}})",
       R"({"Action": "replacetree", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Plain",
           "AttachedDriver": {"Driver": "Mem"}}})",
       "Top > Plain > Mem"},
  };
  for (const row& r : rows) {
    INFO("what: " << std::string(r.what));
    bench b;
    b.chain_at(disk0, {"Top", "Cache", "Mem"});
    b.rule("b", r.b);
    b.rule("a", r.a);
    b.attach_ok("disk");
    CHECK(b.names("disk") == std::string(r.chain));
    const std::string config = b.config();
    b.detach_ok("disk");
    b.attach_ok("disk");
    CHECK(b.names("disk") == std::string(r.chain));
    CHECK(b.config() == config);
  }
}

// --- Errors ------------------------------------------------------------------------------------------

TEST_CASE("a misconfigured rule fails the attach with the rule's path, and changes nothing") {
  struct row {
    const char* what;
    const char* rule;  // rule "r"'s JSON
    const char* path;  // below PDM/DriverTransformations/r
    const char* detail;
  };
  const row rows[] = {
      {"unknown key", R"({"Acton": "remove"})", "Acton", "unknown key 'Acton' (did you mean 'Action'?)"},
      {"unknown action", R"({"Action": "injekt", "AttachedDriver": {"Driver": "Tracer"}})", "Action",
       "unknown action 'injekt' (did you mean 'inject'?)"},
      {"inject without AttachedDriver", R"({"BelowDriver": "Cache"})", "AttachedDriver", "needs an AttachedDriver"},
      {"replace without AttachedDriver", R"({"Action": "replace"})", "AttachedDriver", "needs an AttachedDriver"},
      {"replacetree without AttachedDriver", R"({"Action": "replacetree"})", "AttachedDriver",
       "needs an AttachedDriver"},
      {"AttachedDriver without Driver", R"({"AttachedDriver": {"Config": {}}})", "AttachedDriver/Driver",
       "the AttachedDriver template needs a Driver string"},
      {"AttachedDriver with an empty Driver", R"({"AttachedDriver": {"Driver": ""}})", "AttachedDriver/Driver",
       "needs a Driver string"},
      {"AttachedDriver for remove", R"({"Action": "remove", "AttachedDriver": {"Driver": "Tracer"}})", "AttachedDriver",
       "only inject, replace and replacetree rules take an AttachedDriver"},
      {"AttachedDriver for removetree", R"({"Action": "removetree", "AttachedDriver": {"Driver": "Tracer"}})",
       "AttachedDriver", "only inject, replace and replacetree"},
      {"AttachedDriver for mergeconfig",
       R"({"Action": "mergeconfig", "Config": {}, "AttachedDriver": {"Driver": "Tracer"}})", "AttachedDriver",
       "only inject, replace and replacetree"},
      {"mergeconfig without Config", R"({"Action": "mergeconfig"})", "Config", "a mergeconfig rule needs a Config"},
      {"Config for inject", R"({"Config": {"Size": 1}, "AttachedDriver": {"Driver": "Tracer"}})", "Config",
       "only mergeconfig rules take a Config"},
      {"Config for remove", R"({"Action": "remove", "Config": {}})", "Config", "only mergeconfig rules take a Config"},
      {"inject template with its own AttachedDriver",
       R"({"AttachedDriver": {"Driver": "Tracer", "AttachedDriver": {"Driver": "Mem"}}})",
       "AttachedDriver/AttachedDriver", "cannot have its own AttachedDriver (use replacetree)"},
      {"replace template with its own AttachedDriver",
       R"({"Action": "replace", "AttachedDriver": {"Driver": "Tracer", "AttachedDriver": {"Driver": "Mem"}}})",
       "AttachedDriver/AttachedDriver", "cannot have its own AttachedDriver (use replacetree)"},
      {"non-string Device", R"({"Device": 5, "AttachedDriver": {"Driver": "Tracer"}})", "Device", "must be a string"},
      {"non-string LUN", R"({"LUN": 0, "AttachedDriver": {"Driver": "Tracer"}})", "LUN", "must be a string"},
      {"non-string BelowDriver", R"({"BelowDriver": true, "AttachedDriver": {"Driver": "Tracer"}})", "BelowDriver",
       "must be a string"},
      {"non-string AboveDriver", R"({"AboveDriver": 1, "AttachedDriver": {"Driver": "Tracer"}})", "AboveDriver",
       "must be a string"},
      {"a pattern that is a node", R"({"Device": {}, "AttachedDriver": {"Driver": "Tracer"}})", "Device",
       "must be a string value, not a node"},
      {"a broken rule that would not match anyway", R"({"Device": "nothing-here", "Action": "remove", "Config": {}})",
       "Config", "only mergeconfig rules take a Config"},
  };
  for (const row& r : rows) {
    INFO("what: " << std::string(r.what));
    bench b;
    b.chain_at(disk0, {"Top", "Cache", "Mem"});
    b.rule("ok", R"({"BelowDriver": "Cache", "AttachedDriver": {"Driver": "Tracer"}})");
    b.rule("r", r.rule);
    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> got = b.attach("disk");
    REQUIRE_FALSE(got);
    const pdm::error& e = got.error_value();
    CHECK(e == pdm::errc::misconfigured_transformation);
    CHECK(e.config_path() == std::string(rules) + "r/" + r.path);
    CHECK(contains(e.detail(), r.detail));
    CHECK(contains(e.message(), "PDM/DriverTransformations/r"));
    check_unchanged(b, before);
    CHECK(chain_test::take_journal().empty());  // nothing was constructed
  }
}

TEST_CASE("a rule that is a value, and DriverTransformations that is a value") {
  bench b;
  b.chain_at(disk0, {"Top", "Mem"});
  SUBCASE("a rule that is a value") {
    b.rule("ok", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer"}})");
    b.set(std::string(rules) + "oops", "remove");
    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> got = b.attach("disk");
    REQUIRE_FALSE(got);
    CHECK(got.error_value() == pdm::errc::misconfigured_transformation);
    CHECK(got.error_value().config_path() == "PDM/DriverTransformations/oops");
    CHECK(contains(got.error_value().detail(), "must be a node"));
    check_unchanged(b, before);
  }
  SUBCASE("DriverTransformations that is a value") {
    b.put("PDM", R"({"DriverTransformations": "none"})");
    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> got = b.attach("disk");
    REQUIRE_FALSE(got);
    CHECK(got.error_value() == pdm::errc::misconfigured_transformation);
    CHECK(got.error_value().config_path() == "PDM/DriverTransformations");
    check_unchanged(b, before);
  }
  SUBCASE("an empty DriverTransformations node changes nothing") {
    b.put("PDM/DriverTransformations", "{}");
    b.attach_ok("disk");
    CHECK(b.chain("disk") == "Top#0 > Mem#0");
    CHECK_FALSE(contains(b.config(), "Transformed"));
  }
}

TEST_CASE("cannot_transform_removed_driver: a later rule matches a driver an earlier one removed") {
  bench b;
  SUBCASE("at the top of a chain") {
    b.chain_at(store0, {"Cache", "Mem"});
    b.rule("b-trace", R"({"BelowDriver": "<top>", "AttachedDriver": {"Driver": "Tracer"}})");
    b.rule("a-gone", R"({"Action": "removetree", "Device": "store"})");
    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> got = b.attach("store");
    REQUIRE_FALSE(got);
    CHECK(got.error_value() == pdm::errc::cannot_transform_removed_driver);
    CHECK(got.error_value().config_path() == "PDM/DriverTransformations/b-trace");
    CHECK(contains(got.error_value().message(), "rule 'b-trace' matches a driver that an earlier rule removed"));
    check_unchanged(b, before);
  }
  SUBCASE("at depth 2: the whole chain fails and is undone") {
    b.chain_at(disk0, {"Top", "Cache", "Mem"});
    b.rule("b-merge", R"({"Action": "mergeconfig", "BelowDriver": "Cache", "Config": {"Size": 8}})");
    b.rule("a-drop", R"({"Action": "remove", "AboveDriver": "Mem"})");
    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> got = b.attach("disk");
    REQUIRE_FALSE(got);
    CHECK(got.error_value() == pdm::errc::cannot_transform_removed_driver);
    CHECK(got.error_value().config_path() == "PDM/DriverTransformations/b-merge");
    check_unchanged(b, before);
    CHECK(b.chain("disk").empty());
  }
  SUBCASE("a later rule with AboveDriver does not match a removed driver") {
    b.chain_at(disk0, {"Top", "Cache", "Mem"});
    b.rule("b-merge", R"({"Action": "mergeconfig", "AboveDriver": "*", "Config": {"Size": 8}})");
    b.rule("a-drop", R"({"Action": "remove", "AboveDriver": "Mem"})");
    b.attach_ok("disk");
    CHECK(b.chain("disk") == "Top#0 > Cache#0");
  }
}

// --- Rollback ------------------------------------------------------------------------------------------

TEST_CASE("an injected driver whose constructor fails at depth 0: the config is as before") {
  for (const std::string fail : {"error", "throw", "error_after_attach", "throw_after_attach"}) {
    CAPTURE(fail);
    bench b;
    b.chain_at(store0, {"Cache", "Mem"});
    b.rule("trace",
           R"({"BelowDriver": "<top>", "AttachedDriver": {"Driver": "Tracer", "Config": {"Fail": ")" + fail + "\"}}}");
    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> got = b.attach("store");
    REQUIRE_FALSE(got);
    CHECK(got.error_value() == (fail.starts_with("throw") ? pdm::errc::constructor_failed : pdm::errc::invalid_value));
    CHECK(got.error_value().driver_name() == "Tracer");
    check_unchanged(b, before);
    CHECK_FALSE(contains(b.config(), "Transformed"));
    CHECK_FALSE(b.has_node(join(store0, "Config")));  // not created either
    CHECK_FALSE(b.vm().config().find_child(join(store0, "AttachedDriver"))->has_child("Config"));
    const std::vector<std::string> journal = chain_test::take_journal();
    REQUIRE_FALSE(journal.empty());
    CHECK(journal.front() == "ctor Tracer#0");
    if (fail.ends_with("after_attach")) {
      CHECK(std::find(journal.begin(), journal.end(), "dtor Mem#0") != journal.end());
      CHECK(std::find(journal.begin(), journal.end(), "dtor Cache#0") != journal.end());
    }

    // Fixed, it attaches, with the rule applied once and the instance numbers given back.
    b.rule("trace", R"({"BelowDriver": "<top>", "AttachedDriver": {"Driver": "Tracer"}})");
    b.attach_ok("store");
    CHECK(b.chain("store") == "Tracer#0 > Cache#0 > Mem#0");
  }
}

TEST_CASE("a failing constructor at depth 2 undoes the transformations at every level") {
  for (const std::string fail : {"error", "throw", "error_after_attach", "throw_after_attach"}) {
    CAPTURE(fail);
    bench b;
    b.chain_at(disk0, {"Top", "Cache", "Mem"});
    b.chain_at(disk1, {"Top", "Cache", "Mem"});
    // Level 0: Top's Config; level 1: Cache replaced by Plain; level 2: Tracer injected above Mem.
    b.rule("a-merge", R"({"Action": "mergeconfig", "BelowDriver": "<top>", "Config": {"Size": 8}})");
    b.rule("b-replace", R"({"Action": "replace", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Plain"}})");
    b.rule("c-inject", R"({"LUN": "0", "AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer",
                           "Config": {"Fail": ")" +
                           fail + "\"}}}");
    b.rule("d-inject", R"({"LUN": "1", "AboveDriver": "Mem", "AttachedDriver": {"Driver": "Cache"}})");
    // LUN#1 has its own transformed chain, which must stay.
    b.attach_ok("disk", 1);
    CHECK(b.chain("disk", 1) == "Top#0 > Plain#0 > Cache#0 > Mem#0");
    (void)chain_test::take_journal();

    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> got = b.attach("disk", 0);
    REQUIRE_FALSE(got);
    CHECK(got.error_value() == (fail.starts_with("throw") ? pdm::errc::constructor_failed : pdm::errc::invalid_value));
    check_unchanged(b, before);
    CHECK(b.chain("disk", 0).empty());
    CHECK_FALSE(b.has_node(join(disk0, "Transformed")));
    CHECK_FALSE(b.has_node(join(disk0, "Config")));
    CHECK(b.value(join(disk0, "AttachedDriver/Driver")) == "Cache");
    CHECK(b.value(join(disk0, "AttachedDriver/AttachedDriver/Driver")) == "Mem");
    const std::vector<std::string> journal = chain_test::take_journal();
    CHECK(std::find(journal.begin(), journal.end(), "ctor Tracer#0") != journal.end());
    CHECK(std::find(journal.begin(), journal.end(), "dtor Plain#1") != journal.end());
    CHECK(std::find(journal.begin(), journal.end(), "dtor Top#1") != journal.end());

    // The other chain still works.
    chain_test::words* top = b.layer<chain_test::words>("disk", 1, "Top");
    CHECK(top->put(0, 5));
    std::uint32_t back = 0;
    CHECK(top->get(0, back));
    CHECK(back == 5);
  }
}

TEST_CASE("a failing driver deep in a replacetree template undoes the whole transformation") {
  bench b;
  b.chain_at(disk0, {"Top", "Cache", "Mem"});
  b.rule("tree", R"({"Action": "replacetree", "AboveDriver": "Cache", "AttachedDriver": {"Driver": "Tracer",
                     "AttachedDriver": {"Driver": "Plain", "AttachedDriver": {"Driver": "Mem", "Config": {"Fail": "throw"}}}}})");
  const snapshot before = take(b);
  pdm::result<pdm::driver_ref> got = b.attach("disk");
  REQUIRE_FALSE(got);
  CHECK(got.error_value() == pdm::errc::constructor_failed);
  check_unchanged(b, before);
  CHECK(b.value(join(disk0, "AttachedDriver/Driver")) == "Cache");
}

TEST_CASE("a device on_attach that fails undoes the transformations too") {
  bench b;
  b.chain_at(store0, {"Cache", "Mem"});
  b.rule("trace", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer"}})");
  // A second device whose on_attach refuses.
  pdm::device_spec s{.name = "picky", .instance = 0};
  s.luns.push_back(pdm::lun_spec{.number = 0, .offers = {}, .needs = pdm::interfaces<chain_test::bytes>()});
  s.hooks.on_attach = [](std::uint32_t, pdm::attach_flags) -> pdm::status {
    return pdm::error(pdm::errc::invalid_value, "not today");
  };
  REQUIRE(b.vm().add_device(std::move(s)));
  b.chain_at("Devices/picky/0/LUN#0", {"Cache", "Mem"});
  const snapshot before = take(b);
  pdm::result<pdm::driver_ref> got = b.vm().attach("picky", 0, 0);
  REQUIRE_FALSE(got);
  CHECK(got.error_value() == pdm::errc::invalid_value);
  check_unchanged(b, before);
  CHECK_FALSE(contains(b.config(), "Transformed"));
}

TEST_CASE("a driver that fails after attaching a transformed chain below it undoes that chain's transformations") {
  for (const std::string fail : {"error_after_attach", "throw_after_attach"}) {
    CAPTURE(fail);
    bench b;
    b.put(store0, R"({"Driver": "Cache", "Config": {"Fail": ")" + fail + R"("}, "AttachedDriver":
                     {"Driver": "Plain", "AttachedDriver": {"Driver": "Mem"}}})");
    b.rule("a-trace", R"({"AboveDriver": "Plain|Mem", "AttachedDriver": {"Driver": "Tracer"}})");
    b.rule("b-grow", R"({"Action": "mergeconfig", "AboveDriver": "Mem", "Config": {"Size": 8}})");
    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> got = b.attach("store");
    REQUIRE_FALSE(got);
    check_unchanged(b, before);
    const std::vector<std::string> journal = chain_test::take_journal();
    // What was built below Cache (with the transformations) was built, then destroyed.
    CHECK(std::count(journal.begin(), journal.end(), "ctor Tracer#0") == 1);
    CHECK(std::count(journal.begin(), journal.end(), "ctor Tracer#1") == 1);
    CHECK(std::count(journal.begin(), journal.end(), "dtor Tracer#1") == 1);
    CHECK(std::count(journal.begin(), journal.end(), "dtor Mem#0") == 1);
  }
}

TEST_CASE("a failing attach after an earlier successful one leaves the earlier transformations in place") {
  bench b;
  b.chain_at(disk0, {"Top", "Cache", "Mem"});
  b.rule("a", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer"}})");
  b.attach_ok("disk");
  b.detach_ok("disk");
  const std::string first = b.config();
  b.rule("b", R"({"AboveDriver": "Cache", "AttachedDriver": {"Driver": "Plain", "Config": {"Fail": "error"}}})");
  const snapshot before = take(b);
  pdm::result<pdm::driver_ref> got = b.attach("disk");
  REQUIRE_FALSE(got);
  check_unchanged(b, before);
  CHECK(b.value(join(disk0, "AttachedDriver/AttachedDriver/Transformed/a")) == "inject: injected above Mem");
  // Without the failing rule, the chain is the first one again.
  REQUIRE(b.vm().config().remove_child(std::string(rules) + "b"));
  CHECK(b.config() == first);
  b.attach_ok("disk");
  CHECK(b.names("disk") == "Top > Cache > Tracer > Mem");
}

TEST_CASE("a template naming an unknown driver, or one over its instance limit, is refused and undone") {
  bench b;
  SUBCASE("unknown driver") {
    b.chain_at(disk0, {"Top", "Cache", "Mem"});
    b.rule("r", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracr"}})");
    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> got = b.attach("disk");
    REQUIRE_FALSE(got);
    CHECK(got.error_value() == pdm::errc::driver_not_found);
    CHECK(contains(got.error_value().detail(), "did you mean 'Tracer'"));
    check_unchanged(b, before);
  }
  SUBCASE("an instance limit") {
    b.chain_at(disk0, {"Top", "Mem"});
    b.chain_at(disk1, {"Top", "Mem"});
    b.rule("r", R"({"Action": "replace", "AboveDriver": "Mem", "AttachedDriver": {"Driver": "Solo"}})");
    b.attach_ok("disk", 0);
    CHECK(b.chain("disk", 0) == "Top#0 > Solo#0");
    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> got = b.attach("disk", 1);
    REQUIRE_FALSE(got);
    CHECK(got.error_value() == pdm::errc::too_many_instances);
    CHECK(got.error_value().driver_name() == "Solo");
    check_unchanged(b, before);
    CHECK(b.value(join(disk1, "AttachedDriver/Driver")) == "Mem");
  }
  SUBCASE("an unknown key in the template") {
    b.chain_at(disk0, {"Top", "Mem"});
    b.rule("r", R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Tracer", "Confg": {}}})");
    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> got = b.attach("disk");
    REQUIRE_FALSE(got);
    CHECK(got.error_value() == pdm::errc::unknown_key);
    check_unchanged(b, before);
  }
}

// --- Interfaces are checked after transformations --------------------------------------------------------

TEST_CASE("a transformation that breaks what a neighbour needs gives missing_interface, and is undone") {
  struct row {
    const char* what;
    const char* device;
    std::vector<std::string_view> chain;
    const char* rule;
    const char* driver;  // the one that is refused
    const char* detail;
  };
  const row rows[] = {
      {"Tracer injected above Top, below the device that needs words",
       "disk",
       {"Top", "Mem"},
       R"({"BelowDriver": "<top>", "AttachedDriver": {"Driver": "Tracer"}})",
       "Tracer",
       "test.words/1"},
      {"Top injected below Cache, which needs bytes",
       "disk",
       {"Top", "Cache", "Mem"},
       R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Top"}})",
       "Top",
       "test.bytes/1"},
      {"Needy injected, which needs from above what nobody offers",
       "store",
       {"Cache", "Mem"},
       R"({"AboveDriver": "Mem", "AttachedDriver": {"Driver": "Needy"}})",
       "Needy",
       "test.nothing/1"},
      {"Top removed: Cache at the top cannot give the device words",
       "disk",
       {"Top", "Cache", "Mem"},
       R"({"Action": "remove", "AboveDriver": "Top"})",
       "Cache",
       "test.words/1"},
      {"Mem replaced by Top below Cache",
       "disk",
       {"Top", "Cache", "Mem"},
       R"({"Action": "replace", "AboveDriver": "Mem", "AttachedDriver": {"Driver": "Top"}})",
       "Top",
       "test.bytes/1"},
  };
  for (const row& r : rows) {
    INFO("what: " << std::string(r.what));
    bench b;
    b.chain_at(std::string("Devices/") + r.device + "/0/LUN#0", r.chain);
    b.rule("r", r.rule);
    const snapshot before = take(b);
    pdm::result<pdm::driver_ref> got = b.attach(r.device);
    REQUIRE_FALSE(got);
    CHECK(got.error_value() == pdm::errc::missing_interface);
    CHECK(got.error_value().driver_name() == std::string(r.driver));
    CHECK(contains(got.error_value().detail(), r.detail));
    check_unchanged(b, before);
    CHECK_FALSE(contains(b.config(), "Transformed"));
  }
}
