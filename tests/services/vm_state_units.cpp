// tests/services/vm_state_units.cpp - saved-state units a driver registers by hand
// (driver_context::register_state_unit) and what a VM does with every unit around them: names
// ("<driver>@<config path>:<name>") and instance numbers, the order of the hooks on save and on
// load (also after a failure), errors from hooks (returned or thrown) that name the unit, its
// driver, instance and config path and leave the output as it was, invalid arguments, duplicates,
// the handle (valid(), destroy()), ownership (units go with their instance: detach, a constructor
// that fails by ctx.fail or by throwing, 20 attach/detach cycles), the VM states in which a save
// or a load is allowed, and progress callbacks that count and cancel. Over the scripted driver of
// service_rig.hpp (the VM runs on the test's thread) and "Keeper", a driver with a saved_state.
// No timing.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/service_rig.hpp"

namespace {

using bytes = std::vector<std::byte>;
using pdm::errc;
using svc_test::below_driver;
using svc_test::rig;
using svc_test::top_driver;
using unit_list = std::vector<std::pair<std::string, std::uint32_t>>;

const std::string lun0 = "Devices/dev/0/LUN#0";
const std::string lun1 = "Devices/dev/0/LUN#1";

/// Hooks that write what they are called to a log, and fail or throw when told to.
struct probe {
  std::vector<std::string> log;
  /// "<label>.<hook>" -> "fail" (returns an error), "throw", "throw-int" or "bad_alloc".
  std::map<std::string, std::string> faults;
  std::map<std::string, std::uint32_t> values;    // what save writes, what load read
  std::map<std::string, std::uint32_t> versions;  // in.version() at the last load

  pdm::status step(const std::string& label, const char* hook) {
    const std::string key = label + "." + hook;
    log.push_back(key);
    const auto f = faults.find(key);
    if (f == faults.end()) return pdm::ok();
    if (f->second == "throw") throw std::runtime_error(label + " exploded");
    if (f->second == "throw-int") throw 42;
    if (f->second == "bad_alloc") throw std::bad_alloc();
    return pdm::error(errc::invalid_value, label + " refused");  // the detail does not name the hook
  }
  pdm::state_unit_hooks hooks(const std::string& label) {
    pdm::state_unit_hooks h;
    h.save_prepare = [this, label] { return step(label, "save_prepare"); };
    h.save = [this, label](pdm::state_writer& out) -> pdm::status {
      if (pdm::status s = step(label, "save"); !s) return s;
      out.write(values[label]);
      return pdm::ok();
    };
    h.save_done = [this, label] { return step(label, "save_done"); };
    h.load_prepare = [this, label] { return step(label, "load_prepare"); };
    h.load = [this, label](pdm::state_reader& in) -> pdm::status {
      if (pdm::status s = step(label, "load"); !s) return s;
      std::uint32_t v = 0;
      if (pdm::status s = in.read(v); !s) return s;
      values[label] = v;
      versions[label] = in.version();
      return pdm::ok();
    };
    h.load_done = [this, label] { return step(label, "load_done"); };
    return h;
  }
  std::vector<std::string> take_log() { return std::exchange(log, {}); }
};

/// Registers unit `name` #`instance` for `d` with the probe's hooks under `label` (default: name).
template <class Driver>
pdm::state_unit add_unit(Driver& d, probe& p, const std::string& name, std::uint32_t instance = 0,
                         std::uint32_t version = 1, std::string label = {}) {
  pdm::result<pdm::state_unit> u =
      d.ctx.register_state_unit(name, instance, version, p.hooks(label.empty() ? name : label));
  REQUIRE_MESSAGE(u.has_value(), (u ? std::string() : u.error_value().message()));
  return *u;
}

/// A driver with a saved_state whose constructor fails when told to.
class keeper final : public svc_test::marker {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Keeper", .description = "Keeps a saved state", .class_mask = pdm::driver_class::status};
  using provides = pdm::interface_list<svc_test::marker>;
  struct saved_state {
    std::uint64_t ticks = 0;
    std::string tag;
    friend bool operator==(const saved_state&, const saved_state&) = default;
  };
  static constexpr std::uint32_t saved_state_version = 1;

  explicit keeper(pdm::driver_context& ctx) {
    if (fail_how() == "error") ctx.fail(pdm::error(errc::invalid_value, "keeper told to fail"));
    if (fail_how() == "throw") throw std::runtime_error("keeper told to throw");
  }
  saved_state& saved() { return state_; }

