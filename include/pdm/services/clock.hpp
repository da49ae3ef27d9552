// pdm/services/clock.hpp - the VM's clocks: virtual, virtual_sync and real, and a manual time
// source that makes tests deterministic.
//
// A VM has three clocks, all counting nanoseconds (frequency 1 GHz):
// - real: time since the VM's clocks were made, running whatever the VM does;
// - virtual: time the VM has been running; it starts at 0, stopped, and stands still while the VM
//   is suspended, so a guest never sees the time it spent suspended;
// - virtual_sync: virtual time as timers see it: it never passes the deadline of a virtual_sync
//   timer that is due but has not fired yet, so a device that schedules its work on it never
//   sees time run ahead of its own late timer (the timer service holds it, see
//   timer_service.hpp). Without such a timer it equals virtual time.
//
// All three read one source: std::chrono::steady_clock, or a manual_clock, whose time moves only
// when a test moves it. Clocks never go backwards, as seen from any thread, including a thread
// that reads while another pauses or resumes virtual time.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "pdm/core/error.hpp"

namespace pdm {

/// \brief Which clock a timer runs on, or a time is read from.
enum class clock_kind : std::uint8_t {
  virtual_time,  ///< "virtual": time the VM has been running; stops while it is suspended
  virtual_sync,  ///< virtual time held back at the deadline of a due virtual_sync timer until it fired
  real,          ///< time since the VM's clocks were made; never stops
};

/// \brief The clock's name: "virtual", "virtual_sync" or "real" ("" for a value out of range).
[[nodiscard]] constexpr std::string_view to_string(clock_kind kind) noexcept {
  switch (kind) {
    case clock_kind::virtual_time:
      return "virtual";
    case clock_kind::virtual_sync:
      return "virtual_sync";
    case clock_kind::real:
      return "real";
  }
  return "";
}

/// \brief A time source for tests: time moves only when advance() or set() is called, and never
/// backwards. Thread-safe: any thread may read it and move it.
///
/// \code
/// pdm::manual_clock source;
/// pdm::detail::timer_service timers(&source);  // the clocks read `source`
/// (void)source.advance(std::chrono::milliseconds(5));
/// timers.run_due();                             // fires what is due at 5 ms
/// \endcode
class manual_clock {
 public:
  /// \brief A clock that reads `start_ns` until it is moved.
  explicit manual_clock(std::uint64_t start_ns = 0) noexcept : now_(start_ns) {}
  manual_clock(const manual_clock&) = delete;
  manual_clock& operator=(const manual_clock&) = delete;
  manual_clock(manual_clock&&) = delete;
  manual_clock& operator=(manual_clock&&) = delete;
  ~manual_clock() = default;

  /// \brief The current time in nanoseconds.
  [[nodiscard]] std::uint64_t now_ns() const noexcept { return now_.load(std::memory_order_acquire); }

