// The VM's clocks (pdm/services/clock.hpp): manual_clock refuses to go back and tells its
// listener about each change; time_base's real clock starts at 0, virtual time runs only between
// resume and pause, virtual_sync stops at its limit and never goes back, and source_time_of maps
// clock times to source times. Every test reads a manual_clock, so nothing depends on timing.
#include <pdm/services/clock.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using pdm::clock_kind;
using pdm::detail::time_base;

namespace {
constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();
}

TEST_CASE("clock kinds have names") {
  CHECK(pdm::to_string(clock_kind::virtual_time) == "virtual");
  CHECK(pdm::to_string(clock_kind::virtual_sync) == "virtual_sync");
  CHECK(pdm::to_string(clock_kind::real) == "real");
  CHECK(pdm::to_string(static_cast<clock_kind>(7)).empty());
  static_assert(pdm::to_string(clock_kind::real) == "real");
}

TEST_CASE("a manual clock moves only when told, and never back") {
  pdm::manual_clock clock(1000);
  CHECK(clock.now_ns() == 1000);
  CHECK(clock.advance(250ns));
  CHECK(clock.now_ns() == 1250);
  CHECK(clock.advance(2us));
  CHECK(clock.now_ns() == 3250);
  CHECK(clock.advance(0ns));
  CHECK(clock.now_ns() == 3250);

  const pdm::status back = clock.advance(-1ns);
  REQUIRE_FALSE(back);
  CHECK(back.error_value() == pdm::errc::invalid_argument);
  CHECK(back.error_value().detail().find("-1 ns") != std::string::npos);
  CHECK(clock.now_ns() == 3250);

  CHECK(clock.set(5000));
  CHECK(clock.now_ns() == 5000);
  CHECK(clock.set(5000));  // the current time: allowed, nothing changes
  const pdm::status earlier = clock.set(4999);
  REQUIRE_FALSE(earlier);
  CHECK(earlier.error_value() == pdm::errc::invalid_argument);
  CHECK(earlier.error_value().detail().find("4999") != std::string::npos);
  CHECK(clock.now_ns() == 5000);
}

TEST_CASE("a manual clock refuses to pass the largest time") {
  pdm::manual_clock clock(max_u64 - 10);
  CHECK(clock.advance(10ns));
  CHECK(clock.now_ns() == max_u64);
  const pdm::status past = clock.advance(1ns);
  REQUIRE_FALSE(past);
  CHECK(past.error_value() == pdm::errc::invalid_argument);
  CHECK(clock.now_ns() == max_u64);
}

TEST_CASE("a manual clock calls its listener after each change, with the new time visible") {
  pdm::manual_clock clock;
  std::vector<std::uint64_t> seen;
  clock.on_change([&] { seen.push_back(clock.now_ns()); });
  CHECK(clock.advance(5ns));
  CHECK(clock.set(9));
  CHECK(clock.advance(0ns));  // no change: no call
  CHECK(clock.set(9));        // no change: no call
  CHECK_FALSE(clock.set(1));  // refused: no call
  CHECK_FALSE(clock.advance(-3ns));
  CHECK(seen == std::vector<std::uint64_t>{5, 9});

  clock.on_change([&] { seen.push_back(1000 + clock.now_ns()); });  // replaces
  CHECK(clock.advance(1ns));
  CHECK(seen == std::vector<std::uint64_t>{5, 9, 1010});

  clock.on_change(nullptr);  // removes
  CHECK(clock.advance(1ns));
  CHECK(seen.size() == 3);
}

TEST_CASE("a manual clock's listener may move the clock and replace itself") {
  pdm::manual_clock clock;
  int calls = 0;
  clock.on_change([&] {
    ++calls;
    if (clock.now_ns() < 3) CHECK(clock.advance(1ns));  // re-entrant: no deadlock
  });
  CHECK(clock.advance(1ns));
  CHECK(clock.now_ns() == 3);
  CHECK(calls == 3);

  clock.on_change([&] {
    ++calls;
    clock.on_change(nullptr);
  });
  CHECK(clock.advance(1ns));
  CHECK(clock.advance(1ns));
  CHECK(calls == 4);
}

