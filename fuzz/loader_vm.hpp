// fuzz/loader_vm.hpp - the VM the saved-state fuzz target loads into (the "rig"), shared by the
// target (state_loader.cpp) and the corpus generator (make_corpus.cpp).
//
// One device "fz" #0 whose LUN#0 has a chain of three drivers, each with an aggregate
// saved_state of different field kinds:
//   FzCtl   (top)    version 1: strings, a vector of aggregates, enums (scoped and unscoped with a
//                    fixed type), bools, std::array of integers and of structs, a double, a
//                    float, a std::vector<bool>, a nested struct with a vector of strings;
//   FzQueue (middle) version 3 with load_older_state for versions 1 and 2, and a unit it
//                    registers by hand, ":regs" #5 version 2 (version 1 has its first field only),
//                    whose hooks read and write with pdm::state_reader / state_writer and count
//                    their calls;
//   FzDisk  (bottom) version 2, no load_older_state: a std::array<char, 8>, and vectors of each
//                    kind the decoder handles its own way: bytes (uint8_t, char), other scalars
//                    (int8_t, uint32_t, float, double, an enum), bool, arrays, aggregates,
//                    strings and vectors.
// The EMT is the calling thread (emt_mode::current_thread), so a rig is built and used on one
// thread, and building one costs a few tens of microseconds: the target builds one per input.
#pragma once

#include <pdm/pdm.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pdm_fuzz {

/// \brief Prints `what` and stops the process the way a fuzzer reports (a trap).
[[noreturn]] inline void violated(const char* file, int line, const char* condition, const std::string& what) {
  std::fprintf(stderr, "%s:%d: invariant violated: %s\n  %s\n", file, line, condition, what.c_str());
  std::fflush(stderr);
  __builtin_trap();
}

}  // namespace pdm_fuzz

