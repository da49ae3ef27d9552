// pdm/services/statistics.hpp - the statistics registry: counters, profiles and values with
// hierarchical names, units and descriptions; snapshots, text and JSON dumps, prefix queries.
//
// The 2008 manager registered pointers to memory the driver owned and kept them after the driver
// was detached, so a dump after a detach read freed memory. Here the registry owns the storage: a
// driver gets a pointer to a statistic the registry allocated, updates it from any thread without
// locks (relaxed atomics), and the registry frees it when the statistic is removed - by name, by
// prefix, or with everything registered under an owner tag (a VM removes a driver instance's
// statistics with the instance that way).
//
// Names are absolute paths, like "/Drivers/Cache-0/Hits":
//  - they start with '/', have at least one segment, no empty segment and no trailing '/';
//  - a segment is made of letters, digits, space and `_ . # -` (space because driver names may
//    contain it; `#` for names like "LUN#0");
//  - a name is at most stat_limits::max_name_bytes (255) bytes;
//  - a name is either a statistic (a leaf) or a group holding statistics (an interior node), never
//    both: with "/A/B" registered, "/A/B/C" and "/A" are refused, like "/A/B" itself, with
//    statistic_exists. So a group's statistics are exactly the names below "<group>/".
// A prefix (for queries, dumps, reset and remove_prefix) matches on segment boundaries: "/Drivers/A-1"
// matches itself and "/Drivers/A-1/..." but not "/Drivers/A-10/...". "", "/" match everything and
// one trailing '/' is ignored ("/Drivers/" is "/Drivers"). A prefix matching no name selects nothing.
// Results are sorted by name, byte by byte.
//
// Thread safety: registration, removal, snapshots, dumps and reset take the registry's mutex;
// updates through a stat_counter/stat_profile/stat_value pointer take no lock. Contract: a
// statistic's pointer must not be used after the statistic is removed (or the registry destroyed);
// the VM removes an instance's statistics after the instance's threads are joined.
//
// Memory: add_counter/add_profile/add_value report errc::no_memory and change nothing; the
// queries and dumps allocate their results and, like any std container, throw std::bad_alloc.
//
// to_json() writes one object per statistic, sorted by name, one per line:
//
//   {"statistics": [
//     {"name": "/Drivers/Cache-0/Hits", "kind": "counter", "unit": "count", "description": "Hits", "value": 42},
//     {"name": "/Drivers/Cache-0/Level", "kind": "value", "unit": "bytes", "description": "Fill", "value": -5},
//     {"name": "/Drivers/Cache-0/Read", "kind": "profile", "unit": "ns", "description": "Reads",
//      "count": 3, "total": 60, "min": 10, "max": 30, "average": 20}
//   ]}
//
// (the profile's object is on one line too). Keys come in that order; "unit" is to_string(stat_unit),
// "kind" is to_string(stat_kind); an empty selection gives `{"statistics": []}`. Numbers are
// integers: counter and profile fields unsigned 64-bit, a value's "value" signed 64-bit.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "pdm/core/errc.hpp"
#include "pdm/core/error.hpp"
#include "pdm/core/utf8.hpp"

