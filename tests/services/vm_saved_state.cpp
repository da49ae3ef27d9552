// tests/services/vm_saved_state.cpp - a VM's automatic saved-state units (one per driver instance
// with a saved_state, "<driver>@<config path>", instance 0) through vm::save_state and
// vm::load_state: round trips of states with every kind of field (integers of several widths,
// bool, float, double, scoped enums, std::array, nested aggregates, std::string, std::vector of
// aggregates) in a three-driver chain on one LUN plus a driver on another LUN, into the same VM
// after a detach and a new attach, into a fresh VM built from the same config, and through a file;
// versions (a unit newer than its driver, an older one with and without load_older_state, an
// error from load_older_state); loads that change nothing when any unit is bad (a flipped bit,
// trailing bytes, a short unit, a bool of 2, a hand-registered unit's failing load hook, a unit
// above max_unit_size); the missing and unknown unit policies;
// and files (the same bytes as in memory, a failed save over an existing file, a missing or
// truncated file). Errors name the driver, its instance and its config path. The VMs run on the
// test's thread; files are unique names under std::filesystem::temp_directory_path(), removed
// afterwards. No timing.
#include <doctest/doctest.h>
#include <unistd.h>

#include <pdm/pdm.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "services/service_rig.hpp"

namespace {

using bytes = std::vector<std::byte>;
using pdm::errc;

// --- Drivers --------------------------------------------------------------------------------------

/// What the device needs from the top driver, and what every driver offers.
struct cell {
  static constexpr std::string_view interface_id = "vs.cell/1";
};

/// A string usable as a template argument (driver names).
template <std::size_t N>
struct fixed_name {
  char chars[N]{};
  constexpr fixed_name(const char (&s)[N]) noexcept {  // NOLINT(google-explicit-constructor)
    for (std::size_t i = 0; i < N; ++i) chars[i] = s[i];
  }
  [[nodiscard]] constexpr std::string_view view() const noexcept { return {chars, N - 1}; }
};

/// Attaches what is configured below, if anything.
void attach_below(pdm::driver_context& ctx) {
  pdm::result<pdm::driver_ref> below = ctx.attach();
  if (!below && below.error_value() != errc::no_attached_driver) ctx.fail(below.error_value());
}

enum class mode : std::uint8_t { idle, busy, broken = 0xFE };
enum class wide : std::int64_t { low = std::numeric_limits<std::int64_t>::min(), mid = 0, high = 7 };

struct point {
  std::int16_t x = 0;
  std::int16_t y = 0;
  bool visible = false;
  friend bool operator==(const point&, const point&) = default;
};
struct entry {
  std::uint32_t id = 0;
  std::string label;
  std::array<std::uint8_t, 3> rgb{};
  std::vector<std::int16_t> samples;
  point where;
  friend bool operator==(const entry&, const entry&) = default;
};

/// The top driver's state: a field of every kind.
struct head_state {
  std::uint8_t u8 = 0;
  std::int8_t i8 = 0;
  std::uint16_t u16 = 0;
  std::int16_t i16 = 0;
  std::uint32_t u32 = 0;
  std::int32_t i32 = 0;
  std::uint64_t u64 = 0;
  std::int64_t i64 = 0;
  bool flag = false;
  double ratio = 0;
  float gain = 0;
  mode m = mode::idle;
  wide w = wide::mid;
  std::array<std::uint16_t, 4> regs{};
  point origin;
  std::string name;
  std::vector<entry> entries;
  std::vector<bool> bits;
  friend bool operator==(const head_state&, const head_state&) = default;
};
struct middle_state {
  std::vector<std::uint8_t> buffer;
  std::string path;
  std::uint32_t crc = 0;
  std::array<point, 2> corners{};
  friend bool operator==(const middle_state&, const middle_state&) = default;
};
struct tail_state {
  std::uint64_t sectors = 0;
  std::vector<std::string> names;
  std::array<std::int32_t, 3> geometry{};
  mode m = mode::idle;
  friend bool operator==(const tail_state&, const tail_state&) = default;
};

/// A driver that keeps a `State` and attaches what is configured below it.
template <fixed_name Name, class State>
class holder final : public cell {
 public:
  static constexpr pdm::driver_traits traits{
      .name = Name.view(), .description = "Keeps a saved state", .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<cell>;
  using saved_state = State;
  static constexpr std::uint32_t saved_state_version = 1;

  explicit holder(pdm::driver_context& ctx) : ctx_(ctx) { attach_below(ctx); }
  saved_state& saved() { return state_; }
  void on_detach_below(pdm::attach_flags /*flags*/) {}

  pdm::driver_context& ctx_;

 private:
  saved_state state_{};
};
using head_driver = holder<"Head", head_state>;
using middle_driver = holder<"Middle", middle_state>;
using tail_driver = holder<"Tail", tail_state>;

/// "Counter": version 1 keeps a count; versions 2 and 3 add a label and a total, and load a
/// version 1 unit through load_older_state, which notes each version it is given.
struct counter_v1 {
  std::uint32_t count = 0;
  friend bool operator==(const counter_v1&, const counter_v1&) = default;
};
struct counter_v2 {
  std::uint32_t count = 0;
  std::string label;
  std::uint64_t total = 0;
  friend bool operator==(const counter_v2&, const counter_v2&) = default;
};
template <std::uint32_t Version>
class counter final : public cell {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Counter", .description = "Counts, in three layouts", .class_mask = pdm::driver_class::status};
  using provides = pdm::interface_list<cell>;
  using saved_state = std::conditional_t<Version == 1, counter_v1, counter_v2>;
  static constexpr std::uint32_t saved_state_version = Version;

