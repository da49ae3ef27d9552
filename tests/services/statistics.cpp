// tests/services/statistics.cpp - the statistics registry: the three kinds and every unit, the
// naming rules and their errors, duplicates and leaf/group conflicts, prefix queries on segment
// boundaries, removal by name, prefix and owner, reset, the exact text and JSON dumps, the RAII
// profile sample, allocation failures, and updates and registrations from several threads.
//
// This program replaces the global operator new so that one allocation can be made to fail
// (see "allocation failures"); unarmed, it is malloc and free. TSan's runtime defines operator new
// itself, so under TSan neither the replacement nor that test is compiled. Written to run clean
// under TSan; no assertion depends on timing.
#include <doctest/doctest.h>

#include <pdm/services/statistics.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

// Whether this is a TSan build (g++ defines the first, clang++ answers the second).
#if defined(__SANITIZE_THREAD__)
#define PDM_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PDM_TEST_TSAN 1
#endif
#endif

#if !defined(PDM_TEST_TSAN)
namespace {

// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables): operator new's state is global
std::atomic<long> live_allocations{0};
std::atomic<long> countdown{-1};  // -1: not armed; otherwise allocations left before one fails
// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)

bool should_fail() noexcept {
  long left = countdown.load();
  while (left >= 0) {
    if (countdown.compare_exchange_weak(left, left - 1)) return left == 0;
  }
  return false;
}

void* allocate(std::size_t size, std::size_t alignment) noexcept {
  if (should_fail()) return nullptr;
  if (size == 0) size = 1;
  void* p = nullptr;
  if (alignment <= alignof(std::max_align_t)) {
    p = std::malloc(size);  // NOLINT(cppcoreguidelines-no-malloc): this is operator new
  } else if (posix_memalign(&p, alignment, size) != 0) {
    p = nullptr;
  }
  if (p != nullptr) ++live_allocations;
  return p;
}
// Not inlined: g++ would see operator new's pointer reach free() and warn (mismatched-new-delete).
[[gnu::noinline]] void release(void* p) noexcept {
  if (p == nullptr) return;
  --live_allocations;
  std::free(p);  // NOLINT(cppcoreguidelines-no-malloc): this is operator delete
}

}  // namespace

