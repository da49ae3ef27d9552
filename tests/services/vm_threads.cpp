// tests/services/vm_threads.cpp - driver threads as a driver sees them, through a real VM: made
// by a constructor they wait for the instance and for the VM to run; they are suspended and
// resumed with the VM (the wakeup callback unblocks a thread waiting on something of its own);
// they are terminated and joined before their driver's destructor runs, on detach, on a failed
// construction, by hand, on power off and VM destruction; a thread that will not stop or will not
// acknowledge a suspend is reported once; a function that throws is reported.
//
// Every wait is on a condition (an event, a latch, an acknowledgement that wakes the EMT), never
// on a guessed duration; the only durations are stop timeouts that a test makes run out on purpose
// and sleeps that the library must cut short.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "services/service_rig.hpp"

namespace {
using namespace std::chrono_literals;
using svc_test::rig;
using svc_test::top_driver;

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
  [[nodiscard]] bool is_set() {
    const std::lock_guard<std::mutex> hold(lock_);
    return set_;
  }

 private:
  std::mutex lock_;
  std::condition_variable changed_;
  bool set_ = false;
};

// What a test's driver thread tells the test. Shared by the thread's function, the driver's
// script and the test, so it outlives each of them.
struct probe {
  event started;                  // the function runs (and, for loop(), its first running() said true)
  std::atomic<int> entered{0};    // how many times the function started
  std::atomic<int> inside{0};     // 1 while the function runs
  std::atomic<int> cut_short{0};  // sleeps that a suspend or terminate request cut short
  std::atomic<bool> exited{false};
};

// The usual driver thread: loops on running(), sleeping for an hour that state changes cut short.
std::function<void(pdm::thread_control&)> loop(std::shared_ptr<probe> p) {
  return [p = std::move(p)](pdm::thread_control& t) {
    p->entered.fetch_add(1);
    p->inside.fetch_add(1);
    while (t.running()) {
      p->started.set();  // after running() said true: a request now finds the thread in sleep() or before it
      if (!t.sleep(1h)) p->cut_short.fetch_add(1);
    }
    p->inside.fetch_sub(1);
    p->exited.store(true);
  };
}

// The driver's script: one thread called "worker" running `body`, kept in d.threads.
void make_thread_in_ctor(std::function<void(pdm::thread_control&)> body, std::function<void()> wakeup = {}) {
  top_driver::the_script().ctor = [body = std::move(body), wakeup = std::move(wakeup)](top_driver& d) {
    pdm::result<pdm::driver_thread> t = d.ctx.create_thread("worker", body, wakeup);
    REQUIRE_MESSAGE(t.has_value(), (t ? std::string() : t.error_value().message()));
    d.threads.push_back(*t);
  };
}

// Runs the EMT until `done()`: a thread's acknowledgement or end wakes it, so each turn waits for
// an event; the timeout only bounds one turn.
template <class Done>
void run_emt_until(pdm::vm& vm, Done done) {
  while (!done()) (void)vm.thread().wait_until(std::chrono::steady_clock::now() + 100ms);
}

// Runs `f` when destroyed: kept in a driver's `extra`, it runs while the driver is destroyed.
struct on_destroy {
  explicit on_destroy(std::function<void()> fn) : f(std::move(fn)) {}
  on_destroy(const on_destroy&) = delete;
  on_destroy& operator=(const on_destroy&) = delete;
  on_destroy(on_destroy&&) = delete;
  on_destroy& operator=(on_destroy&&) = delete;
  ~on_destroy() { f(); }
  std::function<void()> f;
};

constexpr std::string_view rig_config = R"({"Devices": {"dev": {"0": {
    "LUN#0": {"Driver": "Scripted"},
    "LUN#1": {"Driver": "Scripted", "AttachedDriver": {"Driver": "Below"}}}}}})";

// The rig's VM and device "dev", with a short thread stop timeout and a report sink that calls the
// test's hook as well as recording the report: for tests that must act on a report while the EMT
// waits for a thread (the rig's sink only records).
struct hooked_rig {
  hooked_rig(std::chrono::milliseconds stop_timeout, std::function<void(const pdm::vm_report&)> on_report)
      : hook(std::move(on_report)), vm(rig::make_registry(), rig::load(rig_config), options(stop_timeout)) {
    pdm::device_spec d{.name = "dev", .instance = 0};
    for (std::uint32_t n : {0U, 1U}) {
      d.luns.push_back(pdm::lun_spec{.number = n, .needs = pdm::interfaces<svc_test::marker>()});
    }
    d.hooks.on_attach = [](std::uint32_t, pdm::attach_flags) { return pdm::ok(); };
    d.hooks.on_detach = [](std::uint32_t, pdm::attach_flags) {};
    REQUIRE(vm.add_device(std::move(d)));
  }
  hooked_rig(const hooked_rig&) = delete;
  hooked_rig& operator=(const hooked_rig&) = delete;
  hooked_rig(hooked_rig&&) = delete;
  hooked_rig& operator=(hooked_rig&&) = delete;
  ~hooked_rig() {
    top_driver::the_script() = {};
    svc_test::below_driver::the_script() = {};
  }