  explicit counter(pdm::driver_context& /*ctx*/) {}
  saved_state& saved() { return state_; }
  pdm::status load_older_state(pdm::state_reader& in, saved_state& out) requires(Version > 1) {
    seen.push_back(in.version());
    if (in.version() != 1) return pdm::error(errc::invalid_value, "no layout " + std::to_string(in.version()));
    counter_v1 old;
    if (pdm::status s = in.read(old); !s) return s;
    if (old.count == UINT32_MAX) return pdm::error(errc::invalid_value, "a version 1 count out of range");
    out.count = old.count;
    out.label = "from v1";
    out.total = std::uint64_t{old.count} * 10;
    return pdm::ok();
  }

  std::vector<std::uint32_t> seen;  // the versions load_older_state was given

 private:
  saved_state state_{};
};

/// "Strict": versions 1 and 2, no load_older_state.
template <std::uint32_t Version>
class strict final : public cell {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Strict", .description = "Loads its own version only", .class_mask = pdm::driver_class::status};
  using provides = pdm::interface_list<cell>;
  struct saved_state {
    std::uint32_t a = 0;
    std::uint32_t b = 0;
    friend bool operator==(const saved_state&, const saved_state&) = default;
  };
  static constexpr std::uint32_t saved_state_version = Version;
  explicit strict(pdm::driver_context& /*ctx*/) {}
  saved_state& saved() { return state_; }

 private:
  saved_state state_{};
};

/// "Sidecar": an automatic unit and a hand-registered unit "extra", whose hooks fail on request.
struct side_state {
  std::uint32_t value = 0;
  std::string note;
  friend bool operator==(const side_state&, const side_state&) = default;
};
class sidecar final : public cell {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Sidecar", .description = "Saves a hand-registered unit too", .class_mask = pdm::driver_class::status};
  using provides = pdm::interface_list<cell>;
  using saved_state = side_state;
  static constexpr std::uint32_t saved_state_version = 1;

  explicit sidecar(pdm::driver_context& ctx) {
    pdm::state_unit_hooks h;
    h.save = [this](pdm::state_writer& out) -> pdm::status {
      if (fail_save) return pdm::error(errc::invalid_value, "extra refuses to save");
      out.write(extra);
      return pdm::ok();
    };
    h.load = [this](pdm::state_reader& in) -> pdm::status {
      ++loads;
      if (fail_load) return pdm::error(errc::invalid_value, "extra refuses to load");
      std::uint32_t v = 0;
      if (pdm::status s = in.read(v); !s) return s;
      extra = v;
      return pdm::ok();
    };
    pdm::result<pdm::state_unit> u = ctx.register_state_unit("extra", 0, 1, std::move(h));
    if (!u) ctx.fail(u.error_value());
  }
  saved_state& saved() { return state_; }

  std::uint32_t extra = 0;  // the hand-registered unit's data
  int loads = 0;            // calls of its load hook
  bool fail_save = false;
  bool fail_load = false;

 private:
  saved_state state_{};
};

/// The drivers of "today" (Counter 2 with load_older_state, Strict 2) and of an older build.
pdm::registry registry_of(int build) {
  pdm::registry r;
  pdm::status s =
      build == 1 ? r.add(pdm::driver_list<head_driver, middle_driver, tail_driver, counter<1>, strict<1>, sidecar>{})
                 : r.add(pdm::driver_list<head_driver, middle_driver, tail_driver, counter<2>, strict<2>, sidecar>{});
  if (!s) throw std::logic_error("the drivers do not register: " + s.error_value().message());
  return r;
}

// --- The bench: a VM on this thread with device "dev" #0, LUNs 0 to 3 -----------------------------

/// LUN#0: Head, Middle, Tail; LUN#1: Counter.
constexpr std::string_view two_luns = R"({"Devices": {"dev": {"0": {
  "LUN#0": {"Driver": "Head", "AttachedDriver": {"Driver": "Middle", "AttachedDriver": {"Driver": "Tail"}}},
  "LUN#1": {"Driver": "Counter"}}}}})";
/// LUN#0 only.
constexpr std::string_view one_lun = R"({"Devices": {"dev": {"0": {
  "LUN#0": {"Driver": "Head", "AttachedDriver": {"Driver": "Middle", "AttachedDriver": {"Driver": "Tail"}}}}}}})";
/// LUN#0, LUN#1, and Strict on LUN#2.
constexpr std::string_view with_strict = R"({"Devices": {"dev": {"0": {
  "LUN#0": {"Driver": "Head", "AttachedDriver": {"Driver": "Middle", "AttachedDriver": {"Driver": "Tail"}}},
  "LUN#1": {"Driver": "Counter"}, "LUN#2": {"Driver": "Strict"}}}}})";
/// LUN#0 and Sidecar on LUN#3.
constexpr std::string_view with_sidecar = R"({"Devices": {"dev": {"0": {
  "LUN#0": {"Driver": "Head", "AttachedDriver": {"Driver": "Middle", "AttachedDriver": {"Driver": "Tail"}}},
  "LUN#3": {"Driver": "Sidecar"}}}}})";

pdm::config_tree config_of(std::string_view json) {
  pdm::result<pdm::config_tree> t = pdm::load_json(json);
  REQUIRE_MESSAGE(t.has_value(), (t ? std::string() : t.error_value().message()));
  return std::move(t).value();
}

pdm::vm_options quiet_on_this_thread() {
  pdm::vm_options o;
  o.emt = pdm::emt_mode::current_thread;
  o.report = [](const pdm::vm_report& /*r*/) {};
  return o;
}

