// pdm/driver/registry.hpp - driver_list (compile time) and registry (run time).
//
// driver_list<Ds...> is the VMM builder's static typelist. Instantiating it checks every
// driver rule and the uniqueness of names at compile time, and produces a table of
// descriptors plus an open-addressing hash table for O(1) look-up by name. The checks avoid
// recursive templates: a list of 4,000 drivers stays far below g++'s default depth of 900,
// and compile time grows linearly with the number of drivers.
//
// registry is the run-time set of drivers the chain manager attaches from: it takes the
// descriptors of driver_lists and of modules, applies the same rules (validate_descriptor),
// rejects name and interface-id clashes, and looks names up in O(1).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pdm/core/error.hpp"
#include "pdm/core/hash.hpp"
#include "pdm/driver/descriptor.hpp"
#include "pdm/driver/driver.hpp"

namespace pdm {

namespace detail {

// One slot of an open-addressing name table: the upper half of the name's hash (to skip most
// string compares) and the index of the descriptor plus one (0 marks an empty slot).
struct name_slot {
  std::uint32_t tag = 0;
  std::uint32_t index_plus_one = 0;
};

// Capacity for n names: a power of two with the load factor at most 1/2.
constexpr std::size_t name_table_capacity(std::size_t n) noexcept { return n == 0 ? 1 : std::bit_ceil(n * 2); }

// Probes `slots` for `name`; `name_at(i)` gives the name of descriptor i. Returns the
// descriptor index, or SIZE_MAX if absent.
template <class NameAt>
constexpr std::size_t probe_name(std::span<const name_slot> slots, std::string_view name, NameAt name_at) noexcept {
  const std::uint64_t h = hash_string(name);
  const auto tag = static_cast<std::uint32_t>(h >> 32);
  const std::size_t mask = slots.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
    const name_slot& s = slots[i];
    if (s.index_plus_one == 0) return SIZE_MAX;
    if (s.tag == tag && name_at(s.index_plus_one - 1) == name) return s.index_plus_one - 1;
  }
}

// Inserts descriptor `index` named `name`; returns the index already holding an equal name,
// or SIZE_MAX when the insert happened. The table must have a free slot.
template <class NameAt>
constexpr std::size_t insert_name(std::span<name_slot> slots, std::string_view name, std::size_t index,
                                  NameAt name_at) noexcept {
  const std::uint64_t h = hash_string(name);
  const auto tag = static_cast<std::uint32_t>(h >> 32);
  const std::size_t mask = slots.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
    name_slot& s = slots[i];
    if (s.index_plus_one == 0) {
      s = name_slot{tag, static_cast<std::uint32_t>(index + 1)};
      return SIZE_MAX;
    }
    if (s.tag == tag && name_at(s.index_plus_one - 1) == name) return s.index_plus_one - 1;
  }
}

// The compile-time tables of a list of valid drivers.
template <class... Ds>
struct list_tables {
  static constexpr std::size_t count = sizeof...(Ds);
  static constexpr std::array<driver_descriptor, count> descriptors{make_descriptor<Ds>()...};
  static constexpr std::array<std::string_view, count> names{std::string_view(Ds::traits.name)...};

  struct build_result {
    std::array<name_slot, name_table_capacity(count)> slots{};
    std::size_t duplicate_first = SIZE_MAX;  // indices of the first clash, if any
    std::size_t duplicate_second = SIZE_MAX;
  };
  static constexpr build_result build() noexcept {
    build_result r;
    auto name_at = [](std::size_t i) { return names[i]; };
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t other = insert_name(std::span<name_slot>(r.slots), names[i], i, name_at);
      if (other != SIZE_MAX && r.duplicate_first == SIZE_MAX) {
        r.duplicate_first = other;
        r.duplicate_second = i;
      }
    }
    return r;
  }
  static constexpr build_result table = build();
};

// Type at index I of a pack, by overload resolution instead of recursion.
template <std::size_t I, class T>
struct indexed_type {
  using type = T;
};
template <class Seq, class... Ts>
struct type_indexer;
template <std::size_t... Is, class... Ts>
struct type_indexer<std::index_sequence<Is...>, Ts...> : indexed_type<Is, Ts>... {};
template <std::size_t I, class T>
indexed_type<I, T> select_indexed(const indexed_type<I, T>&);
template <std::size_t I, class... Ts>
using type_at = typename decltype(select_indexed<I>(type_indexer<std::index_sequence_for<Ts...>, Ts...>{}))::type;

template <class First, class Second>
inline constexpr bool names_differ = First::traits.name != Second::traits.name;

inline constexpr driver_descriptor no_descriptor{};

constexpr bool all_true(std::span<const bool> flags) noexcept {
  return std::all_of(flags.begin(), flags.end(), [](bool b) { return b; });
}

}  // namespace detail

namespace rule {
/// \brief True when the two drivers of a driver_list have different names.
template <class First, class Second>
inline constexpr bool drivers_in_a_list_have_different_names = detail::names_differ<First, Second>;
}  // namespace rule

