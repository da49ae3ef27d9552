// tests/chain/helpers.cpp - what a driver's context offers besides power and transformations:
// above(), below(), config(), vm_state(), attach(), detach(), detach_self(), fail(), post(),
// the thread checks, and the same helpers on a driver made without a VM.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "chain/chain_drivers.hpp"

namespace {

using chain_test::bytes;
using chain_test::note;
using chain_test::who;
using names = std::vector<std::string>;

std::error_code code_of_status(const pdm::status& s) { return s ? std::error_code() : s.error_value().code(); }

// What above() said, copied out.
struct above_seen {
  bool present = false;
  bool is_device = false;
  std::string name;
  std::uint32_t instance = ~0U;
  std::uint32_t lun = ~0U;
  void* port = nullptr;
  void* bytes = nullptr;
};

above_seen look(const pdm::above_ref& a) {
  return above_seen{static_cast<bool>(a),        a.is_device(),   std::string(a.name()), a.instance(), a.lun(),
                    a.query<chain_test::port>(), a.query<bytes>()};
}

// A layer that records what its helpers answer while it is built, and lets tests call them later.
// Config (read by hand): `Attach` (default true), `AttachTwice`, `DetachSelfInCtor`, `Post` (posts a
// journal line), `Fail`.
template <bool Hooked, chain_test::fixed_name Name>
class spy_driver final : public bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = Name.view(), .description = "Records what its helpers say", .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<bytes>;
  using needs_below = pdm::interface_list<bytes>;

  explicit spy_driver(pdm::driver_context& ctx) : ctx_(ctx) {
    note("ctor " + who(ctx));
    const pdm::config_node* c = ctx.config();
    config_at_ctor = c;
    state_at_ctor = ctx.vm_state();
    above_at_ctor = look(ctx.above());
    below_before_attach = ctx.below();
    if (c != nullptr) {
      pdm::result<const pdm::config_node*> up = c->parent();
      parent_code = up ? std::error_code() : up.error_value().code();
    }
    if (flag("DetachSelfInCtor", false)) {
      pdm::status s = ctx.detach_self();
      detach_self_code = s ? std::error_code() : s.error_value().code();
    }
    if (flag("Attach", true)) {
      pdm::result<pdm::driver_ref> r = ctx.attach();
      attach_code = r ? std::error_code() : r.error_value().code();
      if (r) {
        attached = *r;
        below_ = r->query<bytes>();
      } else if (r.error_value() != pdm::errc::no_attached_driver) {
        ctx.fail(r.error_value());  // what failed below fails this one too
        return;
      }
    }
    below_after_attach = ctx.below();
    if (flag("AttachTwice", false)) {
      pdm::result<pdm::driver_ref> again = ctx.attach();
      second_attach_code = again ? std::error_code() : again.error_value().code();
    }
    if (flag("Post", false)) {
      std::string line = "posted by " + who(ctx);
      post_code = code_of_status(ctx.post([line] { note(line); }));
    }
    if (flag("Fail", false)) {
      fail_returned = ctx.fail(pdm::error(pdm::errc::invalid_value, "configured to fail"));
    }
  }
  ~spy_driver() { note("dtor " + who(ctx_)); }
  spy_driver(const spy_driver&) = delete;
  spy_driver& operator=(const spy_driver&) = delete;
  spy_driver(spy_driver&&) = delete;
  spy_driver& operator=(spy_driver&&) = delete;

  bool write(std::size_t offset, const void* in, std::size_t size) override {
    return below_ != nullptr && below_->write(offset, in, size);
  }
  bool read(std::size_t offset, void* out, std::size_t size) override {
    return below_ != nullptr && below_->read(offset, out, size);
  }
  [[nodiscard]] std::size_t size() const override { return below_ != nullptr ? below_->size() : 0; }
  void on_detach_below(pdm::attach_flags /*flags*/) requires Hooked {
    note("detached below " + who(ctx_));
    below_ = nullptr;
  }
  void on_power_on() { state_in_power_on = ctx_.vm_state(); }

  pdm::driver_context& ctx_;
  const pdm::config_node* config_at_ctor = nullptr;
  pdm::vm_state state_at_ctor = pdm::vm_state::destroying;
  pdm::vm_state state_in_power_on = pdm::vm_state::destroying;
  above_seen above_at_ctor;
  pdm::driver_ref below_before_attach;
  pdm::driver_ref below_after_attach;
  pdm::driver_ref attached;
  std::error_code parent_code;
  std::error_code attach_code = pdm::make_error_code(pdm::errc::internal_error);  // not tried
  std::error_code second_attach_code = pdm::make_error_code(pdm::errc::internal_error);
  std::error_code detach_self_code = pdm::make_error_code(pdm::errc::internal_error);
  std::error_code post_code = pdm::make_error_code(pdm::errc::internal_error);
  bool fail_returned = false;

