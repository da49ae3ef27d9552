// pdm/services/state_units.hpp - saved-state units: what a VM saves and loads, one unit per
// driver instance with a saved_state plus the units drivers register by hand, each owned by its
// instance.
//
// A unit is a name, an instance number and a version, and the code that writes and reads its
// data (pdm/services/state_codec.hpp). Units are found again on load by name and instance, so
// their names say where the driver sits rather than which instance number it got (numbers only
// grow, and a VM rebuilt from the same config numbers its drivers afresh):
//   - a driver with a saved_state gets one automatic unit, "<driver>@<config path>" (for example
//     "Serial@Devices/uart/0/LUN#0/AttachedDriver"), instance 0;
//   - a unit a driver registers through its context is "<driver>@<config path>:<name>", with the
//     instance number the driver chooses.
// Like every resource an instance makes, its units are released with it (detach or failed
// construction), so a stream never reaches a driver that is gone.
//
// A hook may remove units (destroy a handle, detach a driver) while a save or load runs: the
// table then keeps the removed entries until the walk ends and passes over them.
//
// Saving calls every unit's save_prepare, then writes the units in the order they were
// registered, then calls save_done on every unit prepared, even after a failure. Loading reads and
// checks the whole stream first (every checksum, the end marker, which units it has, their
// versions) and decodes every automatic unit into a fresh saved_state before any driver is
// changed, so a bad stream changes nothing; then it runs the hand-registered units' load_prepare,
// load (in stream order) and load_done, and moves the decoded states into their drivers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pdm/core/errc.hpp"
#include "pdm/core/error.hpp"
#include "pdm/core/utf8.hpp"
#include "pdm/services/resource.hpp"
#include "pdm/services/state_codec.hpp"
#include "pdm/services/state_stream.hpp"

namespace pdm {

/// \brief The code of a unit a driver registers by hand (register_state_unit). `save` and `load`
/// are required; the others are optional. Each returns a status; an exception counts as a failure.
struct state_unit_hooks {
  std::function<status()> save_prepare;       ///< before any unit is written
  std::function<status(state_writer&)> save;  ///< writes the unit's data
  std::function<status()> save_done;          ///< after the stream (also after a failure)
  std::function<status()> load_prepare;       ///< before any hand-registered unit is loaded
  std::function<status(state_reader&)> load;  ///< reads the unit's data (version in in.version())
  std::function<status()> load_done;          ///< after the load (also after a failure)
};

/// \brief How far a save or load is, for a progress callback; a total is 0 when unknown.
struct state_progress {
  std::size_t units_done = 0;
  std::size_t units_total = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
};
/// \brief Called after each unit; returning false cancels the operation (`cancelled`).
using state_progress_fn = std::function<bool(const state_progress&)>;

/// \brief Options of vm::save_state.
struct save_options {
  state_progress_fn progress;
};

/// \brief What a load does with a registered unit that the stream does not have.
enum class missing_unit_policy {
  fail,  ///< the load fails with `unit_not_found` and changes nothing (the default)
  keep,  ///< the unit's driver keeps the state it has
};
/// \brief What a load does with a unit in the stream that nothing registered.
enum class unknown_unit_policy {
  fail,  ///< the load fails with `unit_not_found` and changes nothing (the default)
  skip,  ///< the unit's data is checked (checksum) and ignored
};

/// \brief Options of vm::load_state.
struct load_options {
  missing_unit_policy missing_unit = missing_unit_policy::fail;
  unknown_unit_policy unknown_unit = unknown_unit_policy::fail;
  std::uint64_t max_unit_size = std::uint64_t{1} << 30U;  ///< larger units are `stream_too_large`
  state_progress_fn progress;
};

/// \brief A saved-state file, for vm::save_state and vm::load_state.
struct state_file {
  std::string path;
};

namespace detail {
class state_unit_table;
}

/// \brief A unit a driver registered by hand: a handle (like a timer's), owned by the instance.
class state_unit {
 public:
  state_unit() = default;
  state_unit(detail::state_unit_table* table, detail::slot_id id) noexcept : table_(table), id_(id) {}
  explicit operator bool() const noexcept { return table_ != nullptr; }
  /// \brief True until the unit is removed (by destroy() or with its instance).
  [[nodiscard]] bool valid() const noexcept;
  /// \brief Removes the unit now instead of with its instance; `resource_destroyed` if it is gone.
  [[nodiscard]] status destroy() const;

