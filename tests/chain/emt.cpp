// tests/chain/emt.cpp - the emulation thread: pdm::emt on its own (order, call, cancel_owned,
// stop, wait_until, wake) and as a VM uses it (members posted to the EMT or refused, driver
// helpers refused off the EMT, assert_emt/assert_other reports, ctx.post and its cancellation,
// asynchronous notifications completed from other threads). Written to run clean under TSan.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "chain_drivers.hpp"

namespace {

using namespace std::chrono_literals;
using chain_test::note;
using chain_test::take_journal;
using lines = std::vector<std::string>;
using clock_type = std::chrono::steady_clock;

// Generous: only a broken library makes a test wait this long.
constexpr auto patience = 30s;

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// Waits (generously) until `done` holds; false if it never did.
template <class F>
bool eventually(F done) {
  const auto give_up = clock_type::now() + patience;
  while (!done()) {
    if (clock_type::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Fulfils a promise when the thread that set it ends (after everything else that thread runs).
struct exit_signal {
  std::promise<void>* done = nullptr;
  exit_signal() = default;
  exit_signal(const exit_signal&) = delete;
  exit_signal& operator=(const exit_signal&) = delete;
  exit_signal(exit_signal&&) = delete;
  exit_signal& operator=(exit_signal&&) = delete;
  ~exit_signal() {
    if (done != nullptr) done->set_value();
  }
};
thread_local exit_signal on_thread_exit;

pdm::config_tree make_config(const lines& overrides) {
  pdm::config_tree t;
  const pdm::status s = pdm::apply_overrides(t.root(), overrides);
  REQUIRE_MESSAGE(s, (s ? std::string() : s.error_value().message()));
  return t;
}

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
  std::vector<pdm::vm_report> all() {
    const std::lock_guard<std::mutex> hold(lock);
    return list;
  }
};

// --- A driver that records where it runs ---------------------------------------------------------

/// Usable anywhere in a chain; records the thread of its constructor, destructor and power hooks,
/// checks assert_emt() in each, and runs `probe::action` from its hooks.
class probe final : public chain_test::words, public chain_test::bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Probe", .description = "Records the thread it runs on", .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<chain_test::words, chain_test::bytes>;
  using needs_below = pdm::interface_list<chain_test::bytes>;
  using config_type = chain_test::test_config;

  struct sighting {
    std::string what;
    std::thread::id thread;
    bool on_emt;  // what assert_emt() said
  };
  static std::vector<sighting> take_sightings() {
    const std::lock_guard<std::mutex> hold(lock);
    return std::exchange(sightings, {});
  }

  probe(pdm::driver_context& ctx, const chain_test::test_config& c) : ctx_(ctx) {
    saw("ctor");
    below_ = chain_test::attach_below<chain_test::bytes>(ctx, c);
  }
  ~probe() { saw("dtor"); }
  probe(const probe&) = delete;
  probe& operator=(const probe&) = delete;
  probe(probe&&) = delete;
  probe& operator=(probe&&) = delete;

  void on_power_on() { hook("power_on"); }
  void on_reset() { hook("reset"); }
  void on_suspend() {
    hook("suspend");
    if (check_other_in_suspend) other_in_suspend = std::pair{ctx_.assert_other(), __LINE__};
  }
  void on_resume() { hook("resume"); }
  void on_power_off() { hook("power_off"); }
  void on_detach_below(pdm::attach_flags /*flags*/) { below_ = nullptr; }

  bool put(std::size_t /*index*/, std::uint32_t /*value*/) override { return false; }
  bool get(std::size_t /*index*/, std::uint32_t& /*value*/) override { return false; }
  bool write(std::size_t offset, const void* in, std::size_t size) override {
    return below_ != nullptr && below_->write(offset, in, size);
  }
  bool read(std::size_t offset, void* out, std::size_t size) override {
    return below_ != nullptr && below_->read(offset, out, size);
  }
  [[nodiscard]] std::size_t size() const override { return below_ != nullptr ? below_->size() : 0; }

  static inline std::function<void(probe&, std::string_view)> action{};
  static inline bool check_other_in_suspend = false;
  static inline std::optional<std::pair<bool, int>> other_in_suspend{};
  pdm::driver_context& ctx_;

 private:
  void saw(std::string_view what) {
    const bool emt = ctx_.assert_emt();
    const std::lock_guard<std::mutex> hold(lock);
    sightings.push_back({std::string(what) + " " + chain_test::who(ctx_), std::this_thread::get_id(), emt});
  }
  void hook(std::string_view event) {
    saw(event);
    note(std::string(event) + " " + chain_test::who(ctx_));
    if (action) action(*this, event);
  }
  static inline std::mutex lock;
  static inline std::vector<sighting> sightings;
  chain_test::bytes* below_ = nullptr;
};

// Resets probe's statics for a test.
struct probe_scope {
  explicit probe_scope(std::function<void(probe&, std::string_view)> f = {}) {
    probe::action = std::move(f);
    probe::check_other_in_suspend = false;
    probe::other_in_suspend.reset();
    (void)probe::take_sightings();
    (void)take_journal();
  }
  probe_scope(const probe_scope&) = delete;
  probe_scope& operator=(const probe_scope&) = delete;
  probe_scope(probe_scope&&) = delete;
  probe_scope& operator=(probe_scope&&) = delete;
  ~probe_scope() {
    probe::action = nullptr;
    probe::check_other_in_suspend = false;
  }
};

pdm::registry registry_with_probe() {
  pdm::registry r = chain_test::make_registry();
  const pdm::status s = r.add(pdm::driver_list<probe>{});
  REQUIRE(s);
  return r;
}

probe& probe_at(pdm::vm& vm, std::string_view device, std::uint32_t lun) {
  pdm::result<pdm::driver_ref> r = vm.driver_on_lun(device, 0, lun, "Probe");
  REQUIRE(r);
  return *static_cast<probe*>(r->get());
}

/// A device named `name` with LUN#0, recording the thread of each power hook.
struct recording_device {
  explicit recording_device(std::string device_name) : name(std::move(device_name)) {}
  recording_device(const recording_device&) = delete;
  recording_device& operator=(const recording_device&) = delete;
  recording_device(recording_device&&) = delete;
  recording_device& operator=(recording_device&&) = delete;
  ~recording_device() = default;

  std::string name;
  chain_test::port the_port;
  std::mutex lock;
  std::vector<std::pair<std::string, std::thread::id>> told;
  std::function<void(std::string_view)> also{};

  pdm::device_spec spec() {
    pdm::device_spec s{.name = name, .instance = 0};
    s.luns.push_back(pdm::lun_spec{.number = 0,
                                   .offers = {pdm::offer<chain_test::port>(the_port)},
                                   .needs = pdm::interfaces<chain_test::words>()});
    s.hooks.on_attach = [this](std::uint32_t /*lun*/, pdm::attach_flags) {
      record("attach");
      return pdm::ok();
    };
    s.hooks.on_detach = [this](std::uint32_t /*lun*/, pdm::attach_flags) { record("detach"); };
    s.hooks.on_power_on = [this] { record("power_on"); };
    s.hooks.on_reset = [this] { record("reset"); };
    s.hooks.on_suspend = [this] { record("suspend"); };
    s.hooks.on_resume = [this] { record("resume"); };
    s.hooks.on_power_off = [this] { record("power_off"); };
    return s;
  }
  std::vector<std::pair<std::string, std::thread::id>> take() {
    const std::lock_guard<std::mutex> hold(lock);
    return std::exchange(told, {});
  }

 private:
  void record(std::string_view event) {
    {
      const std::lock_guard<std::mutex> hold(lock);
      told.emplace_back(std::string(event) + " " + name, std::this_thread::get_id());
    }
    if (also) also(event);
  }
};

}  // namespace

// --- pdm::emt on its own -------------------------------------------------------------------------

TEST_CASE("emt: current_thread makes the calling thread the EMT") {
  pdm::emt e(pdm::emt_mode::current_thread);
  CHECK(e.mode() == pdm::emt_mode::current_thread);
  CHECK(e.id() == std::this_thread::get_id());
  CHECK(e.is_current());
  bool elsewhere = true;
  std::thread([&] { elsewhere = e.is_current(); }).join();
  CHECK_FALSE(elsewhere);
  CHECK(e.pending() == 0);
  CHECK(e.run_pending() == 0);
}

TEST_CASE("emt: own_thread runs every request on a thread of its own") {
  pdm::emt e(pdm::emt_mode::own_thread);
  CHECK(e.mode() == pdm::emt_mode::own_thread);
  CHECK(e.id() != std::this_thread::get_id());
  CHECK(e.id() != std::thread::id());
  CHECK_FALSE(e.is_current());
  const pdm::result<std::pair<std::thread::id, bool>> where = e.call([&] {
    return std::pair{std::this_thread::get_id(), e.is_current()};
  });
  REQUIRE(where);
  CHECK(where->first == e.id());
  CHECK(where->second);
}

TEST_CASE("emt: requests run in the order they were posted") {
  SUBCASE("own_thread") {
    pdm::emt e(pdm::emt_mode::own_thread);
    std::vector<int> seen;  // touched only on the EMT until the call below returns
    for (int i = 0; i < 1000; ++i) REQUIRE(e.post([&seen, i] { seen.push_back(i); }));
    const pdm::result<std::size_t> n = e.call([&] { return seen.size(); });  // after every post
    REQUIRE(n);
    CHECK(*n == 1000);
    for (int i = 0; i < 1000; ++i) REQUIRE(seen[static_cast<std::size_t>(i)] == i);
  }
  SUBCASE("current_thread") {
    pdm::emt e(pdm::emt_mode::current_thread);
    std::vector<int> seen;
    for (int i = 0; i < 100; ++i) REQUIRE(e.post([&seen, i] { seen.push_back(i); }));
    CHECK(e.pending() == 100);
    CHECK(seen.empty());  // nothing runs until the EMT asks
    CHECK(e.run_pending() == 100);
    CHECK(e.pending() == 0);
    REQUIRE(seen.size() == 100);
    CHECK(std::is_sorted(seen.begin(), seen.end()));
  }
}

TEST_CASE("emt: posts from several threads all run, each thread's in its order") {
  pdm::emt e(pdm::emt_mode::own_thread);
  constexpr int threads = 6;
  constexpr int each = 400;
  std::vector<std::pair<int, int>> seen;  // EMT only
  std::vector<std::thread> posters;
  for (int t = 0; t < threads; ++t) {
    posters.emplace_back([&e, &seen, t] {
      for (int i = 0; i < each; ++i) (void)e.post([&seen, t, i] { seen.emplace_back(t, i); });
    });
  }
  for (std::thread& p : posters) p.join();
  const pdm::result<std::vector<std::pair<int, int>>> got = e.call([&] { return seen; });
  REQUIRE(got);
  REQUIRE(got->size() == static_cast<std::size_t>(threads * each));
  std::vector<int> next(threads, 0);
  for (const auto& [t, i] : *got) {
    CHECK(i == next[static_cast<std::size_t>(t)]);
    next[static_cast<std::size_t>(t)] = i + 1;
  }
}

TEST_CASE("emt: run_pending runs what was queued before it, not what those requests post") {
  pdm::emt e(pdm::emt_mode::current_thread);
  lines seen;
  REQUIRE(e.post([&] {
    seen.emplace_back("a");
    REQUIRE(e.post([&] { seen.emplace_back("c"); }));
  }));
  REQUIRE(e.post([&] { seen.emplace_back("b"); }));
  CHECK(e.run_pending() == 2);
  CHECK(seen == lines{"a", "b"});
  CHECK(e.pending() == 1);
  CHECK(e.run_pending() == 1);
  CHECK(seen == lines{"a", "b", "c"});
}

TEST_CASE("emt: wait_until runs what is queued, waits for posts and wake(), and ends at its deadline") {
  pdm::emt e(pdm::emt_mode::current_thread);

  // Something queued: run at once.
  bool ran = false;
  REQUIRE(e.post([&] { ran = true; }));
  CHECK(e.wait_until(clock_type::now() + patience) == 1);
  CHECK(ran);

  // Nothing queued and nobody wakes it: it returns at the deadline, having run nothing.
  CHECK(e.wait_until(clock_type::now() + 5ms) == 0);

  // A post from another thread ends the wait and runs.
  {
    std::atomic<bool> posted_ran{false};
    const auto deadline = clock_type::now() + patience;
    std::thread poster([&] {
      std::this_thread::sleep_for(10ms);
      (void)e.post([&] { posted_ran = true; });
    });
    std::size_t n = 0;
    while (n == 0 && clock_type::now() < deadline) n = e.wait_until(deadline);
    poster.join();
    CHECK(n == 1);
    CHECK(posted_ran.load());
  }

  // wake() from another thread ends the wait with nothing run.
  {
    const auto deadline = clock_type::now() + patience;
    std::thread waker([&] {
      std::this_thread::sleep_for(10ms);
      e.wake();
    });
    CHECK(e.wait_until(deadline) == 0);
    CHECK(clock_type::now() < deadline);  // woken, not timed out
    waker.join();
  }

  // A wake() that comes before the wait is not lost.
  {
    e.wake();
    const auto deadline = clock_type::now() + patience;
    CHECK(e.wait_until(deadline) == 0);
    CHECK(clock_type::now() < deadline);
  }
}

TEST_CASE("emt::call: on the EMT it runs at once; the result type follows what the function returns") {
  pdm::emt e(pdm::emt_mode::current_thread);
  static_assert(std::is_same_v<decltype(e.call([] { return 1; })), pdm::result<int>>);
  static_assert(std::is_same_v<decltype(e.call([] {})), pdm::status>);
  static_assert(std::is_same_v<decltype(e.call([] { return pdm::ok(); })), pdm::status>);
  static_assert(
      std::is_same_v<decltype(e.call([] { return pdm::result<std::string>("x"); })), pdm::result<std::string>>);

  const pdm::result<int> one = e.call([] { return 41 + 1; });
  REQUIRE(one);
  CHECK(*one == 42);
  int touched = 0;
  CHECK(e.call([&] { ++touched; }));
  CHECK(touched == 1);
  const pdm::status failed = e.call([] { return pdm::status(pdm::error(pdm::errc::invalid_value, "no")); });
  REQUIRE_FALSE(failed);
  CHECK(failed.error_value() == pdm::errc::invalid_value);
  const pdm::result<std::string> s = e.call([] { return pdm::result<std::string>(std::string("text")); });
  REQUIRE(s);
  CHECK(*s == "text");
  CHECK(e.pending() == 0);  // nothing was queued
}

TEST_CASE("emt::call from many threads at once: every caller gets its own result, and requests never overlap") {
  pdm::emt e(pdm::emt_mode::own_thread);
  constexpr int threads = 8;
  constexpr int each = 250;
  long long total = 0;  // plain: only the EMT touches it
  int inside = 0;       // requests running at once
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < threads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < each; ++i) {
        const pdm::result<int> r = e.call([&, t, i] {
          if (++inside != 1 || !e.is_current()) wrong.fetch_add(1);
          total += t * 1000 + i;
          --inside;
          return t * 1000 + i;
        });
        if (!r || *r != t * 1000 + i) wrong.fetch_add(1);
      }
    });
  }
  for (std::thread& c : callers) c.join();
  CHECK(wrong.load() == 0);
  long long want = 0;
  for (int t = 0; t < threads; ++t) {
    for (int i = 0; i < each; ++i) want += t * 1000 + i;
  }
  const pdm::result<long long> got = e.call([&] { return total; });
  REQUIRE(got);
  CHECK(*got == want);
}