 private:
  [[nodiscard]] bool flag(std::string_view key, bool fallback) const {
    const pdm::config_node* c = ctx_.config();
    return c != nullptr ? c->get_or<bool>(key, fallback).value_or(fallback) : fallback;
  }
  bytes* below_ = nullptr;
};
using spy = spy_driver<true, "Spy">;
using hookless = spy_driver<false, "Hookless">;

// A driver for pdm::driver_object::create: no VM.
class loner final {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Loner", .description = "Lives without a VM", .class_mask = pdm::driver_class::status};
  explicit loner(pdm::driver_context& ctx) : ctx_(ctx) {
    pdm::result<pdm::driver_ref> r = ctx.attach();
    attach_in_ctor = r ? std::error_code() : r.error_value().code();
  }
  pdm::driver_context& ctx_;
  std::error_code attach_in_ctor;
};

// A constructor that gives up through ctx.fail().
class quitter final : public bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Quitter", .description = "Fails while it is built", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<bytes>;
  explicit quitter(pdm::driver_context& ctx) : ctx_(ctx) {
    note("ctor " + who(ctx));
    const bool took = ctx.fail(pdm::error(pdm::errc::invalid_value, "quitting"));
    note(took ? "fail taken" : "fail refused");
  }
  ~quitter() { note("dtor " + who(ctx_)); }
  quitter(const quitter&) = delete;
  quitter& operator=(const quitter&) = delete;
  quitter(quitter&&) = delete;
  quitter& operator=(quitter&&) = delete;
  bool write(std::size_t /*offset*/, const void* /*in*/, std::size_t /*size*/) override { return false; }
  bool read(std::size_t /*offset*/, void* /*out*/, std::size_t /*size*/) override { return false; }
  [[nodiscard]] std::size_t size() const override { return 0; }

 private:
  pdm::driver_context& ctx_;
};

pdm::registry helper_registry() {
  pdm::registry r;
  if (!r.add(pdm::driver_list<spy, hookless, chain_test::mem, chain_test::img_a, quitter>{})) {
    throw std::logic_error("the helper test drivers do not register");
  }
  return r;
}

pdm::config_tree load(std::string_view json) {
  pdm::result<pdm::config_tree> t = pdm::load_json(json);
  if (!t) throw std::logic_error("bad test config: " + t.error_value().message());
  return std::move(*t);
}

// A VM with device `disk` #`instance` (LUNs 0 and 1: offers a port, needs bytes), its EMT the
// test's thread, reports collected.
struct rig {
  chain_test::port port;
  std::vector<pdm::vm_report> reports;
  pdm::vm vm;
  std::uint32_t instance;

  explicit rig(std::string_view json, std::uint32_t device_instance = 0, bool detachable = true)
      : vm(helper_registry(), load(json),
           pdm::vm_options{.emt = pdm::emt_mode::current_thread,
                           .report = [this](const pdm::vm_report& r) { reports.push_back(r); }}),
        instance(device_instance) {
    chain_test::take_journal();
    pdm::device_spec s{.name = "disk", .instance = device_instance};
    for (std::uint32_t n : {0U, 1U}) {
      s.luns.push_back(pdm::lun_spec{
          .number = n, .offers = {pdm::offer<chain_test::port>(port)}, .needs = pdm::interfaces<bytes>()});
    }
    if (detachable) {
      s.hooks.on_detach = [](std::uint32_t lun, pdm::attach_flags) {
        note("device detach LUN#" + std::to_string(lun));
      };
    }
    if (!vm.add_device(std::move(s))) throw std::logic_error("the disk does not add");
  }

  template <class D>
  D& get(std::uint32_t lun, std::string_view name, std::uint32_t occurrence = 0) {
    pdm::result<pdm::driver_ref> r = vm.driver_on_lun("disk", instance, lun, name, occurrence);
    if (!r) throw std::logic_error("no " + std::string(name) + ": " + r.error_value().message());
    return *static_cast<D*>(r->get());
  }
  pdm::driver_ref ref(std::uint32_t lun, std::string_view name, std::uint32_t occurrence = 0) {
    pdm::result<pdm::driver_ref> r = vm.driver_on_lun("disk", instance, lun, name, occurrence);
    return r ? *r : pdm::driver_ref();
  }
  std::vector<std::string> chain(std::uint32_t lun = 0) {
    std::vector<std::string> out;
    pdm::result<std::vector<pdm::driver_ref>> c = vm.chain("disk", instance, lun);
    if (!c) return {"error: " + c.error_value().message()};
    for (const pdm::driver_ref& d : *c) out.push_back(std::string(d.name()) + "#" + std::to_string(d.instance()));
    return out;
  }
};