void* operator new(std::size_t size) {
  if (void* p = allocate(size, 0)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* p = allocate(size, 0)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t a) {
  if (void* p = allocate(size, static_cast<std::size_t>(a))) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t a) {
  if (void* p = allocate(size, static_cast<std::size_t>(a))) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return allocate(size, 0); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return allocate(size, 0); }
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(size, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
#endif

namespace {

using pdm::errc;
using pdm::stat_kind;
using pdm::stat_unit;

constexpr stat_unit all_units[] = {
    stat_unit::none,  stat_unit::count,       stat_unit::bytes, stat_unit::bytes_per_second,
    stat_unit::calls, stat_unit::occurrences, stat_unit::pages, stat_unit::ticks,
    stat_unit::ns,    stat_unit::us,          stat_unit::ms,    stat_unit::percent};

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

std::vector<std::string> names_of(const std::vector<pdm::stat_sample>& samples) {
  std::vector<std::string> out;
  out.reserve(samples.size());
  for (const pdm::stat_sample& s : samples) out.push_back(s.name);
  return out;
}

// Registers a counter that must be accepted; returns it.
pdm::stat_counter& counter(pdm::statistics& stats, std::string name, const void* owner = nullptr) {
  pdm::result<pdm::stat_counter*> r = stats.add_counter(std::move(name), stat_unit::count, "test counter", owner);
  REQUIRE(r.has_value());
  return **r;
}

// The error of a registration that must fail.
template <class T>
pdm::error failure(pdm::result<T> r) {
  REQUIRE_FALSE(r.has_value());
  return std::move(r).error_value();
}

}  // namespace

TEST_CASE("units and kinds have distinct names") {
  std::set<std::string_view> seen;
  for (stat_unit u : all_units) {
    const std::string_view s = pdm::to_string(u);
    CHECK_FALSE(s.empty());
    CHECK(s != "unknown");
    CHECK(seen.insert(s).second);
  }
  CHECK(seen.size() == std::size(all_units));
  CHECK(pdm::to_string(stat_unit::none) == "none");
  CHECK(pdm::to_string(stat_unit::bytes_per_second) == "bytes_per_second");
  CHECK(pdm::to_string(stat_unit::ns) == "ns");
  CHECK(pdm::to_string(stat_unit::percent) == "percent");
  CHECK(pdm::to_string(stat_kind::counter) == "counter");
  CHECK(pdm::to_string(stat_kind::profile) == "profile");
  CHECK(pdm::to_string(stat_kind::value) == "value");
  static_assert(pdm::to_string(stat_unit::pages) == "pages");  // usable at compile time
}

TEST_CASE("stat_counter counts and resets") {
  pdm::stat_counter c;
  CHECK(c.get() == 0);
  c.add();
  ++c;
  c += 5;
  c.add(10);
  CHECK(c.get() == 17);
  CHECK(&++c == &c);
  CHECK(c.get() == 18);
  c.reset();
  CHECK(c.get() == 0);
  c.add(std::numeric_limits<std::uint64_t>::max());
  c.add(2);  // wraps
  CHECK(c.get() == 1);
}

TEST_CASE("stat_value is signed and moves both ways") {
  pdm::stat_value v;
  CHECK(v.get() == 0);
  v.set(-7);
  CHECK(v.get() == -7);
  v.add(10);
  CHECK(v.get() == 3);
  v.add(-5);
  CHECK(v.get() == -2);
  v.set(std::numeric_limits<std::int64_t>::min());
  CHECK(v.get() == std::numeric_limits<std::int64_t>::min());
  v.reset();
  CHECK(v.get() == 0);
}

TEST_CASE("stat_profile keeps count, total, min, max and average") {
  pdm::stat_profile p;
  CHECK(p.values() == pdm::stat_profile_values{});
  CHECK(p.min() == 0);  // no samples: 0, not the internal sentinel
  CHECK(p.average() == 0);

  p.add(10);
  p.add(30);
  p.add(20);
  CHECK(p.count() == 3);
  CHECK(p.total() == 60);
  CHECK(p.min() == 10);
  CHECK(p.max() == 30);
  CHECK(p.average() == 20);
  p.add(1);
  CHECK(p.average() == 15);  // 61 / 4, rounded down
  CHECK(p.min() == 1);
  CHECK(p.values() == pdm::stat_profile_values{4, 61, 1, 30});

  p.reset();
  CHECK(p.values() == pdm::stat_profile_values{});
  p.add(0);  // a zero sample is a sample
  CHECK(p.values() == pdm::stat_profile_values{1, 0, 0, 0});
  p.add(std::numeric_limits<std::uint64_t>::max());
  CHECK(p.max() == std::numeric_limits<std::uint64_t>::max());
  CHECK(p.min() == 0);
}

TEST_CASE("stat_profile::sample adds one measurement when it ends") {
  pdm::stat_profile p;
  SUBCASE("destruction") {
    { const auto s = p.measure(); }
    CHECK(p.count() == 1);
  }
  SUBCASE("stop adds once") {
    auto s = p.measure();
    s.stop();
    CHECK(p.count() == 1);
    s.stop();
    CHECK(p.count() == 1);
  }
  SUBCASE("cancel adds nothing") {
    {
      auto s = p.measure();
      s.cancel();
    }
    CHECK(p.count() == 0);
  }
  SUBCASE("a moved-from sample adds nothing") {
    {
      auto s = p.measure();
      const pdm::stat_profile::sample moved(std::move(s));
    }
    CHECK(p.count() == 1);
  }
  SUBCASE("constructed directly") {
    { const pdm::stat_profile::sample s(p); }
    CHECK(p.count() == 1);
  }
  // One sample: whatever its duration, it is the total, the smallest and the largest.
  if (p.count() == 1) {
    CHECK(p.total() == p.min());
    CHECK(p.total() == p.max());
    CHECK(p.average() == p.total());
  }
}

TEST_CASE("the registry holds each kind, with its unit and description") {
  pdm::statistics stats;
  CHECK(stats.size() == 0);

  pdm::result<pdm::stat_counter*> c = stats.add_counter("/Drivers/Cache-0/Hits", stat_unit::count, "Cache hits");
  pdm::result<pdm::stat_profile*> p = stats.add_profile("/Drivers/Cache-0/Read", stat_unit::ns, "Time per read");
  pdm::result<pdm::stat_value*> v = stats.add_value("/Drivers/Cache-0/Level", stat_unit::bytes, "Fill level");
  REQUIRE(c.has_value());
  REQUIRE(p.has_value());
  REQUIRE(v.has_value());
  CHECK(stats.size() == 3);

  (*c)->add(42);
  (*p)->add(5);
  (*p)->add(7);
  (*v)->set(-3);

  const std::optional<pdm::stat_sample> hits = stats.find("/Drivers/Cache-0/Hits");
  REQUIRE(hits.has_value());
  CHECK(hits->name == "/Drivers/Cache-0/Hits");
  CHECK(hits->kind == stat_kind::counter);
  CHECK(hits->unit == stat_unit::count);
  CHECK(hits->description == "Cache hits");
  CHECK(hits->counter == 42);

  const std::optional<pdm::stat_sample> read = stats.find("/Drivers/Cache-0/Read");
  REQUIRE(read.has_value());
  CHECK(read->kind == stat_kind::profile);
  CHECK(read->unit == stat_unit::ns);
  CHECK(read->profile == pdm::stat_profile_values{2, 12, 5, 7});
  CHECK(read->profile.average() == 6);

  const std::optional<pdm::stat_sample> level = stats.find("/Drivers/Cache-0/Level");
  REQUIRE(level.has_value());
  CHECK(level->kind == stat_kind::value);
  CHECK(level->unit == stat_unit::bytes);
  CHECK(level->value == -3);

  CHECK_FALSE(stats.find("/Drivers/Cache-0").has_value());  // a group is not a statistic
  CHECK_FALSE(stats.find("/Drivers/Cache-0/Nothing").has_value());
  CHECK_FALSE(stats.find("not a name").has_value());
}

TEST_CASE("every unit is kept and shown in both dumps") {
  pdm::statistics stats;
  for (stat_unit u : all_units) {
    const std::string name = "/Units/" + std::string(pdm::to_string(u));
    REQUIRE(stats.add_value(name, u, "unit test").has_value());
  }
  for (stat_unit u : all_units) {
    const std::optional<pdm::stat_sample> s = stats.find("/Units/" + std::string(pdm::to_string(u)));
    REQUIRE(s.has_value());
    CHECK(s->unit == u);
  }
  const nlohmann::json doc = nlohmann::json::parse(stats.to_json());
  REQUIRE(doc.at("statistics").size() == std::size(all_units));
  for (const nlohmann::json& s : doc.at("statistics")) {
    const auto name = s.at("name").get<std::string>();
    CHECK(name == "/Units/" + s.at("unit").get<std::string>());
  }
  const std::string text = stats.to_text();
  for (stat_unit u : all_units) {
    if (u == stat_unit::none) continue;  // shown as no unit
    CHECK(contains(text, " 0 " + std::string(pdm::to_string(u))));
  }
  CHECK_FALSE(contains(text, "0 none"));
}

TEST_CASE("pointers stay valid while other statistics come and go") {
  pdm::statistics stats;
  pdm::stat_counter& first = counter(stats, "/M/0500");
  for (int i = 0; i < 1000; ++i) {
    if (i == 500) continue;
    std::string n = std::to_string(i);
    counter(stats, "/M/" + std::string(4 - n.size(), '0') + n);
  }
  CHECK(stats.remove_prefix("/M/0499") == 1);
  CHECK(stats.size() == 999);
  first.add(9);
  const std::optional<pdm::stat_sample> s = stats.find("/M/0500");
  REQUIRE(s.has_value());
  CHECK(s->counter == 9);
}

TEST_CASE("names: valid forms") {
  pdm::statistics stats;
  const std::string longest = "/" + std::string(pdm::stat_limits::max_name_bytes - 1, 'x');
  for (const std::string& name : {std::string("/a"), std::string("/Drivers/Host Serial-0/LUN#0/Bytes.Read_1"),
                                  std::string("/ space/around /."), longest}) {
    INFO(name);
    CHECK(pdm::valid_stat_name(name));
    CHECK(stats.add_counter(name, stat_unit::none, "").has_value());
  }
  CHECK(stats.size() == 4);
  CHECK(pdm::stat_name_problem("/Drivers/A-1/x").empty());
}

TEST_CASE("names: each rule is enforced with invalid_name and a message naming the name") {
  pdm::statistics stats;
  struct bad {
    std::string name;
    std::string_view problem;  // part of the message
    std::string_view shown;    // how the message quotes the name
  };
  const std::string too_long = "/" + std::string(pdm::stat_limits::max_name_bytes, 'y');
  const bad cases[] = {
      {"", "is empty", "''"},
      {"Drivers/A-0/x", "does not start with '/'", "'Drivers/A-0/x'"},
      {"/", "names no statistic", "'/'"},
      {"/Drivers/A-0/", "ends with '/'", "'/Drivers/A-0/'"},
      {"/Drivers//x", "has an empty segment", "'/Drivers//x'"},
      {"/Drivers/A$0/x", "has a character other than", "'/Drivers/A$0/x'"},
      {"/Drivers/A-0/x\ty", "has a character other than", "'/Drivers/A-0/x\\x09y'"},
      {"/Drivers/A-0/\xc3\xbc", "has a character other than", "'/Drivers/A-0/\\xc3\\xbc'"},
      {"/quote'd\\", "has a character other than", R"('/quote\'d\\')"},
      {"/a/b:c", "has a character other than", "'/a/b:c'"},
      {too_long, "is longer than 255 bytes", "(256 bytes)"},
  };
  for (const bad& b : cases) {
    INFO(b.name);
    CHECK_FALSE(pdm::valid_stat_name(b.name));
    CHECK(contains(pdm::stat_name_problem(b.name), b.problem));
    for (int kind = 0; kind < 3; ++kind) {
      const pdm::error e = kind == 0   ? failure(stats.add_counter(b.name, stat_unit::count, "d"))
                           : kind == 1 ? failure(stats.add_profile(b.name, stat_unit::ns, "d"))
                                       : failure(stats.add_value(b.name, stat_unit::bytes, "d"));
      CHECK(e == errc::invalid_name);
      INFO(e.message());
      CHECK(contains(e.message(), "invalid name: statistic name "));
      CHECK(contains(e.message(), b.problem));
      CHECK(contains(e.message(), b.shown));
    }
  }
  CHECK(stats.size() == 0);
  // A long bad name is cut in the message.
  const pdm::error e = failure(stats.add_counter(too_long, stat_unit::count, ""));
  CHECK(e.detail().size() < 200);
  CHECK(contains(e.detail(), "'/yyyy"));
  CHECK(contains(e.detail(), "y'... (256 bytes)"));
}

TEST_CASE("descriptions: at most 1024 bytes of UTF-8 without control characters") {
  pdm::statistics stats;
  CHECK(stats.add_counter("/ok/empty", stat_unit::count, "").has_value());
  CHECK(stats.add_counter("/ok/longest", stat_unit::count, std::string(1024, 'd')).has_value());
  CHECK(stats
            .add_counter("/ok/utf8", stat_unit::count,
                         "Gr\xc3\xb6\xc3\x9f"
                         "e \xe2\x82\xac \xf0\x9f\x98\x80")
            .has_value());
  struct bad {
    std::string description;
    std::string_view problem;
  };
  const bad cases[] = {
      {std::string(1025, 'd'), "longer than 1024 bytes"},
      {"two\nlines", "control character"},
      {"tab\there", "control character"},
      {"del\x7f", "control character"},
      {"cut \xc3", "not valid UTF-8"},
      {"overlong \xc0\xaf", "not valid UTF-8"},
      {"surrogate \xed\xa0\x80", "not valid UTF-8"},
      {"too big \xf4\x90\x80\x80", "not valid UTF-8"},
      {"stray \x80", "not valid UTF-8"},
  };
  for (const bad& b : cases) {
    INFO(b.description);
    const pdm::error e = failure(stats.add_value("/bad/d", stat_unit::none, b.description));
    CHECK(e == errc::invalid_argument);
    CHECK(contains(e.message(), "statistic '/bad/d': "));
    CHECK(contains(e.message(), b.problem));
  }
  CHECK(stats.size() == 3);
}

TEST_CASE("duplicates and leaf/group conflicts are refused with statistic_exists") {
  pdm::statistics stats;
  pdm::stat_counter& c = counter(stats, "/Drivers/A-0/Hits");
  c.add(3);

  SUBCASE("the same name, any kind") {
    pdm::error e = failure(stats.add_counter("/Drivers/A-0/Hits", stat_unit::count, "again"));
    CHECK(e == errc::statistic_exists);
    CHECK(contains(e.message(), "statistic already registered: '/Drivers/A-0/Hits' is already registered"));
    e = failure(stats.add_profile("/Drivers/A-0/Hits", stat_unit::ns, ""));
    CHECK(e == errc::statistic_exists);
    e = failure(stats.add_value("/Drivers/A-0/Hits", stat_unit::none, ""));
    CHECK(e == errc::statistic_exists);
  }
  SUBCASE("a name below a statistic") {
    const pdm::error e = failure(stats.add_counter("/Drivers/A-0/Hits/Extra", stat_unit::count, ""));
    CHECK(e == errc::statistic_exists);
    CHECK(contains(e.message(), "'/Drivers/A-0/Hits/Extra' would be below the statistic '/Drivers/A-0/Hits'"));
  }
  SUBCASE("a name that is a group") {
    pdm::error e = failure(stats.add_counter("/Drivers/A-0", stat_unit::count, ""));
    CHECK(e == errc::statistic_exists);
    CHECK(contains(e.message(), "'/Drivers/A-0' is a group holding the statistic '/Drivers/A-0/Hits'"));
    e = failure(stats.add_value("/Drivers", stat_unit::count, ""));
    CHECK(e == errc::statistic_exists);
    CHECK(contains(e.message(), "'/Drivers' is a group"));
  }
  SUBCASE("names sharing a prefix off a segment boundary do not conflict") {
    counter(stats, "/Drivers/A-0/Hit");
    counter(stats, "/Drivers/A-0/Hits2");
    counter(stats, "/Drivers/A-0/Hits.x");
    counter(stats, "/Drivers/A-0/Hits x/y");
    counter(stats, "/Drivers/A-00");
    CHECK(stats.size() == 6);
  }
  // A refused registration changed nothing.
  const std::optional<pdm::stat_sample> s = stats.find("/Drivers/A-0/Hits");
  REQUIRE(s.has_value());
  CHECK(s->kind == stat_kind::counter);
  CHECK(s->description == "test counter");
  CHECK(s->counter == 3);
}

TEST_CASE("a removed name can be registered again, with any kind") {
  pdm::statistics stats;
  counter(stats, "/a/b").add(5);
  REQUIRE(stats.remove("/a/b").has_value());
  pdm::result<pdm::stat_value*> v = stats.add_value("/a/b", stat_unit::bytes, "new");
  REQUIRE(v.has_value());
  const std::optional<pdm::stat_sample> s = stats.find("/a/b");
  REQUIRE(s.has_value());
  CHECK(s->kind == stat_kind::value);
  CHECK(s->value == 0);
  // And the group can become a statistic once its statistics are gone.
  REQUIRE(stats.remove("/a/b").has_value());
  CHECK(stats.add_counter("/a", stat_unit::count, "").has_value());
}

TEST_CASE("prefixes match on segment boundaries") {
  pdm::statistics stats;
  for (const char* name : {"/Drivers/A-1/x", "/Drivers/A-1/y/z", "/Drivers/A-10/x", "/Drivers/A-1 b/x",
                           "/Drivers/A-1#/x", "/Drivers/A-1-b/x", "/Drivers/A-1.5/x", "/Drivers/A-1_/x",
                           "/Drivers/A-2/x", "/Drivers/A/x", "/Drivers0/x", "/Other/x"}) {
    counter(stats, name);
  }
  using names = std::vector<std::string>;
  const names under_a1{"/Drivers/A-1/x", "/Drivers/A-1/y/z"};
  CHECK(names_of(stats.snapshot("/Drivers/A-1")) == under_a1);
  CHECK(names_of(stats.snapshot("/Drivers/A-1/")) == under_a1);  // one trailing '/' is ignored
  CHECK(names_of(stats.snapshot("/Drivers/A-1/y")) == names{"/Drivers/A-1/y/z"});
  CHECK(names_of(stats.snapshot("/Drivers/A-1/x")) == names{"/Drivers/A-1/x"});  // a statistic selects itself
  CHECK(names_of(stats.snapshot("/Drivers/A-10")) == names{"/Drivers/A-10/x"});
  CHECK(stats.snapshot("/Drivers").size() == 10);  // not "/Drivers0/x"
  CHECK(stats.snapshot("/").size() == 12);
  CHECK(stats.snapshot("").size() == 12);
  CHECK(stats.snapshot().size() == 12);
  CHECK(stats.snapshot("/Drivers/A-").empty());  // not a segment
  CHECK(stats.snapshot("/Drivers/A-1/x/").size() == 1);
  CHECK(stats.snapshot("Drivers").empty());  // no leading '/': matches nothing
  CHECK(stats.snapshot("/Nothing").empty());
  CHECK(stats.snapshot("//").empty());
  CHECK(stats.to_text("/Nothing").empty());
  CHECK(stats.to_json("/Nothing") == "{\"statistics\": []}\n");
}

TEST_CASE("snapshots are sorted by name, byte by byte") {
  pdm::statistics stats;
  // Registered out of order: the specials first, then numbers in a scrambled order (7919 is prime).
  std::vector<std::string> names{"/S/a", "/S/A", "/S/#hash", "/S/ space"};
  names.reserve(names.size() + 200);
  for (int i = 0; i < 200; ++i) names.push_back("/S/" + std::to_string(i * 7919 % 1000) + "/v");
  for (const std::string& n : names) counter(stats, n);
  std::sort(names.begin(), names.end());
  CHECK(names_of(stats.snapshot()) == names);
  CHECK(stats.snapshot().front().name == "/S/ space");
  CHECK(stats.snapshot().back().name == "/S/a");
}

TEST_CASE("remove takes one statistic") {
  pdm::statistics stats;
  counter(stats, "/G/a");
  counter(stats, "/G/b");
  REQUIRE(stats.remove("/G/a").has_value());
  CHECK(stats.size() == 1);
  CHECK_FALSE(stats.find("/G/a").has_value());
  CHECK(stats.find("/G/b").has_value());

  pdm::status s = stats.remove("/G/a");
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error_value() == errc::value_not_found);
  CHECK(contains(s.error_value().message(), "no statistic named '/G/a'"));
  CHECK_FALSE(contains(s.error_value().message(), "group"));

  s = stats.remove("/G");
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error_value() == errc::value_not_found);
  CHECK(contains(s.error_value().message(), "'/G' (it is a group: use remove_prefix)"));

  s = stats.remove("bad\nname");
  REQUIRE_FALSE(s.has_value());
  CHECK(contains(s.error_value().message(), "'bad\\x0aname'"));
  CHECK(stats.size() == 1);
}

