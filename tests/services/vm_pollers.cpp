// tests/services/vm_pollers.cpp - pollers: a callback on the EMT every interval while the VM
// runs, a bounded table that says so when full, released with the instance.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "services/service_rig.hpp"

namespace {
using namespace std::chrono_literals;
using svc_test::rig;
using svc_test::top_driver;

std::vector<std::string>& polls() {
  static std::vector<std::string> v;
  return v;
}

void add_poller(top_driver& d, std::string name, std::chrono::nanoseconds every) {
  auto p = d.ctx.create_poller([name] { polls().push_back(name); }, every, name);
  REQUIRE_MESSAGE(p.has_value(), (p ? std::string() : p.error_value().message()));
  d.pollers.push_back(*p);
}

TEST_CASE("a poller runs every interval while the VM runs, and not while it is suspended") {
  polls().clear();
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) { add_poller(d, "p", 5ms); };
  r.attach();
  r.advance(20ms);
  CHECK(polls().empty());  // created: not running yet
  REQUIRE(r.vm.power_on());
  r.advance(4ms);
  CHECK(polls().empty());
  r.advance(1ms);
  CHECK(polls().size() == 1);
  r.advance(5ms);
  CHECK(polls().size() == 2);
  REQUIRE(r.vm.suspend());
  r.advance(50ms);
  CHECK(polls().size() == 2);
  REQUIRE(r.vm.resume());
  r.advance(5ms);
  CHECK(polls().size() == 3);
}

TEST_CASE("a late EMT turn runs a poller once, not once per missed interval") {
  polls().clear();
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) { add_poller(d, "p", 5ms); };
  r.attach();
  REQUIRE(r.vm.power_on());
  r.advance(100ms);
  CHECK(polls().size() == 1);
  r.advance(5ms);
  CHECK(polls().size() == 2);
}

TEST_CASE("the poller table is bounded: full is an error naming the poller; destroy frees a slot") {
  polls().clear();
  pdm::vm_options o;
  o.max_pollers = 2;
  rig r(R"({"Devices": {"dev": {"0": {"LUN#0": {"Driver": "Scripted"}}}}})", o);
  top_driver::the_script().ctor = [](top_driver& d) {
    add_poller(d, "one", 1ms);
    add_poller(d, "two", 1ms);
    auto third = d.ctx.create_poller([] {}, 1ms, "three");
    REQUIRE_FALSE(third);
    CHECK(third.error_value().code() == pdm::errc::poller_table_full);
    CHECK(third.error_value().message().find("all 2 poller slots are in use; cannot add poller 'three'") !=
          std::string::npos);
    CHECK(third.error_value().driver_name() == "Scripted");
    REQUIRE(d.pollers[0].destroy());
    CHECK_FALSE(d.pollers[0].valid());
    CHECK(d.pollers[0].destroy().error_value().code() == pdm::errc::resource_destroyed);
    add_poller(d, "three", 1ms);
  };
  r.attach();
  REQUIRE(r.vm.power_on());
  r.advance(1ms);
  std::vector<std::string> ran = polls();
  std::sort(ran.begin(), ran.end());  // pollers run in table order, which is not creation order
  CHECK(ran == std::vector<std::string>{"three", "two"});
}

TEST_CASE("pollers go with their instance, and with a constructor that fails") {
  polls().clear();
  pdm::vm_options o;
  o.max_pollers = 1;
  rig r(R"({"Devices": {"dev": {"0": {"LUN#0": {"Driver": "Scripted"}}}}})", o);
  bool fail = true;
  pdm::poller kept;
  top_driver::the_script().ctor = [&](top_driver& d) {
    add_poller(d, "p", 1ms);
    kept = d.pollers.back();
    if (fail) d.ctx.fail(pdm::error(pdm::errc::invalid_argument, "refused"));
  };
  CHECK_FALSE(r.vm.attach("dev", 0, 0));
  CHECK_FALSE(kept.valid());
  fail = false;
  r.attach();  // the table's one slot is free again
  CHECK(kept.valid());
  REQUIRE(r.vm.power_on());
  r.advance(1ms);
  CHECK(polls().size() == 1);
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK_FALSE(kept.valid());
  r.advance(10ms);
  CHECK(polls().size() == 1);
}

TEST_CASE("a poller may destroy itself or detach its instance from its callback; one that throws is reported") {
  polls().clear();
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) {
    auto self_destroying = std::make_shared<pdm::poller>();
    auto p = d.ctx.create_poller(
        [self_destroying] {
          polls().emplace_back("once");
          REQUIRE(self_destroying->destroy());
        },
        1ms, "once");
    REQUIRE(p);
    *self_destroying = *p;
    auto t = d.ctx.create_poller([] { throw std::runtime_error("poll failed"); }, 1ms, "thrower");
    REQUIRE(t);
    auto leaver = d.ctx.create_poller(
        [&d] {
          polls().emplace_back("leave");
          REQUIRE(d.ctx.detach_self());
        },
        3ms, "leaver");
    REQUIRE(leaver);
  };
  r.attach();
  REQUIRE(r.vm.power_on());
  r.advance(1ms);
  r.advance(1ms);
  CHECK(polls() == std::vector<std::string>{"once"});
  const std::vector<pdm::vm_report> reports = r.take_reports();
  REQUIRE(reports.size() == 2);
  CHECK(reports[0].kind == pdm::report_kind::hook_threw);
  CHECK(reports[0].what.message().find("poller 'thrower' threw: poll failed") != std::string::npos);
  r.advance(1ms);
  CHECK(polls() == std::vector<std::string>{"once", "leave"});
  CHECK_FALSE(r.vm.driver_on_lun("dev", 0, 0));
  r.advance(10ms);
  CHECK(polls().size() == 2);
}

TEST_CASE("bad poller requests are refused") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) {
    auto none = d.ctx.create_poller(nullptr, 1ms, "none");
    REQUIRE_FALSE(none);
    CHECK(none.error_value().code() == pdm::errc::invalid_argument);
    auto zero = d.ctx.create_poller([] {}, 0ms, "zero");
    REQUIRE_FALSE(zero);
    CHECK(zero.error_value().code() == pdm::errc::invalid_argument);
  };
  r.attach();
  const pdm::poller empty;
  CHECK(empty.destroy().error_value().code() == pdm::errc::resource_destroyed);
}

}  // namespace