  pdm::vm_options options(std::chrono::milliseconds stop_timeout) {
    pdm::vm_options o;
    o.emt = pdm::emt_mode::current_thread;
    o.clock = &clock;
    o.thread_stop_timeout = stop_timeout;
    o.report = [this](const pdm::vm_report& r) {
      {
        const std::lock_guard<std::mutex> hold(reports_lock);
        reports.push_back(r);
      }
      hook(r);
    };
    return o;
  }
  top_driver& attach(std::uint32_t lun = 0) {
    pdm::result<pdm::driver_ref> r = vm.attach("dev", 0, lun);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error_value().message()));
    return *static_cast<top_driver*>(r->get());
  }
  std::vector<pdm::vm_report> take_reports() {
    const std::lock_guard<std::mutex> hold(reports_lock);
    return std::exchange(reports, {});
  }

  pdm::manual_clock clock;
  std::function<void(const pdm::vm_report&)> hook;
  std::mutex reports_lock;
  std::vector<pdm::vm_report> reports;
  pdm::vm vm;
};

// --- Start ------------------------------------------------------------------------------------

TEST_CASE("a thread made by a constructor waits for the VM to run, then runs its function") {
  auto p = std::make_shared<probe>();
  rig r;
  pdm::thread_state in_ctor = pdm::thread_state::terminated;
  top_driver::the_script().ctor = [p, &in_ctor](top_driver& d) {
    pdm::result<pdm::driver_thread> t = d.ctx.create_thread("worker", loop(p));
    REQUIRE(t);
    d.threads.push_back(*t);
    in_ctor = t->state();
  };
  top_driver& d = r.attach();
  CHECK(in_ctor == pdm::thread_state::initializing);
  CHECK(d.threads[0].state() == pdm::thread_state::initializing);  // constructed, but the VM is not running
  CHECK(p->entered.load() == 0);
  r.advance(10ms);  // the EMT's turns do not start it either
  CHECK(d.threads[0].state() == pdm::thread_state::initializing);
  CHECK(p->entered.load() == 0);

  REQUIRE(r.vm.power_on());
  REQUIRE(d.threads[0].state() == pdm::thread_state::running);
  p->started.wait();
  CHECK(p->entered.load() == 1);
  CHECK(p->cut_short.load() == 0);
  CHECK(r.take_reports().empty());
}

TEST_CASE(
    "a thread made by a constructor of a driver hot-attached to a running VM starts once the constructor returned") {
  auto p = std::make_shared<probe>();
  rig r;
  REQUIRE(r.vm.power_on());
  pdm::thread_state in_ctor = pdm::thread_state::terminated;
  int entered_in_ctor = -1;
  top_driver::the_script().ctor = [p, &in_ctor, &entered_in_ctor](top_driver& d) {
    pdm::result<pdm::driver_thread> t = d.ctx.create_thread("worker", loop(p));
    REQUIRE(t);
    d.threads.push_back(*t);
    in_ctor = t->state();
    entered_in_ctor = p->entered.load();
  };
  top_driver& d = r.attach();
  CHECK(in_ctor == pdm::thread_state::initializing);
  CHECK(entered_in_ctor == 0);
  REQUIRE(d.threads[0].state() == pdm::thread_state::running);
  p->started.wait();
  CHECK(p->entered.load() == 1);
}

TEST_CASE("a thread hot-attached to a suspended VM starts when the VM resumes") {
  auto p = std::make_shared<probe>();
  rig r;
  REQUIRE(r.vm.power_on());
  REQUIRE(r.vm.suspend());
  make_thread_in_ctor(loop(p));
  top_driver& d = r.attach();
  CHECK(d.threads[0].state() == pdm::thread_state::initializing);
  CHECK(p->entered.load() == 0);
  REQUIRE(r.vm.resume());
  REQUIRE(d.threads[0].state() == pdm::thread_state::running);
  p->started.wait();
  CHECK(p->entered.load() == 1);
}