TEST_CASE("remove_prefix takes a subtree on segment boundaries") {
  pdm::statistics stats;
  for (const char* name : {"/Drivers/A-1/x", "/Drivers/A-1/y/z", "/Drivers/A-10/x", "/Drivers/A-1 b/x",
                           "/Drivers/A-1-b/x", "/Drivers/B-0/x"}) {
    counter(stats, name);
  }
  CHECK(stats.remove_prefix("/Drivers/A-1") == 2);
  CHECK(names_of(stats.snapshot()) ==
        std::vector<std::string>{"/Drivers/A-1 b/x", "/Drivers/A-1-b/x", "/Drivers/A-10/x", "/Drivers/B-0/x"});
  CHECK(stats.remove_prefix("/Drivers/A-1") == 0);
  CHECK(stats.remove_prefix("/Drivers/A-10/x") == 1);  // a single statistic
  CHECK(stats.remove_prefix("/Drivers/B") == 0);
  CHECK(stats.size() == 3);
  CHECK(stats.remove_prefix("/") == 3);
  CHECK(stats.size() == 0);
  CHECK(stats.snapshot().empty());
}

TEST_CASE("remove_owned takes what was registered with the owner, wherever it is") {
  pdm::statistics stats;
  const int owner_a = 0;
  const int owner_b = 0;
  for (int i = 0; i < 5; ++i) {
    counter(stats, "/A/" + std::to_string(i), &owner_a);
    counter(stats, "/B/" + std::to_string(i), &owner_b);
    counter(stats, "/Free/" + std::to_string(i));
  }
  counter(stats, "/B/elsewhere-of-a", &owner_a);
  CHECK(stats.size() == 16);

  SUBCASE("all at once") {
    CHECK(stats.remove_owned(&owner_a) == 6);
    CHECK(stats.snapshot("/A").empty());
    CHECK_FALSE(stats.find("/B/elsewhere-of-a").has_value());
    CHECK(stats.snapshot("/B").size() == 5);
    CHECK(stats.size() == 10);
  }
  SUBCASE("after some went by name and prefix (first, middle and last of the owner's chain)") {
    REQUIRE(stats.remove("/A/0").has_value());
    REQUIRE(stats.remove("/A/2").has_value());
    REQUIRE(stats.remove("/B/elsewhere-of-a").has_value());  // registered last: the chain's head
    CHECK(stats.remove_prefix("/A/4") == 1);
    CHECK(stats.remove_owned(&owner_a) == 2);
    CHECK(stats.size() == 10);
  }
  SUBCASE("after all went by prefix") {
    CHECK(stats.remove_prefix("/A") == 5);
    REQUIRE(stats.remove("/B/elsewhere-of-a").has_value());
    CHECK(stats.remove_owned(&owner_a) == 0);
    CHECK(stats.size() == 10);
  }
  // Owner b and the unowned ones are untouched; null means "no owner" and removes nothing.
  CHECK(stats.remove_owned(nullptr) == 0);
  CHECK(stats.remove_owned(&owner_a) == 0);
  CHECK(stats.snapshot("/Free").size() == 5);
  CHECK(stats.remove_owned(&owner_b) == 5);
  CHECK(names_of(stats.snapshot()) == std::vector<std::string>{"/Free/0", "/Free/1", "/Free/2", "/Free/3", "/Free/4"});
  // The owner can register again.
  counter(stats, "/A/again", &owner_a);
  CHECK(stats.remove_owned(&owner_a) == 1);
  CHECK(stats.size() == 5);
}

