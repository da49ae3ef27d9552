// pdm/chain/vm.hpp - the VM: devices, driver chains built from config, instance accounting,
// transformations, the emulation thread and power.
//
// A vm owns a driver registry, a config tree and an EMT. The VMM adds its devices, then attaches
// the chain configured under each LUN (`Devices/<device>/<instance>/LUN#<n>`): the chain manager
// reads `Driver`, finds the driver, checks its instance limit and that it provides what the
// device (or the driver above) needs and needs only what is offered, hands it its `Config` node
// as a restricted root, allocates the instance record and the driver in one block, numbers the
// instance, links it and constructs it. A constructor attaches the driver below itself through
// its context, and so the chain grows downward.
//
// Attach order (design.md, "Attach"): transformations; `Driver` (missing_driver_name); look-up
// (driver_not_found); live instances < max (too_many_instances); interfaces both ways
// (missing_interface), before anything is constructed; `Config` created if missing, a restricted
// root; one allocation; a per-driver instance number that only grows, and a separate live count;
// link; construct. A constructor that fails, by ctx.fail() or by exception, at any depth, leaves
// the chains, the counts and the config exactly as they were: what it attached below is
// destroyed without notifications, its config changes (transformations, a created `Config`) are
// undone, and its memory is freed.
//
// Detach destroys bottom-most first: unlink, tell the parent (unless no_callbacks), count down,
// destruct, drop what the instance owned, poison (in debug builds) and free.
//
// Every chain operation and power event runs on the EMT. Called from another thread, a vm member
// posts itself to the EMT and waits (or, with foreign_calls::refuse, fails with wrong_thread).
// A driver's own helpers must be called on the EMT (wrong_thread otherwise), except post(),
// assert_emt() and assert_other().
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include "pdm/core/source_location.hpp"

#include "pdm/chain/device.hpp"
#include "pdm/chain/emt.hpp"
#include "pdm/chain/topology.hpp"
#include "pdm/chain/transform.hpp"
#include "pdm/chain/vm_state.hpp"
#include "pdm/config/tree.hpp"
#include "pdm/core/error.hpp"
#include "pdm/core/suggest.hpp"
#include "pdm/driver/context.hpp"
#include "pdm/driver/descriptor.hpp"
#include "pdm/driver/object.hpp"
#include "pdm/driver/registry.hpp"
#include "pdm/services/report.hpp"
#include "pdm/services/state_stream.hpp"
#include "pdm/services/state_units.hpp"

namespace pdm {

/// \brief What a vm member called off the EMT does.
enum class foreign_calls {
  post,    ///< posts itself to the EMT and waits for the result
  refuse,  ///< fails with errc::wrong_thread
};

/// \brief How a vm is set up.
struct vm_options {
  /// Which thread is the EMT.
  emt_mode emt = emt_mode::own_thread;
  /// What vm members called off the EMT do.
  foreign_calls foreign = foreign_calls::post;
  /// Where instance records and drivers are allocated (null: operator new).
  std::pmr::memory_resource* instance_memory = nullptr;
  /// Fill freed instance memory with 0xdeadd0d0 before freeing it (default: in debug builds).
#ifdef NDEBUG
  bool poison_freed = false;
#else
  bool poison_freed = true;
#endif
  /// Where reports go (null: one line each on std::clog). Called on any thread, one at a time.
  std::function<void(const vm_report&)> report{};
  /// How long a driver may take to complete an asynchronous power notification before it is
  /// reported (once); the VM goes on waiting.
  std::chrono::milliseconds slow_notification{5000};
  /// A clock that moves only when told (tests): timers, pollers and queue intervals follow it,
  /// and the EMT wakes when it moves. It must outlive the VM. Null: std::chrono::steady_clock.
  manual_clock* clock = nullptr;
  /// How many pollers the VM's table holds (`poller_table_full` beyond).
  std::size_t max_pollers = 16;
  /// How long a driver thread may take to stop (or to acknowledge a suspend or resume) before
  /// it is reported; the VM goes on waiting.
  std::chrono::milliseconds thread_stop_timeout{5000};
  /// When a queue's consumer kept items, how soon it is called again.
  std::chrono::milliseconds queue_retry{1};
};

/// \brief A driver's instance accounting in one VM.
struct driver_counts {
  std::uint32_t live = 0;           ///< instances alive now
  std::uint32_t next_instance = 0;  ///< the number the next instance gets (numbers only grow)
};

/// \brief The byte pattern freed instance memory is filled with when poisoning is on.
inline constexpr std::uint32_t poison_pattern = 0xdeadd0d0U;

/// \brief A virtual machine as pdm sees it: registry, config, devices, driver chains, EMT, power.
class vm final : private detail::driver_host {
 public:
  /// \brief A VM in state `created`, with no devices. Starts the EMT (own_thread).
  vm(registry drivers, config_tree config, vm_options options = {})
      : registry_(std::move(drivers)),
        config_(std::move(config)),
        options_(std::move(options)),
        memory_(options_.instance_memory),
        services_(
            emt_, state_,
            detail::service_options{options_.clock, options_.max_pollers, options_.thread_stop_timeout,
                                    options_.thread_stop_timeout, options_.queue_retry},
            [this](report_kind kind, error what) { report(kind, std::move(what)); },
            [this](bool fatal) { suspend_for_runtime_error(fatal); }),
        emt_(options_.emt) {
    emt_.set_service([this] { return services_.run_due(); });
    if (options_.clock != nullptr) options_.clock->on_change([this] { emt_.wake(); });
    emt_.on_exception([this](std::exception_ptr e) {
      std::string what = "a request posted to the EMT threw";
      try {
        std::rethrow_exception(std::move(e));
      } catch (const std::exception& x) {
        what += ": ";
        what += x.what();
      } catch (...) {
        what += " a non-standard exception";
      }
      report(report_kind::hook_threw, error(errc::internal_error, std::move(what)));
    });
  }
  vm(const vm&) = delete;
  vm& operator=(const vm&) = delete;
  vm(vm&&) = delete;
  vm& operator=(vm&&) = delete;
  /// \brief Powers the VM off if it runs or is suspended, then destroys every chain (bottom-most
  /// first, without detach notifications) and stops the EMT. With emt_mode::current_thread, the
  /// VM must be destroyed on its EMT.
  ~vm() {
    auto teardown = [this] {
      if (state_ == vm_state::running || state_ == vm_state::suspended) (void)power_off_on_emt();
      state_ = vm_state::destroying;
      for (auto& d : devices_) {
        for (lun_state& l : d->luns) {
          if (l.top != nullptr) destroy_chain(l.top, attach_flags::no_callbacks);
        }
      }
    };
    if (emt_.is_current() || emt_.mode() == emt_mode::current_thread) {
      teardown();
    } else if (!emt_.call(teardown)) {
      emt_.stop();  // the EMT was stopped by hand: its thread is gone, so tear down here
      teardown();
    }
    emt_.stop();
    if (options_.clock != nullptr) options_.clock->on_change({});
  }

  // --- The parts ------------------------------------------------------------------------------

  /// \brief The registered drivers. Register more only on the EMT.
  [[nodiscard]] registry& drivers() noexcept { return registry_; }
  [[nodiscard]] const registry& drivers() const noexcept { return registry_; }
  /// \brief The config tree's root. Change it only on the EMT (or before other threads use the VM).
  [[nodiscard]] config_node& config() noexcept { return config_.root(); }
  [[nodiscard]] const config_node& config() const noexcept { return config_.root(); }
  /// \brief The emulation thread.
  [[nodiscard]] emt& thread() noexcept { return emt_; }
  /// \brief True on the EMT.
  [[nodiscard]] bool on_emt() const noexcept override { return emt_.is_current(); }
  /// \brief The VM's state. Read it on the EMT; elsewhere it may change at any moment.
  [[nodiscard]] vm_state state() const noexcept override { return state_.load(std::memory_order_acquire); }

  /// \brief Runs `f` on the EMT and returns its result (see emt::call); subject to the
  /// foreign_calls policy.
  template <class F>
  auto call(F&& f) -> detail::call_result_t<std::invoke_result_t<F&>> {
    if (!emt_.is_current() && options_.foreign == foreign_calls::refuse) return wrong_thread_error("call");
    return emt_.call(std::forward<F>(f));
  }
  /// \brief Queues `work` for the EMT (from any thread); false once the EMT has stopped.
  bool post(std::function<void()> work) { return emt_.post(std::move(work)); }
  /// \brief On the EMT: runs the posted requests, then due timers, due pollers and queue
  /// flushes, once; returns how many ran. What a host with emt_mode::current_thread calls in
  /// its loop (see also thread().wait_until()).
  std::size_t process() { return emt_.run_once(); }

  // --- Services -------------------------------------------------------------------------------

  /// \brief The time on `clock` in nanoseconds: `virtual_time` runs only while the VM runs,
  /// `virtual_sync` follows it but waits at a due timer until it fired, `real` runs always
  /// (each starts at 0 when the VM is made). Any thread.
  [[nodiscard]] std::uint64_t now(clock_kind clock) const noexcept { return services_.timers().now(clock); }
  /// \brief Every statistic the drivers registered (`/Drivers/<name>-<instance>/...`):
  /// snapshot, find, to_text, to_json. Any thread.
  [[nodiscard]] const pdm::statistics& statistics() const noexcept { return services_.statistics(); }
  /// \brief Zeroes the statistics under `prefix` (any thread). Drivers keep their statistics;
  /// only the instance that made one removes it.
  void reset_statistics(std::string_view prefix = "/") { services_.statistics().reset(prefix); }

