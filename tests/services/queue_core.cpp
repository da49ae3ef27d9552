// tests/services/queue_core.cpp - the lock-free ring under driver queues (pdm::detail::queue_core):
// order, capacity and queue_full, stop-and-keep, wrap-around at odd capacities, item lifetimes
// (no leak, no double destruction), close(), flush-request coalescing, throwing constructors and
// consumers, a consumer inserting into its own queue; then producers on several threads against
// one consumer, checking that every item arrives exactly once and in each producer's order.
// Written to run clean under TSan; no assertion depends on timing.
#include <pdm/services/queue_core.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace {

using pdm::detail::queue_core;
using namespace std::chrono_literals;

const std::error_code ok{};
const std::error_code full = make_error_code(pdm::errc::queue_full);
const std::error_code cancelled = make_error_code(pdm::errc::cancelled);

// Takes every item out of `q` (as ints), in order.
std::vector<int> drain(queue_core<int>& q) {
  std::vector<int> out;
  q.consume([&](int& v) {
    out.push_back(v);
    return true;
  });
  return out;
}

std::vector<int> iota(int from, int to) {
  std::vector<int> out;
  for (int i = from; i < to; ++i) out.push_back(i);
  return out;
}

// Counts live objects, constructions and destructions; an instance can be told to throw when
// constructed from a negative value.
struct counted {
  static inline int live = 0;         // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
  static inline int constructed = 0;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
  static inline int destroyed = 0;    // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
  static void reset() { live = constructed = destroyed = 0; }

  int value = 0;
  std::string payload;  // longer than the inline buffer: a heap allocation ASan would see leak

  explicit counted(int v) : value(v), payload(64, static_cast<char>('a' + (v & 15))) {
    if (v < 0) throw std::runtime_error("negative");
    ++live;
    ++constructed;
  }
  counted(counted&& other) noexcept : value(other.value), payload(std::move(other.payload)) {
    ++live;
    ++constructed;
  }
  counted(const counted&) = delete;
  counted& operator=(const counted&) = delete;
  counted& operator=(counted&&) = delete;
  ~counted() {
    --live;
    ++destroyed;
  }
};

}  // namespace

TEST_CASE("items come out in the order they went in") {
  queue_core<int> q(8);
  CHECK(q.capacity() == 8);
  CHECK(q.size() == 0);
  for (int i = 0; i < 5; ++i) REQUIRE(q.try_insert(i) == ok);
  CHECK(q.size() == 5);
  CHECK(drain(q) == iota(0, 5));
  CHECK(q.size() == 0);
  CHECK(drain(q).empty());
}

TEST_CASE("a full queue says queue_full and loses nothing") {
  for (const std::size_t capacity : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{64}}) {
    CAPTURE(capacity);
    queue_core<int> q(capacity);
    const int n = static_cast<int>(capacity);
    for (int i = 0; i < n; ++i) REQUIRE(q.try_insert(i) == ok);
    CHECK(q.size() == capacity);
    const std::error_code e = q.try_insert(999);
    CHECK(e == full);
    CHECK(e == pdm::errc::queue_full);
    CHECK(e.category() == pdm::error_category());
    CHECK(q.try_emplace(998) == full);
    CHECK(q.size() == capacity);
    CHECK(drain(q) == iota(0, n));
    // Room again, for exactly `capacity` items.
    for (int i = 0; i < n; ++i) REQUIRE(q.try_insert(100 + i) == ok);
    CHECK(q.try_insert(999) == full);
    CHECK(drain(q) == iota(100, 100 + n));
  }
}

TEST_CASE("a consumer that returns false keeps that item and the rest, in order") {
  queue_core<int> q(7);
  for (int i = 0; i < 6; ++i) REQUIRE(q.try_insert(i) == ok);
  std::vector<int> seen;
  const std::size_t n = q.consume([&](int& v) {
    seen.push_back(v);
    return v < 2;  // consumes 0 and 1, stops at 2
  });
  CHECK(n == 2);
  CHECK(seen == std::vector<int>{0, 1, 2});
  CHECK(q.size() == 4);
  // Stop at once: nothing consumed, nothing lost.
  CHECK(q.consume([](int&) { return false; }) == 0);
  CHECK(q.size() == 4);
  // Room freed by the two consumed items is usable, behind the kept ones.
  REQUIRE(q.try_insert(6) == ok);
  REQUIRE(q.try_insert(7) == ok);
  REQUIRE(q.try_insert(8) == ok);
  CHECK(q.try_insert(9) == full);
  CHECK(drain(q) == iota(2, 9));
}