TEST_CASE("reset zeroes the statistics under a prefix") {
  pdm::statistics stats;
  pdm::stat_counter& c = counter(stats, "/R/a/count");
  pdm::result<pdm::stat_profile*> p = stats.add_profile("/R/a/profile", stat_unit::ns, "");
  pdm::result<pdm::stat_value*> v = stats.add_value("/R/a/value", stat_unit::none, "");
  pdm::stat_counter& other = counter(stats, "/R/ab/count");
  REQUIRE(p.has_value());
  REQUIRE(v.has_value());
  c.add(4);
  (*p)->add(9);
  (*v)->set(-9);
  other.add(8);

  stats.reset("/R/a");
  CHECK(c.get() == 0);
  CHECK((*p)->values() == pdm::stat_profile_values{});
  CHECK((*v)->get() == 0);
  CHECK(other.get() == 8);  // "/R/ab" is not under "/R/a"
  (*p)->add(3);
  CHECK((*p)->min() == 3);  // the minimum starts over too

  stats.reset();
  CHECK(other.get() == 0);
  CHECK((*p)->count() == 0);
}

TEST_CASE("text dump: exact, aligned, one line per statistic") {
  pdm::statistics stats;
  const int owner = 0;
  pdm::result<pdm::stat_counter*> hits = stats.add_counter("/Drivers/Cache-0/Hits", stat_unit::count, "Cache hits");
  pdm::result<pdm::stat_profile*> read =
      stats.add_profile("/Drivers/Cache-0/Read", stat_unit::ns, "Time per read", &owner);
  pdm::result<pdm::stat_value*> level = stats.add_value("/Drivers/Cache-0/Level", stat_unit::bytes, "Fill level");
  pdm::result<pdm::stat_value*> misc = stats.add_value("/Drivers/Cache-0/Misc", stat_unit::none, "");
  pdm::result<pdm::stat_profile*> bare = stats.add_profile("/Drivers/Cache-0/Wait", stat_unit::none, "");
  REQUIRE(hits.has_value());
  REQUIRE(read.has_value());
  REQUIRE(level.has_value());
  REQUIRE(misc.has_value());
  REQUIRE(bare.has_value());
  (*hits)->add(42);
  (*read)->add(10);
  (*read)->add(30);
  (*read)->add(20);
  (*level)->set(-5);
  (*misc)->set(7);
  (*bare)->add(1234);

  CHECK(stats.to_text() ==
        "/Drivers/Cache-0/Hits     42 count     Cache hits\n"
        "/Drivers/Cache-0/Level    -5 bytes     Fill level\n"
        "/Drivers/Cache-0/Misc      7\n"
        "/Drivers/Cache-0/Read     20 ns/call   Time per read (count 3, total 60, min 10, max 30)\n"
        "/Drivers/Cache-0/Wait   1234 per call  (count 1, total 1234, min 1234, max 1234)\n");
  CHECK(stats.to_text("/Drivers/Cache-0/Hits") == "/Drivers/Cache-0/Hits  42 count  Cache hits\n");
  CHECK(pdm::statistics().to_text().empty());
}

