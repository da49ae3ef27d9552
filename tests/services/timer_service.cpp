// The timer service (pdm/services/timer_service.hpp): order of firing, absolute and relative
// arming, re-arming, stop, destroy and stale ids, callbacks that change timers while a run goes
// on, a throwing callback, the virtual clocks' pause and virtual_sync hold, the EMT's next wake-up
// time, 100,000 timers, random operations against a simple model, and allocation failures.
//
// Every test reads a manual_clock: time moves only when a test moves it, so nothing depends on
// timing. This program replaces the global operator new so that a test can make the Nth
// allocation fail; unarmed, it only counts live allocations.
#include <pdm/services/timer_service.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

// Globals: the replaced operator new below has no other way to reach them. countdown is -1
// when unarmed, otherwise the number of allocations left before one fails.
std::atomic<long> live_allocations{0};  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
std::atomic<long> countdown{-1};        // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)

bool should_fail() noexcept {
  long left = countdown.load();
  while (left >= 0) {
    if (countdown.compare_exchange_weak(left, left - 1)) return left == 0;
  }
  return false;
}

// Not inlined: g++ would otherwise see malloc and free meet new and delete, and warn.
[[gnu::noinline]] void* allocate(std::size_t size, std::size_t alignment) noexcept {
  if (should_fail()) return nullptr;
  if (size == 0) size = 1;
  void* p = nullptr;
  if (alignment <= alignof(std::max_align_t)) {
    p = std::malloc(size);  // NOLINT(cppcoreguidelines-no-malloc): this is operator new
  } else if (posix_memalign(&p, alignment, size) != 0) {
    p = nullptr;
  }
  if (p != nullptr) ++live_allocations;
  return p;
}
[[gnu::noinline]] void release(void* p) noexcept {
  if (p == nullptr) return;
  --live_allocations;
  std::free(p);  // NOLINT(cppcoreguidelines-no-malloc): this is operator delete
}

}  // namespace

void* operator new(std::size_t size) {
  if (void* p = allocate(size, 0)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* p = allocate(size, 0)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t a) {
  if (void* p = allocate(size, static_cast<std::size_t>(a))) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t a) {
  if (void* p = allocate(size, static_cast<std::size_t>(a))) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return allocate(size, 0); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return allocate(size, 0); }
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }

using namespace std::chrono_literals;
using pdm::clock_kind;
using pdm::detail::timer_id;
using pdm::detail::timer_service;

namespace {

constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();

// A service over a manual clock with virtual time running, and a log of what fired.
struct fixture {
  pdm::manual_clock source{1'000'000};
  timer_service timers{&source};
  std::vector<std::string> log;

  fixture() { timers.clocks().resume_virtual(); }

  timer_id make(clock_kind kind, const std::string& name) {
    auto id = timers.create(
        kind, [this, name] { log.push_back(name); }, name);
    REQUIRE(id);
    return *id;
  }
  timer_id make_at(clock_kind kind, const std::string& name, std::uint64_t deadline) {
    const timer_id id = make(kind, name);
    REQUIRE(timers.arm_at(id, deadline));
    return id;
  }
  void advance(std::chrono::nanoseconds d) { REQUIRE(source.advance(d)); }
  void advance_to(std::uint64_t virtual_ns) {
    const std::uint64_t now = timers.now(clock_kind::virtual_time);
    REQUIRE(virtual_ns >= now);
    advance(std::chrono::nanoseconds(virtual_ns - now));
  }
};

void check_stale(const pdm::status& s) {
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::invalid_argument);
  CHECK(s.error_value().detail().find("destroyed timer") != std::string::npos);
}

using strings = std::vector<std::string>;

}  // namespace

TEST_CASE("a new timer exists, is not pending, and keeps its name, tag and clock") {
  fixture f;
  int owner = 0;
  auto id = f.timers.create(
      clock_kind::real, [] {}, "poll", &owner);
  REQUIRE(id);
  CHECK(id->generation != 0);
  CHECK(f.timers.valid(*id));
  CHECK_FALSE(f.timers.pending(*id));
  CHECK(f.timers.expire_time(*id) == std::nullopt);
  CHECK(f.timers.clock_of(*id) == clock_kind::real);
  CHECK(f.timers.tag(*id) == &owner);
  CHECK(f.timers.name(*id) == "poll");
  CHECK(f.timers.size() == 1);
  CHECK(f.timers.pending_count() == 0);
  CHECK(timer_service::frequency == 1'000'000'000);
  CHECK(f.timers.run_due() == 0);
}

TEST_CASE("create refuses an empty callback and an unknown clock") {
  fixture f;
  const auto empty = f.timers.create(clock_kind::virtual_time, nullptr, "nothing");
  REQUIRE_FALSE(empty);
  CHECK(empty.error_value() == pdm::errc::invalid_argument);
  CHECK(empty.error_value().detail().find("'nothing'") != std::string::npos);
  const auto unknown = f.timers.create(
      static_cast<clock_kind>(3), [] {}, "odd");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error_value() == pdm::errc::invalid_argument);
  CHECK(unknown.error_value().detail().find("'odd'") != std::string::npos);
  CHECK(f.timers.size() == 0);
}