struct bench {
  explicit bench(std::string_view json, int build = 2)
      : vm(registry_of(build), config_of(json), quiet_on_this_thread()) {
    pdm::device_spec d{.name = "dev", .instance = 0};
    for (std::uint32_t n : {0U, 1U, 2U, 3U})
      d.luns.push_back(pdm::lun_spec{.number = n, .needs = pdm::interfaces<cell>()});
    d.hooks.on_attach = [](std::uint32_t, pdm::attach_flags) { return pdm::ok(); };
    d.hooks.on_detach = [](std::uint32_t, pdm::attach_flags) {};
    REQUIRE(vm.add_device(std::move(d)));
    REQUIRE(vm.attach_all());
  }

  /// The instance of `driver` on `lun`.
  template <class D>
  D& get(std::uint32_t lun, std::string_view driver) {
    pdm::result<pdm::driver_ref> r = vm.driver_on_lun("dev", 0, lun, driver);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error_value().message()));
    return *static_cast<D*>(r->get());
  }
  head_state& head() { return get<head_driver>(0, "Head").saved(); }
  middle_state& middle() { return get<middle_driver>(0, "Middle").saved(); }
  tail_state& tail() { return get<tail_driver>(0, "Tail").saved(); }

  pdm::vm vm;
};

// --- States ---------------------------------------------------------------------------------------

head_state head_sample(int seed) {
  const auto s = static_cast<std::uint8_t>(seed);
  head_state h;
  h.u8 = static_cast<std::uint8_t>(0xF0U + s);
  h.i8 = static_cast<std::int8_t>(-120 + seed);
  h.u16 = static_cast<std::uint16_t>(0xFFF0U + s);
  h.i16 = static_cast<std::int16_t>(-32000 - seed);
  h.u32 = 0xDEADBEEFU + s;
  h.i32 = -2'000'000'000 + seed;
  h.u64 = std::numeric_limits<std::uint64_t>::max() - s;
  h.i64 = std::numeric_limits<std::int64_t>::min() + seed;
  h.flag = seed % 2 == 1;
  h.ratio = 3.141592653589793 * seed;
  h.gain = -0.25F * static_cast<float>(seed);
  h.m = seed % 2 == 1 ? mode::broken : mode::busy;
  h.w = seed % 2 == 1 ? wide::low : wide::high;
  h.regs = {static_cast<std::uint16_t>(seed), 0xFFFF, 0x1234, 0};
  h.origin = {static_cast<std::int16_t>(-seed), 32767, true};
  h.name = "head #" + std::to_string(seed) + " \xC3\xA9t\xC3\xA9";  // UTF-8, and any bytes would do
  for (int i = 0; i < seed + 1; ++i) {
    entry e;
    e.id = static_cast<std::uint32_t>(100 * seed + i);
    e.label = std::string(static_cast<std::size_t>(i) * 3, static_cast<char>('a' + i));
    e.rgb = {static_cast<std::uint8_t>(i), 0x80, 0xFF};
    e.samples.assign(static_cast<std::size_t>(i), static_cast<std::int16_t>(-i));
    e.where = {static_cast<std::int16_t>(i), static_cast<std::int16_t>(-i), i % 2 == 0};
    h.entries.push_back(std::move(e));
  }
  h.bits = {true, false, seed % 2 == 1, true};
  return h;
}
middle_state middle_sample(int seed) {
  middle_state m;
  m.buffer.assign(static_cast<std::size_t>(seed) * 5, static_cast<std::uint8_t>(seed));
  m.buffer.push_back(0);
  m.path = "/images/disk" + std::to_string(seed) + ".img";
  m.crc = 0x12345678U ^ static_cast<std::uint32_t>(seed);
  m.corners = {point{1, 2, true}, point{static_cast<std::int16_t>(seed), -4, false}};
  return m;
}
tail_state tail_sample(int seed) {
  tail_state t;
  t.sectors = std::uint64_t{1} << (32 + seed);
  t.names = {"alpha", std::string(), "g" + std::to_string(seed)};
  t.geometry = {seed, -seed, 255};
  t.m = mode::busy;
  return t;
}

/// The states of the chain on LUN#0 and of Counter on LUN#1 (Counter version 2).
struct two_lun_states {
  head_state h;
  middle_state m;
  tail_state t;
  counter_v2 c;
};
void set_states(bench& b, int seed) {
  b.head() = head_sample(seed);
  b.middle() = middle_sample(seed);
  b.tail() = tail_sample(seed);
  b.get<counter<2>>(1, "Counter").saved() = counter_v2{static_cast<std::uint32_t>(seed), "c", 7};
}
two_lun_states states_of(bench& b) { return {b.head(), b.middle(), b.tail(), b.get<counter<2>>(1, "Counter").saved()}; }
void check_states(bench& b, const two_lun_states& want) {
  CHECK(b.head() == want.h);
  CHECK(b.middle() == want.m);
  CHECK(b.tail() == want.t);
  CHECK(b.get<counter<2>>(1, "Counter").saved() == want.c);
}

// --- Streams taken apart and put together again --------------------------------------------------