namespace pdm {

/// \brief What a statistic counts or measures; shown in dumps.
enum class stat_unit : std::uint8_t {
  none,              ///< a bare number
  count,             ///< a number of things
  bytes,             ///< bytes
  bytes_per_second,  ///< a transfer rate
  calls,             ///< function or request calls
  occurrences,       ///< times something happened
  pages,             ///< memory pages
  ticks,             ///< clock ticks of some source
  ns,                ///< nanoseconds (what stat_profile::measure() adds)
  us,                ///< microseconds
  ms,                ///< milliseconds
  percent,           ///< a percentage
};

/// \brief The unit's name as in the enumeration ("bytes_per_second"); used by both dumps.
[[nodiscard]] constexpr std::string_view to_string(stat_unit unit) noexcept {
  switch (unit) {
    case stat_unit::none:
      return "none";
    case stat_unit::count:
      return "count";
    case stat_unit::bytes:
      return "bytes";
    case stat_unit::bytes_per_second:
      return "bytes_per_second";
    case stat_unit::calls:
      return "calls";
    case stat_unit::occurrences:
      return "occurrences";
    case stat_unit::pages:
      return "pages";
    case stat_unit::ticks:
      return "ticks";
    case stat_unit::ns:
      return "ns";
    case stat_unit::us:
      return "us";
    case stat_unit::ms:
      return "ms";
    case stat_unit::percent:
      return "percent";
  }
  return "unknown";
}

/// \brief The three kinds of statistic.
enum class stat_kind : std::uint8_t {
  counter,  ///< stat_counter: an unsigned count that only grows (until reset)
  profile,  ///< stat_profile: count, total, min and max of measured samples
  value,    ///< stat_value: a signed number set or moved by the driver
};

/// \brief "counter", "profile" or "value".
[[nodiscard]] constexpr std::string_view to_string(stat_kind kind) noexcept {
  switch (kind) {
    case stat_kind::counter:
      return "counter";
    case stat_kind::profile:
      return "profile";
    case stat_kind::value:
      return "value";
  }
  return "unknown";
}

/// \brief Limits on names and descriptions.
struct stat_limits {
  static constexpr std::size_t max_name_bytes = 255;          ///< a whole name, "/" included
  static constexpr std::size_t max_description_bytes = 1024;  ///< a description
};

/// \brief An unsigned counter; add() and get() from any thread, lock-free (relaxed atomics).
class stat_counter {
 public:
  stat_counter() = default;
  stat_counter(const stat_counter&) = delete;
  stat_counter& operator=(const stat_counter&) = delete;
  stat_counter(stat_counter&&) = delete;
  stat_counter& operator=(stat_counter&&) = delete;
  ~stat_counter() = default;