TEST_CASE("a consumer returning void consumes everything") {
  queue_core<int> q(4);
  for (int i = 0; i < 4; ++i) REQUIRE(q.try_insert(i) == ok);
  int sum = 0;
  CHECK(q.consume([&](int& v) { sum += v; }) == 4);
  CHECK(sum == 6);
  CHECK(q.size() == 0);  // each producer's last claim succeeded, so no cancelled position is left
}

TEST_CASE("the ring wraps around many times at capacities that are not powers of two") {
  for (const std::size_t capacity : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{64}}) {
    CAPTURE(capacity);
    queue_core<int> q(capacity);
    int next_in = 0;
    int next_out = 0;
    bool in_order = true;
    // Batches of varying sizes (1 .. capacity, and stops in the middle), so that the head and the
    // tail meet every cell at every phase; about 200 laps.
    for (int round = 0; next_in < static_cast<int>(capacity) * 200; ++round) {
      const int batch = 1 + (round * 5) % static_cast<int>(capacity);
      for (int i = 0; i < batch; ++i) {
        if (q.try_insert(next_in) != ok) break;
        ++next_in;
      }
      const int keep_after = (round % 3 == 0) ? batch / 2 : batch;
      int taken = 0;
      q.consume([&](int& v) {
        if (taken == keep_after) return false;
        in_order = in_order && v == next_out;
        ++next_out;
        ++taken;
        return true;
      });
      CHECK(q.size() == static_cast<std::size_t>(next_in - next_out));
    }
    for (const int v : drain(q)) {
      in_order = in_order && v == next_out;
      ++next_out;
    }
    CHECK(in_order);
    CHECK(next_out == next_in);
  }
}

TEST_CASE("items with heap memory: strings survive the trip, and nothing leaks") {
  queue_core<std::string> q(3);
  const std::string long_text(100, 'x');
  REQUIRE(q.try_insert(long_text) == ok);
  REQUIRE(q.try_emplace(50, 'y') == ok);
  REQUIRE(q.try_emplace("short") == ok);
  std::vector<std::string> out;
  q.consume([&](std::string& s) {
    out.push_back(std::move(s));  // moving out of the item is allowed; it is destroyed after
    return true;
  });
  CHECK(out == std::vector<std::string>{long_text, std::string(50, 'y'), "short"});
  // Some left queued at destruction: ASan's leak check fails the test if they are not destroyed.
  REQUIRE(q.try_insert(std::string(80, 'z')) == ok);
  REQUIRE(q.try_insert(std::string(90, 'w')) == ok);
}

TEST_CASE("every constructed item is destroyed once: consumed, dropped, or left at destruction") {
  counted::reset();
  {
    queue_core<counted> q(5);
    for (int i = 0; i < 5; ++i) REQUIRE(q.try_emplace(i) == ok);
    CHECK(counted::live == 5);
    int taken = 0;
    CHECK(q.consume([&](counted& c) {
      ++taken;
      return c.value < 1;
    }) == 1);
    CHECK(taken == 2);
    CHECK(counted::live == 4);  // the consumed one is destroyed, the stopped-at one is not

    CHECK(q.drop_all() == 4);
    CHECK(counted::live == 0);
    CHECK(q.size() == 0);
    CHECK(q.drop_all() == 0);

    // try_insert takes its argument by value: one temporary, moved in.
    REQUIRE(q.try_insert(counted(10)) == ok);
    REQUIRE(q.try_emplace(11) == ok);
    REQUIRE(q.try_emplace(12) == ok);
    CHECK(counted::live == 3);
  }  // three left queued
  CHECK(counted::live == 0);
  CHECK(counted::constructed == counted::destroyed);
  CHECK(counted::constructed == 5 + 2 + 2);  // counted(10) and its moved copy
}

TEST_CASE("over-aligned items are aligned in the queue") {
  struct alignas(64) wide {
    std::uint64_t v = 0;
  };
  queue_core<wide> q(3);
  for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(q.try_emplace(wide{i}) == ok);
  bool aligned = true;
  std::uint64_t sum = 0;
  q.consume([&](wide& w) {
    aligned = aligned && reinterpret_cast<std::uintptr_t>(&w) % 64 == 0;
    sum += w.v;
    return true;
  });
  CHECK(aligned);
  CHECK(sum == 3);
}