  /// How the next constructors fail: "", "error" or "throw".
  static std::string& fail_how() {
    static std::string how;
    return how;
  }

 private:
  saved_state state_{};
};

/// LUN#0: Scripted; LUN#1: Keeper.
constexpr std::string_view with_keeper =
    R"({"Devices": {"dev": {"0": {"LUN#0": {"Driver": "Scripted"}, "LUN#1": {"Driver": "Keeper"}}}}})";

/// A rig whose registry has Keeper too; resets Keeper's failure mode when it goes.
struct keeper_rig {
  explicit keeper_rig(std::string_view config = with_keeper) : r(config) {
    keeper::fail_how().clear();
    REQUIRE(r.vm.drivers().add(pdm::driver_list<keeper>{}));
  }
  keeper_rig(const keeper_rig&) = delete;
  keeper_rig& operator=(const keeper_rig&) = delete;
  keeper_rig(keeper_rig&&) = delete;
  keeper_rig& operator=(keeper_rig&&) = delete;
  ~keeper_rig() { keeper::fail_how().clear(); }

  keeper& attach_keeper() {
    pdm::result<pdm::driver_ref> k = r.vm.attach("dev", 0, 1);
    REQUIRE_MESSAGE(k.has_value(), (k ? std::string() : k.error_value().message()));
    return *static_cast<keeper*>(k->get());
  }

