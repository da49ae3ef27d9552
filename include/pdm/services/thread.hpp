// pdm/services/thread.hpp - driver threads whose lifecycle follows the VM's.
//
// A driver that needs a thread of its own (an I/O loop, a network listener) asks its context for
// one. The thread is a real OS thread, but the driver's function only starts running once the
// instance is constructed and the VM runs, it is suspended when the VM is suspended and resumed
// with it, and it is woken, told to terminate and joined when the instance goes - before the
// driver's destructor runs, so a thread never touches a driver being destroyed.
//
// States (thread_state):
//
//   initializing --start--> running --suspend--> suspending --ack--> suspended
//        |                     ^                                         |
//        |                     +--------ack------- resuming <--resume----+
//        +--------------------------------> terminating --> terminated
//                 (terminate, from any state but terminated)
//
// The driver's function sees the changes through its thread_control: `while (t.running())`
// acknowledges a suspend (and waits until the VM resumes) and ends the loop on terminate;
// `t.sleep(d)` returns early when a change is asked for. For a thread blocked elsewhere (a
// socket, a pipe) the driver gives a wakeup callback, which the EMT calls after each request.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "pdm/core/error.hpp"
#include "pdm/services/report.hpp"
#include "pdm/services/resource.hpp"

namespace pdm {

/// \brief Where a driver thread is in its lifecycle (see pdm/services/thread.hpp).
enum class thread_state : std::uint8_t {
  initializing,  ///< made; its function has not started (the instance is being constructed or the VM is not running)
  running,       ///< its function runs
  suspending,    ///< the VM asked it to suspend; it has not acknowledged yet
  suspended,     ///< it acknowledged the suspend and waits in thread_control::running()
  resuming,      ///< the VM asked it to resume; it has not acknowledged yet
  terminating,   ///< it was asked to end; its function should return
  terminated,    ///< its function returned (or never started)
};

/// \brief The state's name ("initializing", "running", ...).
[[nodiscard]] constexpr std::string_view to_string(thread_state s) noexcept {
  switch (s) {
    case thread_state::initializing:
      return "initializing";
    case thread_state::running:
      return "running";
    case thread_state::suspending:
      return "suspending";
    case thread_state::suspended:
      return "suspended";
    case thread_state::resuming:
      return "resuming";
    case thread_state::terminating:
      return "terminating";
    case thread_state::terminated:
      return "terminated";
  }
  return "unknown";
}

namespace detail {
class thread_record;

// What a thread record needs from the services that own it.
class thread_host {
 public:
  virtual void thread_changed() noexcept = 0;  // a thread acknowledged something: wake the EMT
  virtual void thread_report(report_kind kind, error what) noexcept = 0;
  virtual void thread_forget(thread_record& r) noexcept = 0;  // released: drop it from the VM's table

 protected:
  thread_host() = default;
  thread_host(const thread_host&) = default;
  thread_host& operator=(const thread_host&) = default;
  thread_host(thread_host&&) = default;
  thread_host& operator=(thread_host&&) = default;
  ~thread_host() = default;
};
}  // namespace detail

/// \brief What a driver thread's function gets: its state, the loop condition and a sleep that
/// state changes cut short. Used on that thread only.
class thread_control {
 public:
  thread_control(const thread_control&) = delete;
  thread_control& operator=(const thread_control&) = delete;
  thread_control(thread_control&&) = delete;
  thread_control& operator=(thread_control&&) = delete;
  ~thread_control() = default;

  /// \brief The thread's state now.
  [[nodiscard]] thread_state state() const noexcept;
  /// \brief The loop condition: true while the thread should run. When the VM suspends, it
  /// acknowledges and blocks until the VM resumes (then true) or the thread must end (false).
  /// Returns false once the thread is asked to terminate.
  [[nodiscard]] bool running();
  /// \brief Sleeps up to `d`; returns true if the whole time passed, false if a suspend or
  /// terminate request cut it short (or was already pending). Follow it with running().
  bool sleep(std::chrono::nanoseconds d);  // NOLINT(modernize-use-nodiscard): often called for its wait alone
  /// \brief The name the driver gave the thread.
  [[nodiscard]] std::string_view name() const noexcept;