TEST_CASE("timers fire by deadline, then in the order they were armed") {
  fixture f;
  f.make_at(clock_kind::virtual_time, "a30", 30);
  f.make_at(clock_kind::virtual_time, "b10", 10);
  f.make_at(clock_kind::virtual_time, "c20", 20);
  f.make_at(clock_kind::virtual_time, "d10", 10);
  f.make_at(clock_kind::virtual_time, "e20", 20);
  f.make_at(clock_kind::virtual_time, "f10", 10);
  CHECK(f.timers.pending_count() == 6);
  f.advance_to(30);
  CHECK(f.timers.run_due() == 6);
  CHECK(f.log == strings{"b10", "d10", "f10", "c20", "e20", "a30"});
  CHECK(f.timers.pending_count() == 0);
  CHECK(f.timers.size() == 6);
}

TEST_CASE("a timer fires when its clock reaches the deadline, not before, and once") {
  fixture f;
  const timer_id t = f.make_at(clock_kind::virtual_time, "t", 100);
  f.advance_to(99);
  CHECK(f.timers.run_due() == 0);
  CHECK(f.timers.pending(t));
  f.advance_to(100);
  CHECK(f.timers.run_due() == 1);
  CHECK_FALSE(f.timers.pending(t));
  CHECK(f.timers.expire_time(t) == std::nullopt);
  f.advance_to(1000);
  CHECK(f.timers.run_due() == 0);
  CHECK(f.log == strings{"t"});
}

TEST_CASE("arm_in counts from the timer's clock, in ns, us or ms") {
  fixture f;
  f.advance(7ms);  // virtual 7 ms, real 7 ms
  f.timers.clocks().pause_virtual();
  f.advance(5ms);  // virtual still 7 ms, real 12 ms
  f.timers.clocks().resume_virtual();
  const timer_id ns = f.make(clock_kind::virtual_time, "ns");
  const timer_id us = f.make(clock_kind::virtual_time, "us");
  const timer_id ms = f.make(clock_kind::virtual_sync, "ms");
  const timer_id real = f.make(clock_kind::real, "real");
  REQUIRE(f.timers.arm_in(ns, 500ns));
  REQUIRE(f.timers.arm_in(us, 3us));
  REQUIRE(f.timers.arm_in(ms, 2ms));
  REQUIRE(f.timers.arm_in(real, 1ms));
  CHECK(f.timers.expire_time(ns) == 7'000'500);
  CHECK(f.timers.expire_time(us) == 7'003'000);
  CHECK(f.timers.expire_time(ms) == 9'000'000);
  CHECK(f.timers.expire_time(real) == 13'000'000);

  f.advance(499ns);
  CHECK(f.timers.run_due() == 0);
  f.advance(1ns);
  CHECK(f.timers.run_due() == 1);
  f.advance(2500ns);
  CHECK(f.timers.run_due() == 1);
  f.advance(1ms - 3us);  // real 13 ms
  CHECK(f.timers.run_due() == 1);
  f.advance(1ms);  // virtual 9 ms
  CHECK(f.timers.run_due() == 1);
  CHECK(f.log == strings{"ns", "us", "real", "ms"});
}

TEST_CASE("arm_in refuses a negative time and a deadline past the largest time, naming the timer") {
  fixture f;
  const timer_id t = f.make(clock_kind::virtual_time, "Disk-7 flush");
  const pdm::status negative = f.timers.arm_in(t, -1ns);
  REQUIRE_FALSE(negative);
  CHECK(negative.error_value() == pdm::errc::invalid_argument);
  CHECK(negative.error_value().detail().find("'Disk-7 flush'") != std::string::npos);
  CHECK(negative.error_value().detail().find("negative") != std::string::npos);
  CHECK_FALSE(f.timers.pending(t));  // the refused arming changed nothing
  f.advance(5ns);
  CHECK(f.timers.arm_in(t, std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::max())));  // still fits
  CHECK(f.timers.expire_time(t) == 5 + static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
  CHECK(f.timers.arm_in(t, 0ns));
  CHECK(f.timers.expire_time(t) == 5);
  CHECK_FALSE(f.timers.arm_in(t, -2ms));
  CHECK(f.timers.expire_time(t) == 5);
}

TEST_CASE("arm_in refuses a deadline that passes the largest time") {
  pdm::manual_clock source;
  timer_service timers(&source);
  const auto t = timers.create(
      clock_kind::real, [] {}, "far");
  REQUIRE(t);
  REQUIRE(source.set(max_u64 - 10));
  CHECK(timers.arm_in(*t, 10ns));
  CHECK(timers.expire_time(*t) == max_u64 - 10 + 10);
  REQUIRE(source.advance(5ns));
  const pdm::status over = timers.arm_in(*t, 6ns);
  REQUIRE_FALSE(over);
  CHECK(over.error_value() == pdm::errc::invalid_argument);
  CHECK(over.error_value().detail().find("'far'") != std::string::npos);
  CHECK(timers.expire_time(*t) == max_u64);  // the refused arming changed nothing
}

TEST_CASE("a deadline already passed fires at the next run") {
  fixture f;
  f.advance_to(500);
  f.make_at(clock_kind::virtual_time, "late", 100);
  f.make_at(clock_kind::virtual_time, "now", 500);
  f.make_at(clock_kind::virtual_time, "zero", 0);
  CHECK(f.timers.run_due() == 3);
  CHECK(f.log == strings{"zero", "late", "now"});
}