TEST_CASE("JSON dump: exact, parses back, escapes descriptions") {
  pdm::statistics stats;
  pdm::result<pdm::stat_counter*> hits = stats.add_counter("/Drivers/Cache-0/Hits", stat_unit::count, "Hits");
  pdm::result<pdm::stat_value*> level = stats.add_value("/Drivers/Cache-0/Level", stat_unit::bytes, "Fill");
  pdm::result<pdm::stat_profile*> read = stats.add_profile("/Drivers/Cache-0/Read", stat_unit::ns, "Reads");
  REQUIRE(hits.has_value());
  REQUIRE(level.has_value());
  REQUIRE(read.has_value());
  (*hits)->add(42);
  (*level)->set(-5);
  (*read)->add(10);
  (*read)->add(30);
  (*read)->add(20);

  const std::string json = stats.to_json();
  CHECK(json ==
        "{\"statistics\": [\n"
        "  {\"name\": \"/Drivers/Cache-0/Hits\", \"kind\": \"counter\", \"unit\": \"count\", \"description\": "
        "\"Hits\", \"value\": 42},\n"
        "  {\"name\": \"/Drivers/Cache-0/Level\", \"kind\": \"value\", \"unit\": \"bytes\", \"description\": "
        "\"Fill\", \"value\": -5},\n"
        "  {\"name\": \"/Drivers/Cache-0/Read\", \"kind\": \"profile\", \"unit\": \"ns\", \"description\": "
        "\"Reads\", \"count\": 3, \"total\": 60, \"min\": 10, \"max\": 30, \"average\": 20}\n"
        "]}\n");

  const nlohmann::json doc = nlohmann::json::parse(json);
  const nlohmann::json& list = doc.at("statistics");
  REQUIRE(list.is_array());
  REQUIRE(list.size() == 3);
  CHECK(list[0].at("name") == "/Drivers/Cache-0/Hits");
  CHECK(list[0].at("kind") == "counter");
  CHECK(list[0].at("unit") == "count");
  CHECK(list[0].at("description") == "Hits");
  CHECK(list[0].at("value").get<std::uint64_t>() == 42);
  CHECK(list[1].at("kind") == "value");
  CHECK(list[1].at("value").get<std::int64_t>() == -5);
  CHECK(list[2].at("kind") == "profile");
  CHECK(list[2].at("count").get<std::uint64_t>() == 3);
  CHECK(list[2].at("total").get<std::uint64_t>() == 60);
  CHECK(list[2].at("min").get<std::uint64_t>() == 10);
  CHECK(list[2].at("max").get<std::uint64_t>() == 30);
  CHECK(list[2].at("average").get<std::uint64_t>() == 20);
  CHECK(nlohmann::json::parse(stats.to_json("/Drivers/Cache-0/Level")).at("statistics").size() == 1);

  SUBCASE("escaping and the extremes of the numbers") {
    const std::string description = R"(say "hi" \ back\slash /slash)"
                                    " \xc3\xbc \xe2\x82\xac";
    const std::string name = "/Esc/Host Serial-0/LUN#0/a.b_c";
    pdm::result<pdm::stat_counter*> big = stats.add_counter(name, stat_unit::percent, description);
    pdm::result<pdm::stat_value*> low = stats.add_value("/Esc/low", stat_unit::none, "");
    REQUIRE(big.has_value());
    REQUIRE(low.has_value());
    (*big)->add(std::numeric_limits<std::uint64_t>::max());
    (*low)->set(std::numeric_limits<std::int64_t>::min());
    const std::string out = stats.to_json("/Esc");
    CHECK(contains(out, R"("description": "say \"hi\" \\ back\\slash /slash )"));
    const nlohmann::json esc = nlohmann::json::parse(out).at("statistics");
    REQUIRE(esc.size() == 2);
    CHECK(esc[0].at("name") == name);
    CHECK(esc[0].at("description") == description);
    CHECK(esc[0].at("unit") == "percent");
    CHECK(esc[0].at("value").get<std::uint64_t>() == std::numeric_limits<std::uint64_t>::max());
    CHECK(esc[1].at("description") == "");
    CHECK(esc[1].at("unit") == "none");
    CHECK(esc[1].at("value").get<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
  }
}

#if !defined(PDM_TEST_TSAN)
TEST_CASE("allocation failures: no_memory, and nothing changes") {
  pdm::statistics stats;
  const int owner = 0;
  counter(stats, "/Keep/a", &owner);
  const std::string name = "/Drivers/A long enough name to need the heap-0/Counter";
  const std::string description = "a description long enough to live on the heap";
  const std::string before = stats.to_json();
  bool succeeded = false;
  int failures = 0;
  for (long n = 0; n < 20 && !succeeded; ++n) {
    const long live = live_allocations.load();
    bool out_of_memory = false;
    {
      std::string name_copy = name;
      std::string description_copy = description;
      countdown.store(n);
      pdm::result<pdm::stat_counter*> r =
          stats.add_counter(std::move(name_copy), stat_unit::count, std::move(description_copy), &owner);
      countdown.store(-1);
      succeeded = r.has_value();
      out_of_memory = !succeeded && r.error_value() == errc::no_memory;
    }
    if (succeeded) break;
    ++failures;
    CHECK(out_of_memory);
    CHECK(stats.size() == 1);
    CHECK(stats.to_json() == before);
    CHECK(live_allocations.load() == live);  // nothing leaked
  }
  CHECK(succeeded);
  CHECK(failures >= 2);  // the entry and the name map's node could each fail
  CHECK(stats.size() == 2);

  // With an owner not seen before, the owner's node is one more allocation that can fail, after
  // the name is in the map: the name is taken out again.
  const int fresh_owner = 0;
  bool fresh_succeeded = false;
  for (long n = 0; n < 20 && !fresh_succeeded; ++n) {
    std::string name_copy = "/Fresh/counter";
    countdown.store(n);
    pdm::result<pdm::stat_counter*> r = stats.add_counter(std::move(name_copy), stat_unit::count, "", &fresh_owner);
    countdown.store(-1);
    if (r.has_value()) {
      fresh_succeeded = true;
    } else {
      CHECK(r.error_value() == errc::no_memory);
      CHECK_FALSE(stats.find("/Fresh/counter").has_value());
      CHECK(stats.size() == 2);
    }
  }
  CHECK(fresh_succeeded);
  CHECK(stats.remove_owned(&fresh_owner) == 1);
  CHECK(stats.remove_owned(&owner) == 2);
}

#endif

TEST_CASE("threads: one counter incremented from several threads counts every increment") {
  pdm::statistics stats;
  pdm::stat_counter& c = counter(stats, "/T/hammered");
  constexpr int thread_count = 4;
  constexpr std::uint64_t per_thread = 1000000;  // long enough for the threads to overlap
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  threads.reserve(thread_count);
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (std::uint64_t i = 0; i < per_thread; ++i) ++c;
    });
  }
  go.store(true);
  for (std::thread& t : threads) t.join();
  CHECK(c.get() == thread_count * per_thread);
}

