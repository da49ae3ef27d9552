// benchmarks/queue.cpp - driver queue throughput: 2 producer threads and a consumer, through pdm's
// lock-free queue against a std::mutex + std::deque queue, in two setups:
//   queue_throughput       the two queues alone, with a consumer thread that polls (never sleeps)
//   queue_emt_throughput   through a running pdm::vm: a driver's queue, consumed by the VM's own
//                          EMT thread, which sleeps until an insert wakes it; against the same
//                          mutex + deque consumed by a thread that sleeps on a condition variable
//
// Cases of the first setup (no arguments; Google Benchmark appends /process_time/manual_time):
//   queue_throughput/pdm        queue_core<item>(1024): a producer's try_emplace() claims a cell
//                               of the ring (one compare-exchange on its tail), builds the item in
//                               it and publishes it (a release store of the cell's sequence); the
//                               consumer's consume() passes each published item to a callback in
//                               place, oldest first, and frees its cell (a release store)
//   queue_throughput/baseline   std::mutex + std::deque<item>, bounded at 1024 items: a producer
//                               locks, checks the size, push_back()s, unlocks; the consumer locks,
//                               copies every queued item (up to 1024) into a buffer it owns and
//                               erases them from the deque, unlocks, then processes the batch
//
// One iteration moves 200,000 items of 32 bytes (four uint64: producer, sequence, payload and a
// spare word): 2 producer threads each insert 100,000, and the benchmark's own thread plays the EMT
// and consumes until it has them all. The same on both sides:
// - capacity 1,024 items. Every thread that cannot make progress (a producer finding the queue
//   full, the consumer finding nothing) backs off the same way: up to 64 `pause` instructions,
//   then std::this_thread::yield(), and again. No condition variable or other wake-up on either
//   side: a sleeping consumer would measure the wake-up mechanism, not the queue.
// - the consumer checks each item: its producer's sequence must be the next one expected (each
//   producer's items in its insertion order, none lost, none twice), and it sums the payload;
//   after the iteration the benchmark reports an error if any check failed.
// - the threads are started before the clock starts (they wait at a start flag) and joined after
//   it stops: the time is manual, from the start flag to the consumer's last item, so thread
//   creation is not measured. items_per_second is 200,000 per iteration over that time.
//   cpu_time is the whole process's CPU time (MeasureProcessCPUTime): all three threads.
//
// Why this baseline: a bounded std::deque under one std::mutex is what a careful C++ programmer
// writes without a lock-free queue. Taking a whole batch per lock (rather than one item per lock)
// is what such a programmer does to keep the consumer's lock hold short, and it favours the
// baseline: pdm's consume() instead runs the callback on each item in place, which is what lets a
// callback stop and keep the rest; the batch copy cannot offer that without putting the remainder
// back. std::deque allocates and frees a 512-byte block every 16 items; that is the container's
// nature and part of what the issue asks to compare against.
//
// Three threads on a 2-core machine: the result depends on whether the three really run in
// parallel (two at a time) or share one core because other processes are busy. In the second
// case no thread ever finds the lock taken and pdm is only 1.1 to 1.4 times faster;
// benchmarks/README.md has both regimes.
//
// Cases of the second setup, queue_emt_throughput/{pdm,baseline}: the same items, producers and
// back-off, but the consumer is what a VM has:
//   queue_emt_throughput/pdm        a pdm::vm (emt_mode::own_thread, running) with one driver
//                                   whose constructor made a pdm::queue<item> of 1,024 items,
//                                   flushed on demand; producers call its try_emplace(), and the
//                                   first insert after a flush wakes the EMT, which hands the
//                                   items to the driver's consumer at its next turn
//   queue_emt_throughput/baseline   the mutex + deque above, consumed by a thread standing for the
//                                   2008 EMT: it sleeps on a condition variable until an insert
//                                   finds no flush pending (the first after it took a batch) and
//                                   notifies it, then takes the whole batch under the lock
// The benchmark's own thread sleeps (an atomic wait) until the consumer has the last item, so only
// the three threads of the setup run. Both consumers sleep when they have nothing to do, so this
// is the setup a VM runs; a consumer that sleeps takes items in larger batches, which favours the
// batch-copying baseline.
#include <pdm/chain/vm.hpp>
#include <pdm/config/json.hpp>
#include <pdm/services/queue_core.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "bench_main.hpp"