TEST_CASE("re-arming a pending timer moves it") {
  fixture f;
  const timer_id a = f.make_at(clock_kind::virtual_time, "a", 10);
  const timer_id b = f.make_at(clock_kind::virtual_time, "b", 20);
  f.make_at(clock_kind::virtual_time, "c", 30);
  REQUIRE(f.timers.arm_at(a, 40));  // later
  REQUIRE(f.timers.arm_at(b, 5));   // earlier
  CHECK(f.timers.pending_count() == 3);
  CHECK(f.timers.expire_time(a) == 40);
  CHECK(f.timers.expire_time(b) == 5);
  REQUIRE(f.timers.arm_at(b, 30));  // same deadline as c, armed later: after c
  f.advance_to(35);
  CHECK(f.timers.run_due() == 2);
  CHECK(f.log == strings{"c", "b"});
  f.advance_to(40);
  CHECK(f.timers.run_due() == 1);
  CHECK(f.log == strings{"c", "b", "a"});
}

TEST_CASE("stop disarms a timer; stopping one that is not pending is a success") {
  fixture f;
  const timer_id a = f.make_at(clock_kind::virtual_time, "a", 10);
  const timer_id b = f.make_at(clock_kind::real, "b", 10);
  const timer_id idle = f.make(clock_kind::virtual_sync, "idle");
  CHECK(f.timers.stop(a));
  CHECK(f.timers.stop(a));
  CHECK(f.timers.stop(idle));
  CHECK_FALSE(f.timers.pending(a));
  CHECK(f.timers.pending(b));
  CHECK(f.timers.pending_count() == 1);
  f.advance(20ns);
  CHECK(f.timers.run_due() == 1);
  CHECK(f.log == strings{"b"});
  CHECK(f.timers.valid(a));
  REQUIRE(f.timers.arm_at(a, 20));  // a stopped timer can be armed again
  CHECK(f.timers.run_due() == 1);
  CHECK(f.log == strings{"b", "a"});
}

TEST_CASE("a destroyed timer's id is stale for every operation, even after its slot is reused") {
  fixture f;
  int owner = 0;
  auto made = f.timers.create(
      clock_kind::real, [] {}, "gone", &owner);
  REQUIRE(made);
  const timer_id old = *made;
  const timer_id copy = old;
  REQUIRE(f.timers.arm_at(old, 50));
  REQUIRE(f.timers.destroy(old));
  CHECK(f.timers.size() == 0);
  CHECK(f.timers.pending_count() == 0);

  auto check_all_stale = [&](timer_id id) {
    CAPTURE(id.index);
    CAPTURE(id.generation);
    check_stale(f.timers.arm_at(id, 1));
    check_stale(f.timers.arm_in(id, 1ms));
    check_stale(f.timers.arm_in(id, -1ms));  // stale first, whatever the argument
    check_stale(f.timers.stop(id));
    check_stale(f.timers.destroy(id));
    CHECK_FALSE(f.timers.valid(id));
    CHECK_FALSE(f.timers.pending(id));
    CHECK(f.timers.expire_time(id) == std::nullopt);
    CHECK(f.timers.clock_of(id) == clock_kind::virtual_time);
    CHECK(f.timers.tag(id) == nullptr);
    CHECK(f.timers.name(id).empty());
  };
  check_all_stale(old);
  check_all_stale(copy);
  check_all_stale(timer_id{});                               // never made: generation 0
  check_all_stale(timer_id{old.index, 0});                   // generation 0 is never valid
  check_all_stale(timer_id{old.index + 1000, 1});            // no such slot
  check_all_stale(timer_id{old.index, old.generation + 7});  // a generation not reached

  const timer_id reused = f.make(clock_kind::virtual_time, "new");
  CHECK(reused.index == old.index);            // the slot is reused...
  CHECK(reused.generation != old.generation);  // ...under a new generation
  CHECK(f.timers.valid(reused));
  check_all_stale(old);
  REQUIRE(f.timers.arm_at(reused, 10));
  f.advance(100ns);
  CHECK(f.timers.run_due() == 1);
  CHECK(f.log == strings{"new"});

  const pdm::status s = f.timers.stop(old);
  REQUIRE_FALSE(s);
  CHECK(s.error_value().detail().find("stop") != std::string::npos);
  CHECK(s.error_value().message().find("invalid argument: destroyed timer") != std::string::npos);
}

TEST_CASE("destroy frees the callback and what it holds") {
  fixture f;
  auto token = std::make_shared<int>(1);
  auto id = f.timers.create(
      clock_kind::virtual_time, [token] { (void)*token; }, "holder");
  REQUIRE(id);
  CHECK(token.use_count() == 2);
  REQUIRE(f.timers.arm_at(*id, 10));
  f.advance(20ns);
  CHECK(f.timers.run_due() == 1);
  CHECK(token.use_count() == 2);  // the callback went back into its record after firing
  REQUIRE(f.timers.destroy(*id));
  CHECK(token.use_count() == 1);
}

TEST_CASE("the name of a timer stays readable while other timers are made") {
  fixture f;
  const timer_id first = f.make(clock_kind::virtual_time, "a name longer than any small-string buffer");
  const std::string_view view = f.timers.name(first);
  for (int i = 0; i < 2000; ++i) f.make(clock_kind::virtual_time, std::to_string(i));
  CHECK(view == "a name longer than any small-string buffer");
  CHECK(f.timers.name(first).data() == view.data());
}

