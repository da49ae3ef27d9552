// pdm/services/timer_service.hpp - a VM's timers: made, armed, stopped and fired on the EMT.
//
// A timer runs on one of the VM's clocks (clock.hpp) and calls its callback on the EMT once its
// clock reaches the deadline it was armed for. The VM owns one timer_service; the chain manager
// hands drivers pdm::timer handles over it and destroys an instance's timers with the instance.
//
// It scales: 100,000 pending timers cost O(log n) per arm, stop and fire. Each clock keeps its
// pending timers in an indexed 4-ary min-heap of (deadline, arming sequence, slot); each slot
// knows its position in the heap, so re-arming or stopping a timer moves it in place. Records
// live in a slot table with a generation per slot and a free list: an id is (slot, generation),
// and an id whose record was destroyed stays stale even when the slot is reused. The 2008
// manager kept each clock's timers in a sorted linked list, walked from its head on every arm.
//
// Nothing allocates after create(): the heaps keep room for every timer made, so arm, stop,
// destroy and run_due cannot fail for want of memory.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pdm/core/error.hpp"
#include "pdm/services/clock.hpp"

namespace pdm::detail {

/// \brief Names a timer in a timer_service: a slot and the slot's generation when it was made.
/// Generation 0 is never valid, so a default-made id names no timer.
struct timer_id {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;
  friend constexpr bool operator==(const timer_id&, const timer_id&) noexcept = default;
};

/// \brief A VM's timers on its three clocks, and the clocks themselves.
///
/// Every member runs on the EMT only (the VM checks the thread), except now() and frequency,
/// which any thread may read. A callback may arm, stop, destroy or create any timer, itself
/// included.
///
/// run_due() fires the timers that were pending and due when it started:
/// - virtual and virtual_sync timers first, merged in one order (they share a time scale), then
///   real timers; within that, by deadline and, for equal deadlines, in the order they were armed;
/// - none on the virtual clocks while virtual time is paused (also when a callback pauses it);
/// - a timer armed during the run (a periodic timer re-armed by its own callback, say) for a
///   time that is already due waits for the next run, so one run never loops: it fires each
///   timer at most once and at most as many as were pending when it started;
/// - a timer stopped or destroyed by an earlier callback of the run does not fire.
///
/// virtual_sync time (now(clock_kind::virtual_sync)) is virtual time held back: it never passes
/// the deadline of a pending virtual_sync timer, so once one is due, the clock waits at its
/// deadline until the timer fired; while a virtual_sync callback runs, the clock reads its
/// deadline (so a periodic timer re-armed with arm_in() does not drift). It never goes back: a
/// timer armed for a virtual_sync time that already passed does not move the clock back, and
/// holds it where it is until it fired. To keep virtual_sync timers in order, a run stops firing
/// them when one armed during the run for an already-due time comes earlier than the next one.
/// It catches up by jumping to min(virtual time, next pending deadline) once the timer fired.
class timer_service {
 public:
  /// \brief Ticks per second of every clock (nanoseconds).
  static constexpr std::uint64_t frequency = time_base::frequency;

  /// \brief A service whose clocks read `source` (which must outlive it), or steady_clock if null.
  /// Virtual time starts paused: clocks().resume_virtual() starts it.
  explicit timer_service(const manual_clock* source = nullptr) : clocks_(source) {}
  timer_service(const timer_service&) = delete;
  timer_service& operator=(const timer_service&) = delete;
  timer_service(timer_service&&) = delete;
  timer_service& operator=(timer_service&&) = delete;
  /// \brief Destroys every timer's callback; they must not use the service from their destructors.
  ~timer_service() = default;

  /// \brief The clocks: read them, pause and resume virtual time.
  [[nodiscard]] time_base& clocks() noexcept { return clocks_; }
  [[nodiscard]] const time_base& clocks() const noexcept { return clocks_; }

  /// \brief The clock's time in nanoseconds (any thread).
  [[nodiscard]] std::uint64_t now(clock_kind kind) const noexcept { return clocks_.now(kind); }

