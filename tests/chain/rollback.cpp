// Rollback: a constructor that fails, by ctx.fail() or by exception, before or after it attached
// below, at any depth, leaves the chains, the counts, the config and the memory as they were.
#include <doctest/doctest.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "chain/chain_drivers.hpp"

using namespace chain_test;

namespace {

// LUN#0: Top -> Cache -> Tracer -> Mem, no Config anywhere (attach creates them). LUN#1 holds a
// live chain that must not be touched.
constexpr std::string_view config_json = R"({"Devices": {"disk": {"0": {
  "LUN#0": {"Driver": "Top", "AttachedDriver": {"Driver": "Cache", "AttachedDriver": {"Driver": "Tracer",
            "AttachedDriver": {"Driver": "Mem"}}}},
  "LUN#1": {"Driver": "Top", "AttachedDriver": {"Driver": "Cache", "AttachedDriver": {"Driver": "Mem"}}}}}}})";

constexpr std::array<const char*, 4> layer_paths = {
    "Devices/disk/0/LUN#0", "Devices/disk/0/LUN#0/AttachedDriver", "Devices/disk/0/LUN#0/AttachedDriver/AttachedDriver",
    "Devices/disk/0/LUN#0/AttachedDriver/AttachedDriver/AttachedDriver"};
constexpr std::array<const char*, 4> layer_names = {"Top", "Cache", "Tracer", "Mem"};

// Everything a failed attach must leave as it was.
struct snapshot {
  std::string config;
  std::string chains;
  std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> counts;
  std::size_t memory_live;
  bool operator==(const snapshot&) const = default;
};

snapshot take(pdm::vm& vm, const counting_memory& memory) {
  snapshot s{vm.config().dump(), vm.dump().value(), {}, memory.live};
  for (const char* name : {"Top", "Cache", "Tracer", "Mem"}) {
    const pdm::driver_counts c = vm.counts(name).value();
    s.counts[name] = {c.live, c.next_instance};
  }
  return s;
}

pdm::vm_options options(counting_memory& m) {
  pdm::vm_options o;
  o.emt = pdm::emt_mode::current_thread;
  o.instance_memory = &m;
  o.poison_freed = true;
  return o;
}

}  // namespace

TEST_CASE("a failing constructor at any depth leaves everything as it was") {
  for (std::size_t layer = 0; layer < layer_paths.size(); ++layer) {
    const bool bottom = layer == layer_paths.size() - 1;
    for (const std::string mode : {"error", "throw", "error_after_attach", "throw_after_attach"}) {
      if (bottom && mode.find("after") != std::string::npos) continue;  // Mem attaches nothing
      CAPTURE(layer);
      CAPTURE(mode);
      counting_memory memory;
      disk_device dev;
      pdm::config_tree cfg = config_of(config_json);
      REQUIRE(cfg->ensure_child(std::string(layer_paths[layer]) + "/Config"));
      REQUIRE(cfg->set_value(std::string(layer_paths[layer]) + "/Config/Fail", mode));
      pdm::vm vm(make_registry(), std::move(cfg), options(memory));
      REQUIRE(vm.add_device(dev.spec()));
      REQUIRE(vm.attach("disk", 0, 1));
      // A hot attach while running: power state and device notifications are in play too.
      REQUIRE(vm.power_on());
      take_journal();
      const snapshot before = take(vm, memory);

      pdm::result<pdm::driver_ref> r = vm.attach("disk", 0, 0);
      REQUIRE_FALSE(r.has_value());
      const pdm::error& e = r.error_value();
      CHECK(e == (mode.starts_with("throw") ? pdm::errc::constructor_failed : pdm::errc::invalid_value));
      CHECK(e.driver_name() == layer_names[layer]);
      CHECK(e.config_path() == layer_paths[layer]);
      CHECK(take(vm, memory) == before);
      CHECK(memory.unpoisoned == 0);

      // The journal: constructors down to the failing one (and below it, after an attach), then
      // destructors bottom-most first, with no detach notification to anyone.
      std::vector<std::string> expected;
      const std::size_t deepest = mode.find("after") != std::string::npos ? layer_paths.size() - 1 : layer;
      std::array<std::uint32_t, 4> instance = {1, 1, 0, 1};  // LUN#1 has Top#0, Cache#0 and Mem#0
      for (std::size_t i = 0; i <= deepest; ++i) {
        expected.push_back("ctor " + std::string(layer_names[i]) + "#" + std::to_string(instance[i]));
      }
      for (std::size_t i = deepest + 1; i-- > 0;) {
        const bool constructed = i != layer || mode.starts_with("error");  // an exception leaves no object
        if (constructed) expected.push_back("dtor " + std::string(layer_names[i]) + "#" + std::to_string(instance[i]));
      }
      CHECK(take_journal() == expected);

      // The VM goes on: the chain attaches once the config is mended, with the numbers it would
      // have had, and the untouched LUN still works.
      REQUIRE(vm.config().set_value(std::string(layer_paths[layer]) + "/Config/Fail", ""));
      pdm::result<pdm::driver_ref> again = vm.attach("disk", 0, 0);
      REQUIRE(again.has_value());
      CHECK(again->instance() == 1);
      std::uint32_t v = 0;
      REQUIRE(again->query<words>()->put(1, 99));
      REQUIRE(again->query<words>()->get(1, v));
      CHECK(v == 99);
      REQUIRE(vm.driver_on_lun("disk", 0, 1)->query<words>()->put(0, 5));
    }
  }
}

