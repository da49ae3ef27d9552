// pdm/driver/context.hpp - the per-instance context handed to a driver's constructor.
//
// The context is the driver's handle on pdm: who it is (name and instance number), what sits
// above and below it, and the helpers it may call: attach and detach below itself, detach
// itself, prepare a mount, check which thread it runs on, read the VM's state, finish a power
// notification later, post work to the emulation thread. It lives as long as the instance, so a
// driver may keep a reference to it.
//
// Every live driver starts with an instance header: the context, the descriptor, the resolved
// interface table and the slot table that makes a dynamic query one load and one compare. A
// standalone driver_object and a chain manager's instance record both begin with one, so a
// driver_ref works for either. The helpers reach the chain manager through detail::driver_host,
// which a VM implements; a driver made with driver_object::create has no host, and its chain
// helpers fail with errc::invalid_vm_state.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include "pdm/core/source_location.hpp"

#include "pdm/chain/vm_state.hpp"
#include "pdm/core/error.hpp"
#include "pdm/driver/interface.hpp"
#include "pdm/driver/traits.hpp"
#include "pdm/services/hub.hpp"

namespace pdm {

struct driver_descriptor;
class config_node;
class driver_context;

namespace detail {
struct instance_header;
class driver_host;

// What an async_notification shares with the VM waiting for it.
struct async_state {
  std::atomic<bool> done{false};
  std::mutex lock;             // guards wake
  std::function<void()> wake;  // wakes the waiting EMT; cleared when the wait ends
  void complete() noexcept {
    if (done.exchange(true)) return;
    const std::lock_guard<std::mutex> hold(lock);
    if (wake) wake();
  }
};
}  // namespace detail

/// \brief A handle to a live driver instance: its name, instance number and interfaces.
///
/// It does not own the instance: it is valid until the instance is detached. Use it on the EMT.
class driver_ref {
 public:
  driver_ref() = default;
  explicit driver_ref(const detail::instance_header* h) noexcept : h_(h) {}

  /// \brief True if the handle refers to an instance.
  explicit operator bool() const noexcept { return h_ != nullptr; }
  [[nodiscard]] std::string_view name() const noexcept;
  [[nodiscard]] std::uint32_t instance() const noexcept;
  [[nodiscard]] const driver_descriptor& descriptor() const noexcept;
  /// \brief The driver object's address (what the descriptor's hooks take).
  [[nodiscard]] void* get() const noexcept;
  /// \brief The interface with `key`, or nullptr: one slot load and one compare.
  [[nodiscard]] void* query(std::uint64_t key) const noexcept;
  /// \brief Interface I, or nullptr.
  template <interface I>
  [[nodiscard]] I* query() const noexcept {
    return static_cast<I*>(query(interface_key<I>));
  }
  /// \brief The interface with id string `id`, or nullptr.
  [[nodiscard]] void* query(std::string_view id) const noexcept { return query(hash_string(id)); }
  /// \brief The resolved interface table, in `provides` order.
  [[nodiscard]] std::span<const resolved_interface> interfaces() const noexcept;

  friend bool operator==(driver_ref a, driver_ref b) noexcept { return a.h_ == b.h_; }

 private:
  const detail::instance_header* h_ = nullptr;
};

/// \brief What sits above a driver: the driver above it, or the device LUN at the chain's top.
class above_ref {
 public:
  above_ref() = default;
  above_ref(std::span<const resolved_interface> interfaces, std::string_view name, std::uint32_t instance,
            bool is_device, std::uint32_t lun) noexcept
      : interfaces_(interfaces), name_(name), instance_(instance), lun_(lun), device_(is_device) {}