struct unit_copy {
  std::string name;
  std::uint32_t instance = 0;
  std::uint32_t version = 0;
  bytes data;
  std::size_t data_at = 0;  // where the data starts in the stream
};
std::vector<unit_copy> units_of(const bytes& stream) {
  pdm::state_stream_reader r{std::span<const std::byte>(stream)};
  REQUIRE(r.open());
  std::vector<unit_copy> out;
  for (;;) {
    pdm::result<std::optional<pdm::state_unit_record>> next = r.next();
    REQUIRE(next.has_value());
    if (!*next) return out;
    const pdm::state_unit_record& rec = **next;
    out.push_back({rec.name, rec.instance, rec.version, bytes(rec.data.begin(), rec.data.end()),
                   static_cast<std::size_t>(r.offset()) - 4 - rec.data.size()});
  }
}
bytes stream_of(const std::vector<unit_copy>& units) {
  bytes out;
  pdm::state_stream_writer w(out);
  REQUIRE(w.begin());
  for (const unit_copy& u : units) {
    pdm::result<bytes*> data = w.begin_unit(u.name, u.instance, u.version);
    REQUIRE(data.has_value());
    pdm::state_writer(**data).write_bytes(u.data);
    REQUIRE(w.end_unit());
  }
  REQUIRE(w.finish());
  return out;
}
std::vector<std::string> names_of(const std::vector<unit_copy>& units) {
  std::vector<std::string> out;
  for (const unit_copy& u : units) out.push_back(u.name);
  return out;
}

/// A unique file under the temporary directory, removed (with "<path>.partial") afterwards.
class temp_file {
 public:
  explicit temp_file(std::string_view tag) {
    static int serial = 0;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables): unique names
    path_ = (std::filesystem::temp_directory_path() / ("pdm-vm-saved-state-" + std::to_string(::getpid()) + "-" +
                                                       std::to_string(++serial) + "-" + std::string(tag) + ".sav"))
                .string();
    remove();
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  temp_file(temp_file&&) = delete;
  temp_file& operator=(temp_file&&) = delete;
  ~temp_file() { remove(); }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] pdm::state_file file() const { return pdm::state_file{path_}; }

 private:
  void remove() const {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    std::filesystem::remove(path_ + ".partial", ec);
  }
  std::string path_;
};
bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  bytes out;
  for (std::istreambuf_iterator<char> i(f), end; i != end; ++i) out.push_back(static_cast<std::byte>(*i));
  return out;
}
void write_file(const std::string& path, const bytes& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(f.good());
}

const std::string lun0 = "Devices/dev/0/LUN#0";
const std::string lun1 = "Devices/dev/0/LUN#1";
const std::string lun2 = "Devices/dev/0/LUN#2";
const std::string lun0_1 = lun0 + "/AttachedDriver";
const std::string lun0_2 = lun0_1 + "/AttachedDriver";

// --- Round trips ----------------------------------------------------------------------------------

TEST_CASE("each driver with a saved_state has one unit, <driver>@<config path> #0, in attach order") {
  bench b(two_luns);
  using unit = std::pair<std::string, std::uint32_t>;
  const std::vector<unit> want{
      {"Head@" + lun0, 0}, {"Middle@" + lun0_1, 0}, {"Tail@" + lun0_2, 0}, {"Counter@" + lun1, 0}};
  CHECK(b.vm.state_units() == want);

  bytes stream;
  REQUIRE(b.vm.save_state(stream));
  const std::vector<unit_copy> units = units_of(stream);
  CHECK(names_of(units) == std::vector<std::string>{want[0].first, want[1].first, want[2].first, want[3].first});
  for (const unit_copy& u : units) {
    CAPTURE(u.name);
    CHECK(u.instance == 0);
    CHECK(u.version == (u.name.rfind("Counter", 0) == 0 ? 2U : 1U));
  }
  // The data is the saved_state's encoding and nothing else.
  b.tail() = tail_sample(3);
  stream.clear();
  REQUIRE(b.vm.save_state(stream));
  bytes want_tail;
  pdm::state_writer(want_tail).write(tail_sample(3));
  CHECK(units_of(stream)[2].data == want_tail);
  CHECK(stream_of(units_of(stream)) == stream);  // the helpers take it apart and rebuild it exactly
}

TEST_CASE("every driver of two chains gets its state back after a detach and a new attach of the same config") {
  bench b(two_luns);
  set_states(b, 1);
  const two_lun_states saved = states_of(b);
  bytes stream;
  REQUIRE(b.vm.save_state(stream));
  check_states(b, saved);  // saving changes nothing

  REQUIRE(b.vm.detach("dev", 0, 0));
  REQUIRE(b.vm.detach("dev", 0, 1));
  CHECK(b.vm.state_units().empty());
  REQUIRE(b.vm.attach_all());
  CHECK(b.vm.state_units().size() == 4);
  CHECK(b.get<head_driver>(0, "Head").ctx_.instance() == 1);  // new instances, the same unit names
  CHECK(b.head() == head_state{});
  CHECK(b.tail() == tail_state{});

  REQUIRE(b.vm.load_state(stream));
  check_states(b, saved);
  // And again: a load replaces whatever the drivers hold.
  set_states(b, 2);
  REQUIRE(b.vm.load_state(stream));
  check_states(b, saved);
}

TEST_CASE("a stream loads into a fresh VM built from the same config") {
  bytes stream;
  two_lun_states saved;
  {
    bench first(two_luns);
    set_states(first, 3);
    saved = states_of(first);
    REQUIRE(first.vm.save_state(stream));
  }
  bench second(two_luns);
  CHECK(second.head() == head_state{});
  REQUIRE(second.vm.load_state(stream));
  check_states(second, saved);
  // Saving the loaded VM gives the same stream.
  bytes again;
  REQUIRE(second.vm.save_state(again));
  CHECK(again == stream);
}