 private:
  detail::state_unit_table* table_ = nullptr;
  detail::slot_id id_{};
};

namespace detail {

// The type-erased saved_state code of a driver (pdm/driver/descriptor.hpp makes them).
using save_state_fn = status (*)(void* driver, state_writer& out);
using stage_state_fn = status (*)(void* driver, state_reader& in, void*& staged);
using finish_state_fn = void (*)(void* driver, void* staged) noexcept;

// What an automatic unit calls: the driver object (read when the unit is used: the object is
// constructed after the unit is registered) and its descriptor's functions.
struct automatic_state {
  void* const* object = nullptr;
  save_state_fn save = nullptr;
  stage_state_fn stage = nullptr;
  finish_state_fn finish = nullptr;
};

struct unit_entry final : owned_resource {
  state_unit_table* table = nullptr;
  resource_list* list = nullptr;
  slot_id id{};
  std::uint64_t serial = 0;  // registration order
  std::string name;
  std::uint32_t instance = 0;
  std::uint32_t version = 0;
  std::string key;     // unit_key(name, instance), kept so that removing it allocates nothing
  std::string driver;  // for messages: the driver, its instance number, where it is configured
  std::uint32_t driver_instance = no_instance;
  std::string path;
  automatic_state automatic;  // set for an automatic unit (object != nullptr)
  state_unit_hooks hooks;     // a hand-registered unit's
  bool dead = false;          // removed during a save or load; freed when it ends
  unit_entry* next_dead = nullptr;

  [[nodiscard]] bool is_automatic() const noexcept { return automatic.object != nullptr; }
  void release() noexcept override;
};

// The key a unit is found by: its name and instance.
inline std::string unit_key(std::string_view name, std::uint32_t instance) {
  std::string k(name);
  k.push_back('\0');
  k += std::to_string(instance);
  return k;
}

/// \brief A VM's saved-state units. On the EMT.
class state_unit_table {
 public:
  state_unit_table() = default;
  state_unit_table(const state_unit_table&) = delete;
  state_unit_table& operator=(const state_unit_table&) = delete;
  state_unit_table(state_unit_table&&) = delete;
  state_unit_table& operator=(state_unit_table&&) = delete;
  ~state_unit_table() = default;  // every unit belongs to an instance, released before the VM

  /// \brief Registers the automatic unit of a driver instance: "<driver>@<path>", instance 0.
  status add_automatic(resource_list& list, std::string_view driver, std::uint32_t driver_instance,
                       std::string_view path, std::uint32_t version, automatic_state code) {
    std::string name = std::string(driver) + "@" + std::string(path);
    result<unit_entry*> r = add(list, std::move(name), 0, version, driver, driver_instance, path);
    if (!r) return std::move(r).error_value();
    (*r)->automatic = code;
    return ok();
  }

  /// \brief Registers a hand-written unit "<driver>@<path>:<name>".
  result<state_unit> add_manual(resource_list& list, std::string_view driver, std::uint32_t driver_instance,
                                std::string_view path, std::string_view name, std::uint32_t instance,
                                std::uint32_t version, state_unit_hooks hooks) {
    auto fail = [&](errc code, std::string why) {
      return error(code, std::move(why)).driver(driver, driver_instance).path(std::string(path));
    };
    if (name.empty() || !valid_utf8(name) || name.find('\0') != std::string_view::npos) {
      return fail(errc::invalid_argument, "a saved-state unit name must be non-empty UTF-8");
    }
    if (version == 0) return fail(errc::invalid_argument, "saved-state unit '" + std::string(name) + "' has version 0");
    if (!hooks.save || !hooks.load) {
      return fail(errc::invalid_argument, "saved-state unit '" + std::string(name) + "' needs a save and a load hook");
    }
    std::string full = std::string(driver) + "@" + std::string(path) + ":" + std::string(name);
    result<unit_entry*> r = add(list, std::move(full), instance, version, driver, driver_instance, path);
    if (!r) return std::move(r).error_value();
    (*r)->hooks = std::move(hooks);
    return state_unit(this, (*r)->id);
  }

  /// \brief How many units are registered.
  [[nodiscard]] std::size_t size() const noexcept { return slots_.size(); }
  /// \brief The names of the units with their instances, in registration order (for tools and tests).
  [[nodiscard]] std::vector<std::pair<std::string, std::uint32_t>> names() const {
    std::vector<std::pair<std::string, std::uint32_t>> out;
    for (const unit_entry* u : ordered()) out.emplace_back(u->name, u->instance);
    return out;
  }