  /// \brief Saves every saved-state unit (pdm/services/state_units.hpp) to the end of `out`.
  /// The VM must not be running (created, suspended or off: `invalid_vm_state`). On failure
  /// `out` is as it was. On the EMT (or posted to it).
  status save_state(std::vector<std::byte>& out, const save_options& options = {}) {
    return on_emt_call("save_state", [&]() -> status {
      if (status s = check_state_for("saved", {vm_state::created, vm_state::suspended, vm_state::off}); !s) return s;
      const std::size_t before = out.size();
      state_stream_writer w(out);
      status s = services_.state_units().save(w, options);
      if (!s) out.resize(before);
      return s;
    });
  }
  /// \brief Saves every unit to the file `file.path`, through a temporary file beside it that
  /// replaces it only once complete: on failure an existing file is left as it was.
  status save_state(const state_file& file, const save_options& options = {}) {
    return on_emt_call("save_state", [&]() -> status {
      if (status s = check_state_for("saved", {vm_state::created, vm_state::suspended, vm_state::off}); !s) return s;
      if (file.path.empty()) return error(errc::io_error, "the saved-state file name is empty");
      const std::string temporary = file.path + ".partial";
      status s = ok();
      {
        state_stream_writer w(temporary);
        s = services_.state_units().save(w, options);
      }
      if (s && std::rename(temporary.c_str(), file.path.c_str()) != 0) {
        s = detail::file_error("cannot replace the saved-state file", file.path, errno);
      }
      if (!s) (void)std::remove(temporary.c_str());
      return s;
    });
  }
  /// \brief Loads every unit from the stream in `in`. The VM must be created or suspended
  /// (`invalid_vm_state`). The whole stream is checked, and every automatic unit decoded, before
  /// any driver changes: a bad stream, a unit too new or too old, or (by default) a unit missing
  /// on either side fails the load and changes nothing. On the EMT (or posted to it).
  status load_state(std::span<const std::byte> in, const load_options& options = {}) {
    return on_emt_call("load_state", [&]() -> status {
      if (status s = check_state_for("loaded", {vm_state::created, vm_state::suspended}); !s) return s;
      state_stream_reader r(in);
      return services_.state_units().load(r, options);
    });
  }
  /// \brief Loads every unit from the file `file.path` (see the other overload).
  status load_state(const state_file& file, const load_options& options = {}) {
    return on_emt_call("load_state", [&]() -> status {
      if (status s = check_state_for("loaded", {vm_state::created, vm_state::suspended}); !s) return s;
      state_stream_reader r(file.path);
      return services_.state_units().load(r, options);
    });
  }
  /// \brief The saved-state units registered now, as (name, instance), in registration order.
  [[nodiscard]] std::vector<std::pair<std::string, std::uint32_t>> state_units() {
    auto names = on_emt_call("state_units", [&] { return services_.state_units().names(); });
    if (!names) return {};
    return std::move(names).value();
  }
  /// \brief Installs a sink for the drivers' set_error and set_runtime_error (any thread; it
  /// is called on the thread that reported). Returns a number for remove_error_sink. With no
  /// sink, those errors go to the report sink as report_kind::driver_error.
  std::uint64_t add_error_sink(std::function<void(const driver_error_event&)> sink) {
    return services_.add_error_sink(std::move(sink));
  }
  /// \brief Removes a sink add_error_sink installed; false if there is none with that number.
  bool remove_error_sink(std::uint64_t id) { return services_.remove_error_sink(id); }
  /// \brief True once a driver reported a fatal runtime error: the VM stays suspended.
  [[nodiscard]] bool fatal_error() const noexcept { return fatal_.load(std::memory_order_acquire); }

  // --- Devices --------------------------------------------------------------------------------

  /// \brief Adds a device instance. Errors: `invalid_argument` (bad name, a LUN number twice),
  /// `already_exists`, `invalid_vm_state` (off or being destroyed).
  status add_device(device_spec spec) {
    return on_emt_call("add_device", [&]() -> status { return add_device_on_emt(std::move(spec)); });
  }

  // --- Attach and detach ----------------------------------------------------------------------

  /// \brief Attaches the chain configured for `LUN#<lun>` of device `device` #`instance` and
  /// returns its top driver. Without attach_flags::not_hot_plug the device's on_attach hook is
  /// then called (an error from it destroys the chain again). Errors: `device_not_found`,
  /// `lun_not_found`, `already_attached`, `no_attached_driver` (no LUN#n config), and every
  /// error of building the chain.
  result<driver_ref> attach(std::string_view device, std::uint32_t instance, std::uint32_t lun,
                            attach_flags flags = attach_flags::none) {
    return on_emt_call("attach",
                       [&]() -> result<driver_ref> { return attach_lun_on_emt(device, instance, lun, flags); });
  }
  /// \brief Attaches every configured LUN of every device that has nothing attached yet, with
  /// not_hot_plug; stops at the first error (chains attached before it stay).
  status attach_all() {
    return on_emt_call("attach_all", [&]() -> status {
      for (auto& d : devices_) {
        for (lun_state& l : d->luns) {
          if (l.top != nullptr || lun_node(*d, l.spec.number) == nullptr) continue;
          result<driver_ref> r =
              attach_lun_on_emt(d->spec.name, d->spec.instance, l.spec.number, attach_flags::not_hot_plug);
          if (!r) return std::move(r).error_value();
        }
      }
      return ok();
    });
  }
  /// \brief Asks the bottom driver of the LUN's chain to attach what is configured below it (its
  /// on_attach_below hook); `no_runtime_attach` if it has none, `no_attached_driver` if the LUN
  /// has no chain.
  status extend_chain(std::string_view device, std::uint32_t instance, std::uint32_t lun,
                      attach_flags flags = attach_flags::none) {
    return on_emt_call("extend_chain", [&]() -> status {
      result<lun_state*> l = find_lun(device, instance, lun);
      if (!l) return std::move(l).error_value();
      record* bottom = (*l)->bottom;
      if (bottom == nullptr) return error(errc::no_attached_driver, "the LUN has no chain").path(lun_path(**l));
      if (bottom->desc->on_attach_below == nullptr) {
        return error(errc::no_runtime_attach, "the bottom driver has no on_attach_below hook")
            .driver(bottom->desc->name, bottom->ctx.instance())
            .path(bottom->node->path());
      }
      try {
        status s = bottom->desc->on_attach_below(bottom->object, flags);
        commit_if_outermost();
        return s;
      } catch (const std::exception& e) {
        return error(errc::constructor_failed, std::string("on_attach_below threw: ") + e.what())
            .driver(bottom->desc->name, bottom->ctx.instance());
      }
    });
  }
  /// \brief Detaches the whole chain of a LUN from the device side; the device needs an
  /// on_detach hook (`detach_not_possible`). `no_attached_driver` if nothing is attached.
  status detach(std::string_view device, std::uint32_t instance, std::uint32_t lun,
                attach_flags flags = attach_flags::none) {
    return on_emt_call("detach", [&]() -> status {
      result<lun_state*> l = find_lun(device, instance, lun);
      if (!l) return std::move(l).error_value();
      if ((*l)->top == nullptr) return error(errc::no_attached_driver, "nothing is attached").path(lun_path(**l));
      return detach_record((*l)->top, flags);
    });
  }
  /// \brief Detaches the `occurrence`-th (from 0, counted from the top) instance of driver
  /// `driver` in a LUN's chain, and everything below it; with an empty `driver`, the top driver.
  /// `instance_not_found` if there is no such instance.
  status detach_driver(std::string_view device, std::uint32_t instance, std::uint32_t lun, std::string_view driver,
                       std::uint32_t occurrence = 0, attach_flags flags = attach_flags::none) {
    return on_emt_call("detach_driver", [&]() -> status {
      result<record*> r = find_on_lun(device, instance, lun, driver, occurrence);
      if (!r) return std::move(r).error_value();
      return detach_record(*r, flags);
    });
  }

  // --- Queries --------------------------------------------------------------------------------

  /// \brief The `occurrence`-th instance of `driver` in a LUN's chain (the top driver if `driver`
  /// is empty). Errors: `device_not_found`, `lun_not_found`, `no_attached_driver`, `instance_not_found`.
  result<driver_ref> driver_on_lun(std::string_view device, std::uint32_t instance, std::uint32_t lun,
                                   std::string_view driver = {}, std::uint32_t occurrence = 0) {
    return on_emt_call("driver_on_lun", [&]() -> result<driver_ref> {
      result<record*> r = find_on_lun(device, instance, lun, driver, occurrence);
      if (!r) return std::move(r).error_value();
      return driver_ref(*r);
    });
  }
  /// \brief A LUN's chain, top to bottom (empty if nothing is attached).
  result<std::vector<driver_ref>> chain(std::string_view device, std::uint32_t instance, std::uint32_t lun) {
    return on_emt_call("chain", [&]() -> result<std::vector<driver_ref>> {
      result<lun_state*> l = find_lun(device, instance, lun);
      if (!l) return std::move(l).error_value();
      std::vector<driver_ref> out;
      for (record* r = (*l)->top; r != nullptr; r = r->down) out.emplace_back(r);
      return out;
    });
  }
  /// \brief The live instances of `driver`, oldest first; `driver_not_found` for an unknown name.
  result<std::vector<driver_ref>> instances_of(std::string_view driver) {
    return on_emt_call("instances_of", [&]() -> result<std::vector<driver_ref>> {
      const std::size_t i = registry_.find_index(driver);
      if (i == registry::npos) return unknown_driver(driver);
      std::vector<driver_ref> out;
      if (i < accounts_.size()) {
        for (record* r = accounts_[i].first; r != nullptr; r = r->next_live) out.emplace_back(r);
      }
      return out;
    });
  }
  /// \brief The live count and next instance number of `driver`; `driver_not_found` if unknown.
  result<driver_counts> counts(std::string_view driver) {
    return on_emt_call("counts", [&]() -> result<driver_counts> {
      const std::size_t i = registry_.find_index(driver);
      if (i == registry::npos) return unknown_driver(driver);
      if (i >= accounts_.size()) return driver_counts{};
      return driver_counts{accounts_[i].live, accounts_[i].next_instance};
    });
  }
  /// \brief Every device's LUNs and chains, one driver a line, with what transformations did:
  ///
  ///     disk #0
  ///       LUN#0
  ///         Tracer #0    trace-all: inject above Block
  ///         Block #0     trace-all: moved below Tracer
  ///         RamDisk #0
  result<std::string> dump() {
    return on_emt_call("dump", [&]() -> result<std::string> { return dump_on_emt(); });
  }
  /// \brief Every device's LUNs and chains as values (pdm/chain/topology.hpp): devices in the
  /// order they were added, LUNs in number order, drivers top to bottom.
  /// For pdm::to_dot (pdm/analysis/graph.hpp) and other tools.
  result<std::vector<device_view>> topology() {
    return on_emt_call("topology", [&]() -> result<std::vector<device_view>> { return topology_on_emt(); });
  }

  // --- Power ----------------------------------------------------------------------------------