TEST_CASE("emt::call in current_thread mode: callers on other threads wait until the EMT runs their requests") {
  pdm::emt e(pdm::emt_mode::current_thread);
  constexpr int threads = 4;
  std::atomic<int> finished{0};
  std::vector<pdm::result<std::thread::id>> results(threads, pdm::result<std::thread::id>(std::thread::id()));
  std::vector<std::thread> callers;
  for (int t = 0; t < threads; ++t) {
    callers.emplace_back([&, t] {
      results[static_cast<std::size_t>(t)] = e.call([] { return std::this_thread::get_id(); });
      finished.fetch_add(1);
    });
  }
  const auto give_up = clock_type::now() + patience;
  while (finished.load() < threads && clock_type::now() < give_up) e.wait_until(clock_type::now() + 5ms);
  for (std::thread& c : callers) c.join();
  for (const pdm::result<std::thread::id>& r : results) {
    REQUIRE(r);
    CHECK(*r == std::this_thread::get_id());  // ran here, on the EMT
  }
}

TEST_CASE("emt::cancel_owned drops only that owner's queued requests, destroying them unrun") {
  pdm::emt e(pdm::emt_mode::current_thread);
  const int a = 0;
  const int b = 0;
  auto token = std::make_shared<int>(0);  // held by a's requests: freed when they are dropped
  lines seen;
  REQUIRE(e.post([&seen, token] { seen.emplace_back("a1"); }, &a));
  REQUIRE(e.post([&seen] { seen.emplace_back("b1"); }, &b));
  REQUIRE(e.post([&seen, token] { seen.emplace_back("a2"); }, &a));
  REQUIRE(e.post([&seen] { seen.emplace_back("none"); }));
  REQUIRE(e.post([&seen, token] { seen.emplace_back("a3"); }, &a));
  REQUIRE(e.post([&seen] { seen.emplace_back("b2"); }, &b));
  CHECK(token.use_count() == 4);
  CHECK(e.cancel_owned(&a) == 3);
  CHECK(token.use_count() == 1);
  CHECK(e.pending() == 3);
  CHECK(e.cancel_owned(&a) == 0);
  CHECK(e.run_pending() == 3);
  CHECK(seen == lines{"b1", "none", "b2"});
  // Nothing queued for b any more.
  CHECK(e.cancel_owned(&b) == 0);
}