  /// \brief Adds `n` (wraps modulo 2^64).
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  /// \brief Adds one.
  stat_counter& operator++() noexcept {
    add(1);
    return *this;
  }
  /// \brief Adds `n`.
  stat_counter& operator+=(std::uint64_t n) noexcept {
    add(n);
    return *this;
  }
  /// \brief The current count.
  [[nodiscard]] std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }
  /// \brief Sets the count to zero.
  void reset() noexcept { value_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// \brief A profile's numbers at one moment: samples, their sum, smallest and largest.
struct stat_profile_values {
  std::uint64_t count = 0;  ///< samples added
  std::uint64_t total = 0;  ///< their sum (wraps modulo 2^64)
  std::uint64_t min = 0;    ///< the smallest sample; 0 without samples
  std::uint64_t max = 0;    ///< the largest sample; 0 without samples
  /// \brief total / count, rounded down; 0 without samples.
  [[nodiscard]] constexpr std::uint64_t average() const noexcept { return count == 0 ? 0 : total / count; }
  friend constexpr bool operator==(const stat_profile_values&, const stat_profile_values&) = default;
};

/// \brief Samples of a duration or size: count, total, min, max; add() from any thread, lock-free.
///
/// Each field is updated atomically on its own; a reader racing with add() may see a new count with
/// the old total (the numbers are for people and tools, not for invariants).
class stat_profile {
 public:
  /// \brief Measures std::chrono::steady_clock from its construction to its destruction (or
  /// stop()) and adds the nanoseconds to its profile: `auto s = profile->measure();`.
  class sample {
   public:
    explicit sample(stat_profile& profile) noexcept : profile_(&profile), start_(clock::now()) {}
    sample(const sample&) = delete;
    sample& operator=(const sample&) = delete;
    /// \brief Takes over the measurement; the moved-from sample adds nothing.
    sample(sample&& other) noexcept : profile_(std::exchange(other.profile_, nullptr)), start_(other.start_) {}
    sample& operator=(sample&&) = delete;
    /// \brief Adds the elapsed time unless stop() or cancel() already ended the measurement.
    ~sample() { stop(); }

    /// \brief Adds the nanoseconds elapsed since construction now; later calls do nothing.
    void stop() noexcept {
      if (profile_ == nullptr) return;
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start_).count();
      std::exchange(profile_, nullptr)->add(ns > 0 ? static_cast<std::uint64_t>(ns) : 0);
    }
    /// \brief Ends the measurement without adding anything.
    void cancel() noexcept { profile_ = nullptr; }

   private:
    using clock = std::chrono::steady_clock;
    stat_profile* profile_;
    clock::time_point start_;
  };

  stat_profile() = default;
  stat_profile(const stat_profile&) = delete;
  stat_profile& operator=(const stat_profile&) = delete;
  stat_profile(stat_profile&&) = delete;
  stat_profile& operator=(stat_profile&&) = delete;
  ~stat_profile() = default;

  /// \brief Adds one sample (nanoseconds if the profile's unit is stat_unit::ns).
  void add(std::uint64_t sample_value) noexcept {
    count_.fetch_add(1, std::memory_order_relaxed);
    total_.fetch_add(sample_value, std::memory_order_relaxed);
    std::uint64_t seen = min_.load(std::memory_order_relaxed);
    while (sample_value < seen && !min_.compare_exchange_weak(seen, sample_value, std::memory_order_relaxed)) {
    }
    seen = max_.load(std::memory_order_relaxed);
    while (sample_value > seen && !max_.compare_exchange_weak(seen, sample_value, std::memory_order_relaxed)) {
    }
  }
  /// \brief Starts a measurement that adds its duration in nanoseconds when it ends.
  [[nodiscard]] sample measure() noexcept { return sample(*this); }

  /// \brief Samples added.
  [[nodiscard]] std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  /// \brief The sum of the samples (wraps modulo 2^64).
  [[nodiscard]] std::uint64_t total() const noexcept { return total_.load(std::memory_order_relaxed); }
  /// \brief The smallest sample; 0 without samples.
  [[nodiscard]] std::uint64_t min() const noexcept {
    const std::uint64_t m = min_.load(std::memory_order_relaxed);
    return m == no_min ? 0 : m;
  }
  /// \brief The largest sample; 0 without samples.
  [[nodiscard]] std::uint64_t max() const noexcept { return max_.load(std::memory_order_relaxed); }
  /// \brief total() / count(), rounded down; 0 without samples.
  [[nodiscard]] std::uint64_t average() const noexcept { return values().average(); }
  /// \brief All four numbers (each read on its own; see the class comment).
  [[nodiscard]] stat_profile_values values() const noexcept { return {count(), total(), min(), max()}; }
  /// \brief Forgets every sample.
  void reset() noexcept {
    count_.store(0, std::memory_order_relaxed);
    total_.store(0, std::memory_order_relaxed);
    min_.store(no_min, std::memory_order_relaxed);
    max_.store(0, std::memory_order_relaxed);
  }

 private:
  static constexpr std::uint64_t no_min = std::numeric_limits<std::uint64_t>::max();
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> total_{0};
  std::atomic<std::uint64_t> min_{no_min};
  std::atomic<std::uint64_t> max_{0};
};

/// \brief A signed 64-bit number the driver sets or moves (a level, a size, a state); lock-free.
class stat_value {
 public:
  stat_value() = default;
  stat_value(const stat_value&) = delete;
  stat_value& operator=(const stat_value&) = delete;
  stat_value(stat_value&&) = delete;
  stat_value& operator=(stat_value&&) = delete;
  ~stat_value() = default;

  /// \brief Sets the value.
  void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  /// \brief Adds `delta` (negative to subtract; wraps modulo 2^64).
  void add(std::int64_t delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
  /// \brief The current value.
  [[nodiscard]] std::int64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }
  /// \brief Sets the value to zero.
  void reset() noexcept { set(0); }

