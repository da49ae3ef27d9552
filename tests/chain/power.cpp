// tests/chain/power.cpp - the VM's power state machine: transitions (and every refused one), the
// order in which drivers and devices are told, no driver told twice, hot attach in every state,
// hooks that attach or detach during a walk, asynchronous notifications, slow-driver reports,
// throwing hooks, and the power-off a destroyed VM does.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "chain_drivers.hpp"

namespace {

using namespace std::chrono_literals;
using chain_test::note;
using chain_test::take_journal;
using lines = std::vector<std::string>;

// --- Config --------------------------------------------------------------------------------------

// The overrides that configure `drivers` (top first) at Devices/<device>/<instance>/LUN#<lun>.
lines chain_at(const std::string& device, std::uint32_t instance, std::uint32_t lun,
               std::initializer_list<std::string_view> drivers) {
  lines out;
  std::string path = "Devices/" + device + "/" + std::to_string(instance) + "/LUN#" + std::to_string(lun);
  for (std::string_view d : drivers) {
    out.push_back(path + "/Driver=" + std::string(d));
    path += "/AttachedDriver";
  }
  return out;
}

pdm::config_tree make_config(std::initializer_list<lines> parts) {
  lines all;
  for (const lines& p : parts) all.insert(all.end(), p.begin(), p.end());
  pdm::config_tree t;
  const pdm::status s = pdm::apply_overrides(t.root(), all);
  REQUIRE_MESSAGE(s, (s ? std::string() : s.error_value().message()));
  return t;
}

// --- Journal helpers -----------------------------------------------------------------------------

// The lines that start with `prefix`.
lines starting(const lines& all, std::string_view prefix) {
  lines out;
  for (const std::string& l : all) {
    if (l.rfind(prefix, 0) == 0) out.push_back(l);
  }
  return out;
}
std::size_t count_of(const lines& all, std::string_view line) {
  return static_cast<std::size_t>(std::count(all.begin(), all.end(), line));
}
std::ptrdiff_t position(const lines& all, std::string_view line) {
  auto it = std::find(all.begin(), all.end(), line);
  return it == all.end() ? -1 : it - all.begin();
}
bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// Collects a VM's reports (from any thread).
struct report_log {
  std::mutex lock;
  std::vector<pdm::vm_report> list;
  std::function<void(const pdm::vm_report&)> sink() {
    return [this](const pdm::vm_report& r) {
      const std::lock_guard<std::mutex> hold(lock);
      list.push_back(r);
    };
  }
  std::vector<pdm::vm_report> of(pdm::report_kind kind) {
    const std::lock_guard<std::mutex> hold(lock);
    std::vector<pdm::vm_report> out;
    for (const pdm::vm_report& r : list) {
      if (r.kind == kind) out.push_back(r);
    }
    return out;
  }
  std::size_t size() {
    const std::lock_guard<std::mutex> hold(lock);
    return list.size();
  }
};

pdm::vm_options on_this_thread(std::function<void(const pdm::vm_report&)> report = {}) {
  pdm::vm_options o{.emt = pdm::emt_mode::current_thread};
  o.report = std::move(report);
  return o;
}

// --- A device that journals every event under its own name ---------------------------------------

struct test_device {
  explicit test_device(std::string device_name) : name(std::move(device_name)) {}
  test_device(const test_device&) = delete;
  test_device& operator=(const test_device&) = delete;
  test_device(test_device&&) = delete;
  test_device& operator=(test_device&&) = delete;
  ~test_device() = default;

  std::string name;
  chain_test::port the_port;
  /// Called after the journal line of every power event (with the event's name).
  std::function<void(std::string_view)> also{};

  pdm::device_spec spec(std::vector<std::uint32_t> luns = {0, 1}, pdm::device_flags flags = pdm::device_flags::none,
                        std::uint32_t instance = 0) {
    pdm::device_spec s{.name = name, .instance = instance, .flags = flags};
    for (std::uint32_t n : luns) {
      s.luns.push_back(pdm::lun_spec{.number = n,
                                     .offers = {pdm::offer<chain_test::port>(the_port)},
                                     .needs = pdm::interfaces<chain_test::words>()});
    }
    s.hooks.on_attach = [this](std::uint32_t lun, pdm::attach_flags) {
      note("attach " + name + " LUN#" + std::to_string(lun));
      return pdm::ok();
    };
    s.hooks.on_detach = [this](std::uint32_t lun, pdm::attach_flags) {
      note("detach " + name + " LUN#" + std::to_string(lun));
    };
    s.hooks.on_power_on = [this] { told("power_on"); };
    s.hooks.on_reset = [this] { told("reset"); };
    s.hooks.on_suspend = [this] { told("suspend"); };
    s.hooks.on_resume = [this] { told("resume"); };
    s.hooks.on_power_off = [this] { told("power_off"); };
    return s;
  }

 private:
  void told(std::string_view event) {
    note(std::string(event) + " " + name);
    if (also) also(event);
  }
};

// --- A driver whose hooks run the test's action --------------------------------------------------

/// Usable anywhere in a chain (offers words and bytes); journals like the chain_test drivers and
/// then runs `hooky::action` with the event: "ctor", "dtor", "power_on", "reset", "suspend",
/// "resume", "power_off".
class hooky final : public chain_test::words, public chain_test::bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Hooky", .description = "Runs a test's action in its hooks", .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<chain_test::words, chain_test::bytes>;
  using needs_below = pdm::interface_list<chain_test::bytes>;
  using config_type = chain_test::test_config;
  using action_fn = std::function<void(hooky&, std::string_view event)>;

  hooky(pdm::driver_context& ctx, const chain_test::test_config& c) : ctx_(ctx) {
    note("ctor " + chain_test::who(ctx));
    if (action) action(*this, "ctor");
    below_ = chain_test::attach_below<chain_test::bytes>(ctx, c);
  }
  ~hooky() {
    note("dtor " + chain_test::who(ctx_));
    if (action) action(*this, "dtor");
  }
  hooky(const hooky&) = delete;
  hooky& operator=(const hooky&) = delete;
  hooky(hooky&&) = delete;
  hooky& operator=(hooky&&) = delete;

  void on_power_on() { hook("power_on"); }
  void on_reset() { hook("reset"); }
  void on_suspend() { hook("suspend"); }
  void on_resume() { hook("resume"); }
  void on_power_off() { hook("power_off"); }
  void on_detach_below(pdm::attach_flags /*flags*/) {
    note("detached below " + chain_test::who(ctx_));
    below_ = nullptr;
  }
  pdm::status on_attach_below(pdm::attach_flags /*flags*/) {
    pdm::result<pdm::driver_ref> below = ctx_.attach();
    if (!below) return below.error_value();
    below_ = below->query<chain_test::bytes>();
    return pdm::ok();
  }

  bool put(std::size_t /*index*/, std::uint32_t /*value*/) override { return false; }
  bool get(std::size_t /*index*/, std::uint32_t& /*value*/) override { return false; }
  bool write(std::size_t offset, const void* in, std::size_t size) override {
    return below_ != nullptr && below_->write(offset, in, size);
  }
  bool read(std::size_t offset, void* out, std::size_t size) override {
    return below_ != nullptr && below_->read(offset, out, size);
  }
  [[nodiscard]] std::size_t size() const override { return below_ != nullptr ? below_->size() : 0; }

  /// What every instance runs; set it through an action_scope.
  static inline action_fn action{};
  pdm::driver_context& ctx_;

 private:
  // The action may destroy this instance (detach_self): nothing of it is touched afterwards.
  void hook(std::string_view event) {
    note(std::string(event) + " " + chain_test::who(ctx_));
    if (action) action(*this, event);
  }
  chain_test::bytes* below_ = nullptr;
};

/// Sets hooky::action for a scope.
struct action_scope {
  explicit action_scope(hooky::action_fn f) { hooky::action = std::move(f); }
  action_scope(const action_scope&) = delete;
  action_scope& operator=(const action_scope&) = delete;
  action_scope(action_scope&&) = delete;
  action_scope& operator=(action_scope&&) = delete;
  ~action_scope() { hooky::action = nullptr; }
};

pdm::registry registry_with_hooky() {
  pdm::registry r = chain_test::make_registry();
  const pdm::status s = r.add(pdm::driver_list<hooky>{});
  REQUIRE(s);
  return r;
}

hooky& hooky_at(pdm::vm& vm, std::string_view device, std::uint32_t lun, std::uint32_t occurrence = 0) {
  pdm::result<pdm::driver_ref> r = vm.driver_on_lun(device, 0, lun, "Hooky", occurrence);
  REQUIRE(r);
  return *static_cast<hooky*>(r->get());
}

// The standard VM of these tests: device `disk` (chain_test) with Top/Cache/Mem on LUN#0 and
// Top/Tracer/Mem on LUN#1, both attached (not hot plug), journal cleared.
struct disk_vm {
  chain_test::disk_device disk;
  pdm::vm vm;
  explicit disk_vm(pdm::vm_options options = on_this_thread())
      : vm(chain_test::make_registry(),
           make_config(
               {chain_at("disk", 0, 0, {"Top", "Cache", "Mem"}), chain_at("disk", 0, 1, {"Top", "Tracer", "Mem"})}),
           std::move(options)) {
    REQUIRE(vm.add_device(disk.spec()));
    REQUIRE(vm.attach("disk", 0, 0, pdm::attach_flags::not_hot_plug));
    REQUIRE(vm.attach("disk", 0, 1, pdm::attach_flags::not_hot_plug));
    take_journal();
  }
};

