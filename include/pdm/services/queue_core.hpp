// pdm/services/queue_core.hpp - the lock-free ring under a driver's queue: any number of
// producers on any thread, one consumer on the EMT, a fixed number of items allocated once.
//
// A driver queue carries fixed-size items from any thread (an I/O completion thread, a timer, a
// device thread) to the EMT. Producers must never block, lock or allocate, and a full queue is an
// error they see; the EMT consumes the items in insertion order with a callback that may stop and
// keep the rest. pdm::queue<T> (the handle a driver gets, owned by its instance, flushed by the
// EMT) is built on this class; queue_core is only the data structure.
//
// The design is a bounded ring of cells with one sequence number per cell (D. Vyukov's bounded
// MPMC queue, specialised for one consumer):
//   - a position counter `tail` hands out positions 0, 1, 2, ...; position p uses cell p mod
//     capacity. A cell's sequence says what it holds: "free for position p", "item of position p
//     published" or "position p cancelled" (its constructor threw);
//   - a producer reads the tail, checks that the cell is free for that position and claims it
//     with a compare-exchange on the tail; it then constructs the item in the cell and publishes
//     it with a release store of the cell's sequence;
//   - the consumer walks positions from its own head, reads each cell's sequence with acquire,
//     stops at the first position not yet published, and frees a cell after destroying its item
//     with a release store of "free for position p + capacity".
// Producers touch only the tail and their own cell, never the consumer's head; the consumer
// touches only its head and the cells. One compare-exchange per insert, on one contended line.
//
// The known cost of this design: the order is the order of the claims, so the consumer cannot
// pass a cell whose producer claimed it and has not finished writing it. A producer preempted
// inside that window (while it constructs its item) hides the items behind it until it runs; they
// are delayed, never lost or reordered, and no producer waits. An alternative without that window
// was built and measured: a free list plus a published list, where an insert pops a free item,
// builds it, and publishes it with a second compare-exchange (a push onto a list the consumer
// takes whole with one exchange). It moved 11% to 41% fewer items per second than the ring in
// benchmarks/queue.cpp, in every scheduling regime tried, because every insert then owns two
// contended cache lines instead of one; the throughput target decided for the ring.
//
// Memory is allocated once, in the constructor: `capacity` cells, each a sequence number and
// room for one T. The capacity is exact (not rounded up to a power of two); cell indices use a
// mask when it is a power of two and a division otherwise (the consumer never divides).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <system_error>
#include <type_traits>
#include <utility>

#include "pdm/core/errc.hpp"

namespace pdm::detail {

/// \brief The cache-line size pdm separates contended atomics by: 64 bytes.
///
/// std::hardware_destructive_interference_size is not usable here: g++ warns (-Winterference-size)
/// when a header uses it, because its value follows -mtune and would change the layout (ABI) of
/// this class between translation units; clang 14 with libstdc++ does not define it at all. 64 is
/// the line size of x86-64 and of the common AArch64 cores.
inline constexpr std::size_t cache_line_size = 64;

/// \brief A bounded lock-free queue of T: any number of producer threads, one consumer (the EMT).
///
/// **Insertion order** is the order in which successful try_emplace() calls claimed their
/// position, each claim being one atomic step (a compare-exchange) on the queue's tail counter.
/// consume() visits positions in that order and never skips one. So:
///   - the items one thread inserts come out in the order that thread inserted them;
///   - if one insert returns before another starts (it happens-before it), its item comes first;
///   - of two concurrent inserts, the one whose claim came first comes first; the order is fixed
///     before either returns.
/// An item still being constructed holds its position: consume() stops there (and returns) rather
/// than pass it, so a producer preempted between its claim and its publication delays the items
/// behind it until it resumes. That is the price of the order; no other producer is ever held up,
/// except that the ring fills up behind the slow item.
///
/// Threads: try_emplace(), try_insert(), request_flush(), close(), closed(), capacity() and
/// size() from any thread. consume(), drop_all() and take_flush_request() from one thread at a
/// time (the EMT), never concurrently with themselves or each other, and not from within a
/// consume() callback of the same queue (inserting from it is fine). The destructor must not run
/// while any other member function runs.
///
/// Positions are 62-bit counters that never wrap in practice (2^62 inserts at 10^9 per second take
/// 146 years).
template <class T>
class queue_core {
  static_assert(std::is_object_v<T> && !std::is_const_v<T> && !std::is_volatile_v<T>,
                "queue_core<T>: T must be a non-const, non-volatile object type");
  static_assert(std::is_nothrow_move_constructible_v<T>, "queue_core<T>: T must be nothrow move constructible");
  static_assert(std::is_nothrow_destructible_v<T>, "queue_core<T>: T must be nothrow destructible");