  /// \brief created -> powering_on -> running: drivers (top to bottom, LUN by LUN), then the device.
  status power_on() {
    return on_emt_call("power_on", [&]() -> status {
      if (fatal_.load(std::memory_order_acquire)) {
        return error(errc::invalid_vm_state, "a driver reported a fatal runtime error: the VM cannot be powered on");
      }
      return transition(power_event::power_on, {vm_state::created}, vm_state::powering_on, vm_state::running);
    });
  }
  /// \brief running -> suspending -> suspended: drivers, then the device (unless suspend_first).
  status suspend() {
    return on_emt_call("suspend", [&]() -> status {
      return transition(power_event::suspend, {vm_state::running}, vm_state::suspending, vm_state::suspended);
    });
  }
  /// \brief suspended -> resuming -> running: drivers, then the device. `invalid_vm_state`
  /// after a fatal runtime error: such a VM can only be powered off.
  status resume() {
    return on_emt_call("resume", [&]() -> status {
      if (fatal_.load(std::memory_order_acquire)) {
        return error(errc::invalid_vm_state, "a driver reported a fatal runtime error: the VM can only be powered off");
      }
      return transition(power_event::resume, {vm_state::suspended}, vm_state::resuming, vm_state::running);
    });
  }
  /// \brief running or suspended -> resetting -> the same state again: drivers, then the device
  /// (unless reset_first).
  status reset() {
    return on_emt_call("reset", [&]() -> status {
      const vm_state back = state_;
      return transition(power_event::reset, {vm_state::running, vm_state::suspended}, vm_state::resetting, back);
    });
  }
  /// \brief running or suspended -> powering_off -> off: drivers, then the device (unless
  /// power_off_first).
  status power_off() {
    return on_emt_call("power_off", [&]() -> status { return power_off_on_emt(); });
  }

 private:
  enum class power_event { power_on, reset, suspend, resume, power_off };

  struct lun_state;
  struct device_state;

  // A live driver: the instance header, then chain links and accounting. One allocation holds
  // it, the interface tables and the driver (detail::layout_instance<record>).
  struct record : detail::instance_header {
    record(std::string_view name, std::uint32_t instance, detail::driver_host* host) noexcept
        : instance_header(name, instance, host) {}
    lun_state* lun = nullptr;
    record* up = nullptr;
    record* down = nullptr;
    std::size_t depth = 0;        // 0 at the top of the chain
    std::uint64_t serial = 0;     // unique among all records the VM ever made
    record* prev_live = nullptr;  // the driver's live instances, oldest first
    record* next_live = nullptr;
    config_node* node = nullptr;    // where it is configured: LUN#n or an AttachedDriver
    config_node* config = nullptr;  // node's Config, a restricted root
    std::size_t account = 0;        // the driver's position in the registry
    std::size_t block_size = 0;
    std::size_t block_alignment = 0;
    std::uint64_t reset_round = 0;
    bool constructed = false;
    bool rows_resolved = false;
    bool detaching = false;
    bool powered = false;             // has had power_on (or was attached while powered)
    bool suspended = false;           // has had suspend and no resume since
    bool off = false;                 // has had power_off
    std::atomic<bool> posted{false};  // has posted EMT requests (that must be dropped with it)
  };

  struct lun_state {
    // A driver name already looked up at some depth of this LUN's chain.
    struct seen_driver {
      const config_value* value = nullptr;  // the Driver value it was read from
      std::uint64_t version = 0;            // the config's version then
      std::size_t registry_size = 0;        // the registry's size then
      std::size_t index = 0;                // the driver's position in the registry
    };
    std::array<seen_driver, 4> seen{};
    lun_spec spec;
    config_node* node = nullptr;  // LUN#n's config node, found at config version node_version
    std::uint64_t node_version = ~std::uint64_t{0};
    std::vector<resolved_interface> offered;  // spec.offers as rows
    device_state* device = nullptr;
    record* top = nullptr;
    record* bottom = nullptr;
  };

  struct device_state {
    device_spec spec;
    std::vector<lun_state> luns;  // fixed once the device is added: records point into it
  };

  struct account {
    std::optional<detail::instance_layout> layout;  // computed at the first instance
    std::uint32_t next_instance = 0;
    std::uint32_t kept = 0;  // a rollback never takes next_instance below this (committed numbers)
    std::uint32_t live = 0;
    record* first = nullptr;
    record* last = nullptr;
  };

  // One step to undo if the attach that made it fails (see instantiate()).
  // Nodes are named by path, not pointer: a later step (a mount, a transformation further up)
  // may have replaced the node, and undoing it first brings the path back.
  struct undo_step {
    enum class kind { restore_node, remove_config, unrestrict } what;
    std::string path;
    std::optional<config_tree> snapshot;  // restore_node
  };
  // Where the undo logs stood when an attach began.
  struct undo_mark {
    std::size_t steps;    // undo_
    std::size_t numbers;  // numbers_
  };

  // One async notification the VM waits for.
  struct pending_notification {
    std::shared_ptr<detail::async_state> state;
    std::string driver;
    std::uint32_t instance;
    bool reported = false;
  };

  // --- EMT plumbing ---------------------------------------------------------------------------

  [[nodiscard]] static error wrong_thread_error(std::string_view what) {
    return error(errc::wrong_thread, std::string(what) + " was called off the EMT, and this VM refuses such calls");
  }
  template <class F>
  auto on_emt_call(std::string_view what, F&& f) -> detail::call_result_t<std::invoke_result_t<F&>> {
    if (!emt_.is_current() && options_.foreign == foreign_calls::refuse) return wrong_thread_error(what);
    return emt_.call(std::forward<F>(f));
  }
  // Whether the state can be saved or loaded now; `what` is "saved" or "loaded".
  [[nodiscard]] status check_state_for(std::string_view what, std::initializer_list<vm_state> allowed) const {
    const vm_state now = state_;
    if (std::find(allowed.begin(), allowed.end(), now) != allowed.end()) return ok();
    return error(errc::invalid_vm_state,
                 "the VM's state cannot be " + std::string(what) + " while it is " + std::string(to_string(now)));
  }
  [[nodiscard]] static error not_on_emt(const record& r, std::string_view what) {
    return error(errc::wrong_thread, std::string(what) + " must be called on the EMT")
        .driver(r.desc->name, r.ctx.instance());
  }

  void report(report_kind kind, error what) {
    const std::lock_guard<std::mutex> hold(report_lock_);
    const vm_report r{kind, std::move(what)};
    if (options_.report) {
      options_.report(r);
    } else {
      std::clog << "pdm: " << r.what.message() << '\n';
    }
  }

  // --- Look-ups -------------------------------------------------------------------------------

  [[nodiscard]] device_state* find_device(std::string_view name, std::uint32_t instance) noexcept {
    for (auto& d : devices_) {
      if (d->spec.name == name && d->spec.instance == instance) return d.get();
    }
    return nullptr;
  }
  result<lun_state*> find_lun(std::string_view device, std::uint32_t instance, std::uint32_t lun) {
    device_state* d = find_device(device, instance);
    if (d == nullptr) {
      return error(errc::device_not_found, "no device '" + std::string(device) + "' #" + std::to_string(instance))
          .path(device_path(device, instance));
    }
    for (lun_state& l : d->luns) {
      if (l.spec.number == lun) return &l;
    }
    return error(errc::lun_not_found,
                 "device '" + d->spec.name + "' #" + std::to_string(instance) + " has no LUN " + std::to_string(lun))
        .path(device_path(device, instance) + "/LUN#" + std::to_string(lun));
  }
  result<record*> find_on_lun(std::string_view device, std::uint32_t instance, std::uint32_t lun,
                              std::string_view driver, std::uint32_t occurrence) {
    result<lun_state*> l = find_lun(device, instance, lun);
    if (!l) return std::move(l).error_value();
    if ((*l)->top == nullptr) return error(errc::no_attached_driver, "nothing is attached").path(lun_path(**l));
    if (driver.empty()) return (*l)->top;
    std::uint32_t seen = 0;
    for (record* r = (*l)->top; r != nullptr; r = r->down) {
      if (r->desc->name == driver && seen++ == occurrence) return r;
    }
    return error(errc::instance_not_found, "no occurrence " + std::to_string(occurrence) + " of driver '" +
                                               std::string(driver) + "' in the chain")
        .path(lun_path(**l));
  }
  [[nodiscard]] error unknown_driver(std::string_view name) const {
    std::string d = "'" + std::string(name) + "' is not registered";
    std::vector<std::string_view> names;
    names.reserve(registry_.size());
    for (const driver_descriptor* x : registry_.drivers()) names.push_back(x->name);
    if (std::string_view s = detail::closest(name, names); !s.empty()) d += " (did you mean '" + std::string(s) + "'?)";
    return error(errc::driver_not_found, std::move(d));
  }
  [[nodiscard]] static std::string device_path(std::string_view device, std::uint32_t instance) {
    std::string p = "Devices/";
    p += device;
    p += '/';
    p += std::to_string(instance);
    return p;
  }
  [[nodiscard]] static std::string lun_path(const lun_state& l) {
    std::string p = device_path(l.device->spec.name, l.device->spec.instance);
    p += "/LUN#";
    p += std::to_string(l.spec.number);
    return p;
  }
  [[nodiscard]] config_node* lun_node(const device_state& d, std::uint32_t lun) noexcept {
    char buf[64];
    std::size_t n = 0;
    auto put = [&](std::string_view s) {
      const std::size_t k = std::min(s.size(), sizeof buf - n);
      std::memcpy(buf + n, s.data(), k);
      n += k;
    };
    auto put_number = [&](std::uint32_t v) {
      char digits[10];
      std::size_t k = 0;
      do {
        digits[k++] = static_cast<char>('0' + v % 10);
        v /= 10;
      } while (v != 0);
      while (k > 0 && n < sizeof buf) buf[n++] = digits[--k];
    };
    put("Devices/");
    put(d.spec.name);
    put("/");
    put_number(d.spec.instance);
    put("/LUN#");
    put_number(lun);
    if (n == sizeof buf) {  // a long device name: take the slow way
      return config_.root().find_child(device_path(d.spec.name, d.spec.instance) + "/LUN#" + std::to_string(lun));
    }
    return config_.root().find_child(std::string_view(buf, n));
  }

  // --- Devices --------------------------------------------------------------------------------