TEST_CASE(
    "a stream saved to a file loads from it, in the same VM and in a fresh one; the bytes are the memory stream's") {
  temp_file file("round-trip");
  bench b(two_luns);
  set_states(b, 4);
  const two_lun_states saved = states_of(b);
  REQUIRE(b.vm.save_state(file.file()));
  bytes memory;
  REQUIRE(b.vm.save_state(memory));
  CHECK(read_file(file.path()) == memory);
  CHECK_FALSE(std::filesystem::exists(file.path() + ".partial"));

  set_states(b, 5);
  REQUIRE(b.vm.load_state(file.file()));
  check_states(b, saved);

  bench fresh(two_luns);
  REQUIRE(fresh.vm.load_state(file.file()));
  check_states(fresh, saved);
}

TEST_CASE("save_state appends to what the vector holds; load_state reads a stream alone") {
  bench b(two_luns);
  set_states(b, 1);
  const two_lun_states saved = states_of(b);
  bytes alone;
  REQUIRE(b.vm.save_state(alone));
  bytes prefixed{std::byte{1}, std::byte{2}, std::byte{3}};
  REQUIRE(b.vm.save_state(prefixed));
  REQUIRE(prefixed.size() == alone.size() + 3);
  CHECK(bytes(prefixed.begin() + 3, prefixed.end()) == alone);
  set_states(b, 2);
  REQUIRE(b.vm.load_state(std::span<const std::byte>(prefixed).subspan(3)));
  check_states(b, saved);
}

// --- Versions -------------------------------------------------------------------------------------

TEST_CASE("a unit newer than its driver is unit_version_too_new, naming the driver, and changes nothing anywhere") {
  bytes stream;
  {
    bench newer(two_luns, 2);
    set_states(newer, 1);
    REQUIRE(newer.vm.save_state(stream));
  }
  bench older(two_luns, 1);
  REQUIRE(older.vm.detach("dev", 0, 1));  // Counter #1, so that the instance number shows
  REQUIRE(older.vm.attach("dev", 0, 1));
  older.head() = head_sample(7);
  older.middle() = middle_sample(7);
  older.tail() = tail_sample(7);
  older.get<counter<1>>(1, "Counter").saved().count = 77;

  const pdm::status s = older.vm.load_state(stream);
  REQUIRE_FALSE(s);
  const pdm::error& e = s.error_value();
  CHECK(e == errc::unit_version_too_new);
  CHECK(e.driver_name() == "Counter");
  CHECK(e.instance() == 1);
  CHECK(e.config_path() == lun1);
  CAPTURE(e.message());
  CHECK(e.message().find("driver 'Counter' #1 at '" + lun1 + "'") != std::string::npos);
  CHECK(e.message().find("Counter@" + lun1) != std::string::npos);
  CHECK(e.detail().find("version 2") != std::string::npos);
  CHECK(e.detail().find("version 1") != std::string::npos);
  // Head, Middle and Tail come before Counter in the stream: they are untouched too.
  CHECK(older.head() == head_sample(7));
  CHECK(older.middle() == middle_sample(7));
  CHECK(older.tail() == tail_sample(7));
  CHECK(older.get<counter<1>>(1, "Counter").saved() == counter_v1{77});
}

TEST_CASE("an older unit goes through load_older_state, which sees its version; the result lands in saved()") {
  bytes stream;
  {
    bench older(two_luns, 1);
    older.head() = head_sample(2);
    older.middle() = middle_sample(2);
    older.tail() = tail_sample(2);
    older.get<counter<1>>(1, "Counter").saved().count = 42;
    REQUIRE(older.vm.save_state(stream));
  }
  bench b(two_luns, 2);
  set_states(b, 5);
  counter<2>& c = b.get<counter<2>>(1, "Counter");
  REQUIRE(b.vm.load_state(stream));
  CHECK(c.seen == std::vector<std::uint32_t>{1});
  CHECK(c.saved() == counter_v2{42, "from v1", 420});
  CHECK(b.head() == head_sample(2));  // the other units, at their own version, load as usual
  CHECK(b.tail() == tail_sample(2));

  // Saved again, the unit has the driver's version and loads without the hook.
  bytes now;
  REQUIRE(b.vm.save_state(now));
  CHECK(units_of(now)[3].version == 2);
  c.saved() = {};
  REQUIRE(b.vm.load_state(now));
  CHECK(c.seen == std::vector<std::uint32_t>{1});
  CHECK(c.saved() == counter_v2{42, "from v1", 420});
}

TEST_CASE("an older unit of a driver without load_older_state is unit_version_too_old, and nothing changes") {
  bytes stream;
  {
    bench older(with_strict, 1);
    older.get<counter<1>>(1, "Counter").saved().count = 3;
    older.get<strict<1>>(2, "Strict").saved() = {1, 2};
    older.head() = head_sample(1);
    REQUIRE(older.vm.save_state(stream));
  }
  bench b(with_strict, 2);
  b.head() = head_sample(6);
  b.get<counter<2>>(1, "Counter").saved() = counter_v2{9, "mine", 90};
  b.get<strict<2>>(2, "Strict").saved() = {5, 6};

  const pdm::status s = b.vm.load_state(stream);
  REQUIRE_FALSE(s);
  const pdm::error& e = s.error_value();
  CHECK(e == errc::unit_version_too_old);
  CHECK(e.driver_name() == "Strict");
  CHECK(e.instance() == 0);
  CHECK(e.config_path() == lun2);
  CAPTURE(e.message());
  CHECK(e.message().find("Strict@" + lun2) != std::string::npos);
  CHECK(e.message().find("load_older_state") != std::string::npos);
  // Counter's older unit came first and went through its hook, but nothing was committed.
  CHECK(b.get<counter<2>>(1, "Counter").seen == std::vector<std::uint32_t>{1});
  CHECK(b.get<counter<2>>(1, "Counter").saved() == counter_v2{9, "mine", 90});
  CHECK(b.get<strict<2>>(2, "Strict").saved() == strict<2>::saved_state{5, 6});
  CHECK(b.head() == head_sample(6));
}