// Spy over Spy over Mem at LUN#0 of disk #0.
constexpr std::string_view three = R"({"Devices": {"disk": {"0": {"LUN#0": {
  "Driver": "Spy", "AttachedDriver": {"Driver": "Spy", "AttachedDriver": {"Driver": "Mem"}}
}}}}})";

pdm::errc code_of(const pdm::status& s) {
  return s ? pdm::errc{} : static_cast<pdm::errc>(s.error_value().code().value());
}
template <class T>
pdm::errc code_of(const pdm::result<T>& r) {
  return r ? pdm::errc{} : static_cast<pdm::errc>(r.error_value().code().value());
}
std::error_code code(pdm::errc c) { return pdm::make_error_code(c); }

}  // namespace

// --- above() ---------------------------------------------------------------------------------------

TEST_CASE("above() of the top driver is the device's LUN, with the device's port") {
  rig r(R"({"Devices": {"disk": {"2": {"LUN#1": {"Driver": "Spy", "Config": {"Attach": false}}}}}})", 2);
  REQUIRE(r.vm.attach("disk", 2, 1));
  spy& top = r.get<spy>(1, "Spy");
  for (const above_seen& a : {top.above_at_ctor, look(top.ctx_.above())}) {
    CHECK(a.present);
    CHECK(a.is_device);
    CHECK(a.name == "disk");
    CHECK(a.instance == 2);
    CHECK(a.lun == 1);
    CHECK(a.port == static_cast<void*>(&r.port));
    CHECK(a.bytes == nullptr);
  }
}

TEST_CASE("above() of a driver below another is that driver, with its interfaces") {
  rig r(R"({"Devices": {"disk": {"0": {"LUN#1": {
    "Driver": "Spy", "AttachedDriver": {"Driver": "Spy", "AttachedDriver": {"Driver": "Mem"}}
  }}}}})");
  REQUIRE(r.vm.attach("disk", 0, 1));
  REQUIRE(r.chain(1) == names{"Spy#0", "Spy#1", "Mem#0"});
  spy& upper = r.get<spy>(1, "Spy", 0);
  spy& lower = r.get<spy>(1, "Spy", 1);
  for (const above_seen& a : {lower.above_at_ctor, look(lower.ctx_.above())}) {
    CHECK(a.present);
    CHECK_FALSE(a.is_device);
    CHECK(a.name == "Spy");
    CHECK(a.instance == 0);
    CHECK(a.lun == 1);
    CHECK(a.bytes == static_cast<void*>(static_cast<bytes*>(&upper)));
    CHECK(a.port == nullptr);
  }
  // Mem sees the lower Spy above it.
  pdm::driver_ref mem = r.ref(1, "Mem");
  REQUIRE(mem);
  auto* m = static_cast<chain_test::mem*>(mem.get());
  const pdm::above_ref a = m->ctx_.above();
  CHECK(a.name() == "Spy");
  CHECK(a.instance() == 1);
  CHECK(a.query<bytes>() == static_cast<bytes*>(&lower));
}

// --- below() ---------------------------------------------------------------------------------------

TEST_CASE("below() is empty before attach, the driver below after it, and empty again after detach") {
  rig r(three);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& upper = r.get<spy>(0, "Spy", 0);
  spy& lower = r.get<spy>(0, "Spy", 1);
  const pdm::driver_ref lower_ref = r.ref(0, "Spy", 1);
  const pdm::driver_ref mem_ref = r.ref(0, "Mem");
  REQUIRE(lower_ref);
  REQUIRE(mem_ref);

  CHECK_FALSE(upper.below_before_attach);
  CHECK(upper.below_after_attach == lower_ref);
  CHECK(upper.attached == lower_ref);
  CHECK(upper.ctx_.below() == lower_ref);
  CHECK(upper.ctx_.below().name() == "Spy");
  CHECK(upper.ctx_.below().instance() == 1);
  CHECK(upper.ctx_.below().get() == static_cast<void*>(&lower));
  CHECK(lower.ctx_.below() == mem_ref);
  CHECK_FALSE(static_cast<chain_test::mem*>(mem_ref.get())->ctx_.below());

  REQUIRE(lower.ctx_.detach());
  CHECK_FALSE(lower.ctx_.below());
  CHECK(upper.ctx_.below() == lower_ref);
  REQUIRE(upper.ctx_.detach());
  CHECK_FALSE(upper.ctx_.below());
  CHECK(r.chain() == names{"Spy#0"});
}

// --- config() --------------------------------------------------------------------------------------