 public:
  using value_type = T;

  /// \brief The largest capacity the constructor accepts.
  [[nodiscard]] static constexpr std::size_t max_capacity() noexcept {
    constexpr std::size_t by_memory = static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(cell);
    constexpr std::size_t by_positions = std::size_t{1} << 40U;  // leaves ample room in 62-bit positions
    return by_memory < by_positions ? by_memory : by_positions;
  }

  /// \brief A queue of exactly `capacity` items, all memory allocated here, once.
  ///
  /// Throws std::bad_alloc when the memory cannot be allocated, and std::bad_array_new_length (a
  /// std::bad_alloc too) when `capacity` is 0 or above max_capacity(); a caller that reports
  /// errors as values validates the capacity first and turns std::bad_alloc into errc::no_memory.
  explicit queue_core(std::size_t capacity) : consumer_{.cells = make_cells(capacity), .capacity = capacity} {
    producer_.cells = consumer_.cells.get();
    producer_.capacity = capacity;
    producer_.mask = capacity - 1;
    producer_.power_of_two = (capacity & (capacity - 1)) == 0;
    for (std::size_t i = 0; i < capacity; ++i) {
      consumer_.cells[i].sequence.store(ticket(i), std::memory_order_relaxed);
    }
  }

  queue_core(const queue_core&) = delete;
  queue_core& operator=(const queue_core&) = delete;
  queue_core(queue_core&&) = delete;
  queue_core& operator=(queue_core&&) = delete;

  /// \brief Destroys the items still queued. No other thread may be using the queue.
  ~queue_core() { drop_all(); }

  // -------------------------------------------------------------------------------------------
  // Producer side: any thread, any number of threads at once.

  /// \brief Constructs an item from `args` at the end of the queue: lock-free, no allocation, no
  /// waiting.
  ///
  /// Returns an empty error_code on success, errc::queue_full when every item is in use, and
  /// errc::cancelled once the queue is closed. If T's constructor throws, the position it had
  /// claimed is marked cancelled (consume() passes over it; the queue never wedges) and the
  /// exception propagates.
  template <class... A>
  [[nodiscard]] std::error_code try_emplace(A&&... args) noexcept(std::is_nothrow_constructible_v<T, A...>) {
    static_assert(std::is_constructible_v<T, A...>, "queue_core<T>::try_emplace: T is not constructible from these");
    std::uint64_t pos = producer_.tail.load(std::memory_order_relaxed);
    cell* c = nullptr;
    for (;;) {
      if ((pos & closed_bit) != 0) return make_error_code(errc::cancelled);
      c = &producer_.cells[producer_.index_of(pos)];
      // Acquire: if the cell is free, the consumer's destruction of its previous item happened
      // before this (the consumer freed it with a release store).
      const std::uint64_t seq = c->sequence.load(std::memory_order_acquire);
      if (seq == ticket(pos)) {
        // Free for `pos`: claim it. Relaxed is enough; the RMW alone makes the claim exclusive,
        // and the cell's data is ordered by its sequence. A failed exchange reloads `pos`, and
        // fails too when close() has set the closed bit meanwhile.
        if (producer_.tail.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed, std::memory_order_relaxed)) {
          break;
        }
      } else if (seq < ticket(pos)) {
        // The cell still holds (or is receiving) the item of pos - capacity: the ring is full,
        // unless `pos` is stale because other producers claimed positions meanwhile.
        const std::uint64_t now = producer_.tail.load(std::memory_order_relaxed);
        if (now == pos) return make_error_code(errc::queue_full);
        pos = now;
      } else {
        pos = producer_.tail.load(std::memory_order_relaxed);  // another producer took `pos`
      }
    }
    if constexpr (std::is_nothrow_constructible_v<T, A...>) {
      ::new (static_cast<void*>(c->storage)) T(std::forward<A>(args)...);
    } else {
      try {
        ::new (static_cast<void*>(c->storage)) T(std::forward<A>(args)...);
      } catch (...) {
        c->sequence.store(ticket(pos) | state_cancelled, std::memory_order_release);
        throw;
      }
    }
    // Release: the consumer that reads this sequence with acquire sees the whole item.
    c->sequence.store(ticket(pos) | state_item, std::memory_order_release);
    return {};
  }