lines disk_walk(std::string_view event) {
  const std::string e(event);
  return {e + " Top#0", e + " Cache#0", e + " Mem#0", e + " Top#1", e + " Tracer#0", e + " Mem#1", e + " disk"};
}

enum class op { power_on, suspend, resume, reset, power_off };
constexpr op all_ops[] = {op::power_on, op::suspend, op::resume, op::reset, op::power_off};

std::string_view op_name(op o) {
  switch (o) {
    case op::power_on:
      return "power_on";
    case op::suspend:
      return "suspend";
    case op::resume:
      return "resume";
    case op::reset:
      return "reset";
    case op::power_off:
      return "power_off";
  }
  return "?";
}
// The states each operation accepts, as its error message lists them.
std::string_view op_accepts(op o) {
  switch (o) {
    case op::power_on:
      return "created";
    case op::suspend:
      return "running";
    case op::resume:
      return "suspended";
    case op::reset:
    case op::power_off:
      return "running or suspended";
  }
  return "?";
}
pdm::status run_op(pdm::vm& vm, op o) {
  switch (o) {
    case op::power_on:
      return vm.power_on();
    case op::suspend:
      return vm.suspend();
    case op::resume:
      return vm.resume();
    case op::reset:
      return vm.reset();
    case op::power_off:
      return vm.power_off();
  }
  return pdm::ok();
}

}  // namespace

// --- States --------------------------------------------------------------------------------------

TEST_CASE("vm_state: every state has its documented name; the -ing states are transitional") {
  take_journal();  // what earlier tests left
  using s = pdm::vm_state;
  const std::pair<s, std::string_view> names[] = {
      {s::created, "created"},       {s::powering_on, "powering_on"},   {s::running, "running"},
      {s::suspending, "suspending"}, {s::suspended, "suspended"},       {s::resuming, "resuming"},
      {s::resetting, "resetting"},   {s::powering_off, "powering_off"}, {s::off, "off"},
      {s::destroying, "destroying"}};
  for (const auto& entry : names) {
    const s state = entry.first;
    const std::string_view name = entry.second;
    CAPTURE(name);
    CHECK(pdm::to_string(state) == name);
    const bool transitional = state == s::powering_on || state == s::suspending || state == s::resuming ||
                              state == s::resetting || state == s::powering_off || state == s::destroying;
    CHECK(pdm::is_transitional(state) == transitional);
  }
  static_assert(pdm::is_transitional(s::destroying) && !pdm::is_transitional(s::off));
}

TEST_CASE("power: the full cycle through every steady state, each event reaching every driver and the device") {
  take_journal();  // what earlier tests left
  disk_vm t;
  pdm::vm& vm = t.vm;
  CHECK(vm.state() == pdm::vm_state::created);

  REQUIRE(vm.power_on());
  CHECK(vm.state() == pdm::vm_state::running);
  CHECK(take_journal() == disk_walk("power_on"));

  REQUIRE(vm.reset());
  CHECK(vm.state() == pdm::vm_state::running);
  CHECK(take_journal() == disk_walk("reset"));

  REQUIRE(vm.suspend());
  CHECK(vm.state() == pdm::vm_state::suspended);
  CHECK(take_journal() == disk_walk("suspend"));

  REQUIRE(vm.reset());
  CHECK(vm.state() == pdm::vm_state::suspended);  // a reset goes back to where it came from
  CHECK(take_journal() == disk_walk("reset"));

  REQUIRE(vm.resume());
  CHECK(vm.state() == pdm::vm_state::running);
  CHECK(take_journal() == disk_walk("resume"));

  // A second round of the same events reaches every driver again, exactly once each.
  REQUIRE(vm.suspend());
  CHECK(take_journal() == disk_walk("suspend"));
  REQUIRE(vm.resume());
  CHECK(take_journal() == disk_walk("resume"));
  REQUIRE(vm.reset());
  REQUIRE(vm.reset());
  const lines resets = take_journal();
  for (const std::string& l : disk_walk("reset")) CHECK(count_of(resets, l) == 2);

  REQUIRE(vm.power_off());
  CHECK(vm.state() == pdm::vm_state::off);
  CHECK(take_journal() == disk_walk("power_off"));
}

TEST_CASE("power: power off from suspended reaches every driver; a suspended VM resets and resumes") {
  take_journal();  // what earlier tests left
  disk_vm t;
  REQUIRE(t.vm.power_on());
  REQUIRE(t.vm.suspend());
  REQUIRE(t.vm.reset());
  REQUIRE(t.vm.resume());
  REQUIRE(t.vm.suspend());
  take_journal();
  REQUIRE(t.vm.power_off());
  CHECK(t.vm.state() == pdm::vm_state::off);
  CHECK(take_journal() == disk_walk("power_off"));
}

TEST_CASE("power: every invalid transition fails with invalid_vm_state naming both states, and changes nothing") {
  take_journal();  // what earlier tests left
  // Which operations each steady state accepts.
  struct row {
    pdm::vm_state state;
    std::vector<op> valid;
  };
  const row table[] = {
      {pdm::vm_state::created, {op::power_on}},
      {pdm::vm_state::running, {op::suspend, op::reset, op::power_off}},
      {pdm::vm_state::suspended, {op::resume, op::reset, op::power_off}},
      {pdm::vm_state::off, {}},
  };
  for (const row& r : table) {
    for (op o : all_ops) {
      if (std::find(r.valid.begin(), r.valid.end(), o) != r.valid.end()) continue;
      CAPTURE(pdm::to_string(r.state));
      CAPTURE(op_name(o));
      disk_vm t;
      // Bring the VM to the state.
      if (r.state != pdm::vm_state::created) REQUIRE(t.vm.power_on());
      if (r.state == pdm::vm_state::suspended) REQUIRE(t.vm.suspend());
      if (r.state == pdm::vm_state::off) REQUIRE(t.vm.power_off());
      REQUIRE(t.vm.state() == r.state);
      take_journal();

      const pdm::status s = run_op(t.vm, o);
      REQUIRE_FALSE(s);
      CHECK(s.error_value() == pdm::errc::invalid_vm_state);
      const std::string want = std::string(op_name(o)) + " needs state " + std::string(op_accepts(o)) + ", not " +
                               std::string(pdm::to_string(r.state));
      CHECK(s.error_value().detail() == want);
      CHECK(contains(s.error_value().message(), want));
      CHECK(t.vm.state() == r.state);
      CHECK(take_journal().empty());  // nobody was told anything
    }
  }
}

TEST_CASE("power: a device added while running takes part; an off VM refuses devices and attaches") {
  take_journal();  // what earlier tests left
  chain_test::disk_device disk;
  test_device extra("extra");
  pdm::vm vm(chain_test::make_registry(),
             make_config({chain_at("disk", 0, 0, {"Top", "Mem"}), chain_at("extra", 0, 0, {"Top", "Mem"}),
                          chain_at("extra", 1, 0, {"Top", "Mem"})}),
             on_this_thread());
  REQUIRE(vm.add_device(disk.spec()));
  REQUIRE(vm.power_on());
  REQUIRE(vm.add_device(extra.spec({0}, pdm::device_flags::none, 0)));  // running: fine
  REQUIRE(vm.attach("extra", 0, 0));                                    // Top#0 Mem#0, running
  take_journal();
  // The device added while running and its chain take part in the next events like the others.
  REQUIRE(vm.suspend());
  CHECK(take_journal() == lines{"suspend disk", "suspend Top#0", "suspend Mem#0", "suspend extra"});
  REQUIRE(vm.power_off());
  CHECK(take_journal() == lines{"power_off disk", "power_off Top#0", "power_off Mem#0", "power_off extra"});

  const pdm::status added = vm.add_device(extra.spec({0}, pdm::device_flags::none, 1));
  REQUIRE_FALSE(added);
  CHECK(added.error_value() == pdm::errc::invalid_vm_state);
  CHECK(contains(added.error_value().detail(), "off"));

  const pdm::result<pdm::driver_ref> attached = vm.attach("disk", 0, 0);
  REQUIRE_FALSE(attached);
  CHECK(attached.error_value() == pdm::errc::invalid_vm_state);
  CHECK(contains(attached.error_value().detail(), "off"));
  CHECK(take_journal().empty());  // nothing was constructed
}