TEST_CASE("a failed attach below a running chain leaves the chain above as it was") {
  counting_memory memory;
  disk_device dev;
  pdm::vm vm(make_registry(),
             config_of(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "AttachedDriver": {"Driver": "Cache",
                 "Config": {"Attach": false},
                 "AttachedDriver": {"Driver": "Tracer", "Config": {"Fail": "throw_after_attach"},
                 "AttachedDriver": {"Driver": "Mem"}}}}}}}})"),
             options(memory));
  REQUIRE(vm.add_device(dev.spec()));
  // Cache does not attach below when constructed; Tracer is attached at run time, and fails.
  REQUIRE(vm.attach("disk", 0, 0));
  take_journal();
  const snapshot before = take(vm, memory);
  pdm::status s = vm.extend_chain("disk", 0, 0);
  CHECK(s.error_value() == pdm::errc::constructor_failed);
  CHECK(s.error_value().driver_name() == "Tracer");
  CHECK(take(vm, memory) == before);
  CHECK(take_journal() == std::vector<std::string>{"ctor Tracer#0", "ctor Mem#0", "dtor Mem#0"});
}

TEST_CASE("a bad config below leaves the config nodes attach would have created uncreated") {
  counting_memory memory;
  disk_device dev;
  pdm::vm vm(make_registry(),
             config_of(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "AttachedDriver": {"Driver": "Cache",
                 "AttachedDriver": {"Driver": "Mem", "Config": {"Size": "big"}}}}}}}})"),
             options(memory));
  REQUIRE(vm.add_device(dev.spec()));
  const snapshot before = take(vm, memory);
  pdm::result<pdm::driver_ref> r = vm.attach("disk", 0, 0);
  CHECK(r.error_value() == pdm::errc::invalid_value);
  CHECK(r.error_value().driver_name() == "Mem");
  REQUIRE(r.error_value().causes().size() == 1);
  CHECK(r.error_value().causes()[0] == pdm::errc::wrong_type);
  CHECK(r.error_value().causes()[0].config_path() == "Devices/disk/0/LUN#0/AttachedDriver/AttachedDriver/Config/Size");
  CHECK(take(vm, memory) == before);
  CHECK_FALSE(vm.config().has_child("Devices/disk/0/LUN#0/Config"));
  CHECK_FALSE(vm.config().has_child("Devices/disk/0/LUN#0/AttachedDriver/Config"));
}
