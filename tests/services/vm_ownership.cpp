// tests/services/vm_ownership.cpp - the one rule over every service: what an instance made is
// owned by it and released with it, newest first, when it is detached and when its
// construction fails; threads are stopped before the driver's destructor runs.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "services/service_rig.hpp"

namespace {
using namespace std::chrono_literals;
using svc_test::rig;
using svc_test::top_driver;

std::vector<std::string>& events() {
  static std::vector<std::string> v;
  return v;
}
void note(std::string s) noexcept {
  try {
    events().push_back(std::move(s));
  } catch (...) {
    // The test fails on the missing line.
  }
}

// A queue item that says when it is destroyed unconsumed.
struct tagged {
  explicit tagged(std::string t) : tag(std::move(t)) {}
  tagged(tagged&& o) noexcept : tag(std::move(o.tag)) { o.tag.clear(); }
  tagged& operator=(tagged&&) = delete;
  tagged(const tagged&) = delete;
  tagged& operator=(const tagged&) = delete;
  ~tagged() {
    if (!tag.empty()) note("drop " + tag);
  }
  std::string tag;
};

// Makes, in this order: thread t1, queue q1 (one item), thread t2, queue q2 (one item), a
// timer, a counter. Each thread notes when its function ends.
void make_everything(top_driver& d) {
  for (const char* name : {"t1", "q1", "t2", "q2"}) {
    const std::string n = name;
    if (n[0] == 't') {
      auto t = d.ctx.create_thread(n, [n](pdm::thread_control& c) {
        while (c.running()) c.sleep(1s);
        note("end " + n);
      });
      REQUIRE(t);
      d.threads.push_back(*t);
    } else {
      auto q = d.ctx.create_queue<tagged>(
          2, 1s, [](tagged&) { return true; }, n);
      REQUIRE(q);
      REQUIRE(q->emplace(n + " item"));
    }
  }
  auto t = d.ctx.create_timer(
      pdm::clock_kind::real, [] { note("timer fired"); }, "tick");
  REQUIRE(t);
  REQUIRE(t->arm_in(1ms));
  REQUIRE(d.ctx.add_counter("Made", pdm::stat_unit::count, "things made"));
}

TEST_CASE("detach: threads end before the destructor, the rest goes after it, newest first") {
  events().clear();
  rig r;
  top_driver::the_script().ctor = make_everything;
  top_driver::the_script().dtor = [](top_driver&) { note("destructor"); };
  r.attach();
  REQUIRE(r.vm.power_on());
  CHECK(r.vm.statistics().find("/Drivers/Scripted-0/Made"));
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK(events() == std::vector<std::string>{"end t2", "end t1", "destructor", "drop q2 item", "drop q1 item"});
  CHECK_FALSE(r.vm.statistics().find("/Drivers/Scripted-0/Made"));
  CHECK(r.vm.statistics().size() == 0);
  r.advance(10ms);
  CHECK(events().size() == 5);  // the timer went with its instance
}

TEST_CASE("failed construction releases the same way; thread functions never ran") {
  for (const bool throws : {false, true}) {
    CAPTURE(throws);
    events().clear();
    rig r;
    REQUIRE(r.vm.power_on());
    top_driver::the_script().ctor = [throws](top_driver& d) {
      make_everything(d);
      if (throws) throw std::runtime_error("constructor gives up");
      d.ctx.fail(pdm::error(pdm::errc::invalid_argument, "constructor gives up"));
    };
    top_driver::the_script().dtor = [](top_driver&) { note("destructor"); };
    CHECK_FALSE(r.vm.attach("dev", 0, 0));
    std::vector<std::string> expected = {"drop q2 item", "drop q1 item"};
    if (!throws) expected.insert(expected.begin(), "destructor");  // ctx.fail: the destructor runs
    CHECK(events() == expected);
    CHECK(r.vm.statistics().size() == 0);
    r.advance(10ms);
    CHECK(events() == expected);
  }
}

TEST_CASE("attach and detach cycles leave nothing behind") {
  events().clear();
  rig r;
  REQUIRE(r.vm.power_on());
  top_driver::the_script().ctor = make_everything;
  for (int i = 0; i < 50; ++i) {
    r.attach();
    REQUIRE(r.vm.detach("dev", 0, 0));
  }
  CHECK(r.vm.statistics().size() == 0);
  std::size_t ends = 0;
  for (const std::string& e : events()) ends += e.starts_with("end ") ? 1 : 0;
  CHECK(ends == 100);
  r.advance(10ms);
  CHECK(std::count(events().begin(), events().end(), "timer fired") == 0);
}

struct lone final {
  static constexpr pdm::driver_traits traits{
      .name = "Lone", .description = "Lives without a VM", .class_mask = pdm::driver_class::status};
  explicit lone(pdm::driver_context& c) : ctx(c) {}
  pdm::driver_context& ctx;
};

TEST_CASE("a driver made without a VM gets a clear error from every service") {
  pdm::result<pdm::driver_object> o = pdm::driver_object::create(pdm::descriptor_of<lone>, 0);
  REQUIRE(o);
  pdm::driver_context& ctx = static_cast<lone*>(o->get())->ctx;
  auto check = [](const auto& made) {
    REQUIRE_FALSE(made);
    CHECK(made.error_value().code() == pdm::errc::invalid_vm_state);
    CHECK(made.error_value().driver_name() == "Lone");
  };
  check(ctx.create_timer(pdm::clock_kind::real, [] {}));
  check(ctx.create_queue<int>(1, 0ns, [](int&) { return true; }));
  check(ctx.create_poller([] {}));
  check(ctx.create_thread("t", [](pdm::thread_control&) {}));
  check(ctx.add_counter("c", pdm::stat_unit::count));
  check(ctx.set_runtime_error(pdm::runtime_error_flags::none, "Id", "message"));
  CHECK(ctx.now(pdm::clock_kind::real) == 0);
  const pdm::error e = ctx.set_error(pdm::error(pdm::errc::io_error, "disk gone"));
  CHECK(e.driver_name() == "Lone");
}

}  // namespace