  status add_device_on_emt(device_spec spec) {
    if (state_ == vm_state::off || state_ == vm_state::destroying) {
      return error(errc::invalid_vm_state, "devices cannot be added in state " + std::string(to_string(state_)));
    }
    if (detail::check_driver_name(spec.name) != detail::driver_name_problem::none) {
      return error(errc::invalid_argument,
                   "the device name '" + spec.name + "' must be 1..31 letters, digits, '_', ' ' or '-'");
    }
    if (find_device(spec.name, spec.instance) != nullptr) {
      return error(errc::already_exists, "device '" + spec.name + "' #" + std::to_string(spec.instance) + " exists")
          .path(device_path(spec.name, spec.instance));
    }
    auto d = std::make_unique<device_state>();
    d->luns.reserve(spec.luns.size());
    for (lun_spec& l : spec.luns) {
      for (const lun_state& other : d->luns) {
        if (other.spec.number == l.number) {
          return error(errc::invalid_argument,
                       "device '" + spec.name + "' declares LUN " + std::to_string(l.number) + " twice");
        }
      }
      lun_state s;
      s.spec = std::move(l);
      s.device = d.get();
      for (const offered_interface& o : s.spec.offers) s.offered.push_back(resolved_interface{o.ref.key, o.address});
      d->luns.push_back(std::move(s));
    }
    std::sort(d->luns.begin(), d->luns.end(),
              [](const lun_state& a, const lun_state& b) { return a.spec.number < b.spec.number; });
    for (lun_state& l : d->luns) l.device = d.get();
    spec.luns.clear();
    d->spec = std::move(spec);
    devices_.push_back(std::move(d));
    return ok();
  }

  // --- Attach ---------------------------------------------------------------------------------

  result<driver_ref> attach_lun_on_emt(std::string_view device, std::uint32_t instance, std::uint32_t lun,
                                       attach_flags flags) {
    if (state_ == vm_state::off || state_ == vm_state::destroying) {
      return error(errc::invalid_vm_state, "chains cannot be attached in state " + std::string(to_string(state_)));
    }
    result<lun_state*> found = find_lun(device, instance, lun);
    if (!found) return std::move(found).error_value();
    lun_state& l = **found;
    if (l.top != nullptr) {
      return error(errc::already_attached, "driver '" + std::string(l.top->desc->name) + "' #" +
                                               std::to_string(l.top->ctx.instance()) + " is attached")
          .path(lun_path(l));
    }
    if (l.node_version != config_.root().version()) {
      l.node = lun_node(*l.device, lun);
      l.node_version = config_.root().version();
    }
    config_node* node = l.node;
    if (node == nullptr) return error(errc::no_attached_driver, "the LUN has no config").path(lun_path(l));
    const undo_mark mark = mark_now();
    result<record*> top = error(errc::internal_error);
    {
      const depth_guard nested(depth_);
      top = instantiate(*node, l, nullptr, flags);
      if (!top) undo_to(mark);  // even a driver a rule removed: this attach made nothing
      if (top && !has_flag(flags, attach_flags::not_hot_plug) && l.device->spec.hooks.on_attach) {
        const std::uint64_t serial = (*top)->serial;
        status told = call_device_attach(l, flags);
        if (!told) {
          // Unless the hook already detached it (and perhaps attached another chain).
          if (l.top == *top && l.top->serial == serial) destroy_chain(*top, attach_flags::no_callbacks);
          undo_to(mark);
          top = std::move(told).error_value();
        }
      }
    }
    // A LUN's chain stands on its own: once attached, an attach it was made within (a device
    // hook's, a constructor's) that fails later must not undo it.
    if (top) commit_since(mark);
    commit_if_outermost();
    if (!top) return std::move(top).error_value();
    return driver_ref(*top);
  }

  // Forgets the undo steps taken since `mark`: what they undo has become permanent.
  void commit_since(undo_mark mark) noexcept {
    // Numbers handed out since `mark` are for good: an outer rollback may not go below them.
    for (std::size_t i = mark.numbers; i < numbers_.size(); ++i) {
      account& a = accounts_[numbers_[i].first];
      a.kept = std::max(a.kept, a.next_instance);
    }
    undo_.erase(undo_.begin() + static_cast<std::ptrdiff_t>(mark.steps), undo_.end());
    numbers_.erase(numbers_.begin() + static_cast<std::ptrdiff_t>(mark.numbers), numbers_.end());
  }

  // Counts an attach under way for as long as it lives (also when an exception leaves early).
  struct depth_guard {
    int& depth;
    explicit depth_guard(int& d) noexcept : depth(d) { ++depth; }
    depth_guard(const depth_guard&) = delete;
    depth_guard& operator=(const depth_guard&) = delete;
    depth_guard(depth_guard&&) = delete;
    depth_guard& operator=(depth_guard&&) = delete;
    ~depth_guard() { --depth; }
  };

  static status call_device_attach(lun_state& l, attach_flags flags) {
    try {
      status s = l.device->spec.hooks.on_attach(l.spec.number, flags);
      if (!s) {
        error e = std::move(s).error_value();
        if (e.config_path().empty()) e.path(lun_path(l));
        return e;
      }
      return ok();
    } catch (const std::exception& e) {
      return error(errc::constructor_failed, std::string("the device's on_attach threw: ") + e.what())
          .path(lun_path(l));
    } catch (...) {
      return error(errc::constructor_failed, "the device's on_attach threw a non-standard exception").path(lun_path(l));
    }
  }

  // Forgets the undo steps once no attach is under way any more: the attaches succeeded.
  void commit_if_outermost() noexcept {
    if (depth_ == 0) {
      undo_.clear();
      numbers_.clear();
    }
  }

  [[nodiscard]] undo_mark mark_now() const noexcept { return {undo_.size(), numbers_.size()}; }

  void undo_to(undo_mark mark) noexcept {
    while (numbers_.size() > mark.numbers) {
      account& a = accounts_[numbers_.back().first];
      a.next_instance = std::max(numbers_.back().second, a.kept);
      numbers_.pop_back();
    }
    while (undo_.size() > mark.steps) {
      undo_step& s = undo_.back();
      config_node* node = config_.root().find_child(s.path);
      switch (s.what) {
        case undo_step::kind::restore_node:
          // Restoring needs memory; if even that fails, the node keeps the transformed config.
          try {
            if (node != nullptr) (void)node->assign(std::move(*s.snapshot));
          } catch (const std::bad_alloc&) {
          }
          break;
        case undo_step::kind::remove_config:
          if (node != nullptr && node->has_child("Config")) (void)node->remove_child("Config");
          break;
        case undo_step::kind::unrestrict:
          if (node != nullptr) node->set_restricted_root(false);
          break;
      }
      undo_.pop_back();
    }
  }

  // Builds the driver configured at `node` (LUN#n or an AttachedDriver) below `above` (null: at
  // the top of `l`'s chain). On failure everything it did is undone.
  result<record*> instantiate(config_node& node, lun_state& l, record* above, attach_flags flags) {
    const undo_mark mark = mark_now();
    try {
      result<record*> r = instantiate_steps(node, l, above, flags);
      if (!r) {
        // A driver a rule removed is not a failure of the rules: their changes stay (the attach
        // above may go on without it, or undo them if it fails).
        if (!(r.error_value() == errc::no_attached_driver && !node.has_value("Driver") &&
              node.has_child("Transformed"))) {
          undo_to(mark);
        }
        error e = std::move(r).error_value();
        if (e.config_path().empty()) e.path(node.path());
        return e;
      }
      return r;
    } catch (const std::bad_alloc&) {
      undo_to(mark);
      return error(errc::no_memory, "while attaching").path(node.path());
    }
  }

  result<record*> instantiate_steps(config_node& node, lun_state& l, record* above, attach_flags flags) {
    // 1. Transformations.
    if (status s = transform(node, l, above); !s) return std::move(s).error_value();
    // 2. The driver's name, and nothing unknown at this level: one pass over the node's entries.
    result<position> pos = scan_position(node);
    if (!pos) return std::move(pos).error_value();
    const config_value* name_value = pos->driver;
    if (name_value == nullptr) {
      if (pos->transformed) {
        return error(errc::no_attached_driver, "a transformation removed the driver").path(node.path());
      }
      return error(errc::missing_driver_name).path(node.path());
    }
    if (name_value->kind() != value_kind::string) {
      return error(errc::wrong_type, "Driver must be a string, not " + std::string(value_kind_name(name_value->kind())))
          .path(node.full_path("Driver"));
    }
    const std::string& name = name_value->string();
    // 3. Look-up; remembered per LUN and depth while the config does not change.
    const std::size_t depth = above != nullptr ? above->depth + 1 : 0;
    const std::uint64_t version = config_.root().version();
    std::size_t index = registry::npos;
    if (depth < l.seen.size() && l.seen[depth].value == name_value && l.seen[depth].version == version &&
        l.seen[depth].registry_size == registry_.size()) {
      index = l.seen[depth].index;
    } else {
      index = registry_.find_index(name);
      if (index != registry::npos && depth < l.seen.size()) {
        l.seen[depth] = lun_state::seen_driver{name_value, version, registry_.size(), index};
      }
    }
    if (index == registry::npos) return unknown_driver(name).path(node.full_path("Driver"));
    const driver_descriptor& d = *registry_.drivers()[index];
    if (accounts_.size() < registry_.size()) accounts_.resize(registry_.size());
    // 4. The instance limit.
    if (accounts_[index].live >= d.max_instances) {
      return error(errc::too_many_instances, std::to_string(accounts_[index].live) + " of at most " +
                                                 std::to_string(d.max_instances) + " are alive")
          .driver(d.name);
    }
    // 5. Interfaces, both ways, before anything is constructed.
    if (status s = check_interfaces(d, l, above); !s) return std::move(s).error_value();
    // 6. Config: created if missing, handed over as a restricted root.
    config_node* cfg = pos->config;
    if (cfg == nullptr) {
      if (pos->config_is_value) {
        return error(errc::wrong_type, "Config must be a node, not a value").path(node.full_path("Config"));
      }
      // The step is made and room for it is reserved first: once the node exists, recording it
      // cannot fail.
      undo_step step{undo_step::kind::remove_config, node.path(), std::nullopt};
      undo_.reserve(undo_.size() + 1);
      result<config_node*> made = node.add_child("Config");
      if (!made) return std::move(made).error_value();
      undo_.push_back(std::move(step));
      cfg = *made;
    }
    if (!cfg->is_restricted_root()) {
      undo_.push_back(undo_step{undo_step::kind::unrestrict, cfg->path(), std::nullopt});
      cfg->set_restricted_root(true);
    }
    // 7. Bind the config (drivers with a config_type), then allocate, number, link, construct.
    if (d.bind_config == nullptr) return construct_record(d, index, node, *cfg, l, above, flags, nullptr);
    struct bind_call {
      vm* self = nullptr;
      const driver_descriptor* d = nullptr;
      std::size_t index = 0;
      config_node* node = nullptr;
      config_node* cfg = nullptr;
      lun_state* l = nullptr;
      record* above = nullptr;
      attach_flags flags = attach_flags::none;
      record* made = nullptr;               // the constructed instance, or
      std::unique_ptr<error> failure = {};  // why not (allocated only on failure)
    } call{this, &d, index, &node, cfg, &l, above, flags};
    status bound = d.bind_config(
        *cfg,
        [](void* config, void* context) {
          auto* c = static_cast<bind_call*>(context);
          result<record*> r =
              c->self->construct_record(*c->d, c->index, *c->node, *c->cfg, *c->l, c->above, c->flags, config);
          if (r) {
            c->made = *r;
          } else {
            c->failure = std::make_unique<error>(std::move(r).error_value());
          }
        },
        &call);
    if (!bound) {
      error e = std::move(bound).error_value();
      return std::move(e.driver(d.name, accounts_[index].next_instance));
    }
    if (call.failure) return std::move(*call.failure);
    if (call.made == nullptr) return error(errc::internal_error, "bind_config did not pass a config on").driver(d.name);
    return call.made;
  }