TEST_CASE("config() is the driver's Config node, a restricted root") {
  rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {
    "Driver": "Spy", "Config": {"Attach": false, "Mode": "fast", "Depth": {"Level": 3}}
  }}}}})");
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& s = r.get<spy>(0, "Spy");
  const pdm::config_node* c = s.ctx_.config();
  REQUIRE(c != nullptr);
  CHECK(c == s.config_at_ctor);
  CHECK(c == r.vm.config().find_child("Devices/disk/0/LUN#0/Config"));
  CHECK(c->get<std::string>("Mode").value_or("") == "fast");
  CHECK(c->get<std::uint32_t>("Depth/Level").value_or(0) == 3);
  CHECK(c->is_restricted_root());
  CHECK(s.parent_code == code(pdm::errc::no_parent));
  pdm::result<const pdm::config_node*> up = c->parent();
  REQUIRE_FALSE(up);
  CHECK(up.error_value() == pdm::errc::no_parent);
  // Below the root, parents work up to it and no further.
  const pdm::config_node* depth = c->find_child("Depth");
  REQUIRE(depth != nullptr);
  pdm::result<const pdm::config_node*> depth_up = depth->parent();
  REQUIRE(depth_up);
  CHECK(*depth_up == c);
}

TEST_CASE("config() is created when the driver has no Config, and stays in the VM's config") {
  rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Spy", "AttachedDriver": {"Driver": "Mem"}}}}}})");
  REQUIRE(r.vm.config().find_child("Devices/disk/0/LUN#0/Config") == nullptr);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& s = r.get<spy>(0, "Spy");
  const pdm::config_node* made = r.vm.config().find_child("Devices/disk/0/LUN#0/Config");
  REQUIRE(made != nullptr);
  CHECK(made->empty());
  CHECK(s.config_at_ctor == made);
  CHECK(s.ctx_.config() == made);
  CHECK(s.parent_code == code(pdm::errc::no_parent));
  // Mem's too.
  CHECK(r.vm.config().find_child("Devices/disk/0/LUN#0/AttachedDriver/Config") != nullptr);
}

TEST_CASE("a Config created for a constructor that fails is removed again") {
  rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {
    "Driver": "Spy", "AttachedDriver": {"Driver": "Spy", "AttachedDriver": {"Driver": "Quitter"}}
  }}}}})");
  const std::string before = r.vm.config().dump();
  pdm::result<pdm::driver_ref> top = r.vm.attach("disk", 0, 0);
  REQUIRE_FALSE(top);
  CHECK(top.error_value() == pdm::errc::invalid_value);
  CHECK(r.vm.config().dump() == before);
  CHECK(r.vm.config().find_child("Devices/disk/0/LUN#0/Config") == nullptr);
  CHECK(r.chain().empty());
}

// --- vm_state() ------------------------------------------------------------------------------------

TEST_CASE("vm_state() is the VM's state") {
  rig r(three);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& s = r.get<spy>(0, "Spy");
  CHECK(s.state_at_ctor == pdm::vm_state::created);
  CHECK(s.ctx_.vm_state() == pdm::vm_state::created);
  REQUIRE(r.vm.power_on());
  CHECK(s.state_in_power_on == pdm::vm_state::powering_on);
  CHECK(s.ctx_.vm_state() == pdm::vm_state::running);
  REQUIRE(r.vm.suspend());
  CHECK(s.ctx_.vm_state() == pdm::vm_state::suspended);
  REQUIRE(r.vm.resume());
  CHECK(s.ctx_.vm_state() == pdm::vm_state::running);
  // From another thread too.
  pdm::vm_state seen = pdm::vm_state::destroying;
  std::thread other([&] { seen = s.ctx_.vm_state(); });
  other.join();
  CHECK(seen == pdm::vm_state::running);
}

// --- attach() --------------------------------------------------------------------------------------

TEST_CASE("attach() twice is already_attached; with nothing configured below it is no_attached_driver") {
  rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {
    "Driver": "Spy", "Config": {"AttachTwice": true}, "AttachedDriver": {"Driver": "Spy"}
  }}}}})");
  REQUIRE(r.vm.attach("disk", 0, 0));
  CHECK(r.chain() == names{"Spy#0", "Spy#1"});
  spy& upper = r.get<spy>(0, "Spy", 0);
  spy& lower = r.get<spy>(0, "Spy", 1);
  CHECK(upper.attach_code == std::error_code());
  CHECK(upper.second_attach_code == code(pdm::errc::already_attached));
  CHECK(lower.attach_code == code(pdm::errc::no_attached_driver));
  CHECK_FALSE(lower.below_after_attach);
  // After construction too.
  pdm::result<pdm::driver_ref> again = upper.ctx_.attach();
  REQUIRE_FALSE(again);
  CHECK(again.error_value() == pdm::errc::already_attached);
  CHECK(again.error_value().driver_name() == "Spy");
  pdm::result<pdm::driver_ref> nothing = lower.ctx_.attach();
  REQUIRE_FALSE(nothing);
  CHECK(nothing.error_value() == pdm::errc::no_attached_driver);
  CHECK(r.chain() == names{"Spy#0", "Spy#1"});
  CHECK(r.vm.counts("Spy")->live == 2);
}