/// A check that holds for every input; `what` (a std::string expression) is built only on failure.
#define PDM_FUZZ_CHECK(condition, what)                                             \
  do {                                                                              \
    if (!(condition)) ::pdm_fuzz::violated(__FILE__, __LINE__, #condition, (what)); \
  } while (false)

namespace pdm_fuzz {

class ctl_driver;
class queue_driver;
class disk_driver;

// Each driver offers an interface that hands out the driver itself, so the rig can reach it.
struct ctl_access {
  static constexpr std::string_view interface_id = "pdm.fuzz.ctl/1";
  virtual ctl_driver& self() noexcept = 0;

 protected:
  ~ctl_access() = default;
};
struct queue_access {
  static constexpr std::string_view interface_id = "pdm.fuzz.queue/1";
  virtual queue_driver& self() noexcept = 0;

 protected:
  ~queue_access() = default;
};
struct disk_access {
  static constexpr std::string_view interface_id = "pdm.fuzz.disk/1";
  virtual disk_driver& self() noexcept = 0;

 protected:
  ~disk_access() = default;
};

// ---- FzCtl: version 1 ---------------------------------------------------------------------------

enum class mode : std::uint8_t { off, on, automatic };
enum class level : std::int32_t { low = -1, normal = 0, high = 1 };
enum legacy_kind : std::uint16_t { legacy_a = 1, legacy_b = 2 };  // unscoped, with a fixed type

struct point {
  std::int16_t x = 0;
  std::int16_t y = 0;
};
struct channel {
  std::uint16_t id = 0;
  bool enabled = false;
  mode how = mode::off;
  std::string label;
  std::vector<std::int32_t> samples;
};
struct ctl_info {
  std::uint64_t serial = 0;
  std::vector<std::string> tags;
  level lvl = level::normal;
  legacy_kind kind = legacy_a;
};
struct ctl_state {
  std::string name;
  std::vector<channel> channels;
  std::array<std::uint32_t, 4> regs{};
  std::array<point, 2> corners{};
  bool armed = false;
  double ratio = 0;
  float gain = 0;
  std::vector<bool> flags;
  ctl_info info;
};

class ctl_driver final : public ctl_access {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "FzCtl", .description = "Fuzz rig: the top of the chain", .class_mask = pdm::driver_class::block};
  using provides = pdm::interface_list<ctl_access>;
  using needs_below = pdm::interface_list<queue_access>;
  using saved_state = ctl_state;
  static constexpr std::uint32_t saved_state_version = 1;

  explicit ctl_driver(pdm::driver_context& ctx) {
    state_.name = "ctl";
    state_.channels = {{1, true, mode::on, "left", {1, -2, 3}}, {2, false, mode::automatic, "", {}}};
    state_.regs = {0xDEADBEEFU, 0, 1, 0xFFFFFFFFU};
    state_.corners = {point{-1, 1}, point{640, 480}};
    state_.armed = true;
    state_.ratio = 0.5;
    state_.gain = -1.25F;
    state_.flags = {true, false, true};
    state_.info = {42, {"alpha", "beta"}, level::high, legacy_b};
    pdm::result<pdm::driver_ref> below = ctx.attach();
    if (!below) ctx.fail(below.error_value());
  }
  ctl_driver& self() noexcept override { return *this; }
  saved_state& saved() { return state_; }

 private:
  saved_state state_;
};

// ---- FzQueue: version 3, loads 1 and 2 too; and the hand-registered unit ":regs" #5 ----------------

struct entry {
  std::uint64_t at = 0;
  std::vector<std::uint8_t> payload;
  std::int8_t priority = 0;  // since version 3
};
struct queue_state {
  std::uint32_t head = 0;
  std::uint32_t tail = 0;
  std::vector<entry> entries;
  std::string owner;                     // since version 2
  std::array<std::int64_t, 3> totals{};  // since version 3
  char letter = 'q';                     // since version 3
};
// The older layouts, as FzQueue versions 1 and 2 saved them.
struct entry_v1 {
  std::uint64_t at = 0;
  std::vector<std::uint8_t> payload;
};
struct queue_v1 {
  std::uint32_t head = 0;
  std::uint32_t tail = 0;
  std::vector<entry_v1> entries;
};
struct queue_v2 {
  queue_v1 v1;  // a nested aggregate is encoded as its fields: the same bytes as version 1's
  std::string owner;
};

// The unit FzQueue registers by hand: version 2 is all four fields, version 1 the first only.
struct regs_state {
  std::uint32_t control = 0;
  std::vector<std::uint16_t> values;
  std::string label;
  bool latched = false;
};
inline constexpr std::string_view regs_unit_name = "regs";
inline constexpr std::uint32_t regs_unit_instance = 5;
inline constexpr std::uint32_t regs_unit_version = 2;

/// \brief Writes `r` as version `version` of the regs unit (what its save hook writes for 2).
inline void write_regs(pdm::state_writer& out, const regs_state& r, std::uint32_t version = regs_unit_version) {
  out.write(r.control);
  if (version < 2) return;
  out.write(r.values);
  out.write(r.label);
  out.write(r.latched);
}

/// \brief How often the regs unit's hooks ran (load_prepare_ok: load_prepare calls that succeeded).
struct hook_counts {
  int save_prepare = 0;
  int save = 0;
  int save_done = 0;
  int load_prepare = 0;
  int load_prepare_ok = 0;
  int load = 0;
  int load_done = 0;
};

class queue_driver final : public queue_access {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "FzQueue", .description = "Fuzz rig: the middle of the chain", .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<queue_access>;
  using needs_below = pdm::interface_list<disk_access>;
  using saved_state = queue_state;
  static constexpr std::uint32_t saved_state_version = 3;

  explicit queue_driver(pdm::driver_context& ctx) {
    state_.head = 3;
    state_.tail = 1;
    state_.entries = {{7, {1, 2, 3}, -1}, {9, {}, 5}};
    state_.owner = "queue";
    state_.totals = {-1, 0, 1};
    regs_.control = 0x1234;
    regs_.values = {1, 0xFFFF};
    regs_.label = "regs";
    regs_.latched = true;

    pdm::state_unit_hooks hooks;
    hooks.save_prepare = [this] {
      ++counts.save_prepare;
      return pdm::ok();
    };
    hooks.save = [this](pdm::state_writer& out) {
      ++counts.save;
      write_regs(out, regs_);
      return pdm::ok();
    };
    hooks.save_done = [this] {
      ++counts.save_done;
      return pdm::ok();
    };
    hooks.load_prepare = [this] {
      ++counts.load_prepare;
      ++counts.load_prepare_ok;
      return pdm::ok();
    };
    hooks.load = [this](pdm::state_reader& in) { return load_regs(in); };
    hooks.load_done = [this] {
      ++counts.load_done;
      return pdm::ok();
    };
    pdm::result<pdm::state_unit> unit =
        ctx.register_state_unit(regs_unit_name, regs_unit_instance, regs_unit_version, std::move(hooks));
    if (!unit) {
      ctx.fail(unit.error_value());
      return;
    }
    pdm::result<pdm::driver_ref> below = ctx.attach();
    if (!below) ctx.fail(below.error_value());
  }
  queue_driver& self() noexcept override { return *this; }
  saved_state& saved() { return state_; }
  regs_state& regs() { return regs_; }

  // Versions 1 and 2 (pdm calls this for any version below 3, 0 included).
  pdm::status load_older_state(pdm::state_reader& in, saved_state& out) {
    if (in.version() != 1 && in.version() != 2) {
      return pdm::error(pdm::errc::unit_version_too_old, "FzQueue loads versions 1 to 3");
    }
    queue_v2 old;
    if (in.version() == 1) {
      if (pdm::status s = in.read(old.v1); !s) return s;
    } else {
      if (pdm::status s = in.read(old); !s) return s;
    }
    if (in.remaining() != 0) return pdm::error(pdm::errc::stream_corrupted, "bytes after FzQueue's older state");
    out.head = old.v1.head;
    out.tail = old.v1.tail;
    out.entries.clear();
    for (entry_v1& e : old.v1.entries) out.entries.push_back({e.at, std::move(e.payload), 0});
    out.owner = std::move(old.owner);
    out.totals = {};
    out.letter = '?';
    return pdm::ok();
  }

  hook_counts counts;

 private:
  // Reads every field and checks once at the end (a state_reader keeps its first failure), into
  // a fresh object that replaces the driver's only when all of it was read.
  pdm::status load_regs(pdm::state_reader& in) {
    ++counts.load;
    regs_state fresh;
    if (in.version() == 0 || in.version() > regs_unit_version) {
      return pdm::error(pdm::errc::unit_version_too_old, "regs loads versions 1 and 2");
    }
    pdm::status s = in.read(fresh.control);
    if (in.version() >= 2) {
      (void)in.read(fresh.values);
      (void)in.read(fresh.label);
      s = in.read(fresh.latched);
    }
    if (!s) {
      PDM_FUZZ_CHECK(in.code() == s.error_value().code(), "state_reader::code() is not the first failure's");
      return s;
    }
    PDM_FUZZ_CHECK(!in.code(), "state_reader::code() set after every read succeeded");
    if (in.remaining() != 0) return pdm::error(pdm::errc::stream_corrupted, "bytes after the regs");
    regs_ = std::move(fresh);
    return pdm::ok();
  }

  saved_state state_;
  regs_state regs_;
};

// ---- FzDisk: version 2, no load_older_state -----------------------------------------------------

struct disk_state {
  std::uint64_t sectors = 0;
  std::int16_t temperature = 0;
  std::array<char, 8> serial{};
  std::vector<std::uint8_t> blocks;
  std::vector<std::string> names;
  std::vector<std::array<std::uint8_t, 4>> keys;
  std::vector<std::vector<std::uint32_t>> tables;
  std::vector<double> weights;
  std::int64_t offset = 0;
  std::vector<char> raw;  // (each vector below has its own decoding path)
  std::vector<std::int8_t> deltas;
  std::vector<mode> modes;
  std::vector<float> gains;
  std::vector<point> points;
  std::vector<bool> dirty;
};

class disk_driver final : public disk_access {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "FzDisk", .description = "Fuzz rig: the bottom of the chain", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<disk_access>;
  using saved_state = disk_state;
  static constexpr std::uint32_t saved_state_version = 2;

  explicit disk_driver(pdm::driver_context& /*ctx*/) {
    state_.sectors = 2048;
    state_.temperature = -40;
    state_.serial = {'P', 'D', 'M', '-', '0', '0', '0', '1'};
    state_.blocks = {0, 1, 2, 3, 0xFF};
    state_.names = {"boot", "", "data"};
    state_.keys = {{1, 2, 3, 4}};
    state_.tables = {{}, {1}, {2, 3}};
    state_.weights = {0.25, -0.0};
    state_.offset = -4096;
    state_.raw = {'r', '\0'};
    state_.deltas = {-128, 127};
    state_.modes = {mode::automatic, mode::off};
    state_.gains = {1.0F};
    state_.points = {{1, 2}, {-3, -4}};
    state_.dirty = {false, true};
  }
  disk_driver& self() noexcept override { return *this; }
  saved_state& saved() { return state_; }

 private:
  saved_state state_;
};

using drivers = pdm::driver_list<ctl_driver, queue_driver, disk_driver>;

// ---- The rig ------------------------------------------------------------------------------------

/// \brief The units of the rig, in the order of snapshot::units.
enum unit_index : std::size_t { ctl_unit, queue_unit, regs_unit, disk_unit, unit_count };

/// \brief Every unit's state, encoded (the encoding is one-to-one, so equal bytes are equal states,
/// floats bit for bit).
struct snapshot {
  std::array<std::vector<std::byte>, unit_count> units;
  bool operator==(const snapshot&) const = default;
};

/// \brief A unit as the stream names it, and the version its code saves.
struct unit_id {
  std::string name;
  std::uint32_t instance = 0;
  std::uint32_t version = 0;
};

template <class T>
std::vector<std::byte> encode(const T& value) {
  std::vector<std::byte> out;
  pdm::state_writer w(out);
  w.write(value);
  return out;
}

inline pdm::vm_options rig_options() {
  pdm::vm_options o;
  o.emt = pdm::emt_mode::current_thread;
  return o;
}

inline pdm::registry rig_registry() {
  pdm::registry r;
  pdm::status s = r.add(drivers{});
  PDM_FUZZ_CHECK(s, "registry: " + s.error_value().message());
  return r;
}

// The config, parsed once and copied for each rig (a third of a rig's cost is the JSON parse).
inline pdm::config_tree rig_config() {
  static const pdm::config_tree parsed = [] {
    pdm::result<pdm::config_tree> t = pdm::load_json(R"({"Devices": {"fz": {"0": {"LUN#0": {
        "Driver": "FzCtl", "AttachedDriver": {"Driver": "FzQueue", "AttachedDriver": {"Driver": "FzDisk"}}}}}}})");
    PDM_FUZZ_CHECK(t, "config: " + t.error_value().message());
    return std::move(t).value();
  }();
  return parsed.root().clone();
}