 private:
  std::atomic<std::int64_t> value_{0};
};

/// \brief One statistic as read by statistics::snapshot() or find().
struct stat_sample {
  std::string name;                   ///< its full name
  stat_kind kind = stat_kind::value;  ///< which of the fields below hold its numbers
  stat_unit unit = stat_unit::none;
  std::string description;
  std::uint64_t counter = 0;      ///< a counter's count (kind == counter)
  std::int64_t value = 0;         ///< a value's value (kind == value)
  stat_profile_values profile{};  ///< a profile's numbers (kind == profile)
  friend bool operator==(const stat_sample&, const stat_sample&) = default;
};

/// \brief What is wrong with `name` as a statistic name (see the file comment), or "" if nothing.
[[nodiscard]] constexpr std::string_view stat_name_problem(std::string_view name) noexcept {
  if (name.empty()) return "is empty";
  if (name.size() > stat_limits::max_name_bytes) return "is longer than 255 bytes";
  if (name.front() != '/') return "does not start with '/'";
  if (name.size() == 1) return "names no statistic ('/' is the root)";
  if (name.back() == '/') return "ends with '/'";
  char previous = '\0';
  for (const char c : name) {
    if (c == '/' && previous == '/') return "has an empty segment (\"//\")";
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
                         c == ' ' || c == '_' || c == '.' || c == '#' || c == '-';
    if (!allowed) return "has a character other than letters, digits, space, '_', '.', '#', '-' and '/'";
    previous = c;
  }
  return {};
}

/// \brief True if `name` can name a statistic.
[[nodiscard]] constexpr bool valid_stat_name(std::string_view name) noexcept { return stat_name_problem(name).empty(); }

namespace detail {

// `s` in single quotes for a message: bytes outside printable ASCII as \xNN, quote and backslash
// escaped, cut at 80 bytes (a name may be any string the caller had).
[[nodiscard]] inline std::string stat_quote(std::string_view s) {
  constexpr std::size_t shown = 80;
  constexpr std::string_view hex = "0123456789abcdef";
  std::string out = "'";
  for (const char c : s.substr(0, shown)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7F) {
      out += "\\x";
      out += hex[u >> 4U];
      out += hex[u & 0xFU];
    } else {
      out += c;
    }
  }
  out += '\'';
  if (s.size() > shown) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

// What is wrong with a description, or "".
[[nodiscard]] constexpr std::string_view stat_description_problem(std::string_view d) noexcept {
  if (d.size() > stat_limits::max_description_bytes) return "the description is longer than 1024 bytes";
  for (const char c : d) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return "the description contains a control character (dumps are one line each)";
  }
  if (!valid_utf8(d)) return "the description is not valid UTF-8";
  return {};
}

// Appends `s` as a JSON string (quotes included).
inline void stat_json_string(std::string& out, std::string_view s) {
  constexpr std::string_view hex = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4U];
      out += hex[u & 0xFU];
    } else {
      out += c;  // valid UTF-8 (descriptions are checked; names are ASCII)
    }
  }
  out += '"';
}

struct stat_entry;

// The statistics of one owner, linked through their entries (O(1) unlink).
struct stat_owner_chain {
  stat_entry* first = nullptr;
};

using stat_name_map = std::map<std::string, std::unique_ptr<stat_entry>, std::less<>>;
using stat_owner_map = std::map<const void*, stat_owner_chain, std::less<>>;

// One registered statistic. Its own allocation: the address of `stat` never changes.
struct stat_entry {
  template <class T>
  stat_entry(std::in_place_type_t<T> kind, stat_unit u, std::string d, const void* o)
      : unit(u), description(std::move(d)), owner(o), stat(kind) {}

  stat_unit unit;
  std::string description;
  const void* owner;
  std::variant<stat_counter, stat_profile, stat_value> stat;
  stat_name_map::iterator self;    // this entry's node in the name map
  stat_owner_map::iterator chain;  // the owner's chain (only with an owner)
  stat_entry* previous = nullptr;  // neighbours in the owner's chain
  stat_entry* next = nullptr;
};

}  // namespace detail

/// \brief The registry of statistics (see the file comment for names, prefixes and threads).
class statistics {
 public:
  statistics() = default;
  statistics(const statistics&) = delete;  // statistics are handed out by address
  statistics& operator=(const statistics&) = delete;
  statistics(statistics&&) = delete;
  statistics& operator=(statistics&&) = delete;
  /// \brief Frees every statistic; pointers to them must not be used any more.
  ~statistics() = default;