TEST_CASE("threads: updates to one statistic from several threads add up exactly") {
  pdm::statistics stats;
  pdm::stat_counter& c = counter(stats, "/T/counter");
  pdm::result<pdm::stat_profile*> p = stats.add_profile("/T/profile", stat_unit::ns, "");
  pdm::result<pdm::stat_value*> v = stats.add_value("/T/value", stat_unit::none, "");
  REQUIRE(p.has_value());
  REQUIRE(v.has_value());
  constexpr int thread_count = 4;
  constexpr std::uint64_t per_thread = 200000;  // enough for lost updates to show if add() were not atomic
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  threads.reserve(thread_count);
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        ++c;
        c.add(2);
        (*p)->add(static_cast<std::uint64_t>(t) * per_thread + i + 1);  // 1 .. thread_count * per_thread
        (*v)->add(t % 2 == 0 ? 3 : -1);
      }
    });
  }
  std::thread reader([&] {  // snapshots while the updates run: not exact, but must be safe
    while (!go.load()) std::this_thread::yield();
    for (int i = 0; i < 50; ++i) (void)stats.to_json();
  });
  go.store(true);
  for (std::thread& t : threads) t.join();
  reader.join();

  constexpr std::uint64_t n = thread_count * per_thread;
  CHECK(c.get() == 3 * n);
  CHECK((*p)->count() == n);
  CHECK((*p)->total() == n * (n + 1) / 2);
  CHECK((*p)->min() == 1);
  CHECK((*p)->max() == n);
  CHECK((*v)->get() == static_cast<std::int64_t>(per_thread) * (2 * 3 - 2 * 1));
  const std::optional<pdm::stat_sample> s = stats.find("/T/counter");
  REQUIRE(s.has_value());
  CHECK(s->counter == 3 * n);
}

