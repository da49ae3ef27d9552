// tests/services/vm_errors.cpp - a driver's set_error and set_runtime_error through a real VM:
// what the host's error sinks receive (kind, error with driver and instance, call site, flags,
// id), the report sink as the fallback without sinks, a runtime error's effect on the VM (none,
// suspend, fatal), from the EMT and from other threads, adding and removing sinks, a sink that
// throws, and a driver with no VM.
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "services/service_rig.hpp"

namespace {
using svc_test::below_driver;
using svc_test::rig;
using svc_test::top_driver;

// What the sinks of a test received, from any thread.
struct sink_log {
  void add(const pdm::driver_error_event& ev) {
    const std::lock_guard<std::mutex> hold(lock);
    events.push_back(ev);
    threads.push_back(std::this_thread::get_id());
  }
  std::vector<pdm::driver_error_event> take() {
    const std::lock_guard<std::mutex> hold(lock);
    threads.clear();
    return std::exchange(events, {});
  }
  std::mutex lock;
  std::vector<pdm::driver_error_event> events;
  std::vector<std::thread::id> threads;
};

// A one-way event: set() by one thread, waited for by another; stays set.
class event {
 public:
  void set() {
    {
      const std::lock_guard<std::mutex> hold(lock_);
      set_ = true;
    }
    changed_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> hold(lock_);
    changed_.wait(hold, [this] { return set_; });
  }

 private:
  std::mutex lock_;
  std::condition_variable changed_;
  bool set_ = false;
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A driver for pdm::driver_object::create: no VM.
class loner final {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Loner", .description = "Lives without a VM", .class_mask = pdm::driver_class::status};
  explicit loner(pdm::driver_context& c) : ctx(c) {}
  pdm::driver_context& ctx;
};

// --- set_error ----------------------------------------------------------------------------------

TEST_CASE("set_error returns the error named after the driver and sends it with its call site to the sinks") {
  sink_log log;
  rig r;
  r.vm.add_error_sink([&log](const pdm::driver_error_event& ev) { log.add(ev); });
  top_driver& d = r.attach();
  const std::uint_least32_t line = __LINE__ + 1;
  const pdm::error e = d.ctx.set_error(pdm::error(pdm::errc::invalid_value, "sector 7 is unreadable"));
  CHECK(e == pdm::errc::invalid_value);
  CHECK(e.detail() == "sector 7 is unreadable");
  CHECK(e.driver_name() == "Scripted");
  CHECK(e.instance() == 0);

  const std::vector<pdm::driver_error_event> events = log.take();
  REQUIRE(events.size() == 1);
  const pdm::driver_error_event& ev = events[0];
  CHECK(ev.what_kind == pdm::driver_error_event::kind::error);
  CHECK(ev.what == pdm::errc::invalid_value);
  CHECK(ev.what.detail() == "sector 7 is unreadable");
  CHECK(ev.what.driver_name() == "Scripted");
  CHECK(ev.what.instance() == 0);
  CAPTURE(ev.where);
  CHECK(contains(ev.where, "vm_errors.cpp:" + std::to_string(line) + " ("));
  CHECK(ev.where.back() == ')');  // "(<function>)"
  CHECK(ev.flags == pdm::runtime_error_flags::none);
  CHECK(ev.id.empty());
  CHECK(r.take_reports().empty());  // a sink took it
  CHECK(r.vm.state() == pdm::vm_state::created);
}

TEST_CASE("set_error from a constructor, a driver below, and an error that already names its driver") {
  sink_log log;
  rig r;
  r.vm.add_error_sink([&log](const pdm::driver_error_event& ev) { log.add(ev); });
  std::uint_least32_t line = 0;
  top_driver::the_script().ctor = [&line](top_driver& d) {
    REQUIRE(d.ctx.attach());
    line = __LINE__ + 1;
    (void)d.ctx.set_error(pdm::error(pdm::errc::not_implemented, "no cache"));
  };
  below_driver::the_script().ctor = [](below_driver& d) {
    (void)d.ctx.set_error(pdm::error(pdm::errc::invalid_value, "from below"));
  };
  top_driver& d = r.attach(1);  // Scripted #0 with Below #0 under it
  CHECK(d.ctx.below().name() == "Below");
  std::vector<pdm::driver_error_event> events = log.take();
  REQUIRE(events.size() == 2);
  CHECK(events[0].what.driver_name() == "Below");  // the constructor below ran inside the one above
  CHECK(events[0].what.instance() == 0);
  CHECK(events[1].what.driver_name() == "Scripted");
  CHECK(contains(events[1].where, "vm_errors.cpp:" + std::to_string(line) + " ("));

  // An error passed up from elsewhere keeps the driver it names.
  const pdm::error passed = d.ctx.set_error(pdm::error(pdm::errc::invalid_value, "passed on").driver("Below", 0));
  CHECK(passed.driver_name() == "Below");
  events = log.take();
  REQUIRE(events.size() == 1);
  CHECK(events[0].what.driver_name() == "Below");
}

TEST_CASE("set_error from another thread calls the sinks on that thread") {
  sink_log log;
  rig r;
  r.vm.add_error_sink([&log](const pdm::driver_error_event& ev) { log.add(ev); });
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  std::thread::id other_id;
  pdm::error returned;
  std::thread other([&] {
    other_id = std::this_thread::get_id();
    returned = d.ctx.set_error(pdm::error(pdm::errc::timeout, "the host did not answer"));
  });
  other.join();
  CHECK(returned.driver_name() == "Scripted");
  {
    const std::lock_guard<std::mutex> hold(log.lock);
    REQUIRE(log.events.size() == 1);
    CHECK(log.threads[0] == other_id);
    CHECK(log.events[0].what == pdm::errc::timeout);
    CHECK(contains(log.events[0].where, "vm_errors.cpp:"));
  }
  CHECK(r.vm.state() == pdm::vm_state::running);  // set_error never changes the VM's state
}

TEST_CASE("with no error sink, set_error and set_runtime_error go to the report sink as driver_error") {
  rig r;
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  const std::uint_least32_t line = __LINE__ + 1;
  (void)d.ctx.set_error(pdm::error(pdm::errc::invalid_value, "bad geometry"));
  REQUIRE(d.ctx.set_runtime_error(pdm::runtime_error_flags::none, "HostMemoryLow", "the host is low on memory"));
  const std::vector<pdm::vm_report> reports = r.take_reports();
  REQUIRE(reports.size() == 2);
  CHECK(reports[0].kind == pdm::report_kind::driver_error);
  CHECK(reports[0].what == pdm::errc::invalid_value);
  const std::string first = reports[0].what.message();
  CAPTURE(first);
  CHECK(contains(first, "bad geometry"));
  CHECK(contains(first, "Scripted"));
  CHECK(contains(first, "vm_errors.cpp:" + std::to_string(line)));
  CHECK(reports[1].kind == pdm::report_kind::driver_error);
  const std::string second = reports[1].what.message();
  CAPTURE(second);
  CHECK(contains(second, "HostMemoryLow"));
  CHECK(contains(second, "the host is low on memory"));
  CHECK(contains(second, "Scripted"));
  CHECK(r.vm.state() == pdm::vm_state::running);
}

// vm_report says its error names the driver and instance, as every other report's does (a
// thread's, a slow notification's): a host that sorts reports by driver reads driver_name().
TEST_CASE("a driver_error report's error names the driver and instance") {
  rig r;
  top_driver& d = r.attach();
  (void)d.ctx.set_error(pdm::error(pdm::errc::invalid_value, "bad geometry"));
  const std::vector<pdm::vm_report> reports = r.take_reports();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].kind == pdm::report_kind::driver_error);
  CHECK(reports[0].what.driver_name() == "Scripted");
  CHECK(reports[0].what.instance() == 0);
}