TEST_CASE("a periodic timer re-armed by its callback fires once per run and catches up over runs") {
  fixture f;
  timer_id t{};
  std::uint64_t next = 1000;
  int fired = 0;
  auto made = f.timers.create(
      clock_kind::virtual_time,
      [&] {
        ++fired;
        next += 1000;
        CHECK(f.timers.arm_at(t, next));
      },
      "tick");
  REQUIRE(made);
  t = *made;
  REQUIRE(f.timers.arm_at(t, next));
  f.advance_to(1000);
  CHECK(f.timers.run_due() == 1);
  CHECK(f.timers.expire_time(t) == 2000);

  f.advance_to(5500);  // due at 2000, 3000, 4000, 5000: one per run, never a loop
  CHECK(f.timers.run_due() == 1);
  CHECK(f.timers.pending(t));
  CHECK(f.timers.expire_time(t) == 3000);
  const auto due = f.timers.next_due_source_ns();  // due again at once
  REQUIRE(due);
  CHECK(*due <= f.source.now_ns());
  CHECK(f.timers.run_due() == 1);
  CHECK(f.timers.run_due() == 1);
  CHECK(f.timers.run_due() == 1);
  CHECK(f.timers.run_due() == 0);
  CHECK(fired == 5);
  CHECK(f.timers.expire_time(t) == 6000);
}

TEST_CASE("a timer re-armed by its callback for now fires in the next run, not in the same one") {
  fixture f;
  timer_id t{};
  int fired = 0;
  auto made = f.timers.create(
      clock_kind::real,
      [&] {
        ++fired;
        CHECK(f.timers.arm_in(t, 0ns));
        CHECK(f.timers.pending(t));
        CHECK(f.timers.pending_count() == 1);
        CHECK(f.timers.next_due_source_ns() == f.source.now_ns());
      },
      "again");
  REQUIRE(made);
  t = *made;
  REQUIRE(f.timers.arm_in(t, 0ns));
  CHECK(f.timers.run_due() == 1);
  CHECK(f.timers.run_due() == 1);
  CHECK(fired == 2);
  CHECK(f.timers.pending(t));
}

TEST_CASE("a callback may destroy its own timer") {
  fixture f;
  auto token = std::make_shared<int>(3);
  timer_id t{};
  int fired = 0;
  auto made = f.timers.create(
      clock_kind::virtual_time,
      [&, token] {
        ++fired;
        CHECK(*token == 3);
        CHECK(f.timers.destroy(t));
        CHECK(*token == 3);  // the callback object outlives the destroy until it returns
        CHECK_FALSE(f.timers.valid(t));
      },
      "once");
  REQUIRE(made);
  t = *made;
  REQUIRE(f.timers.arm_at(t, 10));
  f.make_at(clock_kind::virtual_time, "after", 10);
  f.advance(10ns);
  CHECK(token.use_count() == 2);
  CHECK(f.timers.run_due() == 2);
  CHECK(fired == 1);
  CHECK(token.use_count() == 1);  // freed once the callback returned
  CHECK(f.timers.size() == 1);
  check_stale(f.timers.arm_at(t, 20));
  CHECK(f.log == strings{"after"});
}

TEST_CASE("a callback that destroys or stops another due timer keeps it from firing") {
  fixture f;
  const timer_id victim = f.make_at(clock_kind::virtual_time, "victim", 20);
  const timer_id stopped = f.make_at(clock_kind::virtual_sync, "stopped", 20);
  const timer_id moved = f.make_at(clock_kind::virtual_time, "moved", 25);
  const timer_id real = f.make_at(clock_kind::real, "real", 20);
  auto killer = f.timers.create(
      clock_kind::virtual_time,
      [&] {
        f.log.emplace_back("killer");
        CHECK(f.timers.destroy(victim));
        CHECK(f.timers.stop(stopped));
        CHECK(f.timers.arm_at(moved, 1000));  // moved beyond the run
        CHECK(f.timers.stop(real));
      },
      "killer");
  REQUIRE(killer);
  REQUIRE(f.timers.arm_at(*killer, 10));
  f.advance(30ns);
  CHECK(f.timers.run_due() == 1);
  CHECK(f.log == strings{"killer"});
  CHECK_FALSE(f.timers.valid(victim));
  CHECK_FALSE(f.timers.pending(stopped));
  CHECK_FALSE(f.timers.pending(real));
  CHECK(f.timers.expire_time(moved) == 1000);
  CHECK(f.timers.pending_count() == 1);
}

TEST_CASE("a callback may create timers, even in the slot it just freed") {
  fixture f;
  timer_id self{};
  timer_id made_inside{};
  timer_id made_later{};
  auto made = f.timers.create(
      clock_kind::virtual_time,
      [&] {
        f.log.emplace_back("maker");
        REQUIRE(f.timers.destroy(self));
        auto inside = f.timers.create(
            clock_kind::virtual_time, [&] { f.log.emplace_back("inside"); }, "inside");
        REQUIRE(inside);
        made_inside = *inside;
        CHECK(made_inside.index == self.index);  // the freed slot, reused at once
        CHECK(f.timers.arm_at(made_inside, 5));  // already due: the next run
        // Enough timers to make every table grow while the run goes on.
        for (int i = 0; i < 300; ++i) {
          auto more = f.timers.create(
              clock_kind::virtual_sync, [&] { f.log.emplace_back("more"); }, "more");
          REQUIRE(more);
          CHECK(f.timers.arm_at(*more, 100 + static_cast<std::uint64_t>(i)));
          made_later = *more;
        }
      },
      "maker");
  REQUIRE(made);
  self = *made;
  REQUIRE(f.timers.arm_at(self, 10));
  f.advance_to(10);
  CHECK(f.timers.run_due() == 1);
  CHECK(f.log == strings{"maker"});
  CHECK(f.timers.size() == 301);
  CHECK(f.timers.run_due() == 1);  // the new callback in the reused slot, not the old one
  CHECK(f.log == strings{"maker", "inside"});
  f.advance_to(399);
  CHECK(f.timers.run_due() == 300);
  CHECK(f.log.size() == 302);
  CHECK(f.timers.valid(made_later));
}