namespace bench {

/// What the queues carry: 32 bytes.
struct item {
  std::uint64_t producer = 0;
  std::uint64_t sequence = 0;
  std::uint64_t payload = 0;
  std::uint64_t spare = 0;
};
static_assert(sizeof(item) == 32);

constexpr std::size_t capacity = 1024;
constexpr std::uint64_t producers = 2;
constexpr std::uint64_t per_producer = 100'000;
constexpr std::uint64_t total = producers * per_producer;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// Spins a little, then gives the core away: what both sides do when they cannot make progress.
class backoff {
 public:
  void wait() noexcept {
    if (spins_ < 64) {
      ++spins_;
      cpu_relax();
    } else {
      spins_ = 0;
      std::this_thread::yield();
    }
  }
  void reset() noexcept { spins_ = 0; }

 private:
  unsigned spins_ = 0;
};

/// The consumer's checks and work, the same for both sides.
struct sink {
  std::uint64_t next[producers] = {};
  std::uint64_t received = 0;
  std::uint64_t errors = 0;
  std::uint64_t sum = 0;

  void take(const item& it) noexcept {
    if (it.producer >= producers || it.sequence != next[it.producer]) {
      ++errors;
    } else {
      ++next[it.producer];
    }
    sum += it.payload;
    ++received;
  }
};

constexpr std::uint64_t payload_of(std::uint64_t producer, std::uint64_t sequence) noexcept {
  return (sequence * 0x9e3779b97f4a7c15ULL) ^ producer;
}

// ---------------------------------------------------------------------------------------------
// The two queues, behind the same two calls: push (false when full) and drain (a batch).

class pdm_queue {
 public:
  pdm_queue() : q_(capacity) {}
  bool push(const item& it) noexcept {
    const std::error_code e = q_.try_emplace(it);
    return !e;  // only queue_full can happen here: the queue is never closed
  }
  std::size_t drain(sink& s) {
    return q_.consume([&s](item& it) {
      s.take(it);
      return true;
    });
  }

 private:
  pdm::detail::queue_core<item> q_;
};

class mutex_deque_queue {
 public:
  mutex_deque_queue() : batch_(capacity) {}
  bool push(const item& it) {
    const std::lock_guard<std::mutex> hold(lock_);
    if (items_.size() >= capacity) return false;
    items_.push_back(it);
    return true;
  }
  std::size_t drain(sink& s) {
    std::size_t n = 0;
    {
      const std::lock_guard<std::mutex> hold(lock_);
      n = std::min(items_.size(), batch_.size());
      const auto end = items_.begin() + static_cast<std::ptrdiff_t>(n);
      std::copy(items_.begin(), end, batch_.begin());
      items_.erase(items_.begin(), end);
    }
    for (std::size_t i = 0; i < n; ++i) s.take(batch_[i]);
    return n;
  }

