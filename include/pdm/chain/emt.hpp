// pdm/chain/emt.hpp - the emulation thread (EMT): where a VM's chain operations run.
//
// Every change to a VM's chains, and every power notification, happens on one thread, the EMT,
// so drivers never see two chain operations at once. The EMT is either a thread the VM starts
// (emt_mode::own_thread) or the thread that made the VM (emt_mode::current_thread), which then
// runs the EMT's work itself by calling run_once() or wait_until(); tests and single-threaded
// hosts use the second. Besides requests, each turn of the EMT runs its service (set_service: a
// VM's due timers, pollers and queue flushes), which also says when it next has work, so the EMT
// sleeps until then, a request, or a wake().
//
// Other threads hand work to the EMT as requests: post() queues a function, call() queues one
// and waits for its result. Requests run in the order they were posted. A request may be tagged
// with an owner (a driver instance); cancel_owned() drops the owner's requests that have not
// run, so nothing runs on behalf of a destroyed instance. Requests still queued when the EMT
// stops never run, and their callers get errc::cancelled.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "pdm/core/error.hpp"

namespace pdm {

namespace detail {
// What emt::call returns for a function returning R: R itself if it is a result, else result<R>.
template <class R>
struct call_result {
  using type = result<R>;
};
template <class R>
struct call_result<result<R>> {
  using type = result<R>;
};
template <class R>
using call_result_t = typename call_result<R>::type;

// Its address identifies the calling thread (cheaper than std::this_thread::get_id()).
inline thread_local char thread_tag = 0;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
// Set on an EMT thread that stopped itself: its loop must not touch its emt again.
inline thread_local bool emt_abandoned = false;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
}  // namespace detail

/// \brief What one turn of an EMT's service did: how many callbacks ran, and when it next has
/// something to do (nothing, or it will be woken: nullopt).
struct emt_turn {
  std::size_t ran = 0;
  std::optional<std::chrono::steady_clock::time_point> next;
};

/// \brief Which thread is a VM's EMT.
enum class emt_mode {
  own_thread,      ///< the VM starts a thread and runs every request there
  current_thread,  ///< the thread that makes the VM is the EMT and runs requests when it asks to
};

/// \brief A VM's emulation thread and its request queue.
class emt {
 public:
  /// \brief Starts the EMT: a new thread (own_thread) or the calling thread (current_thread).
  explicit emt(emt_mode mode) : mode_(mode) {
    if (mode == emt_mode::current_thread) {
      id_ = std::this_thread::get_id();
      tag_ = &detail::thread_tag;
      return;
    }
    std::unique_lock<std::mutex> hold(lock_);
    thread_ = std::thread([this] { loop(); });
    id_ = thread_.get_id();
    wakeup_.wait(hold, [this] { return tag_ != nullptr; });  // the thread has said who it is
  }
  emt(const emt&) = delete;
  emt& operator=(const emt&) = delete;
  emt(emt&&) = delete;
  emt& operator=(emt&&) = delete;
  /// \brief Stops the EMT (see stop()).
  ~emt() { stop(); }

  [[nodiscard]] emt_mode mode() const noexcept { return mode_; }
  /// \brief True on the EMT: one thread-local address compared, no library call.
  [[nodiscard]] bool is_current() const noexcept { return &detail::thread_tag == tag_.load(std::memory_order_relaxed); }
  /// \brief The EMT's thread id.
  [[nodiscard]] std::thread::id id() const noexcept { return id_; }

  /// \brief Queues `work` (from any thread), tagged with `owner` (may be null). Returns false,
  /// and drops `work`, once the EMT has stopped.
  bool post(std::function<void()> work, const void* owner = nullptr) {
    // Notified under the lock: once it is released, the EMT may run the request, and the
    // request may destroy this emt.
    const std::lock_guard<std::mutex> hold(lock_);
    if (stopped_) return false;
    queue_.push_back(request{std::move(work), owner, next_sequence_++});
    wakeup_.notify_all();
    return true;
  }