TEST_CASE("after close(), inserts fail with cancelled and queued items stay") {
  counted::reset();
  {
    queue_core<counted> q(4);
    REQUIRE(q.try_emplace(1) == ok);
    REQUIRE(q.try_emplace(2) == ok);
    CHECK_FALSE(q.closed());
    q.close();
    CHECK(q.closed());
    const std::error_code e = q.try_emplace(3);
    CHECK(e == cancelled);
    CHECK(e == pdm::errc::cancelled);
    CHECK(counted::constructed == 2);  // nothing constructed for the refused insert
    q.close();                         // idempotent
    CHECK(q.closed());
    CHECK(q.size() == 2);
    std::vector<int> seen;
    CHECK(q.consume([&](counted& c) {
      seen.push_back(c.value);
      return true;
    }) == 2);
    CHECK(seen == std::vector<int>{1, 2});
    CHECK(q.try_emplace(4) == cancelled);     // still closed when empty
    REQUIRE(q.try_emplace(-1) == cancelled);  // a throwing constructor is not even reached
  }
  CHECK(counted::live == 0);
}

TEST_CASE("a closed full queue says cancelled, not queue_full") {
  queue_core<int> q(1);
  REQUIRE(q.try_insert(1) == ok);
  CHECK(q.try_insert(2) == full);
  q.close();
  CHECK(q.try_insert(2) == cancelled);
  CHECK(drain(q) == std::vector<int>{1});
}

TEST_CASE("flush requests coalesce until the consumer takes them") {
  queue_core<int> q(4);
  CHECK_FALSE(q.take_flush_request());
  CHECK(q.request_flush());  // the first one wakes the EMT
  CHECK_FALSE(q.request_flush());
  CHECK_FALSE(q.request_flush());
  CHECK(q.take_flush_request());
  CHECK_FALSE(q.take_flush_request());
  CHECK(q.request_flush());  // the next request after a take wakes again
  CHECK_FALSE(q.request_flush());
  CHECK(q.take_flush_request());
}

TEST_CASE("a throwing constructor does not wedge the queue") {
  counted::reset();
  {
    queue_core<counted> q(3);
    REQUIRE(q.try_emplace(1) == ok);
    CHECK_THROWS_AS((void)q.try_emplace(-1), std::runtime_error);
    REQUIRE(q.try_emplace(2) == ok);
    // The cancelled position holds its room until the consumer passes it.
    CHECK(q.size() == 3);
    CHECK(q.try_emplace(3) == full);
    CHECK(q.try_emplace(-2) == full);  // full: the constructor is not even reached
    std::vector<int> seen;
    CHECK(q.consume([&](counted& c) {
      seen.push_back(c.value);
      return true;
    }) == 2);
    CHECK(seen == std::vector<int>{1, 2});
    CHECK(q.size() == 0);
    for (int i = 0; i < 3; ++i) REQUIRE(q.try_emplace(10 + i) == ok);  // all the room is back
    CHECK(q.drop_all() == 3);
    CHECK(counted::live == 0);

    // At capacity 1, and at the head: a stop-and-keep consumer is never shown the cancelled item.
    queue_core<counted> one(1);
    CHECK_THROWS_AS((void)one.try_emplace(-5), std::runtime_error);
    CHECK(one.try_emplace(1) == full);
    CHECK(one.consume([](counted&) { return false; }) == 0);
    CHECK(one.size() == 0);  // passed over although the consumer stopped at once
    REQUIRE(one.try_emplace(7) == ok);
    int got = 0;
    CHECK(one.consume([&](counted& c) {
      got = c.value;
      return true;
    }) == 1);
    CHECK(got == 7);
    // A cancelled position left at destruction has nothing to destroy.
    CHECK_THROWS_AS((void)one.try_emplace(-6), std::runtime_error);
  }
  CHECK(counted::live == 0);
  CHECK(counted::constructed == counted::destroyed);
}