 private:
  std::mutex lock_;
  std::deque<item> items_;
  std::vector<item> batch_;  // the consumer's, allocated once
};

// ---------------------------------------------------------------------------------------------

template <class Queue>
void throughput(benchmark::State& state) {
  Queue q;
  std::uint64_t errors = 0;
  for (auto _ : state) {
    std::atomic<std::uint64_t> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    threads.reserve(producers);
    for (std::uint64_t p = 0; p < producers; ++p) {
      threads.emplace_back([&q, &ready, &go, p] {
        ready.fetch_add(1);
        backoff wait;
        while (!go.load(std::memory_order_acquire)) wait.wait();
        for (std::uint64_t i = 0; i < per_producer; ++i) {
          const item it{p, i, payload_of(p, i), 0};
          wait.reset();
          while (!q.push(it)) wait.wait();
        }
      });
    }
    backoff wait;
    while (ready.load() < producers) wait.wait();
    sink s;
    const auto start = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    wait.reset();
    while (s.received < total) {
      if (q.drain(s) == 0) {
        wait.wait();
      } else {
        wait.reset();
      }
    }
    const auto stop = std::chrono::steady_clock::now();
    for (std::thread& t : threads) t.join();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());

    std::uint64_t expected_sum = 0;
    for (std::uint64_t p = 0; p < producers; ++p) {
      for (std::uint64_t i = 0; i < per_producer; ++i) expected_sum += payload_of(p, i);
    }
    if (s.errors != 0 || s.sum != expected_sum || s.received != total) ++errors;
    benchmark::DoNotOptimize(s.sum);
  }
  if (errors != 0) state.SkipWithError("items lost, duplicated or out of order");
  state.counters["items_per_second"] = benchmark::Counter(
      static_cast<double>(total) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// ---------------------------------------------------------------------------------------------
// The second setup: a consumer that sleeps until an insert wakes it.

/// What a sleeping consumer records: the checks of `sink`, and when and that it had every item.
struct emt_sink {
  sink s;
  std::chrono::steady_clock::time_point last;
  std::atomic<bool> done{false};

  void reset() noexcept {
    s = sink{};
    done.store(false, std::memory_order_relaxed);
  }
  void take(const item& it) noexcept {
    s.take(it);
    if (s.received == total) {
      last = std::chrono::steady_clock::now();
      done.store(true, std::memory_order_release);
      done.notify_one();
    }
  }
};

/// Runs the iterations: 2 producers push through `push` (false: full, back off and retry) while
/// a consumer elsewhere feeds `out`; this thread sleeps until `out` has every item.
template <class Push>
void run_emt_iterations(benchmark::State& state, emt_sink& out, Push push) {
  std::uint64_t errors = 0;
  for (auto _ : state) {
    out.reset();  // the consumer is idle: it has had every item of the last iteration
    std::atomic<std::uint64_t> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    threads.reserve(producers);
    for (std::uint64_t p = 0; p < producers; ++p) {
      threads.emplace_back([&push, &ready, &go, p] {
        ready.fetch_add(1);
        backoff wait;
        while (!go.load(std::memory_order_acquire)) wait.wait();
        for (std::uint64_t i = 0; i < per_producer; ++i) {
          const item it{p, i, payload_of(p, i), 0};
          wait.reset();
          while (!push(it)) wait.wait();
        }
      });
    }
    while (ready.load() < producers) std::this_thread::yield();
    const auto start = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    out.done.wait(false, std::memory_order_acquire);
    for (std::thread& t : threads) t.join();
    state.SetIterationTime(std::chrono::duration<double>(out.last - start).count());
    std::uint64_t expected_sum = 0;
    for (std::uint64_t p = 0; p < producers; ++p) {
      for (std::uint64_t i = 0; i < per_producer; ++i) expected_sum += payload_of(p, i);
    }
    if (out.s.errors != 0 || out.s.sum != expected_sum || out.s.received != total) ++errors;
  }
  if (errors != 0) state.SkipWithError("items lost, duplicated or out of order");
  state.counters["items_per_second"] = benchmark::Counter(
      static_cast<double>(total) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

struct consumer_tag {
  static constexpr std::string_view interface_id = "bench.queue.consumer/1";
};

/// The pdm side's driver: its constructor makes the queue; the consumer feeds `the_sink`.
class consumer_driver final : public consumer_tag {
 public:
  static constexpr pdm::driver_traits traits{.name = "Consumer",
                                             .description = "Consumes the benchmark's items on the EMT",
                                             .class_mask = pdm::driver_class::status};
  using provides = pdm::interface_list<consumer_tag>;
  explicit consumer_driver(pdm::driver_context& ctx) {
    pdm::result<pdm::queue<item>> made = ctx.create_queue<item>(
        capacity, std::chrono::nanoseconds(0),
        [](item& it) {
          the_sink->take(it);
          return true;
        },
        "items");
    if (made) q = *made;
  }
  static inline emt_sink* the_sink = nullptr;  // set by the benchmark before it attaches
  pdm::queue<item> q;
};

void emt_pdm(benchmark::State& state) {
  emt_sink out;
  consumer_driver::the_sink = &out;
  pdm::registry drivers;
  pdm::result<pdm::config_tree> config =
      pdm::load_json(R"({"Devices": {"dev": {"0": {"LUN#0": {"Driver": "Consumer"}}}}})");
  if (!drivers.add(pdm::driver_list<consumer_driver>{}) || !config) {
    state.SkipWithError("pdm: the driver or the config does not load");
    return;
  }
  pdm::vm_options options;
  options.emt = pdm::emt_mode::own_thread;
  pdm::vm vm(std::move(drivers), std::move(config).value(), options);
  pdm::device_spec d{.name = "dev", .instance = 0};
  d.luns.push_back(pdm::lun_spec{.number = 0, .needs = pdm::interfaces<consumer_tag>()});
  pdm::result<pdm::driver_ref> made = vm.add_device(std::move(d)) ? vm.attach("dev", 0, 0) : pdm::errc::internal_error;
  if (!made || !vm.power_on()) {
    state.SkipWithError("pdm: the VM does not start");
    return;
  }
  const pdm::queue<item> q = static_cast<consumer_driver*>(made->get())->q;
  if (!q) {
    state.SkipWithError("pdm: the driver has no queue");
    return;
  }
  run_emt_iterations(state, out, [&q](const item& it) { return !q.try_emplace(it); });
}

/// The baseline's consumer: a thread that sleeps on a condition variable until an insert asks for
/// a flush, then takes every queued item under the lock and processes them outside it.
class condvar_consumer {
 public:
  explicit condvar_consumer(emt_sink& out) : out_(out), batch_(capacity), thread_([this] { loop(); }) {}
  condvar_consumer(const condvar_consumer&) = delete;
  condvar_consumer& operator=(const condvar_consumer&) = delete;
  condvar_consumer(condvar_consumer&&) = delete;
  condvar_consumer& operator=(condvar_consumer&&) = delete;
  ~condvar_consumer() {
    {
      const std::lock_guard<std::mutex> hold(lock_);
      stopping_ = true;
    }
    wakeup_.notify_one();
    thread_.join();
  }

  /// False when full. The first insert after the consumer took a batch wakes it.
  bool push(const item& it) {
    bool wake = false;
    {
      const std::lock_guard<std::mutex> hold(lock_);
      if (items_.size() >= capacity) return false;
      items_.push_back(it);
      wake = !flush_;
      flush_ = true;
    }
    if (wake) wakeup_.notify_one();
    return true;
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> hold(lock_);
    for (;;) {
      wakeup_.wait(hold, [this] { return flush_ || stopping_; });
      if (stopping_) return;
      const std::size_t n = std::min(items_.size(), batch_.size());
      const auto end = items_.begin() + static_cast<std::ptrdiff_t>(n);
      std::copy(items_.begin(), end, batch_.begin());
      items_.erase(items_.begin(), end);
      flush_ = !items_.empty();
      hold.unlock();
      for (std::size_t i = 0; i < n; ++i) out_.take(batch_[i]);
      hold.lock();
    }
  }

  emt_sink& out_;
  std::mutex lock_;
  std::condition_variable wakeup_;
  std::deque<item> items_;
  std::vector<item> batch_;  // the consumer's, allocated once
  bool flush_ = false;       // an insert asked for a flush that the consumer has not taken
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest is built
};

void emt_baseline(benchmark::State& state) {
  emt_sink out;
  condvar_consumer consumer(out);
  run_emt_iterations(state, out, [&consumer](const item& it) { return consumer.push(it); });
}

void register_all() {
  benchmark::RegisterBenchmark("queue_throughput/pdm", &throughput<pdm_queue>)
      ->UseManualTime()
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("queue_throughput/baseline", &throughput<mutex_deque_queue>)
      ->UseManualTime()
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("queue_emt_throughput/pdm", &emt_pdm)
      ->UseManualTime()
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("queue_emt_throughput/baseline", &emt_baseline)
      ->UseManualTime()
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace bench

int main(int argc, char** argv) {
  bench::register_all();
  return pdm_bench::run_benchmarks(argc, argv);
}