// --- set_runtime_error -----------------------------------------------------------------------------

TEST_CASE("a runtime error without flags is a warning: the sinks get it and the VM keeps running") {
  sink_log log;
  rig r;
  r.vm.add_error_sink([&log](const pdm::driver_error_event& ev) { log.add(ev); });
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  REQUIRE(d.ctx.set_runtime_error(pdm::runtime_error_flags::none, "DiskAlmostFull", "98% used"));
  r.vm.process();
  CHECK(r.vm.state() == pdm::vm_state::running);
  CHECK_FALSE(r.vm.fatal_error());
  const std::vector<pdm::driver_error_event> events = log.take();
  REQUIRE(events.size() == 1);
  CHECK(events[0].what_kind == pdm::driver_error_event::kind::runtime_error);
  CHECK(events[0].flags == pdm::runtime_error_flags::none);
  CHECK(events[0].id == "DiskAlmostFull");
  CHECK(events[0].what.detail() == "98% used");
  CHECK(events[0].what.driver_name() == "Scripted");
  CHECK(events[0].what.instance() == 0);
  CHECK(events[0].where.empty());
  CHECK(r.take_reports().empty());
}

TEST_CASE("a runtime error with `suspend` suspends the VM at the EMT's next turn; it can be resumed") {
  sink_log log;
  rig r;
  r.vm.add_error_sink([&log](const pdm::driver_error_event& ev) { log.add(ev); });
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  REQUIRE(d.ctx.set_runtime_error(pdm::runtime_error_flags::suspend, "DiskFull", "no space left"));
  CHECK(r.vm.state() == pdm::vm_state::running);  // posted to the EMT, even from the EMT
  REQUIRE(d.ctx.set_runtime_error(pdm::runtime_error_flags::suspend, "DiskFull", "still no space"));
  r.vm.process();
  CHECK(r.vm.state() == pdm::vm_state::suspended);  // once: the second request finds it suspended
  CHECK_FALSE(r.vm.fatal_error());
  const std::vector<pdm::driver_error_event> events = log.take();
  REQUIRE(events.size() == 2);
  CHECK(events[0].flags == pdm::runtime_error_flags::suspend);
  CHECK(events[0].id == "DiskFull");
  CHECK(r.take_reports().empty());
  REQUIRE(r.vm.resume());
  CHECK(r.vm.state() == pdm::vm_state::running);
  r.vm.process();
  CHECK(r.vm.state() == pdm::vm_state::running);
}