TEST_CASE("attach() after a detach builds the configured driver again") {
  rig r(three);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& lower = r.get<spy>(0, "Spy", 1);
  REQUIRE(lower.ctx_.detach());
  CHECK(r.chain() == names{"Spy#0", "Spy#1"});
  pdm::result<pdm::driver_ref> again = lower.ctx_.attach();
  REQUIRE(again);
  CHECK(again->name() == "Mem");
  CHECK(again->instance() == 1);
  CHECK(lower.ctx_.below() == *again);
  CHECK(r.chain() == names{"Spy#0", "Spy#1", "Mem#1"});
}

// --- detach() --------------------------------------------------------------------------------------

TEST_CASE("detach() destroys the chain below, bottom first, and tells this driver") {
  rig r(three);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& upper = r.get<spy>(0, "Spy", 0);
  chain_test::take_journal();
  REQUIRE(upper.ctx_.detach());
  CHECK(chain_test::take_journal() ==
        names{"detached below Spy#1", "dtor Mem#0", "detached below Spy#0", "dtor Spy#1"});
  CHECK(r.chain() == names{"Spy#0"});
  CHECK(r.vm.counts("Mem")->live == 0);
  CHECK(r.vm.counts("Spy")->live == 1);

  pdm::status again = upper.ctx_.detach();
  REQUIRE_FALSE(again);
  CHECK(again.error_value() == pdm::errc::no_attached_driver);
  CHECK(chain_test::take_journal().empty());
}

TEST_CASE("detach() by a driver without an on_detach_below hook is detach_not_possible") {
  rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Hookless", "AttachedDriver": {"Driver": "Mem"}}}}}})");
  REQUIRE(r.vm.attach("disk", 0, 0));
  hookless& h = r.get<hookless>(0, "Hookless");
  chain_test::take_journal();
  pdm::status s = h.ctx_.detach();
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::detach_not_possible);
  CHECK(r.chain() == names{"Hookless#0", "Mem#0"});
  CHECK(chain_test::take_journal().empty());
  CHECK(h.ctx_.below().name() == "Mem");
}

// --- detach_self() ---------------------------------------------------------------------------------

TEST_CASE("detach_self() of a driver below another removes it and what is below it") {
  rig r(three);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& upper = r.get<spy>(0, "Spy", 0);
  spy& lower = r.get<spy>(0, "Spy", 1);
  chain_test::take_journal();
  REQUIRE(lower.ctx_.detach_self());
  CHECK(chain_test::take_journal() ==
        names{"detached below Spy#1", "dtor Mem#0", "detached below Spy#0", "dtor Spy#1"});
  CHECK(r.chain() == names{"Spy#0"});
  CHECK_FALSE(upper.ctx_.below());
}

TEST_CASE("detach_self() of the top driver empties the LUN and tells the device") {
  rig r(three);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& upper = r.get<spy>(0, "Spy", 0);
  chain_test::take_journal();
  REQUIRE(upper.ctx_.detach_self());
  CHECK(chain_test::take_journal() == names{"detached below Spy#1", "dtor Mem#0", "detached below Spy#0", "dtor Spy#1",
                                            "device detach LUN#0", "dtor Spy#0"});
  CHECK(r.chain().empty());
  CHECK(r.vm.counts("Spy")->live == 0);
}

TEST_CASE("detach_self() needs a detach hook above: a device without on_detach, a driver without on_detach_below") {
  SUBCASE("the device has no on_detach") {
    rig r(three, 0, false);
    REQUIRE(r.vm.attach("disk", 0, 0));
    spy& upper = r.get<spy>(0, "Spy", 0);
    chain_test::take_journal();
    pdm::status s = upper.ctx_.detach_self();
    REQUIRE_FALSE(s);
    CHECK(s.error_value() == pdm::errc::detach_not_possible);
    CHECK(r.chain() == names{"Spy#0", "Spy#1", "Mem#0"});
    CHECK(chain_test::take_journal().empty());
  }
  SUBCASE("the driver above has no on_detach_below") {
    rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Hookless", "AttachedDriver": {"Driver": "Spy"}}}}}})");
    REQUIRE(r.vm.attach("disk", 0, 0));
    spy& s = r.get<spy>(0, "Spy");
    chain_test::take_journal();
    pdm::status st = s.ctx_.detach_self();
    REQUIRE_FALSE(st);
    CHECK(st.error_value() == pdm::errc::detach_not_possible);
    CHECK(r.chain() == names{"Hookless#0", "Spy#0"});
    CHECK(chain_test::take_journal().empty());
  }
}