  /// \brief Makes a timer, not armed, on clock `kind`. `name` names it in errors; `tag` is kept
  /// for the owner (the VM keeps the driver instance there). invalid_argument for an empty
  /// callback or an unknown clock, no_memory if an allocation failed (nothing changes then).
  result<timer_id> create(clock_kind kind, std::function<void()> callback, std::string name, void* tag = nullptr) {
    if (static_cast<std::size_t>(kind) >= clock_count) {
      return error(errc::invalid_argument,
                   "timer '" + name + "': unknown clock " + std::to_string(static_cast<unsigned>(kind)));
    }
    if (!callback) return error(errc::invalid_argument, "timer '" + name + "': no callback");
    const std::size_t k = clock_index(kind);
    std::uint32_t slot = free_head_;
    try {
      // Room for every timer in its clock's heap, or in the deferred list: arming never allocates.
      reserve_for(heaps_[k], counts_[k] + 1);
      reserve_for(deferred_, live_ + 1);
      if (slot == npos) {
        if (slot_count_ >= max_slots) {
          return error(errc::resource_limit, "timer '" + name + "': every timer slot is in use");
        }
        if (slot_count_ == chunks_.size() * chunk_size) {
          reserve_for(chunks_, chunks_.size() + 1);
          chunks_.push_back(std::make_unique<record[]>(chunk_size));  // within the capacity: no throw
        }
        where_.push_back(npos);  // if this throws, the new chunk stays for the next timers
        slot = static_cast<std::uint32_t>(slot_count_++);
      } else {
        free_head_ = record_at(slot).next_free;
      }
    } catch (const std::bad_alloc&) {
      return error(errc::no_memory, "timer '" + name + "': no memory for the timer's record");
    }
    record& r = record_at(slot);
    r.callback = std::move(callback);
    r.name = std::move(name);
    r.tag = tag;
    r.deadline = 0;
    r.next_free = npos;
    r.clock = kind;
    r.state = timer_state::idle;
    ++counts_[k];
    ++live_;
    return timer_id{slot, r.generation};
  }

  /// \brief Arms the timer for `deadline` on its clock (absolute, ns). Re-arming a pending timer
  /// moves it (it then comes after timers armed earlier for the same deadline). A deadline
  /// already passed fires at the next run.
  status arm_at(timer_id id, std::uint64_t deadline) {
    record* r = find(id);
    if (r == nullptr) return stale(id, "arm_at");
    place(id.index, *r, deadline);
    return ok();
  }

  /// \brief Arms the timer for now(its clock) + `d`; `d` may be given in any std::chrono
  /// duration that converts to nanoseconds (5us, 2ms). invalid_argument if `d` is negative or
  /// the deadline would pass the largest time.
  status arm_in(timer_id id, std::chrono::nanoseconds d) {
    record* r = find(id);
    if (r == nullptr) return stale(id, "arm_in");
    if (d.count() < 0) {
      return error(errc::invalid_argument,
                   "timer '" + r->name + "': negative relative time (" + std::to_string(d.count()) + " ns)");
    }
    const std::uint64_t now = clocks_.now(r->clock);
    const auto step = static_cast<std::uint64_t>(d.count());
    if (step > std::numeric_limits<std::uint64_t>::max() - now) {
      return error(errc::invalid_argument, "timer '" + r->name + "': " + std::to_string(step) + " ns from " +
                                               std::to_string(now) + " ns passes the largest time");
    }
    place(id.index, *r, now + step);
    return ok();
  }

  /// \brief Disarms the timer; a timer that is not pending stays as it is (a success).
  status stop(timer_id id) {
    record* r = find(id);
    if (r == nullptr) return stale(id, "stop");
    unqueue(id.index, *r);
    return ok();
  }

  /// \brief Stops the timer and frees its record: the id and its copies become stale, for good
  /// (a slot is reused under a new generation). A callback may destroy its own timer; the
  /// callback object is destroyed once it returned.
  status destroy(timer_id id) {
    record* r = find(id);
    if (r == nullptr) return stale(id, "destroy");
    unqueue(id.index, *r);
    // Destroyed last, when the service is consistent: their destructors may use the service.
    const std::function<void()> callback = std::move(r->callback);
    const std::string name = std::move(r->name);
    r->callback = nullptr;
    r->name.clear();
    r->tag = nullptr;
    r->state = timer_state::free;
    // A slot whose generations are used up is retired, so that no old id ever names a new timer.
    if (r->generation != std::numeric_limits<std::uint32_t>::max()) {
      ++r->generation;
      r->next_free = free_head_;
      free_head_ = id.index;
    }
    --counts_[clock_index(r->clock)];
    --live_;
    return ok();
  }