TEST_CASE("a consumer that throws keeps the item; the queue stays consistent") {
  counted::reset();
  {
    queue_core<counted> q(4);
    for (int i = 0; i < 4; ++i) REQUIRE(q.try_emplace(i) == ok);
    std::vector<int> seen;
    CHECK_THROWS_AS(q.consume([&](counted& c) {
      seen.push_back(c.value);
      if (c.value == 2) throw std::runtime_error("consumer failed");
      return true;
    }),
                    std::runtime_error);
    CHECK(seen == std::vector<int>{0, 1, 2});
    CHECK(counted::live == 2);  // 0 and 1 consumed; 2 kept, 3 untouched
    CHECK(q.size() == 2);
    REQUIRE(q.try_emplace(4) == ok);
    REQUIRE(q.try_emplace(5) == ok);
    CHECK(q.try_emplace(6) == full);
    seen.clear();
    CHECK(q.consume([&](counted& c) {
      seen.push_back(c.value);
      return true;
    }) == 4);
    CHECK(seen == std::vector<int>{2, 3, 4, 5});
    CHECK(counted::live == 0);
  }
  CHECK(counted::constructed == counted::destroyed);
}

TEST_CASE("a consumer may insert into its own queue; one consume() visits at most capacity() positions") {
  queue_core<int> q(3);
  for (int i = 0; i < 3; ++i) REQUIRE(q.try_insert(i) == ok);
  std::vector<int> seen;
  std::vector<std::error_code> reinserts;
  // Each item is put back (+10) while it is being consumed. The ring is full at first (the item
  // being consumed still holds its cell), so the first re-insert fails; each later one finds the
  // cell the previous item freed: a consumed item's room is free at once.
  int calls = 0;
  const std::size_t n = q.consume([&](int& v) {
    // Without the bound, consume() would go on to the re-inserted items, forever: stop it then.
    if (++calls > 3) return false;
    seen.push_back(v);
    reinserts.push_back(q.try_insert(v + 10));
    return true;
  });
  CHECK(n == 3);
  CHECK(calls == 3);
  CHECK(seen == std::vector<int>{0, 1, 2});
  CHECK(reinserts == std::vector<std::error_code>{full, ok, ok});
  CHECK(q.size() == 2);  // the re-inserted ones wait for the next consume()
  CHECK(drain(q) == std::vector<int>{11, 12});
}

TEST_CASE("capacity 0 and absurd capacities are refused with bad_alloc, not a crash") {
  CHECK_THROWS_AS(queue_core<int>(0), std::bad_alloc);
  CHECK_THROWS_AS(queue_core<int>(queue_core<int>::max_capacity() + 1), std::bad_array_new_length);
  CHECK(queue_core<int>::max_capacity() >= std::size_t{1} << 30U);
}

// ---------------------------------------------------------------------------------------------
// Several threads. Producers never assert (doctest's checks run on the consumer, the main thread);
// the consumer counts what it sees and the checks run after the threads are joined. A broken
// queue that wedges or loses items must fail these tests, not hang them: the consumer gives up
// after `patience` without progress and tells the producers to give up too.

namespace {

// Generous: only a broken queue makes a test wait this long. No result depends on it.
constexpr auto patience = 30s;

// What a producer thread sends: who it is and the how-manieth item of it this is.
struct tagged {
  std::uint32_t producer = 0;
  std::uint32_t sequence = 0;
};

// Checks, on the consumer, that each producer's items arrive once each and in order.
struct order_check {
  std::vector<std::uint32_t> next;  // per producer: the sequence expected next
  std::size_t received = 0;
  std::size_t out_of_order = 0;

  explicit order_check(std::size_t producers) : next(producers, 0) {}
  void see(const tagged& t) {
    if (t.producer >= next.size() || t.sequence != next[t.producer]) {
      ++out_of_order;
    } else {
      ++next[t.producer];
    }
    ++received;
  }
};

// The consumer's hang guard: stalled() turns true after `patience` without progress; then, or
// after stop_producers(), producers see give_up() and stop retrying, so join() cannot hang.
class stall_guard {
 public:
  bool stalled(bool progressed) {
    const auto now = std::chrono::steady_clock::now();
    if (progressed) last_progress_ = now;
    if (now - last_progress_ <= patience) return false;
    stalled_ = true;
    stop_producers();
    return true;
  }
  void stop_producers() { stop_.store(true); }
  [[nodiscard]] bool give_up() const { return stop_.load(std::memory_order_relaxed); }
  [[nodiscard]] bool gave_up() const { return stalled_; }