namespace detail {
template <class First, class Second>
struct unique_name_check {
  static_assert(rule::drivers_in_a_list_have_different_names<First, Second>,
                "pdm: two drivers in a driver_list have the same traits.name; names must be unique");
};
// Fires unique_name_check outside any constant expression (see detail::diagnose_driver).
template <class First, class Second>
void diagnose_names() noexcept {
  (void)sizeof(unique_name_check<First, Second>);
}

template <bool Valid, class... Ds>
struct list_state {
  static constexpr bool ok = false;
  static constexpr std::span<const driver_descriptor> descriptors{};
  static constexpr std::span<const name_slot> slots{};
};
template <class... Ds>
struct list_state<true, Ds...> {
  using tables = list_tables<Ds...>;
  static constexpr bool names_unique() {
    if constexpr (tables::table.duplicate_first == SIZE_MAX) {
      return true;
    } else {
      (void)&diagnose_names<type_at<tables::table.duplicate_first, Ds...>,
                            type_at<tables::table.duplicate_second, Ds...>>;
      return false;
    }
  }
  static constexpr bool ok = names_unique();
  static constexpr std::span<const driver_descriptor> descriptors{tables::descriptors};
  static constexpr std::span<const name_slot> slots{tables::table.slots};
};
}  // namespace detail

/// \brief A compile-time list of drivers, checked in full when the class is instantiated.
///
/// Every driver is checked against every rule (one diagnostic per broken rule) and names must
/// be unique. The list then offers its descriptors and an O(1) look-up by name.
template <class... Ds>
class driver_list {
  static constexpr std::array<bool, sizeof...(Ds)> checked_{check_driver<Ds>()...};
  using state_ = detail::list_state<detail::all_true(checked_), Ds...>;

 public:
  /// \brief True when every driver is valid and names are unique.
  static constexpr bool valid = state_::ok;
  // Instantiating the list runs the checks above; the diagnostics come from the checks.
  static_assert(valid || !valid);

  /// \brief The number of drivers in the list.
  static constexpr std::size_t size = sizeof...(Ds);

  /// \brief Descriptors in list order.
  [[nodiscard]] static constexpr std::span<const driver_descriptor> descriptors() noexcept {
    return state_::descriptors;
  }

  /// \brief The descriptor named `name`, or nullptr; O(1).
  [[nodiscard]] static constexpr const driver_descriptor* find(std::string_view name) noexcept {
    if constexpr (sizeof...(Ds) == 0 || !valid) {
      (void)name;
      return nullptr;
    } else {
      const std::size_t i =
          detail::probe_name(state_::slots, name, [](std::size_t k) { return state_::descriptors[k].name; });
      return i == SIZE_MAX ? nullptr : &state_::descriptors[i];
    }
  }

  /// \brief The list's descriptor of driver D, which must be in the list.
  template <class D>
  [[nodiscard]] static constexpr const driver_descriptor& descriptor() noexcept {
    static_assert((std::is_same_v<D, Ds> || ...), "pdm: driver_list::descriptor<D>(): D is not in this list");
    constexpr std::array<bool, sizeof...(Ds)> is_d{std::is_same_v<D, Ds>...};
    constexpr auto index = static_cast<std::size_t>(std::find(is_d.begin(), is_d.end(), true) - is_d.begin());
    if constexpr (index < sizeof...(Ds)) {
      return state_::descriptors[index];
    } else {
      return detail::no_descriptor;  // not reached: the static_assert above failed
    }
  }
};

/// \brief The run-time set of registered drivers, with O(1) look-up by name.
///
/// Descriptors are referenced, not copied: they must outlive the registry (those of a
/// driver_list are static constants; a module's live as long as the module stays loaded).
class registry {
 public:
  registry() = default;

  /// \brief Registers every driver of a compile-time list; all or nothing.
  template <class... Ds>
  status add(driver_list<Ds...> /*list*/) {
    if constexpr (!driver_list<Ds...>::valid) {
      // Not reached at run time: an invalid list has already failed to compile with its rule.
      return error(errc::invalid_registration, "the driver_list has invalid drivers");
    } else {
      const auto ds = driver_list<Ds...>::descriptors();
      std::vector<const driver_descriptor*> batch;
      batch.reserve(ds.size());
      for (const driver_descriptor& d : ds) batch.push_back(&d);
      return add(std::span<const driver_descriptor* const>(batch));
    }
  }

  /// \brief Registers one descriptor after checking it (validate_descriptor, name and id clashes).
  status add(const driver_descriptor& d) {
    const driver_descriptor* one[] = {&d};
    return add(std::span<const driver_descriptor* const>(one));
  }

  /// \brief Registers several descriptors; if any is rejected none is registered.
  status add(std::span<const driver_descriptor* const> batch) {
    try {
      return add_batch(batch);
    } catch (const std::bad_alloc&) {
      return error(errc::no_memory, "while registering drivers");
    }
  }

  /// \brief The driver named `name`, or nullptr; O(1) expected (hashing plus one compare).
  [[nodiscard]] const driver_descriptor* find(std::string_view name) const noexcept {
    if (drivers_.empty()) return nullptr;
    const std::size_t i = detail::probe_name(slots_, name, [this](std::size_t k) { return drivers_[k]->name; });
    return i == SIZE_MAX ? nullptr : drivers_[i];
  }