TEST_CASE("a thread made outside a constructor starts at once in a running VM, at power on otherwise") {
  auto p = std::make_shared<probe>();
  rig r;
  top_driver& d = r.attach();
  SUBCASE("VM running") {
    REQUIRE(r.vm.power_on());
    pdm::result<pdm::driver_thread> t = d.ctx.create_thread("later", loop(p));
    REQUIRE(t);
    REQUIRE(t->state() == pdm::thread_state::running);
    p->started.wait();
  }
  SUBCASE("VM created") {
    pdm::result<pdm::driver_thread> t = d.ctx.create_thread("later", loop(p));
    REQUIRE(t);
    CHECK(t->state() == pdm::thread_state::initializing);
    CHECK(p->entered.load() == 0);
    REQUIRE(r.vm.power_on());
    REQUIRE(t->state() == pdm::thread_state::running);
    p->started.wait();
  }
  CHECK(p->entered.load() == 1);
}

// A thread a driver makes while the VM powers on, resumes or resets (from a power hook, the
// natural place to start an I/O thread) must run once the VM runs. The device's hook stands in
// for the driver's own power hook: same EMT, same moment of the transition.
TEST_CASE("a thread made during power on, resume or reset of the VM runs once the VM runs") {
  auto p = std::make_shared<probe>();
  rig r;
  top_driver& d = r.attach();
  pdm::driver_thread made;
  auto make = [&d, &made, p] {
    pdm::result<pdm::driver_thread> t = d.ctx.create_thread("from-hook", loop(p));
    REQUIRE(t);
    made = *t;
  };
  pdm::device_spec host{.name = "host", .instance = 0};
  SUBCASE("power on") {
    host.hooks.on_power_on = make;
    REQUIRE(r.vm.add_device(std::move(host)));
    REQUIRE(r.vm.power_on());
  }
  SUBCASE("resume") {
    host.hooks.on_resume = make;
    REQUIRE(r.vm.add_device(std::move(host)));
    REQUIRE(r.vm.power_on());
    REQUIRE(r.vm.suspend());
    REQUIRE(r.vm.resume());
  }
  SUBCASE("reset of a running VM") {
    host.hooks.on_reset = make;
    REQUIRE(r.vm.add_device(std::move(host)));
    REQUIRE(r.vm.power_on());
    REQUIRE(r.vm.reset());
  }
  REQUIRE(made);
  CHECK(r.vm.state() == pdm::vm_state::running);
  CHECK(made.state() == pdm::thread_state::running);  // not left in `initializing` while the VM runs
  if (made.state() == pdm::thread_state::running) p->started.wait();
  REQUIRE(made.destroy());
}

TEST_CASE("a driver attached during power on gets its constructor's threads running with the VM") {
  auto p = std::make_shared<probe>();
  rig r;
  make_thread_in_ctor(loop(p));
  top_driver* attached = nullptr;
  pdm::device_spec host{.name = "host", .instance = 0};
  host.hooks.on_power_on = [&r, &attached] {
    pdm::result<pdm::driver_ref> a = r.vm.attach("dev", 0, 0);
    REQUIRE(a);
    attached = static_cast<top_driver*>(a->get());
  };
  REQUIRE(r.vm.add_device(std::move(host)));
  REQUIRE(r.vm.power_on());
  REQUIRE(attached != nullptr);
  CHECK(r.vm.state() == pdm::vm_state::running);
  CHECK(attached->threads[0].state() == pdm::thread_state::running);
  if (attached->threads[0].state() == pdm::thread_state::running) p->started.wait();
}

TEST_CASE("create_thread: a function is required, and it is called on the EMT only") {
  rig r;
  top_driver& d = r.attach();
  pdm::result<pdm::driver_thread> none = d.ctx.create_thread("empty", {});
  REQUIRE_FALSE(none);
  CHECK(none.error_value() == pdm::errc::invalid_argument);
  CHECK(none.error_value().driver_name() == "Scripted");

  std::error_code there;
  std::thread other([&] {
    pdm::result<pdm::driver_thread> t = d.ctx.create_thread("elsewhere", [](pdm::thread_control&) {});
    if (!t) there = t.error_value().code();
  });
  other.join();
  CHECK(there == pdm::make_error_code(pdm::errc::wrong_thread));
}

// --- Suspend and resume -----------------------------------------------------------------------

