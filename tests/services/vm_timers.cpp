// tests/services/vm_timers.cpp - timers as a driver sees them: made through its context, fired
// on the EMT in deadline order by the VM's manual clock, stopped with the virtual clock while
// the VM is suspended, and gone with their instance.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "services/service_rig.hpp"

namespace {
using namespace std::chrono_literals;
using svc_test::rig;
using svc_test::top_driver;

std::vector<std::string>& fired() {
  static std::vector<std::string> v;
  return v;
}

TEST_CASE("a driver's timers fire on the EMT in deadline order, then arming order") {
  fired().clear();
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) {
    for (const char* name : {"a", "b", "c"}) {
      pdm::result<pdm::timer> t = d.ctx.create_timer(
          pdm::clock_kind::real, [name] { fired().emplace_back(name); }, name);
      REQUIRE(t);
      d.timers.push_back(*t);
    }
  };
  top_driver& d = r.attach();
  REQUIRE(d.timers[0].arm_in(3ms));
  REQUIRE(d.timers[1].arm_in(1ms));
  REQUIRE(d.timers[2].arm_in(3ms));
  CHECK(d.timers[1].pending());
  r.advance(999us);
  CHECK(fired().empty());
  r.advance(1us);
  CHECK(fired() == std::vector<std::string>{"b"});
  r.advance(5ms);
  CHECK(fired() == std::vector<std::string>{"b", "a", "c"});
  CHECK_FALSE(d.timers[0].pending());
}

TEST_CASE("virtual-clock timers wait while the VM is not running") {
  fired().clear();
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) {
    auto t = d.ctx.create_timer(
        pdm::clock_kind::virtual_time, [] { fired().emplace_back("v"); }, "v");
    REQUIRE(t);
    REQUIRE(t->arm_in(2ms));
    d.timers.push_back(*t);
  };
  top_driver& d = r.attach();
  r.advance(10ms);  // created: the virtual clock has not started
  CHECK(fired().empty());
  CHECK(r.vm.now(pdm::clock_kind::virtual_time) == 0);
  REQUIRE(r.vm.power_on());
  r.advance(1ms);
  REQUIRE(r.vm.suspend());
  r.advance(10ms);
  CHECK(fired().empty());
  CHECK(r.vm.now(pdm::clock_kind::virtual_time) == 1'000'000);
  REQUIRE(r.vm.resume());
  r.advance(1ms);
  CHECK(fired() == std::vector<std::string>{"v"});
  CHECK(d.ctx.now(pdm::clock_kind::virtual_time) == 2'000'000);
}

TEST_CASE("a timer armed by a constructor that then fails never fires, and its handle goes stale") {
  fired().clear();
  rig r;
  pdm::timer kept;
  top_driver::the_script().ctor = [&kept](top_driver& d) {
    auto t = d.ctx.create_timer(
        pdm::clock_kind::real, [] { fired().emplace_back("late"); }, "late");
    REQUIRE(t);
    REQUIRE(t->arm_in(1ms));
    kept = *t;
    d.ctx.fail(pdm::error(pdm::errc::invalid_argument, "no"));
  };
  CHECK_FALSE(r.vm.attach("dev", 0, 0));
  r.advance(5ms);
  CHECK(fired().empty());
  const pdm::status s = kept.arm_in(1ms);
  REQUIRE_FALSE(s);
  CHECK(s.error_value().code() == pdm::errc::resource_destroyed);
}

TEST_CASE("detaching an instance destroys its timers") {
  fired().clear();
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) {
    auto t = d.ctx.create_timer(
        pdm::clock_kind::real, [] { fired().emplace_back("x"); }, "x");
    REQUIRE(t);
    REQUIRE(t->arm_in(1ms));
    d.timers.push_back(*t);
  };
  top_driver& d = r.attach();
  const pdm::timer t = d.timers[0];
  REQUIRE(r.vm.detach("dev", 0, 0));
  r.advance(5ms);
  CHECK(fired().empty());
  CHECK_FALSE(t.pending());
  CHECK(t.stop().error_value().code() == pdm::errc::resource_destroyed);
}

}  // namespace

namespace {

TEST_CASE("a timer callback may re-arm itself, destroy itself, or detach its own instance") {
  fired().clear();
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) {
    auto periodic = d.ctx.create_timer(
        pdm::clock_kind::real,
        [&d] {
          fired().emplace_back("tick");
          REQUIRE(d.timers[0].arm_in(1ms));
        },
        "periodic");
    REQUIRE(periodic);
    d.timers.push_back(*periodic);
    auto once = d.ctx.create_timer(
        pdm::clock_kind::real,
        [&d] {
          fired().emplace_back("once");
          REQUIRE(d.timers[1].destroy());
        },
        "once");
    REQUIRE(once);
    d.timers.push_back(*once);
    auto leave = d.ctx.create_timer(
        pdm::clock_kind::real,
        [&d] {
          fired().emplace_back("leave");
          REQUIRE(d.ctx.detach_self());
        },
        "leave");
    REQUIRE(leave);
    d.timers.push_back(*leave);
    REQUIRE(d.timers[0].arm_in(1ms));
    REQUIRE(d.timers[1].arm_in(1ms));
    REQUIRE(d.timers[2].arm_in(3ms));
  };
  top_driver& d = r.attach();
  const std::vector<pdm::timer> kept = d.timers;
  r.advance(1ms);
  CHECK(fired() == std::vector<std::string>{"tick", "once"});
  CHECK(kept[1].pending() == false);
  CHECK(kept[1].arm_in(1ms).error_value().code() == pdm::errc::resource_destroyed);
  r.advance(1ms);
  r.advance(1ms);
  // At 3 ms both "leave" (armed first) and "tick" are due: "leave" fires first and takes the
  // instance, and its timers, with it.
  CHECK(fired() == std::vector<std::string>{"tick", "once", "tick", "leave"});
  CHECK_FALSE(r.vm.driver_on_lun("dev", 0, 0));
  r.advance(10ms);
  CHECK(fired().size() == 4);
  for (const pdm::timer& t : kept) CHECK(t.stop().error_value().code() == pdm::errc::resource_destroyed);
}

TEST_CASE("timer calls off the EMT fail with wrong_thread; a throwing callback is reported") {
  fired().clear();
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) {
    auto t = d.ctx.create_timer(
        pdm::clock_kind::real, [] { throw std::runtime_error("tick failed"); }, "bad");
    REQUIRE(t);
    d.timers.push_back(*t);
    auto u = d.ctx.create_timer(
        pdm::clock_kind::real, [] { fired().emplace_back("after"); }, "after");
    REQUIRE(u);
    d.timers.push_back(*u);
  };
  top_driver& d = r.attach();
  pdm::status off = pdm::ok();
  std::thread([&] { off = d.timers[0].arm_in(1ms); }).join();
  REQUIRE_FALSE(off);
  CHECK(off.error_value().code() == pdm::errc::wrong_thread);
  REQUIRE(d.timers[0].arm_in(1ms));
  REQUIRE(d.timers[1].arm_in(1ms));
  r.advance(1ms);
  CHECK(fired() == std::vector<std::string>{"after"});
  const std::vector<pdm::vm_report> reports = r.take_reports();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].kind == pdm::report_kind::hook_threw);
  CHECK(reports[0].what.message().find("timer 'bad' threw: tick failed") != std::string::npos);
  CHECK(reports[0].what.driver_name() == "Scripted");
  CHECK(reports[0].what.instance() == 0);
}

}  // namespace
