// pdm/services/hub.hpp - the services a VM gives its drivers: timers, queues, pollers, threads,
// statistics and error reporting, and the handles drivers hold for them.
//
// A VM owns one service_hub. A driver reaches it through its context (driver_context), which
// passes the instance's resource_list along, so that everything the driver makes is owned by
// its instance and released with it (pdm/services/resource.hpp). The EMT calls run_due() each
// time round its loop: due timers fire, due pollers run, queues with items waiting are flushed,
// and run_due() says when it next has something to do.
//
// Handles (timer, poller, driver_thread) are small copyable values naming a resource by slot and
// generation: once the resource is destroyed - by hand, or with its instance - every copy is
// stale, and each call through it fails with errc::resource_destroyed instead of touching freed
// memory. They are used on the EMT. A queue handle is different: producers on any thread hold
// it, so it shares the queue's storage, and inserting into a queue whose instance is gone fails
// with resource_destroyed.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "pdm/chain/emt.hpp"
#include "pdm/chain/vm_state.hpp"
#include "pdm/core/error.hpp"
#include "pdm/core/source_location.hpp"
#include "pdm/services/clock.hpp"
#include "pdm/services/queue_core.hpp"
#include "pdm/services/report.hpp"
#include "pdm/services/resource.hpp"
#include "pdm/services/state_units.hpp"
#include "pdm/services/statistics.hpp"
#include "pdm/services/thread.hpp"
#include "pdm/services/timer_service.hpp"

namespace pdm {

namespace detail {
class service_hub;

// Who owns a resource: the instance's list, and its name and number for messages and
// statistic names.
struct owner_ref {
  resource_list* list = nullptr;
  std::string_view driver;
  std::uint32_t instance = 0;
};

// What queue producers share with the VM to wake its EMT; outlives the VM if a producer keeps
// a queue handle, and then wakes nothing.
class emt_signal {
 public:
  explicit emt_signal(emt* target) noexcept : target_(target) {}
  void wake() noexcept {
    const std::lock_guard<std::mutex> hold(lock_);
    if (target_ != nullptr) target_->wake();
  }
  void disconnect() noexcept {
    const std::lock_guard<std::mutex> hold(lock_);
    target_ = nullptr;
  }