TEST_CASE("emt::stop: queued calls are cancelled, queued posts are destroyed unrun, later ones are refused") {
  auto e = std::make_unique<pdm::emt>(pdm::emt_mode::current_thread);
  auto token = std::make_shared<int>(0);
  bool posted_ran = false;
  REQUIRE(e->post([&posted_ran, token] { posted_ran = true; }));
  std::optional<pdm::result<int>> called;
  std::thread caller([&] { called.emplace(e->call([] { return 7; })); });
  REQUIRE(eventually([&] { return e->pending() == 2; }));
  e->stop();
  caller.join();
  REQUIRE(called.has_value());
  REQUIRE_FALSE(*called);
  CHECK(called->error_value() == pdm::errc::cancelled);
  CHECK_FALSE(posted_ran);
  CHECK(token.use_count() == 1);  // the dropped request was destroyed
  CHECK(e->pending() == 0);

  // After the stop: posts refused (and their work destroyed), calls cancelled at once.
  auto later = std::make_shared<int>(0);
  CHECK_FALSE(e->post([later] {}));
  CHECK(later.use_count() == 1);
  std::optional<pdm::result<int>> late_call;
  std::thread([&] { late_call.emplace(e->call([] { return 8; })); }).join();
  REQUIRE(late_call.has_value());
  REQUIRE_FALSE(*late_call);
  CHECK(late_call->error_value() == pdm::errc::cancelled);
  CHECK(e->run_pending() == 0);
  e->stop();  // twice is fine
  e.reset();
}