  /// \brief The position of the driver named `name` in drivers() (registration order), or
  /// `npos`; O(1) expected. Positions never change: drivers are only ever added.
  [[nodiscard]] std::size_t find_index(std::string_view name) const noexcept {
    if (drivers_.empty()) return npos;
    const std::size_t i = detail::probe_name(slots_, name, [this](std::size_t k) { return drivers_[k]->name; });
    return i == SIZE_MAX ? npos : i;
  }
  /// \brief What find_index returns for an unknown name.
  static constexpr std::size_t npos = SIZE_MAX;

  /// \brief The number of registered drivers.
  [[nodiscard]] std::size_t size() const noexcept { return drivers_.size(); }
  [[nodiscard]] bool empty() const noexcept { return drivers_.empty(); }

  /// \brief Registered drivers in registration order.
  [[nodiscard]] std::span<const driver_descriptor* const> drivers() const noexcept { return drivers_; }

  /// \brief The id of the interface with `key` if any registered driver mentions it, else "".
  [[nodiscard]] std::string_view interface_id(std::uint64_t key) const noexcept {
    const auto it = interface_ids_.find(key);
    return it == interface_ids_.end() ? std::string_view{} : it->second;
  }

 private:
  status add_batch(std::span<const driver_descriptor* const> batch) {
    // Check everything first; the registry changes only once the whole batch is accepted.
    std::unordered_map<std::uint64_t, std::string_view> new_ids;
    std::unordered_set<std::string_view> batch_names;
    batch_names.reserve(batch.size());
    for (const driver_descriptor* d : batch) {
      if (d == nullptr) return error(errc::invalid_argument, "null driver descriptor in a registration batch");
      if (status s = validate_descriptor(*d); !s) return s;
      if (find(d->name) != nullptr) {
        return error(errc::name_clash).driver(d->name);
      }
      if (!batch_names.insert(d->name).second) {
        return error(errc::name_clash, "the batch registers '" + std::string(d->name) + "' twice").driver(d->name);
      }
      auto note_id = [&](std::uint64_t key, std::string_view id) -> status {
        std::string_view known = interface_id(key);
        if (known.empty()) {
          auto [it, inserted] = new_ids.emplace(key, id);
          if (!inserted) known = it->second;
        }
        if (!known.empty() && known != id) {
          return error(errc::interface_id_clash,
                       "interface ids '" + std::string(known) + "' and '" + std::string(id) + "' have the same key")
              .driver(d->name);
        }
        return ok();
      };
      for (const interface_ref& e : d->provides) {
        if (status s = note_id(e.key, e.id); !s) return s;
      }
      for (const interface_ref& r : d->needs_below) {
        if (status s = note_id(r.key, r.id); !s) return s;
      }
      for (const interface_ref& r : d->needs_above) {
        if (status s = note_id(r.key, r.id); !s) return s;
      }
    }

    // Commit. Everything that can throw happens before the first change that cannot be undone;
    // the id map is the one member changed early, and it is rolled back if a later step throws.
    std::vector<std::uint64_t> added_ids;
    added_ids.reserve(new_ids.size());
    try {
      for (const auto& [key, id] : new_ids) {
        if (interface_ids_.emplace(key, id).second) added_ids.push_back(key);
      }
      if (drivers_.capacity() < drivers_.size() + batch.size()) {
        drivers_.reserve(std::max(drivers_.capacity() * 2, drivers_.size() + batch.size()));  // geometric
      }
      const std::size_t capacity = detail::name_table_capacity(drivers_.size() + batch.size());
      if (capacity > slots_.size()) {
        // Grow: a fresh table, filled with old and new names, then swapped in (amortized O(1)).
        std::vector<detail::name_slot> slots(capacity);
        auto name_at = [this, batch](std::size_t k) {
          return k < drivers_.size() ? drivers_[k]->name : batch[k - drivers_.size()]->name;
        };
        for (std::size_t i = 0; i < drivers_.size() + batch.size(); ++i) {
          detail::insert_name(std::span<detail::name_slot>(slots), name_at(i), i, name_at);
        }
        slots_.swap(slots);
        drivers_.insert(drivers_.end(), batch.begin(), batch.end());  // capacity reserved: no throw
        return ok();
      }
    } catch (...) {
      for (std::uint64_t key : added_ids) interface_ids_.erase(key);
      throw;
    }
    // Enough room: insert in place; nothing below allocates.
    for (const driver_descriptor* d : batch) {
      drivers_.push_back(d);
      detail::insert_name(std::span<detail::name_slot>(slots_), d->name, drivers_.size() - 1,
                          [this](std::size_t k) { return drivers_[k]->name; });
    }
    return ok();
  }

  std::vector<const driver_descriptor*> drivers_;
  std::vector<detail::name_slot> slots_;
  std::unordered_map<std::uint64_t, std::string_view> interface_ids_;
};

}  // namespace pdm