 private:
  friend class detail::thread_record;
  explicit thread_control(detail::thread_record& r) noexcept : r_(r) {}
  detail::thread_record& r_;
};

namespace detail {

// One driver thread. Owned by its instance's resource_list; the VM's services keep a table of
// them for suspend and resume. Its state changes under `lock_`; `state_` is atomic so that
// state() can read it without the lock.
class thread_record final : public owned_resource {
 public:
  using body_fn = std::function<void(thread_control&)>;

  thread_record(thread_host& host, std::string name, std::string driver, std::uint32_t instance, body_fn body,
                std::function<void()> wakeup, std::chrono::milliseconds stop_timeout)
      : host_(host),
        name_(std::move(name)),
        driver_(std::move(driver)),
        instance_(instance),
        body_(std::move(body)),
        wakeup_(std::move(wakeup)),
        stop_timeout_(stop_timeout) {}
  thread_record(const thread_record&) = delete;
  thread_record& operator=(const thread_record&) = delete;
  thread_record(thread_record&&) = delete;
  thread_record& operator=(thread_record&&) = delete;
  ~thread_record() = default;  // joined by release()

  // Starts the OS thread, which waits in `initializing`. Throws std::system_error if it cannot.
  void launch() {
    thread_ = std::thread([this] { main(); });
  }

  [[nodiscard]] bool is_thread() const noexcept override { return true; }
  [[nodiscard]] thread_state state() const noexcept { return state_.load(std::memory_order_acquire); }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const std::string& driver() const noexcept { return driver_; }
  [[nodiscard]] std::uint32_t instance() const noexcept { return instance_; }

  resource_list* owner = nullptr;  // the instance's list it is linked into
  bool startable = false;          // its instance is constructed: the VM may start it

  // --- The EMT's side ---------------------------------------------------------------------------

  // initializing -> running (the function starts); suspended -> resuming. Returns whether an
  // acknowledgement is awaited (resuming).
  bool resume() {
    bool awaited = false;
    {
      const std::lock_guard<std::mutex> hold(lock_);
      const thread_state s = state();
      if (s == thread_state::initializing) {
        started_ = true;
        set(thread_state::running);
      } else if (s == thread_state::suspended || s == thread_state::suspending) {
        set(thread_state::resuming);
        awaited = true;
      } else {
        return false;
      }
    }
    changed_.notify_all();
    call_wakeup();
    return awaited;
  }
  // running or resuming -> suspending. Returns whether an acknowledgement is awaited.
  bool suspend() {
    {
      const std::lock_guard<std::mutex> hold(lock_);
      const thread_state s = state();
      if (s != thread_state::running && s != thread_state::resuming) return false;
      set(thread_state::suspending);
    }
    changed_.notify_all();
    call_wakeup();
    return true;
  }
  // True when no acknowledgement is awaited any more.
  [[nodiscard]] bool settled() const noexcept {
    const thread_state s = state();
    return s != thread_state::suspending && s != thread_state::resuming;
  }

  // Asks the thread to end, wakes it, waits for its function to return (reporting it once if
  // that takes longer than the stop timeout, and waiting on), and joins it. Returns whether it
  // ended in time.
  bool terminate() noexcept {
    bool asked = false;
    {
      const std::lock_guard<std::mutex> hold(lock_);
      if (state() != thread_state::terminated) {
        set(thread_state::terminating);
        asked = true;
      }
    }
    bool in_time = true;
    if (asked) {
      changed_.notify_all();
      call_wakeup();
      std::unique_lock<std::mutex> hold(lock_);
      in_time = changed_.wait_for(hold, stop_timeout_, [this] { return state() == thread_state::terminated; });
      if (!in_time) {
        hold.unlock();
        host_.thread_report(report_kind::thread_not_stopped,
                            error(errc::thread_not_stopped, "thread '" + name_ + "' has not stopped " +
                                                                std::to_string(stop_timeout_.count()) +
                                                                " ms after it was told to terminate; still waiting")
                                .driver(driver_, instance_));
        hold.lock();
        changed_.wait(hold, [this] { return state() == thread_state::terminated; });
      }
    }
    if (thread_.joinable()) thread_.join();
    return in_time;
  }