TEST_CASE("emt: destroying an EMT with queued calls cancels them") {
  auto e = std::make_unique<pdm::emt>(pdm::emt_mode::current_thread);
  std::optional<pdm::status> called;
  std::thread caller([&] { called.emplace(e->call([] {})); });
  REQUIRE(eventually([&] { return e->pending() == 1; }));
  e.reset();
  caller.join();
  REQUIRE(called.has_value());
  REQUIRE_FALSE(*called);
  CHECK(called->error_value() == pdm::errc::cancelled);
}

TEST_CASE("emt::stop from another thread: the request that runs finishes before stop() returns") {
  pdm::emt e(pdm::emt_mode::own_thread);
  std::promise<void> started;
  std::promise<void> go;
  std::shared_future<void> go_signal = go.get_future().share();
  std::atomic<bool> finished{false};
  REQUIRE(e.post([&, go_signal] {
    started.set_value();
    (void)go_signal.wait_for(patience);
    finished = true;
  }));
  REQUIRE(started.get_future().wait_for(patience) == std::future_status::ready);
  std::atomic<bool> stop_returned{false};
  bool finished_when_stopped = false;
  std::thread stopper([&] {
    e.stop();
    finished_when_stopped = finished.load();
    stop_returned = true;
  });
  go.set_value();
  stopper.join();
  CHECK(stop_returned.load());
  CHECK(finished_when_stopped);
  CHECK_FALSE(e.post([] {}));
}

TEST_CASE("emt::stop from a request on the own thread: what is still queued is cancelled, the thread ends") {
  std::promise<void> exited;
  std::future<void> thread_gone = exited.get_future();
  auto e = std::make_unique<pdm::emt>(pdm::emt_mode::own_thread);
  std::promise<void> started;
  REQUIRE(e->post([&] {
    on_thread_exit.done = &exited;
    started.set_value();
    (void)eventually([&] { return e->pending() == 1; });  // the call below is queued
    e->stop();
  }));
  REQUIRE(started.get_future().wait_for(patience) == std::future_status::ready);
  std::optional<pdm::result<int>> called;
  std::thread caller([&] { called.emplace(e->call([] { return 1; })); });
  caller.join();
  REQUIRE(called.has_value());
  REQUIRE_FALSE(*called);
  CHECK(called->error_value() == pdm::errc::cancelled);
  CHECK_FALSE(e->post([] {}));
  // The stopped thread was detached: wait until it has really ended before the EMT goes.
  if (thread_gone.wait_for(patience) != std::future_status::ready) {
    FAIL_CHECK("the EMT thread did not end");
    (void)e.release();  // never free what a live thread may still touch
    return;
  }
  e.reset();
}

TEST_CASE("emt::stop from a request: requests queued behind it never run (current_thread)") {
  pdm::emt e(pdm::emt_mode::current_thread);
  bool later_ran = false;
  REQUIRE(e.post([&] { e.stop(); }));
  REQUIRE(e.post([&] { later_ran = true; }));
  (void)e.run_pending();
  CHECK_FALSE(later_ran);  // "Requests still queued when the EMT stops never run"
  CHECK(e.pending() == 0);
  CHECK_FALSE(e.post([] {}));
}

TEST_CASE("emt::stop from a request: calls queued behind it are cancelled, not run (own_thread)") {
  std::promise<void> exited;
  std::future<void> thread_gone = exited.get_future();
  auto e = std::make_unique<pdm::emt>(pdm::emt_mode::own_thread);
  std::promise<void> started;
  // The gate holds the EMT until the stop request and a call are queued behind it, together.
  REQUIRE(e->post([&] {
    on_thread_exit.done = &exited;
    started.set_value();
    (void)eventually([&] { return e->pending() == 3; });
  }));
  REQUIRE(started.get_future().wait_for(patience) == std::future_status::ready);
  std::atomic<bool> later_ran{false};
  REQUIRE(e->post([&] { e->stop(); }));
  REQUIRE(e->post([&] { later_ran = true; }));
  std::optional<pdm::result<int>> called;
  std::thread caller([&] { called.emplace(e->call([] { return 1; })); });
  caller.join();
  REQUIRE(called.has_value());
  CHECK_FALSE(later_ran.load());
  CHECK_FALSE(*called);
  if (!*called) CHECK(called->error_value() == pdm::errc::cancelled);
  if (thread_gone.wait_for(patience) != std::future_status::ready) {
    FAIL_CHECK("the EMT thread did not end");
    (void)e.release();
    return;
  }
  e.reset();
}

// --- The VM's members and the EMT ----------------------------------------------------------------

namespace {

// The chain of these tests: Probe over Mem at <device>/0/LUN#0.
lines probe_chain(const std::string& device) {
  return {"Devices/" + device + "/0/LUN#0/Driver=Probe", "Devices/" + device + "/0/LUN#0/AttachedDriver/Driver=Mem"};
}

}  // namespace