TEST_CASE("suspend and resume: the thread acknowledges in running(), and its sleep is cut short") {
  auto p = std::make_shared<probe>();
  rig r;
  make_thread_in_ctor(loop(p));
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  p->started.wait();
  const pdm::driver_thread t = d.threads[0];

  REQUIRE(r.vm.suspend());
  CHECK(r.vm.state() == pdm::vm_state::suspended);
  CHECK(t.state() == pdm::thread_state::suspended);  // acknowledged before suspend() returned
  CHECK(p->cut_short.load() == 1);                   // the hour-long sleep ended early
  CHECK(p->inside.load() == 1);                      // waiting in running(), not ended

  REQUIRE(r.vm.resume());
  CHECK(t.state() == pdm::thread_state::running);
  CHECK(p->cut_short.load() == 1);

  REQUIRE(r.vm.suspend());
  CHECK(t.state() == pdm::thread_state::suspended);
  CHECK(p->cut_short.load() == 2);
  REQUIRE(r.vm.resume());
  CHECK(t.state() == pdm::thread_state::running);
  CHECK(p->entered.load() == 1);  // one function, suspended and resumed, never restarted
  CHECK(r.take_reports().empty());
}

TEST_CASE("sleep() returns true when the whole time passed, false at once while a request is pending") {
  struct seen {
    event slept;
    event go_on;
    int wakeups = 0;  // on the EMT only
    std::atomic<bool> full{false};
    std::atomic<bool> at_terminate{true};
  };
  auto s = std::make_shared<seen>();
  rig r;
  make_thread_in_ctor(
      [s](pdm::thread_control& t) {
        s->full = t.sleep(1ms);  // nothing asked meanwhile: the whole time passes
        s->slept.set();
        s->go_on.wait();                // until the terminate request is pending
        s->at_terminate = t.sleep(1h);  // already pending: returns false at once
      },
      [s] {
        // Called once at the start, then by destroy() once `terminating` is set.
        if (++s->wakeups == 2) s->go_on.set();
      });
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  s->slept.wait();
  CHECK(s->full.load());
  REQUIRE(d.threads[0].destroy());
  CHECK(s->wakeups == 2);
  CHECK_FALSE(s->at_terminate.load());
}

TEST_CASE("the wakeup callback unblocks a thread waiting on a condition of its own at each state change") {
  struct own_wait {
    std::mutex lock;
    std::condition_variable cv;
    bool kicked = false;
    bool waiting = false;
    int wakeups = 0;
    std::atomic<bool> exited{false};
  };
  auto w = std::make_shared<own_wait>();
  rig r;
  auto body = [w](pdm::thread_control& t) {
    while (t.running()) {
      std::unique_lock<std::mutex> hold(w->lock);
      w->waiting = true;
      w->cv.notify_all();
      w->cv.wait(hold, [&w] { return w->kicked; });  // blind to pdm's requests: only the wakeup ends it
      w->kicked = false;
      w->waiting = false;
    }
    w->exited = true;
  };
  auto wakeup = [w] {
    {
      const std::lock_guard<std::mutex> hold(w->lock);
      w->kicked = true;
      ++w->wakeups;
    }
    w->cv.notify_all();
  };
  auto wakeups = [&w] {
    const std::lock_guard<std::mutex> hold(w->lock);
    return w->wakeups;
  };
  make_thread_in_ctor(body, wakeup);
  top_driver& d = r.attach();
  const pdm::driver_thread t = d.threads[0];
  CHECK(wakeups() == 0);
  REQUIRE(r.vm.power_on());
  CHECK(wakeups() == 1);  // start
  {
    std::unique_lock<std::mutex> hold(w->lock);
    w->cv.wait(hold, [&w] { return w->waiting && !w->kicked; });  // blocked in its own wait
  }
  REQUIRE(r.vm.suspend());  // would wait forever without the wakeup
  CHECK(t.state() == pdm::thread_state::suspended);
  CHECK(wakeups() == 2);
  REQUIRE(r.vm.resume());
  CHECK(t.state() == pdm::thread_state::running);
  CHECK(wakeups() == 3);
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK(w->exited.load());
  CHECK(wakeups() == 4);  // terminate
}

TEST_CASE("a thread that does not acknowledge a suspend in time is reported once, and the VM waits for it") {
  event gate;
  hooked_rig r(20ms, [&gate](const pdm::vm_report& rep) {
    if (rep.kind == pdm::report_kind::thread_not_stopped) gate.set();
  });
  auto p = std::make_shared<probe>();
  make_thread_in_ctor([p, &gate](pdm::thread_control& t) {
    while (t.running()) {
      p->started.set();
      gate.wait();  // busy elsewhere until the VM reported us
      (void)t.sleep(1h);
    }
    p->exited = true;
  });
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  p->started.wait();
  REQUIRE(r.vm.suspend());
  CHECK(d.threads[0].state() == pdm::thread_state::suspended);
  const std::vector<pdm::vm_report> reports = r.take_reports();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].kind == pdm::report_kind::thread_not_stopped);
  CHECK(reports[0].what == pdm::errc::timeout);
  CHECK(reports[0].what.driver_name() == "Scripted");
  CHECK(reports[0].what.instance() == 0);
  CHECK(reports[0].what.detail().find("'worker'") != std::string::npos);
  CHECK(reports[0].what.detail().find("suspend") != std::string::npos);
  REQUIRE(r.vm.resume());
  CHECK(d.threads[0].state() == pdm::thread_state::running);
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK(p->exited.load());
  CHECK(r.take_reports().empty());
}

