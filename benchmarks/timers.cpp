// benchmarks/timers.cpp - arming and firing timers with N pending: pdm's timer service against
// the 2008 timer manager's sorted linked list.
//
// Cases (the argument is the number of pending timers):
//   timer_arm_fire/pdm/N        pdm::detail::timer_service over a pdm::manual_clock
//   timer_arm_fire/baseline/N   seed::timer_queue below: the 2008 algorithm
//
// The workload is the classic "hold" model of event-queue benchmarks. N timers on the virtual
// clock are pending with random deadlines. One iteration moves the time to the earliest deadline
// and runs the due timers: that one timer fires, and its callback re-arms it at now + a random
// delta. So N timers stay pending, and every iteration is one fire and one arm at a random place
// in the order. The same on both sides:
// - the initial deadlines (distinct, uniform in 1 ns .. 1 s) and the deltas (uniform in
//   1 ns .. 1 s, a table of 65,536 used in turn) come from fixed seeds, so both sides see the
//   same sequence; equal deadlines fire in arming order on both;
// - each callback counts the fire, reads its clock's time and re-arms its own timer relatively
//   (pdm: timer_service::arm_in; baseline: timer_set(timer, timer_get(timer) + delta), as a 2008
//   driver wrote TMTimerSet(pTimer, TMTimerGet(pTimer) + delta)), and checks the status;
// - how the time moves: the EMT's wait asks when the next timer is due and the clock is set
//   there. pdm asks next_due_source_ns() and sets the manual clock (an atomic compare-and-swap);
//   the baseline reads its list's head and stores the time in a plain variable.
//
// pdm: every timer is a record in the service's slot table, its callback a std::function (the
// lambda's two captures fit in its inline buffer); each clock keeps its pending timers in an
// indexed 4-ary min-heap of (deadline, arming sequence, slot). run_due() pops the heap's top,
// moves the callback out of its record, calls it and moves it back; arm_in() validates the id
// (slot and generation), reads the virtual clock and pushes the timer into the heap: O(log N).
//
// baseline: the 2008 timer manager (TM). Each timer is a separately heap-allocated node
// {expire, next, prev, queue, state, callback, user argument, description}, in a doubly linked
// list per clock kept sorted by expire time. Arming unlinks the node if it is active and links it
// in by walking from the head to the first node with a later expire time (so equal times stay in
// arming order). Running a queue pops nodes from the head while expire <= now, marks each
// stopped and calls its callback through a function pointer with the user argument. Arming is
// O(N): on average the walk visits half the list.
//
// Where the baseline is favoured: VirtualBox's timer manager of the time also ran every change
// through a lock-free state machine (compare-and-swap on the timer's state) and a per-queue
// "schedule" list that the EMT linked in later; the baseline leaves that out and links directly,
// with plain stores. Its nodes are allocated one after another on a fresh heap (a real VM's
// timers come from many allocations at different times), though after the first re-arms the
// list's order is random in memory anyway. pdm's side pays for what the baseline leaves out:
// checking the timer's id, keeping the virtual_sync clock's hold, atomic clock reads that never go
// back, and deferring timers re-armed for a time already due to the next run.
//
// Before timing, the first fires of both sides with the same N are compared: they must fire the
// same timers in the same order, and a benchmark reports an error if not.
#include <pdm/services/clock.hpp>
#include <pdm/services/timer_service.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <new>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bench_main.hpp"