  // What a driver's node holds: only Driver, Config, AttachedDriver and Transformed belong there.
  struct position {
    const config_value* driver = nullptr;
    config_node* config = nullptr;
    bool config_is_value = false;
    bool transformed = false;
  };
  [[nodiscard]] static result<position> scan_position(config_node& node) {
    // Names compared by length first, then with constant-length compares the compiler inlines.
    auto is = [](const std::string& name, const char(&literal)[7]) {
      return std::memcmp(name.data(), literal, 6) == 0;
    };
    position p;
    for (const auto& e : node.entries()) {
      const std::string& name = e.name();
      if (name.size() == 6 && is(name, "Driver")) {
        if (!e.is_node()) p.driver = &e.value();
        continue;  // a node called Driver: reported as a missing name
      }
      if (name.size() == 6 && is(name, "Config")) {
        if (e.is_node()) {
          p.config = const_cast<config_node*>(&e.node());  // NOLINT(*-const-cast): `node` is not const
        } else {
          p.config_is_value = true;
        }
        continue;
      }
      if (name.size() == 14 && std::memcmp(name.data(), "AttachedDriver", 14) == 0) continue;
      if (name.size() == 11 && std::memcmp(name.data(), "Transformed", 11) == 0) {
        p.transformed = true;
        continue;
      }
      static constexpr std::string_view known[] = {"Driver", "Config", "AttachedDriver", "Transformed"};
      std::string d = "'" + name + "' is not a key of a driver's node (Driver, Config, AttachedDriver)";
      if (std::string_view s = detail::closest(name, known); !s.empty())
        d += "; did you mean '" + std::string(s) + "'?";
      return error(errc::unknown_key, std::move(d)).path(node.full_path(name));
    }
    return p;
  }

  static status check_interfaces(const driver_descriptor& d, const lun_state& l, const record* above) {
    const std::span<const interface_ref> wanted =
        above != nullptr ? above->desc->needs_below : std::span<const interface_ref>(l.spec.needs);
    for (const interface_ref& need : wanted) {
      if (!d.provides_key(need.key)) {
        std::string who = above != nullptr
                              ? "driver '" + std::string(above->desc->name) + "' above it"
                              : "device '" + l.device->spec.name + "' (LUN " + std::to_string(l.spec.number) + ")";
        return error(errc::missing_interface,
                     "it does not provide " + std::string(need.id) + ", which the " + who + " needs")
            .driver(d.name);
      }
    }
    for (const interface_ref& need : d.needs_above) {
      const bool offered =
          above != nullptr
              ? above->desc->provides_key(need.key)
              : std::ranges::any_of(l.spec.offers, [&](const offered_interface& o) { return o.ref.key == need.key; });
      if (!offered) {
        std::string who = above != nullptr
                              ? "driver '" + std::string(above->desc->name) + "' above it"
                              : "device '" + l.device->spec.name + "' (LUN " + std::to_string(l.spec.number) + ")";
        return error(errc::missing_interface,
                     "it needs " + std::string(need.id) + " from above, which the " + who + " does not offer")
            .driver(d.name);
      }
    }
    return ok();
  }

  result<record*> construct_record(const driver_descriptor& d, std::size_t index, config_node& node, config_node& cfg,
                                   lun_state& l, record* above, attach_flags /*flags*/, void* bound) {
    account& a = accounts_[index];
    if (!a.layout) a.layout = detail::layout_instance<record>(d);
    const detail::instance_layout& layout = *a.layout;
    numbers_.emplace_back(index, a.next_instance);
    void* block = allocate_block(layout.size, layout.alignment);  // may throw bad_alloc: nothing linked yet
    auto* r = ::new (block) record(d.name, a.next_instance, this);
    ++a.next_instance;
    r->lun = &l;
    r->up = above;
    r->depth = above != nullptr ? above->depth + 1 : 0;
    r->serial = ++serials_;
    r->node = &node;
    r->config = &cfg;
    r->account = index;
    r->block_size = layout.size;
    r->block_alignment = layout.alignment;
    // The instance starts in the state the VM was in before the power operation under way, so
    // that operation reaches it too; attached while running, it counts as running.
    const vm_state s = state_;
    r->powered = s == vm_state::running || s == vm_state::suspending || s == vm_state::suspended ||
                 s == vm_state::resuming || s == vm_state::resetting || s == vm_state::powering_off;
    r->suspended = s == vm_state::suspended || s == vm_state::resuming ||
                   (s == vm_state::resetting && reset_from_ == vm_state::suspended);
    r->reset_round = s == vm_state::resetting ? reset_round_ - 1 : reset_round_;  // a reset under way reaches it
    // Link.
    if (above != nullptr) {
      above->down = r;
    } else {
      l.top = r;
    }
    l.bottom = r;
    ++a.live;
    r->prev_live = a.last;
    if (a.last != nullptr) {
      a.last->next_live = r;
    } else {
      a.first = r;
    }
    a.last = r;
    // Its automatic saved-state unit, before the constructor: released with it, like what the
    // constructor makes, if the constructor fails.
    if (has_hook(d.hooks, driver_hooks::saved_state)) {
      status unit = ok();
      try {
        unit = services_.state_units().add_automatic(
            r->resources, d.name, r->ctx.instance(), node.path(), d.saved_state_version,
            detail::automatic_state{&r->object, d.save_state, d.stage_state, d.finish_state});
      } catch (const std::bad_alloc&) {
        unit = error(errc::no_memory, "registering the saved-state unit").driver(d.name, r->ctx.instance());
      }
      if (!unit) {
        unlink(*r);
        release(*r);
        error e = std::move(unit).error_value();
        if (e.config_path().empty()) e.path(node.path());
        return e;
      }
    }
    // Construct.
    bool constructed = false;
    status built = detail::construct_instance(*r, d, layout, bound, constructed);
    if (!built) {
      // As a detach would: what it attached below first (bottom-most first, no notifications),
      // then the driver itself if it exists (it failed through ctx.fail()).
      if (r->down != nullptr) destroy_chain(r->down, attach_flags::no_callbacks);
      detail::service_hub::release_threads(r->resources);  // they never ran the driver's code
      if (constructed) d.destroy(r->object);
      unlink(*r);
      release(*r);
      error e = std::move(built).error_value();
      if (e.config_path().empty()) e.path(node.path());
      return e;
    }
    r->constructed = true;
    services_.start_threads(r->resources);
    return r;
  }

  // Takes `r` out of its chain and its driver's live list (its links below must be gone).
  void unlink(record& r) noexcept {
    lun_state& l = *r.lun;
    if (r.up != nullptr) {
      r.up->down = nullptr;
    } else {
      l.top = nullptr;
    }
    l.bottom = r.up;
    r.up = nullptr;
    account& a = accounts_[r.account];
    --a.live;
    if (r.prev_live != nullptr) {
      r.prev_live->next_live = r.next_live;
    } else {
      a.first = r.next_live;
    }
    if (r.next_live != nullptr) {
      r.next_live->prev_live = r.prev_live;
    } else {
      a.last = r.prev_live;
    }
  }

  // Instance blocks: from the memory resource if the options give one; otherwise operator new,
  // without the aligned form (and its slower allocator path) unless the driver needs it.
  void* allocate_block(std::size_t size, std::size_t alignment) {
    if (memory_ != nullptr) return memory_->allocate(size, alignment);
    if (alignment <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) return ::operator new(size);
    return ::operator new(size, std::align_val_t(alignment));
  }
  void free_block(void* p, std::size_t size, std::size_t alignment) noexcept {
    if (memory_ != nullptr) {
      memory_->deallocate(p, size, alignment);
    } else if (alignment <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
      ::operator delete(p);  // unsized: clang 14 has sized deallocation off by default
    } else {
      ::operator delete(p, std::align_val_t(alignment));
    }
  }

  // Drops what the instance owns (newest first), then its memory. The driver object is gone
  // already, and so are its threads.
  void release(record& r) noexcept {
    detail::service_hub::release_all(r.resources);
    if (r.posted.load(std::memory_order_acquire)) emt_.cancel_owned(&r);
    const std::size_t size = r.block_size;
    const std::size_t alignment = r.block_alignment;
    r.~record();
    if (options_.poison_freed) {
      auto* p = reinterpret_cast<unsigned char*>(&r);
      for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<unsigned char>(poison_pattern >> (8 * (i % 4)));
    }
    free_block(&r, size, alignment);
  }

  // --- Transformations ------------------------------------------------------------------------