  // The handle's operations.
  [[nodiscard]] bool valid(slot_id id) const noexcept { return slots_.find(id) != nullptr; }
  status destroy(slot_id id) {
    unit_entry* r = slots_.find(id);
    if (r == nullptr) return error(errc::resource_destroyed, "the saved-state unit was destroyed");
    r->list->unlink(*r);
    r->release();
    return ok();
  }

  // A record's release(): forgets it and frees it, or, during a save or load, marks it dead
  // and frees it when the walk ends (the walk may hold it).
  void drop(unit_entry& r) noexcept {
    const auto it = by_key_.find(r.key);
    if (it != by_key_.end() && it->second == &r) by_key_.erase(it);
    slots_.erase(r.id);
    if (walking_ > 0) {
      r.dead = true;
      r.next_dead = dead_;
      dead_ = &r;
      return;
    }
    delete &r;  // NOLINT(cppcoreguidelines-owning-memory): the table allocated it in add()
  }

  /// \brief Writes every unit to `w` (see the header comment for the order of the hooks).
  status save(state_stream_writer& w, const save_options& options) {
    const walk_guard walking(*this);
    const std::vector<unit_entry*> units = ordered();
    status result = ok();
    std::size_t prepared = 0;
    for (unit_entry* u : units) {
      if (!u->dead && u->hooks.save_prepare) {
        if (status s = run_hook(*u, "save_prepare", u->hooks.save_prepare); !s) {
          result = std::move(s);
          break;
        }
      }
      ++prepared;
    }
    if (result) result = write_units(w, units, options);
    for (std::size_t i = 0; i < prepared; ++i) {
      unit_entry* u = units[i];
      if (u->dead || !u->hooks.save_done) continue;
      status s = run_hook(*u, "save_done", u->hooks.save_done);
      if (!s && result) result = std::move(s);
    }
    return result;
  }

  /// \brief Loads every unit from `r` (see the header comment): all or nothing for automatic
  /// units and for every problem of the stream itself.
  status load(state_stream_reader& r, const load_options& options) {
    const walk_guard walking(*this);
    r.set_max_unit_size(options.max_unit_size);
    if (status s = r.open(); !s) return s;
    std::vector<pending> found;
    struct discard_staged {
      std::vector<pending>* list;
      explicit discard_staged(std::vector<pending>* l) noexcept : list(l) {}
      discard_staged(const discard_staged&) = delete;
      discard_staged& operator=(const discard_staged&) = delete;
      discard_staged(discard_staged&&) = delete;
      discard_staged& operator=(discard_staged&&) = delete;
      ~discard_staged() {
        for (pending& p : *list) {
          if (p.staged != nullptr) p.unit->automatic.finish(nullptr, p.staged);  // frees only
        }
      }
    } guard(&found);
    if (status s = read_units(r, options, found); !s) return s;
    if (options.missing_unit == missing_unit_policy::fail && found.size() != slots_.size()) {
      for (const unit_entry* u : ordered()) {
        const bool present = std::any_of(found.begin(), found.end(), [u](const pending& p) { return p.unit == u; });
        if (!present) return unit_error(*u, errc::unit_not_found, "is not in the stream");
      }
    }
    // Hand-registered units: prepare, load in stream order, done.
    status result = ok();
    for (pending& p : found) {
      if (p.unit->dead || p.unit->is_automatic()) continue;
      if (p.unit->hooks.load_prepare) {
        if (status s = run_hook(*p.unit, "load_prepare", p.unit->hooks.load_prepare); !s) {
          result = std::move(s);
          break;
        }
      }
      p.prepared = true;
    }
    for (pending& p : found) {
      if (!result) break;
      if (p.unit->dead || p.unit->is_automatic()) continue;
      state_reader in(p.data, p.version);
      result = run_hook(*p.unit, "load", [&] { return p.unit->hooks.load(in); });
    }
    if (result) {
      // Every unit loaded: the automatic ones take their decoded states.
      // One whose driver went meanwhile (a hook detached it) is dropped by the guard.
      for (pending& p : found) {
        if (p.staged == nullptr || p.unit->dead) continue;
        p.unit->automatic.finish(*p.unit->automatic.object, p.staged);
        p.staged = nullptr;
      }
    }
    for (pending& p : found) {
      if (!p.prepared || p.unit->dead || !p.unit->hooks.load_done) continue;
      status s = run_hook(*p.unit, "load_done", p.unit->hooks.load_done);
      if (!s && result) result = std::move(s);
    }
    return result;
  }

 private:
  // A unit the stream has, between reading and loading.
  struct pending {
    unit_entry* unit = nullptr;
    std::uint32_t version = 0;
    void* staged = nullptr;       // an automatic unit's decoded state
    std::vector<std::byte> data;  // a hand-registered unit's bytes
    bool prepared = false;
  };