TEST_CASE("an error from load_older_state fails the load, naming the driver, and changes nothing") {
  bytes forged;
  {
    bench older(two_luns, 1);
    older.head() = head_sample(1);
    older.middle() = middle_sample(1);
    older.tail() = tail_sample(1);
    older.get<counter<1>>(1, "Counter").saved().count = UINT32_MAX;  // a value the hook refuses
    REQUIRE(older.vm.save_state(forged));
  }
  REQUIRE(units_of(forged)[3].name == "Counter@" + lun1);

  bench b(two_luns, 2);
  set_states(b, 2);
  const pdm::status s = b.vm.load_state(forged);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == errc::invalid_value);
  CHECK(s.error_value().driver_name() == "Counter");
  CHECK(s.error_value().config_path() == lun1);
  CHECK(s.error_value().message().find("count out of range") != std::string::npos);
  CHECK(b.get<counter<2>>(1, "Counter").seen == std::vector<std::uint32_t>{1});
  check_states(b, two_lun_states{head_sample(2), middle_sample(2), tail_sample(2), counter_v2{2, "c", 7}});
}

// --- All or nothing -------------------------------------------------------------------------------

TEST_CASE("a flipped bit in the second unit's data is stream_corrupted, and the first unit's driver is unchanged too") {
  bench b(two_luns);
  set_states(b, 1);
  bytes stream;
  REQUIRE(b.vm.save_state(stream));
  const std::vector<unit_copy> units = units_of(stream);
  REQUIRE(units.size() == 4);
  REQUIRE_FALSE(units[1].data.empty());

  set_states(b, 2);
  const two_lun_states now = states_of(b);
  for (const std::size_t at : {units[1].data_at, units[1].data_at + units[1].data.size() - 1}) {
    CAPTURE(at);
    bytes bad = stream;
    bad[at] ^= std::byte{0x10};
    const pdm::status s = b.vm.load_state(bad);
    REQUIRE_FALSE(s);
    CHECK(s.error_value() == errc::stream_corrupted);
    CHECK(s.error_value().message().find("Middle@" + lun0_1) != std::string::npos);
    check_states(b, now);
  }
}

TEST_CASE("bytes after the saved state inside an automatic unit are stream_corrupted, naming the driver") {
  bench b(two_luns);
  set_states(b, 1);
  bytes stream;
  REQUIRE(b.vm.save_state(stream));
  std::vector<unit_copy> units = units_of(stream);
  units[1].data.push_back(std::byte{0});  // Middle's unit: its state, then one byte more
  const bytes bad = stream_of(units);

  set_states(b, 2);
  const two_lun_states now = states_of(b);
  const pdm::status s = b.vm.load_state(bad);
  REQUIRE_FALSE(s);
  const pdm::error& e = s.error_value();
  CHECK(e == errc::stream_corrupted);
  CHECK(e.driver_name() == "Middle");
  CHECK(e.instance() == 0);
  CHECK(e.config_path() == lun0_1);
  CAPTURE(e.message());
  CHECK(e.message().find("1 bytes follow") != std::string::npos);
  check_states(b, now);

  // A unit one byte short is refused too.
  units = units_of(stream);
  units[2].data.pop_back();
  const pdm::status short_unit = b.vm.load_state(stream_of(units));
  REQUIRE_FALSE(short_unit);
  CHECK(short_unit.error_value() == errc::stream_truncated);
  CHECK(short_unit.error_value().driver_name() == "Tail");
  check_states(b, now);
}

TEST_CASE("an older unit that load_older_state does not read to its end is stream_corrupted; skip() reads past") {
  bytes stream;
  {
    bench older(two_luns, 1);
    older.get<counter<1>>(1, "Counter").saved().count = 7;
    REQUIRE(older.vm.save_state(stream));
  }
  std::vector<unit_copy> units = units_of(stream);
  REQUIRE(units[3].version == 1);
  units[3].data.push_back(std::byte{0x55});  // Counter's version 1 unit, and a byte it does not read
  bench b(two_luns, 2);
  set_states(b, 5);
  const two_lun_states now = states_of(b);
  const pdm::status s = b.vm.load_state(stream_of(units));
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == errc::stream_corrupted);
  CHECK(s.error_value().driver_name() == "Counter");
  CAPTURE(s.error_value().message());
  CHECK(s.error_value().message().find("1 bytes") != std::string::npos);
  check_states(b, now);

  // skip() passes over bytes a hook does not need.
  std::vector<std::byte> raw(4);
  pdm::state_reader in(raw, 1);
  CHECK(in.skip(3));
  CHECK(in.remaining() == 1);
  const pdm::status past = in.skip(2);
  REQUIRE_FALSE(past);
  CHECK(past.error_value() == errc::stream_truncated);
}

TEST_CASE("a unit with version 0, which nothing saves, is stream_corrupted before any driver code sees it") {
  bench b(two_luns, 2);
  set_states(b, 1);
  bytes stream;
  REQUIRE(b.vm.save_state(stream));
  std::vector<unit_copy> units = units_of(stream);
  units[3].version = 0;  // Counter, which has a load_older_state
  set_states(b, 2);
  const two_lun_states now = states_of(b);
  const pdm::status s = b.vm.load_state(stream_of(units));
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == errc::stream_corrupted);
  CHECK(b.get<counter<2>>(1, "Counter").seen.empty());  // load_older_state never ran
  check_states(b, now);
}