  // The rules under PDM/DriverTransformations, parsed and checked; read again only when the
  // config tree changed since they were last read (an attach without rules costs one compare).
  status current_rules() {
    const std::uint64_t now = config_.root().version();
    if (rules_read_ && rules_version_ == now) return rules_error_ ? status(*rules_error_) : ok();
    rules_.clear();
    rules_error_.reset();
    rules_read_ = false;
    const config_node* pdm_node = config_.root().find_child("PDM");
    const config_node* rules_node = pdm_node != nullptr ? pdm_node->find_child("DriverTransformations") : nullptr;
    if (rules_node == nullptr && pdm_node != nullptr && pdm_node->has_value("DriverTransformations")) {
      rules_error_ = error(errc::misconfigured_transformation, "must be a node of rules")
                         .path(pdm_node->full_path("DriverTransformations"));
    } else if (rules_node != nullptr && !rules_node->empty()) {
      result<std::vector<transformation_rule>> parsed = parse_transformations(*rules_node);
      if (parsed) {
        rules_ = std::move(*parsed);
      } else {
        rules_error_ = std::move(parsed).error_value();
      }
    }
    rules_version_ = now;
    rules_read_ = true;
    return rules_error_ ? status(*rules_error_) : ok();
  }

  status transform(config_node& node, const lun_state& l, const record* above) {
    if (rules_read_ && rules_version_ == config_.root().version() && rules_.empty() && !rules_error_) {
      return ok();  // the common case: no rules, nothing changed since they were read
    }
    if (status s = current_rules(); !s) return s;
    if (rules_.empty()) return ok();
    const config_value* driver = node.find_value("Driver");
    const bool removed = driver == nullptr && node.has_child("Transformed");
    if (driver == nullptr && !removed) return ok();                              // instantiate reports the missing name
    if (driver != nullptr && driver->kind() != value_kind::string) return ok();  // and the wrong type
    // Applying a rule changes the tree but not the rules' nodes; the next level reads them again.
    const std::vector<transformation_rule>* rules = &rules_;
    const transform_site site{l.device->spec.name, l.spec.number,
                              above != nullptr ? above->desc->name : std::string_view("<top>")};
    std::string current = driver != nullptr ? driver->string() : std::string();
    bool snapshot_taken = false;
    for (std::size_t i = 0; i < rules->size(); ++i) {
      const transformation_rule& rule = (*rules)[i];
      if (const config_node* marks = node.find_child("Transformed"); marks != nullptr && marks->has_value(rule.name)) {
        continue;  // a rule applies once to a driver and never to what it made
      }
      if (!rule_matches(rule, site, current)) continue;
      if (current.empty()) {
        return error(errc::cannot_transform_removed_driver,
                     "rule '" + rule.name + "' matches a driver that an earlier rule removed")
            .path(rule.node->path());
      }
      if (!snapshot_taken) {
        undo_.push_back(undo_step{undo_step::kind::restore_node, node.path(), node.clone()});
        snapshot_taken = true;
      }
      result<std::string> now = apply_rule(rule, node, current);
      if (!now) return std::move(now).error_value();
      current = std::move(*now);
      // The rules before this one never saw what it made; marked as passed, they will not see it
      // on a re-attach either, so a re-attach builds the chain the first attach built.
      if (rule.action != transform_action::mergeconfig) {
        for (std::size_t j = 0; j < i; ++j) {
          result<config_node*> marks = node.ensure_child("Transformed");
          if (!marks) return std::move(marks).error_value();
          if (!(*marks)->has_value((*rules)[j].name)) {
            if (status st = (*marks)->add_value((*rules)[j].name, config_value(std::string("passed"))); !st) return st;
          }
        }
      }
    }
    return ok();
  }

  // Adds `rule`'s mark to the Transformed node of `target`, after the inherited marks of `from`.
  static status mark(config_node& target, const config_node* from, const transformation_rule& rule,
                     const std::string& what) {
    result<config_node*> marks = target.ensure_child("Transformed");
    if (!marks) return std::move(marks).error_value();
    if (from != nullptr) {
      if (const config_node* old = from->find_child("Transformed")) {
        for (const auto& e : old->entries()) {
          if (!e.is_node() && !(*marks)->has_value(e.name())) {
            if (status s = (*marks)->set_value(e.name(), config_value(std::string("inherited"))); !s) return s;
          }
        }
      }
    }
    return (*marks)->set_value(rule.name, config_value(std::string(to_string(rule.action)) + ": " + what));
  }
  // Marks every AttachedDriver level below `n` (a template's chain) as made by `rule`.
  static status mark_template_chain(config_node& n, const config_node& from, const transformation_rule& rule) {
    for (config_node* below = n.find_child("AttachedDriver"); below != nullptr;
         below = below->find_child("AttachedDriver")) {
      if (status s = mark(*below, &from, rule, "from the rule's template"); !s) return s;
    }
    return ok();
  }

  // Applies one matching rule at `node` (driver `current`); returns the driver now configured
  // there (empty if removed).
  static result<std::string> apply_rule(const transformation_rule& rule, config_node& node,
                                        const std::string& current) {
    std::string template_driver =
        rule.attached != nullptr ? rule.attached->get_or<std::string>("Driver", "").value_or("") : std::string();
    auto check = [](status s) -> result<std::string> {
      if (!s) return std::move(s).error_value();
      return std::string();
    };
    switch (rule.action) {
      case transform_action::inject: {
        config_tree moved = node.clone();
        if (status s = mark(moved.root(), nullptr, rule, "moved below " + template_driver); !s)
          return check(std::move(s));
        config_tree fresh = rule.attached->clone();
        if (status s = mark(fresh.root(), &node, rule, "injected above " + current); !s) return check(std::move(s));
        if (status s = fresh.root().adopt("AttachedDriver", std::move(moved)); !s) return check(std::move(s));
        if (status s = node.assign(std::move(fresh)); !s) return check(std::move(s));
        return template_driver;
      }
      case transform_action::mergeconfig: {
        result<config_node*> cfg = node.ensure_child("Config");
        if (!cfg) return std::move(cfg).error_value();
        if (status s = (*cfg)->merge(*rule.config, merge_options{value_merge::replace, child_merge::merge}); !s) {
          return check(std::move(s));
        }
        if (status s = mark(node, nullptr, rule, "merged into Config"); !s) return check(std::move(s));
        return current;
      }
      case transform_action::remove:
      case transform_action::removetree: {
        const config_node* below = node.find_child("AttachedDriver");
        if (rule.action == transform_action::remove && below != nullptr) {
          config_tree up = below->clone();
          if (status s = mark(up.root(), &node, rule, "took the place of " + current); !s) return check(std::move(s));
          std::string now = up.root().get_or<std::string>("Driver", "").value_or("");
          if (status s = node.assign(std::move(up)); !s) return check(std::move(s));
          return now;
        }
        config_tree empty;
        if (status s = mark(empty.root(), &node, rule,
                            below != nullptr ? "removed " + current + " and what was below it" : "removed " + current);
            !s) {
          return check(std::move(s));
        }
        if (status s = node.assign(std::move(empty)); !s) return check(std::move(s));
        return std::string();
      }
      case transform_action::replace:
      case transform_action::replacetree: {
        config_tree fresh = rule.attached->clone();
        const config_node* below = node.find_child("AttachedDriver");
        std::string what = "replaced " + current;
        if (rule.action == transform_action::replace && below != nullptr) {
          if (status s = fresh.root().adopt("AttachedDriver", below->clone()); !s) return check(std::move(s));
        } else if (rule.action == transform_action::replacetree) {
          if (below != nullptr) what += " and what was below it";
          if (status s = mark_template_chain(fresh.root(), node, rule); !s) return check(std::move(s));
        }
        if (status s = mark(fresh.root(), &node, rule, what); !s) return check(std::move(s));
        if (status s = node.assign(std::move(fresh)); !s) return check(std::move(s));
        return template_driver;
      }
    }
    return error(errc::internal_error, "unknown transformation action");
  }

  // --- Detach ---------------------------------------------------------------------------------

  status detach_record(record* r, attach_flags flags) {
    for (const record* x = r; x != nullptr; x = x->down) {
      if (!x->constructed) {
        return error(errc::detach_in_progress, "driver '" + std::string(x->desc->name) + "' #" +
                                                   std::to_string(x->ctx.instance()) +
                                                   " in that chain is still being constructed")
            .driver(r->desc->name, r->ctx.instance())
            .path(r->node->path());
      }
    }
    if (r->detaching) {
      return error(errc::detach_in_progress, "the instance is already being detached")
          .driver(r->desc->name, r->ctx.instance())
          .path(r->node->path());
    }
    if (r->up != nullptr ? r->up->desc->on_detach_below == nullptr : !r->lun->device->spec.hooks.on_detach) {
      std::string who = r->up != nullptr
                            ? "driver '" + std::string(r->up->desc->name) + "' above it has no on_detach_below hook"
                            : "device '" + r->lun->device->spec.name + "' has no on_detach hook";
      return error(errc::detach_not_possible, std::move(who))
          .driver(r->desc->name, r->ctx.instance())
          .path(r->node->path());
    }
    destroy_chain(r, flags);
    return ok();
  }

  // Destroys `top` and everything below it, bottom-most first. The threads of all of them are
  // stopped first, top first: a driver's thread may use the drivers below it (a char layer's
  // I/O thread reads the stream below), so none of them may go while it runs.
  void destroy_chain(record* top, attach_flags flags) noexcept {
    for (record* r = top; r != nullptr; r = r->down) r->detaching = true;
    for (record* r = top; r != nullptr; r = r->down) detail::service_hub::release_threads(r->resources);
    const bool notify = !has_flag(flags, attach_flags::no_callbacks);
    record* cur = nullptr;
    do {
      cur = top;
      while (cur->down != nullptr) cur = cur->down;
      record* parent = cur->up;
      lun_state& l = *cur->lun;
      unlink(*cur);
      if (notify) {
        try {
          if (parent != nullptr) {
            if (parent->desc->on_detach_below != nullptr) parent->desc->on_detach_below(parent->object, flags);
          } else if (l.device->spec.hooks.on_detach) {
            l.device->spec.hooks.on_detach(l.spec.number, flags);
          }
        } catch (const std::exception& e) {
          report(report_kind::hook_threw,
                 error(errc::internal_error, std::string("a detach notification threw: ") + e.what())
                     .path(cur->node->path()));
        } catch (...) {
          report(report_kind::hook_threw,
                 error(errc::internal_error, "a detach notification threw").path(cur->node->path()));
        }
      }
      cur->desc->destroy(cur->object);
      const bool last = cur == top;
      release(*cur);
      if (last) break;
    } while (true);
  }

  // --- driver_host: what a driver's context calls ---------------------------------------------