  /// \brief Runs `f` on the EMT and returns its result: at once on the EMT, otherwise posted and
  /// awaited. `cancelled` if the EMT stops before it runs. F returns void, a status or result<T>,
  /// or any other value type (wrapped in a result).
  template <class F>
  auto call(F&& f) -> detail::call_result_t<std::invoke_result_t<F&>> {
    using R = std::invoke_result_t<F&>;
    using out = detail::call_result_t<R>;
    if (is_current()) return run_now<R, out>(f);
    struct shared {
      std::mutex m;
      std::condition_variable cv;
      bool finished = false;
      std::optional<out> value;
      std::exception_ptr thrown;  // what f threw, rethrown to the caller
    };
    auto s = std::make_shared<shared>();
    // Signals the caller when the request runs or is dropped without running.
    struct signal {
      std::shared_ptr<shared> s;
      signal(const signal&) = delete;  // std::function copies: only moves happen (see below)
      signal& operator=(const signal&) = delete;
      signal(signal&&) noexcept = default;
      signal& operator=(signal&&) noexcept = default;
      explicit signal(std::shared_ptr<shared> p) noexcept : s(std::move(p)) {}
      ~signal() {
        if (!s) return;
        {
          const std::lock_guard<std::mutex> hold(s->m);
          s->finished = true;
        }
        s->cv.notify_all();
      }
    };
    auto sig = std::make_shared<signal>(s);  // shared_ptr: std::function needs a copyable callable
    const bool queued = post([sig, &f]() mutable {
      std::optional<out> v;
      std::exception_ptr thrown;
      try {
        v.emplace(run_now<R, out>(f));
      } catch (...) {
        thrown = std::current_exception();
      }
      const std::lock_guard<std::mutex> hold(sig->s->m);
      sig->s->value = std::move(v);
      sig->s->thrown = thrown;
    });
    sig.reset();
    if (!queued) return error(errc::cancelled, "the EMT has stopped");
    std::unique_lock<std::mutex> hold(s->m);
    s->cv.wait(hold, [&] { return s->finished; });
    if (s->thrown) std::rethrow_exception(s->thrown);  // as if f had run here
    if (!s->value) return error(errc::cancelled, "the EMT stopped before the request ran");
    return std::move(*s->value);
  }

  /// \brief On the EMT: runs every request queued so far (not those they post); returns how many
  /// ran. Requests are taken from the queue one at a time, so one that is cancelled by an earlier
  /// one (cancel_owned) never runs.
  std::size_t run_pending() {
    std::uint64_t limit = 0;
    {
      const std::lock_guard<std::mutex> hold(lock_);
      limit = next_sequence_;
    }
    std::size_t ran = 0;
    for (;;) {
      request r;
      {
        const std::lock_guard<std::mutex> hold(lock_);
        if (queue_.empty() || queue_.front().sequence >= limit) break;
        r = std::move(queue_.front());
        queue_.pop_front();
      }
      try {
        r.work();
      } catch (...) {
        if (!report_exception(std::current_exception())) throw;
      }
      ++ran;
      if (detail::emt_abandoned) return ran;  // the request destroyed this emt: touch nothing of it
    }
    return ran;
  }

  /// \brief On the EMT: runs pending requests, then the service's turn (due timers, pollers,
  /// queue flushes; see set_service). Returns how many requests and callbacks ran.
  std::size_t run_once() {
    std::size_t ran = run_pending();
    if (detail::emt_abandoned) return ran;
    return ran + serve().ran;
  }

  /// \brief On the EMT: does run_once(); if nothing ran, waits until a request is posted,
  /// wake() is called, the service's next time or `deadline` comes, and runs what is due.
  /// Returns how many requests and callbacks ran.
  std::size_t wait_until(std::chrono::steady_clock::time_point deadline) {
    std::size_t ran = run_pending();
    if (detail::emt_abandoned) return ran;
    const emt_turn t = serve();
    ran += t.ran;
    if (ran > 0) return ran;
    const auto until = t.next ? std::min(*t.next, deadline) : deadline;
    {
      std::unique_lock<std::mutex> hold(lock_);
      wakeup_.wait_until(hold, until, [this] { return !queue_.empty() || woken_ || stopping_; });
      woken_ = false;
    }
    return run_once();
  }

  /// \brief What the EMT does at each turn besides requests (a VM's timers, pollers and
  /// queues). Set it before other threads use the EMT, or from the EMT.
  void set_service(std::function<emt_turn()> service) {
    const std::lock_guard<std::mutex> hold(lock_);
    service_ = std::move(service);
  }

  /// \brief Where an exception thrown by a posted request goes (a VM reports it); without one it
  /// leaves run_pending(), which on an own EMT thread ends the program.
  void on_exception(std::function<void(std::exception_ptr)> handler) {
    const std::lock_guard<std::mutex> hold(lock_);
    exception_handler_ = std::move(handler);
  }