  rig r;
};

/// The error of a failed status (a copy: the status is often a temporary).
pdm::error error_of(const pdm::status& s) {
  REQUIRE_FALSE(s.has_value());
  return s.error_value();
}

// --- Names, round trips, hook order ---------------------------------------------------------------

TEST_CASE(
    "hand-registered units are <driver>@<config path>:<name> with the driver's instance numbers, and round-trip") {
  probe p;
  rig r;
  top_driver& first = r.attach(0);
  top_driver& second = r.attach(1);
  add_unit(first, p, "a");
  add_unit(first, p, "regs", 7, 3);
  add_unit(second, p, "a", 0, 1, "second a");
  CHECK(r.vm.state_units() ==
        unit_list{{"Scripted@" + lun0 + ":a", 0}, {"Scripted@" + lun0 + ":regs", 7}, {"Scripted@" + lun1 + ":a", 0}});

  p.values = {{"a", 11}, {"regs", 22}, {"second a", 33}};
  bytes stream;
  REQUIRE(r.vm.save_state(stream));
  p.values.clear();
  REQUIRE(r.vm.load_state(stream));
  CHECK(p.values == std::map<std::string, std::uint32_t>{{"a", 11}, {"regs", 22}, {"second a", 33}});
  CHECK(p.versions == std::map<std::string, std::uint32_t>{{"a", 1}, {"regs", 3}, {"second a", 1}});
}

TEST_CASE("a save calls every save_prepare, then save in registration order, then every save_done") {
  probe p;
  rig r;
  top_driver& d = r.attach(0);
  add_unit(d, p, "b");
  add_unit(d, p, "a");
  bytes stream;
  REQUIRE(r.vm.save_state(stream));
  CHECK(p.take_log() ==
        std::vector<std::string>{"b.save_prepare", "a.save_prepare", "b.save", "a.save", "b.save_done", "a.save_done"});
}

TEST_CASE("a load calls every load_prepare, then load in the stream's order, then every load_done") {
  probe p;
  bytes stream;
  {
    rig saver;
    top_driver& d = saver.attach(0);
    add_unit(d, p, "a");
    add_unit(d, p, "b");
    p.values = {{"a", 1}, {"b", 2}};
    REQUIRE(saver.vm.save_state(stream));
    p.take_log();
  }
  rig r;
  top_driver& d = r.attach(0);
  add_unit(d, p, "b");  // registered the other way round: the stream's order counts
  add_unit(d, p, "a");
  p.values.clear();
  REQUIRE(r.vm.load_state(stream));
  const std::vector<std::string> log = p.take_log();
  REQUIRE(log.size() == 6);
  CHECK(log[0] != log[1]);
  for (std::size_t i : {0U, 1U}) CHECK((log[i] == "a.load_prepare" || log[i] == "b.load_prepare"));
  CHECK(log[2] == "a.load");
  CHECK(log[3] == "b.load");
  for (std::size_t i : {4U, 5U}) CHECK((log[i] == "a.load_done" || log[i] == "b.load_done"));
  CHECK(log[4] != log[5]);
  CHECK(p.values == std::map<std::string, std::uint32_t>{{"a", 1}, {"b", 2}});
}

TEST_CASE("a hand unit older than its registration loads with its version in in.version(); a newer one is refused") {
  probe p;
  bytes v1;
  bytes v3;
  {
    rig old_vm;
    add_unit(old_vm.attach(0), p, "a", 0, 1);
    p.values = {{"a", 5}};
    REQUIRE(old_vm.vm.save_state(v1));
  }
  {
    rig new_vm;
    add_unit(new_vm.attach(0), p, "a", 0, 3);
    p.values = {{"a", 6}};
    REQUIRE(new_vm.vm.save_state(v3));
    p.values.clear();
    REQUIRE(new_vm.vm.load_state(v1));
    CHECK(p.values["a"] == 5);
    CHECK(p.versions["a"] == 1);
  }
  rig r;
  add_unit(r.attach(0), p, "a", 0, 2);
  p.take_log();
  p.values = {{"a", 9}};
  const pdm::error e = error_of(r.vm.load_state(v3));
  CHECK(e == errc::unit_version_too_new);
  CHECK(e.driver_name() == "Scripted");
  CHECK(e.instance() == 0);
  CHECK(e.config_path() == lun0);
  CHECK(e.message().find("'Scripted@" + lun0 + ":a' #0") != std::string::npos);
  CHECK(p.take_log().empty());  // not even load_prepare
  CHECK(p.values["a"] == 9);
}

// --- Failures in hooks ----------------------------------------------------------------------------

TEST_CASE(
    "save_done runs for every prepared unit after a failed save; load_done for every prepared unit after a failed "
    "load") {
  probe p;
  rig r;
  top_driver& d = r.attach(0);
  add_unit(d, p, "a");
  add_unit(d, p, "b");
  bytes stream;
  REQUIRE(r.vm.save_state(stream));
  p.take_log();

  SUBCASE("save fails") {
    p.faults["a.save"] = "fail";
    CHECK(error_of(r.vm.save_state(stream)) == errc::invalid_value);
    CHECK(p.take_log() ==
          std::vector<std::string>{"a.save_prepare", "b.save_prepare", "a.save", "a.save_done", "b.save_done"});
  }
  SUBCASE("the second save_prepare fails: only the first unit was prepared, nothing is written") {
    p.faults["b.save_prepare"] = "throw";
    CHECK(error_of(r.vm.save_state(stream)) == errc::internal_error);
    CHECK(p.take_log() == std::vector<std::string>{"a.save_prepare", "b.save_prepare", "a.save_done"});
  }
  SUBCASE("save_done fails after a complete stream") {
    const bytes before = stream;
    p.faults["a.save_done"] = "fail";
    CHECK(error_of(r.vm.save_state(stream)) == errc::invalid_value);
    CHECK(stream == before);
    CHECK(p.take_log() == std::vector<std::string>{"a.save_prepare", "b.save_prepare", "a.save", "b.save",
                                                   "a.save_done", "b.save_done"});
  }
  SUBCASE("load fails") {
    p.faults["b.load"] = "fail";
    CHECK(error_of(r.vm.load_state(stream)) == errc::invalid_value);
    CHECK(p.take_log() == std::vector<std::string>{"a.load_prepare", "b.load_prepare", "a.load", "b.load",
                                                   "a.load_done", "b.load_done"});
  }
  SUBCASE("the first load_prepare fails: nothing is prepared, loaded or done") {
    p.faults["a.load_prepare"] = "fail";
    CHECK(error_of(r.vm.load_state(stream)) == errc::invalid_value);
    CHECK(p.take_log() == std::vector<std::string>{"a.load_prepare"});
  }
}

TEST_CASE("a failing or throwing save hook fails the save, naming the unit, its driver, instance and path; out stays") {
  probe p;
  rig r;
  r.attach(0);
  top_driver& d = r.attach(1);  // Scripted #1
  add_unit(d, p, "a");
  const std::string unit = "'Scripted@" + lun1 + ":a' #0";
  const bytes before{std::byte{7}, std::byte{7}, std::byte{7}};
  bytes out = before;

  struct expectation {
    const char* hook;
    const char* fault;
    errc code;
    const char* says;
  };
  for (const expectation& x : {expectation{"save", "fail", errc::invalid_value, "a refused"},
                               expectation{"save", "throw", errc::internal_error, "save threw: a exploded"},
                               expectation{"save", "throw-int", errc::internal_error, "save threw a non-standard"},
                               expectation{"save", "bad_alloc", errc::no_memory, "save ran out of memory"},
                               expectation{"save_prepare", "throw", errc::internal_error, "save_prepare threw"},
                               expectation{"save_done", "throw", errc::internal_error, "save_done threw"}}) {
    CAPTURE(x.hook);
    CAPTURE(x.fault);
    p.faults = {{std::string("a.") + x.hook, x.fault}};
    const pdm::error e = error_of(r.vm.save_state(out));
    CHECK(e == x.code);
    CHECK(e.driver_name() == "Scripted");
    CHECK(e.instance() == 1);
    CHECK(e.config_path() == lun1);
    CAPTURE(e.message());
    CHECK(e.message().find("driver 'Scripted' #1 at '" + lun1 + "'") != std::string::npos);
    CHECK(e.message().find(unit) != std::string::npos);
    CHECK(e.message().find(x.says) != std::string::npos);
    CHECK(out == before);
  }
}

TEST_CASE("an error a save_prepare, save_done or load_done hook returns names that hook") {
  probe p;
  rig r;
  add_unit(r.attach(0), p, "a");
  bytes stream;
  REQUIRE(r.vm.save_state(stream));
  for (const char* hook : {"save_prepare", "save_done"}) {
    p.faults = {{std::string("a.") + hook, "fail"}};
    bytes out;
    const pdm::error e = error_of(r.vm.save_state(out));
    CAPTURE(e.message());
    CHECK(e.message().find(hook) != std::string::npos);
  }
  p.faults = {{"a.load_done", "fail"}};
  const pdm::error e = error_of(r.vm.load_state(stream));
  CAPTURE(e.message());
  CHECK(e.message().find("load_done") != std::string::npos);
}

TEST_CASE("the message of an error a hook returns has the code's text once") {
  probe p;
  rig r;
  add_unit(r.attach(0), p, "a");
  p.faults = {{"a.save", "fail"}};
  bytes out;
  const pdm::error e = error_of(r.vm.save_state(out));
  const std::string text = e.code().message();
  const std::string m = e.message();
  CAPTURE(m);
  std::size_t count = 0;
  for (std::size_t at = m.find(text); at != std::string::npos; at = m.find(text, at + 1)) ++count;
  CHECK(count == 1);
}

// --- Registration ---------------------------------------------------------------------------------

TEST_CASE("register_state_unit refuses an empty or non-UTF-8 name, version 0 and missing save or load hooks") {
  probe p;
  rig r;
  top_driver& d = r.attach(0);
  auto check_refused = [&](std::string_view name, std::uint32_t version, pdm::state_unit_hooks hooks) {
    CAPTURE(name);
    pdm::result<pdm::state_unit> u = d.ctx.register_state_unit(name, 0, version, std::move(hooks));
    REQUIRE_FALSE(u);
    CHECK(u.error_value() == errc::invalid_argument);
    CHECK(u.error_value().driver_name() == "Scripted");
    CHECK(u.error_value().instance() == 0);
    CHECK(u.error_value().config_path() == lun0);
  };
  check_refused("", 1, p.hooks("x"));
  check_refused("bad\xFF", 1, p.hooks("x"));
  check_refused(std::string_view("nul\0in", 6), 1, p.hooks("x"));
  check_refused("v0", 0, p.hooks("x"));
  pdm::state_unit_hooks no_save = p.hooks("x");
  no_save.save = nullptr;
  check_refused("no-save", 1, std::move(no_save));
  pdm::state_unit_hooks no_load = p.hooks("x");
  no_load.load = nullptr;
  check_refused("no-load", 1, std::move(no_load));
  CHECK(r.vm.state_units().empty());

  // Only save and load are required.
  pdm::state_unit_hooks minimal;
  minimal.save = [](pdm::state_writer& /*out*/) { return pdm::ok(); };
  minimal.load = [](pdm::state_reader& /*in*/) { return pdm::ok(); };
  CHECK(d.ctx.register_state_unit("minimal", 0, 1, std::move(minimal)));
  bytes stream;
  REQUIRE(r.vm.save_state(stream));
  REQUIRE(r.vm.load_state(stream));
}

TEST_CASE(
    "a name and instance registered twice is unit_exists and the first stays; two instances of a name are two units") {
  probe p;
  rig r;
  top_driver& d = r.attach(0);
  const pdm::state_unit first = add_unit(d, p, "a", 0, 1, "a#0");
  pdm::result<pdm::state_unit> again = d.ctx.register_state_unit("a", 0, 2, p.hooks("again"));
  REQUIRE_FALSE(again);
  CHECK(again.error_value() == errc::unit_exists);
  CHECK(again.error_value().driver_name() == "Scripted");
  CHECK(again.error_value().config_path() == lun0);
  CHECK(again.error_value().message().find("'Scripted@" + lun0 + ":a' #0") != std::string::npos);
  CHECK(first.valid());

  add_unit(d, p, "a", 1, 1, "a#1");
  CHECK(r.vm.state_units() == unit_list{{"Scripted@" + lun0 + ":a", 0}, {"Scripted@" + lun0 + ":a", 1}});
  p.values = {{"a#0", 100}, {"a#1", 101}};
  bytes stream;
  REQUIRE(r.vm.save_state(stream));
  CHECK(p.take_log() == std::vector<std::string>{"a#0.save_prepare", "a#1.save_prepare", "a#0.save", "a#1.save",
                                                 "a#0.save_done", "a#1.save_done"});
  p.values.clear();
  REQUIRE(r.vm.load_state(stream));
  CHECK(p.values == std::map<std::string, std::uint32_t>{{"a#0", 100}, {"a#1", 101}});
}

TEST_CASE("state_unit::destroy removes the unit now; a second destroy and an empty handle are resource_destroyed") {
  probe p;
  rig r;
  top_driver& d = r.attach(0);
  const pdm::state_unit a = add_unit(d, p, "a");
  const pdm::state_unit b = add_unit(d, p, "b");
  CHECK(a);
  CHECK(a.valid());
  REQUIRE(a.destroy());
  CHECK_FALSE(a.valid());
  CHECK(b.valid());
  CHECK(r.vm.state_units() == unit_list{{"Scripted@" + lun0 + ":b", 0}});
  CHECK(error_of(a.destroy()) == errc::resource_destroyed);

  bytes stream;
  REQUIRE(r.vm.save_state(stream));
  CHECK(p.take_log() == std::vector<std::string>{"b.save_prepare", "b.save", "b.save_done"});

  // The name is free again; the old handle stays stale.
  const pdm::state_unit a2 = add_unit(d, p, "a");
  CHECK(a2.valid());
  CHECK_FALSE(a.valid());
  CHECK(error_of(a.destroy()) == errc::resource_destroyed);
  CHECK(a2.valid());

  const pdm::state_unit empty;
  CHECK_FALSE(empty);
  CHECK_FALSE(empty.valid());
  CHECK(error_of(empty.destroy()) == errc::resource_destroyed);
}

// --- Ownership ------------------------------------------------------------------------------------

TEST_CASE("a detach removes the instance's units, automatic and hand-registered; other instances keep theirs") {
  probe p;
  keeper_rig k;
  top_driver& d = k.r.attach(0);
  const pdm::state_unit a = add_unit(d, p, "a");
  keeper& kept = k.attach_keeper();
  pdm::result<pdm::state_unit> mine = d.ctx.register_state_unit("late", 0, 1, p.hooks("late"));
  REQUIRE(mine);
  CHECK(k.r.vm.state_units() ==
        unit_list{{"Scripted@" + lun0 + ":a", 0}, {"Keeper@" + lun1, 0}, {"Scripted@" + lun0 + ":late", 0}});

  REQUIRE(k.r.vm.detach("dev", 0, 0));
  CHECK(k.r.vm.state_units() == unit_list{{"Keeper@" + lun1, 0}});
  CHECK_FALSE(a.valid());
  CHECK_FALSE(mine->valid());
  CHECK(error_of(a.destroy()) == errc::resource_destroyed);

  kept.saved() = {5, "five"};
  bytes stream;
  REQUIRE(k.r.vm.save_state(stream));
  CHECK(p.take_log().empty());
  REQUIRE(k.r.vm.detach("dev", 0, 1));
  CHECK(k.r.vm.state_units().empty());
}

TEST_CASE("a constructor that registers a unit and then fails, by ctx.fail or by throwing, leaves no unit") {
  probe p;
  rig r;
  std::string how;
  top_driver::the_script().ctor = [&](top_driver& d) {
    add_unit(d, p, "early");
    if (how == "error") d.ctx.fail(pdm::error(errc::invalid_value, "told to fail"));
    if (how == "throw") throw std::runtime_error("told to throw");
  };
  for (const char* h : {"error", "throw"}) {
    CAPTURE(h);
    how = h;
    pdm::result<pdm::driver_ref> att = r.vm.attach("dev", 0, 0);
    REQUIRE_FALSE(att);
    CHECK(att.error_value() == (how == "error" ? errc::invalid_value : errc::constructor_failed));
    CHECK(r.vm.state_units().empty());
  }
  how.clear();
  r.attach(0);
  CHECK(r.vm.state_units() == unit_list{{"Scripted@" + lun0 + ":early", 0}});
}

TEST_CASE("a constructor that fails after attaching below takes the units of both instances with it") {
  probe p;
  rig r;
  bool fail = true;
  below_driver::the_script().ctor = [&](below_driver& d) { add_unit(d, p, "low"); };
  top_driver::the_script().ctor = [&](top_driver& d) {
    add_unit(d, p, "high");
    REQUIRE(d.ctx.attach());
    if (fail) d.ctx.fail(pdm::error(errc::invalid_value, "told to fail"));
  };
  CHECK_FALSE(r.vm.attach("dev", 0, 1));
  CHECK(r.vm.state_units().empty());
  fail = false;
  r.attach(1);
  CHECK(r.vm.state_units() ==
        unit_list{{"Scripted@" + lun1 + ":high", 0}, {"Below@" + lun1 + "/AttachedDriver:low", 0}});
}

TEST_CASE("the automatic unit of a driver whose constructor fails is gone, and a later instance gets it again") {
  keeper_rig k;
  for (const char* how : {"error", "throw"}) {
    CAPTURE(how);
    keeper::fail_how() = how;
    pdm::result<pdm::driver_ref> att = k.r.vm.attach("dev", 0, 1);
    REQUIRE_FALSE(att);
    CHECK(att.error_value().driver_name() == "Keeper");
    CHECK(k.r.vm.state_units().empty());
  }
  keeper::fail_how().clear();
  keeper& kept = k.attach_keeper();
  CHECK(k.r.vm.state_units() == unit_list{{"Keeper@" + lun1, 0}});
  kept.saved() = {3, "three"};
  bytes stream;
  REQUIRE(k.r.vm.save_state(stream));
  kept.saved() = {};
  REQUIRE(k.r.vm.load_state(stream));
  CHECK(kept.saved() == keeper::saved_state{3, "three"});
}

TEST_CASE("20 attach and detach cycles leave the number of units flat") {
  probe p;
  keeper_rig k;
  top_driver::the_script().ctor = [&](top_driver& d) {
    add_unit(d, p, "a");
    add_unit(d, p, "a", 1);
  };
  for (int i = 0; i < 20; ++i) {
    CAPTURE(i);
    k.r.attach(0);
    k.attach_keeper();
    REQUIRE(k.r.vm.state_units().size() == 3);
    REQUIRE(k.r.vm.detach("dev", 0, 0));
    REQUIRE(k.r.vm.state_units().size() == 1);
    REQUIRE(k.r.vm.detach("dev", 0, 1));
    REQUIRE(k.r.vm.state_units().empty());
  }
  // Instance numbers went on growing (20 now); the units still save and load.
  top_driver& d = k.r.attach(0);
  CHECK(d.ctx.instance() == 20);
  p.values = {{"a", 4}};
  bytes stream;
  REQUIRE(k.r.vm.save_state(stream));
  p.values.clear();
  REQUIRE(k.r.vm.load_state(stream));
  CHECK(p.values["a"] == 4);
}

// --- VM states ------------------------------------------------------------------------------------

TEST_CASE(
    "a save is refused while the VM runs and works when created, suspended or off; a load only when created or "
    "suspended") {
  probe p;
  keeper_rig k;
  add_unit(k.r.attach(0), p, "a");
  keeper& kept = k.attach_keeper();
  kept.saved() = {1, "created"};
  bytes created;
  REQUIRE(k.r.vm.save_state(created));
  REQUIRE(k.r.vm.load_state(created));
  p.take_log();

  REQUIRE(k.r.vm.power_on());
  bytes out{std::byte{9}};
  const pdm::error running = error_of(k.r.vm.save_state(out));
  CHECK(running == errc::invalid_vm_state);
  CHECK(running.message().find("running") != std::string::npos);
  CHECK(out == bytes{std::byte{9}});
  kept.saved() = {2, "running"};
  CHECK(error_of(k.r.vm.load_state(created)) == errc::invalid_vm_state);
  CHECK(kept.saved() == keeper::saved_state{2, "running"});
  CHECK(p.take_log().empty());

  REQUIRE(k.r.vm.suspend());
  bytes suspended;
  REQUIRE(k.r.vm.save_state(suspended));
  REQUIRE(k.r.vm.load_state(created));
  CHECK(kept.saved() == keeper::saved_state{1, "created"});
  REQUIRE(k.r.vm.resume());
  CHECK(error_of(k.r.vm.load_state(suspended)) == errc::invalid_vm_state);
  CHECK(kept.saved() == keeper::saved_state{1, "created"});

  REQUIRE(k.r.vm.power_off());
  bytes off;
  REQUIRE(k.r.vm.save_state(off));
  CHECK(off == created);
  const pdm::error load_off = error_of(k.r.vm.load_state(suspended));
  CHECK(load_off == errc::invalid_vm_state);
  CHECK(load_off.message().find("off") != std::string::npos);
}

TEST_CASE("the message of a load refused for the VM's state reads 'cannot be loaded'") {
  rig r;
  REQUIRE(r.vm.power_on());
  bytes stream;
  const pdm::error e = error_of(r.vm.load_state(stream));
  CAPTURE(e.message());
  CHECK(e.message().find("cannot be loaded") != std::string::npos);
}

// --- Units removed while a save or load runs -----------------------------------------------------

TEST_CASE("a save_prepare hook that destroys a later unit: the save skips it, and nothing is used after it is freed") {
  probe p;
  rig r;
  top_driver& d = r.attach(0);
  pdm::state_unit b;
  pdm::state_unit_hooks h = p.hooks("a");
  h.save_prepare = [&b, &p] {
    p.log.emplace_back("a.save_prepare");
    return b.destroy();
  };
  REQUIRE(d.ctx.register_state_unit("a", 0, 1, std::move(h)));
  b = add_unit(d, p, "b");
  bytes out;
  REQUIRE(r.vm.save_state(out));
  CHECK_FALSE(b.valid());
  const std::vector<std::string> log = p.take_log();
  CHECK(std::find(log.begin(), log.end(), "b.save") == log.end());
  CHECK(std::find(log.begin(), log.end(), "b.save_done") == log.end());
  CHECK(r.vm.state_units() == unit_list{{"Scripted@" + lun0 + ":a", 0}});
  // The stream has only a: loading it into a VM with only a works with the default policies.
  pdm::state_stream_reader in(out);
  REQUIRE(in.open());
  pdm::result<std::optional<pdm::state_unit_record>> first = in.next();
  REQUIRE(first);
  REQUIRE(first->has_value());
  CHECK((*first)->name == "Scripted@" + lun0 + ":a");
  pdm::result<std::optional<pdm::state_unit_record>> end = in.next();
  REQUIRE(end);
  CHECK_FALSE(end->has_value());
}

TEST_CASE("a load hook that detaches a driver with an automatic unit: the load ends without touching that driver") {
  probe p;
  keeper_rig k;
  top_driver& d = k.r.attach(0);
  keeper& kept = k.attach_keeper();
  kept.saved() = keeper::saved_state{5, "before"};
  pdm::state_unit_hooks h = p.hooks("a");
  bool detach_in_load = false;
  pdm::vm* vm = &k.r.vm;
  h.load = [&detach_in_load, vm](pdm::state_reader& in) -> pdm::status {
    std::uint32_t v = 0;
    if (pdm::status s = in.read(v); !s) return s;
    if (detach_in_load) return vm->detach("dev", 0, 1);
    return pdm::ok();
  };
  REQUIRE(d.ctx.register_state_unit("a", 0, 1, std::move(h)));
  bytes stream;
  REQUIRE(k.r.vm.save_state(stream));
  detach_in_load = true;
  REQUIRE(k.r.vm.load_state(stream));  // Keeper's staged state is dropped with its unit
  CHECK_FALSE(k.r.vm.driver_on_lun("dev", 0, 1).has_value());
  CHECK(k.r.vm.state_units() == unit_list{{"Scripted@" + lun0 + ":a", 0}});
}

// --- Progress -------------------------------------------------------------------------------------

TEST_CASE("a save reports progress once per unit, with units_done rising to units_total; false cancels it") {
  probe p;
  keeper_rig k;
  top_driver& d = k.r.attach(0);
  add_unit(d, p, "a");
  add_unit(d, p, "b");
  k.attach_keeper().saved() = {1, "one"};
  std::vector<pdm::state_progress> seen;
  pdm::save_options o;
  o.progress = [&](const pdm::state_progress& now) {
    seen.push_back(now);
    return true;
  };
  bytes stream;
  REQUIRE(k.r.vm.save_state(stream, o));
  REQUIRE(seen.size() == 3);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CAPTURE(i);
    CHECK(seen[i].units_done == i + 1);
    CHECK(seen[i].units_total == 3);
    if (i > 0) CHECK(seen[i].bytes_done > seen[i - 1].bytes_done);
  }
  CHECK(seen.back().bytes_done + 12 == stream.size());  // all but the end marker
  p.take_log();