TEST_CASE("detach_self() while the driver is being constructed is invalid_vm_state") {
  rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {
    "Driver": "Spy", "AttachedDriver": {"Driver": "Spy", "Config": {"DetachSelfInCtor": true}}
  }}}}})");
  REQUIRE(r.vm.attach("disk", 0, 0));
  CHECK(r.chain() == names{"Spy#0", "Spy#1"});
  CHECK(r.get<spy>(0, "Spy", 1).detach_self_code == code(pdm::errc::invalid_vm_state));
}

// --- fail() ----------------------------------------------------------------------------------------

TEST_CASE("fail() during construction fails the attach after the destructor ran; afterwards it returns false") {
  SUBCASE("during construction") {
    rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {
      "Driver": "Spy", "AttachedDriver": {"Driver": "Spy", "Config": {"Fail": true}, "AttachedDriver": {"Driver": "Mem"}}
    }}}}})");
    pdm::result<pdm::driver_ref> top = r.vm.attach("disk", 0, 0);
    REQUIRE_FALSE(top);
    CHECK(top.error_value() == pdm::errc::invalid_value);
    CHECK(top.error_value().detail() == "configured to fail");
    CHECK(top.error_value().driver_name() == "Spy");
    CHECK(top.error_value().instance() == 1);
    const names j = chain_test::take_journal();
    CHECK(std::count(j.begin(), j.end(), "dtor Spy#1") == 1);
    CHECK(std::count(j.begin(), j.end(), "dtor Mem#0") == 1);
    CHECK(std::count(j.begin(), j.end(), "dtor Spy#0") == 1);
    CHECK(r.chain().empty());
    CHECK(r.vm.counts("Spy")->live == 0);
    CHECK(r.vm.counts("Mem")->live == 0);
  }
  SUBCASE("after construction") {
    rig r(three);
    REQUIRE(r.vm.attach("disk", 0, 0));
    spy& lower = r.get<spy>(0, "Spy", 1);
    chain_test::take_journal();
    CHECK_FALSE(lower.ctx_.fail(pdm::error(pdm::errc::invalid_value, "too late")));
    CHECK(r.chain() == names{"Spy#0", "Spy#1", "Mem#0"});
    CHECK(chain_test::take_journal().empty());
    // The instance works on: its helpers are not marked failed.
    REQUIRE(lower.ctx_.detach());
    CHECK(r.chain() == names{"Spy#0", "Spy#1"});
  }
}

// --- post() ----------------------------------------------------------------------------------------

TEST_CASE("post() runs the work on the EMT when it runs its requests, not before") {
  rig r(three);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& lower = r.get<spy>(0, "Spy", 1);
  std::vector<std::string> ran;
  std::thread::id ran_on;
  REQUIRE(lower.ctx_.post([&] {
    ran.emplace_back("first");
    ran_on = std::this_thread::get_id();
  }));
  REQUIRE(lower.ctx_.post([&] { ran.emplace_back("second"); }));
  CHECK(ran.empty());
  CHECK(r.vm.thread().run_pending() == 2);
  CHECK(ran == names{"first", "second"});
  CHECK(ran_on == std::this_thread::get_id());
  CHECK(r.vm.thread().run_pending() == 0);
}

TEST_CASE("post() from another thread queues the work for the EMT") {
  rig r(three);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& lower = r.get<spy>(0, "Spy", 1);
  bool ran = false;
  std::thread::id ran_on;
  pdm::status posted = pdm::error(pdm::errc::internal_error, "not run");
  std::thread other([&] {
    posted = lower.ctx_.post([&] {
      ran = true;
      ran_on = std::this_thread::get_id();
    });
  });
  other.join();
  REQUIRE(posted);
  CHECK_FALSE(ran);
  CHECK(r.vm.thread().run_pending() == 1);
  CHECK(ran);
  CHECK(ran_on == std::this_thread::get_id());
}

TEST_CASE("work posted by an instance is dropped if the instance is detached first") {
  rig r(three);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& upper = r.get<spy>(0, "Spy", 0);
  spy& lower = r.get<spy>(0, "Spy", 1);
  auto* mem = static_cast<chain_test::mem*>(r.ref(0, "Mem").get());
  names ran;
  // A posted function owns what it captures: dropping it must destroy that, once.
  auto token = std::make_shared<int>(7);
  REQUIRE(upper.ctx_.post([&ran] { ran.emplace_back("upper"); }));
  REQUIRE(lower.ctx_.post([&ran, token] { ran.emplace_back("lower " + std::to_string(*token)); }));
  REQUIRE(mem->ctx_.post([&ran] { ran.emplace_back("mem"); }));
  CHECK(token.use_count() == 2);
  REQUIRE(upper.ctx_.detach());  // lower and Mem go
  CHECK(token.use_count() == 1);
  CHECK(r.vm.thread().run_pending() == 1);
  CHECK(ran == names{"upper"});
}