  /// \brief Registers a counter. Errors: invalid_name (the name breaks a naming rule),
  /// statistic_exists (the name, a group holding it, or a statistic below it is registered),
  /// invalid_argument (description too long, a control character, not UTF-8), no_memory.
  /// `owner` (may be null) tags it for remove_owned(). The pointer is valid until it is removed.
  result<stat_counter*> add_counter(std::string name, stat_unit unit, std::string description,
                                    const void* owner = nullptr) {
    return add<stat_counter>(std::move(name), unit, std::move(description), owner);
  }
  /// \brief Registers a profile; as add_counter().
  result<stat_profile*> add_profile(std::string name, stat_unit unit, std::string description,
                                    const void* owner = nullptr) {
    return add<stat_profile>(std::move(name), unit, std::move(description), owner);
  }
  /// \brief Registers a value; as add_counter().
  result<stat_value*> add_value(std::string name, stat_unit unit, std::string description,
                                const void* owner = nullptr) {
    return add<stat_value>(std::move(name), unit, std::move(description), owner);
  }

  /// \brief Removes the statistic `name`; value_not_found if there is none (a group is not a
  /// statistic: remove_prefix() removes groups).
  status remove(std::string_view name) {
    const std::lock_guard<std::mutex> hold(lock_);
    const auto it = names_.find(name);
    if (it == names_.end()) {
      std::string detail = "no statistic named " + detail::stat_quote(name);
      if (const auto [first, last] = range(name); first != last) detail += " (it is a group: use remove_prefix)";
      return error(errc::value_not_found, std::move(detail));
    }
    erase(it);
    return ok();
  }

  /// \brief Removes every statistic under `prefix` (on segment boundaries); returns how many.
  /// O(log n + k) for k removed.
  std::size_t remove_prefix(std::string_view prefix) {
    const std::lock_guard<std::mutex> hold(lock_);
    auto [it, last] = range(prefix);
    std::size_t removed = 0;
    while (it != last) {
      erase(it++);
      ++removed;
    }
    return removed;
  }

  /// \brief Removes every statistic registered with `owner`; returns how many (0 for a null
  /// owner: null means "no owner"). O(log n + k) for k removed.
  std::size_t remove_owned(const void* owner) noexcept {
    if (owner == nullptr) return 0;
    const std::lock_guard<std::mutex> hold(lock_);
    const auto chain = owners_.find(owner);
    if (chain == owners_.end()) return 0;
    std::size_t removed = 0;
    for (detail::stat_entry* e = chain->second.first; e != nullptr;) {
      detail::stat_entry* const next = e->next;
      names_.erase(e->self);  // frees e
      e = next;
      ++removed;
    }
    owners_.erase(chain);
    count_.fetch_sub(removed, std::memory_order_relaxed);
    return removed;
  }

  /// \brief The statistics under `prefix`, sorted by name.
  [[nodiscard]] std::vector<stat_sample> snapshot(std::string_view prefix = "/") const {
    const std::lock_guard<std::mutex> hold(lock_);
    std::vector<stat_sample> out;
    const auto [first, last] = range(prefix);
    for (auto it = first; it != last; ++it) out.push_back(sample_of(it->first, *it->second));
    return out;
  }

  /// \brief The statistic `name`, or nothing.
  [[nodiscard]] std::optional<stat_sample> find(std::string_view name) const {
    const std::lock_guard<std::mutex> hold(lock_);
    const auto it = names_.find(name);
    if (it == names_.end()) return std::nullopt;
    return sample_of(it->first, *it->second);
  }