TEST_CASE("vm (own_thread): every member called from another thread runs on the EMT, destruction included") {
  probe_scope scope;
  report_log reports;
  recording_device dev("dev");
  const std::thread::id here = std::this_thread::get_id();
  std::thread::id emt_id;
  {
    pdm::vm_options options;
    options.report = reports.sink();
    pdm::vm vm(registry_with_probe(), make_config(probe_chain("dev")), std::move(options));
    emt_id = vm.thread().id();
    CHECK(emt_id != here);
    CHECK_FALSE(vm.on_emt());
    REQUIRE(vm.add_device(dev.spec()));
    REQUIRE(vm.attach("dev", 0, 0));  // hot plug: the device's on_attach runs too
    REQUIRE(vm.power_on());
    REQUIRE(vm.reset());
    REQUIRE(vm.suspend());
    REQUIRE(vm.resume());
    REQUIRE(vm.detach("dev", 0, 0));
    REQUIRE(vm.attach("dev", 0, 0));
    CHECK(vm.state() == pdm::vm_state::running);
    const pdm::result<std::thread::id> called = vm.call([] { return std::this_thread::get_id(); });
    REQUIRE(called);
    CHECK(*called == emt_id);
    const pdm::result<bool> on = vm.call([&] { return vm.on_emt(); });
    REQUIRE(on);
    CHECK(*on);
    std::promise<std::thread::id> posted;
    REQUIRE(vm.post([&] { posted.set_value(std::this_thread::get_id()); }));
    std::future<std::thread::id> posted_id = posted.get_future();
    REQUIRE(posted_id.wait_for(patience) == std::future_status::ready);
    CHECK(posted_id.get() == emt_id);
  }  // ~vm from this thread: power off and teardown on the EMT
  const std::vector<probe::sighting> seen = probe::take_sightings();
  const lines want = {"ctor Probe#0", "power_on Probe#0", "reset Probe#0",     "suspend Probe#0", "resume Probe#0",
                      "dtor Probe#0", "ctor Probe#1",     "power_off Probe#1", "dtor Probe#1"};
  REQUIRE(seen.size() == want.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CAPTURE(want[i]);
    CHECK(seen[i].what == want[i]);
    CHECK(seen[i].thread == emt_id);
    CHECK(seen[i].on_emt);
  }
  const auto told = dev.take();
  lines told_what;
  for (const auto& [what, thread] : told) told_what.push_back(what);
  CHECK(told_what == lines{"attach dev", "power_on dev", "reset dev", "suspend dev", "resume dev", "detach dev",
                           "attach dev", "power_off dev"});
  for (const auto& entry : told) {
    CAPTURE(entry.first);
    CHECK(entry.second == emt_id);
  }
  CHECK(reports.all().empty());  // no assert_emt failed
}

TEST_CASE("vm (own_thread, foreign_calls::refuse): members called from another thread fail with wrong_thread") {
  probe_scope scope;
  recording_device dev("dev");
  {
    pdm::vm_options options;
    options.foreign = pdm::foreign_calls::refuse;
    pdm::vm vm(registry_with_probe(), make_config(probe_chain("dev")), std::move(options));

    const pdm::status added = vm.add_device(dev.spec());
    REQUIRE_FALSE(added);
    CHECK(added.error_value() == pdm::errc::wrong_thread);
    CHECK(contains(added.error_value().detail(), "add_device"));

    const pdm::status on = vm.power_on();
    REQUIRE_FALSE(on);
    CHECK(on.error_value() == pdm::errc::wrong_thread);
    CHECK(contains(on.error_value().detail(), "power_on"));

    const pdm::result<int> called = vm.call([] { return 1; });
    REQUIRE_FALSE(called);
    CHECK(called.error_value() == pdm::errc::wrong_thread);

    for (const pdm::status& s : {vm.suspend(), vm.resume(), vm.reset(), vm.power_off(), vm.attach_all(),
                                 vm.detach("dev", 0, 0), vm.extend_chain("dev", 0, 0)}) {
      REQUIRE_FALSE(s);
      CHECK(s.error_value() == pdm::errc::wrong_thread);
    }
    CHECK(vm.attach("dev", 0, 0).error_value() == pdm::errc::wrong_thread);
    CHECK(vm.dump().error_value() == pdm::errc::wrong_thread);
    CHECK(vm.counts("Mem").error_value() == pdm::errc::wrong_thread);
    CHECK(vm.state() == pdm::vm_state::created);  // nothing happened

    // The EMT itself is not refused: work handed to it may use every member.
    const pdm::status inside = vm.thread().call([&]() -> pdm::status {
      if (pdm::status s = vm.add_device(dev.spec()); !s) return s;
      if (pdm::result<pdm::driver_ref> r = vm.attach("dev", 0, 0); !r) return r.error_value();
      return vm.power_on();
    });
    CHECK(inside);
    CHECK(vm.state() == pdm::vm_state::running);
    // vm.post is not a member that runs anything here: it queues, and is not refused.
    std::promise<void> posted;
    CHECK(vm.post([&] { posted.set_value(); }));
    CHECK(posted.get_future().wait_for(patience) == std::future_status::ready);
  }  // ~vm is not refused: it powers off and destroys on the EMT
  const lines j = take_journal();
  CHECK(std::count(j.begin(), j.end(), "power_off Probe#0") == 1);
  const std::vector<probe::sighting> seen = probe::take_sightings();
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.back().what == "dtor Probe#0");
  CHECK(seen.back().on_emt);
}

TEST_CASE("vm (current_thread): a member called from another thread waits until the EMT runs it") {
  probe_scope scope;
  recording_device dev("dev");
  pdm::vm vm(registry_with_probe(), make_config(probe_chain("dev")),
             pdm::vm_options{.emt = pdm::emt_mode::current_thread});
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  (void)probe::take_sightings();

  std::atomic<bool> done{false};
  std::optional<pdm::status> powered;
  std::thread other([&] {
    powered.emplace(vm.power_on());
    done = true;
  });
  REQUIRE(eventually([&] { return vm.thread().pending() == 1; }));
  CHECK(vm.state() == pdm::vm_state::created);  // queued, not run: this thread has not asked yet
  const auto give_up = clock_type::now() + patience;
  while (!done.load() && clock_type::now() < give_up) vm.thread().wait_until(clock_type::now() + 5ms);
  other.join();
  REQUIRE(powered.has_value());
  CHECK(*powered);
  CHECK(vm.state() == pdm::vm_state::running);
  const std::vector<probe::sighting> seen = probe::take_sightings();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].what == "power_on Probe#0");
  CHECK(seen[0].thread == std::this_thread::get_id());
  CHECK(seen[0].on_emt);
}