  /// \brief True if there is something above (false for a standalone driver_object).
  explicit operator bool() const noexcept { return !name_.empty(); }
  /// \brief True if the driver is at the top of its chain, right below a device's LUN.
  [[nodiscard]] bool is_device() const noexcept { return device_; }
  /// \brief The driver's or the device's name.
  [[nodiscard]] std::string_view name() const noexcept { return name_; }
  /// \brief The driver's or the device's instance number.
  [[nodiscard]] std::uint32_t instance() const noexcept { return instance_; }
  /// \brief The LUN number of the chain.
  [[nodiscard]] std::uint32_t lun() const noexcept { return lun_; }
  /// \brief The interface with `key` that the driver or LUN above offers, or nullptr.
  [[nodiscard]] void* query(std::uint64_t key) const noexcept { return find_interface(interfaces_, key); }
  template <interface I>
  [[nodiscard]] I* query() const noexcept {
    return static_cast<I*>(query(interface_key<I>));
  }
  [[nodiscard]] std::span<const resolved_interface> interfaces() const noexcept { return interfaces_; }

 private:
  std::span<const resolved_interface> interfaces_;
  std::string_view name_;
  std::uint32_t instance_ = 0;
  std::uint32_t lun_ = 0;
  bool device_ = false;
};

/// \brief A power notification a driver finishes later (see driver_context::notify_later).
///
/// Call complete() from any thread once the work is done; destroying an uncompleted handle
/// completes it, so the VM never waits for a handle nobody holds.
class async_notification {
 public:
  async_notification() = default;
  explicit async_notification(std::shared_ptr<detail::async_state> s) noexcept : s_(std::move(s)) {}
  async_notification(async_notification&&) noexcept = default;
  async_notification& operator=(async_notification&& other) noexcept {
    if (this != &other) {
      complete();
      s_ = std::move(other.s_);
    }
    return *this;
  }
  async_notification(const async_notification&) = delete;
  async_notification& operator=(const async_notification&) = delete;
  ~async_notification() { complete(); }

  /// \brief Tells the VM the notification is finished; later calls do nothing.
  void complete() noexcept {
    if (s_) s_->complete();
    s_.reset();
  }
  /// \brief True while the handle still has to be completed.
  [[nodiscard]] bool pending() const noexcept { return s_ != nullptr; }

 private:
  std::shared_ptr<detail::async_state> s_;
};

namespace detail {

// The chain manager, as the helpers of a driver_context see it. A VM implements it.
class driver_host {
 public:
  virtual result<driver_ref> attach_below(instance_header& self, attach_flags flags) = 0;
  virtual status detach_below(instance_header& self, attach_flags flags) = 0;
  virtual status detach_self(instance_header& self, attach_flags flags) = 0;
  virtual status mount_prepare(instance_header& self, std::string_view file, std::string_view core_driver) = 0;
  [[nodiscard]] virtual bool on_emt() const noexcept = 0;
  virtual void report_wrong_thread(const instance_header& self, bool wanted_emt, const pdm::source_location& where) = 0;
  [[nodiscard]] virtual vm_state state() const noexcept = 0;
  virtual result<async_notification> notify_later(instance_header& self) = 0;
  virtual status post(instance_header& self, std::function<void()> work) = 0;
  [[nodiscard]] virtual above_ref above(const instance_header& self) const noexcept = 0;
  [[nodiscard]] virtual driver_ref below(const instance_header& self) const noexcept = 0;
  [[nodiscard]] virtual const config_node* config(const instance_header& self) const noexcept = 0;
  [[nodiscard]] virtual service_hub& services() noexcept = 0;
  /// Where the instance is configured (its LUN#n or AttachedDriver node), for unit names.
  [[nodiscard]] virtual std::string config_path(const instance_header& self) const = 0;

 protected:
  driver_host() = default;
  driver_host(const driver_host&) = default;
  driver_host& operator=(const driver_host&) = default;
  driver_host(driver_host&&) = default;
  driver_host& operator=(driver_host&&) = default;
  ~driver_host() = default;
};

[[nodiscard]] inline error no_host_error(std::string_view what, std::string_view name, std::uint32_t instance) {
  std::string d(what);
  d += ": this instance is not managed by a VM (it was made with driver_object::create)";
  return error(errc::invalid_vm_state, std::move(d)).driver(name, instance);
}

}  // namespace detail

/// \brief A driver instance's view of pdm; passed to its constructor, valid as long as the instance.
class driver_context {
 public:
  /// \brief A context for instance `instance` of the driver called `driver_name`, with no VM
  /// (what driver_object::create and tests use).
  driver_context(std::string_view driver_name, std::uint32_t instance) noexcept
      : name_(driver_name), instance_(instance) {}
  /// \brief A context whose helpers go to `host` for the instance `self` (what a VM makes).
  driver_context(std::string_view driver_name, std::uint32_t instance, detail::driver_host* host,
                 detail::instance_header* self) noexcept
      : name_(driver_name), instance_(instance), host_(host), self_(self) {}