  /// \brief The statistics under `prefix` for people: one line each, sorted by name, in aligned
  /// columns `name  value unit  description`. A profile shows its average with the unit
  /// "<unit>/call" ("per call" without a unit), and after its description `(count <n>, total <t>,
  /// min <m>, max <M>)`.
  /// stat_unit::none shows no unit. Trailing spaces are trimmed; no statistics give "".
  [[nodiscard]] std::string to_text(std::string_view prefix = "/") const {
    struct row {
      std::string_view name;
      std::string value;
      std::string unit;
      std::string description;
    };
    const std::vector<stat_sample> samples = snapshot(prefix);
    std::vector<row> rows;
    rows.reserve(samples.size());
    std::size_t name_width = 0;
    std::size_t value_width = 0;
    std::size_t unit_width = 0;
    for (const stat_sample& s : samples) {
      row r{s.name, {}, s.unit == stat_unit::none ? std::string() : std::string(to_string(s.unit)), s.description};
      switch (s.kind) {
        case stat_kind::counter:
          r.value = std::to_string(s.counter);
          break;
        case stat_kind::value:
          r.value = std::to_string(s.value);
          break;
        case stat_kind::profile:
          r.value = std::to_string(s.profile.average());
          r.unit = s.unit == stat_unit::none ? std::string("per call") : r.unit + "/call";
          if (!r.description.empty()) r.description += ' ';
          r.description += "(count " + std::to_string(s.profile.count) + ", total " + std::to_string(s.profile.total) +
                           ", min " + std::to_string(s.profile.min) + ", max " + std::to_string(s.profile.max) + ')';
          break;
      }
      name_width = std::max(name_width, r.name.size());
      value_width = std::max(value_width, r.value.size());
      unit_width = std::max(unit_width, r.unit.size());
      rows.push_back(std::move(r));
    }
    std::string out;
    for (const row& r : rows) {
      std::string line(r.name);
      line.append(name_width - r.name.size() + 2 + value_width - r.value.size(), ' ');
      line += r.value;
      line += ' ';
      line += r.unit;
      line.append(unit_width - r.unit.size() + 2, ' ');
      line += r.description;
      line.erase(line.find_last_not_of(' ') + 1);
      out += line;
      out += '\n';
    }
    return out;
  }

  /// \brief The statistics under `prefix` as a JSON document (format in the file comment).
  [[nodiscard]] std::string to_json(std::string_view prefix = "/") const {
    const std::vector<stat_sample> samples = snapshot(prefix);
    std::string out = "{\"statistics\": [";
    bool first = true;
    for (const stat_sample& s : samples) {
      out += first ? "\n  {\"name\": " : ",\n  {\"name\": ";
      first = false;
      detail::stat_json_string(out, s.name);
      out += ", \"kind\": ";
      detail::stat_json_string(out, to_string(s.kind));
      out += ", \"unit\": ";
      detail::stat_json_string(out, to_string(s.unit));
      out += ", \"description\": ";
      detail::stat_json_string(out, s.description);
      switch (s.kind) {
        case stat_kind::counter:
          out += ", \"value\": " + std::to_string(s.counter);
          break;
        case stat_kind::value:
          out += ", \"value\": " + std::to_string(s.value);
          break;
        case stat_kind::profile:
          out += ", \"count\": " + std::to_string(s.profile.count) + ", \"total\": " + std::to_string(s.profile.total) +
                 ", \"min\": " + std::to_string(s.profile.min) + ", \"max\": " + std::to_string(s.profile.max) +
                 ", \"average\": " + std::to_string(s.profile.average());
          break;
      }
      out += '}';
    }
    out += first ? "]}\n" : "\n]}\n";
    return out;
  }

  /// \brief Sets every statistic under `prefix` to zero (profiles forget their samples).
  void reset(std::string_view prefix = "/") {
    const std::lock_guard<std::mutex> hold(lock_);
    const auto [first, last] = range(prefix);
    for (auto it = first; it != last; ++it) {
      std::visit([](auto& stat) { stat.reset(); }, it->second->stat);
    }
  }

  /// \brief How many statistics are registered (lock-free; exact when no registration or
  /// removal runs at the same time).
  [[nodiscard]] std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  using name_iterator = detail::stat_name_map::iterator;
  using const_name_iterator = detail::stat_name_map::const_iterator;

  template <class T>
  result<T*> add(std::string name, stat_unit unit, std::string description, const void* owner) {
    try {
      if (const std::string_view p = stat_name_problem(name); !p.empty()) {
        return error(errc::invalid_name, "statistic name " + detail::stat_quote(name) + ' ' + std::string(p));
      }
      if (const std::string_view p = detail::stat_description_problem(description); !p.empty()) {
        return error(errc::invalid_argument, "statistic " + detail::stat_quote(name) + ": " + std::string(p));
      }
      const std::lock_guard<std::mutex> hold(lock_);
      if (std::optional<error> e = conflict(name)) return std::move(*e);
      auto entry = std::make_unique<detail::stat_entry>(std::in_place_type<T>, unit, std::move(description), owner);
      detail::stat_entry& e = *entry;
      auto [it, inserted] = names_.emplace(std::move(name), std::move(entry));
      e.self = it;
      if (owner != nullptr) {
        try {
          e.chain = owners_.try_emplace(owner).first;
        } catch (...) {
          names_.erase(it);
          throw;
        }
        // Linked at the front: the order within an owner does not matter.
        e.next = std::exchange(e.chain->second.first, &e);
        if (e.next != nullptr) e.next->previous = &e;
      }
      count_.fetch_add(1, std::memory_order_relaxed);
      return std::get_if<T>(&e.stat);
    } catch (const std::bad_alloc&) {
      return error(errc::no_memory, "while registering a statistic");
    }
  }