TEST_CASE("a throwing callback counts as fired, its exception reaches the caller, and the next run goes on") {
  fixture f;
  timer_id again{};
  auto thrower = f.timers.create(
      clock_kind::virtual_sync,
      [&] {
        f.log.emplace_back("thrower");
        CHECK(f.timers.arm_at(again, 1));  // deferred when the exception leaves the run
        throw std::runtime_error("device on fire");
      },
      "thrower");
  REQUIRE(thrower);
  again = f.make(clock_kind::virtual_time, "again");
  REQUIRE(f.timers.arm_at(*thrower, 10));
  f.make_at(clock_kind::virtual_time, "later", 20);
  f.make_at(clock_kind::real, "real", 5);
  f.advance_to(30);
  CHECK_THROWS_WITH_AS(f.timers.run_due(), "device on fire", std::runtime_error);
  CHECK_FALSE(f.timers.pending(*thrower));
  CHECK(f.timers.pending(again));
  CHECK(f.timers.pending_count() == 3);
  CHECK(f.timers.now(clock_kind::virtual_sync) == 30);  // the hold ended with the exception
  CHECK(f.timers.run_due() == 3);
  CHECK(f.log == strings{"thrower", "again", "later", "real"});
  CHECK(f.timers.run_due() == 0);
  CHECK(f.timers.valid(*thrower));
  REQUIRE(f.timers.arm_at(*thrower, 40));  // its callback went back into the record
  f.advance_to(40);
  CHECK_THROWS_AS(f.timers.run_due(), std::runtime_error);
}

TEST_CASE("run_due called from a callback does nothing") {
  fixture f;
  std::size_t inner = 99;
  auto outer = f.timers.create(
      clock_kind::virtual_time, [&] { inner = f.timers.run_due(); }, "outer");
  REQUIRE(outer);
  REQUIRE(f.timers.arm_at(*outer, 1));
  f.make_at(clock_kind::virtual_time, "next", 2);
  f.advance(5ns);
  CHECK(f.timers.run_due() == 2);
  CHECK(inner == 0);
  CHECK(f.log == strings{"next"});
}

TEST_CASE("virtual timers wait while virtual time is paused; real timers fire") {
  fixture f;
  f.timers.clocks().pause_virtual();
  const timer_id v = f.make(clock_kind::virtual_time, "virtual");
  const timer_id s = f.make(clock_kind::virtual_sync, "sync");
  REQUIRE(f.timers.arm_in(v, 1ms));
  REQUIRE(f.timers.arm_in(s, 1ms));
  CHECK(f.timers.next_due_source_ns() == std::nullopt);  // nothing can fire
  const timer_id r = f.make(clock_kind::real, "real");
  REQUIRE(f.timers.arm_in(r, 2ms));
  CHECK(f.timers.next_due_source_ns() == f.source.now_ns() + 2'000'000);
  f.advance(5ms);
  CHECK(f.timers.run_due() == 1);
  CHECK(f.log == strings{"real"});
  CHECK(f.timers.next_due_source_ns() == std::nullopt);

  f.timers.clocks().resume_virtual();
  CHECK(f.timers.next_due_source_ns() == f.source.now_ns() + 1'000'000);
  f.advance(1ms);
  CHECK(f.timers.run_due() == 2);
  CHECK(f.log == strings{"real", "virtual", "sync"});
}

TEST_CASE("a callback that pauses virtual time stops the run's virtual timers but not its real ones") {
  fixture f;
  auto pauser = f.timers.create(
      clock_kind::virtual_time, [&] { f.timers.clocks().pause_virtual(); }, "pauser");
  REQUIRE(pauser);
  REQUIRE(f.timers.arm_at(*pauser, 10));
  const timer_id later = f.make_at(clock_kind::virtual_time, "later", 20);
  f.make_at(clock_kind::real, "real", 0);
  f.advance(30ns);
  CHECK(f.timers.run_due() == 2);
  CHECK(f.log == strings{"real"});
  CHECK(f.timers.pending(later));
  f.timers.clocks().resume_virtual();
  CHECK(f.timers.run_due() == 1);
  CHECK(f.log == strings{"real", "later"});
}

TEST_CASE("next_due_source_ns is the earliest deadline on the source's scale") {
  pdm::manual_clock source(5'000'000);
  timer_service timers(&source);
  CHECK(timers.next_due_source_ns() == std::nullopt);
  const auto real = timers.create(
      clock_kind::real, [] {}, "real");
  const auto virt = timers.create(
      clock_kind::virtual_time, [] {}, "virtual");
  const auto sync = timers.create(
      clock_kind::virtual_sync, [] {}, "sync");
  REQUIRE(real);
  REQUIRE(virt);
  REQUIRE(sync);
  REQUIRE(timers.arm_at(*real, 700));  // real time 700 = source 5,000,700
  CHECK(timers.next_due_source_ns() == 5'000'700);
  REQUIRE(source.advance(100ns));  // virtual time starts at source 5,000,100
  timers.clocks().resume_virtual();
  REQUIRE(timers.arm_at(*virt, 500));  // source 5,000,600
  CHECK(timers.next_due_source_ns() == 5'000'600);
  REQUIRE(timers.arm_at(*sync, 450));  // source 5,000,550
  CHECK(timers.next_due_source_ns() == 5'000'550);
  REQUIRE(timers.stop(*sync));
  REQUIRE(timers.stop(*virt));
  CHECK(timers.next_due_source_ns() == 5'000'700);
  REQUIRE(source.advance(1000ns));
  const auto due = timers.next_due_source_ns();  // overdue: in the past
  REQUIRE(due);
  CHECK(*due <= source.now_ns());
  CHECK(timers.run_due() == 1);
  CHECK(timers.next_due_source_ns() == std::nullopt);
}