  /// \brief try_emplace(std::move(value)).
  [[nodiscard]] std::error_code try_insert(T value) noexcept { return try_emplace(std::move(value)); }

  /// \brief Asks for a flush after an insert; true only for the first request since the consumer
  /// last called take_flush_request(), so only that caller needs to wake the EMT.
  ///
  /// Lock-free. Every item inserted before a request (returning true or false) is visible to a
  /// consume() that follows the take_flush_request() returning true that cleared it.
  bool request_flush() noexcept {
    // An exchange, not a load first: a load that saw `true` could be stale against a concurrent
    // take_flush_request(), and the item inserted before it would wait for the next flush.
    return !flush_.requested.exchange(true, std::memory_order_acq_rel);
  }

  /// \brief Closes the queue: every insert that begins afterwards fails with errc::cancelled.
  ///
  /// Any thread; idempotent. Items already queued stay until consumed, dropped or destroyed. An
  /// insert that claimed its position before close() still completes: after close() returns, the
  /// set of positions ever claimed is final.
  void close() noexcept { producer_.tail.fetch_or(closed_bit, std::memory_order_acq_rel); }

  /// \brief Whether close() was called.
  [[nodiscard]] bool closed() const noexcept {
    return (producer_.tail.load(std::memory_order_acquire) & closed_bit) != 0;
  }

  /// \brief How many items the queue holds at most.
  [[nodiscard]] std::size_t capacity() const noexcept { return producer_.capacity; }

  /// \brief How many positions are claimed and not yet consumed: exact when no other thread uses
  /// the queue, a snapshot otherwise. Counts items still being constructed, and cancelled
  /// positions the consumer has not passed yet.
  [[nodiscard]] std::size_t size() const noexcept {
    const std::uint64_t head = consumer_.head.load(std::memory_order_acquire);
    const std::uint64_t tail = producer_.tail.load(std::memory_order_acquire) & ~closed_bit;
    if (tail <= head) return 0;
    const std::uint64_t n = tail - head;
    return n < producer_.capacity ? static_cast<std::size_t>(n) : producer_.capacity;
  }

  // -------------------------------------------------------------------------------------------
  // Consumer side: one thread at a time (the EMT).

  /// \brief Passes the queued items, in insertion order, to `f(T&)`, which returns true to consume
  /// the item (it is destroyed and its room freed for producers) or false to stop: that item and
  /// those behind it stay queued, in order, for the next consume(). An `f` returning void
  /// consumes every item.
  ///
  /// Returns how many items were consumed. Stops also at the first position whose item is still
  /// being inserted, and after visiting capacity() positions, so producers that keep refilling the
  /// queue cannot hold the EMT forever (everything queued when consume() began is visited).
  /// If `f` throws, the item it was given stays queued (in whatever state `f` left it), the items
  /// consumed before it stay consumed, and the exception propagates.
  template <class F>
  std::size_t consume(F&& f) {
    static_assert(std::is_invocable_v<F&, T&>, "queue_core<T>::consume: f must be callable as f(T&)");
    using R = std::invoke_result_t<F&, T&>;
    static_assert(std::is_void_v<R> || std::is_convertible_v<R, bool>,
                  "queue_core<T>::consume: f(T&) must return bool (true: consumed, false: stop) or void");
    if constexpr (std::is_void_v<R>) {
      return walk([&f](T& item) {
        std::invoke(f, item);
        return true;
      });
    } else {
      return walk([&f](T& item) { return static_cast<bool>(std::invoke(f, item)); });
    }
  }

  /// \brief Destroys every queued item without passing it to anyone; returns how many.
  ///
  /// Stops, like consume(), at an item still being inserted by another thread: that one stays.
  std::size_t drop_all() noexcept {
    return walk([](T&) noexcept { return true; });
  }