TEST_CASE("work posted by a constructor that then fails is dropped with the instance") {
  rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {
    "Driver": "Spy", "Config": {"Post": true},
    "AttachedDriver": {"Driver": "Spy", "Config": {"Post": true, "Fail": true}}
  }}}}})");
  REQUIRE_FALSE(r.vm.attach("disk", 0, 0));
  chain_test::take_journal();
  CHECK(r.vm.thread().run_pending() == 0);
  CHECK(chain_test::take_journal().empty());
  // Without the failure both lines arrive, in order (the failed attach gave its instance numbers back).
  REQUIRE(r.vm.config().set_value("Devices/disk/0/LUN#0/AttachedDriver/Config/Fail", pdm::config_value(false)));
  REQUIRE(r.vm.attach("disk", 0, 0));
  CHECK(r.get<spy>(0, "Spy", 0).post_code == std::error_code());
  chain_test::take_journal();
  CHECK(r.vm.thread().run_pending() == 2);
  CHECK(chain_test::take_journal() == names{"posted by Spy#1", "posted by Spy#0"});
}

TEST_CASE("work posted by an instance is dropped if earlier work in the same run detaches the instance") {
  rig r(three);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& upper = r.get<spy>(0, "Spy", 0);
  spy& lower = r.get<spy>(0, "Spy", 1);
  names ran;
  auto token = std::make_shared<int>(1);
  // Queued in this order: the upper driver's work detaches the lower one, whose work comes next.
  REQUIRE(upper.ctx_.post([&ran, &upper] {
    ran.emplace_back("upper detaches");
    (void)upper.ctx_.detach();
  }));
  REQUIRE(lower.ctx_.post([&ran, token] { ran.emplace_back("lower"); }));
  REQUIRE(upper.ctx_.post([&ran] { ran.emplace_back("upper again"); }));
  r.vm.thread().run_pending();
  CHECK(ran == names{"upper detaches", "upper again"});
  CHECK(token.use_count() == 1);
  CHECK(r.chain() == names{"Spy#0"});
}

TEST_CASE("work posted and never run is dropped, not run, when the VM goes") {
  bool ran = false;
  auto token = std::make_shared<int>(1);
  {
    rig r(three);
    REQUIRE(r.vm.attach("disk", 0, 0));
    REQUIRE(r.get<spy>(0, "Spy", 1).ctx_.post([&ran, token] { ran = true; }));
    CHECK(token.use_count() == 2);
  }
  CHECK_FALSE(ran);
  CHECK(token.use_count() == 1);
}

// --- Other threads ---------------------------------------------------------------------------------

TEST_CASE("chain helpers called off the EMT are wrong_thread and change nothing") {
  rig r(three);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& upper = r.get<spy>(0, "Spy", 0);
  spy& lower = r.get<spy>(0, "Spy", 1);
  const std::string config_before = r.vm.config().dump();
  chain_test::take_journal();
  pdm::errc attach = {};
  pdm::errc attach_empty = {};
  pdm::errc detach = {};
  pdm::errc detach_self = {};
  pdm::errc mount = {};
  pdm::errc later = {};
  std::thread other([&] {
    attach = code_of(upper.ctx_.attach());
    detach = code_of(upper.ctx_.detach());
    detach_self = code_of(lower.ctx_.detach_self());
    mount = code_of(lower.ctx_.mount_prepare("/images/a.img", "ImgA"));
    later = code_of(lower.ctx_.notify_later());
  });
  other.join();
  REQUIRE(lower.ctx_.detach());  // now nothing is below lower: attach would work on the EMT
  chain_test::take_journal();
  std::thread again([&] { attach_empty = code_of(lower.ctx_.attach()); });
  again.join();
  CHECK(attach == pdm::errc::wrong_thread);
  CHECK(attach_empty == pdm::errc::wrong_thread);
  CHECK(detach == pdm::errc::wrong_thread);
  CHECK(detach_self == pdm::errc::wrong_thread);
  CHECK(mount == pdm::errc::wrong_thread);
  CHECK(later == pdm::errc::wrong_thread);
  CHECK(r.chain() == names{"Spy#0", "Spy#1"});
  CHECK(r.vm.config().dump() == config_before);
  CHECK(chain_test::take_journal().empty());
}