TEST_CASE("vm (current_thread, foreign_calls::refuse): another thread is refused at once") {
  probe_scope scope;
  pdm::vm_options options{.emt = pdm::emt_mode::current_thread};
  options.foreign = pdm::foreign_calls::refuse;
  recording_device dev("dev");
  pdm::vm vm(registry_with_probe(), make_config(probe_chain("dev")), std::move(options));
  REQUIRE(vm.add_device(dev.spec()));  // on the EMT: fine
  std::optional<pdm::status> from_other;
  std::optional<pdm::result<int>> call_other;
  std::atomic<bool> done{false};
  std::thread other([&] {
    from_other.emplace(vm.power_on());
    call_other.emplace(vm.call([] { return 3; }));
    done = true;
  });
  // This thread serves the EMT meanwhile, so a VM that queued the calls instead of refusing them
  // fails the checks below rather than hanging.
  const auto give_up = clock_type::now() + patience;
  while (!done.load() && clock_type::now() < give_up) vm.thread().wait_until(clock_type::now() + 5ms);
  other.join();
  REQUIRE(from_other.has_value());
  REQUIRE_FALSE(*from_other);
  CHECK(from_other->error_value() == pdm::errc::wrong_thread);
  REQUIRE(call_other.has_value());
  REQUIRE_FALSE(*call_other);
  CHECK(call_other->error_value() == pdm::errc::wrong_thread);
  CHECK(vm.thread().pending() == 0);
  CHECK(vm.state() == pdm::vm_state::created);
  const pdm::result<int> here = vm.call([] { return 3; });
  REQUIRE(here);
  CHECK(*here == 3);
}

TEST_CASE("vm: many threads attaching and detaching at once are serialised on the EMT") {
  probe_scope scope;
  constexpr int threads = 4;
  constexpr int rounds = 40;
  std::vector<std::unique_ptr<recording_device>> devices;
  lines config;
  for (int t = 0; t < threads; ++t) {
    devices.push_back(std::make_unique<recording_device>("d" + std::to_string(t)));
    const lines c = probe_chain("d" + std::to_string(t));
    config.insert(config.end(), c.begin(), c.end());
  }
  pdm::vm vm(registry_with_probe(), make_config(config));
  for (auto& d : devices) REQUIRE(vm.add_device(d->spec()));
  REQUIRE(vm.power_on());
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&vm, &failures, t] {
      const std::string name = "d" + std::to_string(t);
      for (int i = 0; i < rounds; ++i) {
        if (!vm.attach(name, 0, 0)) failures.fetch_add(1);
        if (!vm.reset()) failures.fetch_add(1);
        const pdm::result<std::vector<pdm::driver_ref>> c = vm.chain(name, 0, 0);
        if (!c || c->size() != 2) failures.fetch_add(1);
        if (!vm.detach(name, 0, 0)) failures.fetch_add(1);
      }
      if (!vm.attach(name, 0, 0)) failures.fetch_add(1);
    });
  }
  for (std::thread& w : workers) w.join();
  CHECK(failures.load() == 0);
  const pdm::result<pdm::driver_counts> probes = vm.counts("Probe");
  REQUIRE(probes);
  CHECK(probes->live == threads);
  CHECK(probes->next_instance == threads * (rounds + 1));
  const pdm::result<pdm::driver_counts> mems = vm.counts("Mem");
  REQUIRE(mems);
  CHECK(mems->live == threads);
  for (const probe::sighting& s : probe::take_sightings()) {
    CAPTURE(s.what);
    CHECK(s.on_emt);
    CHECK(s.thread == vm.thread().id());
  }
}

// --- Driver helpers and the EMT ------------------------------------------------------------------

TEST_CASE("driver helpers off the EMT fail with wrong_thread and change nothing") {
  probe_scope scope;
  recording_device dev("dev");
  report_log reports;
  pdm::vm_options options{.emt = pdm::emt_mode::current_thread};
  options.report = reports.sink();
  pdm::vm vm(registry_with_probe(), make_config(probe_chain("dev")), std::move(options));
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  probe& p = probe_at(vm, "dev", 0);

  struct outcome {
    std::string what;
    pdm::status result;
  };
  std::vector<outcome> outcomes;
  pdm::vm_state state_seen = pdm::vm_state::created;
  bool other_ok = false;
  std::thread([&] {
    pdm::result<pdm::driver_ref> a = p.ctx_.attach();
    outcomes.push_back({"attach", a ? pdm::ok() : pdm::status(a.error_value())});
    outcomes.push_back({"detach", p.ctx_.detach()});
    outcomes.push_back({"detach_self", p.ctx_.detach_self()});
    outcomes.push_back({"mount_prepare", p.ctx_.mount_prepare("image.raw", "Mem")});
    pdm::result<pdm::async_notification> n = p.ctx_.notify_later();
    outcomes.push_back({"notify_later", n ? pdm::ok() : pdm::status(n.error_value())});
    state_seen = p.ctx_.vm_state();
    other_ok = p.ctx_.assert_other();
  }).join();

  REQUIRE(outcomes.size() == 5);
  for (const outcome& o : outcomes) {
    CAPTURE(o.what);
    REQUIRE_FALSE(o.result);
    CHECK(o.result.error_value() == pdm::errc::wrong_thread);
    CHECK(o.result.error_value().detail() == o.what + " must be called on the EMT");
    CHECK(o.result.error_value().driver_name() == "Probe");
    CHECK(o.result.error_value().instance() == 0);
  }
  CHECK(state_seen == pdm::vm_state::running);
  CHECK(other_ok);
  CHECK(reports.all().empty());
  // The chain is as it was, and no config was prepared for a mount.
  const pdm::result<std::vector<pdm::driver_ref>> c = vm.chain("dev", 0, 0);
  REQUIRE(c);
  CHECK(c->size() == 2);
  const pdm::config_node* below = vm.config().find_child("Devices/dev/0/LUN#0/AttachedDriver");
  REQUIRE(below != nullptr);
  const pdm::config_node* below_config = below->find_child("Config");
  CHECK((below_config == nullptr || below_config->find_value("Path") == nullptr));
  // On the EMT the same helpers work (detach, then attach again).
  CHECK(p.ctx_.detach());
  CHECK(p.ctx_.attach());
}