  // Every instance header this VM's helpers receive starts one of its records.
  static record& as_record(detail::instance_header& h) noexcept {
    return static_cast<record&>(h);  // NOLINT(cppcoreguidelines-pro-type-static-cast-downcast)
  }
  static const record& as_record(const detail::instance_header& h) noexcept {
    return static_cast<const record&>(h);  // NOLINT(cppcoreguidelines-pro-type-static-cast-downcast)
  }

  result<driver_ref> attach_below(detail::instance_header& self, attach_flags flags) override {
    auto& r = as_record(self);
    if (!emt_.is_current()) return not_on_emt(r, "attach");
    if (r.detaching) {
      return error(errc::detach_in_progress, "a driver being detached cannot attach")
          .driver(r.desc->name, r.ctx.instance());
    }
    if (r.down != nullptr) {
      return error(errc::already_attached, "driver '" + std::string(r.down->desc->name) + "' #" +
                                               std::to_string(r.down->ctx.instance()) + " is attached below")
          .driver(r.desc->name, r.ctx.instance())
          .path(r.node->path());
    }
    config_node* below = r.node->find_child("AttachedDriver");
    if (below == nullptr) {
      return error(errc::no_attached_driver, "nothing is configured below")
          .driver(r.desc->name, r.ctx.instance())
          .path(r.node->full_path("AttachedDriver"));
    }
    if (!r.constructed && !r.rows_resolved) {
      // The constructor runs: its bases exist, so the rows can be written for the driver below.
      r.desc->resolve(r.object, const_cast<resolved_interface*>(r.rows.data()));  // NOLINT(*-const-cast)
      r.rows_resolved = true;
    }
    result<record*> made = error(errc::internal_error);
    {
      const depth_guard nested(depth_);
      made = instantiate(*below, *r.lun, &r, flags);
    }
    commit_if_outermost();
    if (!made) return std::move(made).error_value();
    return driver_ref(*made);
  }

  status detach_below(detail::instance_header& self, attach_flags flags) override {
    auto& r = as_record(self);
    if (!emt_.is_current()) return not_on_emt(r, "detach");
    if (r.down == nullptr) {
      return error(errc::no_attached_driver, "nothing is attached below").driver(r.desc->name, r.ctx.instance());
    }
    return detach_record(r.down, flags);
  }

  status detach_self(detail::instance_header& self, attach_flags flags) override {
    auto& r = as_record(self);
    if (!emt_.is_current()) return not_on_emt(r, "detach_self");
    if (!r.constructed) {
      return error(errc::invalid_vm_state, "a driver cannot detach itself while it is being constructed")
          .driver(r.desc->name, r.ctx.instance());
    }
    return detach_record(&r, flags);
  }

  status mount_prepare(detail::instance_header& self, std::string_view file, std::string_view core_driver) override {
    auto& r = as_record(self);
    if (!emt_.is_current()) return not_on_emt(r, "mount_prepare");
    auto fail = [&](error e) -> status {
      if (e.driver_name().empty()) e.driver(r.desc->name, r.ctx.instance());
      if (e.config_path().empty()) e.path(r.node->full_path("AttachedDriver"));
      return e;
    };
    if (r.down != nullptr) {
      return fail(error(errc::already_attached, "detach what is attached below before preparing a mount"));
    }
    std::string core(core_driver);
    try {
      if (core.empty()) {
        result<std::string> probed = probe(file);
        if (!probed) return fail(std::move(probed).error_value());
        core = std::move(*probed);
      } else if (registry_.find(core) == nullptr) {
        return fail(unknown_driver(core));
      }
      // Built aside, then swapped in: on any failure the old subtree stays.
      config_tree fresh;
      if (status s = fresh.root().add_value("Driver", config_value(core)); !s) return fail(std::move(s).error_value());
      result<config_node*> cfg = fresh.root().add_child("Config");
      if (!cfg) return fail(std::move(cfg).error_value());
      if (status s = (*cfg)->add_value("Path", config_value(std::string(file))); !s) {
        return fail(std::move(s).error_value());
      }
      // Inside an attach (a constructor mounting), the attach may still fail: then this is undone too.
      if (depth_ > 0) undo_.push_back(undo_step{undo_step::kind::restore_node, r.node->path(), r.node->clone()});
      if (config_node* old = r.node->find_child("AttachedDriver")) {
        if (status s = old->assign(std::move(fresh)); !s) return fail(std::move(s).error_value());
        return ok();
      }
      if (status s = r.node->adopt("AttachedDriver", std::move(fresh)); !s) return fail(std::move(s).error_value());
      return ok();
    } catch (const std::bad_alloc&) {
      return fail(error(errc::no_memory, "while preparing a mount"));
    }
  }

  // The registered driver whose probe is surest about `file` (first registered on a tie).
  result<std::string> probe(std::string_view file) {
    std::ifstream in{std::string(file), std::ios::binary};
    if (!in) return error(errc::io_error, "cannot open '" + std::string(file) + "' to probe it");
    std::vector<std::byte> head(4096);
    in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
    if (in.bad()) return error(errc::io_error, "cannot read '" + std::string(file) + "' to probe it");
    head.resize(static_cast<std::size_t>(in.gcount()));
    const driver_descriptor* best = nullptr;
    int best_score = 0;
    std::string asked;
    for (const driver_descriptor* d : registry_.drivers()) {
      if (d->probe == nullptr) continue;
      asked += asked.empty() ? "" : ", ";
      asked += d->name;
      int score = 0;
      try {
        score = d->probe(head, file);
      } catch (...) {
        score = 0;  // a probe that throws does not claim the file
      }
      if (score > best_score) {
        best = d;
        best_score = score;
      }
    }
    if (best == nullptr) {
      return error(errc::not_implemented, "no registered driver recognises '" + std::string(file) + "' (asked: " +
                                              (asked.empty() ? std::string("no driver has a probe") : asked) + ")");
    }
    return std::string(best->name);
  }

  void report_wrong_thread(const detail::instance_header& self, bool wanted_emt,
                           const pdm::source_location& where) override {
    std::string d = wanted_emt ? "assert_emt failed: not on the EMT" : "assert_other failed: on the EMT";
    d += " (";
    d += where.file_name();
    d += ':';
    d += std::to_string(where.line());
    d += ", ";
    d += where.function_name();
    d += ')';
    report(report_kind::wrong_thread,
           error(errc::wrong_thread, std::move(d)).driver(self.desc->name, self.ctx.instance()));
  }

  result<async_notification> notify_later(detail::instance_header& self) override {
    auto& r = as_record(self);
    if (!emt_.is_current()) return not_on_emt(r, "notify_later");
    const vm_state s = state_;
    if (notifying_ != &r || (s != vm_state::suspending && s != vm_state::resetting && s != vm_state::powering_off)) {
      return error(errc::invalid_vm_state,
                   "notify_later is for the suspend, reset and power-off hooks, called from the hook itself")
          .driver(r.desc->name, r.ctx.instance());
    }
    auto state = std::make_shared<detail::async_state>();
    state->wake = [this] { emt_.wake(); };
    pending_.push_back(pending_notification{state, std::string(r.desc->name), r.ctx.instance(), false});
    return async_notification(std::move(state));
  }

  status post(detail::instance_header& self, std::function<void()> work) override {
    auto& r = as_record(self);
    r.posted.store(true, std::memory_order_release);
    if (!emt_.post(std::move(work), &r)) {
      return error(errc::cancelled, "the EMT has stopped").driver(r.desc->name, r.ctx.instance());
    }
    return ok();
  }

  [[nodiscard]] above_ref above(const detail::instance_header& self) const noexcept override {
    const auto& r = as_record(self);
    if (r.up != nullptr) return {r.up->rows, r.up->desc->name, r.up->ctx.instance(), false, r.lun->spec.number};
    return {r.lun->offered, r.lun->device->spec.name, r.lun->device->spec.instance, true, r.lun->spec.number};
  }
  [[nodiscard]] driver_ref below(const detail::instance_header& self) const noexcept override {
    const auto& r = as_record(self);
    return r.down != nullptr && r.down->constructed ? driver_ref(r.down) : driver_ref();
  }
  [[nodiscard]] const config_node* config(const detail::instance_header& self) const noexcept override {
    return as_record(self).config;
  }
  [[nodiscard]] detail::service_hub& services() noexcept override { return services_; }
  [[nodiscard]] std::string config_path(const detail::instance_header& self) const override {
    return as_record(self).node->path();
  }

  // --- Power ----------------------------------------------------------------------------------

  status power_off_on_emt() {
    return transition(power_event::power_off, {vm_state::running, vm_state::suspended}, vm_state::powering_off,
                      vm_state::off);
  }

  status transition(power_event ev, std::initializer_list<vm_state> from, vm_state during, vm_state to) {
    const vm_state now = state_;
    if (std::find(from.begin(), from.end(), now) == from.end()) {
      std::string allowed;
      for (vm_state s : from) {
        allowed += allowed.empty() ? "" : " or ";
        allowed += to_string(s);
      }
      return error(errc::invalid_vm_state,
                   std::string(event_name(ev)) + " needs state " + allowed + ", not " + std::string(to_string(now)));
    }
    state_ = during;
    if (ev == power_event::reset) {
      ++reset_round_;
      reset_from_ = now;
    }
    auto pump = [this] { emt_.wait_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(10)); };
    if (ev == power_event::suspend || ev == power_event::power_off) services_.timers().clocks().pause_virtual();
    // Threads run before the drivers hear of power on or resume, and stop after suspend or off.
    if (ev == power_event::power_on || ev == power_event::resume) services_.resume_threads(pump);
    // By index: a hook (or a request run while waiting) may add devices.
    for (std::size_t di = 0; di < devices_.size(); ++di) {  // NOLINT(modernize-loop-convert): see above
      device_state* d = devices_[di].get();
      const bool device_first =
          (ev == power_event::reset && has_flag(d->spec.flags, device_flags::reset_first)) ||
          (ev == power_event::suspend && has_flag(d->spec.flags, device_flags::suspend_first)) ||
          (ev == power_event::power_off && has_flag(d->spec.flags, device_flags::power_off_first));
      if (device_first) notify_device(*d, ev);
      for (lun_state& l : d->luns) notify_chain(l, ev);
      wait_for_pending();
      if (!device_first) notify_device(*d, ev);
    }
    // Drivers attached during the walk, in chains already passed, are brought along too.
    for (bool again = true; again;) {
      again = false;
      for (std::size_t di = 0; di < devices_.size(); ++di) {  // NOLINT(modernize-loop-convert): devices may be added
        for (lun_state& l : devices_[di]->luns) again = notify_chain(l, ev) || again;
      }
      wait_for_pending();
    }
    if (ev == power_event::suspend || ev == power_event::power_off) services_.suspend_threads(pump);
    state_ = to;
    if (to == vm_state::running) {
      // Threads made during the transition (by hooks, or by drivers attached meanwhile) start now.
      services_.resume_threads(pump);
      if (ev == power_event::power_on || ev == power_event::resume) {
        services_.timers().clocks().resume_virtual();
        services_.resume_pollers();
      }
      // A runtime error that asked for a suspend while the VM was not running gets it now.
      if (suspend_wanted_.load(std::memory_order_acquire)) post_runtime_suspend();
    } else if (to == vm_state::suspended || to == vm_state::off) {
      suspend_wanted_.store(false, std::memory_order_release);  // whoever asked has what they wanted
    }
    return ok();
  }