TEST_CASE("a manual clock's listener exception reaches the caller after the time moved") {
  pdm::manual_clock clock;
  clock.on_change([] { throw std::runtime_error("listener"); });
  CHECK_THROWS_AS((void)clock.advance(4ns), std::runtime_error);
  CHECK(clock.now_ns() == 4);
}

TEST_CASE("a manual clock moved from several threads loses no step") {
  pdm::manual_clock clock;
  std::atomic<int> notified{0};
  clock.on_change([&] { notified.fetch_add(1, std::memory_order_relaxed); });
  constexpr int per_thread = 20000;
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        if (!clock.advance(3ns)) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(clock.now_ns() == 4ULL * per_thread * 3);
  CHECK(notified.load() == 4 * per_thread);
}

TEST_CASE("real time counts from the time_base's making") {
  pdm::manual_clock source(7'000'000);
  const time_base clocks(&source);
  CHECK(clocks.source() == &source);
  CHECK(clocks.source_ns() == 7'000'000);
  CHECK(clocks.now(clock_kind::real) == 0);
  CHECK(source.advance(3ms));
  CHECK(clocks.source_ns() == 10'000'000);
  CHECK(clocks.now(clock_kind::real) == 3'000'000);
  CHECK(time_base::frequency == 1'000'000'000);
}

TEST_CASE("virtual time starts at 0 paused, runs between resume and pause, and resumes where it stopped") {
  pdm::manual_clock source(500);
  time_base clocks(&source);
  CHECK_FALSE(clocks.virtual_running());
  CHECK(source.advance(10ms));
  CHECK(clocks.now(clock_kind::virtual_time) == 0);  // paused: the 10 ms do not count
  CHECK(clocks.now(clock_kind::real) == 10'000'000);

  clocks.resume_virtual();
  CHECK(clocks.virtual_running());
  CHECK(clocks.now(clock_kind::virtual_time) == 0);
  CHECK(source.advance(4ms));
  CHECK(clocks.now(clock_kind::virtual_time) == 4'000'000);
  clocks.resume_virtual();  // already running: nothing changes
  CHECK(clocks.now(clock_kind::virtual_time) == 4'000'000);

  clocks.pause_virtual();
  CHECK_FALSE(clocks.virtual_running());
  CHECK(source.advance(100ms));
  CHECK(clocks.now(clock_kind::virtual_time) == 4'000'000);
  clocks.pause_virtual();  // already paused
  CHECK(clocks.now(clock_kind::virtual_time) == 4'000'000);

  clocks.resume_virtual();
  CHECK(clocks.now(clock_kind::virtual_time) == 4'000'000);
  CHECK(source.advance(1ms));
  CHECK(clocks.now(clock_kind::virtual_time) == 5'000'000);
  CHECK(clocks.now(clock_kind::real) == 115'000'000);
}

TEST_CASE("virtual_sync follows virtual time up to its limit and never goes back") {
  pdm::manual_clock source;
  time_base clocks(&source);
  clocks.resume_virtual();
  CHECK(source.advance(10ns));
  CHECK(clocks.now(clock_kind::virtual_sync) == 10);  // no limit: virtual time

  clocks.set_virtual_sync_limit(15);
  CHECK(source.advance(10ns));
  CHECK(clocks.now(clock_kind::virtual_time) == 20);
  CHECK(clocks.now(clock_kind::virtual_sync) == 15);  // waits at the limit

  clocks.set_virtual_sync_limit(12);  // below what it showed: it stays
  CHECK(clocks.now(clock_kind::virtual_sync) == 15);

  clocks.set_virtual_sync_limit(max_u64);  // released: catches up at once
  CHECK(clocks.now(clock_kind::virtual_sync) == 20);

  clocks.pause_virtual();
  CHECK(source.advance(10ns));
  CHECK(clocks.now(clock_kind::virtual_sync) == 20);  // paused with virtual time
}

TEST_CASE("source_time_of maps a clock time to the source's scale") {
  pdm::manual_clock source(1'000);
  time_base clocks(&source);
  CHECK(clocks.source_time_of(clock_kind::real, 0) == 1'000);
  CHECK(clocks.source_time_of(clock_kind::real, 250) == 1'250);
  CHECK(clocks.source_time_of(clock_kind::real, max_u64) == std::nullopt);

  // Paused: virtual time never reaches anything.
  CHECK(clocks.source_time_of(clock_kind::virtual_time, 5) == std::nullopt);
  CHECK(clocks.source_time_of(clock_kind::virtual_sync, 5) == std::nullopt);

  CHECK(source.advance(100ns));  // source 1,100, virtual 0
  clocks.resume_virtual();
  CHECK(clocks.source_time_of(clock_kind::virtual_time, 0) == 1'100);
  CHECK(clocks.source_time_of(clock_kind::virtual_time, 40) == 1'140);
  CHECK(clocks.source_time_of(clock_kind::virtual_sync, 40) == 1'140);

  CHECK(source.advance(30ns));  // virtual 30
  clocks.pause_virtual();
  CHECK(source.advance(1000ns));  // source 2,130, virtual still 30
  clocks.resume_virtual();
  CHECK(clocks.source_time_of(clock_kind::virtual_time, 40) == 2'140);
  CHECK(clocks.source_time_of(clock_kind::virtual_time, 30) == 2'130);
  const auto past = clocks.source_time_of(clock_kind::virtual_time, 10);  // reached already: in the past
  REQUIRE(past);
  CHECK(*past <= 2'130);
  CHECK(clocks.source_time_of(clock_kind::virtual_time, max_u64) == std::nullopt);
}

TEST_CASE("a manual clock may start anywhere, even near the top of its range") {
  pdm::manual_clock source(max_u64 - 1'000'000);
  time_base clocks(&source);
  clocks.resume_virtual();
  CHECK(source.advance(1000ns));
  CHECK(clocks.now(clock_kind::real) == 1000);
  CHECK(clocks.now(clock_kind::virtual_time) == 1000);
  CHECK(clocks.source_time_of(clock_kind::virtual_time, 2000) == max_u64 - 1'000'000 + 2000);
  CHECK(clocks.source_time_of(clock_kind::real, 2'000'000) == std::nullopt);  // beyond the source's range
}

TEST_CASE("steady_clock as the source: real time moves forward, virtual time waits for resume") {
  time_base clocks;
  CHECK(clocks.source() == nullptr);
  const std::uint64_t a = clocks.now(clock_kind::real);
  const std::uint64_t b = clocks.now(clock_kind::real);
  CHECK(b >= a);
  CHECK(clocks.now(clock_kind::virtual_time) == 0);
  clocks.resume_virtual();
  const std::uint64_t v1 = clocks.now(clock_kind::virtual_time);
  const std::uint64_t v2 = clocks.now(clock_kind::virtual_time);
  CHECK(v2 >= v1);
  clocks.pause_virtual();
  const std::uint64_t frozen = clocks.now(clock_kind::virtual_time);
  CHECK(clocks.now(clock_kind::virtual_time) == frozen);
  const auto at = clocks.source_time_of(clock_kind::real, clocks.now(clock_kind::real));
  REQUIRE(at);
  CHECK(*at <= clocks.source_ns());
}

TEST_CASE("readers on other threads never see virtual time go back while it is paused and resumed") {
  pdm::manual_clock source;
  time_base clocks(&source);
  std::atomic<bool> done{false};
  std::atomic<int> backwards{0};
  std::vector<std::thread> readers;
  readers.reserve(2);
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      std::uint64_t last_virtual = 0;
      std::uint64_t last_sync = 0;
      while (!done.load(std::memory_order_acquire)) {
        const std::uint64_t v = clocks.now(clock_kind::virtual_time);
        const std::uint64_t s = clocks.now(clock_kind::virtual_sync);
        if (v < last_virtual || s < last_sync) backwards.fetch_add(1);
        last_virtual = v;
        last_sync = s;
      }
    });
  }
  for (int i = 0; i < 20000; ++i) {
    clocks.resume_virtual();
    CHECK(source.advance(7ns));
    clocks.set_virtual_sync_limit(i % 3 == 0 ? max_u64 : static_cast<std::uint64_t>(i) * 5);
    clocks.pause_virtual();
    CHECK(source.advance(3ns));
  }
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  CHECK(backwards.load() == 0);
  CHECK(clocks.now(clock_kind::virtual_time) == 20000ULL * 7);
}