TEST_CASE("a bool that is neither 0 nor 1 in a unit, under a valid checksum, is stream_corrupted and changes nothing") {
  bench b(two_luns);
  set_states(b, 1);
  bytes stream;
  REQUIRE(b.vm.save_state(stream));
  std::vector<unit_copy> units = units_of(stream);
  // Head's `flag` follows 8 integers of 1+1+2+2+4+4+8+8 bytes.
  REQUIRE(units[0].data[30] == std::byte{1});
  units[0].data[30] = std::byte{2};
  set_states(b, 2);
  const two_lun_states now = states_of(b);
  const pdm::status s = b.vm.load_state(stream_of(units));
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == errc::stream_corrupted);
  CHECK(s.error_value().driver_name() == "Head");
  check_states(b, now);
}

TEST_CASE("a unit whose corrupted data also fails to decode is reported as a checksum mismatch") {
  // The load decodes a unit of its driver's version before it checks the unit's checksum (the
  // bytes are then in cache); a decode error on corrupted bytes must still say what happened.
  bench b(two_luns);
  set_states(b, 1);
  bytes stream;
  REQUIRE(b.vm.save_state(stream));
  const std::vector<unit_copy> units = units_of(stream);
  // Head's `flag` follows 8 integers of 1+1+2+2+4+4+8+8 bytes: 2 there is a bool that is
  // neither 0 nor 1, and the checksum no longer matches.
  REQUIRE(units[0].data[30] == std::byte{1});
  bytes bad = stream;
  bad[units[0].data_at + 30] = std::byte{2};
  set_states(b, 2);
  const two_lun_states now = states_of(b);
  const pdm::status s = b.vm.load_state(bad);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == errc::stream_corrupted);
  CHECK(s.error_value().message().find("the data's checksum does not match") != std::string::npos);
  CHECK(s.error_value().message().find("neither 0 nor 1") == std::string::npos);
  check_states(b, now);
}

TEST_CASE("a hand-registered unit whose load hook fails leaves every automatic unit uncommitted") {
  bench b(with_sidecar);
  sidecar& side = b.get<sidecar>(3, "Sidecar");
  b.head() = head_sample(1);
  b.tail() = tail_sample(1);
  side.saved() = {11, "saved"};
  side.extra = 111;
  bytes stream;
  REQUIRE(b.vm.save_state(stream));
  CHECK(names_of(units_of(stream)).back() == "Sidecar@Devices/dev/0/LUN#3:extra");

  b.head() = head_sample(2);
  b.tail() = tail_sample(2);
  side.saved() = {22, "now"};
  side.extra = 222;
  side.fail_load = true;
  const pdm::status s = b.vm.load_state(stream);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == errc::invalid_value);
  CHECK(s.error_value().driver_name() == "Sidecar");
  CHECK(s.error_value().message().find("extra refuses to load") != std::string::npos);
  CHECK(side.loads == 1);
  CHECK(b.head() == head_sample(2));
  CHECK(b.tail() == tail_sample(2));
  CHECK(side.saved() == side_state{22, "now"});  // its own automatic unit too
  CHECK(side.extra == 222);

  side.fail_load = false;
  REQUIRE(b.vm.load_state(stream));
  CHECK(b.head() == head_sample(1));
  CHECK(side.saved() == side_state{11, "saved"});
  CHECK(side.extra == 111);
}

TEST_CASE("a unit above load_options::max_unit_size is stream_too_large, and nothing changes") {
  bench b(two_luns);
  set_states(b, 1);
  bytes stream;
  REQUIRE(b.vm.save_state(stream));
  const std::vector<unit_copy> units = units_of(stream);
  std::uint64_t largest = 0;
  for (const unit_copy& u : units) largest = std::max<std::uint64_t>(largest, u.data.size());
  set_states(b, 2);
  const two_lun_states now = states_of(b);

  pdm::load_options tight;
  tight.max_unit_size = largest - 1;
  const pdm::status s = b.vm.load_state(stream, tight);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == errc::stream_too_large);
  check_states(b, now);
  tight.max_unit_size = largest;
  REQUIRE(b.vm.load_state(stream, tight));
  CHECK(b.head() == head_sample(1));
}

// --- Policies -------------------------------------------------------------------------------------

TEST_CASE(
    "missing_unit_policy::fail: a registered unit not in the stream is unit_not_found naming it; nothing changes") {
  bytes stream;
  {
    bench small(one_lun);
    small.head() = head_sample(1);
    REQUIRE(small.vm.save_state(stream));
  }
  bench b(two_luns);
  REQUIRE(b.vm.detach("dev", 0, 1));
  REQUIRE(b.vm.attach("dev", 0, 1));  // Counter #1
  set_states(b, 2);
  const two_lun_states now = states_of(b);

  const pdm::status s = b.vm.load_state(stream);
  REQUIRE_FALSE(s);
  const pdm::error& e = s.error_value();
  CHECK(e == errc::unit_not_found);
  CHECK(e.driver_name() == "Counter");
  CHECK(e.instance() == 1);
  CHECK(e.config_path() == lun1);
  CAPTURE(e.message());
  CHECK(e.message().find("'Counter@" + lun1 + "' #0") != std::string::npos);
  CHECK(e.message().find("not in the stream") != std::string::npos);
  check_states(b, now);
}