  // A driver's set_runtime_error asked for a suspend (any thread): done on the EMT, if the VM
  // still runs by then.
  // A request that is not carried out at once (the VM is in a transition) is remembered until
  // the VM runs again.
  void suspend_for_runtime_error(bool fatal) {
    if (fatal) fatal_.store(true, std::memory_order_release);
    suspend_wanted_.store(true, std::memory_order_release);
    post_runtime_suspend();
  }
  void post_runtime_suspend() {
    (void)emt_.post([this] {
      if (state_ == vm_state::running && suspend_wanted_.load(std::memory_order_acquire)) {
        (void)transition(power_event::suspend, {vm_state::running}, vm_state::suspending, vm_state::suspended);
      }
    });
  }

  [[nodiscard]] static std::string_view event_name(power_event ev) noexcept {
    switch (ev) {
      case power_event::power_on:
        return "power_on";
      case power_event::reset:
        return "reset";
      case power_event::suspend:
        return "suspend";
      case power_event::resume:
        return "resume";
      case power_event::power_off:
        return "power_off";
    }
    return "power event";
  }

  // Notifies the first instance in `l`'s chain (top down) that has not had `ev` yet, again and
  // again: a hook may detach or attach drivers, so the walk restarts from the top each time.
  // Returns whether any instance was notified.
  bool notify_chain(lun_state& l, power_event ev) {
    bool any = false;
    for (;;) {
      record* r = l.top;
      while (r != nullptr && !(r->constructed && take(*r, ev))) r = r->down;
      if (r == nullptr) return any;
      any = true;
      driver_descriptor::notify_fn fn = nullptr;
      switch (ev) {
        case power_event::power_on:
          fn = r->desc->on_power_on;
          break;
        case power_event::reset:
          fn = r->desc->on_reset;
          break;
        case power_event::suspend:
          fn = r->desc->on_suspend;
          break;
        case power_event::resume:
          fn = r->desc->on_resume;
          break;
        case power_event::power_off:
          fn = r->desc->on_power_off;
          break;
      }
      if (fn == nullptr) continue;
      notifying_ = r;
      // Copied first: a hook may detach its own driver before it throws.
      const std::string_view name = r->desc->name;
      const std::uint32_t instance = r->ctx.instance();
      try {
        fn(r->object);
      } catch (const std::exception& e) {
        report(report_kind::hook_threw,
               error(errc::internal_error, std::string(event_name(ev)) + " hook threw: " + e.what())
                   .driver(name, instance));
      } catch (...) {
        report(report_kind::hook_threw,
               error(errc::internal_error, std::string(event_name(ev)) + " hook threw").driver(name, instance));
      }
      notifying_ = nullptr;
    }
  }

  // Marks `r` as having had `ev`; false if it had it already (or it does not apply).
  bool take(record& r, power_event ev) const noexcept {
    switch (ev) {
      case power_event::power_on:
        if (r.powered) return false;
        r.powered = true;
        r.suspended = false;
        return true;
      case power_event::suspend:
        if (!r.powered || r.suspended || r.off) return false;
        r.suspended = true;
        return true;
      case power_event::resume:
        if (!r.powered || !r.suspended || r.off) return false;
        r.suspended = false;
        return true;
      case power_event::reset:
        if (r.reset_round == reset_round_) return false;
        r.reset_round = reset_round_;
        return true;
      case power_event::power_off:
        if (!r.powered || r.off) return false;
        r.off = true;
        return true;
    }
    return false;
  }

  void notify_device(device_state& d, power_event ev) {
    const std::function<void()>* hook = nullptr;
    switch (ev) {
      case power_event::power_on:
        hook = &d.spec.hooks.on_power_on;
        break;
      case power_event::reset:
        hook = &d.spec.hooks.on_reset;
        break;
      case power_event::suspend:
        hook = &d.spec.hooks.on_suspend;
        break;
      case power_event::resume:
        hook = &d.spec.hooks.on_resume;
        break;
      case power_event::power_off:
        hook = &d.spec.hooks.on_power_off;
        break;
    }
    if (!*hook) return;
    try {
      (*hook)();
    } catch (const std::exception& e) {
      report(report_kind::hook_threw,
             error(errc::internal_error,
                   "device '" + d.spec.name + "' " + std::string(event_name(ev)) + " hook threw: " + e.what()));
    } catch (...) {
      report(report_kind::hook_threw, error(errc::internal_error, "device '" + d.spec.name + "' " +
                                                                      std::string(event_name(ev)) + " hook threw"));
    }
  }

  // Waits, running EMT requests meanwhile, until every pending async notification is completed.
  void wait_for_pending() {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      std::erase_if(pending_, [](const pending_notification& p) {
        if (!p.state->done.load()) return false;
        const std::lock_guard<std::mutex> hold(p.state->lock);
        p.state->wake = nullptr;  // a late completer must not wake a VM that may be gone
        return true;
      });
      if (pending_.empty()) return;
      const auto now = std::chrono::steady_clock::now();
      for (pending_notification& p : pending_) {
        if (!p.reported && now - start >= options_.slow_notification) {
          p.reported = true;
          report(report_kind::slow_notification,
                 error(errc::timeout, "has not completed its " + std::string(to_string(state_.load())) +
                                          " notification after " + std::to_string(options_.slow_notification.count()) +
                                          " ms; still waiting")
                     .driver(p.driver, p.instance));
        }
      }
      emt_.wait_until(now + std::chrono::milliseconds(10));
    }
  }

  // --- Dump -----------------------------------------------------------------------------------

  // The "rule: what" marks transformations left at a driver's place (not the inherited or
  // passed ones, which only say a rule was seen).
  static std::vector<std::string> transformation_notes(const config_node& node) {
    std::vector<std::string> notes;
    if (const config_node* marks = node.find_child("Transformed")) {
      for (const auto& e : marks->values()) {
        if (e.value().kind() != value_kind::string || e.value().string() == "inherited" ||
            e.value().string() == "passed") {
          continue;
        }
        notes.push_back(std::string(e.name()) + ": " + std::string(e.value().string()));
      }
    }
    return notes;
  }

  std::vector<device_view> topology_on_emt() const {
    std::vector<device_view> out;
    out.reserve(devices_.size());
    for (const auto& d : devices_) {
      device_view dv;
      dv.name = d->spec.name;
      dv.instance = d->spec.instance;
      dv.luns.reserve(d->luns.size());
      for (const lun_state& l : d->luns) {
        lun_view lv;
        lv.number = l.spec.number;
        for (const record* r = l.top; r != nullptr; r = r->down) {
          chain_entry e;
          e.driver = std::string(r->desc->name);
          e.instance = r->ctx.instance();
          e.config_path = r->node->path();
          for (const interface_ref& i : r->desc->provides) e.provides.emplace_back(i.id);
          e.notes = transformation_notes(*r->node);
          lv.chain.push_back(std::move(e));
        }
        dv.luns.push_back(std::move(lv));
      }
      out.push_back(std::move(dv));
    }
    return out;
  }

  std::string dump_on_emt() const {
    std::string out;
    for (const auto& d : devices_) {
      out += d->spec.name;
      out += " #";
      out += std::to_string(d->spec.instance);
      out += '\n';
      for (const lun_state& l : d->luns) {
        out += "  LUN#";
        out += std::to_string(l.spec.number);
        if (l.top == nullptr) out += " (nothing attached)";
        out += '\n';
        for (const record* r = l.top; r != nullptr; r = r->down) {
          std::string line = "    ";
          line += r->desc->name;
          line += " #";
          line += std::to_string(r->ctx.instance());
          std::string notes;
          for (const std::string& n : transformation_notes(*r->node)) {
            notes += notes.empty() ? "" : "; ";
            notes += n;
          }
          if (!notes.empty()) {
            if (line.size() < 20) line.append(20 - line.size(), ' ');
            line += "  ";
            line += notes;
          }
          out += line;
          out += '\n';
        }
      }
    }
    return out;
  }

  registry registry_;
  config_tree config_;
  vm_options options_;
  std::pmr::memory_resource* memory_;  // null: operator new
  std::vector<std::unique_ptr<device_state>> devices_;
  std::vector<account> accounts_;  // by registry position
  std::vector<undo_step> undo_;
  std::vector<std::pair<std::size_t, std::uint32_t>> numbers_;  // (account, next_instance before an instance)
  std::vector<pending_notification> pending_;
  std::vector<transformation_rule> rules_;  // current_rules()
  std::optional<error> rules_error_;
  std::uint64_t rules_version_ = 0;
  bool rules_read_ = false;
  std::mutex report_lock_;
  std::atomic<vm_state> state_{vm_state::created};
  std::uint64_t reset_round_ = 0;
  vm_state reset_from_ = vm_state::created;  // the state a reset under way came from
  record* notifying_ = nullptr;              // whose power hook runs
  std::uint64_t serials_ = 0;                // the last record's serial
  int depth_ = 0;                            // attaches under way (nested through constructors)
  std::atomic<bool> fatal_{false};           // a driver reported a fatal runtime error
  std::atomic<bool> suspend_wanted_{false};  // a runtime error asked for a suspend not yet done
  detail::service_hub services_;             // timers, queues, pollers, threads, statistics, errors
  emt emt_;                                  // last: stopped (in ~vm) before the members it uses go
};

}  // namespace pdm