  /// \brief Clears the flush request; returns whether one was pending. Call it before consume().
  bool take_flush_request() noexcept { return flush_.requested.exchange(false, std::memory_order_acq_rel); }

 private:
  // The low two bits of a cell's sequence say what the cell holds for the position above them.
  static constexpr std::uint64_t state_free = 0;       // free for that position's producer
  static constexpr std::uint64_t state_item = 1;       // that position's item is published
  static constexpr std::uint64_t state_cancelled = 2;  // that position's constructor threw
  static_assert(state_free == 0, "ticket(p) is the free state");
  // Set in the tail by close(): the tail's compare-exchange then fails for every producer.
  static constexpr std::uint64_t closed_bit = std::uint64_t{1} << 63U;

  static constexpr std::uint64_t ticket(std::uint64_t pos) noexcept { return pos << 2U; }

  struct cell {
    std::atomic<std::uint64_t> sequence{0};
    alignas(T) std::byte storage[sizeof(T)]{};  // zeroed once, at allocation

    T* item() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };

  static std::unique_ptr<cell[]> make_cells(std::size_t capacity) {
    if (capacity == 0 || capacity > max_capacity()) throw std::bad_array_new_length();
    return std::make_unique<cell[]>(capacity);
  }

  // Visits the queue from the head, in order, at most one lap: for each published item, calls
  // visit(item), which returns true to have it destroyed and its cell freed, false to stop.
  // Cancelled positions are passed over; an unpublished position ends the walk. Returns how many
  // items were destroyed. If visit throws, the item stays and the head points at it.
  template <class Visit>
  std::size_t walk(Visit&& visit) noexcept(std::is_nothrow_invocable_v<Visit&, T&>) {
    consumer_line& me = consumer_;
    std::size_t done = 0;
    for (std::size_t visited = 0; visited < me.capacity; ++visited) {
      const std::uint64_t pos = me.head.load(std::memory_order_relaxed);  // only this thread writes it
      cell& c = me.cells[me.head_index];
      // Acquire: pairs with the producer's release store of this sequence, so the item is complete.
      const std::uint64_t seq = c.sequence.load(std::memory_order_acquire);
      if (seq == (ticket(pos) | state_item)) {
        T& item = *c.item();
        if (!visit(item)) break;
        item.~T();
        ++done;
      } else if (seq != (ticket(pos) | state_cancelled)) {
        break;  // not published yet (or nothing there)
      }
      // Free the cell for the producer one lap later. Release: the item's destruction (and every
      // read of it) happens before that producer constructs its item here.
      c.sequence.store(ticket(pos + me.capacity), std::memory_order_release);
      me.head.store(pos + 1, std::memory_order_relaxed);
      me.head_index = me.head_index + 1 == me.capacity ? 0 : me.head_index + 1;
    }
    return done;
  }

  // What producers touch besides their cell: the tail, which every insert compare-exchanges, and
  // on the same line their copy of the ring's shape (read right after the tail, so it costs no
  // extra cache miss). Its own cache line (see cache_line_size).
  struct alignas(cache_line_size) producer_line {
    std::atomic<std::uint64_t> tail{0};  // next position to claim, | closed_bit once closed
    cell* cells = nullptr;
    std::size_t capacity = 0;
    std::uint64_t mask = 0;  // capacity - 1, used when the capacity is a power of two
    bool power_of_two = false;

    // The consumer never divides: it keeps its cell index beside its position.
    [[nodiscard]] std::size_t index_of(std::uint64_t pos) const noexcept {
      return static_cast<std::size_t>(power_of_two ? (pos & mask) : (pos % capacity));
    }
  };
  // What the consumer touches besides the cells: written by the consumer only; `head` is atomic
  // because size() reads it from any thread. It owns the cells.
  struct alignas(cache_line_size) consumer_line {
    std::unique_ptr<cell[]> cells;
    std::size_t capacity = 0;
    std::atomic<std::uint64_t> head{0};  // next position to consume
    std::size_t head_index = 0;          // its cell
  };
  // Flush requests: set by producers, cleared by the consumer.
  struct alignas(cache_line_size) flush_line {
    std::atomic<bool> requested{false};
  };

  producer_line producer_;
  consumer_line consumer_;
  flush_line flush_;
};

}  // namespace pdm::detail