// --- The end of a thread ----------------------------------------------------------------------

TEST_CASE("detaching the instance terminates and joins its thread before the driver's destructor runs") {
  auto p = std::make_shared<probe>();
  rig r;
  int inside_at_dtor = -1;
  bool exited_at_dtor = false;
  pdm::thread_state state_at_dtor = pdm::thread_state::running;
  make_thread_in_ctor(loop(p));
  top_driver::the_script().dtor = [p, &inside_at_dtor, &exited_at_dtor, &state_at_dtor](top_driver& d) {
    inside_at_dtor = p->inside.load();
    exited_at_dtor = p->exited.load();
    state_at_dtor = d.threads[0].state();
  };
  top_driver& d = r.attach();
  const pdm::driver_thread t = d.threads[0];
  bool ran = true;
  SUBCASE("VM running") {
    REQUIRE(r.vm.power_on());
    p->started.wait();
  }
  SUBCASE("VM suspended: the thread waits in running()") {
    REQUIRE(r.vm.power_on());
    p->started.wait();
    REQUIRE(r.vm.suspend());
    REQUIRE(t.state() == pdm::thread_state::suspended);
  }
  SUBCASE("VM never powered on: the function never runs") { ran = false; }
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK(inside_at_dtor == 0);
  CHECK(exited_at_dtor == ran);
  CHECK(state_at_dtor == pdm::thread_state::terminated);
  CHECK(p->entered.load() == (ran ? 1 : 0));
  CHECK(t.state() == pdm::thread_state::terminated);
  const pdm::status again = t.destroy();
  REQUIRE_FALSE(again);
  CHECK(again.error_value() == pdm::errc::resource_destroyed);
  CHECK(r.take_reports().empty());
}

TEST_CASE("a chain's threads all stop, top first, before any driver of the chain is destroyed") {
  // The top driver's thread and its wakeup use the driver below (as a char layer's I/O thread
  // uses its stream): the driver below must outlive them, on a detach and when the VM goes.
  auto p = std::make_shared<probe>();
  auto below_gone = std::make_shared<std::atomic<bool>>(false);
  auto wakeups_after_below_gone = std::make_shared<std::atomic<int>>(0);
  bool thread_ended_before_below_went = false;
  make_thread_in_ctor(loop(p), [below_gone, wakeups_after_below_gone] {
    if (below_gone->load()) wakeups_after_below_gone->fetch_add(1);
  });
  auto make_thread = top_driver::the_script().ctor;
  top_driver::the_script().ctor = [make_thread](top_driver& d) {
    make_thread(d);
    REQUIRE(d.ctx.attach());
  };
  svc_test::below_driver::the_script().dtor = [&, p, below_gone](svc_test::below_driver&) {
    thread_ended_before_below_went = p->exited.load() && p->inside.load() == 0;
    below_gone->store(true);
  };
  {
    rig r;
    (void)r.attach(1);
    REQUIRE(r.vm.power_on());
    p->started.wait();
    SUBCASE("detached from the device side") { REQUIRE(r.vm.detach("dev", 0, 1)); }
    SUBCASE("the VM is destroyed (after powering off)") {}
    SUBCASE("the VM is destroyed while suspended") { REQUIRE(r.vm.suspend()); }
  }
  CHECK(below_gone->load());
  CHECK(thread_ended_before_below_went);
  CHECK(wakeups_after_below_gone->load() == 0);
  CHECK(p->entered.load() == 1);
}

// One attach whose constructor makes a thread and then fails (ctx.fail, or a throw), in a VM
// running or not.
void check_failed_construction(bool running, bool throws) {
  CAPTURE(running);
  CAPTURE(throws);
  auto p = std::make_shared<probe>();
  rig r;
  if (running) REQUIRE(r.vm.power_on());
  pdm::driver_thread kept;
  bool dtor_ran = false;
  top_driver::the_script().ctor = [p, &kept, throws](top_driver& d) {
    pdm::result<pdm::driver_thread> t = d.ctx.create_thread("doomed", loop(p));
    REQUIRE(t);
    kept = *t;
    if (throws) throw std::runtime_error("giving up");
    d.ctx.fail(pdm::error(pdm::errc::invalid_value, "giving up"));
  };
  top_driver::the_script().dtor = [&dtor_ran](top_driver&) { dtor_ran = true; };
  pdm::result<pdm::driver_ref> a = r.vm.attach("dev", 0, 0);
  REQUIRE_FALSE(a);
  CHECK(a.error_value() == (throws ? pdm::errc::constructor_failed : pdm::errc::invalid_value));
  CHECK(dtor_ran == !throws);  // a constructor that threw leaves no object to destroy
  REQUIRE(kept);
  CHECK(kept.state() == pdm::thread_state::terminated);
  const pdm::status s = kept.destroy();
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::resource_destroyed);
  if (!running) REQUIRE(r.vm.power_on());
  REQUIRE(r.vm.suspend());  // nothing left to suspend
  REQUIRE(r.vm.resume());
  CHECK(p->entered.load() == 0);
  CHECK(r.take_reports().empty());
  top_driver::the_script() = {};
  top_driver& d = r.attach();  // the LUN is free again
  CHECK(d.threads.empty());
}