  // Drivers hold references to their context, so it never moves or copies.
  driver_context(const driver_context&) = delete;
  driver_context& operator=(const driver_context&) = delete;
  driver_context(driver_context&&) = delete;
  driver_context& operator=(driver_context&&) = delete;
  ~driver_context() = default;

  /// \brief The driver's registered name.
  [[nodiscard]] std::string_view driver_name() const noexcept { return name_; }
  /// \brief This instance's number, unique among all instances ever made of the driver in its VM.
  [[nodiscard]] std::uint32_t instance() const noexcept { return instance_; }
  /// \brief True if a VM manages this instance (the chain helpers work).
  [[nodiscard]] bool managed() const noexcept { return host_ != nullptr; }

  /// \brief Attaches the driver configured below this one (its `AttachedDriver` node) and returns
  /// it; the new driver provides every interface this one needs below, checked before it is
  /// constructed. Errors: `already_attached`, `no_attached_driver`, and every attach error.
  result<driver_ref> attach(attach_flags flags = attach_flags::none) {
    if (host_ == nullptr) return detail::no_host_error("attach", name_, instance_);
    return host_->attach_below(*self_, flags);
  }
  /// \brief Detaches (destroys) the chain below this driver; this driver needs a detach_below
  /// hook (`detach_not_possible`). Errors: `no_attached_driver` if nothing is attached.
  status detach(attach_flags flags = attach_flags::none) {
    if (host_ == nullptr) return detail::no_host_error("detach", name_, instance_);
    return host_->detach_below(*self_, flags);
  }
  /// \brief Detaches this driver and everything below it; the driver or device above needs a
  /// detach notification. On success this instance is gone: touch nothing of it afterwards.
  status detach_self(attach_flags flags = attach_flags::none) {
    if (host_ == nullptr) return detail::no_host_error("detach_self", name_, instance_);
    return host_->detach_self(*self_, flags);
  }
  /// \brief Replaces the config below this driver with `Driver = core_driver` and
  /// `Config/Path = file`, ready for attach(); atomic: on failure the old config is kept. With no
  /// core driver, the registered drivers' probes choose one (`not_implemented` if none claims it).
  status mount_prepare(std::string_view file, std::string_view core_driver = {}) {
    if (host_ == nullptr) return detail::no_host_error("mount_prepare", name_, instance_);
    return host_->mount_prepare(*self_, file, core_driver);
  }
  /// \brief True on the VM's emulation thread; otherwise reports the call site to the VM's
  /// report sink and returns false (never aborts).
  // Not [[nodiscard]]: called for its report as often as for its answer.
  bool assert_emt(  // NOLINT(modernize-use-nodiscard)
      const pdm::source_location& where = pdm::source_location::current()) const {
    if (host_ == nullptr || host_->on_emt()) return true;
    host_->report_wrong_thread(*self_, true, where);
    return false;
  }
  /// \brief True on any thread but the EMT; otherwise reports the call site and returns false.
  bool assert_other(  // NOLINT(modernize-use-nodiscard)
      const pdm::source_location& where = pdm::source_location::current()) const {
    if (host_ == nullptr || !host_->on_emt()) return true;
    host_->report_wrong_thread(*self_, false, where);
    return false;
  }
  /// \brief The VM's state (`created` for an instance without a VM).
  [[nodiscard]] pdm::vm_state vm_state() const noexcept {
    return host_ == nullptr ? pdm::vm_state::created : host_->state();
  }
  /// \brief Called from a suspend, reset or power-off hook: the VM waits until the returned
  /// handle is completed (from any thread) before it goes on. `invalid_vm_state` elsewhere.
  result<async_notification> notify_later() {
    if (host_ == nullptr) return detail::no_host_error("notify_later", name_, instance_);
    return host_->notify_later(*self_);
  }
  /// \brief Queues `work` to run on the EMT (from any thread); dropped unrun if this instance is
  /// destroyed first.
  status post(std::function<void()> work) {
    if (host_ == nullptr) return detail::no_host_error("post", name_, instance_);
    return host_->post(*self_, std::move(work));
  }
  /// \brief The driver or device LUN above this driver (empty without a VM).
  [[nodiscard]] above_ref above() const noexcept { return host_ == nullptr ? above_ref{} : host_->above(*self_); }
  /// \brief The driver attached below this one, or an empty handle.
  [[nodiscard]] driver_ref below() const noexcept { return host_ == nullptr ? driver_ref{} : host_->below(*self_); }
  /// \brief This driver's `Config` node, a restricted root (null without a VM). Drivers with a
  /// config_type get it bound already; this is for drivers that read their config by hand.
  [[nodiscard]] const config_node* config() const noexcept {
    return host_ == nullptr ? nullptr : host_->config(*self_);
  }
  // --- Services: everything made here is owned by this instance and released with it ---------