TEST_CASE("virtual and virtual_sync timers fire in one order, real timers after them") {
  fixture f;
  f.make_at(clock_kind::real, "real5", 5);
  f.make_at(clock_kind::virtual_time, "virtual20", 20);
  f.make_at(clock_kind::virtual_sync, "sync10", 10);
  f.make_at(clock_kind::virtual_time, "virtual10", 10);
  f.make_at(clock_kind::virtual_sync, "sync20", 20);
  f.make_at(clock_kind::real, "real1", 1);
  f.advance(30ns);
  CHECK(f.timers.run_due() == 6);
  CHECK(f.log == strings{"sync10", "virtual10", "virtual20", "sync20", "real1", "real5"});
}

TEST_CASE("virtual_sync waits at a due timer's deadline until it fired") {
  fixture f;
  std::uint64_t seen_in_callback = 0;
  auto t = f.timers.create(
      clock_kind::virtual_sync, [&] { seen_in_callback = f.timers.now(clock_kind::virtual_sync); }, "sync");
  REQUIRE(t);
  REQUIRE(f.timers.arm_at(*t, 10'000'000));
  f.advance(8ms);
  CHECK(f.timers.now(clock_kind::virtual_sync) == 8'000'000);  // not due yet: virtual time
  f.advance(7ms);
  CHECK(f.timers.now(clock_kind::virtual_time) == 15'000'000);
  CHECK(f.timers.now(clock_kind::virtual_sync) == 10'000'000);  // held at the deadline
  f.advance(1ms);
  CHECK(f.timers.now(clock_kind::virtual_sync) == 10'000'000);
  CHECK(f.timers.run_due() == 1);
  CHECK(seen_in_callback == 10'000'000);
  CHECK(f.timers.now(clock_kind::virtual_sync) == 16'000'000);  // caught up
}

TEST_CASE("virtual_sync is held by the earliest pending timer, stopping one releases it") {
  fixture f;
  const timer_id a = f.make_at(clock_kind::virtual_sync, "a", 40);
  const timer_id b = f.make_at(clock_kind::virtual_sync, "b", 60);
  f.advance_to(100);
  CHECK(f.timers.now(clock_kind::virtual_sync) == 40);
  REQUIRE(f.timers.stop(a));
  CHECK(f.timers.now(clock_kind::virtual_sync) == 60);
  REQUIRE(f.timers.arm_at(a, 80));
  CHECK(f.timers.now(clock_kind::virtual_sync) == 60);
  REQUIRE(f.timers.destroy(b));
  CHECK(f.timers.now(clock_kind::virtual_sync) == 80);
  REQUIRE(f.timers.arm_at(a, 200));  // moved ahead: released
  CHECK(f.timers.now(clock_kind::virtual_sync) == 100);
}

TEST_CASE("virtual_sync never goes back for a timer armed in its past, and holds until it fired") {
  fixture f;
  f.advance_to(20);
  CHECK(f.timers.now(clock_kind::virtual_sync) == 20);
  const timer_id past = f.make_at(clock_kind::virtual_sync, "past", 5);
  CHECK(f.timers.now(clock_kind::virtual_sync) == 20);  // not back to 5
  f.advance_to(30);
  CHECK(f.timers.now(clock_kind::virtual_sync) == 20);  // held until it fired
  CHECK(f.timers.run_due() == 1);
  CHECK_FALSE(f.timers.pending(past));
  CHECK(f.timers.now(clock_kind::virtual_sync) == 30);
}