  result<unit_entry*> add(resource_list& list, std::string name, std::uint32_t instance, std::uint32_t version,
                          std::string_view driver, std::uint32_t driver_instance, std::string_view path) {
    auto fail = [&](errc code, std::string why) {
      return error(code, std::move(why)).driver(driver, driver_instance).path(std::string(path));
    };
    if (name.size() > max_state_unit_name) {
      return fail(errc::invalid_argument, "saved-state unit name '" + name.substr(0, 64) + "...' is longer than " +
                                              std::to_string(max_state_unit_name) + " bytes");
    }
    std::string key = unit_key(name, instance);
    if (by_key_.find(key) != by_key_.end()) {
      return fail(errc::unit_exists,
                  "saved-state unit '" + name + "' #" + std::to_string(instance) + " is already registered");
    }
    auto r = std::make_unique<unit_entry>();
    r->table = this;
    r->list = &list;
    r->serial = ++serial_;
    r->name = std::move(name);
    r->instance = instance;
    r->version = version;
    r->key = key;
    r->driver = std::string(driver);
    r->driver_instance = driver_instance;
    r->path = std::string(path);
    auto placed = by_key_.emplace(std::move(key), r.get());  // may throw: nothing registered yet
    try {
      r->id = slots_.insert(r.get());
    } catch (...) {
      by_key_.erase(placed.first);
      throw;
    }
    unit_entry* raw = r.release();
    list.push(*raw);
    return raw;
  }

  [[nodiscard]] std::vector<unit_entry*> ordered() const {
    std::vector<unit_entry*> units;
    units.reserve(slots_.size());
    for (std::size_t i = 0; i < slots_.capacity(); ++i) {
      if (unit_entry* u = slots_.at(i)) units.push_back(u);
    }
    std::sort(units.begin(), units.end(),
              [](const unit_entry* a, const unit_entry* b) { return a->serial < b->serial; });
    return units;
  }

  static error unit_error(const unit_entry& u, errc code, std::string_view what) {
    return error(code, "saved-state unit '" + u.name + "' #" + std::to_string(u.instance) + " " + std::string(what))
        .driver(u.driver, u.driver_instance)
        .path(u.path);
  }
  // An error from a unit's code (its hook `hook`), with the unit, its driver and its path: the
  // error's own code and sentence, and its causes kept.
  static error annotate(const unit_entry& u, std::string_view hook, const error& e) {
    std::string d = "saved-state unit '" + u.name + "' #" + std::to_string(u.instance);
    if (!hook.empty()) d += ", " + std::string(hook);
    if (!e.detail().empty()) d += ": " + e.detail();
    error out(e.code(), std::move(d));
    out.driver(u.driver, u.driver_instance).path(u.path);
    for (const error& cause : e.causes()) out.add_cause(cause);
    return out;
  }

  // Runs a unit's code; an exception becomes an error naming the hook.
  template <class F>
  static status run_hook(const unit_entry& u, std::string_view hook, F&& f) {
    try {
      status s = std::forward<F>(f)();
      if (!s) return annotate(u, hook, s.error_value());
      return ok();
    } catch (const std::bad_alloc&) {
      return unit_error(u, errc::no_memory, std::string(hook) + " ran out of memory");
    } catch (const std::exception& e) {
      return unit_error(u, errc::internal_error, std::string(hook) + " threw: " + e.what());
    } catch (...) {
      return unit_error(u, errc::internal_error, std::string(hook) + " threw a non-standard exception");
    }
  }

  static status write_units(state_stream_writer& w, const std::vector<unit_entry*>& units,
                            const save_options& options) {
    if (status s = w.begin(); !s) return s;
    state_progress progress{0, units.size(), 0, 0};
    for (unit_entry* u : units) {
      if (u->dead) continue;  // removed by an earlier unit's hook
      result<std::vector<std::byte>*> data = w.begin_unit(u->name, u->instance, u->version);
      if (!data) return annotate(*u, {}, data.error_value());
      state_writer out(**data);
      status s = u->is_automatic() ? run_hook(*u, "save", [&] { return u->automatic.save(*u->automatic.object, out); })
                                   : run_hook(*u, "save", [&] { return u->hooks.save(out); });
      if (!s) {
        w.abandon_unit();
        return s;
      }
      if (status e = w.end_unit(); !e) return e;
      ++progress.units_done;
      progress.bytes_done = w.bytes();
      if (options.progress && !options.progress(progress)) {
        return error(errc::cancelled, "the progress callback cancelled the save after " +
                                          std::to_string(progress.units_done) + " of " +
                                          std::to_string(progress.units_total) + " units");
      }
    }
    return w.finish();
  }