  /// \brief The time on `clock` in nanoseconds (0 without a VM). Any thread.
  [[nodiscard]] std::uint64_t now(clock_kind clock) const noexcept;
  /// \brief Ticks per second on every clock (time is in nanoseconds).
  static constexpr std::uint64_t clock_frequency = detail::time_base::frequency;
  /// \brief A timer on `clock` whose `callback` runs on the EMT when it fires; disarmed until
  /// armed. On the EMT.
  result<timer> create_timer(clock_kind clock, std::function<void()> callback, std::string_view name = "timer");
  /// \brief A queue of `capacity` items of type T. Producers on any thread insert; on the EMT,
  /// `consumer` gets the items in insertion order and returns false to stop and keep the item
  /// and the rest for later. Flushed every `interval`, or, with a zero interval, as soon as the
  /// EMT can after an insert; queue::flush() asks for a flush at any time. On the EMT.
  template <class T>
  result<queue<T>> create_queue(std::size_t capacity, std::chrono::nanoseconds interval,
                                std::function<bool(T&)> consumer, std::string_view name = "queue");
  /// \brief A poller: `callback` runs on the EMT every `interval` while the VM runs. The VM's
  /// poller table is bounded (`poller_table_full`). On the EMT.
  result<poller> create_poller(std::function<void()> callback,
                               std::chrono::nanoseconds interval = std::chrono::milliseconds(10),
                               std::string_view name = "poller");
  /// \brief A thread running `body` once this instance is constructed and the VM runs;
  /// suspended and resumed with the VM, terminated and joined when the instance goes (before
  /// its destructor). `wakeup` (EMT) is called after each state change is asked of the thread,
  /// to unblock it from waits of its own. On the EMT.
  result<driver_thread> create_thread(std::string_view name, std::function<void(thread_control&)> body,
                                      std::function<void()> wakeup = {});
  /// \brief A counter named `/Drivers/<driver>-<instance>/<name>`. Its storage belongs to the
  /// VM's statistics until the instance goes; update it from any thread. On the EMT.
  result<stat_counter*> add_counter(std::string_view name, stat_unit unit, std::string_view description = {});
  /// \brief A profile (count, total, min, max of durations), named like add_counter's.
  result<stat_profile*> add_profile(std::string_view name, stat_unit unit, std::string_view description = {});
  /// \brief A value (a gauge set by the driver), named like add_counter's.
  result<stat_value*> add_value(std::string_view name, stat_unit unit, std::string_view description = {});
  /// \brief A saved-state unit with hand-written hooks, for state that is not an aggregate
  /// (a driver with an aggregate saved_state gets its unit without this). Its name in the stream
  /// is "<driver>@<config path>:<name>", so it is found again in a VM rebuilt from the same
  /// config; `instance` tells apart several units of one name; `version` is above zero. Released
  /// with the instance. `unit_exists` for a name and instance already registered. On the EMT.
  result<state_unit> register_state_unit(std::string_view name, std::uint32_t instance, std::uint32_t version,
                                         state_unit_hooks hooks);
  /// \brief Sends `e` (with this driver's name and instance) and the call site to the VM's
  /// error sinks and returns it, for `return ctx.set_error(...)`. Any thread.
  error set_error(error e, const pdm::source_location& where = pdm::source_location::current());
  /// \brief A runtime error (id: a short stable word such as "DiskFull"): sent to the error
  /// sinks; with `suspend` the VM is suspended, with `fatal` suspended for good. Any thread.
  status set_runtime_error(runtime_error_flags flags, std::string_view id, std::string message);