TEST_CASE("power: hooks see the -ing state, and every power operation from inside a hook is refused") {
  take_journal();  // what earlier tests left
  struct seen {
    std::string where;
    pdm::vm_state state;
  };
  std::vector<seen> states;
  struct refusal {
    std::string event;
    op o;
    pdm::status result;
  };
  std::vector<refusal> refusals;
  pdm::vm* vmp = nullptr;
  bool destroying_checked = false;

  action_scope act([&](hooky& self, std::string_view event) {
    if (event == "ctor") return;
    states.push_back({"driver " + std::string(event), self.ctx_.vm_state()});
    if (vmp == nullptr) return;
    if (event == "dtor") destroying_checked = true;
    for (op o : all_ops) refusals.push_back({std::string(event), o, run_op(*vmp, o)});
  });
  test_device dev("dev");
  dev.also = [&](std::string_view event) { states.push_back({"device " + std::string(event), vmp->state()}); };
  {
    pdm::vm vm(registry_with_hooky(), make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"})}), on_this_thread());
    REQUIRE(vm.add_device(dev.spec({0})));
    REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
    vmp = &vm;
    REQUIRE(vm.power_on());
    REQUIRE(vm.reset());
    REQUIRE(vm.suspend());
    REQUIRE(vm.resume());
    REQUIRE(vm.power_off());
    CHECK(vm.state() == pdm::vm_state::off);
  }  // ~vm: the driver's destructor sees `destroying`
  CHECK(destroying_checked);

  using s = pdm::vm_state;
  const std::vector<std::pair<std::string, s>> want = {
      {"driver power_on", s::powering_on},   {"device power_on", s::powering_on}, {"driver reset", s::resetting},
      {"device reset", s::resetting},        {"driver suspend", s::suspending},   {"device suspend", s::suspending},
      {"driver resume", s::resuming},        {"device resume", s::resuming},      {"driver power_off", s::powering_off},
      {"device power_off", s::powering_off}, {"driver dtor", s::destroying}};
  REQUIRE(states.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(want[i].first);
    CHECK(states[i].where == want[i].first);
    CHECK(states[i].state == want[i].second);
  }

  REQUIRE(refusals.size() == 6 * std::size(all_ops));  // five hooks and the destructor
  for (const refusal& r : refusals) {
    CAPTURE(r.event);
    CAPTURE(op_name(r.o));
    REQUIRE_FALSE(r.result);
    CHECK(r.result.error_value() == pdm::errc::invalid_vm_state);
    CHECK(contains(r.result.error_value().detail(), std::string(op_name(r.o)) + " needs state"));
  }
  // The state each refusal names is the one the hook ran in.
  CHECK(contains(refusals.front().result.error_value().detail(), "not powering_on"));
  CHECK(contains(refusals.back().result.error_value().detail(), "not destroying"));
}

// --- Order ---------------------------------------------------------------------------------------

namespace {

// Two devices of two LUNs each, attached in the reverse of the walk order so that the walk order
// cannot come from the attach order: hdd (added first) LUN#0 Top#3 Cache#1 Mem#3, LUN#1 Top#2
// Tracer#1 Mem#2; cd LUN#0 Top#1 Mem#1, LUN#1 Top#0 Cache#0 Tracer#0 Mem#0.
struct two_devices {
  test_device hdd{"hdd"};
  test_device cd{"cd"};
  pdm::vm vm;
  two_devices(pdm::device_flags hdd_flags, pdm::device_flags cd_flags)
      : vm(chain_test::make_registry(),
           make_config({chain_at("hdd", 0, 0, {"Top", "Cache", "Mem"}), chain_at("hdd", 0, 1, {"Top", "Tracer", "Mem"}),
                        chain_at("cd", 0, 0, {"Top", "Mem"}), chain_at("cd", 0, 1, {"Top", "Cache", "Tracer", "Mem"})}),
           on_this_thread()) {
    REQUIRE(vm.add_device(hdd.spec({0, 1}, hdd_flags)));
    REQUIRE(vm.add_device(cd.spec({0, 1}, cd_flags)));
    REQUIRE(vm.attach("cd", 0, 1, pdm::attach_flags::not_hot_plug));
    REQUIRE(vm.attach("cd", 0, 0, pdm::attach_flags::not_hot_plug));
    REQUIRE(vm.attach("hdd", 0, 1, pdm::attach_flags::not_hot_plug));
    REQUIRE(vm.attach("hdd", 0, 0, pdm::attach_flags::not_hot_plug));
    take_journal();
  }
  static lines expected(std::string_view event, bool hdd_first, bool cd_first) {
    const std::string e(event);
    lines out;
    const lines hdd_drivers = {e + " Top#3", e + " Cache#1", e + " Mem#3", e + " Top#2", e + " Tracer#1", e + " Mem#2"};
    const lines cd_drivers = {e + " Top#1", e + " Mem#1", e + " Top#0", e + " Cache#0", e + " Tracer#0", e + " Mem#0"};
    if (hdd_first) out.push_back(e + " hdd");
    out.insert(out.end(), hdd_drivers.begin(), hdd_drivers.end());
    if (!hdd_first) out.push_back(e + " hdd");
    if (cd_first) out.push_back(e + " cd");
    out.insert(out.end(), cd_drivers.begin(), cd_drivers.end());
    if (!cd_first) out.push_back(e + " cd");
    return out;
  }
};

}  // namespace

TEST_CASE("order: devices in the order added, LUNs in number order, chains top to bottom, drivers before the device") {
  take_journal();  // what earlier tests left
  two_devices t(pdm::device_flags::none, pdm::device_flags::none);
  REQUIRE(t.vm.power_on());
  CHECK(take_journal() == two_devices::expected("power_on", false, false));
  REQUIRE(t.vm.reset());
  CHECK(take_journal() == two_devices::expected("reset", false, false));
  REQUIRE(t.vm.suspend());
  CHECK(take_journal() == two_devices::expected("suspend", false, false));
  REQUIRE(t.vm.resume());
  CHECK(take_journal() == two_devices::expected("resume", false, false));
  REQUIRE(t.vm.power_off());
  CHECK(take_journal() == two_devices::expected("power_off", false, false));
}

TEST_CASE("order: each *_first flag puts the device before its drivers for its own event only") {
  take_journal();  // what earlier tests left
  struct flag_case {
    pdm::device_flags flag;
    std::string_view event;
  };
  const flag_case cases[] = {{pdm::device_flags::reset_first, "reset"},
                             {pdm::device_flags::suspend_first, "suspend"},
                             {pdm::device_flags::power_off_first, "power_off"}};
  for (const flag_case& c : cases) {
    CAPTURE(c.event);
    // The flag on the second device: the first keeps drivers-first, so the flag cannot leak.
    two_devices t(pdm::device_flags::none, c.flag);
    REQUIRE(t.vm.power_on());
    CHECK(take_journal() == two_devices::expected("power_on", false, false));
    REQUIRE(t.vm.reset());
    CHECK(take_journal() == two_devices::expected("reset", false, c.event == "reset"));
    REQUIRE(t.vm.suspend());
    CHECK(take_journal() == two_devices::expected("suspend", false, c.event == "suspend"));
    REQUIRE(t.vm.reset());  // from suspended
    CHECK(take_journal() == two_devices::expected("reset", false, c.event == "reset"));
    REQUIRE(t.vm.resume());
    CHECK(take_journal() == two_devices::expected("resume", false, false));
    REQUIRE(t.vm.power_off());
    CHECK(take_journal() == two_devices::expected("power_off", false, c.event == "power_off"));
  }
}

TEST_CASE("order: every *_first flag at once still leaves power_on and resume drivers-first") {
  take_journal();  // what earlier tests left
  const pdm::device_flags all =
      pdm::device_flags::reset_first | pdm::device_flags::suspend_first | pdm::device_flags::power_off_first;
  two_devices t(all, pdm::device_flags::none);
  REQUIRE(t.vm.power_on());
  CHECK(take_journal() == two_devices::expected("power_on", false, false));
  REQUIRE(t.vm.suspend());
  CHECK(take_journal() == two_devices::expected("suspend", true, false));
  REQUIRE(t.vm.resume());
  CHECK(take_journal() == two_devices::expected("resume", false, false));
  REQUIRE(t.vm.reset());
  CHECK(take_journal() == two_devices::expected("reset", true, false));
  REQUIRE(t.vm.power_off());
  CHECK(take_journal() == two_devices::expected("power_off", true, false));
}

TEST_CASE("order: LUNs are walked in number order even when the device declares them out of order") {
  take_journal();  // what earlier tests left
  test_device dev("dev");
  pdm::vm vm(chain_test::make_registry(),
             make_config({chain_at("dev", 0, 0, {"Top", "Mem"}), chain_at("dev", 0, 1, {"Top", "Cache", "Mem"}),
                          chain_at("dev", 0, 2, {"Top", "Tracer", "Mem"})}),
             on_this_thread());
  REQUIRE(vm.add_device(dev.spec({2, 0, 1})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));  // Top#0 Mem#0
  REQUIRE(vm.attach("dev", 0, 1, pdm::attach_flags::not_hot_plug));  // Top#1 Cache#0 Mem#1
  REQUIRE(vm.attach("dev", 0, 2, pdm::attach_flags::not_hot_plug));  // Top#2 Tracer#0 Mem#2
  take_journal();
  REQUIRE(vm.power_on());
  const lines want = {"power_on Top#0", "power_on Mem#0",    "power_on Top#1", "power_on Cache#0", "power_on Mem#1",
                      "power_on Top#2", "power_on Tracer#0", "power_on Mem#2", "power_on dev"};
  CHECK(take_journal() == want);
}

TEST_CASE("order: empty LUNs are skipped; a device without chains, or without LUNs, is still told") {
  take_journal();  // what earlier tests left
  test_device a("a");
  test_device b("b");
  test_device c("c");
  pdm::vm vm(chain_test::make_registry(), make_config({chain_at("b", 0, 1, {"Top", "Mem"})}), on_this_thread());
  REQUIRE(vm.add_device(a.spec({})));      // no LUNs
  REQUIRE(vm.add_device(b.spec({0, 1})));  // LUN#0 empty
  REQUIRE(vm.add_device(c.spec({0})));     // nothing attached
  REQUIRE(vm.attach("b", 0, 1, pdm::attach_flags::not_hot_plug));
  take_journal();
  REQUIRE(vm.power_on());
  CHECK(take_journal() == lines{"power_on a", "power_on Top#0", "power_on Mem#0", "power_on b", "power_on c"});
  REQUIRE(vm.suspend());
  CHECK(take_journal() == lines{"suspend a", "suspend Top#0", "suspend Mem#0", "suspend b", "suspend c"});
}

// --- Hot attach ----------------------------------------------------------------------------------

TEST_CASE("hot attach in created: the chain is told power_on with the rest, once") {
  take_journal();  // what earlier tests left
  disk_vm t;
  REQUIRE(t.vm.detach("disk", 0, 1));
  take_journal();
  REQUIRE(t.vm.attach("disk", 0, 1));  // hot plug, still created
  const lines built = take_journal();
  CHECK(count_of(built, "device attach LUN#1") == 1);
  CHECK(starting(built, "power_on").empty());
  REQUIRE(t.vm.power_on());
  const lines on = take_journal();
  CHECK(on == lines{"power_on Top#0", "power_on Cache#0", "power_on Mem#0", "power_on Top#2", "power_on Tracer#1",
                    "power_on Mem#2", "power_on disk"});
}

TEST_CASE("hot attach while running: the chain counts as running (never power_on), and later events reach it once") {
  take_journal();  // what earlier tests left
  disk_vm t;
  REQUIRE(t.vm.detach("disk", 0, 1));
  REQUIRE(t.vm.power_on());
  take_journal();
  REQUIRE(t.vm.attach("disk", 0, 1));  // Top#2 Tracer#1 Mem#2
  const lines built = take_journal();
  CHECK(count_of(built, "ctor Top#2") == 1);
  CHECK(count_of(built, "device attach LUN#1") == 1);
  CHECK(starting(built, "power_on").empty());
  CHECK(starting(built, "resume").empty());

  // A further power_on is refused, so the new drivers can never get one.
  CHECK_FALSE(t.vm.power_on());
  REQUIRE(t.vm.suspend());
  CHECK(take_journal() == lines{"suspend Top#0", "suspend Cache#0", "suspend Mem#0", "suspend Top#2",
                                "suspend Tracer#1", "suspend Mem#2", "suspend disk"});
  REQUIRE(t.vm.resume());
  CHECK(count_of(take_journal(), "resume Tracer#1") == 1);
  REQUIRE(t.vm.reset());
  CHECK(count_of(take_journal(), "reset Mem#2") == 1);
  REQUIRE(t.vm.power_off());
  const lines off = take_journal();
  CHECK(off.size() == 7);
  CHECK(count_of(off, "power_off Top#2") == 1);
  CHECK(starting(off, "power_on").empty());
}

TEST_CASE("hot attach while suspended: no suspend for the new chain; resume reaches it once") {
  take_journal();  // what earlier tests left
  disk_vm t;
  REQUIRE(t.vm.detach("disk", 0, 1));
  REQUIRE(t.vm.power_on());
  REQUIRE(t.vm.suspend());
  take_journal();
  REQUIRE(t.vm.attach("disk", 0, 1));  // Top#2 Tracer#1 Mem#2
  const lines built = take_journal();
  CHECK(starting(built, "suspend").empty());
  CHECK(starting(built, "power_on").empty());

  REQUIRE(t.vm.reset());  // reset from suspended reaches the new chain too
  CHECK(count_of(take_journal(), "reset Top#2") == 1);
  REQUIRE(t.vm.resume());
  CHECK(take_journal() == lines{"resume Top#0", "resume Cache#0", "resume Mem#0", "resume Top#2", "resume Tracer#1",
                                "resume Mem#2", "resume disk"});
  REQUIRE(t.vm.suspend());
  CHECK(count_of(take_journal(), "suspend Tracer#1") == 1);
}

TEST_CASE("hot attach while suspended, then power off without a resume: the new chain is powered off once") {
  take_journal();  // what earlier tests left
  disk_vm t;
  REQUIRE(t.vm.detach("disk", 0, 1));
  REQUIRE(t.vm.power_on());
  REQUIRE(t.vm.suspend());
  REQUIRE(t.vm.attach("disk", 0, 1));
  take_journal();
  REQUIRE(t.vm.power_off());
  CHECK(take_journal() == lines{"power_off Top#0", "power_off Cache#0", "power_off Mem#0", "power_off Top#2",
                                "power_off Tracer#1", "power_off Mem#2", "power_off disk"});
}

TEST_CASE("hot attach: a driver attached below a running chain (extend_chain) counts as running") {
  take_journal();  // what earlier tests left
  chain_test::disk_device disk;
  pdm::vm vm(chain_test::make_registry(), make_config({chain_at("disk", 0, 0, {"Top", "Cache", "Mem"})}),
             on_this_thread());
  REQUIRE(vm.add_device(disk.spec()));
  REQUIRE(pdm::apply_overrides(vm.config(), lines{"Devices/disk/0/LUN#0/AttachedDriver/Config/Attach=false"}));
  REQUIRE(vm.attach("disk", 0, 0, pdm::attach_flags::not_hot_plug));  // Top#0 Cache#0, Mem not yet
  REQUIRE(vm.power_on());
  CHECK(take_journal() == lines{"ctor Top#0", "ctor Cache#0", "power_on Top#0", "power_on Cache#0", "power_on disk"});
  REQUIRE(vm.extend_chain("disk", 0, 0));  // Cache#0 attaches Mem#0 while running
  CHECK(take_journal() == lines{"ctor Mem#0"});
  REQUIRE(vm.suspend());
  CHECK(take_journal() == lines{"suspend Top#0", "suspend Cache#0", "suspend Mem#0", "suspend disk"});
}

// --- Hooks that change chains during a walk ------------------------------------------------------

namespace {

// LUN#1's Hooky attaches LUN#0 (already passed by the walk) from its hook for `o`; the new chain
// must be brought along, told once each (construct_record: "The instance starts in the state the
// VM was in before the power operation under way, so that operation reaches it too").
void attach_during(op o) {
  const std::string e(op_name(o));
  CAPTURE(e);
  pdm::vm* vmp = nullptr;
  bool attached = false;
  pdm::status attach_result = pdm::ok();
  action_scope act([&](hooky& /*self*/, std::string_view event) {
    if (event != e || attached || vmp == nullptr) return;
    attached = true;
    pdm::result<pdm::driver_ref> r = vmp->attach("dev", 0, 0);
    if (!r) attach_result = r.error_value();
  });
  test_device dev("dev");
  pdm::vm vm(registry_with_hooky(),
             make_config({chain_at("dev", 0, 0, {"Top", "Cache", "Mem"}), chain_at("dev", 0, 1, {"Hooky", "Mem"})}),
             on_this_thread());
  REQUIRE(vm.add_device(dev.spec({0, 1})));
  REQUIRE(vm.attach("dev", 0, 1, pdm::attach_flags::not_hot_plug));  // Hooky#0 Mem#0
  // Bring the VM to where the operation applies.
  if (o != op::power_on) REQUIRE(vm.power_on());
  if (o == op::resume) REQUIRE(vm.suspend());
  take_journal();
  vmp = &vm;
  REQUIRE(run_op(vm, o));
  vmp = nullptr;
  REQUIRE(attach_result);
  const lines j = take_journal();
  CHECK(count_of(j, "ctor Top#0") == 1);
  CHECK(count_of(j, "attach dev LUN#0") == 1);
  CHECK(count_of(j, e + " Hooky#0") == 1);
  CHECK(count_of(j, e + " Mem#0") == 1);
  CHECK(count_of(j, e + " dev") == 1);  // the device is told once
  // The chain attached during the walk (Top#0 Cache#0 Mem#1): told once each, after it was built.
  for (const std::string d : {"Top#0", "Cache#0", "Mem#1"}) {
    CAPTURE(d);
    CHECK(count_of(j, e + " " + d) == 1);
    CHECK(position(j, e + " " + d) > position(j, "ctor Top#0"));
  }
  // And the next event reaches the new chain like any other, once.
  if (o == op::suspend) {
    REQUIRE(vm.resume());
    CHECK(count_of(take_journal(), "resume Mem#1") == 1);
  } else if (o != op::power_off) {
    REQUIRE(vm.suspend());
    const lines next = take_journal();
    CHECK(count_of(next, "suspend Cache#0") == 1);
    CHECK(count_of(next, "suspend Hooky#0") == 1);
  }
}

}  // namespace

TEST_CASE("walk: a chain attached by a hook during a power_on, suspend, resume or power_off walk is told once") {
  take_journal();  // what earlier tests left
  for (op o : {op::power_on, op::suspend, op::resume, op::power_off}) attach_during(o);
}

TEST_CASE("walk: a chain attached by a hook during a reset walk is reset too, once") {
  take_journal();  // what earlier tests left
  attach_during(op::reset);
}

TEST_CASE("walk: a hook that attaches the chain below itself during power_on: the new driver is told once") {
  take_journal();  // what earlier tests left
  action_scope act([](hooky& self, std::string_view e) {
    if (e != "power_on") return;
    pdm::result<pdm::driver_ref> below = self.ctx_.attach();
    CHECK(below);
  });
  test_device dev("dev");
  pdm::vm vm(registry_with_hooky(), make_config({chain_at("dev", 0, 0, {"Hooky", "Cache", "Mem"})}), on_this_thread());
  REQUIRE(pdm::apply_overrides(vm.config(), lines{"Devices/dev/0/LUN#0/Config/Attach=false"}));
  REQUIRE(vm.add_device(dev.spec({0})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  CHECK(take_journal() == lines{"ctor Hooky#0"});
  REQUIRE(vm.power_on());
  CHECK(take_journal() ==
        lines{"power_on Hooky#0", "ctor Cache#0", "ctor Mem#0", "power_on Cache#0", "power_on Mem#0", "power_on dev"});
}

TEST_CASE(
    "walk: a suspend hook that detaches its own chain (detach_self): nothing below it is told, the walk goes on") {
  take_journal();  // what earlier tests left
  action_scope act([](hooky& self, std::string_view e) {
    if (e != "suspend") return;
    const pdm::status s = self.ctx_.detach_self();  // `self` is gone afterwards
    CHECK(s);
  });
  test_device dev("dev");
  pdm::vm vm(registry_with_hooky(),
             make_config({chain_at("dev", 0, 0, {"Hooky", "Cache", "Mem"}), chain_at("dev", 0, 1, {"Top", "Mem"})}),
             on_this_thread());
  REQUIRE(vm.add_device(dev.spec({0, 1})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));  // Hooky#0 Cache#0 Mem#0
  REQUIRE(vm.attach("dev", 0, 1, pdm::attach_flags::not_hot_plug));  // Top#0 Mem#1
  REQUIRE(vm.power_on());
  take_journal();
  REQUIRE(vm.suspend());
  CHECK(vm.state() == pdm::vm_state::suspended);
  const lines j = take_journal();
  CHECK(j == lines{"suspend Hooky#0", "detached below Cache#0", "dtor Mem#0", "detached below Hooky#0", "dtor Cache#0",
                   "detach dev LUN#0", "dtor Hooky#0", "suspend Top#0", "suspend Mem#1", "suspend dev"});
  const pdm::result<std::vector<pdm::driver_ref>> left = vm.chain("dev", 0, 0);
  REQUIRE(left);
  CHECK(left->empty());
  REQUIRE(vm.resume());
  CHECK(take_journal() == lines{"resume Top#0", "resume Mem#1", "resume dev"});
}

TEST_CASE("walk: a hook that detaches what is below it: the detached drivers are never told") {
  take_journal();  // what earlier tests left
  action_scope act([](hooky& self, std::string_view e) {
    if (e != "power_off") return;
    CHECK(self.ctx_.detach());
  });
  test_device dev("dev");
  pdm::vm vm(registry_with_hooky(), make_config({chain_at("dev", 0, 0, {"Top", "Hooky", "Cache", "Mem"})}),
             on_this_thread());
  REQUIRE(vm.add_device(dev.spec({0})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  take_journal();
  REQUIRE(vm.power_off());
  CHECK(take_journal() == lines{"power_off Top#0", "power_off Hooky#0", "detached below Cache#0", "dtor Mem#0",
                                "detached below Hooky#0", "dtor Cache#0", "power_off dev"});
}

TEST_CASE("walk: a hook that detaches a chain the walk has not reached: that chain is never told") {
  take_journal();  // what earlier tests left
  pdm::vm* vmp = nullptr;
  action_scope act([&](hooky& /*self*/, std::string_view e) {
    if (e == "reset" && vmp != nullptr) CHECK(vmp->detach("dev", 0, 1));
  });
  test_device dev("dev");
  pdm::vm vm(registry_with_hooky(),
             make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"}), chain_at("dev", 0, 1, {"Top", "Cache", "Mem"})}),
             on_this_thread());
  REQUIRE(vm.add_device(dev.spec({0, 1})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.attach("dev", 0, 1, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  take_journal();
  vmp = &vm;
  REQUIRE(vm.reset());
  vmp = nullptr;
  const lines j = take_journal();
  CHECK(starting(j, "reset") == lines{"reset Hooky#0", "reset Mem#0", "reset dev"});
  CHECK(count_of(j, "detach dev LUN#1") == 1);
  CHECK(vm.state() == pdm::vm_state::running);
}

TEST_CASE("walk: a hook that detaches and re-attaches a chain already told: the new drivers are told once") {
  take_journal();  // what earlier tests left
  pdm::vm* vmp = nullptr;
  int rounds = 0;
  action_scope act([&](hooky& /*self*/, std::string_view e) {
    if (e != "suspend" || vmp == nullptr || rounds++ > 0) return;
    CHECK(vmp->detach("dev", 0, 0));
    CHECK(vmp->attach("dev", 0, 0));
  });
  test_device dev("dev");
  pdm::vm vm(registry_with_hooky(),
             make_config({chain_at("dev", 0, 0, {"Top", "Mem"}), chain_at("dev", 0, 1, {"Hooky", "Mem"})}),
             on_this_thread());
  REQUIRE(vm.add_device(dev.spec({0, 1})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));  // Top#0 Mem#0
  REQUIRE(vm.attach("dev", 0, 1, pdm::attach_flags::not_hot_plug));  // Hooky#0 Mem#1
  REQUIRE(vm.power_on());
  take_journal();
  vmp = &vm;
  REQUIRE(vm.suspend());
  vmp = nullptr;
  const lines j = take_journal();
  // Old chain told once before it went; the new one (Top#1 Mem#2) told once after it came.
  for (const std::string d : {"Top#0", "Mem#0", "Hooky#0", "Mem#1", "Top#1", "Mem#2"}) {
    CAPTURE(d);
    CHECK(count_of(j, "suspend " + d) == 1);
  }
  CHECK(position(j, "suspend Top#1") > position(j, "ctor Top#1"));
  CHECK(count_of(j, "suspend dev") == 1);
  REQUIRE(vm.resume());
  CHECK(take_journal() == lines{"resume Top#1", "resume Mem#2", "resume Hooky#0", "resume Mem#1", "resume dev"});
}

TEST_CASE("walk: a hook that attaches the next LUN's chain during power_on: it is powered on once, in LUN order") {
  take_journal();  // what earlier tests left
  pdm::vm* vmp = nullptr;
  action_scope act([&](hooky& /*self*/, std::string_view e) {
    if (e == "power_on" && vmp != nullptr) CHECK(vmp->attach("dev", 0, 1));
  });
  test_device dev("dev");
  pdm::vm vm(registry_with_hooky(),
             make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"}), chain_at("dev", 0, 1, {"Top", "Mem"})}),
             on_this_thread());
  REQUIRE(vm.add_device(dev.spec({0, 1})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  take_journal();
  vmp = &vm;
  REQUIRE(vm.power_on());
  vmp = nullptr;
  CHECK(take_journal() == lines{"power_on Hooky#0", "ctor Top#0", "ctor Mem#1", "attach dev LUN#1", "power_on Mem#0",
                                "power_on Top#0", "power_on Mem#1", "power_on dev"});
}

// --- Async notifications -------------------------------------------------------------------------

TEST_CASE("async: a suspend completed from another std::thread; the VM waits before telling the device") {
  take_journal();  // what earlier tests left
  std::atomic<bool> completed{false};
  std::atomic<bool> still_pending{true};
  std::atomic<pdm::vm_state> state_while_waiting{pdm::vm_state::created};
  bool device_saw_completed = false;
  std::thread worker;
  pdm::vm* vmp = nullptr;
  action_scope act([&](hooky& self, std::string_view e) {
    if (e != "suspend") return;
    pdm::result<pdm::async_notification> n = self.ctx_.notify_later();
    REQUIRE(n);
    CHECK(n->pending());
    worker = std::thread([h = std::move(*n), &completed, &still_pending, &state_while_waiting, vmp]() mutable {
      std::this_thread::sleep_for(20ms);
      state_while_waiting = vmp->state();
      completed = true;
      h.complete();
      still_pending = h.pending();
    });
  });
  test_device dev("dev");
  dev.also = [&](std::string_view e) {
    if (e == "suspend") device_saw_completed = completed.load();
  };
  pdm::vm vm(registry_with_hooky(),
             make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"}), chain_at("dev", 0, 1, {"Top", "Mem"})}),
             on_this_thread());
  vmp = &vm;
  REQUIRE(vm.add_device(dev.spec({0, 1})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.attach("dev", 0, 1, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  take_journal();
  REQUIRE(vm.suspend());
  worker.join();
  CHECK(completed.load());
  CHECK_FALSE(still_pending.load());
  CHECK(device_saw_completed);
  CHECK(state_while_waiting.load() == pdm::vm_state::suspending);
  CHECK(vm.state() == pdm::vm_state::suspended);
  // The other drivers of the device were told without waiting; only the device waited.
  CHECK(take_journal() == lines{"suspend Hooky#0", "suspend Mem#0", "suspend Top#0", "suspend Mem#1", "suspend dev"});
}

TEST_CASE("async: Slow completes through ctx.post; suspend, power off and ~vm's power off wait for it") {
  take_journal();  // what earlier tests left
  chain_test::disk_device disk;
  {
    pdm::vm vm(chain_test::make_registry(),
               make_config({chain_at("disk", 0, 0, {"Top", "Slow"}), chain_at("disk", 0, 1, {"Top", "Mem"})}),
               on_this_thread());
    REQUIRE(vm.add_device(disk.spec()));
    REQUIRE(vm.attach("disk", 0, 0, pdm::attach_flags::not_hot_plug));
    REQUIRE(vm.attach("disk", 0, 1, pdm::attach_flags::not_hot_plug));
    REQUIRE(vm.power_on());
    take_journal();
    REQUIRE(vm.suspend());
    CHECK(take_journal() == lines{"suspend Top#0", "suspend started Slow#0", "suspend Top#1", "suspend Mem#0",
                                  "suspend done Slow#0", "suspend disk"});
    CHECK(vm.thread().pending() == 0);
    REQUIRE(vm.resume());
    CHECK(take_journal() == lines{"resume Top#0", "resume Slow#0", "resume Top#1", "resume Mem#0", "resume disk"});
  }  // ~vm powers off, waiting for Slow
  const lines j = take_journal();
  CHECK(starting(j, "power_off") == lines{"power_off Top#0", "power_off started Slow#0", "power_off Top#1",
                                          "power_off Mem#0", "power_off done Slow#0", "power_off disk"});
  CHECK(position(j, "power_off disk") < position(j, "dtor Top#0"));
}

TEST_CASE("async: reset, suspend and power off hooks may finish later; the device waits each time") {
  take_journal();  // what earlier tests left
  action_scope act([](hooky& self, std::string_view e) {
    if (e != "reset" && e != "power_off" && e != "suspend") return;
    pdm::result<pdm::async_notification> n = self.ctx_.notify_later();
    REQUIRE(n);
    auto h = std::make_shared<pdm::async_notification>(std::move(*n));
    const std::string line = std::string(e) + " done " + chain_test::who(self.ctx_);
    REQUIRE(self.ctx_.post([h, line] {
      note(line);
      h->complete();
    }));
  });
  test_device dev("dev");
  pdm::vm vm(registry_with_hooky(), make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"})}), on_this_thread());
  REQUIRE(vm.add_device(dev.spec({0})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  take_journal();
  for (op o : {op::reset, op::suspend, op::reset, op::resume, op::power_off}) {
    CAPTURE(op_name(o));
    REQUIRE(run_op(vm, o));
    const std::string e(op_name(o));
    if (o == op::resume) {
      CHECK(take_journal() == lines{"resume Hooky#0", "resume Mem#0", "resume dev"});
    } else {
      CHECK(take_journal() == lines{e + " Hooky#0", e + " Mem#0", e + " done Hooky#0", e + " dev"});
    }
  }
  CHECK(vm.state() == pdm::vm_state::off);
}

TEST_CASE("async: with suspend_first the device is told first and the VM still waits before it is suspended") {
  take_journal();  // what earlier tests left
  std::atomic<bool> completed{false};
  std::atomic<pdm::vm_state> state_while_waiting{pdm::vm_state::created};
  std::thread worker;
  pdm::vm* vmp = nullptr;
  action_scope act([&](hooky& self, std::string_view e) {
    if (e != "suspend") return;
    pdm::result<pdm::async_notification> n = self.ctx_.notify_later();
    REQUIRE(n);
    worker = std::thread([h = std::move(*n), &completed, &state_while_waiting, vmp]() mutable {
      std::this_thread::sleep_for(20ms);
      state_while_waiting = vmp->state();
      completed = true;
      h.complete();
    });
  });
  test_device dev("dev");
  test_device next("next");
  bool next_saw_completed = false;
  next.also = [&](std::string_view e) {
    if (e == "suspend") next_saw_completed = completed.load();
  };
  pdm::vm vm(registry_with_hooky(),
             make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"}), chain_at("next", 0, 0, {"Top", "Mem"})}),
             on_this_thread());
  vmp = &vm;
  REQUIRE(vm.add_device(dev.spec({0}, pdm::device_flags::suspend_first)));
  REQUIRE(vm.add_device(next.spec({0})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.attach("next", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  take_journal();
  REQUIRE(vm.suspend());
  worker.join();
  CHECK(state_while_waiting.load() == pdm::vm_state::suspending);
  CHECK(next_saw_completed);  // the next device's walk starts once the wait is over
  CHECK(take_journal() ==
        lines{"suspend dev", "suspend Hooky#0", "suspend Mem#0", "suspend Top#0", "suspend Mem#1", "suspend next"});
  CHECK(vm.state() == pdm::vm_state::suspended);
}

TEST_CASE("async: two pending notifications on one device, completed in reverse order: the device waits for both") {
  take_journal();  // what earlier tests left
  std::vector<pdm::async_notification> handles;
  action_scope act([&](hooky& self, std::string_view e) {
    if (e != "power_off") return;
    pdm::result<pdm::async_notification> n = self.ctx_.notify_later();
    REQUIRE(n);
    handles.push_back(std::move(*n));
  });
  std::atomic<int> completed{0};
  std::thread worker;
  test_device dev("dev");
  int completed_when_told = -1;
  dev.also = [&](std::string_view e) {
    if (e == "power_off") completed_when_told = completed.load();
  };
  pdm::vm vm(registry_with_hooky(),
             make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"}), chain_at("dev", 0, 1, {"Hooky", "Mem"})}),
             on_this_thread());
  REQUIRE(vm.add_device(dev.spec({0, 1})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.attach("dev", 0, 1, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  // The hooks ran on this thread; the worker is started from a request the VM runs while it waits.
  REQUIRE(vm.post([&] {
    REQUIRE(handles.size() == 2);
    worker = std::thread([hs = std::move(handles), &completed]() mutable {
      for (std::size_t i = hs.size(); i-- > 0;) {
        std::this_thread::sleep_for(10ms);
        completed.fetch_add(1);
        hs[i].complete();
      }
    });
  }));
  // Nothing runs the request before power_off waits (this thread is the EMT): the hooks have run.
  take_journal();
  REQUIRE(vm.power_off());
  if (worker.joinable()) worker.join();
  CHECK(completed_when_told == 2);
  CHECK(vm.state() == pdm::vm_state::off);
}

TEST_CASE("async: a handle destroyed without complete() completes it; a handle dropped at once means no wait") {
  take_journal();  // what earlier tests left
  std::optional<pdm::async_notification> kept;
  action_scope act([&](hooky& self, std::string_view e) {
    if (e == "suspend") {
      (void)self.ctx_.notify_later();  // dropped at once: completed at once
    } else if (e == "reset") {
      pdm::result<pdm::async_notification> n = self.ctx_.notify_later();
      REQUIRE(n);
      kept.emplace(std::move(*n));
    } else if (e == "power_off") {
      // Moving another handle over a pending one completes the one overwritten.
      pdm::result<pdm::async_notification> n = self.ctx_.notify_later();
      REQUIRE(n);
      pdm::async_notification h = std::move(*n);
      CHECK(h.pending());
      h = pdm::async_notification{};
      CHECK_FALSE(h.pending());
      CHECK_FALSE(pdm::async_notification{}.pending());
    }
  });
  report_log reports;
  test_device dev("dev");
  pdm::vm vm(registry_with_hooky(), make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"})}),
             on_this_thread(reports.sink()));
  REQUIRE(vm.add_device(dev.spec({0})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  take_journal();

  REQUIRE(vm.suspend());
  CHECK(take_journal() == lines{"suspend Hooky#0", "suspend Mem#0", "suspend dev"});

  // The reset waits until a request destroys the kept handle.
  REQUIRE(vm.post([&] {
    note("handle dropped");
    kept.reset();
  }));
  REQUIRE(vm.reset());
  CHECK(take_journal() == lines{"reset Hooky#0", "reset Mem#0", "handle dropped", "reset dev"});

  REQUIRE(vm.power_off());
  CHECK(take_journal() == lines{"power_off Hooky#0", "power_off Mem#0", "power_off dev"});
  CHECK(reports.size() == 0);
}

TEST_CASE("async: a driver detached while its notification is pending: its posted work is dropped, the wait ends") {
  take_journal();  // what earlier tests left
  action_scope act([](hooky& self, std::string_view e) {
    if (e != "suspend") return;
    pdm::result<pdm::async_notification> n = self.ctx_.notify_later();
    REQUIRE(n);
    auto h = std::make_shared<pdm::async_notification>(std::move(*n));
    REQUIRE(self.ctx_.post([h] {
      note("completed by the posted work");
      h->complete();
    }));
    CHECK(self.ctx_.detach_self());  // drops the posted work, and with it the last handle
  });
  test_device dev("dev");
  pdm::vm vm(registry_with_hooky(), make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"})}), on_this_thread());
  REQUIRE(vm.add_device(dev.spec({0})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  take_journal();
  REQUIRE(vm.suspend());
  const lines j = take_journal();
  CHECK(count_of(j, "completed by the posted work") == 0);
  CHECK(j.back() == "suspend dev");
  CHECK(count_of(j, "suspend Mem#0") == 0);
  CHECK(vm.thread().pending() == 0);
  CHECK(vm.state() == pdm::vm_state::suspended);
}

TEST_CASE("async: a driver detached while its completion is still queued: dropping the work completes the handle") {
  take_journal();  // what earlier tests left
  // As chain_test::slow does: the handle lives only in the work posted to complete it. The driver
  // goes before that work runs, so dropping the work is what completes the notification.
  action_scope act([](hooky& self, std::string_view e) {
    if (e != "suspend") return;
    pdm::result<pdm::async_notification> n = self.ctx_.notify_later();
    REQUIRE(n);
    REQUIRE(self.ctx_.post([h = std::make_shared<pdm::async_notification>(std::move(*n))] {
      note("completed by the posted work");
      h->complete();
    }));
    CHECK(self.ctx_.detach_self());
  });
  test_device dev("dev");
  // Own thread, and the suspend called from a helper thread: a VM that deadlocks fails this test
  // (and is abandoned) instead of hanging the program.
  auto vm = std::make_unique<pdm::vm>(registry_with_hooky(), make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"})}),
                                      pdm::vm_options{});
  REQUIRE(vm->add_device(dev.spec({0})));
  REQUIRE(vm->attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm->power_on());
  auto suspended = std::make_shared<std::promise<pdm::status>>();
  std::future<pdm::status> result = suspended->get_future();
  std::thread caller([v = vm.get(), suspended] { suspended->set_value(v->suspend()); });
  if (result.wait_for(30s) != std::future_status::ready) {
    FAIL_CHECK("suspend never returned: dropping the posted work deadlocked the EMT");
    caller.detach();
    (void)vm.release();  // its EMT is stuck: leave it alone
    return;
  }
  caller.join();
  CHECK(result.get());
  CHECK(vm->state() == pdm::vm_state::suspended);
  vm.reset();
  const lines j = take_journal();
  CHECK(count_of(j, "completed by the posted work") == 0);
  CHECK(count_of(j, "suspend dev") == 1);
}

TEST_CASE("async: EMT requests from other threads run while the VM waits") {
  take_journal();  // what earlier tests left
  std::thread worker;
  std::atomic<bool> request_ran{false};
  pdm::vm* vmp = nullptr;
  action_scope act([&](hooky& self, std::string_view e) {
    if (e != "suspend") return;
    pdm::result<pdm::async_notification> n = self.ctx_.notify_later();
    REQUIRE(n);
    worker = std::thread([h = std::move(*n), vmp, &request_ran]() mutable {
      // A request answered by the waiting EMT; the deadline only keeps a broken VM from hanging.
      auto answer = std::make_shared<std::promise<pdm::vm_state>>();
      std::future<pdm::vm_state> f = answer->get_future();
      (void)vmp->post([answer, vmp] { answer->set_value(vmp->state()); });
      if (f.wait_for(30s) == std::future_status::ready) {
        request_ran = f.get() == pdm::vm_state::suspending;
      }
      h.complete();
    });
  });
  test_device dev("dev");
  pdm::vm vm(registry_with_hooky(), make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"})}), on_this_thread());
  vmp = &vm;
  REQUIRE(vm.add_device(dev.spec({0})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  REQUIRE(vm.suspend());
  worker.join();
  CHECK(request_ran.load());
  CHECK(vm.state() == pdm::vm_state::suspended);
}

TEST_CASE("async: a driver still pending after slow_notification is reported once each, and the VM goes on waiting") {
  take_journal();  // what earlier tests left
  report_log reports;
  std::atomic<int> slow_reports{0};
  pdm::vm_options options = on_this_thread();
  options.slow_notification = 1ms;
  options.report = [&](const pdm::vm_report& r) {
    reports.sink()(r);
    if (r.kind == pdm::report_kind::slow_notification) slow_reports.fetch_add(1);
  };
  std::vector<pdm::async_notification> handles;
  action_scope act([&](hooky& self, std::string_view e) {
    if (e != "suspend") return;
    pdm::result<pdm::async_notification> n = self.ctx_.notify_later();
    REQUIRE(n);
    handles.push_back(std::move(*n));
  });
  std::thread worker;
  std::atomic<bool> saw_both_reports{false};
  std::atomic<bool> completed{false};
  bool device_saw_completed = false;
  test_device dev("dev");
  dev.also = [&](std::string_view e) {
    if (e == "suspend") device_saw_completed = completed.load();
  };
  pdm::vm vm(registry_with_hooky(),
             make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"}), chain_at("dev", 0, 1, {"Hooky", "Mem"})}),
             std::move(options));
  REQUIRE(vm.add_device(dev.spec({0, 1})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.attach("dev", 0, 1, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  REQUIRE(vm.post([&] {
    worker = std::thread([hs = std::move(handles), &slow_reports, &saw_both_reports, &completed]() mutable {
      // Wait for both reports (generously), then let the VM go round its wait loop a few more
      // times: no driver may be reported again.
      const auto give_up = std::chrono::steady_clock::now() + 30s;
      while (slow_reports.load() < 2 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
      saw_both_reports = slow_reports.load() >= 2;
      std::this_thread::sleep_for(60ms);
      completed = true;
      for (pdm::async_notification& h : hs) h.complete();
    });
  }));
  REQUIRE(vm.suspend());
  worker.join();
  CHECK(saw_both_reports.load());
  CHECK(device_saw_completed);
  CHECK(vm.state() == pdm::vm_state::suspended);
  const std::vector<pdm::vm_report> slow = reports.of(pdm::report_kind::slow_notification);
  REQUIRE(slow.size() == 2);
  std::vector<std::uint32_t> instances;
  for (const pdm::vm_report& r : slow) {
    CHECK(r.what == pdm::errc::timeout);
    CHECK(r.what.driver_name() == "Hooky");
    instances.push_back(r.what.instance());
    CHECK(contains(r.what.message(), "suspending"));
    CHECK(contains(r.what.message(), "1 ms"));
  }
  std::sort(instances.begin(), instances.end());
  CHECK(instances == std::vector<std::uint32_t>{0, 1});
  CHECK(reports.size() == 2);  // nothing else was reported
}

TEST_CASE("async: a driver that completes in time is not reported") {
  take_journal();  // what earlier tests left
  report_log reports;
  chain_test::disk_device disk;
  pdm::vm vm(chain_test::make_registry(), make_config({chain_at("disk", 0, 0, {"Top", "Slow"})}),
             on_this_thread(reports.sink()));
  REQUIRE(vm.add_device(disk.spec()));
  REQUIRE(vm.attach("disk", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  REQUIRE(vm.suspend());
  REQUIRE(vm.power_off());
  CHECK(reports.size() == 0);
  const lines j = take_journal();
  CHECK(count_of(j, "suspend done Slow#0") == 1);
  CHECK(count_of(j, "power_off done Slow#0") == 1);
  CHECK(count_of(j, "notify_later failed") == 0);
}

TEST_CASE("async: notify_later is refused outside a driver's own suspend, reset or power-off hook") {
  take_journal();  // what earlier tests left
  // Only the outcome is kept: a handle given by mistake is dropped (completed) at once, so a
  // broken VM fails these checks instead of waiting for it forever.
  auto outcome = [](pdm::result<pdm::async_notification> r) -> pdm::status {
    if (r) return pdm::ok();
    return r.error_value();
  };
  std::vector<std::pair<std::string, pdm::status>> refused;
  std::optional<pdm::status> off_emt;
  hooky* first = nullptr;
  action_scope act([&](hooky& self, std::string_view e) {
    const std::string where = std::string(e) + " " + chain_test::who(self.ctx_);
    if (e == "ctor" || e == "power_on" || e == "resume") {
      refused.emplace_back(where, outcome(self.ctx_.notify_later()));
      return;
    }
    if (e != "suspend") return;
    if (self.ctx_.instance() == 1) {
      // Another driver's context, from this driver's hook.
      refused.emplace_back("suspend Hooky#1 for Hooky#0", outcome(first->ctx_.notify_later()));
      return;
    }
    pdm::result<pdm::async_notification> n = self.ctx_.notify_later();
    REQUIRE(n);
    // From another thread, during the hook.
    std::thread([&] { off_emt.emplace(outcome(self.ctx_.notify_later())); }).join();
    // From work that runs while the VM waits: not the hook any more.
    auto h = std::make_shared<pdm::async_notification>(std::move(*n));
    REQUIRE(self.ctx_.post([&refused, &self, &outcome, h] {
      refused.emplace_back("posted by suspend Hooky#0", outcome(self.ctx_.notify_later()));
      h->complete();
    }));
  });
  test_device dev("dev");
  pdm::vm vm(registry_with_hooky(),
             make_config({chain_at("dev", 0, 0, {"Hooky", "Mem"}), chain_at("dev", 0, 1, {"Hooky", "Mem"})}),
             on_this_thread());
  REQUIRE(vm.add_device(dev.spec({0, 1})));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.attach("dev", 0, 1, pdm::attach_flags::not_hot_plug));
  first = &hooky_at(vm, "dev", 0);
  REQUIRE(vm.power_on());
  REQUIRE(vm.suspend());
  REQUIRE(vm.resume());
  // Outside any hook, on the EMT, while running.
  refused.emplace_back("running, no hook", outcome(first->ctx_.notify_later()));

  const std::vector<std::string> want = {"ctor Hooky#0",
                                         "ctor Hooky#1",
                                         "power_on Hooky#0",
                                         "power_on Hooky#1",
                                         "suspend Hooky#1 for Hooky#0",
                                         "posted by suspend Hooky#0",
                                         "resume Hooky#0",
                                         "resume Hooky#1",
                                         "running, no hook"};
  REQUIRE(refused.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(want[i]);
    CHECK(refused[i].first == want[i]);
    REQUIRE_FALSE(refused[i].second);
    CHECK(refused[i].second.error_value() == pdm::errc::invalid_vm_state);
    CHECK(refused[i].second.error_value().driver_name() == "Hooky");
  }
  REQUIRE(off_emt.has_value());
  REQUIRE_FALSE(*off_emt);
  CHECK(off_emt->error_value() == pdm::errc::wrong_thread);
  CHECK(contains(off_emt->error_value().detail(), "notify_later"));
}

// --- Hooks that throw ----------------------------------------------------------------------------

TEST_CASE("hooks that throw are reported as hook_threw and the walk goes on") {
  take_journal();  // what earlier tests left
  action_scope act([](hooky& self, std::string_view e) {
    if (e == "suspend" && self.ctx_.instance() == 0) throw std::runtime_error("boom");
    if (e == "reset") throw 42;
  });
  report_log reports;
  test_device a("a");
  test_device b("b");
  a.also = [](std::string_view e) {
    if (e == "power_off") throw std::logic_error("device boom");
    if (e == "resume") throw 7;
  };
  pdm::vm vm(registry_with_hooky(),
             make_config({chain_at("a", 0, 0, {"Hooky", "Mem"}), chain_at("a", 0, 1, {"Hooky", "Mem"}),
                          chain_at("b", 0, 0, {"Top", "Mem"})}),
             on_this_thread(reports.sink()));
  REQUIRE(vm.add_device(a.spec({0, 1})));
  REQUIRE(vm.add_device(b.spec({0})));
  REQUIRE(vm.attach("a", 0, 0, pdm::attach_flags::not_hot_plug));  // Hooky#0 Mem#0
  REQUIRE(vm.attach("a", 0, 1, pdm::attach_flags::not_hot_plug));  // Hooky#1 Mem#1
  REQUIRE(vm.attach("b", 0, 0, pdm::attach_flags::not_hot_plug));  // Top#0 Mem#2
  REQUIRE(vm.power_on());
  take_journal();

  REQUIRE(vm.suspend());
  CHECK(vm.state() == pdm::vm_state::suspended);
  CHECK(take_journal() == lines{"suspend Hooky#0", "suspend Mem#0", "suspend Hooky#1", "suspend Mem#1", "suspend a",
                                "suspend Top#0", "suspend Mem#2", "suspend b"});
  std::vector<pdm::vm_report> threw = reports.of(pdm::report_kind::hook_threw);
  REQUIRE(threw.size() == 1);
  CHECK(threw[0].what.driver_name() == "Hooky");
  CHECK(threw[0].what.instance() == 0);
  CHECK(contains(threw[0].what.message(), "suspend hook threw: boom"));

  REQUIRE(vm.reset());  // both Hookies throw something that is not a std::exception
  CHECK(vm.state() == pdm::vm_state::suspended);
  CHECK(take_journal().size() == 8);
  threw = reports.of(pdm::report_kind::hook_threw);
  REQUIRE(threw.size() == 3);
  CHECK(contains(threw[1].what.message(), "reset hook threw"));
  CHECK(threw[1].what.instance() == 0);
  CHECK(threw[2].what.instance() == 1);

  REQUIRE(vm.resume());  // device a throws a non-std exception
  CHECK(take_journal().size() == 8);
  threw = reports.of(pdm::report_kind::hook_threw);
  REQUIRE(threw.size() == 4);
  CHECK(contains(threw[3].what.message(), "device 'a' resume hook threw"));

  REQUIRE(vm.power_off());  // device a throws a std::exception; b is still told
  CHECK(vm.state() == pdm::vm_state::off);
  CHECK(take_journal() == lines{"power_off Hooky#0", "power_off Mem#0", "power_off Hooky#1", "power_off Mem#1",
                                "power_off a", "power_off Top#0", "power_off Mem#2", "power_off b"});
  threw = reports.of(pdm::report_kind::hook_threw);
  REQUIRE(threw.size() == 5);
  CHECK(contains(threw[4].what.message(), "device 'a' power_off hook threw: device boom"));
  CHECK(reports.size() == 5);
}

// --- Destruction ---------------------------------------------------------------------------------

TEST_CASE("~vm: a running or suspended VM is powered off first; a created or off one is not") {
  take_journal();  // what earlier tests left
  const lines dtors = {"dtor Mem#0", "dtor Cache#0", "dtor Top#0", "dtor Mem#1", "dtor Tracer#0", "dtor Top#1"};
  lines off_walk = disk_walk("power_off");
  lines with_off = off_walk;
  with_off.insert(with_off.end(), dtors.begin(), dtors.end());

  SUBCASE("running") {
    {
      disk_vm t;
      REQUIRE(t.vm.power_on());
      take_journal();
    }
    CHECK(take_journal() == with_off);
  }
  SUBCASE("suspended") {
    {
      disk_vm t;
      REQUIRE(t.vm.power_on());
      REQUIRE(t.vm.suspend());
      take_journal();
    }
    CHECK(take_journal() == with_off);
  }
  SUBCASE("created") {
    { disk_vm t; }
    CHECK(take_journal() == dtors);
  }
  SUBCASE("off") {
    {
      disk_vm t;
      REQUIRE(t.vm.power_on());
      REQUIRE(t.vm.power_off());
      take_journal();
    }
    CHECK(take_journal() == dtors);
  }
}

TEST_CASE("~vm: a chain hot-attached while running is powered off with the rest, never powered on") {
  take_journal();  // what earlier tests left
  {
    disk_vm t;
    REQUIRE(t.vm.detach("disk", 0, 1));
    REQUIRE(t.vm.power_on());
    REQUIRE(t.vm.attach("disk", 0, 1));
    take_journal();
  }
  const lines j = take_journal();
  CHECK(starting(j, "power_off") == lines{"power_off Top#0", "power_off Cache#0", "power_off Mem#0", "power_off Top#2",
                                          "power_off Tracer#1", "power_off Mem#2", "power_off disk"});
  CHECK(starting(j, "power_on").empty());
  CHECK(count_of(j, "dtor Top#2") == 1);
}

// Last in the file: with the bug it guards against, this test may crash the program.
TEST_CASE("walk: devices added by a request that runs while the VM waits do not break the walk") {
  take_journal();  // what earlier tests left
  // A host thread may add a device at any time before `off`; its request can run while the VM
  // waits for an asynchronous notification, in the middle of the walk over the devices.
  test_device a("a");
  test_device b("b");
  std::vector<std::unique_ptr<test_device>> later;
  for (int i = 0; i < 4; ++i) later.push_back(std::make_unique<test_device>("late" + std::to_string(i)));
  pdm::vm vm(chain_test::make_registry(),
             make_config({chain_at("a", 0, 0, {"Top", "Slow"}), chain_at("b", 0, 0, {"Top", "Mem"})}),
             on_this_thread());
  REQUIRE(vm.add_device(a.spec({0})));
  REQUIRE(vm.add_device(b.spec({0})));
  REQUIRE(vm.attach("a", 0, 0, pdm::attach_flags::not_hot_plug));  // Top#0 Slow#0
  REQUIRE(vm.attach("b", 0, 0, pdm::attach_flags::not_hot_plug));  // Top#1 Mem#0
  REQUIRE(vm.power_on());
  std::vector<pdm::status> added;
  REQUIRE(vm.post([&] {
    for (auto& d : later) added.push_back(vm.add_device(d->spec({0})));
  }));
  take_journal();
  REQUIRE(vm.suspend());  // Slow's completion is posted after the request above: both run in the wait
  CHECK(vm.state() == pdm::vm_state::suspended);
  REQUIRE(added.size() == later.size());
  for (const pdm::status& s : added) {
    // Accepted, or refused while the walk is under way; never anything else.
    if (!s) CHECK(s.error_value() == pdm::errc::invalid_vm_state);
  }
  const lines j = take_journal();
  CHECK(position(j, "suspend done Slow#0") < position(j, "suspend a"));
  CHECK(count_of(j, "suspend a") == 1);
  CHECK(count_of(j, "suspend b") == 1);
  CHECK(count_of(j, "suspend Mem#0") == 1);
  REQUIRE(vm.resume());
  CHECK(count_of(take_journal(), "resume b") == 1);
}