 private:
  std::chrono::steady_clock::time_point last_progress_ = std::chrono::steady_clock::now();
  bool stalled_ = false;  // the consumer's
  std::atomic<bool> stop_{false};
};

void run_producers_and_consumer(std::size_t capacity, std::uint32_t producers, std::uint32_t per_producer) {
  CAPTURE(capacity);
  CAPTURE(producers);
  queue_core<tagged> q(capacity);
  stall_guard guard;
  std::atomic<std::uint32_t> other_errors{0};
  std::atomic<std::uint32_t> finished{0};
  std::vector<std::thread> threads;
  threads.reserve(producers);
  for (std::uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (std::uint32_t i = 0; i < per_producer && !guard.give_up();) {
        const std::error_code e = q.try_emplace(tagged{p, i});
        if (!e) {
          ++i;
        } else if (e == pdm::errc::queue_full) {
          std::this_thread::yield();
        } else {
          other_errors.fetch_add(1);
          break;
        }
      }
      finished.fetch_add(1);
    });
  }
  order_check check(producers);
  const std::size_t total = std::size_t{producers} * per_producer;
  std::size_t rounds = 0;
  while (check.received < total && check.out_of_order == 0) {
    // Alternate plain batches with stop-and-keep ones, which must not disturb the order either.
    std::size_t budget = (rounds++ % 4 == 0) ? 5 : capacity;
    const bool all_finished = finished.load() == producers;  // read first: then nothing comes later
    const std::size_t n = q.consume([&](tagged& t) {
      if (budget == 0) return false;
      --budget;
      check.see(t);
      return true;
    });
    if (n == 0 && all_finished) break;  // items lost: fail below at once
    if (guard.stalled(n != 0)) break;
    if (n == 0) std::this_thread::yield();
  }
  guard.stop_producers();  // a no-op when they are done; after a failure, they must not wait forever
  for (std::thread& t : threads) t.join();
  CHECK_FALSE(guard.gave_up());
  CHECK(other_errors.load() == 0);
  CHECK(check.out_of_order == 0);
  CHECK(check.received == total);
  for (std::uint32_t p = 0; p < producers; ++p) CHECK(check.next[p] == per_producer);
  CHECK(q.size() == 0);
  CHECK(q.consume([](tagged&) { return true; }) == 0);  // nothing arrives twice
}

}  // namespace

TEST_CASE("threads: 4 producers, one consumer, every item once and in each producer's order") {
  run_producers_and_consumer(7, 4, 20000);
  run_producers_and_consumer(64, 4, 20000);
}

TEST_CASE("threads: 8 producers through a 1-item and a 3-item queue") {
  run_producers_and_consumer(1, 8, 3000);
  run_producers_and_consumer(3, 8, 5000);
}

TEST_CASE("threads: flush requests never strand an item (the consumer sleeps until woken)") {
  constexpr std::uint32_t producers = 4;
  constexpr std::uint32_t per_producer = 10000;
  queue_core<tagged> q(16);
  stall_guard guard;
  std::counting_semaphore<> wake(0);
  std::atomic<std::uint64_t> wakes{0};
  std::uint64_t takes = 0;
  std::vector<std::thread> threads;
  threads.reserve(producers);
  for (std::uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (std::uint32_t i = 0; i < per_producer && !guard.give_up();) {
        const std::error_code e = q.try_emplace(tagged{p, i});
        if (!e) ++i;
        // After an insert, or when full (the consumer must run to make room), ask for a flush;
        // only the first request since the consumer's last take wakes it.
        if (q.request_flush()) {
          wakes.fetch_add(1, std::memory_order_relaxed);
          wake.release();
        }
        if (e) std::this_thread::yield();
      }
    });
  }
  order_check check(producers);
  const std::size_t total = std::size_t{producers} * per_producer;
  while (check.received < total && check.out_of_order == 0) {
    // Sleeps until a producer wakes it: a lost wake-up shows as a stall.
    const bool woken = wake.try_acquire_for(1s);
    if (guard.stalled(woken)) break;
    if (!woken) continue;
    if (!q.take_flush_request()) continue;  // a wake-up whose request an earlier take cleared
    ++takes;
    q.consume([&](tagged& t) {
      check.see(t);
      return true;
    });
  }
  guard.stop_producers();  // a no-op when they are done; after a failure, they must not wait forever
  for (std::thread& t : threads) t.join();
  CHECK_FALSE(guard.gave_up());
  CHECK(check.out_of_order == 0);
  CHECK(check.received == total);
  // Coalescing: between two requests that returned true, a take cleared the flag.
  CHECK(wakes.load() >= takes);
  CHECK(wakes.load() <= takes + 1);
}