/// \brief A VM with the chain FzCtl -> FzQueue -> FzDisk attached, on the calling thread.
class rig {
 public:
  rig() : vm(rig_registry(), rig_config(), rig_options()) {
    pdm::device_spec dev{.name = "fz"};
    dev.luns.push_back({.number = 0, .needs = pdm::interfaces<ctl_access>()});
    pdm::status added = vm.add_device(std::move(dev));
    PDM_FUZZ_CHECK(added, "add_device: " + added.error_value().message());
    pdm::result<pdm::driver_ref> top = vm.attach("fz", 0, 0, pdm::attach_flags::not_hot_plug);
    PDM_FUZZ_CHECK(top, "attach: " + top.error_value().message());
    pdm::result<std::vector<pdm::driver_ref>> chain = vm.chain("fz", 0, 0);
    PDM_FUZZ_CHECK(chain && chain->size() == 3, "the chain is not FzCtl -> FzQueue -> FzDisk");
    for (const pdm::driver_ref& d : *chain) {
      if (auto* c = d.query<ctl_access>()) ctl = &c->self();
      if (auto* q = d.query<queue_access>()) queue = &q->self();
      if (auto* k = d.query<disk_access>()) disk = &k->self();
    }
    PDM_FUZZ_CHECK(ctl != nullptr && queue != nullptr && disk != nullptr, "a driver of the chain is missing");
    // The units by name: "<driver>@<config path>", and the regs unit "...:regs" #5.
    const std::vector<std::pair<std::string, std::uint32_t>> names = vm.state_units();
    PDM_FUZZ_CHECK(names.size() == unit_count, "the rig has " + std::to_string(names.size()) + " units, not 4");
    for (const auto& [name, instance] : names) {
      auto is = [&n = name](std::string_view prefix) { return n.compare(0, prefix.size(), prefix) == 0; };
      const bool regs = name.size() > 5 && name.compare(name.size() - 5, 5, ":regs") == 0;
      unit_index i = unit_count;
      std::uint32_t version = 0;
      if (is("FzCtl@")) {
        i = ctl_unit;
        version = ctl_driver::saved_state_version;
      } else if (is("FzQueue@") && regs) {
        i = regs_unit;
        version = regs_unit_version;
      } else if (is("FzQueue@")) {
        i = queue_unit;
        version = queue_driver::saved_state_version;
      } else if (is("FzDisk@")) {
        i = disk_unit;
        version = disk_driver::saved_state_version;
      }
      PDM_FUZZ_CHECK(i != unit_count && units[i].name.empty(), "an unexpected unit: " + name);
      units[i] = {name, instance, version};
    }
  }

  /// \brief Every unit's state now.
  [[nodiscard]] snapshot take() const {
    snapshot s;
    s.units[ctl_unit] = encode(ctl->saved());
    s.units[queue_unit] = encode(queue->saved());
    std::vector<std::byte> regs;
    pdm::state_writer w(regs);
    write_regs(w, queue->regs());
    s.units[regs_unit] = std::move(regs);
    s.units[disk_unit] = encode(disk->saved());
    return s;
  }

  pdm::vm vm;
  ctl_driver* ctl = nullptr;
  queue_driver* queue = nullptr;
  disk_driver* disk = nullptr;
  std::array<unit_id, unit_count> units;
};

}  // namespace pdm_fuzz