 private:
  std::mutex lock_;
  emt* target_;
};

// A queue's storage and what its producers need, shared by the queue's handles and its record.
template <class T>
struct queue_state {
  queue_state(std::size_t capacity, std::shared_ptr<emt_signal> s, std::string n, std::string_view drv,
              std::uint32_t inst, bool demand)
      : core(capacity), signal(std::move(s)), name(std::move(n)), driver(drv), instance(inst), on_demand(demand) {}
  queue_core<T> core;
  std::shared_ptr<emt_signal> signal;
  std::string name;
  std::string driver;
  std::uint32_t instance;
  bool on_demand;  // no interval: each first insert after a flush wakes the EMT
};

}  // namespace detail

/// \brief Flags of a runtime error (set_runtime_error).
enum class runtime_error_flags : std::uint8_t {
  none = 0,     ///< a warning: reported, the VM goes on
  suspend = 1,  ///< the VM is suspended; it may be resumed
  fatal = 2,    ///< the VM is suspended and cannot be resumed, only powered off
};
[[nodiscard]] constexpr runtime_error_flags operator|(runtime_error_flags a, runtime_error_flags b) noexcept {
  return static_cast<runtime_error_flags>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
[[nodiscard]] constexpr bool has_flag(runtime_error_flags set, runtime_error_flags f) noexcept {
  return (static_cast<std::uint8_t>(set) & static_cast<std::uint8_t>(f)) != 0;
}

/// \brief What a driver's set_error or set_runtime_error sends to the VM's error sinks.
struct driver_error_event {
  /// \brief set_error (an error the driver returns) or set_runtime_error (something went
  /// wrong while running).
  enum class kind : std::uint8_t { error, runtime_error } what_kind = kind::error;
  /// \brief The error: its code, message, driver and instance.
  error what;
  /// \brief Where set_error was called (file, line, function); empty for runtime errors.
  std::string where;
  /// \brief The runtime error's flags and id (set_runtime_error only).
  runtime_error_flags flags = runtime_error_flags::none;
  std::string id;
};

/// \brief A timer: fires its callback on the EMT when its clock reaches the time it is armed
/// for. A handle: copies name the same timer; all of them go stale when it is destroyed.
/// Use it on the EMT (other threads get `wrong_thread`).
class timer {
 public:
  timer() = default;
  timer(detail::service_hub* hub, detail::timer_id id) noexcept : hub_(hub), id_(id) {}

  /// \brief True if the handle names a timer (which may since have been destroyed).
  explicit operator bool() const noexcept { return hub_ != nullptr; }
  /// \brief Arms the timer for time `deadline` (ns) on its clock; re-arming moves it. A time
  /// already passed fires at the EMT's next turn.
  [[nodiscard]] status arm_at(std::uint64_t deadline) const;
  /// \brief Arms the timer `d` from now on its clock (any std::chrono duration: ns, us, ms, ...).
  template <class Rep, class Period>
  [[nodiscard]] status arm_in(std::chrono::duration<Rep, Period> d) const {
    return arm_in_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
  }
  /// \brief Disarms the timer (nothing happens if it is not armed).
  [[nodiscard]] status stop() const;
  /// \brief Destroys the timer now (instead of with its instance); every copy goes stale.
  [[nodiscard]] status destroy() const;
  /// \brief True while armed and not yet fired.
  [[nodiscard]] bool pending() const noexcept;
  /// \brief The time it is armed for, if it is armed.
  [[nodiscard]] std::optional<std::uint64_t> expire_time() const noexcept;
  /// \brief The current time on its clock (ns).
  [[nodiscard]] std::uint64_t now() const noexcept;
  /// \brief Its clock.
  [[nodiscard]] clock_kind clock() const noexcept;
  /// \brief Ticks per second on every clock: time is in nanoseconds.
  static constexpr std::uint64_t frequency = detail::time_base::frequency;
  [[nodiscard]] detail::timer_id id() const noexcept { return id_; }

 private:
  [[nodiscard]] status arm_in_ns(std::chrono::nanoseconds d) const;
  detail::service_hub* hub_ = nullptr;
  detail::timer_id id_{};
};

/// \brief A poller: a callback the EMT runs every interval while the VM runs. A handle, like
/// timer; use it on the EMT.
class poller {
 public:
  poller() = default;
  poller(detail::service_hub* hub, detail::slot_id id) noexcept : hub_(hub), id_(id) {}
  explicit operator bool() const noexcept { return hub_ != nullptr; }
  /// \brief True until the poller is destroyed.
  [[nodiscard]] bool valid() const noexcept;
  /// \brief Removes the poller now (instead of with its instance), freeing its table slot.
  [[nodiscard]] status destroy() const;

 private:
  detail::service_hub* hub_ = nullptr;
  detail::slot_id id_{};
};

/// \brief A driver thread (see pdm/services/thread.hpp). A handle, like timer; use it on the EMT.
class driver_thread {
 public:
  driver_thread() = default;
  driver_thread(detail::service_hub* hub, detail::slot_id id) noexcept : hub_(hub), id_(id) {}
  explicit operator bool() const noexcept { return hub_ != nullptr; }
  /// \brief Its state (terminated once destroyed).
  [[nodiscard]] thread_state state() const noexcept;
  /// \brief Tells the thread to terminate, wakes it and joins it, now instead of with its
  /// instance. `thread_not_stopped` if it took longer than the VM's thread stop timeout (it was
  /// reported, waited for and joined all the same).
  [[nodiscard]] status destroy() const;

 private:
  detail::service_hub* hub_ = nullptr;
  detail::slot_id id_{};
};

/// \brief A queue of items of type T: producers on any thread insert without locks and without
/// allocating; the EMT hands the items to the queue's consumer in insertion order.
///
/// The handle shares the queue's storage, so a producer may keep and use it on any thread: once
/// the owning instance is gone, inserts fail with `resource_destroyed`.
template <class T>
class queue {
 public:
  queue() = default;
  explicit queue(std::shared_ptr<detail::queue_state<T>> s) noexcept : s_(std::move(s)) {}

  explicit operator bool() const noexcept { return s_ != nullptr; }
  /// \brief Inserts an item made from `args`: `queue_full` if every item is in use,
  /// `resource_destroyed` once the queue is gone. The error names the queue and its driver;
  /// building it allocates (the success path never does). See try_emplace for a code only.
  template <class... A>
  status emplace(A&&... args) const {
    const std::error_code code = try_emplace(std::forward<A>(args)...);
    if (!code) return ok();
    return failure(code);
  }
  /// \brief emplace(std::move(item)).
  [[nodiscard]] status insert(T item) const { return emplace(std::move(item)); }
  /// \brief Like emplace, but the failure is a bare code (no allocation, no message): for
  /// producers that retry.
  template <class... A>
  std::error_code try_emplace(A&&... args) const noexcept(std::is_nothrow_constructible_v<T, A...>) {
    if (!s_) return make_error_code(errc::resource_destroyed);
    const std::error_code code = s_->core.try_emplace(std::forward<A>(args)...);
    if (code) return code == make_error_code(errc::cancelled) ? make_error_code(errc::resource_destroyed) : code;
    if (s_->on_demand && s_->core.request_flush()) s_->signal->wake();
    return code;
  }
  /// \brief Asks the EMT to flush the queue at its next turn (any thread).
  void flush() const noexcept {
    if (s_ && s_->core.request_flush()) s_->signal->wake();
  }
  /// \brief How many items it holds at most.
  [[nodiscard]] std::size_t capacity() const noexcept { return s_ ? s_->core.capacity() : 0; }
  /// \brief How many items wait (exact when no producer is inserting).
  [[nodiscard]] std::size_t size() const noexcept { return s_ ? s_->core.size() : 0; }
  /// \brief False once the queue was destroyed with its instance.
  [[nodiscard]] bool valid() const noexcept { return s_ && !s_->core.closed(); }

 private:
  [[nodiscard]] error failure(std::error_code code) const {
    if (!s_) return error(errc::resource_destroyed, "the queue handle is empty");
    std::string d = "queue '" + s_->name + "'";
    if (code == make_error_code(errc::queue_full)) {
      d += " is full (" + std::to_string(s_->core.capacity()) + " items)";
    } else if (code == make_error_code(errc::resource_destroyed)) {
      d += " was destroyed with its instance";
    }
    return error(code, std::move(d)).driver(s_->driver, s_->instance);
  }
  std::shared_ptr<detail::queue_state<T>> s_;
};

namespace detail {

/// \brief How a VM sets up its services.
struct service_options {
  const manual_clock* clock = nullptr;  // null: steady_clock
  std::size_t max_pollers = 16;
  std::chrono::milliseconds thread_stop_timeout{5000};
  std::chrono::milliseconds slow_thread{5000};  // reported when a thread has not acknowledged a suspend or resume
  std::chrono::milliseconds queue_retry{1};     // a consumer that kept items is called again after this
};

// The services of one VM. Everything runs on its EMT except where a member says otherwise.
class service_hub final : private thread_host {
 public:
  using report_fn = std::function<void(report_kind, error)>;
  using suspend_fn = std::function<void(bool fatal)>;  // posts a suspend of the VM (any thread)

  service_hub(emt& e, const std::atomic<vm_state>& state, service_options options, report_fn report, suspend_fn suspend)
      : emt_(e),
        state_(state),
        options_(options),
        report_(std::move(report)),
        suspend_(std::move(suspend)),
        timers_(options.clock),
        signal_(std::make_shared<emt_signal>(&e)) {}
  service_hub(const service_hub&) = delete;
  service_hub& operator=(const service_hub&) = delete;
  service_hub(service_hub&&) = delete;
  service_hub& operator=(service_hub&&) = delete;
  // The VM has released every instance (and so every resource) by now.
  ~service_hub() { signal_->disconnect(); }

  [[nodiscard]] bool on_emt() const noexcept { return emt_.is_current(); }
  [[nodiscard]] timer_service& timers() noexcept { return timers_; }
  [[nodiscard]] const timer_service& timers() const noexcept { return timers_; }
  [[nodiscard]] pdm::statistics& statistics() noexcept { return stats_; }
  [[nodiscard]] const pdm::statistics& statistics() const noexcept { return stats_; }
  /// The saved-state units (automatic and hand-registered) of every instance.
  [[nodiscard]] state_unit_table& state_units() noexcept { return units_; }
  [[nodiscard]] const state_unit_table& state_units() const noexcept { return units_; }

  // --- Timers ---------------------------------------------------------------------------------

  result<timer> create_timer(const owner_ref& owner, clock_kind clock, std::function<void()> callback,
                             std::string_view name) {
    if (!on_emt()) return not_on_emt(owner, "create_timer");
    if (!callback)
      return error(errc::invalid_argument, "a timer needs a callback").driver(owner.driver, owner.instance);
    try {
      auto node = std::make_unique<timer_node>(*this, *owner.list, owner.driver, owner.instance);
      result<timer_id> id = timers_.create(clock, std::move(callback), std::string(name), node.get());
      if (!id) return std::move(id).error_value().driver(owner.driver, owner.instance);
      node->id = *id;
      owner.list->push(*node.release());
      return timer(this, *id);
    } catch (const std::bad_alloc&) {
      return error(errc::no_memory, "creating timer '" + std::string(name) + "'").driver(owner.driver, owner.instance);
    }
  }
  status timer_call(timer_id id, std::string_view what) const {
    if (!on_emt()) return error(errc::wrong_thread, "timer " + std::string(what) + " must be called on the EMT");
    if (!timers_.valid(id)) {
      return error(errc::resource_destroyed, "timer " + std::string(what) + ": the timer was destroyed");
    }
    return ok();
  }
  status destroy_timer(timer_id id) {
    if (status s = timer_call(id, "destroy"); !s) return s;
    auto* node = static_cast<timer_node*>(timers_.tag(id));
    node->list.unlink(*node);
    node->release();
    return ok();
  }

  // --- Pollers --------------------------------------------------------------------------------

  // A saved-state unit registered by hand (pdm/services/state_units.hpp); `path` is where the
  // instance is configured.
  result<state_unit> register_state_unit(const owner_ref& owner, std::string_view path, std::string_view name,
                                         std::uint32_t instance, std::uint32_t version, state_unit_hooks hooks) {
    if (!on_emt()) return not_on_emt(owner, "register_state_unit");
    return units_.add_manual(*owner.list, owner.driver, owner.instance, path, name, instance, version,
                             std::move(hooks));
  }

  result<poller> create_poller(const owner_ref& owner, std::function<void()> callback,
                               std::chrono::nanoseconds interval, std::string_view name) {
    if (!on_emt()) return not_on_emt(owner, "create_poller");
    if (!callback)
      return error(errc::invalid_argument, "a poller needs a callback").driver(owner.driver, owner.instance);
    if (interval <= std::chrono::nanoseconds::zero()) {
      return error(errc::invalid_argument, "a poller's interval must be positive").driver(owner.driver, owner.instance);
    }
    if (pollers_.size() >= options_.max_pollers) {
      return error(errc::poller_table_full, "all " + std::to_string(options_.max_pollers) +
                                                " poller slots are in use; cannot add poller '" + std::string(name) +
                                                "'")
          .driver(owner.driver, owner.instance);
    }
    try {
      auto rec = std::make_unique<poller_record>(*this, *owner.list, std::move(callback),
                                                 static_cast<std::uint64_t>(interval.count()), std::string(name),
                                                 owner.driver, owner.instance);
      rec->next_due = timers_.clocks().source_ns() + rec->interval;
      rec->id = pollers_.insert(rec.get());
      owner.list->push(*rec);
      return poller(this, rec.release()->id);
    } catch (const std::bad_alloc&) {
      return error(errc::no_memory, "creating poller '" + std::string(name) + "'").driver(owner.driver, owner.instance);
    }
  }
  [[nodiscard]] bool poller_valid(slot_id id) const noexcept {
    const poller_record* r = pollers_.find(id);
    return r != nullptr && !r->released;
  }
  status destroy_poller(slot_id id) {
    if (!on_emt()) return error(errc::wrong_thread, "poller destroy must be called on the EMT");
    poller_record* r = pollers_.find(id);
    if (r == nullptr || r->released) return error(errc::resource_destroyed, "poller destroy: the poller was destroyed");
    r->list.unlink(*r);
    r->release();
    return ok();
  }
  [[nodiscard]] std::size_t poller_count() const noexcept { return pollers_.size(); }

  // --- Queues ---------------------------------------------------------------------------------

  template <class T>
  result<queue<T>> create_queue(const owner_ref& owner, std::size_t capacity, std::chrono::nanoseconds interval,
                                std::function<bool(T&)> consumer, std::string_view name) {
    if (!on_emt()) return not_on_emt(owner, "create_queue");
    if (!consumer)
      return error(errc::invalid_argument, "a queue needs a consumer").driver(owner.driver, owner.instance);
    if (capacity == 0 || capacity > max_queue_capacity) {
      return error(errc::invalid_argument, "queue '" + std::string(name) + "': capacity " + std::to_string(capacity) +
                                               " is outside 1.." + std::to_string(max_queue_capacity))
          .driver(owner.driver, owner.instance);
    }
    if (interval < std::chrono::nanoseconds::zero()) {
      return error(errc::invalid_argument, "queue '" + std::string(name) + "': negative interval")
          .driver(owner.driver, owner.instance);
    }
    try {
      auto state = std::make_shared<queue_state<T>>(capacity, signal_, std::string(name), owner.driver, owner.instance,
                                                    interval.count() == 0);
      auto rec = std::make_unique<queue_record<T>>(*this, *owner.list, state, std::move(consumer),
                                                   static_cast<std::uint64_t>(interval.count()));
      rec->next_due = rec->interval != 0 ? timers_.clocks().source_ns() + rec->interval : no_time;
      rec->id = queues_.insert(rec.get());
      owner.list->push(*rec.release());  // owned by the list from now on
      return queue<T>(std::move(state));
    } catch (const std::bad_alloc&) {
      return error(errc::no_memory,
                   "creating queue '" + std::string(name) + "' of " + std::to_string(capacity) + " items")
          .driver(owner.driver, owner.instance);
    }
  }
  [[nodiscard]] std::size_t queue_count() const noexcept { return queues_.size(); }

  // --- Threads --------------------------------------------------------------------------------

  // The thread's function starts once its instance is constructed (`constructing` false, or
  // start_threads() called after the constructor) and the VM runs.
  result<driver_thread> create_thread(const owner_ref& owner, std::string_view name,
                                      std::function<void(thread_control&)> body, std::function<void()> wakeup,
                                      bool constructing) {
    if (!on_emt()) return not_on_emt(owner, "create_thread");
    if (!body) return error(errc::invalid_argument, "a thread needs a function").driver(owner.driver, owner.instance);
    try {
      auto rec = std::make_unique<thread_record>(static_cast<thread_host&>(*this), std::string(name),
                                                 std::string(owner.driver), owner.instance, std::move(body),
                                                 std::move(wakeup), options_.thread_stop_timeout);
      rec->owner = owner.list;
      rec->startable = !constructing;
      const slot_id id = threads_.insert(rec.get());
      try {
        rec->launch();
      } catch (const std::system_error& e) {
        threads_.erase(id);
        return error(errc::resource_limit, "cannot start thread '" + std::string(name) + "': " + e.what())
            .driver(owner.driver, owner.instance);
      } catch (...) {
        threads_.erase(id);
        throw;
      }
      owner.list->push(*rec);
      thread_record* made = rec.release();
      if (made->startable && state_.load(std::memory_order_acquire) == vm_state::running) (void)made->resume();
      return driver_thread(this, id);
    } catch (const std::bad_alloc&) {
      return error(errc::no_memory, "creating thread '" + std::string(name) + "'").driver(owner.driver, owner.instance);
    }
  }
  [[nodiscard]] thread_state thread_state_of(slot_id id) const noexcept {
    const thread_record* r = threads_.find(id);
    return r != nullptr ? r->state() : thread_state::terminated;
  }
  status destroy_thread(slot_id id) {
    if (!on_emt()) return error(errc::wrong_thread, "thread destroy must be called on the EMT");
    thread_record* r = threads_.find(id);
    if (r == nullptr) return error(errc::resource_destroyed, "thread destroy: the thread was destroyed");
    const bool in_time = r->terminate();
    const std::string name = r->name();
    const std::string driver = r->driver();
    const std::uint32_t instance = r->instance();
    r->owner->unlink(*r);
    r->release();
    if (!in_time) {
      return error(errc::thread_not_stopped, "thread '" + name + "' stopped only after the stop timeout")
          .driver(driver, instance);
    }
    return ok();
  }
  // Starts (initializing -> running, for threads whose instance is constructed) or resumes
  // (suspended -> running) every thread; waits until each acknowledged, calling wait() meanwhile.
  template <class Wait>
  void resume_threads(Wait wait) {
    for (std::size_t i = 0; i < threads_.capacity(); ++i) {
      if (thread_record* r = threads_.at(i); r != nullptr && thread_ready(*r)) (void)r->resume();
    }
    settle_threads(wait, "resume");
  }
  // Suspends every running thread; waits until each acknowledged, calling wait() meanwhile.
  template <class Wait>
  void suspend_threads(Wait wait) {
    for (std::size_t i = 0; i < threads_.capacity(); ++i) {
      if (thread_record* r = threads_.at(i)) (void)r->suspend();
    }
    settle_threads(wait, "suspend");
  }
  // The instance owning `list` is constructed: its threads may start, and do if the VM runs.
  void start_threads(resource_list& list) noexcept {
    const bool running = state_.load(std::memory_order_acquire) == vm_state::running;
    list.for_each([running](owned_resource& r) {
      if (!r.is_thread()) return;
      auto& t = static_cast<thread_record&>(r);  // NOLINT(*-static-cast-downcast): is_thread() said so
      t.startable = true;
      if (running) (void)t.resume();
    });
  }
  [[nodiscard]] std::size_t thread_count() const noexcept { return threads_.size(); }

  // --- Statistics -----------------------------------------------------------------------------

  template <class Stat>
  result<Stat*> add_statistic(const owner_ref& owner, std::string_view name, stat_unit unit,
                              std::string_view description) {
    if (!on_emt()) return not_on_emt(owner, "add statistic");
    try {
      std::string full = "/Drivers/";
      full += owner.driver;
      full += '-';
      full += std::to_string(owner.instance);
      if (!name.starts_with('/')) full += '/';
      full += name;
      auto node = std::make_unique<statistic_node>(*this, *owner.list, full);
      result<Stat*> made = error(errc::internal_error);
      if constexpr (std::is_same_v<Stat, stat_counter>) {
        made = stats_.add_counter(full, unit, std::string(description), owner.list);
      } else if constexpr (std::is_same_v<Stat, stat_profile>) {
        made = stats_.add_profile(full, unit, std::string(description), owner.list);
      } else {
        static_assert(std::is_same_v<Stat, stat_value>, "a statistic is a stat_counter, stat_profile or stat_value");
        made = stats_.add_value(full, unit, std::string(description), owner.list);
      }
      if (!made) return std::move(made).error_value().driver(owner.driver, owner.instance);
      owner.list->push(*node.release());
      return made;
    } catch (const std::bad_alloc&) {
      return error(errc::no_memory, "adding statistic '" + std::string(name) + "'")
          .driver(owner.driver, owner.instance);
    }
  }

  // --- Errors ---------------------------------------------------------------------------------

  using error_sink = std::function<void(const driver_error_event&)>;
  // Any thread. Returns a number for remove_error_sink.
  std::uint64_t add_error_sink(error_sink sink) {
    auto entry = std::make_shared<sink_entry>(std::move(sink));
    const std::lock_guard<std::mutex> hold(sinks_lock_);
    entry->id = ++last_sink_;
    sinks_.push_back(std::move(entry));
    return last_sink_;
  }
  // Any thread. Once it returns, the sink is not running and is never called again (unless it
  // is called from within that sink, which then finishes its own call).
  bool remove_error_sink(std::uint64_t id) {
    std::shared_ptr<sink_entry> gone;
    {
      const std::lock_guard<std::mutex> hold(sinks_lock_);
      auto it = std::find_if(sinks_.begin(), sinks_.end(), [id](const auto& e) { return e->id == id; });
      if (it == sinks_.end()) return false;
      gone = std::move(*it);
      sinks_.erase(it);
    }
    gone->removed.store(true);  // seq_cst, against deliver()'s in_flight increment then removed load
    int busy = gone->in_flight.load();
    const int own = own_sink_calls(*gone);
    while (busy > own) {
      gone->in_flight.wait(busy);
      busy = gone->in_flight.load();
    }
    return true;
  }
  // Any thread.
  error set_error(const owner_ref& owner, error e, const pdm::source_location& where) {
    if (e.driver_name().empty()) e.driver(owner.driver, owner.instance);
    driver_error_event ev;
    ev.what_kind = driver_error_event::kind::error;
    ev.what = e;
    ev.where = std::string(where.file_name()) + ':' + std::to_string(where.line()) + " (" + where.function_name() + ')';
    deliver(ev);
    return e;
  }
  // Any thread.
  status set_runtime_error(const owner_ref& owner, runtime_error_flags flags, std::string_view id,
                           std::string message) {
    if (id.empty()) {
      return error(errc::invalid_argument, "a runtime error needs an id").driver(owner.driver, owner.instance);
    }
    driver_error_event ev;
    ev.what_kind = driver_error_event::kind::runtime_error;
    ev.what = error(errc::internal_error, std::move(message)).driver(owner.driver, owner.instance);
    ev.flags = flags;
    ev.id = std::string(id);
    deliver(ev);
    if (has_flag(flags, runtime_error_flags::fatal) || has_flag(flags, runtime_error_flags::suspend)) {
      if (suspend_) suspend_(has_flag(flags, runtime_error_flags::fatal));
    }
    return ok();
  }

  // --- The EMT's turn -------------------------------------------------------------------------

  // Fires due timers, runs due pollers (while the VM runs) and flushes queues that asked for it
  // or whose interval came; returns how many callbacks ran and when (steady_clock) there is
  // next something to do, if the EMT must wake by itself for it (never with a manual clock,
  // which wakes the EMT when it moves).
  emt_turn run_due() {
    emt_turn t;
    t.ran += fire_timers();
    const std::uint64_t now = timers_.clocks().source_ns();
    std::uint64_t next = no_time;
    if (state_.load(std::memory_order_acquire) == vm_state::running) {
      t.ran += run_pollers(now, next);
    } else {
      // Pollers wait for the VM to run; resume_pollers() sets their next time when it does.
    }
    t.ran += flush_queues(now, next);
    if (std::optional<std::uint64_t> due = timers_.next_due_source_ns()) next = std::min(next, *due);
    if (next != no_time && timers_.clocks().source() == nullptr) {
      const std::uint64_t at = timers_.clocks().source_ns();
      const auto wait = std::chrono::nanoseconds(next > at ? next - at : 0);
      t.next = std::chrono::steady_clock::now() + wait;
    }
    return t;
  }
  // The VM starts running: pollers start counting their interval from now.
  void resume_pollers() noexcept {
    const std::uint64_t now = timers_.clocks().source_ns();
    for (std::size_t i = 0; i < pollers_.capacity(); ++i) {
      if (poller_record* r = pollers_.at(i)) r->next_due = now + r->interval;
    }
  }

  // Releases what `list` owns: threads first (before the driver's destructor runs), or all.
  static void release_threads(resource_list& list) noexcept {
    list.release_if([](const owned_resource& r) { return r.is_thread(); });
  }
  static void release_all(resource_list& list) noexcept { list.release_all(); }

 private:
  static constexpr std::uint64_t no_time = std::numeric_limits<std::uint64_t>::max();
  static constexpr std::size_t max_queue_capacity = std::size_t{1} << 24;

  // --- Records --------------------------------------------------------------------------------

  struct timer_node final : owned_resource {
    timer_node(service_hub& h, resource_list& l, std::string_view drv, std::uint32_t inst)
        : hub(h), list(l), driver(drv), instance(inst) {}
    void release() noexcept override {
      (void)hub.timers_.destroy(id);
      delete this;  // NOLINT(cppcoreguidelines-owning-memory): owned through the resource list
    }
    service_hub& hub;
    resource_list& list;
    std::string driver;  // for reports
    std::uint32_t instance;
    timer_id id{};
  };

  struct poller_record final : owned_resource {
    poller_record(service_hub& h, resource_list& l, std::function<void()> fn, std::uint64_t every, std::string n,
                  std::string_view drv, std::uint32_t inst)
        : hub(h), list(l), callback(std::move(fn)), interval(every), name(std::move(n)), driver(drv), instance(inst) {}
    void release() noexcept override {
      hub.pollers_.erase(id);
      released = true;
      if (!busy) delete this;  // NOLINT(cppcoreguidelines-owning-memory): else the runner deletes it
    }
    service_hub& hub;
    resource_list& list;
    std::function<void()> callback;
    std::uint64_t interval;
    std::uint64_t next_due = 0;
    std::string name;
    std::string driver;
    std::uint32_t instance;
    slot_id id{};
    bool busy = false;
    bool released = false;
  };

  struct queue_record_base : owned_resource {
    queue_record_base(service_hub& h, resource_list& l, std::uint64_t every) noexcept
        : hub(h), list(l), interval(every) {}
    queue_record_base(const queue_record_base&) = delete;
    queue_record_base& operator=(const queue_record_base&) = delete;
    queue_record_base(queue_record_base&&) = delete;
    queue_record_base& operator=(queue_record_base&&) = delete;
    virtual std::size_t consume() = 0;  // true: kept items
    virtual bool take_flush_request() noexcept = 0;
    [[nodiscard]] virtual bool has_items() const noexcept = 0;
    virtual void close() noexcept = 0;  // any thread: producers are refused from now on
    virtual void drop() noexcept = 0;   // consumer side: destroys the waiting items
    [[nodiscard]] virtual std::string_view name() const noexcept = 0;
    [[nodiscard]] virtual std::string_view driver() const noexcept = 0;
    [[nodiscard]] virtual std::uint32_t instance() const noexcept = 0;
    // Released during its own consumer (which detached the instance, say), the queue is closed
    // at once; its consumer is not called again, and the runner drops the items and frees it.
    void release() noexcept override {
      hub.queues_.erase(id);
      close();
      released = true;
      if (!busy) {
        drop();
        destroy();
      }
    }
    virtual void destroy() noexcept = 0;

    service_hub& hub;
    resource_list& list;
    std::uint64_t interval;  // ns; 0: on demand
    std::uint64_t next_due = 0;
    std::uint64_t retry_at = no_time;  // the consumer kept items: call it again then
    slot_id id{};
    bool busy = false;
    bool released = false;

   protected:
    ~queue_record_base() = default;
  };

  template <class T>
  struct queue_record final : queue_record_base {
    queue_record(service_hub& h, resource_list& l, std::shared_ptr<queue_state<T>> s, std::function<bool(T&)> c,
                 std::uint64_t every)
        : queue_record_base(h, l, every), state(std::move(s)), consumer(std::move(c)) {}
    std::size_t consume() override {
      return state->core.consume([this](T& item) { return !released && consumer(item); });
    }
    bool take_flush_request() noexcept override { return state->core.take_flush_request(); }
    [[nodiscard]] bool has_items() const noexcept override { return state->core.size() != 0; }
    void close() noexcept override { state->core.close(); }
    void drop() noexcept override { (void)state->core.drop_all(); }
    [[nodiscard]] std::string_view name() const noexcept override { return state->name; }
    [[nodiscard]] std::string_view driver() const noexcept override { return state->driver; }
    [[nodiscard]] std::uint32_t instance() const noexcept override { return state->instance; }
    void destroy() noexcept override { delete this; }  // NOLINT(cppcoreguidelines-owning-memory)
    std::shared_ptr<queue_state<T>> state;
    std::function<bool(T&)> consumer;
  };

  struct statistic_node final : owned_resource {
    statistic_node(service_hub& h, resource_list& l, std::string n) : hub(h), list(l), name(std::move(n)) {}
    void release() noexcept override {
      (void)hub.stats_.remove(name);
      delete this;  // NOLINT(cppcoreguidelines-owning-memory): owned through the resource list
    }
    service_hub& hub;
    resource_list& list;
    std::string name;
  };

  // --- Helpers --------------------------------------------------------------------------------

  [[nodiscard]] static error not_on_emt(const owner_ref& owner, std::string_view what) {
    return error(errc::wrong_thread, std::string(what) + " must be called on the EMT")
        .driver(owner.driver, owner.instance);
  }

  void report_exception(std::string what, std::string_view driver, std::uint32_t instance) noexcept {
    try {
      try {
        throw;
      } catch (const std::exception& e) {
        what += " threw: ";
        what += e.what();
      } catch (...) {
        what += " threw a non-standard exception";
      }
      report_(report_kind::hook_threw, error(errc::internal_error, std::move(what)).driver(driver, instance));
    } catch (...) {
      // Out of memory while reporting: the exception is dropped, the EMT goes on.
    }
  }

  std::size_t fire_timers() {
    std::size_t fired = 0;
    for (;;) {
      try {
        fired += timers_.run_due();
        return fired;
      } catch (...) {
        ++fired;
        const timer_id id = timers_.last_fired();
        const auto* node = static_cast<const timer_node*>(timers_.tag(id));
        if (node != nullptr) {
          report_exception("timer '" + std::string(timers_.name(id)) + "'", node->driver, node->instance);
        } else {
          report_exception("a timer callback (its timer is gone)", {}, no_instance);
        }
      }
    }
  }

  std::size_t run_pollers(std::uint64_t now, std::uint64_t& next) {
    std::size_t ran = 0;
    for (std::size_t i = 0; i < pollers_.capacity(); ++i) {
      poller_record* r = pollers_.at(i);
      if (r == nullptr || r->busy) continue;
      if (r->next_due <= now) {
        r->busy = true;
        try {
          r->callback();
        } catch (...) {
          report_exception("poller '" + r->name + "'", r->driver, r->instance);
        }
        r->busy = false;
        ++ran;
        if (r->released) {
          delete r;  // NOLINT(cppcoreguidelines-owning-memory): destroyed during its own callback
          continue;
        }
        // Every interval from the last time it was due, never piling up after a late turn.
        r->next_due = std::max(r->next_due + r->interval, now + 1);
      }
      next = std::min(next, r->next_due);
    }
    return ran;
  }

  std::size_t flush_queues(std::uint64_t now, std::uint64_t& next) {
    std::size_t ran = 0;
    for (std::size_t i = 0; i < queues_.capacity(); ++i) {
      queue_record_base* r = queues_.at(i);
      if (r == nullptr || r->busy) continue;
      bool due = r->take_flush_request();
      if (r->interval != 0 && r->next_due <= now) {
        due = true;
        r->next_due = std::max(r->next_due + r->interval, now + 1);
      }
      if (r->retry_at <= now) due = true;
      if (due && r->has_items()) {
        r->busy = true;
        r->retry_at = no_time;
        try {
          ran += r->consume();
        } catch (...) {
          report_exception("the consumer of queue '" + std::string(r->name()) + "'", r->driver(), r->instance());
        }
        r->busy = false;
        if (r->released) {  // released during its own consumer
          r->drop();
          r->destroy();
          continue;
        }
        // Items kept by the consumer (or that arrived meanwhile) get another turn soon.
        if (r->has_items()) {
          r->retry_at = now + static_cast<std::uint64_t>(
                                  std::chrono::duration_cast<std::chrono::nanoseconds>(options_.queue_retry).count());
        }
      }
      if (r->interval != 0) next = std::min(next, r->next_due);
      next = std::min(next, r->retry_at);
    }
    return ran;
  }

  // An initializing thread starts only once its instance is constructed (start_threads).
  static bool thread_ready(const thread_record& r) noexcept {
    return r.state() != thread_state::initializing || r.startable;
  }

  template <class Wait>
  void settle_threads(Wait wait, std::string_view what) {
    const auto start = std::chrono::steady_clock::now();
    bool reported = false;
    for (;;) {
      bool settled = true;
      const thread_record* late = nullptr;
      for (std::size_t i = 0; i < threads_.capacity(); ++i) {
        if (const thread_record* r = threads_.at(i); r != nullptr && !r->settled()) {
          settled = false;
          late = r;
          break;
        }
      }
      if (settled) return;
      if (!reported && std::chrono::steady_clock::now() - start >= options_.slow_thread) {
        reported = true;
        report_(
            report_kind::thread_not_stopped,
            error(errc::timeout, "thread '" + late->name() + "' has not acknowledged the " + std::string(what) +
                                     " after " + std::to_string(options_.slow_thread.count()) + " ms; still waiting")
                .driver(late->driver(), late->instance()));
      }
      wait();
    }
  }

  // thread_host
  void thread_changed() noexcept override { emt_.wake(); }
  void thread_report(report_kind kind, error what) noexcept override {
    try {
      report_(kind, std::move(what));
    } catch (...) {
      // Out of memory while reporting: dropped.
    }
  }
  void thread_forget(thread_record& r) noexcept override {
    for (std::size_t i = 0; i < threads_.capacity(); ++i) {
      if (threads_.at(i) == &r) {
        threads_.erase(threads_.id_at(i));
        return;
      }
    }
  }

  // One installed error sink. in_flight counts the calls under way, so that remove_error_sink
  // can wait for them.
  struct sink_entry {
    explicit sink_entry(error_sink f) : fn(std::move(f)) {}
    error_sink fn;
    std::uint64_t id = 0;
    std::atomic<bool> removed{false};
    std::atomic<int> in_flight{0};
  };
  // The sinks this thread is inside (a sink may report, or remove itself).
  static std::vector<const sink_entry*>& sinks_here() {
    thread_local std::vector<const sink_entry*> here;
    return here;
  }
  static int own_sink_calls(const sink_entry& e) {
    return static_cast<int>(std::count(sinks_here().begin(), sinks_here().end(), &e));
  }

  void deliver(const driver_error_event& ev) {
    std::vector<std::shared_ptr<sink_entry>> sinks;
    {
      const std::lock_guard<std::mutex> hold(sinks_lock_);
      sinks = sinks_;
    }
    if (sinks.empty()) {
      std::string d =
          ev.what_kind == driver_error_event::kind::error ? "set_error: " : "runtime error '" + ev.id + "': ";
      d += ev.what.detail().empty() ? ev.what.code().message() : ev.what.detail();
      if (!ev.where.empty()) d += " at " + ev.where;
      error e(ev.what.code(), std::move(d));
      e.driver(ev.what.driver_name(), ev.what.instance());
      if (!ev.what.config_path().empty()) e.path(ev.what.config_path());
      report_(report_kind::driver_error, std::move(e));
      return;
    }
    for (const std::shared_ptr<sink_entry>& s : sinks) {
      s->in_flight.fetch_add(1);  // seq_cst: see remove_error_sink
      if (!s->removed.load()) {
        sinks_here().push_back(s.get());
        try {
          s->fn(ev);
        } catch (...) {
          report_exception("an error sink", ev.what.driver_name(), ev.what.instance());
        }
        sinks_here().pop_back();
      }
      s->in_flight.fetch_sub(1);
      s->in_flight.notify_all();
    }
  }

  emt& emt_;
  const std::atomic<vm_state>& state_;
  service_options options_;
  report_fn report_;
  suspend_fn suspend_;
  timer_service timers_;
  pdm::statistics stats_;
  state_unit_table units_;
  slot_table<poller_record> pollers_;
  slot_table<queue_record_base> queues_;
  slot_table<thread_record> threads_;
  std::shared_ptr<emt_signal> signal_;
  std::mutex sinks_lock_;
  std::vector<std::shared_ptr<sink_entry>> sinks_;
  std::uint64_t last_sink_ = 0;
};

}  // namespace detail

// --- Handles ------------------------------------------------------------------------------------

inline status timer::arm_at(std::uint64_t deadline) const {
  if (hub_ == nullptr) return error(errc::resource_destroyed, "the timer handle is empty");
  if (status s = hub_->timer_call(id_, "arm_at"); !s) return s;
  return hub_->timers().arm_at(id_, deadline);
}
inline status timer::arm_in_ns(std::chrono::nanoseconds d) const {
  if (hub_ == nullptr) return error(errc::resource_destroyed, "the timer handle is empty");
  if (status s = hub_->timer_call(id_, "arm_in"); !s) return s;
  return hub_->timers().arm_in(id_, d);
}
inline status timer::stop() const {
  if (hub_ == nullptr) return error(errc::resource_destroyed, "the timer handle is empty");
  if (status s = hub_->timer_call(id_, "stop"); !s) return s;
  return hub_->timers().stop(id_);
}
inline status timer::destroy() const {
  if (hub_ == nullptr) return error(errc::resource_destroyed, "the timer handle is empty");
  return hub_->destroy_timer(id_);
}
inline bool timer::pending() const noexcept { return hub_ != nullptr && hub_->timers().pending(id_); }
inline std::optional<std::uint64_t> timer::expire_time() const noexcept {
  return hub_ != nullptr ? hub_->timers().expire_time(id_) : std::nullopt;
}
inline std::uint64_t timer::now() const noexcept {
  return hub_ != nullptr ? hub_->timers().now(hub_->timers().clock_of(id_)) : 0;
}
inline clock_kind timer::clock() const noexcept {
  return hub_ != nullptr ? hub_->timers().clock_of(id_) : clock_kind::virtual_time;
}

inline bool poller::valid() const noexcept { return hub_ != nullptr && hub_->poller_valid(id_); }
inline status poller::destroy() const {
  if (hub_ == nullptr) return error(errc::resource_destroyed, "the poller handle is empty");
  return hub_->destroy_poller(id_);
}

inline thread_state driver_thread::state() const noexcept {
  return hub_ != nullptr ? hub_->thread_state_of(id_) : thread_state::terminated;
}
inline status driver_thread::destroy() const {
  if (hub_ == nullptr) return error(errc::resource_destroyed, "the thread handle is empty");
  return hub_->destroy_thread(id_);
}

}  // namespace pdm