TEST_CASE("threads: close() while producers insert; every accepted item arrives, none after") {
  constexpr std::uint32_t producers = 4;
  queue_core<tagged> q(32);
  stall_guard guard;
  std::vector<std::uint32_t> accepted(producers, 0);  // written by producer p only, read after join
  std::atomic<std::uint32_t> started{0};
  std::atomic<std::uint32_t> finished{0};
  std::atomic<std::uint32_t> other_errors{0};
  std::vector<std::thread> threads;
  threads.reserve(producers);
  for (std::uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      started.fetch_add(1);
      for (std::uint32_t i = 0; !guard.give_up();) {
        const std::error_code e = q.try_emplace(tagged{p, i});
        if (!e) {
          accepted[p] = ++i;
        } else if (e == pdm::errc::cancelled) {
          break;
        } else if (e != pdm::errc::queue_full) {
          other_errors.fetch_add(1);
          break;
        } else {
          std::this_thread::yield();
        }
      }
      finished.fetch_add(1);
    });
  }
  order_check check(producers);
  auto take = [&] {
    return q.consume([&](tagged& t) {
      check.see(t);
      return true;
    });
  };
  // Consume a good number of items first, so the close() lands while producers are busy.
  while (started.load() < producers || check.received < 5000) {
    const std::size_t n = take();
    if (guard.stalled(n != 0)) break;
    if (n == 0) std::this_thread::yield();
  }
  q.close();
  CHECK(q.closed());
  // Every producer must now stop (cancelled); keep consuming meanwhile, and give up after
  // `patience` (a close() that does not close) instead of hanging in join().
  const auto give_up_at = std::chrono::steady_clock::now() + patience;
  while (finished.load() < producers && !guard.gave_up()) {
    if (take() == 0) std::this_thread::yield();
    if (std::chrono::steady_clock::now() > give_up_at) guard.stalled(false);
  }
  guard.stop_producers();  // a no-op when they are done; after a failure, they must not wait forever
  for (std::thread& t : threads) t.join();
  while (take() != 0) {
  }
  CHECK_FALSE(guard.gave_up());
  CHECK(other_errors.load() == 0);
  CHECK(check.out_of_order == 0);
  std::size_t total = 0;
  for (std::uint32_t p = 0; p < producers; ++p) {
    CHECK(check.next[p] == accepted[p]);
    total += accepted[p];
  }
  CHECK(check.received == total);
  CHECK(q.try_emplace(tagged{0, 0}) == cancelled);
  CHECK(q.size() == 0);  // each producer's last claim succeeded, so no cancelled position is left
}

TEST_CASE("threads: constructors that throw now and then never wedge the queue") {
  struct fragile {
    std::uint32_t producer;
    std::uint32_t sequence;
    fragile(std::uint32_t p, std::uint32_t s, bool fail) : producer(p), sequence(s) {
      if (fail) throw std::runtime_error("fragile");
    }
  };
  constexpr std::uint32_t producers = 4;
  constexpr std::uint32_t per_producer = 10000;
  queue_core<fragile> q(8);
  stall_guard guard;
  std::atomic<std::uint32_t> thrown{0};
  std::atomic<std::uint32_t> finished{0};
  std::vector<std::thread> threads;
  threads.reserve(producers);
  for (std::uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      // Every 7th attempt throws; the sequence only counts items that made it.
      std::uint32_t attempt = 0;
      for (std::uint32_t i = 0; i < per_producer && !guard.give_up();) {
        try {
          const std::error_code e = q.try_emplace(p, i, ++attempt % 7 == 0);
          if (!e) {
            ++i;
          } else {
            std::this_thread::yield();
          }
        } catch (const std::runtime_error&) {
          thrown.fetch_add(1, std::memory_order_relaxed);
        }
      }
      finished.fetch_add(1);
    });
  }
  order_check check(producers);
  const std::size_t total = std::size_t{producers} * per_producer;
  while (check.received < total && check.out_of_order == 0) {
    const bool all_finished = finished.load() == producers;
    const std::size_t n = q.consume([&](fragile& f) {
      check.see(tagged{f.producer, f.sequence});
      return true;
    });
    if (n == 0 && all_finished) break;  // items lost: fail below at once
    if (guard.stalled(n != 0)) break;
    if (n == 0) std::this_thread::yield();
  }
  guard.stop_producers();  // a no-op when they are done; after a failure, they must not wait forever
  for (std::thread& t : threads) t.join();
  CHECK_FALSE(guard.gave_up());
  CHECK(check.out_of_order == 0);
  CHECK(check.received == total);
  CHECK(thrown.load() > 0);
  CHECK(q.size() == 0);  // each producer's last claim succeeded, so no cancelled position is left
}