  /// \brief Wakes a wait_until() on the EMT (from any thread).
  void wake() {
    const std::lock_guard<std::mutex> hold(lock_);
    woken_ = true;
    wakeup_.notify_all();
  }

  /// \brief Drops the queued requests tagged with `owner`; returns how many. Allocates nothing,
  /// and destroys each dropped request outside the lock (dropping one may post or wake).
  std::size_t cancel_owned(const void* owner) noexcept {
    std::size_t dropped = 0;
    for (;;) {
      request doomed;
      {
        const std::lock_guard<std::mutex> hold(lock_);
        auto it = std::find_if(queue_.begin(), queue_.end(), [owner](const request& r) { return r.owner == owner; });
        if (it == queue_.end()) return dropped;
        doomed = std::move(*it);
        queue_.erase(it);
      }
      ++dropped;
    }
  }

  /// \brief Requests queued and not yet run.
  [[nodiscard]] std::size_t pending() const {
    const std::lock_guard<std::mutex> hold(lock_);
    return queue_.size();
  }

  /// \brief Stops the EMT: an own thread finishes the request it runs and is joined; requests
  /// still queued are dropped (their callers get `cancelled`), and later posts are refused.
  void stop() {
    std::deque<request> dropped;
    {
      const std::lock_guard<std::mutex> hold(lock_);
      stopping_ = true;
    }
    wakeup_.notify_all();
    if (thread_.joinable()) {
      if (std::this_thread::get_id() == thread_.get_id()) {
        // stop() from a request, perhaps on the way to destroying this emt: the loop ends after
        // the request returns, without touching this object again.
        detail::emt_abandoned = true;
        thread_.detach();
      } else {
        thread_.join();
      }
    }
    const std::lock_guard<std::mutex> hold(lock_);
    stopped_ = true;
    tag_ = nullptr;  // the thread is gone (or going): its thread-local address may be reused
    dropped.swap(queue_);
  }

 private:
  struct request {
    std::function<void()> work;
    const void* owner = nullptr;
    std::uint64_t sequence = 0;  // order of posting
  };

  template <class R, class Out, class F>
  static Out run_now(F& f) {
    if constexpr (std::is_void_v<R>) {
      f();
      return Out();
    } else {
      return Out(f());
    }
  }

  // One turn of the service, if there is one; an exception from it goes where a request's would.
  emt_turn serve() {
    std::function<emt_turn()> service;
    {
      const std::lock_guard<std::mutex> hold(lock_);
      if (!service_ || stopping_) return {};
      service = service_;
    }
    try {
      return service();
    } catch (...) {
      if (!report_exception(std::current_exception())) throw;
      return {1, std::nullopt};
    }
  }

  bool report_exception(std::exception_ptr e) {
    std::function<void(std::exception_ptr)> handler;
    {
      const std::lock_guard<std::mutex> hold(lock_);
      handler = exception_handler_;
    }
    if (!handler) return false;
    handler(std::move(e));
    return true;
  }

  void loop() {
    {
      const std::lock_guard<std::mutex> hold(lock_);
      tag_ = &detail::thread_tag;
    }
    wakeup_.notify_all();
    for (;;) {
      run_pending();
      if (detail::emt_abandoned) return;  // destroyed by a request it ran
      const emt_turn t = serve();
      if (detail::emt_abandoned) return;
      std::unique_lock<std::mutex> hold(lock_);
      if (stopping_) return;
      if (t.ran > 0) continue;  // callbacks ran: they may have made more work due at once
      auto ready = [this] { return !queue_.empty() || woken_ || stopping_; };
      if (t.next) {
        wakeup_.wait_until(hold, *t.next, ready);
      } else {
        wakeup_.wait(hold, ready);
      }
      woken_ = false;
      if (stopping_) return;
    }
  }

  emt_mode mode_;
  std::thread thread_;
  std::thread::id id_;
  std::atomic<const char*> tag_{nullptr};  // &detail::thread_tag on the EMT; null once stopped
  mutable std::mutex lock_;
  std::condition_variable wakeup_;
  std::deque<request> queue_;
  std::function<void(std::exception_ptr)> exception_handler_;
  std::function<emt_turn()> service_;
  std::uint64_t next_sequence_ = 0;
  bool woken_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
};

}  // namespace pdm