TEST_CASE("a periodic virtual_sync timer re-armed with arm_in does not drift") {
  fixture f;
  timer_id t{};
  std::vector<std::uint64_t> seen;
  auto made = f.timers.create(
      clock_kind::virtual_sync,
      [&] {
        seen.push_back(f.timers.now(clock_kind::virtual_sync));
        CHECK(f.timers.arm_in(t, 1ms));
      },
      "periodic");
  REQUIRE(made);
  t = *made;
  REQUIRE(f.timers.arm_in(t, 1ms));
  f.advance(3'500us);
  while (f.timers.run_due() != 0) {
  }
  CHECK(seen == std::vector<std::uint64_t>{1'000'000, 2'000'000, 3'000'000});
  CHECK(f.timers.expire_time(t) == 4'000'000);
  CHECK(f.timers.now(clock_kind::virtual_sync) == 3'500'000);
}

TEST_CASE("virtual_sync timers stay in order when a callback arms an earlier due one") {
  fixture f;
  std::vector<std::pair<std::string, std::uint64_t>> seen;
  auto record = [&](const std::string& name) {
    return [&seen, &f, name] { seen.emplace_back(name, f.timers.now(clock_kind::virtual_sync)); };
  };
  auto c = f.timers.create(clock_kind::virtual_sync, record("c15"), "c15");
  REQUIRE(c);
  auto a = f.timers.create(
      clock_kind::virtual_sync,
      [&] {
        seen.emplace_back("a10", f.timers.now(clock_kind::virtual_sync));
        CHECK(f.timers.arm_at(*c, 15));  // due, before b: b must wait for it
      },
      "a10");
  REQUIRE(a);
  auto b = f.timers.create(clock_kind::virtual_sync, record("b20"), "b20");
  REQUIRE(b);
  auto v = f.timers.create(clock_kind::virtual_time, record("v25"), "v25");
  REQUIRE(v);
  REQUIRE(f.timers.arm_at(*a, 10));
  REQUIRE(f.timers.arm_at(*b, 20));
  REQUIRE(f.timers.arm_at(*v, 25));
  f.advance_to(30);
  // a10 and v25 (which sees virtual_sync held at the due c15); b20 waits behind c15.
  CHECK(f.timers.run_due() == 2);
  CHECK(f.timers.now(clock_kind::virtual_sync) == 15);
  CHECK(f.timers.run_due() == 2);
  CHECK(seen == std::vector<std::pair<std::string, std::uint64_t>>{{"a10", 10}, {"v25", 15}, {"c15", 15}, {"b20", 20}});
  CHECK(f.timers.now(clock_kind::virtual_sync) == 30);
}

TEST_CASE("100,000 timers with random deadlines fire in order of deadline, then of arming") {
  fixture f;
  constexpr std::size_t count = 100'000;
  std::mt19937_64 random(20260101);  // NOLINT(cert-msc32-c,cert-msc51-cpp): a fixed seed, on purpose
  std::uniform_int_distribution<std::uint64_t> deadline(0, 200'000);  // many equal deadlines
  std::vector<timer_id> ids(count);
  std::vector<std::uint64_t> armed_at(count);
  std::vector<std::uint64_t> arm_order(count);
  std::uint64_t arming = 0;
  std::vector<std::size_t> fired;
  fired.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto id = f.timers.create(
        clock_kind::virtual_time, [&fired, i] { fired.push_back(i); }, "t");
    REQUIRE(id);
    ids[i] = *id;
  }
  for (std::size_t i = 0; i < count; ++i) {
    armed_at[i] = deadline(random);
    arm_order[i] = arming++;
    REQUIRE(f.timers.arm_at(ids[i], armed_at[i]));
  }
  // Move a tenth, stop a tenth.
  std::uniform_int_distribution<std::size_t> pick(0, count - 1);
  std::vector<bool> stopped(count, false);
  for (std::size_t n = 0; n < count / 10; ++n) {
    const std::size_t i = pick(random);
    armed_at[i] = deadline(random);
    arm_order[i] = arming++;
    stopped[i] = false;
    REQUIRE(f.timers.arm_at(ids[i], armed_at[i]));
  }
  std::size_t stop_count = 0;
  for (std::size_t n = 0; n < count / 10; ++n) {
    const std::size_t i = pick(random);
    if (!stopped[i]) ++stop_count;
    stopped[i] = true;
    REQUIRE(f.timers.stop(ids[i]));
  }
  CHECK(f.timers.pending_count() == count - stop_count);
  // Fire in a few steps of time.
  std::size_t total = 0;
  for (std::uint64_t t = 0; t <= 200'000; t += 25'000) {
    f.advance_to(t);
    total += f.timers.run_due();
    if (!fired.empty()) CHECK(armed_at[fired.back()] <= t);
  }
  CHECK(total == count - stop_count);
  CHECK(f.timers.pending_count() == 0);
  REQUIRE(fired.size() == count - stop_count);
  std::vector<std::size_t> expected;
  expected.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (!stopped[i]) expected.push_back(i);
  }
  std::sort(expected.begin(), expected.end(), [&](std::size_t x, std::size_t y) {
    return std::tie(armed_at[x], arm_order[x]) < std::tie(armed_at[y], arm_order[y]);
  });
  CHECK(fired == expected);
}