TEST_CASE("a constructor that makes a thread and then fails: the function never runs, the handle is stale") {
  for (const bool running : {false, true}) {
    for (const bool throws : {false, true}) check_failed_construction(running, throws);
  }
}

TEST_CASE("driver_thread::destroy by hand joins the thread; the handle and its copies go stale") {
  auto p = std::make_shared<probe>();
  rig r;
  make_thread_in_ctor(loop(p));
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  p->started.wait();
  const pdm::driver_thread t = d.threads[0];
  const pdm::driver_thread copy = t;  // NOLINT(performance-unnecessary-copy-initialization): a second handle

  std::error_code from_elsewhere;
  std::thread other([&] {
    const pdm::status s = t.destroy();
    if (!s) from_elsewhere = s.error_value().code();
  });
  other.join();
  CHECK(from_elsewhere == pdm::make_error_code(pdm::errc::wrong_thread));
  CHECK(t.state() == pdm::thread_state::running);

  REQUIRE(t.destroy());
  CHECK(p->exited.load());  // joined: it has returned
  CHECK(p->cut_short.load() == 1);
  CHECK(t.state() == pdm::thread_state::terminated);
  CHECK(copy.state() == pdm::thread_state::terminated);
  const pdm::status again = copy.destroy();
  REQUIRE_FALSE(again);
  CHECK(again.error_value() == pdm::errc::resource_destroyed);
  CHECK_FALSE(pdm::driver_thread{}.destroy());

  // The instance goes on without it.
  REQUIRE(r.vm.suspend());
  REQUIRE(r.vm.resume());
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK(p->entered.load() == 1);
  CHECK(r.take_reports().empty());
}

TEST_CASE("a thread that does not stop in time is reported once by name and driver, then joined") {
  event gate;
  hooked_rig r(20ms, [&gate](const pdm::vm_report& rep) {
    if (rep.kind == pdm::report_kind::thread_not_stopped) gate.set();
  });
  auto p = std::make_shared<probe>();
  top_driver::the_script().ctor = [p, &gate](top_driver& d) {
    pdm::result<pdm::driver_thread> t = d.ctx.create_thread("stubborn", [p, &gate](pdm::thread_control&) {
      p->started.set();
      gate.wait();  // ignores the terminate request until the VM reported it
      p->exited = true;
    });
    REQUIRE(t);
    d.threads.push_back(*t);
  };
  bool exited_at_dtor = false;
  top_driver::the_script().dtor = [p, &exited_at_dtor](top_driver&) { exited_at_dtor = p->exited.load(); };
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  p->started.wait();
  const pdm::driver_thread t = d.threads[0];
  SUBCASE("destroyed by hand") {
    const pdm::status s = t.destroy();
    REQUIRE_FALSE(s);
    CHECK(s.error_value() == pdm::errc::thread_not_stopped);
    CHECK(s.error_value().driver_name() == "Scripted");
    CHECK(s.error_value().detail().find("'stubborn'") != std::string::npos);
    CHECK(p->exited.load());
    CHECK(t.state() == pdm::thread_state::terminated);
    CHECK(t.destroy().error_value() == pdm::errc::resource_destroyed);
  }
  SUBCASE("with its instance") {
    REQUIRE(r.vm.detach("dev", 0, 0));
    CHECK(exited_at_dtor);
  }
  CHECK(p->exited.load());
  const std::vector<pdm::vm_report> reports = r.take_reports();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].kind == pdm::report_kind::thread_not_stopped);
  CHECK(reports[0].what == pdm::errc::thread_not_stopped);
  CHECK(reports[0].what.driver_name() == "Scripted");
  CHECK(reports[0].what.instance() == 0);
  CHECK(reports[0].what.detail().find("'stubborn'") != std::string::npos);
}