  // Why `name` (valid) cannot be registered: it exists, a statistic is below it, or a statistic
  // is one of its groups.
  [[nodiscard]] std::optional<error> conflict(const std::string& name) const {
    if (names_.find(name) != names_.end()) {
      return error(errc::statistic_exists, detail::stat_quote(name) + " is already registered");
    }
    if (const auto [first, last] = range(name); first != last) {
      return error(errc::statistic_exists,
                   detail::stat_quote(name) + " is a group holding the statistic " + detail::stat_quote(first->first));
    }
    for (std::size_t slash = name.find('/', 1); slash != std::string::npos; slash = name.find('/', slash + 1)) {
      const std::string_view group = std::string_view(name).substr(0, slash);
      if (names_.find(group) != names_.end()) {
        return error(errc::statistic_exists, detail::stat_quote(name) + " would be below the statistic " +
                                                 detail::stat_quote(group) + " (a statistic cannot be a group)");
      }
    }
    return std::nullopt;
  }

  // The names under `prefix` (on segment boundaries) as one range: the statistic `prefix` itself,
  // or the names in ["<prefix>/", "<prefix>0") ('0' follows '/'), never both (a statistic is not
  // a group).
  [[nodiscard]] std::pair<name_iterator, name_iterator> range(std::string_view prefix) {
    const auto [first, last] = std::as_const(*this).range(prefix);
    // const_iterator to iterator without a search: erase of an empty range returns it as mutable.
    return {names_.erase(first, first), names_.erase(last, last)};
  }
  [[nodiscard]] std::pair<const_name_iterator, const_name_iterator> range(std::string_view prefix) const {
    if (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    if (prefix.empty()) return {names_.begin(), names_.end()};
    if (const auto it = names_.find(prefix); it != names_.end()) return {it, std::next(it)};
    std::string bound(prefix);
    bound += '/';
    const auto first = names_.lower_bound(bound);
    bound.back() = '0';
    return {first, names_.lower_bound(bound)};
  }

  // Removes one statistic: out of its owner's chain (O(1)), then out of the name map.
  void erase(name_iterator it) noexcept {
    detail::stat_entry& e = *it->second;
    if (e.owner != nullptr) {
      if (e.previous != nullptr) {
        e.previous->next = e.next;
      } else {
        e.chain->second.first = e.next;
      }
      if (e.next != nullptr) e.next->previous = e.previous;
      if (e.chain->second.first == nullptr) owners_.erase(e.chain);
    }
    names_.erase(it);
    count_.fetch_sub(1, std::memory_order_relaxed);
  }

  [[nodiscard]] static stat_sample sample_of(const std::string& name, const detail::stat_entry& e) {
    stat_sample s;
    s.name = name;
    s.unit = e.unit;
    s.description = e.description;
    if (const auto* c = std::get_if<stat_counter>(&e.stat)) {
      s.kind = stat_kind::counter;
      s.counter = c->get();
    } else if (const auto* p = std::get_if<stat_profile>(&e.stat)) {
      s.kind = stat_kind::profile;
      s.profile = p->values();
    } else if (const auto* v = std::get_if<stat_value>(&e.stat)) {
      s.kind = stat_kind::value;
      s.value = v->get();
    }
    return s;
  }

  mutable std::mutex lock_;
  detail::stat_name_map names_;    // every statistic by name; owns the entries
  detail::stat_owner_map owners_;  // the owners with at least one statistic
  std::atomic<std::size_t> count_{0};
};

}  // namespace pdm