TEST_CASE("random operations fire what a simple model says, in its order") {
  // The model: a map of timers (clock, and deadline and arming number while pending). With
  // virtual time running from the start, virtual and real time are equal; virtual_sync time is
  // max(largest shown, min(virtual time, earliest pending virtual_sync deadline)), and each
  // virtual_sync timer that fires shows its deadline.
  pdm::manual_clock source;
  timer_service timers(&source);
  timers.clocks().resume_virtual();
  struct model_timer {
    clock_kind clock = clock_kind::virtual_time;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> armed;  // deadline, arming number
  };
  std::map<std::size_t, model_timer> model;  // by creation number
  std::map<std::size_t, timer_id> ids;
  std::vector<std::size_t> fired;
  std::mt19937_64 random(424242);  // NOLINT(cert-msc32-c,cert-msc51-cpp): a fixed seed, on purpose
  std::uint64_t arming = 0;
  std::uint64_t sync_shown = 0;
  auto model_sync_now = [&](std::uint64_t now) {
    std::uint64_t limit = max_u64;
    for (const auto& [n, t] : model) {
      if (t.clock == clock_kind::virtual_sync && t.armed) limit = std::min(limit, t.armed->first);
    }
    sync_shown = std::max(sync_shown, std::min(now, limit));
    return sync_shown;
  };
  std::size_t made = 0;
  std::size_t runs_checked = 0;
  auto any_live = [&]() -> std::size_t {
    auto it = model.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(random() % model.size()));
    return it->first;
  };
  for (int step = 0; step < 30'000; ++step) {
    const std::uint64_t now = timers.now(clock_kind::real);
    REQUIRE(timers.now(clock_kind::virtual_time) == now);
    const auto op = random() % 100;
    if (op < 10 || model.empty()) {
      const auto kind = static_cast<clock_kind>(random() % 3);
      const std::size_t n = made++;
      auto id = timers.create(
          kind, [&fired, n] { fired.push_back(n); }, std::to_string(n) + "m");
      REQUIRE(id);
      ids[n] = *id;
      model[n] = model_timer{kind, std::nullopt};
    } else if (op < 45) {
      const std::size_t n = any_live();
      const std::uint64_t deadline = now + random() % 1000 - std::min<std::uint64_t>(now, 100);
      REQUIRE(timers.arm_at(ids[n], deadline));
      model[n].armed = std::pair{deadline, arming++};
    } else if (op < 60) {
      const std::size_t n = any_live();
      const std::uint64_t d = random() % 1000;
      REQUIRE(timers.arm_in(ids[n], std::chrono::nanoseconds(d)));
      const std::uint64_t from = model[n].clock == clock_kind::virtual_sync ? model_sync_now(now) : now;
      model[n].armed = std::pair{from + d, arming++};
    } else if (op < 68) {
      const std::size_t n = any_live();
      REQUIRE(timers.stop(ids[n]));
      model[n].armed.reset();
    } else if (op < 74) {
      const std::size_t n = any_live();
      REQUIRE(timers.destroy(ids[n]));
      check_stale(timers.stop(ids[n]));
      model.erase(n);
      ids.erase(n);
    } else if (op < 90) {
      REQUIRE(source.advance(std::chrono::nanoseconds(random() % 300)));
    } else {
      // Expected: virtual and virtual_sync timers by (deadline, arming), then real ones.
      std::vector<std::tuple<int, std::uint64_t, std::uint64_t, std::size_t>> due;
      for (auto& [n, t] : model) {
        if (t.armed && t.armed->first <= now) {
          due.emplace_back(t.clock == clock_kind::real ? 1 : 0, t.armed->first, t.armed->second, n);
          t.armed.reset();
        }
      }
      std::sort(due.begin(), due.end());
      std::vector<std::size_t> expected;
      expected.reserve(due.size());
      for (const auto& d : due) {
        expected.push_back(std::get<3>(d));
        if (model[std::get<3>(d)].clock == clock_kind::virtual_sync) sync_shown = std::max(sync_shown, std::get<1>(d));
      }
      fired.clear();
      CHECK(timers.run_due() == expected.size());
      REQUIRE(fired == expected);
      ++runs_checked;
    }
    std::size_t pending = 0;
    for (const auto& [n, t] : model) {
      if (t.armed) ++pending;
    }
    REQUIRE(timers.pending_count() == pending);
    REQUIRE(timers.size() == model.size());
    if (step % 3 == 0) REQUIRE(timers.now(clock_kind::virtual_sync) == model_sync_now(timers.now(clock_kind::real)));
  }
  CHECK(runs_checked > 1000);
  for (const auto& [n, t] : model) {
    CHECK(timers.pending(ids[n]) == t.armed.has_value());
    CHECK(timers.clock_of(ids[n]) == t.clock);
    CHECK(timers.name(ids[n]) == std::to_string(n) + "m");
    if (t.armed) CHECK(timers.expire_time(ids[n]) == t.armed->first);
  }
}

TEST_CASE("create reports no_memory for every allocation that fails, and changes nothing") {
  const long before = live_allocations.load();
  {
    pdm::manual_clock source;
    timer_service timers(&source);
    std::vector<timer_id> ids;
    int failures = 0;
    // Each allocation create() makes, failed in turn, at several sizes of the tables.
    for (int round = 0; round < 40; ++round) {
      const std::string name = "timer number " + std::to_string(round) + " with a long name";
      for (long n = 0;; ++n) {
        const std::size_t size = timers.size();
        std::string argument = name;  // copied before: the copy is the caller's allocation
        countdown.store(n);
        auto id = timers.create(
            static_cast<clock_kind>(round % 3), [] {}, std::move(argument));
        countdown.store(-1);
        if (id) {
          ids.push_back(*id);
          break;
        }
        ++failures;
        CHECK(id.error_value() == pdm::errc::no_memory);
        CHECK(id.error_value().detail().find(name) != std::string::npos);
        CHECK(timers.size() == size);
        REQUIRE(n < 20);
      }
      if (round % 7 == 6) REQUIRE(timers.destroy(ids[static_cast<std::size_t>(round) / 2]));  // slots to reuse
    }
    CHECK(failures > 0);
    // Every live timer still works, and arming, firing, stopping and destroying allocate nothing.
    timers.clocks().resume_virtual();
    std::size_t armed = 0;
    bool all_armed = true;
    countdown.store(0);  // the next allocation would fail
    for (const timer_id id : ids) {
      if (!timers.valid(id)) continue;
      all_armed = timers.arm_at(id, 10).has_value() && all_armed;
      ++armed;
    }
    const pdm::status advanced = source.advance(20ns);
    const std::size_t fired = timers.run_due();
    bool all_rearmed = true;
    for (const timer_id id : ids) {
      if (!timers.valid(id)) continue;
      all_rearmed = timers.arm_in(id, 1ms).has_value() && all_rearmed;
      all_rearmed = timers.stop(id).has_value() && all_rearmed;
      all_rearmed = timers.destroy(id).has_value() && all_rearmed;
    }
    const long untouched = countdown.load();
    countdown.store(-1);
    CHECK(untouched == 0);
    CHECK(all_armed);
    CHECK(advanced);
    CHECK(fired == armed);
    CHECK(all_rearmed);
    CHECK(timers.size() == 0);
  }
  CHECK(live_allocations.load() == before);
}