  // Cancelled after the second unit: `out` as it was, and every save_done still runs.
  int calls = 0;
  o.progress = [&](const pdm::state_progress& /*now*/) { return ++calls < 2; };
  const bytes before{std::byte{4}};
  bytes out = before;
  const pdm::error e = error_of(k.r.vm.save_state(out, o));
  CHECK(e == errc::cancelled);
  CHECK(e.message().find("2 of 3") != std::string::npos);
  CHECK(calls == 2);
  CHECK(out == before);
  CHECK(p.take_log() ==
        std::vector<std::string>{"a.save_prepare", "b.save_prepare", "a.save", "b.save", "a.save_done", "b.save_done"});
}

TEST_CASE("a load reports progress once per unit; false cancels it and nothing changes") {
  probe p;
  keeper_rig k;
  top_driver& d = k.r.attach(0);
  add_unit(d, p, "a");
  keeper& kept = k.attach_keeper();
  add_unit(d, p, "b");
  p.values = {{"a", 1}, {"b", 2}};
  kept.saved() = {1, "one"};
  bytes stream;
  REQUIRE(k.r.vm.save_state(stream));
  p.take_log();

  std::vector<pdm::state_progress> seen;
  pdm::load_options o;
  o.progress = [&](const pdm::state_progress& now) {
    seen.push_back(now);
    return true;
  };
  p.values = {{"a", 10}, {"b", 20}};
  kept.saved() = {};
  REQUIRE(k.r.vm.load_state(stream, o));
  REQUIRE(seen.size() == 3);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CAPTURE(i);
    CHECK(seen[i].units_done == i + 1);
    CHECK(seen[i].bytes_total == stream.size());
    CHECK(seen[i].bytes_done <= stream.size());
    if (i > 0) CHECK(seen[i].bytes_done > seen[i - 1].bytes_done);
  }
  CHECK(kept.saved() == keeper::saved_state{1, "one"});
  CHECK(p.values == std::map<std::string, std::uint32_t>{{"a", 1}, {"b", 2}});
  p.take_log();

  for (const int cancel_at : {1, 2, 3}) {
    CAPTURE(cancel_at);
    p.values = {{"a", 10}, {"b", 20}};
    kept.saved() = {9, "nine"};
    int calls = 0;
    o.progress = [&](const pdm::state_progress& /*now*/) { return ++calls < cancel_at; };
    CHECK(error_of(k.r.vm.load_state(stream, o)) == errc::cancelled);
    CHECK(calls == cancel_at);
    CHECK(kept.saved() == keeper::saved_state{9, "nine"});
    CHECK(p.values == std::map<std::string, std::uint32_t>{{"a", 10}, {"b", 20}});
    CHECK(p.take_log().empty());  // no hand-registered hook ran
  }
}

}  // namespace