TEST_CASE("a thread function that throws is reported and its thread is terminated") {
  rig r;
  auto p = std::make_shared<probe>();
  std::string expected;
  SUBCASE("std::exception") {
    expected = "boom";
    make_thread_in_ctor([p](pdm::thread_control& t) {
      if (t.running()) {
        p->entered.fetch_add(1);
        throw std::runtime_error("boom");
      }
    });
  }
  SUBCASE("anything else") {
    expected = "non-standard";
    make_thread_in_ctor([p](pdm::thread_control& t) {
      if (t.running()) {
        p->entered.fetch_add(1);
        throw 42;  // NOLINT(hicpp-exception-baseclass): the case under test
      }
    });
  }
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  const pdm::driver_thread t = d.threads[0];
  run_emt_until(r.vm, [&t] { return t.state() == pdm::thread_state::terminated; });
  CHECK(p->entered.load() == 1);
  const std::vector<pdm::vm_report> reports = r.take_reports();
  REQUIRE(reports.size() == 1);  // reported before the state became terminated
  CHECK(reports[0].kind == pdm::report_kind::hook_threw);
  CHECK(reports[0].what.driver_name() == "Scripted");
  CHECK(reports[0].what.instance() == 0);
  CHECK(reports[0].what.detail().find("'worker'") != std::string::npos);
  CHECK(reports[0].what.detail().find(expected) != std::string::npos);
  // The VM goes on: a terminated thread acknowledges nothing and is not waited for.
  REQUIRE(r.vm.suspend());
  CHECK(t.state() == pdm::thread_state::terminated);
  REQUIRE(r.vm.resume());
  CHECK(t.state() == pdm::thread_state::terminated);
  REQUIRE(t.destroy());  // still owned by its instance until destroyed
  CHECK(t.destroy().error_value() == pdm::errc::resource_destroyed);
}

TEST_CASE("a function that returns ends its thread; the VM goes on") {
  rig r;
  auto p = std::make_shared<probe>();
  make_thread_in_ctor([p](pdm::thread_control&) { p->exited = true; });
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  const pdm::driver_thread t = d.threads[0];
  run_emt_until(r.vm, [&t] { return t.state() == pdm::thread_state::terminated; });
  CHECK(p->exited.load());
  REQUIRE(r.vm.suspend());
  REQUIRE(r.vm.resume());
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK(r.take_reports().empty());
}

TEST_CASE("power off suspends the threads; destroying the VM terminates them before their drivers go") {
  auto p = std::make_shared<probe>();
  bool dtor_ran = false;
  bool exited_at_dtor = false;
  {
    rig r;
    top_driver::the_script().ctor = [p, &dtor_ran, &exited_at_dtor](top_driver& d) {
      pdm::result<pdm::driver_thread> t = d.ctx.create_thread("worker", loop(p));
      REQUIRE(t);
      d.threads.push_back(*t);
      // The rig clears the scripts before its VM goes; the driver's members go with the driver.
      d.extra = std::make_shared<on_destroy>([p, &dtor_ran, &exited_at_dtor] {
        dtor_ran = true;
        exited_at_dtor = p->exited.load();
      });
    };
    top_driver& d = r.attach();
    REQUIRE(r.vm.power_on());
    p->started.wait();
    SUBCASE("powered off first") {
      REQUIRE(r.vm.power_off());
      CHECK(r.vm.state() == pdm::vm_state::off);
      CHECK(d.threads[0].state() == pdm::thread_state::suspended);
      CHECK(p->cut_short.load() == 1);
      CHECK_FALSE(p->exited.load());
    }
    SUBCASE("destroyed while running") {}
    CHECK_FALSE(dtor_ran);
  }
  CHECK(dtor_ran);
  CHECK(exited_at_dtor);
  CHECK(p->exited.load());
  CHECK(p->inside.load() == 0);
}

TEST_CASE("several threads of several instances follow the VM together") {
  auto a = std::make_shared<probe>();
  auto b = std::make_shared<probe>();
  auto c = std::make_shared<probe>();
  rig r;
  make_thread_in_ctor(loop(a));
  top_driver& first = r.attach(0);
  top_driver::the_script().ctor = [b, c](top_driver& d) {
    for (const auto& p : {b, c}) {
      pdm::result<pdm::driver_thread> t = d.ctx.create_thread("worker", loop(p));
      REQUIRE(t);
      d.threads.push_back(*t);
    }
  };
  top_driver& second = r.attach(1);
  CHECK(second.ctx.instance() == 1);
  REQUIRE(r.vm.power_on());
  for (const auto& p : {a, b, c}) p->started.wait();
  REQUIRE(r.vm.suspend());
  CHECK(first.threads[0].state() == pdm::thread_state::suspended);
  CHECK(second.threads[0].state() == pdm::thread_state::suspended);
  CHECK(second.threads[1].state() == pdm::thread_state::suspended);
  REQUIRE(r.vm.detach("dev", 0, 1));  // terminates b and c while suspended; a stays
  CHECK(b->exited.load());
  CHECK(c->exited.load());
  CHECK_FALSE(a->exited.load());
  REQUIRE(r.vm.resume());
  CHECK(first.threads[0].state() == pdm::thread_state::running);
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK(a->exited.load());
  CHECK(r.take_reports().empty());
}