  /// \brief Makes the constructor that is running fail with `e` once it returns: the instance is
  /// then destroyed (its destructor runs) and the attach is rolled back. Only meaningful during
  /// construction; returns false (and does nothing) otherwise.
  bool fail(error e) noexcept;

 private:
  std::string_view name_;
  std::uint32_t instance_;
  detail::driver_host* host_ = nullptr;
  detail::instance_header* self_ = nullptr;
};

namespace detail {

// Where ctx.fail() puts its error while a constructor runs. Raw storage, not std::optional<error>:
// GCC zero-fills an optional of that size on every construction, and constructors rarely fail.
struct construction_failure {
  // Leaves the storage alone (not `= default`, and no initializer for it: that would zero it).
  construction_failure() noexcept {}  // NOLINT(modernize-use-equals-default,cppcoreguidelines-pro-type-member-init)
  construction_failure(const construction_failure&) = delete;
  construction_failure& operator=(const construction_failure&) = delete;
  construction_failure(construction_failure&&) = delete;
  construction_failure& operator=(construction_failure&&) = delete;
  ~construction_failure() {
    if (set) get().~error();
  }
  void put(error e) noexcept {
    if (set) get().~error();
    ::new (static_cast<void*>(storage)) error(std::move(e));
    set = true;
  }
  [[nodiscard]] error& get() noexcept { return *std::launder(reinterpret_cast<error*>(storage)); }
  alignas(error) unsigned char storage[sizeof(error)];  // NOLINT(*-avoid-c-arrays)
  bool set = false;
};

// The start of every live driver's memory block (see the file comment).
struct instance_header {
  instance_header(std::string_view name, std::uint32_t instance, driver_host* host) noexcept
      : ctx(name, instance, host, this) {}
  instance_header(const instance_header&) = delete;
  instance_header& operator=(const instance_header&) = delete;
  instance_header(instance_header&&) = delete;
  instance_header& operator=(instance_header&&) = delete;
  ~instance_header() = default;

  driver_context ctx;
  resource_list resources;  // what the driver made through ctx; released with the instance
  const driver_descriptor* desc = nullptr;
  std::span<const resolved_interface> rows;  // in `provides` order
  const resolved_interface* slots = nullptr;
  std::size_t mask = 0;
  std::uint32_t shift = 0;
  bool linear = false;  // no collision-free placement: misses scan the rows
  void* object = nullptr;
  construction_failure* construction_error = nullptr;  // where ctx.fail() writes, while the constructor runs
  bool failed = false;