TEST_CASE("assert_emt() and assert_other() say where they are and report the wrong one") {
  rig r(three);
  REQUIRE(r.vm.attach("disk", 0, 0));
  spy& lower = r.get<spy>(0, "Spy", 1);
  CHECK(lower.ctx_.assert_emt());
  CHECK(r.reports.empty());
  CHECK_FALSE(lower.ctx_.assert_other());
  REQUIRE(r.reports.size() == 1);
  CHECK(r.reports[0].kind == pdm::report_kind::wrong_thread);
  CHECK(r.reports[0].what == pdm::errc::wrong_thread);
  CHECK(r.reports[0].what.driver_name() == "Spy");
  CHECK(r.reports[0].what.instance() == 1);
  CHECK(r.reports[0].what.detail().find("helpers.cpp") != std::string::npos);

  bool emt_there = true;
  bool other_there = false;
  std::thread other([&] {
    emt_there = lower.ctx_.assert_emt();
    other_there = lower.ctx_.assert_other();
  });
  other.join();
  CHECK_FALSE(emt_there);
  CHECK(other_there);
  REQUIRE(r.reports.size() == 2);
  CHECK(r.reports[1].kind == pdm::report_kind::wrong_thread);
  CHECK(r.reports[1].what.detail().find("assert_emt") != std::string::npos);
}

// --- Without a VM ----------------------------------------------------------------------------------

TEST_CASE("the helpers of a driver made with driver_object::create fail with invalid_vm_state") {
  pdm::result<pdm::driver_object> made = pdm::driver_object::create(pdm::descriptor_of<loner>, 4);
  REQUIRE(made);
  auto& l = *static_cast<loner*>(made->get());
  pdm::driver_context& ctx = l.ctx_;
  CHECK(&ctx == &made->context());
  CHECK(l.attach_in_ctor == code(pdm::errc::invalid_vm_state));
  CHECK_FALSE(ctx.managed());
  CHECK(ctx.driver_name() == "Loner");
  CHECK(ctx.instance() == 4);

  pdm::result<pdm::driver_ref> a = ctx.attach();
  REQUIRE_FALSE(a);
  CHECK(a.error_value() == pdm::errc::invalid_vm_state);
  CHECK(a.error_value().driver_name() == "Loner");
  CHECK(a.error_value().instance() == 4);
  CHECK(code_of(ctx.detach()) == pdm::errc::invalid_vm_state);
  CHECK(code_of(ctx.detach_self()) == pdm::errc::invalid_vm_state);
  CHECK(code_of(ctx.mount_prepare("/images/a.img", "ImgA")) == pdm::errc::invalid_vm_state);
  CHECK(code_of(ctx.mount_prepare("/images/a.img")) == pdm::errc::invalid_vm_state);
  CHECK(code_of(ctx.notify_later()) == pdm::errc::invalid_vm_state);
  bool ran = false;
  CHECK(code_of(ctx.post([&ran] { ran = true; })) == pdm::errc::invalid_vm_state);
  CHECK_FALSE(ran);

  CHECK_FALSE(ctx.above());
  CHECK(ctx.above().name().empty());
  CHECK(ctx.above().query<chain_test::port>() == nullptr);
  CHECK_FALSE(ctx.below());
  CHECK(ctx.config() == nullptr);
  CHECK(ctx.vm_state() == pdm::vm_state::created);
  CHECK(ctx.assert_emt());
  CHECK(ctx.assert_other());
  CHECK_FALSE(ctx.fail(pdm::error(pdm::errc::invalid_value)));  // not during construction
  // From another thread too: no thread is wrong without a VM.
  bool emt_there = false;
  pdm::errc attach_there = {};
  std::thread other([&] {
    emt_there = ctx.assert_emt();
    attach_there = code_of(ctx.attach());
  });
  other.join();
  CHECK(emt_there);
  CHECK(attach_there == pdm::errc::invalid_vm_state);
}

TEST_CASE("driver_object::create of a constructor that calls fail() gives that error after the destructor ran") {
  chain_test::take_journal();
  pdm::result<pdm::driver_object> made = pdm::driver_object::create(pdm::descriptor_of<quitter>, 3);
  REQUIRE_FALSE(made);
  CHECK(made.error_value() == pdm::errc::invalid_value);
  CHECK(made.error_value().detail() == "quitting");
  CHECK(made.error_value().driver_name() == "Quitter");
  CHECK(made.error_value().instance() == 3);
  CHECK(chain_test::take_journal() == names{"ctor Quitter#3", "fail taken", "dtor Quitter#3"});
}

TEST_CASE("in a VM, a constructor that calls fail() gives that error after its destructor ran") {
  rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Spy", "AttachedDriver": {"Driver": "Quitter"}}}}}})");
  pdm::result<pdm::driver_ref> top = r.vm.attach("disk", 0, 0);
  REQUIRE_FALSE(top);
  CHECK(top.error_value() == pdm::errc::invalid_value);
  CHECK(top.error_value().detail() == "quitting");
  CHECK(top.error_value().driver_name() == "Quitter");
  CHECK(chain_test::take_journal() ==
        names{"ctor Spy#0", "ctor Quitter#0", "fail taken", "dtor Quitter#0", "dtor Spy#0"});
  CHECK(r.chain().empty());
  CHECK(r.vm.counts("Quitter")->live == 0);
}