  status read_units(state_stream_reader& r, const load_options& options, std::vector<pending>& found) {
    state_progress progress{0, 0, 0, r.size()};
    std::unordered_map<std::string, bool> seen;
    for (;;) {
      result<std::optional<pdm::state_unit_record>> next = r.next(data_check::by_caller);
      if (!next) return std::move(next).error_value();
      if (!*next) return ok();
      const pdm::state_unit_record& rec = **next;
      std::string key = unit_key(rec.name, rec.instance);
      auto it = by_key_.find(key);
      // An automatic unit of its driver's version is decoded into a fresh state first and its
      // checksum checked after, on bytes still in cache; every other unit is checked first.
      const bool decode_first =
          it != by_key_.end() && it->second->is_automatic() && rec.version != 0 && rec.version == it->second->version;
      if (!decode_first && !state_stream_reader::intact(rec)) return r.data_mismatch(rec);
      if (!seen.emplace(key, true).second) {
        if (decode_first && !state_stream_reader::intact(rec)) return r.data_mismatch(rec);
        return error(errc::stream_corrupted,
                     "the stream has unit '" + rec.name + "' #" + std::to_string(rec.instance) + " twice");
      }
      if (it == by_key_.end()) {
        if (options.unknown_unit == unknown_unit_policy::skip) continue;
        return error(errc::unit_not_found, "the stream has unit '" + rec.name + "' #" + std::to_string(rec.instance) +
                                               ", which nothing registered");
      }
      unit_entry& u = *it->second;
      if (rec.version == 0) {
        return unit_error(u, errc::stream_corrupted, "has version 0 in the stream, which no unit is saved with");
      }
      if (rec.version > u.version) {
        return unit_error(u, errc::unit_version_too_new,
                          "has version " + std::to_string(rec.version) + " in the stream; its driver saves version " +
                              std::to_string(u.version));
      }
      // Room first, so that the push_back below cannot throw and lose a staged state.
      if (found.size() == found.capacity()) found.reserve(std::max<std::size_t>(16, 2 * found.size()));
      pending p;
      p.unit = &u;
      p.version = rec.version;
      if (u.is_automatic()) {
        state_reader in(rec.data, rec.version);
        void* staged = nullptr;
        status s = run_hook(u, "load", [&] { return u.automatic.stage(*u.automatic.object, in, staged); });
        if (decode_first && !state_stream_reader::intact(rec)) {
          if (staged != nullptr) u.automatic.finish(nullptr, staged);  // frees only
          return r.data_mismatch(rec);
        }
        if (!s) return s;
        p.staged = staged;
      } else {
        p.data.assign(rec.data.begin(), rec.data.end());
      }
      found.push_back(std::move(p));
      ++progress.units_done;
      progress.bytes_done = r.offset();
      if (options.progress && !options.progress(progress)) {
        return error(errc::cancelled, "the progress callback cancelled the load after " +
                                          std::to_string(progress.units_done) + " units");
      }
    }
  }

  // Counts a save or load under way; the last to end frees the entries removed meanwhile.
  struct walk_guard {
    state_unit_table& t;
    explicit walk_guard(state_unit_table& table) noexcept : t(table) { ++t.walking_; }
    walk_guard(const walk_guard&) = delete;
    walk_guard& operator=(const walk_guard&) = delete;
    walk_guard(walk_guard&&) = delete;
    walk_guard& operator=(walk_guard&&) = delete;
    ~walk_guard() {
      if (--t.walking_ > 0) return;
      while (t.dead_ != nullptr) {
        unit_entry* r = t.dead_;
        t.dead_ = r->next_dead;
        delete r;  // NOLINT(cppcoreguidelines-owning-memory): the table allocated it in add()
      }
    }
  };

  slot_table<unit_entry> slots_;
  std::unordered_map<std::string, unit_entry*> by_key_;
  std::uint64_t serial_ = 0;
  int walking_ = 0;
  unit_entry* dead_ = nullptr;  // removed during a walk, linked through next_dead
};

inline void unit_entry::release() noexcept { table->drop(*this); }

}  // namespace detail

inline bool state_unit::valid() const noexcept { return table_ != nullptr && table_->valid(id_); }
inline status state_unit::destroy() const {
  if (table_ == nullptr) return error(errc::resource_destroyed, "the saved-state unit handle is empty");
  return table_->destroy(id_);
}

}  // namespace pdm