  /// \brief True if `id` names a timer that exists.
  [[nodiscard]] bool valid(timer_id id) const noexcept { return find(id) != nullptr; }
  /// \brief True if the timer is armed and has not fired (false for a stale id).
  [[nodiscard]] bool pending(timer_id id) const noexcept {
    const record* r = find(id);
    return r != nullptr && r->state != timer_state::idle;
  }
  /// \brief The deadline a pending timer is armed for; nullopt if it is not pending or stale.
  [[nodiscard]] std::optional<std::uint64_t> expire_time(timer_id id) const noexcept {
    const record* r = find(id);
    if (r == nullptr || r->state == timer_state::idle) return std::nullopt;
    return r->deadline;
  }
  /// \brief The timer's clock (clock_kind::virtual_time for a stale id).
  [[nodiscard]] clock_kind clock_of(timer_id id) const noexcept {
    const record* r = find(id);
    return r != nullptr ? r->clock : clock_kind::virtual_time;
  }
  /// \brief The tag given to create() (null for a stale id).
  [[nodiscard]] void* tag(timer_id id) const noexcept {
    const record* r = find(id);
    return r != nullptr ? r->tag : nullptr;
  }
  /// \brief The timer's name ("" for a stale id); valid until the timer is destroyed.
  [[nodiscard]] std::string_view name(timer_id id) const noexcept {
    const record* r = find(id);
    return r != nullptr ? std::string_view(r->name) : std::string_view();
  }

  /// \brief Fires the timers due now (see the class comment for the order and what a run
  /// includes) and returns how many fired. If a callback throws, its timer counts as fired
  /// (it is no longer pending), the exception reaches the caller, and a later run goes on with
  /// the timers still due. Called from a callback, it does nothing and returns 0.
  std::size_t run_due() {
    if (running_) return 0;
    const bool virtual_active = clocks_.virtual_running();
    const std::uint64_t virtual_now = virtual_active ? clocks_.now(clock_kind::virtual_time) : 0;
    run_active_ = {virtual_active, virtual_active, true};
    run_limit_ = {virtual_now, virtual_now, clocks_.now(clock_kind::real)};
    running_ = true;
    const run_end end(*this);
    std::size_t fired = 0;
    const auto virtual_k = clock_index(clock_kind::virtual_time);
    const auto sync_k = clock_index(clock_kind::virtual_sync);
    for (;;) {
      if (!run_active_[virtual_k] || !clocks_.virtual_running()) break;
      const heap_entry* v = due_top(virtual_k);
      const heap_entry* s = due_top(sync_k);
      // virtual_sync timers stay in order: none passes one armed during the run for an earlier time.
      if (s != nullptr && s->deadline > deferred_sync_min_) s = nullptr;
      if (v == nullptr && s == nullptr) break;
      fire(s == nullptr || (v != nullptr && before(*v, *s)) ? virtual_k : sync_k);
      ++fired;
    }
    const auto real_k = clock_index(clock_kind::real);
    while (due_top(real_k) != nullptr) {
      fire(real_k);
      ++fired;
    }
    return fired;
  }

  /// \brief The timer whose callback ran last (or runs now): after run_due() threw, the one that
  /// threw. Stale if that callback destroyed its timer.
  [[nodiscard]] timer_id last_fired() const noexcept { return last_fired_; }

  /// \brief When (source_ns() scale) the earliest pending timer that can fire is due: in the
  /// past if one is due already; nullopt if none can fire (none pending, or only virtual ones
  /// while virtual time is paused). The EMT sleeps until then.
  [[nodiscard]] std::optional<std::uint64_t> next_due_source_ns() const noexcept {
    if (!deferred_.empty()) return clocks_.source_ns();  // only during a run: due at once
    // Plain scalars, not an optional updated in the loop: g++ copies an optional through a
    // 16-byte register and stalls on reading it back (a third of an arm-and-fire at 10 timers).
    std::uint64_t earliest = 0;
    bool found = false;
    for (std::size_t k = 0; k < clock_count; ++k) {
      if (heaps_[k].empty()) continue;
      const auto at = clocks_.source_time_of(static_cast<clock_kind>(k), heaps_[k].front().deadline);
      if (at.has_value() && (!found || *at < earliest)) {
        earliest = *at;
        found = true;
      }
    }
    if (!found) return std::nullopt;
    return earliest;
  }