TEST_CASE("threads: registrations and removals from several threads") {
  pdm::statistics stats;
  constexpr int thread_count = 4;
  constexpr int per_thread = 300;
  int owners[thread_count] = {};
  std::atomic<bool> go{false};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  threads.reserve(thread_count);
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < per_thread; ++i) {
        if (i % 10 == 0) (void)stats.snapshot("/Drivers");
        const std::string group = "/Drivers/T-" + std::to_string(t) + "/";
        pdm::result<pdm::stat_counter*> c =
            stats.add_counter(group + std::to_string(i), stat_unit::count, "", &owners[t]);
        if (!c) {
          refused.fetch_add(1);
          continue;
        }
        (*c)->add(static_cast<std::uint64_t>(i));
        // Every thread also races for the same shared names: exactly one wins each.
        if (!stats.add_value("/Shared/" + std::to_string(i), stat_unit::none, "", &owners[t])) refused.fetch_add(1);
      }
    });
  }
  go.store(true);
  for (std::thread& t : threads) t.join();

  CHECK(refused.load() == (thread_count - 1) * per_thread);
  CHECK(stats.size() == static_cast<std::size_t>(thread_count * per_thread + per_thread));
  for (int t = 0; t < thread_count; ++t) {
    const std::vector<pdm::stat_sample> mine = stats.snapshot("/Drivers/T-" + std::to_string(t));
    REQUIRE(mine.size() == static_cast<std::size_t>(per_thread));
    std::uint64_t sum = 0;
    for (const pdm::stat_sample& s : mine) sum += s.counter;
    CHECK(sum == static_cast<std::uint64_t>(per_thread) * (per_thread - 1) / 2);
  }

  // Each owner's statistics go from its own thread, while the others still register.
  std::vector<std::thread> removers;
  removers.reserve(thread_count);
  std::atomic<std::size_t> removed{0};
  for (int t = 0; t < thread_count; ++t) {
    removers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        (void)stats.add_counter("/Late/" + std::to_string(t) + "/" + std::to_string(i), stat_unit::count, "",
                                &owners[t]);
      }
      removed.fetch_add(stats.remove_owned(&owners[t]));
    });
  }
  for (std::thread& t : removers) t.join();
  CHECK(removed.load() == static_cast<std::size_t>(thread_count * (per_thread + 50) + per_thread));
  CHECK(stats.size() == 0);
  CHECK(stats.snapshot().empty());
}