TEST_CASE("a fatal runtime error suspends the VM for good: resume fails, power off works") {
  sink_log log;
  rig r;
  r.vm.add_error_sink([&log](const pdm::driver_error_event& ev) { log.add(ev); });
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  REQUIRE(d.ctx.set_runtime_error(pdm::runtime_error_flags::fatal, "GuestTripleFault", "cannot go on"));
  CHECK(r.vm.fatal_error());  // at once
  r.vm.process();
  CHECK(r.vm.state() == pdm::vm_state::suspended);
  const pdm::status resumed = r.vm.resume();
  REQUIRE_FALSE(resumed);
  CHECK(resumed.error_value() == pdm::errc::invalid_vm_state);
  CHECK(r.vm.state() == pdm::vm_state::suspended);
  CHECK(r.vm.fatal_error());
  const std::vector<pdm::driver_error_event> events = log.take();
  REQUIRE(events.size() == 1);
  CHECK(events[0].flags == pdm::runtime_error_flags::fatal);
  CHECK(events[0].id == "GuestTripleFault");
  REQUIRE(r.vm.power_off());
  CHECK(r.vm.state() == pdm::vm_state::off);
}

TEST_CASE("a fatal runtime error while the VM is suspended keeps it suspended for good") {
  rig r;
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  REQUIRE(r.vm.suspend());
  REQUIRE(d.ctx.set_runtime_error(pdm::runtime_error_flags::fatal | pdm::runtime_error_flags::suspend, "Fatal",
                                  "while suspended"));
  r.vm.process();
  CHECK(r.vm.state() == pdm::vm_state::suspended);
  CHECK(r.vm.resume().error_value() == pdm::errc::invalid_vm_state);
  REQUIRE(r.vm.power_off());
}

TEST_CASE("a runtime error from another thread: its sinks run there, the EMT suspends the VM") {
  sink_log log;
  rig r;
  r.vm.add_error_sink([&log](const pdm::driver_error_event& ev) { log.add(ev); });
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  std::thread::id other_id;
  bool accepted = false;
  std::thread other([&] {
    other_id = std::this_thread::get_id();
    accepted = static_cast<bool>(
        d.ctx.set_runtime_error(pdm::runtime_error_flags::suspend, "NetworkDown", "the host link went away"));
  });
  other.join();
  CHECK(accepted);
  {
    const std::lock_guard<std::mutex> hold(log.lock);
    REQUIRE(log.events.size() == 1);
    CHECK(log.threads[0] == other_id);
    CHECK(log.events[0].id == "NetworkDown");
  }
  CHECK(r.vm.state() == pdm::vm_state::running);  // the test's thread is the EMT: nothing ran yet
  r.vm.process();
  CHECK(r.vm.state() == pdm::vm_state::suspended);
  REQUIRE(r.vm.resume());
}

TEST_CASE("a runtime error needs an id") {
  sink_log log;
  rig r;
  r.vm.add_error_sink([&log](const pdm::driver_error_event& ev) { log.add(ev); });
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  const pdm::status s = d.ctx.set_runtime_error(pdm::runtime_error_flags::fatal, "", "no id");
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::invalid_argument);
  CHECK(s.error_value().driver_name() == "Scripted");
  r.vm.process();
  CHECK(log.take().empty());  // nothing sent
  CHECK_FALSE(r.vm.fatal_error());
  CHECK(r.vm.state() == pdm::vm_state::running);
}

// --- Sinks ----------------------------------------------------------------------------------