TEST_CASE("assert_emt and assert_other: true where they hold; otherwise false and a report with the call site") {
  probe_scope scope;
  recording_device dev("dev");
  report_log reports;
  pdm::vm_options options{.emt = pdm::emt_mode::current_thread};
  options.report = reports.sink();
  pdm::vm vm(registry_with_probe(), make_config(probe_chain("dev")), std::move(options));
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  probe& p = probe_at(vm, "dev", 0);

  // Where they hold: no report.
  CHECK(p.ctx_.assert_emt());
  bool other_elsewhere = false;
  std::thread([&] { other_elsewhere = p.ctx_.assert_other(); }).join();
  CHECK(other_elsewhere);
  CHECK(reports.all().empty());

  // assert_emt off the EMT.
  std::pair<bool, int> off{true, 0};
  std::thread([&] { off = std::pair{p.ctx_.assert_emt(), __LINE__}; }).join();
  CHECK_FALSE(off.first);
  // assert_other on the EMT.
  const std::pair<bool, int> on{p.ctx_.assert_other(), __LINE__};
  CHECK_FALSE(on.first);

  const std::vector<pdm::vm_report> got = reports.all();
  REQUIRE(got.size() == 2);
  CHECK(got[0].kind == pdm::report_kind::wrong_thread);
  CHECK(got[0].what == pdm::errc::wrong_thread);
  CHECK(got[0].what.driver_name() == "Probe");
  CHECK(got[0].what.instance() == 0);
  CHECK(contains(got[0].what.message(), "assert_emt failed: not on the EMT"));
  CHECK(contains(got[0].what.message(), "emt.cpp:" + std::to_string(off.second)));
  CHECK(got[1].kind == pdm::report_kind::wrong_thread);
  CHECK(contains(got[1].what.message(), "assert_other failed: on the EMT"));
  CHECK(contains(got[1].what.message(), "emt.cpp:" + std::to_string(on.second)));

  // From inside a driver's hook: the report names the hook's line and function.
  probe::check_other_in_suspend = true;
  REQUIRE(vm.power_on());
  REQUIRE(vm.suspend());
  REQUIRE(probe::other_in_suspend.has_value());
  CHECK_FALSE(probe::other_in_suspend->first);
  const std::vector<pdm::vm_report> after = reports.all();
  REQUIRE(after.size() == 3);
  CHECK(after[2].kind == pdm::report_kind::wrong_thread);
  CHECK(contains(after[2].what.message(), "emt.cpp:" + std::to_string(probe::other_in_suspend->second)));
  CHECK(contains(after[2].what.message(), "on_suspend"));
}

TEST_CASE("ctx.post: work from any thread runs on the EMT in order, owned by the instance") {
  probe_scope scope;
  recording_device dev("dev");
  pdm::vm vm(registry_with_probe(), make_config(probe_chain("dev")));  // own_thread
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.attach("dev", 0, 0));
  const pdm::result<probe*> found = vm.call([&] { return &probe_at(vm, "dev", 0); });
  REQUIRE(found);
  probe& p = **found;
  std::vector<std::pair<int, std::thread::id>> ran;  // EMT only
  for (int i = 0; i < 50; ++i) {
    REQUIRE(p.ctx_.post([&ran, i] { ran.emplace_back(i, std::this_thread::get_id()); }));
  }
  const pdm::result<std::vector<std::pair<int, std::thread::id>>> got = vm.call([&] { return ran; });
  REQUIRE(got);
  REQUIRE(got->size() == 50);
  for (std::size_t i = 0; i < got->size(); ++i) {
    CHECK((*got)[i].first == static_cast<int>(i));
    CHECK((*got)[i].second == vm.thread().id());
  }
}

TEST_CASE("ctx.post: work still queued when its instance is detached is dropped, other work is not") {
  probe_scope scope;
  recording_device dev("dev");
  recording_device keep("keep");
  lines config = probe_chain("dev");
  const lines k = probe_chain("keep");
  config.insert(config.end(), k.begin(), k.end());
  pdm::vm vm(registry_with_probe(), make_config(config), pdm::vm_options{.emt = pdm::emt_mode::current_thread});
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.add_device(keep.spec()));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.attach("keep", 0, 0, pdm::attach_flags::not_hot_plug));
  probe& doomed = probe_at(vm, "dev", 0);
  probe& kept = probe_at(vm, "keep", 0);

  auto token = std::make_shared<int>(0);
  lines ran;
  // Posted from another thread and from this one (the EMT), before the detach.
  std::thread([&] {
    for (int i = 0; i < 3; ++i) REQUIRE(doomed.ctx_.post([&ran, token] { ran.emplace_back("doomed"); }));
    REQUIRE(kept.ctx_.post([&ran] { ran.emplace_back("kept"); }));
  }).join();
  REQUIRE(doomed.ctx_.post([&ran, token] { ran.emplace_back("doomed"); }));
  REQUIRE(vm.post([&ran] { ran.emplace_back("vm"); }));
  CHECK(vm.thread().pending() == 6);
  CHECK(token.use_count() == 5);

  REQUIRE(vm.detach("dev", 0, 0));
  CHECK(vm.thread().pending() == 2);
  CHECK(token.use_count() == 1);  // the dropped work was destroyed, not leaked
  CHECK(vm.thread().run_pending() == 2);
  CHECK(ran == lines{"kept", "vm"});
}

TEST_CASE("ctx.post (own_thread): work queued behind a request that detaches its instance never runs") {
  probe_scope scope;
  recording_device dev("dev");
  pdm::vm vm(registry_with_probe(), make_config(probe_chain("dev")));  // own_thread
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.attach("dev", 0, 0));
  const pdm::result<probe*> found = vm.call([&] { return &probe_at(vm, "dev", 0); });
  REQUIRE(found);
  probe& p = **found;

  std::promise<void> started;
  std::atomic<bool> queued{false};
  std::optional<pdm::status> detached;
  // The gate runs on the EMT, waits until the work below is queued behind it, then detaches.
  REQUIRE(vm.post([&] {
    started.set_value();
    (void)eventually([&] { return queued.load(); });
    detached.emplace(vm.detach("dev", 0, 0));
  }));
  REQUIRE(started.get_future().wait_for(patience) == std::future_status::ready);
  std::atomic<bool> work_ran{false};
  REQUIRE(p.ctx_.post([&work_ran] { work_ran = true; }));
  queued = true;
  const pdm::result<std::size_t> after = vm.call([&] { return vm.thread().pending(); });  // after the gate
  REQUIRE(after);
  CHECK(*after == 0);
  CHECK_FALSE(work_ran.load());
  REQUIRE(detached.has_value());
  CHECK(*detached);
}