  /// \brief Moves the time forward by `d`. A negative `d`, or one that would pass the largest
  /// representable time, is refused (invalid_argument) and the time stays. A zero `d` is a
  /// success that changes nothing (and calls no on_change function).
  status advance(std::chrono::nanoseconds d) {
    if (d.count() < 0) {
      return error(errc::invalid_argument,
                   "manual_clock: time never goes back (advance by " + std::to_string(d.count()) + " ns)");
    }
    const auto step = static_cast<std::uint64_t>(d.count());
    if (step == 0) return ok();
    std::uint64_t current = now_.load(std::memory_order_relaxed);
    for (;;) {
      if (step > std::numeric_limits<std::uint64_t>::max() - current) {
        return error(errc::invalid_argument, "manual_clock: advancing " + std::to_string(step) + " ns from " +
                                                 std::to_string(current) + " ns passes the largest time");
      }
      if (now_.compare_exchange_weak(current, current + step, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        break;
      }
    }
    notify();
    return ok();
  }

  /// \brief Sets the time to `ns`: invalid_argument if that is before the current time (the
  /// time stays). Setting the current time is a success that changes nothing.
  status set(std::uint64_t ns) {
    std::uint64_t current = now_.load(std::memory_order_relaxed);
    for (;;) {
      if (ns < current) {
        return error(errc::invalid_argument, "manual_clock: time never goes back (set to " + std::to_string(ns) +
                                                 " ns at " + std::to_string(current) + " ns)");
      }
      if (ns == current) return ok();
      if (now_.compare_exchange_weak(current, ns, std::memory_order_acq_rel, std::memory_order_relaxed)) break;
    }
    notify();
    return ok();
  }

  /// \brief Calls `f` after each advance() or set() that moved the time, on the thread that moved
  /// it, after the new time is visible (a VM sets it to wake its EMT). Replaces the previous
  /// function; an empty `f` removes it. What `f` throws reaches the caller of advance() or set(),
  /// and the time has moved.
  void on_change(std::function<void()> f) {
    std::shared_ptr<const std::function<void()>> next;
    if (f) next = std::make_shared<const std::function<void()>>(std::move(f));
    const std::lock_guard<std::mutex> hold(listener_lock_);
    listener_ = std::move(next);
    has_listener_.store(listener_ != nullptr, std::memory_order_release);
  }

 private:
  void notify() {
    if (!has_listener_.load(std::memory_order_acquire)) return;
    std::shared_ptr<const std::function<void()>> listener;
    {
      const std::lock_guard<std::mutex> hold(listener_lock_);
      listener = listener_;
    }
    // Called outside the lock: the function may move the clock or replace itself.
    if (listener) (*listener)();
  }

  std::atomic<std::uint64_t> now_;
  std::atomic<bool> has_listener_{false};  // lets advance() and set() skip the lock when nobody listens
  std::mutex listener_lock_;
  std::shared_ptr<const std::function<void()>> listener_;
};

namespace detail {

/// \brief The VM's three clocks over one source: std::chrono::steady_clock, or a manual_clock.
/// (Also called time_base, below; the class has another name because a class of that name
/// defined in pdm::detail trips clang-tidy's bugprone-forward-declaration-namespace against the
/// std::time_base that <string> forward-declares.)
///
/// Any thread may read the clocks (now(), source_ns(), source_time_of()); pausing and resuming
/// virtual time may also happen on any thread. Nothing locks: the virtual clock's state is one
/// atomic word, a reader checks that it did not change while it read the source (so no reader
/// counts time spent paused), and each clock remembers the largest time it returned so that no
/// reader sees it go back.
///
/// Times are kept relative to the moment the clocks were made, so a manual_clock may start
/// anywhere; a vm_clocks works for 2^62 ns (146 years) of source time.
class vm_clocks {
 public:
  /// \brief Ticks per second of every clock: they count nanoseconds.
  static constexpr std::uint64_t frequency = 1'000'000'000;

  /// \brief Clocks over `source` (which must outlive them), or over steady_clock if null. Real
  /// time starts at 0; virtual time starts at 0, paused.
  explicit vm_clocks(const manual_clock* source = nullptr) noexcept : source_(source), origin_(source_ns()) {}
  vm_clocks(const vm_clocks&) = delete;
  vm_clocks& operator=(const vm_clocks&) = delete;
  vm_clocks(vm_clocks&&) = delete;
  vm_clocks& operator=(vm_clocks&&) = delete;
  ~vm_clocks() = default;

  /// \brief The source's reading in nanoseconds: steady_clock's count or the manual clock's time.
  /// next_due_source_ns() and source_time_of() answer on this scale.
  [[nodiscard]] std::uint64_t source_ns() const noexcept {
    if (source_ != nullptr) return source_->now_ns();
    const auto since_epoch = std::chrono::steady_clock::now().time_since_epoch();
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count());
  }

  /// \brief The manual clock these clocks read, or null for steady_clock.
  [[nodiscard]] const manual_clock* source() const noexcept { return source_; }

  /// \brief The clock's time in nanoseconds. It never goes backwards.
  [[nodiscard]] std::uint64_t now(clock_kind kind) const noexcept {
    switch (kind) {
      case clock_kind::virtual_time:
        return virtual_now();
      case clock_kind::virtual_sync:
        return raise(sync_high_, std::min(virtual_now(), sync_limit_.load(std::memory_order_acquire)));
      case clock_kind::real:
        return elapsed();
    }
    return 0;
  }

  /// \brief Starts virtual time where it stopped. Does nothing if it runs.
  void resume_virtual() noexcept {
    std::uint64_t state = state_.load(std::memory_order_acquire);
    while ((state & running_bit) == 0) {
      const std::uint64_t frozen = std::max(state >> 1, virtual_high_.load(std::memory_order_acquire));
      // The elapsed source time at which virtual time was 0; negative only in theory.
      const std::int64_t base = static_cast<std::int64_t>(elapsed()) - static_cast<std::int64_t>(frozen);
      if (state_.compare_exchange_weak(state, (static_cast<std::uint64_t>(base) << 1) | running_bit,
                                       std::memory_order_acq_rel, std::memory_order_acquire)) {
        return;
      }
    }
  }