TEST_CASE("a driver thread has the EMT detach its instance: the detach ends and joins that thread") {
  auto p = std::make_shared<probe>();
  event posted;
  rig r;
  top_driver::the_script().ctor = [p, &posted](top_driver& d) {
    pdm::result<pdm::driver_thread> t = d.ctx.create_thread("unplug", [p, &posted, &d](pdm::thread_control& t) {
      // The chain helpers are the EMT's: detach_self from here is refused, a posted one runs there.
      const pdm::status here = d.ctx.detach_self();
      p->entered.fetch_add(!here && here.error_value() == pdm::errc::wrong_thread ? 1 : 100);
      REQUIRE(d.ctx.post([&d] { REQUIRE(d.ctx.detach_self()); }));
      posted.set();
      while (t.running()) (void)t.sleep(1h);
      p->exited = true;
    });
    REQUIRE(t);
    d.threads.push_back(*t);
  };
  bool exited_at_dtor = false;
  top_driver::the_script().dtor = [p, &exited_at_dtor](top_driver&) { exited_at_dtor = p->exited.load(); };
  r.attach();
  REQUIRE(r.vm.power_on());
  posted.wait();
  CHECK(p->entered.load() == 1);
  r.vm.process();  // runs the detach
  CHECK(exited_at_dtor);
  CHECK(p->exited.load());
  top_driver::the_script() = {};
  CHECK(r.attach().ctx.instance() == 1);  // the LUN was free
  CHECK(r.take_reports().empty());
}

TEST_CASE("a wakeup callback that throws is reported; the thread and the VM go on") {
  auto p = std::make_shared<probe>();
  rig r;
  make_thread_in_ctor(loop(p), [] { throw std::runtime_error("wakeup broke"); });
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  p->started.wait();
  REQUIRE(r.vm.suspend());  // the thread's own sleep is cut short; the wakeup only adds a report
  CHECK(d.threads[0].state() == pdm::thread_state::suspended);
  const std::vector<pdm::vm_report> reports = r.take_reports();
  REQUIRE(reports.size() == 2);  // start and suspend
  for (const pdm::vm_report& rep : reports) {
    CHECK(rep.kind == pdm::report_kind::hook_threw);
    CHECK(rep.what.driver_name() == "Scripted");
    CHECK(rep.what.detail().find("'worker'") != std::string::npos);
  }
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK(p->exited.load());
  CHECK(r.take_reports().size() == 1);  // terminate
}

TEST_CASE("a driver thread's runtime error with `suspend` suspends the VM, the thread included") {
  auto p = std::make_shared<probe>();
  event reported;
  std::vector<pdm::driver_error_event> events;
  std::mutex events_lock;
  rig r;
  top_driver::the_script().ctor = [p, &reported](top_driver& d) {
    pdm::result<pdm::driver_thread> t = d.ctx.create_thread("io", [p, &reported, &d](pdm::thread_control& t) {
      (void)d.ctx.set_runtime_error(pdm::runtime_error_flags::suspend, "HostIoError", "the host file went away");
      reported.set();
      while (t.running()) (void)t.sleep(1h);
      p->exited = true;
    });
    REQUIRE(t);
    d.threads.push_back(*t);
  };
  r.vm.add_error_sink([&](const pdm::driver_error_event& ev) {
    const std::lock_guard<std::mutex> hold(events_lock);
    events.push_back(ev);
  });
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  reported.wait();
  CHECK(r.vm.state() == pdm::vm_state::running);  // the suspend is the EMT's to do
  r.vm.process();
  CHECK(r.vm.state() == pdm::vm_state::suspended);
  CHECK(d.threads[0].state() == pdm::thread_state::suspended);
  {
    const std::lock_guard<std::mutex> hold(events_lock);
    REQUIRE(events.size() == 1);
    CHECK(events[0].id == "HostIoError");
    CHECK(events[0].what.driver_name() == "Scripted");
  }
  REQUIRE(r.vm.resume());
  CHECK(d.threads[0].state() == pdm::thread_state::running);
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK(p->exited.load());
}

}  // namespace