namespace bench {

constexpr std::size_t delta_count = 1U << 16U;  // a power of two: the index wraps with a mask
constexpr std::uint64_t max_delta = 1'000'000'000;

/// The shared random inputs: the deltas, and N distinct initial deadlines.
struct workload {
  std::vector<std::uint64_t> deltas;
  std::vector<std::uint64_t> deadlines;
};

inline workload make_workload(std::size_t n) {
  workload w;
  std::mt19937_64 delta_random(0x7133'0001);  // NOLINT(cert-msc32-c,cert-msc51-cpp): the same inputs every run
  std::uniform_int_distribution<std::uint64_t> delta(1, max_delta);
  w.deltas.resize(delta_count);
  for (auto& d : w.deltas) d = delta(delta_random);
  std::mt19937_64 deadline_random(0x7133'0002 + n);  // NOLINT(cert-msc32-c,cert-msc51-cpp)
  std::set<std::uint64_t> used;
  w.deadlines.reserve(n);
  while (w.deadlines.size() < n) {
    const std::uint64_t d = delta(deadline_random);
    if (used.insert(d).second) w.deadlines.push_back(d);
  }
  return w;
}

// ---------------------------------------------------------------------------------------------
// pdm

/// The pdm side: a service over a manual clock, N timers armed, and what the callbacks share.
class pdm_side {
 public:
  explicit pdm_side(const workload& w) : deltas_(w.deltas.data()) {
    timers_.clocks().resume_virtual();
    ids_.reserve(w.deadlines.size());
    for (std::size_t i = 0; i < w.deadlines.size(); ++i) {
      auto id = timers_.create(
          pdm::clock_kind::virtual_time, [this, i] { fire(i); }, "bench timer");
      if (!id) {
        failed_ = true;
        return;
      }
      ids_.push_back(*id);
      if (!timers_.arm_at(*id, w.deadlines[i])) failed_ = true;
    }
  }

  /// One iteration: the time moves to the earliest deadline, and the due timers fire.
  void step() {
    const auto due = timers_.next_due_source_ns();
    if (!due || !source_.set(*due)) {
      failed_ = true;
      return;
    }
    timers_.run_due();
  }

  [[nodiscard]] bool failed() const noexcept { return failed_; }
  [[nodiscard]] std::size_t fired() const noexcept { return fired_; }
  [[nodiscard]] std::size_t pending() const noexcept { return timers_.pending_count(); }
  [[nodiscard]] const std::vector<std::size_t>& order() const noexcept { return order_; }
  void record_order(bool on) { recording_ = on; }

 private:
  void fire(std::size_t i) {
    ++fired_;
    if (recording_) order_.push_back(i);
    const auto delta = std::chrono::nanoseconds(deltas_[next_delta_++ & (delta_count - 1)]);
    if (!timers_.arm_in(ids_[i], delta)) failed_ = true;
  }

  pdm::manual_clock source_;
  pdm::detail::timer_service timers_{&source_};
  const std::uint64_t* deltas_;
  std::vector<pdm::detail::timer_id> ids_;
  std::size_t next_delta_ = 0;
  std::size_t fired_ = 0;
  bool failed_ = false;
  bool recording_ = false;
  std::vector<std::size_t> order_;
};

}  // namespace bench

// ---------------------------------------------------------------------------------------------
// baseline: the 2008 timer manager's queues

namespace seed {

struct tm_timer;
struct timer_queue;

/// A timer callback: the user argument (a device or driver instance) and the timer.
using timer_callback = void (*)(void* user, tm_timer* timer);

enum class timer_state : std::uint8_t { stopped, active };

/// One timer: a node of its clock's sorted list.
struct tm_timer {
  std::uint64_t expire = 0;
  tm_timer* next = nullptr;
  tm_timer* prev = nullptr;
  timer_queue* queue = nullptr;
  timer_state state = timer_state::stopped;
  timer_callback callback = nullptr;
  void* user = nullptr;
  const char* description = nullptr;
};

/// One clock's timers: a doubly linked list sorted by expire time, and the clock's time.
struct timer_queue {
  tm_timer* head = nullptr;
  std::uint64_t now = 0;
};

constexpr int vinf_success = 0;
constexpr int verr_no_memory = -8;
constexpr int verr_invalid_parameter = -2;

inline int timer_create(timer_queue* queue, timer_callback callback, void* user, const char* description,
                        tm_timer** out) {
  if (queue == nullptr || callback == nullptr || out == nullptr) return verr_invalid_parameter;
  auto* timer = new (std::nothrow) tm_timer;  // NOLINT(cppcoreguidelines-owning-memory): the 2008 way
  if (timer == nullptr) return verr_no_memory;
  timer->queue = queue;
  timer->callback = callback;
  timer->user = user;
  timer->description = description;
  *out = timer;
  return vinf_success;
}

inline void unlink(tm_timer* timer) noexcept {
  timer_queue* queue = timer->queue;
  if (timer->prev != nullptr) {
    timer->prev->next = timer->next;
  } else {
    queue->head = timer->next;
  }
  if (timer->next != nullptr) timer->next->prev = timer->prev;
  timer->next = nullptr;
  timer->prev = nullptr;
  timer->state = timer_state::stopped;
}

/// Arms `timer` for `expire`: unlinked if active, then linked in before the first node with a
/// later expire time, found by walking from the head.
inline int timer_set(tm_timer* timer, std::uint64_t expire) {
  if (timer == nullptr) return verr_invalid_parameter;
  if (timer->state == timer_state::active) unlink(timer);
  timer->expire = expire;
  timer_queue* queue = timer->queue;
  tm_timer* prev = nullptr;
  tm_timer* cur = queue->head;
  while (cur != nullptr && cur->expire <= expire) {
    prev = cur;
    cur = cur->next;
  }
  timer->prev = prev;
  timer->next = cur;
  if (prev != nullptr) {
    prev->next = timer;
  } else {
    queue->head = timer;
  }
  if (cur != nullptr) cur->prev = timer;
  timer->state = timer_state::active;
  return vinf_success;
}

/// The time of the timer's clock.
inline std::uint64_t timer_get(const tm_timer* timer) { return timer->queue->now; }

inline int timer_stop(tm_timer* timer) {
  if (timer == nullptr) return verr_invalid_parameter;
  if (timer->state == timer_state::active) unlink(timer);
  return vinf_success;
}

inline int timer_destroy(tm_timer* timer) {
  if (timer == nullptr) return verr_invalid_parameter;
  (void)timer_stop(timer);
  delete timer;  // NOLINT(cppcoreguidelines-owning-memory)
  return vinf_success;
}

/// Runs the queue: fires the timers at its head while they are due.
inline void queue_run(timer_queue* queue) {
  const std::uint64_t now = queue->now;
  while (queue->head != nullptr && queue->head->expire <= now) {
    tm_timer* timer = queue->head;
    unlink(timer);
    timer->callback(timer->user, timer);
  }
}

}  // namespace seed

namespace bench {

/// The baseline side: one queue (the virtual clock's), N timers armed.
class baseline_side {
 public:
  explicit baseline_side(const workload& w) : deltas_(w.deltas.data()) {
    timers_.reserve(w.deadlines.size());
    for (std::size_t i = 0; i < w.deadlines.size(); ++i) {
      seed::tm_timer* timer = nullptr;
      if (seed::timer_create(&queue_, &baseline_side::callback, this, "bench timer", &timer) != seed::vinf_success) {
        failed_ = true;
        return;
      }
      timers_.push_back(timer);
    }
    // Armed latest deadline first, so each lands at the head: an O(N) set-up, not O(N^2). The
    // deadlines are distinct, so the list is the same as if armed in any other order.
    std::vector<std::size_t> by_deadline(w.deadlines.size());
    for (std::size_t i = 0; i < by_deadline.size(); ++i) by_deadline[i] = i;
    std::sort(by_deadline.begin(), by_deadline.end(),
              [&](std::size_t a, std::size_t b) { return w.deadlines[a] > w.deadlines[b]; });
    for (const std::size_t i : by_deadline) {
      if (seed::timer_set(timers_[i], w.deadlines[i]) != seed::vinf_success) failed_ = true;
    }
  }
  baseline_side(const baseline_side&) = delete;
  baseline_side& operator=(const baseline_side&) = delete;
  baseline_side(baseline_side&&) = delete;
  baseline_side& operator=(baseline_side&&) = delete;
  ~baseline_side() {
    for (seed::tm_timer* timer : timers_) (void)seed::timer_destroy(timer);
  }

  /// One iteration: the time moves to the earliest deadline, and the due timers fire.
  void step() {
    if (queue_.head == nullptr) {
      failed_ = true;
      return;
    }
    queue_.now = queue_.head->expire;
    seed::queue_run(&queue_);
  }

  [[nodiscard]] bool failed() const noexcept { return failed_; }
  [[nodiscard]] std::size_t fired() const noexcept { return fired_; }
  [[nodiscard]] std::size_t pending() const noexcept {
    std::size_t n = 0;
    for (const seed::tm_timer* t = queue_.head; t != nullptr; t = t->next) ++n;
    return n;
  }
  [[nodiscard]] const std::vector<std::size_t>& order() const noexcept { return order_; }
  void record_order(bool on) {
    recording_ = on;
    // Filled only here, so the map's nodes do not sit between the timers' nodes in memory.
    for (std::size_t i = 0; i < timers_.size(); ++i) index_[timers_[i]] = i;
  }

 private:
  static void callback(void* user, seed::tm_timer* timer) {
    auto* self = static_cast<baseline_side*>(user);
    ++self->fired_;
    if (self->recording_) self->order_.push_back(self->index_.at(timer));
    const std::uint64_t delta = self->deltas_[self->next_delta_++ & (delta_count - 1)];
    if (seed::timer_set(timer, seed::timer_get(timer) + delta) != seed::vinf_success) self->failed_ = true;
  }

  seed::timer_queue queue_;
  const std::uint64_t* deltas_;
  std::vector<seed::tm_timer*> timers_;
  std::map<const seed::tm_timer*, std::size_t> index_;  // for the check before timing only
  std::size_t next_delta_ = 0;
  std::size_t fired_ = 0;
  bool failed_ = false;
  bool recording_ = false;
  std::vector<std::size_t> order_;
};

/// Runs both sides' first fires with N pending and compares them; "" if they agree. Once per N.
inline const std::string& check_same_firing(std::size_t n) {
  static std::map<std::size_t, std::string> checked;
  const auto found = checked.find(n);
  if (found != checked.end()) return found->second;
  std::string& problem = checked[n];
  const workload w = make_workload(n);
  pdm_side p(w);
  baseline_side b(w);
  p.record_order(true);
  b.record_order(true);
  const std::size_t steps = n >= 100'000 ? 300 : 3 * n + 1000;
  for (std::size_t i = 0; i < steps; ++i) {
    p.step();
    b.step();
  }
  if (p.failed() || b.failed()) {
    problem = "a side failed to create, arm or run its timers";
  } else if (p.order() != b.order()) {
    problem = "the sides fired different timers";
  } else if (p.fired() < steps || p.pending() != n || b.pending() != n) {
    problem = "a side lost timers";
  }
  return problem;
}

template <class Side>
void arm_fire(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  if (const std::string& problem = check_same_firing(n); !problem.empty()) {
    state.SkipWithError(problem.c_str());
    return;
  }
  const workload w = make_workload(n);
  Side side(w);
  for (auto _ : state) side.step();
  if (side.failed() || side.fired() < static_cast<std::size_t>(state.iterations()) || side.pending() != n) {
    state.SkipWithError("a timer failed to fire or re-arm");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(side.fired()));
}

void register_all() {
  benchmark::RegisterBenchmark("timer_arm_fire/pdm", &arm_fire<pdm_side>)->Arg(10)->Arg(1000)->Arg(100'000);
  benchmark::RegisterBenchmark("timer_arm_fire/baseline", &arm_fire<baseline_side>)->Arg(10)->Arg(1000)->Arg(100'000);
}

}  // namespace bench

int main(int argc, char** argv) {
  bench::register_all();
  return pdm_bench::run_benchmarks(argc, argv);
}