TEST_CASE("missing_unit_policy::keep: the units in the stream load; a driver without one keeps its state") {
  bytes stream;
  {
    bench small(one_lun);
    small.head() = head_sample(1);
    small.middle() = middle_sample(1);
    small.tail() = tail_sample(1);
    REQUIRE(small.vm.save_state(stream));
  }
  bench b(two_luns);
  set_states(b, 2);
  pdm::load_options keep;
  keep.missing_unit = pdm::missing_unit_policy::keep;
  REQUIRE(b.vm.load_state(stream, keep));
  check_states(b, two_lun_states{head_sample(1), middle_sample(1), tail_sample(1), counter_v2{2, "c", 7}});
}

TEST_CASE("unknown_unit_policy: a unit nothing registered is unit_not_found naming it, or skipped") {
  bytes stream;
  {
    bench big(two_luns);
    set_states(big, 1);
    REQUIRE(big.vm.save_state(stream));
  }
  bench b(one_lun);
  b.head() = head_sample(3);
  b.tail() = tail_sample(3);

  const pdm::status s = b.vm.load_state(stream);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == errc::unit_not_found);
  CAPTURE(s.error_value().message());
  CHECK(s.error_value().message().find("'Counter@" + lun1 + "' #0") != std::string::npos);
  CHECK(b.head() == head_sample(3));  // it came first in the stream, and stays as it was
  CHECK(b.tail() == tail_sample(3));

  pdm::load_options skip;
  skip.unknown_unit = pdm::unknown_unit_policy::skip;
  REQUIRE(b.vm.load_state(stream, skip));
  CHECK(b.head() == head_sample(1));
  CHECK(b.middle() == middle_sample(1));
  CHECK(b.tail() == tail_sample(1));

  // A skipped unit's checksum is still checked.
  std::vector<unit_copy> units = units_of(stream);
  bytes bad = stream;
  bad[units[3].data_at] ^= std::byte{1};
  b.head() = head_sample(3);
  const pdm::status corrupt = b.vm.load_state(bad, skip);
  REQUIRE_FALSE(corrupt);
  CHECK(corrupt.error_value() == errc::stream_corrupted);
  CHECK(b.head() == head_sample(3));
}

// --- Files ----------------------------------------------------------------------------------------

TEST_CASE("a save over an existing file that fails leaves the old file byte for byte, and no .partial") {
  temp_file file("failed-save");
  bench b(with_sidecar);
  sidecar& side = b.get<sidecar>(3, "Sidecar");
  b.head() = head_sample(1);
  side.extra = 5;
  REQUIRE(b.vm.save_state(file.file()));
  const bytes old = read_file(file.path());
  REQUIRE_FALSE(old.empty());

  b.head() = head_sample(2);
  side.fail_save = true;
  const pdm::status s = b.vm.save_state(file.file());
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == errc::invalid_value);
  CHECK(s.error_value().driver_name() == "Sidecar");
  CHECK(s.error_value().config_path() == "Devices/dev/0/LUN#3");
  CHECK(s.error_value().message().find("Sidecar@Devices/dev/0/LUN#3:extra") != std::string::npos);
  CHECK(read_file(file.path()) == old);
  CHECK_FALSE(std::filesystem::exists(file.path() + ".partial"));

  // The same for a file that does not exist yet: none is left behind.
  temp_file fresh("failed-save-fresh");
  CHECK_FALSE(b.vm.save_state(fresh.file()));
  CHECK_FALSE(std::filesystem::exists(fresh.path()));
  CHECK_FALSE(std::filesystem::exists(fresh.path() + ".partial"));

  // And the old file still loads.
  side.fail_save = false;
  REQUIRE(b.vm.load_state(file.file()));
  CHECK(b.head() == head_sample(1));
  CHECK(side.extra == 5);
}

TEST_CASE("loading a missing file is io_error naming the path; a truncated file is stream_truncated; nothing changes") {
  temp_file file("missing");
  bench b(two_luns);
  set_states(b, 1);
  const two_lun_states now = states_of(b);
  const pdm::status missing = b.vm.load_state(file.file());
  REQUIRE_FALSE(missing);
  CHECK(missing.error_value() == errc::io_error);
  CHECK(missing.error_value().message().find(file.path()) != std::string::npos);
  check_states(b, now);

  bytes stream;
  REQUIRE(b.vm.save_state(stream));
  stream.pop_back();
  write_file(file.path(), stream);
  set_states(b, 2);
  const pdm::status cut = b.vm.load_state(file.file());
  REQUIRE_FALSE(cut);
  CHECK(cut.error_value() == errc::stream_truncated);
  CHECK(cut.error_value().message().find(file.path()) != std::string::npos);
  CHECK(b.head() == head_sample(2));
}

TEST_CASE("a state_file with an empty path is refused as a file error, not read as an empty stream") {
  bench b(two_luns);
  const pdm::status s = b.vm.load_state(pdm::state_file{""});
  REQUIRE_FALSE(s);
  CAPTURE(s.error_value().message());
  CHECK(s.error_value() == errc::io_error);
  const pdm::status saved = b.vm.save_state(pdm::state_file{""});
  REQUIRE_FALSE(saved);
  CHECK(saved.error_value() == errc::io_error);
  CHECK_FALSE(std::filesystem::exists(".partial"));  // nothing written in the working directory
}

TEST_CASE("saving into a directory that does not exist is io_error, and leaves nothing") {
  temp_file dir("no-such-dir");
  bench b(two_luns);
  const std::string path = dir.path() + "/state.sav";
  const pdm::status s = b.vm.save_state(pdm::state_file{path});
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == errc::io_error);
  CHECK(s.error_value().message().find(dir.path()) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.path()));
}

}  // namespace