  [[nodiscard]] void* query(std::uint64_t key) const noexcept {
    const resolved_interface& slot = slots[(key >> shift) & mask];
    if (slot.key == key) [[likely]] {
      return slot.address;  // an empty slot's key is one no row has, so this is a real hit
    }
    return linear ? query_linear(key) : nullptr;
  }
  [[nodiscard, gnu::noinline, gnu::cold]] void* query_linear(std::uint64_t key) const noexcept {
    return find_interface(rows, key);
  }
};

}  // namespace detail

inline bool driver_context::fail(error e) noexcept {
  if (self_ == nullptr || self_->construction_error == nullptr) return false;
  self_->construction_error->put(std::move(e));
  self_->failed = true;
  return true;
}

inline std::uint64_t driver_context::now(clock_kind clock) const noexcept {
  return host_ == nullptr ? 0 : host_->services().timers().now(clock);
}
inline result<timer> driver_context::create_timer(clock_kind clock, std::function<void()> callback,
                                                  std::string_view name) {
  if (host_ == nullptr) return detail::no_host_error("create_timer", name_, instance_);
  return host_->services().create_timer({&self_->resources, name_, instance_}, clock, std::move(callback), name);
}
template <class T>
result<queue<T>> driver_context::create_queue(std::size_t capacity, std::chrono::nanoseconds interval,
                                              std::function<bool(T&)> consumer, std::string_view name) {
  if (host_ == nullptr) return detail::no_host_error("create_queue", name_, instance_);
  return host_->services().create_queue<T>({&self_->resources, name_, instance_}, capacity, interval,
                                           std::move(consumer), name);
}
inline result<state_unit> driver_context::register_state_unit(std::string_view name, std::uint32_t instance,
                                                              std::uint32_t version, state_unit_hooks hooks) {
  if (host_ == nullptr) return detail::no_host_error("register_state_unit", name_, instance_);
  return host_->services().register_state_unit({&self_->resources, name_, instance_}, host_->config_path(*self_), name,
                                               instance, version, std::move(hooks));
}
inline result<poller> driver_context::create_poller(std::function<void()> callback, std::chrono::nanoseconds interval,
                                                    std::string_view name) {
  if (host_ == nullptr) return detail::no_host_error("create_poller", name_, instance_);
  return host_->services().create_poller({&self_->resources, name_, instance_}, std::move(callback), interval, name);
}
inline result<driver_thread> driver_context::create_thread(std::string_view name,
                                                           std::function<void(thread_control&)> body,
                                                           std::function<void()> wakeup) {
  if (host_ == nullptr) return detail::no_host_error("create_thread", name_, instance_);
  return host_->services().create_thread({&self_->resources, name_, instance_}, name, std::move(body),
                                         std::move(wakeup), self_->construction_error != nullptr);
}
inline result<stat_counter*> driver_context::add_counter(std::string_view name, stat_unit unit,
                                                         std::string_view description) {
  if (host_ == nullptr) return detail::no_host_error("add_counter", name_, instance_);
  return host_->services().add_statistic<stat_counter>({&self_->resources, name_, instance_}, name, unit, description);
}
inline result<stat_profile*> driver_context::add_profile(std::string_view name, stat_unit unit,
                                                         std::string_view description) {
  if (host_ == nullptr) return detail::no_host_error("add_profile", name_, instance_);
  return host_->services().add_statistic<stat_profile>({&self_->resources, name_, instance_}, name, unit, description);
}
inline result<stat_value*> driver_context::add_value(std::string_view name, stat_unit unit,
                                                     std::string_view description) {
  if (host_ == nullptr) return detail::no_host_error("add_value", name_, instance_);
  return host_->services().add_statistic<stat_value>({&self_->resources, name_, instance_}, name, unit, description);
}
inline error driver_context::set_error(error e, const pdm::source_location& where) {
  if (host_ == nullptr) {
    if (e.driver_name().empty()) e.driver(name_, instance_);
    return e;
  }
  return host_->services().set_error({&self_->resources, name_, instance_}, std::move(e), where);
}
inline status driver_context::set_runtime_error(runtime_error_flags flags, std::string_view id, std::string message) {
  if (host_ == nullptr) return detail::no_host_error("set_runtime_error", name_, instance_);
  return host_->services().set_runtime_error({&self_->resources, name_, instance_}, flags, id, std::move(message));
}

inline std::string_view driver_ref::name() const noexcept { return h_->ctx.driver_name(); }
inline std::uint32_t driver_ref::instance() const noexcept { return h_->ctx.instance(); }
inline const driver_descriptor& driver_ref::descriptor() const noexcept { return *h_->desc; }
inline void* driver_ref::get() const noexcept { return h_->object; }
inline void* driver_ref::query(std::uint64_t key) const noexcept { return h_->query(key); }
inline std::span<const resolved_interface> driver_ref::interfaces() const noexcept { return h_->rows; }

}  // namespace pdm