  void release() noexcept override {
    (void)terminate();
    host_.thread_forget(*this);
    delete this;  // NOLINT(cppcoreguidelines-owning-memory): the record owns itself once linked
  }

 private:
  friend class pdm::thread_control;

  void set(thread_state s) noexcept { state_.store(s, std::memory_order_release); }

  void call_wakeup() noexcept {
    if (!wakeup_) return;
    try {
      wakeup_();
    } catch (...) {
      host_.thread_report(report_kind::hook_threw,
                          error(errc::internal_error, "the wakeup callback of thread '" + name_ + "' threw")
                              .driver(driver_, instance_));
    }
  }

  // Thread side: tell the EMT (waiting for an acknowledgement or a termination).
  void acknowledged() noexcept {
    changed_.notify_all();
    host_.thread_changed();
  }

  void main() noexcept {
    {
      std::unique_lock<std::mutex> hold(lock_);
      // Once started, the function runs even if a terminate follows at once (it then sees
      // running() false): a started thread's function always gets to clean up.
      changed_.wait(hold, [this] { return started_ || state() == thread_state::terminating; });
      if (!started_) {
        set(thread_state::terminated);
        hold.unlock();
        acknowledged();
        return;
      }
    }
    try {
      body_(control_);
    } catch (const std::exception& e) {
      host_.thread_report(report_kind::hook_threw,
                          error(errc::internal_error, "thread '" + name_ + "' ended with an exception: " + e.what())
                              .driver(driver_, instance_));
    } catch (...) {
      host_.thread_report(report_kind::hook_threw,
                          error(errc::internal_error, "thread '" + name_ + "' ended with a non-standard exception")
                              .driver(driver_, instance_));
    }
    {
      const std::lock_guard<std::mutex> hold(lock_);
      set(thread_state::terminated);
    }
    acknowledged();
  }

  bool loop_condition() {
    std::unique_lock<std::mutex> hold(lock_);
    for (;;) {
      switch (state()) {
        case thread_state::running:
          return true;
        case thread_state::resuming:
          set(thread_state::running);
          hold.unlock();
          acknowledged();
          return true;
        case thread_state::suspending:
          set(thread_state::suspended);
          hold.unlock();
          acknowledged();
          hold.lock();
          break;
        case thread_state::terminating:
        case thread_state::terminated:
          return false;
        case thread_state::suspended:
        case thread_state::initializing:
          break;
      }
      changed_.wait(hold, [this] {
        const thread_state s = state();
        return s != thread_state::suspended && s != thread_state::initializing;
      });
    }
  }

  bool sleep_for(std::chrono::nanoseconds d) {
    std::unique_lock<std::mutex> hold(lock_);
    return !changed_.wait_for(hold, d, [this] { return state() != thread_state::running; });
  }

  thread_host& host_;
  std::string name_;
  std::string driver_;
  std::uint32_t instance_;
  body_fn body_;
  std::function<void()> wakeup_;
  std::chrono::milliseconds stop_timeout_;
  thread_control control_{*this};
  std::mutex lock_;
  std::condition_variable changed_;
  std::atomic<thread_state> state_{thread_state::initializing};
  bool started_ = false;  // resume() started the function (under lock_)
  std::thread thread_;
};

}  // namespace detail

inline thread_state thread_control::state() const noexcept { return r_.state(); }
inline bool thread_control::running() { return r_.loop_condition(); }
inline bool thread_control::sleep(std::chrono::nanoseconds d) { return r_.sleep_for(d); }
inline std::string_view thread_control::name() const noexcept { return r_.name(); }

}  // namespace pdm