  /// \brief How many timers are pending.
  [[nodiscard]] std::size_t pending_count() const noexcept {
    std::size_t n = deferred_.size();
    for (const auto& heap : heaps_) n += heap.size();
    return n;
  }
  /// \brief How many timers exist (armed or not).
  [[nodiscard]] std::size_t size() const noexcept { return live_; }

 private:
  static constexpr std::size_t clock_count = 3;
  static constexpr std::uint32_t npos = std::numeric_limits<std::uint32_t>::max();
  static constexpr std::size_t max_slots = npos;  // a slot number below npos
  static constexpr std::size_t arity = 4;         // children per heap node
  static constexpr std::size_t chunk_bits = 8;
  static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;  // records per chunk
  static constexpr std::uint64_t no_deadline = std::numeric_limits<std::uint64_t>::max();

  enum class timer_state : std::uint8_t {
    free,      // no timer: the slot is on the free list
    idle,      // made, not armed
    queued,    // armed, in its clock's heap
    deferred,  // armed during a run for a time already due: joins its heap when the run ends
  };

  struct record {
    std::function<void()> callback;
    std::string name;
    void* tag = nullptr;
    std::uint64_t deadline = 0;
    std::uint32_t generation = 1;
    std::uint32_t next_free = npos;
    clock_kind clock = clock_kind::virtual_time;
    timer_state state = timer_state::free;
  };

  // What the heaps order by: deadline, then arming sequence (unique, so the order is total).
  struct heap_entry {
    std::uint64_t deadline;
    std::uint64_t sequence;
    std::uint32_t slot;
  };

  static bool before(const heap_entry& a, const heap_entry& b) noexcept {
    return a.deadline < b.deadline || (a.deadline == b.deadline && a.sequence < b.sequence);
  }
  static constexpr std::size_t clock_index(clock_kind kind) noexcept { return static_cast<std::size_t>(kind); }

  template <class V>
  static void reserve_for(V& v, std::size_t n) {
    if (v.capacity() < n) v.reserve(std::max(n, v.capacity() * 2));
  }

  [[nodiscard]] record& record_at(std::size_t slot) noexcept {
    return chunks_[slot >> chunk_bits][slot & (chunk_size - 1)];
  }
  [[nodiscard]] const record& record_at(std::size_t slot) const noexcept {
    return chunks_[slot >> chunk_bits][slot & (chunk_size - 1)];
  }

  // The live record `id` names, or null; const or not as the service is.
  template <class Service>
  static auto* find_in(Service& service, timer_id id) noexcept {
    decltype(&service.record_at(0)) none = nullptr;
    if (id.generation == 0 || id.index >= service.slot_count_) return none;
    auto& r = service.record_at(id.index);
    return r.generation == id.generation && r.state != timer_state::free ? &r : none;
  }
  [[nodiscard]] const record* find(timer_id id) const noexcept { return find_in(*this, id); }
  [[nodiscard]] record* find(timer_id id) noexcept { return find_in(*this, id); }

  static error stale(timer_id id, std::string_view operation) {
    return error(errc::invalid_argument, "destroyed timer (slot " + std::to_string(id.index) + ", generation " +
                                             std::to_string(id.generation) + ") passed to " + std::string(operation));
  }

  // --- the heaps; where_[slot] is the slot's position in its heap (or in deferred_) ---

  void sift_up(std::vector<heap_entry>& heap, std::size_t pos, const heap_entry& e) noexcept {
    while (pos > 0) {
      const std::size_t parent = (pos - 1) / arity;
      if (!before(e, heap[parent])) break;
      heap[pos] = heap[parent];
      where_[heap[pos].slot] = static_cast<std::uint32_t>(pos);
      pos = parent;
    }
    heap[pos] = e;
    where_[e.slot] = static_cast<std::uint32_t>(pos);
  }