TEST_CASE("ctx.post once the EMT has stopped fails with cancelled") {
  probe_scope scope;
  recording_device dev("dev");
  pdm::vm vm(registry_with_probe(), make_config(probe_chain("dev")),
             pdm::vm_options{.emt = pdm::emt_mode::current_thread});
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  probe& p = probe_at(vm, "dev", 0);
  vm.thread().stop();
  auto token = std::make_shared<int>(0);
  const pdm::status s = p.ctx_.post([token] {});
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::cancelled);
  CHECK(s.error_value().driver_name() == "Probe");
  CHECK(token.use_count() == 1);
  CHECK_FALSE(vm.post([] {}));
}

TEST_CASE("~vm (own_thread) after the EMT was stopped by hand still destroys every driver") {
  probe_scope scope;
  recording_device dev("dev");
  {
    pdm::vm vm(registry_with_probe(), make_config(probe_chain("dev")));  // own_thread
    REQUIRE(vm.add_device(dev.spec()));
    REQUIRE(vm.attach("dev", 0, 0));
    vm.thread().stop();
  }
  const lines j = take_journal();
  CHECK(std::count(j.begin(), j.end(), "dtor Mem#0") == 1);
  bool probe_destroyed = false;
  for (const probe::sighting& s : probe::take_sightings())
    probe_destroyed = probe_destroyed || s.what == "dtor Probe#0";
  CHECK(probe_destroyed);
}

TEST_CASE("~vm (own_thread) from a request on its own EMT: teardown runs there, and the thread ends cleanly") {
  // ~vm supports running on its EMT (it tears down in place and stop() detaches the thread), so
  // the EMT loop must not touch the VM once that request returns. Freed memory read here shows
  // under AddressSanitizer (heap-use-after-free in emt::run_pending / emt::loop).
  probe_scope scope;
  recording_device dev("dev");
  std::promise<void> exited;
  std::future<void> thread_gone = exited.get_future();
  auto* v = new pdm::vm(registry_with_probe(), make_config(probe_chain("dev")));
  REQUIRE(v->add_device(dev.spec()));
  REQUIRE(v->attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(v->power_on());
  const std::thread::id emt_id = v->thread().id();
  auto deleted = std::make_shared<std::promise<void>>();
  std::future<void> gone = deleted->get_future();
  REQUIRE(v->post([v, deleted, &exited] {
    on_thread_exit.done = &exited;
    delete v;  // NOLINT(cppcoreguidelines-owning-memory): the point of the test
    deleted->set_value();
  }));
  REQUIRE(gone.wait_for(patience) == std::future_status::ready);
  CHECK(thread_gone.wait_for(patience) == std::future_status::ready);
  const std::vector<probe::sighting> seen = probe::take_sightings();
  REQUIRE(seen.size() == 4);
  CHECK(seen[2].what == "power_off Probe#0");
  CHECK(seen[3].what == "dtor Probe#0");
  for (const probe::sighting& s : seen) {
    CAPTURE(s.what);
    CHECK(s.thread == emt_id);
    CHECK(s.on_emt);
  }
}

// --- Asynchronous notifications across threads ---------------------------------------------------

TEST_CASE("async (own_thread): a suspend completed from another std::thread; the caller returns once it is done") {
  std::thread worker;
  std::atomic<bool> completed{false};
  probe_scope scope([&](probe& self, std::string_view e) {
    if (e != "suspend" && e != "power_off") return;
    pdm::result<pdm::async_notification> n = self.ctx_.notify_later();
    REQUIRE(n);
    if (worker.joinable()) worker.join();
    completed = false;
    worker = std::thread([h = std::move(*n), &completed]() mutable {
      std::this_thread::sleep_for(20ms);
      completed = true;
      h.complete();
    });
  });
  recording_device dev("dev");
  std::atomic<int> device_told_before_completion{0};
  dev.also = [&](std::string_view e) {
    if ((e == "suspend" || e == "power_off") && !completed.load()) device_told_before_completion.fetch_add(1);
  };
  {
    pdm::vm vm(registry_with_probe(), make_config(probe_chain("dev")));
    REQUIRE(vm.add_device(dev.spec()));
    REQUIRE(vm.attach("dev", 0, 0, pdm::attach_flags::not_hot_plug));
    REQUIRE(vm.power_on());
    REQUIRE(vm.suspend());
    CHECK(completed.load());
    CHECK(vm.state() == pdm::vm_state::suspended);
    REQUIRE(vm.resume());
  }  // ~vm powers off: waits for the second completion
  CHECK(completed.load());
  if (worker.joinable()) worker.join();
  CHECK(device_told_before_completion.load() == 0);
  const lines j = take_journal();
  CHECK(std::count(j.begin(), j.end(), "power_off Probe#0") == 1);
}

TEST_CASE("async (own_thread): Slow completes through ctx.post on the EMT's own wait") {
  take_journal();
  chain_test::disk_device disk;
  {
    pdm::vm vm(chain_test::make_registry(),
               make_config({"Devices/disk/0/LUN#0/Driver=Top", "Devices/disk/0/LUN#0/AttachedDriver/Driver=Slow"}));
    REQUIRE(vm.add_device(disk.spec()));
    REQUIRE(vm.attach("disk", 0, 0, pdm::attach_flags::not_hot_plug));
    REQUIRE(vm.power_on());
    REQUIRE(vm.suspend());
    CHECK(vm.state() == pdm::vm_state::suspended);
  }
  const lines j = take_journal();
  const lines want = {"suspend Top#0",   "suspend started Slow#0",   "suspend done Slow#0",   "suspend disk",
                      "power_off Top#0", "power_off started Slow#0", "power_off done Slow#0", "power_off disk"};
  lines events;
  for (const std::string& l : j) {
    if (l.rfind("suspend", 0) == 0 || l.rfind("power_off", 0) == 0) events.push_back(l);
  }
  CHECK(events == want);
}