  /// \brief Stops virtual time (and virtual_sync time with it). Does nothing if it is stopped.
  void pause_virtual() noexcept {
    std::uint64_t state = state_.load(std::memory_order_acquire);
    while ((state & running_bit) != 0) {
      // A reader that raced with this pause may have returned a little more: stop there, not before.
      const std::uint64_t frozen = std::max(running_time(state), virtual_high_.load(std::memory_order_acquire));
      if (state_.compare_exchange_weak(state, frozen << 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        raise(virtual_high_, frozen);
        return;
      }
    }
  }

  /// \brief True while virtual time runs.
  [[nodiscard]] bool virtual_running() const noexcept {
    return (state_.load(std::memory_order_acquire) & running_bit) != 0;
  }

  /// \brief The source time (source_ns() scale) at which clock `kind` reaches `t`: in the past
  /// if it already has; nullopt if it never will (virtual time paused, or beyond the source's
  /// range). virtual_sync reaches `t` with virtual time unless a timer holds it, and a timer
  /// that holds it is due earlier, so both answer alike.
  [[nodiscard]] std::optional<std::uint64_t> source_time_of(clock_kind kind, std::uint64_t t) const noexcept {
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    if (kind == clock_kind::real) {
      if (t > max - origin_) return std::nullopt;
      return origin_ + t;
    }
    const std::uint64_t state = state_.load(std::memory_order_acquire);
    if ((state & running_bit) == 0) return std::nullopt;
    const std::int64_t base = base_of(state);
    constexpr auto int_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (t > int_max ||
        static_cast<std::int64_t>(t) > std::numeric_limits<std::int64_t>::max() - std::max<std::int64_t>(base, 0)) {
      return std::nullopt;
    }
    const std::int64_t at = base + static_cast<std::int64_t>(t);
    const std::uint64_t since_origin = at < 0 ? 0 : static_cast<std::uint64_t>(at);
    if (since_origin > max - origin_) return std::nullopt;
    return origin_ + since_origin;
  }

  /// \brief For the timer service: virtual_sync time may not pass `limit` (the earliest deadline
  /// of a pending virtual_sync timer, or of the one firing; UINT64_MAX when there is none).
  void set_virtual_sync_limit(std::uint64_t limit) noexcept { sync_limit_.store(limit, std::memory_order_release); }

 private:
  // state_: bit 0 set = running, and the other bits hold the signed elapsed source time at which
  // virtual time was 0; bit 0 clear = paused, and the other bits hold the frozen virtual time.
  static constexpr std::uint64_t running_bit = 1;

  static std::int64_t base_of(std::uint64_t state) noexcept {
    return static_cast<std::int64_t>(state) >> 1;  // arithmetic shift (C++20)
  }

  // Source time since the clocks were made.
  [[nodiscard]] std::uint64_t elapsed() const noexcept { return source_ns() - origin_; }

  [[nodiscard]] std::uint64_t running_time(std::uint64_t state) const noexcept {
    const auto since = static_cast<std::int64_t>(elapsed());
    const std::int64_t base = base_of(state);
    return since > base ? static_cast<std::uint64_t>(since - base) : 0;
  }

  [[nodiscard]] std::uint64_t virtual_now() const noexcept {
    std::uint64_t state = state_.load(std::memory_order_acquire);
    for (;;) {
      if ((state & running_bit) == 0) return raise(virtual_high_, state >> 1);
      const std::uint64_t value = running_time(state);
      // Still running after the source was read? Otherwise a reader delayed between reading the
      // state and reading the source would count time the VM spent paused.
      const std::uint64_t again = state_.load(std::memory_order_acquire);
      if (again == state) return raise(virtual_high_, value);
      state = again;
    }
  }

  // Records `value` as returned unless a larger one was: returns the larger.
  static std::uint64_t raise(std::atomic<std::uint64_t>& high, std::uint64_t value) noexcept {
    std::uint64_t seen = high.load(std::memory_order_acquire);
    while (seen < value) {
      if (high.compare_exchange_weak(seen, value, std::memory_order_acq_rel, std::memory_order_acquire)) return value;
    }
    return seen;
  }

  const manual_clock* source_;
  std::uint64_t origin_;
  std::atomic<std::uint64_t> state_{0};  // paused at 0
  mutable std::atomic<std::uint64_t> virtual_high_{0};
  mutable std::atomic<std::uint64_t> sync_high_{0};
  std::atomic<std::uint64_t> sync_limit_{std::numeric_limits<std::uint64_t>::max()};
};

/// \brief The name the VM uses for its clocks.
using time_base = vm_clocks;

}  // namespace detail
}  // namespace pdm