  void sift_down(std::vector<heap_entry>& heap, std::size_t pos, const heap_entry& e) noexcept {
    const std::size_t n = heap.size();
    for (;;) {
      const std::size_t first = pos * arity + 1;
      if (first >= n) break;
      const std::size_t last = std::min(first + arity, n);
      std::size_t best = first;
      for (std::size_t c = first + 1; c < last; ++c) {
        if (before(heap[c], heap[best])) best = c;
      }
      if (!before(heap[best], e)) break;
      heap[pos] = heap[best];
      where_[heap[pos].slot] = static_cast<std::uint32_t>(pos);
      pos = best;
    }
    heap[pos] = e;
    where_[e.slot] = static_cast<std::uint32_t>(pos);
  }

  // Puts `e` at `pos` (an existing position) and restores the heap order.
  void heap_set(std::vector<heap_entry>& heap, std::size_t pos, const heap_entry& e) noexcept {
    if (pos > 0 && before(e, heap[(pos - 1) / arity])) {
      sift_up(heap, pos, e);
    } else {
      sift_down(heap, pos, e);
    }
  }

  void heap_push(std::vector<heap_entry>& heap, const heap_entry& e) noexcept {
    heap.push_back(e);  // within the capacity create() reserved: no allocation
    sift_up(heap, heap.size() - 1, e);
  }

  void heap_erase(std::vector<heap_entry>& heap, std::size_t pos) noexcept {
    const heap_entry last = heap.back();
    heap.pop_back();
    if (pos < heap.size()) heap_set(heap, pos, last);
  }

  void deferred_erase(std::size_t pos) noexcept {
    const heap_entry gone = deferred_[pos];
    deferred_[pos] = deferred_.back();
    where_[deferred_[pos].slot] = static_cast<std::uint32_t>(pos);
    deferred_.pop_back();
    if (record_at(gone.slot).clock == clock_kind::virtual_sync && gone.deadline == deferred_sync_min_) {
      deferred_sync_min_ = no_deadline;
      for (const heap_entry& e : deferred_) {
        if (record_at(e.slot).clock == clock_kind::virtual_sync)
          deferred_sync_min_ = std::min(deferred_sync_min_, e.deadline);
      }
    }
  }

  // --- arming ---

  void place(std::uint32_t slot, record& r, std::uint64_t deadline) noexcept {
    const std::size_t k = clock_index(r.clock);
    const heap_entry e{deadline, next_sequence_++, slot};
    r.deadline = deadline;
    // During a run, a timer armed for a time the run fires joins its heap only when the run ends.
    const bool defer = running_ && run_active_[k] && deadline <= run_limit_[k];
    std::vector<heap_entry>& heap = heaps_[k];
    if (r.state == timer_state::queued) {
      if (!defer) {
        heap_set(heap, where_[slot], e);  // moved in place
        if (r.clock == clock_kind::virtual_sync) update_sync_limit();
        return;
      }
      heap_erase(heap, where_[slot]);
    } else if (r.state == timer_state::deferred) {
      deferred_erase(where_[slot]);
    }
    if (defer) {
      where_[slot] = static_cast<std::uint32_t>(deferred_.size());
      deferred_.push_back(e);  // within the capacity create() reserved
      r.state = timer_state::deferred;
      if (r.clock == clock_kind::virtual_sync) deferred_sync_min_ = std::min(deferred_sync_min_, deadline);
    } else {
      heap_push(heap, e);
      r.state = timer_state::queued;
    }
    if (r.clock == clock_kind::virtual_sync) update_sync_limit();
  }

  void unqueue(std::uint32_t slot, record& r) noexcept {
    if (r.state == timer_state::queued) {
      heap_erase(heaps_[clock_index(r.clock)], where_[slot]);
    } else if (r.state == timer_state::deferred) {
      deferred_erase(where_[slot]);
    } else {
      return;
    }
    r.state = timer_state::idle;
    if (r.clock == clock_kind::virtual_sync) update_sync_limit();
  }

  // virtual_sync time may not pass the earliest pending virtual_sync deadline (deferred ones
  // included), nor the deadline of the virtual_sync timer firing.
  void update_sync_limit() noexcept {
    const auto& heap = heaps_[clock_index(clock_kind::virtual_sync)];
    std::uint64_t limit = heap.empty() ? no_deadline : heap.front().deadline;
    limit = std::min(limit, deferred_sync_min_);
    if (firing_sync_) limit = std::min(limit, firing_deadline_);
    clocks_.set_virtual_sync_limit(limit);
  }