TEST_CASE("error sinks: every sink gets each event; a removed sink gets none; with none left, the report sink") {
  sink_log first;
  sink_log second;
  rig r;
  const std::uint64_t a = r.vm.add_error_sink([&first](const pdm::driver_error_event& ev) { first.add(ev); });
  const std::uint64_t b = r.vm.add_error_sink([&second](const pdm::driver_error_event& ev) { second.add(ev); });
  CHECK(a != b);
  top_driver& d = r.attach();
  (void)d.ctx.set_error(pdm::error(pdm::errc::invalid_value, "one"));
  CHECK(first.take().size() == 1);
  CHECK(second.take().size() == 1);

  CHECK(r.vm.remove_error_sink(a));
  CHECK_FALSE(r.vm.remove_error_sink(a));  // gone already
  (void)d.ctx.set_error(pdm::error(pdm::errc::invalid_value, "two"));
  CHECK(first.take().empty());
  CHECK(second.take().size() == 1);
  CHECK(r.take_reports().empty());

  CHECK(r.vm.remove_error_sink(b));
  CHECK_FALSE(r.vm.remove_error_sink(12345));
  (void)d.ctx.set_error(pdm::error(pdm::errc::invalid_value, "three"));
  CHECK(second.take().empty());
  const std::vector<pdm::vm_report> reports = r.take_reports();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].kind == pdm::report_kind::driver_error);
  CHECK(contains(reports[0].what.message(), "three"));
}

TEST_CASE("a sink that throws is reported, and the other sinks still get the event") {
  sink_log before;
  sink_log after;
  rig r;
  r.vm.add_error_sink([&before](const pdm::driver_error_event& ev) { before.add(ev); });
  r.vm.add_error_sink([](const pdm::driver_error_event&) { throw std::runtime_error("the sink broke"); });
  r.vm.add_error_sink([&after](const pdm::driver_error_event& ev) { after.add(ev); });
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  const pdm::error e = d.ctx.set_error(pdm::error(pdm::errc::invalid_value, "sent"));
  CHECK(e == pdm::errc::invalid_value);
  CHECK(before.take().size() == 1);
  CHECK(after.take().size() == 1);
  std::vector<pdm::vm_report> reports = r.take_reports();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].kind == pdm::report_kind::hook_threw);
  CHECK(contains(reports[0].what.message(), "the sink broke"));

  // A runtime error still has its effect.
  REQUIRE(d.ctx.set_runtime_error(pdm::runtime_error_flags::suspend, "Stop", "stop"));
  r.vm.process();
  CHECK(r.vm.state() == pdm::vm_state::suspended);
  CHECK(after.take().size() == 1);
  reports = r.take_reports();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].kind == pdm::report_kind::hook_threw);
}

// A host removes its sink, then frees what the sink uses: once remove_error_sink() returned, the
// sink must not be called any more, even by a delivery that another thread had begun.
TEST_CASE("a sink removed while another thread delivers an event is not called after remove_error_sink returned") {
  event in_first;
  event release_first;
  std::atomic<int> second_calls{0};
  rig r;
  r.vm.add_error_sink([&](const pdm::driver_error_event&) {
    in_first.set();
    release_first.wait();
  });
  const std::uint64_t second = r.vm.add_error_sink([&](const pdm::driver_error_event&) { second_calls.fetch_add(1); });
  top_driver& d = r.attach();
  std::thread other([&d] { (void)d.ctx.set_error(pdm::error(pdm::errc::invalid_value, "in flight")); });
  in_first.wait();  // the delivery is under way, in the first sink
  CHECK(r.vm.remove_error_sink(second));
  const int calls_at_removal = second_calls.load();
  release_first.set();
  other.join();
  CHECK(calls_at_removal == 0);
  CHECK(second_calls.load() == 0);
}

// --- Without a VM ---------------------------------------------------------------------------

TEST_CASE("a driver made with driver_object::create: set_error returns its error, set_runtime_error fails") {
  pdm::result<pdm::driver_object> made = pdm::driver_object::create(pdm::descriptor_of<loner>, 5);
  REQUIRE(made);
  pdm::driver_context& ctx = static_cast<loner*>(made->get())->ctx;
  const pdm::error e = ctx.set_error(pdm::error(pdm::errc::invalid_value, "alone"));
  CHECK(e == pdm::errc::invalid_value);
  CHECK(e.detail() == "alone");
  CHECK(e.driver_name() == "Loner");
  CHECK(e.instance() == 5);
  const pdm::error kept = ctx.set_error(pdm::error(pdm::errc::invalid_value, "from elsewhere").driver("Other", 2));
  CHECK(kept.driver_name() == "Other");
  CHECK(kept.instance() == 2);

  const pdm::status s = ctx.set_runtime_error(pdm::runtime_error_flags::fatal, "Fatal", "no VM to stop");
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::invalid_vm_state);
  CHECK(s.error_value().driver_name() == "Loner");
  CHECK(s.error_value().instance() == 5);
}

}  // namespace