  // --- running ---

  // The top of clock k's heap if the current run fires it.
  [[nodiscard]] const heap_entry* due_top(std::size_t k) const noexcept {
    const auto& heap = heaps_[k];
    if (!run_active_[k] || heap.empty() || heap.front().deadline > run_limit_[k]) return nullptr;
    return &heap.front();
  }

  // Gives the callback back to its record after it ran, if the timer still exists, and ends the
  // virtual_sync hold; also when the callback throws.
  class firing {
   public:
    firing(timer_service& service, std::uint32_t slot, std::uint32_t generation, bool sync,
           std::function<void()> callback) noexcept
        : service_(&service), slot_(slot), generation_(generation), sync_(sync), callback_(std::move(callback)) {}
    firing(const firing&) = delete;
    firing& operator=(const firing&) = delete;
    firing(firing&&) = delete;
    firing& operator=(firing&&) = delete;
    ~firing() {
      record& r = service_->record_at(slot_);
      if (r.generation == generation_ && r.state != timer_state::free) r.callback = std::move(callback_);
      if (sync_) {
        service_->firing_sync_ = false;
        service_->update_sync_limit();
      }
    }
    void operator()() { callback_(); }

   private:
    timer_service* service_;
    std::uint32_t slot_;
    std::uint32_t generation_;
    bool sync_;
    std::function<void()> callback_;
  };

  void fire(std::size_t k) {
    std::vector<heap_entry>& heap = heaps_[k];
    const heap_entry top = heap.front();
    heap_erase(heap, 0);
    record& r = record_at(top.slot);
    r.state = timer_state::idle;
    const bool sync = k == clock_index(clock_kind::virtual_sync);
    if (sync) {
      firing_sync_ = true;
      firing_deadline_ = top.deadline;
      update_sync_limit();
      (void)clocks_.now(clock_kind::virtual_sync);  // the clock reaches the deadline
    }
    // The callback runs from here, not from its record: it may destroy its timer, and a timer
    // made by the callback may reuse the slot.
    last_fired_ = timer_id{top.slot, r.generation};
    firing call(*this, top.slot, r.generation, sync, std::move(r.callback));
    call();
  }

  // Ends a run, also when a callback threw: deferred timers join their heaps.
  class run_end {
   public:
    explicit run_end(timer_service& service) noexcept : service_(&service) {}
    run_end(const run_end&) = delete;
    run_end& operator=(const run_end&) = delete;
    run_end(run_end&&) = delete;
    run_end& operator=(run_end&&) = delete;
    ~run_end() {
      timer_service& s = *service_;
      for (const heap_entry& e : s.deferred_) {
        record& r = s.record_at(e.slot);
        r.state = timer_state::queued;
        s.heap_push(s.heaps_[clock_index(r.clock)], e);
      }
      s.deferred_.clear();
      s.deferred_sync_min_ = no_deadline;
      s.firing_sync_ = false;
      s.running_ = false;
      s.update_sync_limit();
    }

   private:
    timer_service* service_;
  };

  time_base clocks_;
  // Records by slot, in chunks that never move: names stay in place while timers are made, and
  // a slot's record is found with a shift and a mask.
  std::vector<std::unique_ptr<record[]>> chunks_;
  std::size_t slot_count_ = 0;
  std::vector<std::uint32_t> where_;                        // by slot: position in its heap or in deferred_
  std::array<std::vector<heap_entry>, clock_count> heaps_;  // pending timers per clock
  std::vector<heap_entry> deferred_;                        // armed during a run for a time it fires
  std::array<std::size_t, clock_count> counts_{};           // timers per clock: the heaps' reserved room
  std::uint32_t free_head_ = npos;
  std::size_t live_ = 0;
  std::uint64_t next_sequence_ = 0;
  // The run in progress.
  bool running_ = false;
  timer_id last_fired_{};                               // see last_fired()
  std::array<bool, clock_count> run_active_{};          // does the run fire this clock's timers
  std::array<std::uint64_t, clock_count> run_limit_{};  // it fires those due at this time
  std::uint64_t deferred_sync_min_ = no_deadline;       // earliest deferred virtual_sync deadline
  bool firing_sync_ = false;
  std::uint64_t firing_deadline_ = 0;
};

}  // namespace pdm::detail
