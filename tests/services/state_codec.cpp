// tests/services/state_codec.cpp - the saved-state value encoding: which types are saveable
// (pdm::detail::saveable, first_unsaveable_t, state_min_size, all checked at compile time), the
// exact bytes pdm::state_writer produces for every kind (little-endian, no padding, no tags),
// round trips through pdm::state_reader of every kind with empty and extreme values (integer
// limits, NaN payloads, -0.0, infinities) and of a large nested aggregate, and the reader's
// errors: truncation at every length, bools that are neither 0 nor 1, counts beyond the bytes
// left (refused before any allocation), the sticky first failure, its message and offset.
// Single-threaded; no assertion depends on timing.
#include <pdm/services/state_codec.hpp>

#include <doctest/doctest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using pdm::errc;
using pdm::state_reader;
using pdm::state_writer;
using pdm::detail::first_unsaveable_t;
using pdm::detail::saveable;
using pdm::detail::state_min_size;
using bytes = std::vector<std::byte>;

// ---- types for the compile-time checks and the round trips ----

enum class color : std::uint8_t { red = 1, green = 2, blue = 0xFF };
enum legacy : std::int16_t { legacy_low = -2, legacy_high = 0x1234 };  // unscoped, fixed type
enum loose { loose_a, loose_b, loose_c };                              // unscoped, no fixed type
enum class yes_no : bool { no, yes };                                  // bool underneath
enum class wide : std::uint64_t { big = 0x0102030405060708ULL };

struct point {
  std::int32_t x = 0;
  std::int32_t y = 0;
  bool operator==(const point&) const = default;
};
struct empty {};
struct nested {
  point p;
  std::array<point, 2> pts{};
  std::string name;
  bool operator==(const nested&) const = default;
};
struct with_map {
  std::map<int, int> m;
};
struct middle {
  std::string s;
  with_map w;  // the map is two levels below `outer`
};
struct outer {
  int a = 0;
  middle m;
};
struct two_bad {
  int fine = 0;
  float* first = nullptr;
  std::map<int, int> second;
};
struct with_pointer {
  int* p = nullptr;
};
struct with_long_double {
  long double x = 0;
};
struct with_const {
  const int c = 0;
};
struct with_ref {
  int& r;
};
struct with_const_ref {
  const int& r;
};
struct with_volatile {
  volatile int v = 0;
};
union either {
  int i;
  float f;
};
struct with_union {
  either u;
};
struct with_unique {
  std::unique_ptr<int> p;
};
struct with_optional {
  std::optional<int> o;
};
struct with_empty_vector {
  std::vector<empty> v;
};
struct holds_empty {
  empty e;
};
class with_private {
  int hidden_ = 0;

 public:
  [[nodiscard]] int hidden() const { return hidden_; }
};

// ---- helpers ----

bytes hex(std::initializer_list<unsigned> values) {
  bytes out;
  for (unsigned v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}
bytes cat(const bytes& a, const bytes& b) {
  bytes out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}
// The 8-byte little-endian count that starts a string or a vector.
bytes count(std::uint64_t n) {
  bytes out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((n >> (8U * static_cast<unsigned>(i))) & 0xFFU));
  return out;
}

// Reserves first: appending to a vector it can prove empty makes g++ 12 at -O2 and above warn
// (-Wstringop-overflow, a false positive inside vector::insert), and this build uses -Werror.
template <class T>
bytes encode(const T& value) {
  bytes out;
  out.reserve(64);
  state_writer w(out);
  w.write(value);
  CHECK(w.size() == out.size());
  return out;
}

// Reads a T back from `data`, requiring success and that every byte was consumed.
template <class T>
T decode(const bytes& data, T into = T{}) {
  state_reader r(data);
  const pdm::status s = r.read(into);
  REQUIRE(s.has_value());
  CHECK(r.offset() == data.size());
  CHECK(r.remaining() == 0);
  CHECK(!r.code());
  return into;
}

template <class T>
T round_trip(const T& value) {
  return decode<T>(encode(value));
}

// The error a read of T from `data` fails with (requires a failure).
template <class T>
pdm::error read_failure(const bytes& data) {
  state_reader r(data);
  T value{};
  const pdm::status s = r.read(value);
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error_value().code() == r.code());
  return s.error_value();
}

template <class F>
std::uint64_t bits_of(F f) {
  if constexpr (sizeof(F) == 4) {
    return std::bit_cast<std::uint32_t>(f);
  } else {
    return std::bit_cast<std::uint64_t>(f);
  }
}

// Round-trips the limits and zero of an integer type, and checks its width in the stream.
template <class I>
void check_integer_limits() {
  for (I v : {std::numeric_limits<I>::min(), std::numeric_limits<I>::max(), I{0}, I{1}}) {
    const bytes b = encode(v);
    CHECK(b.size() == sizeof(I));
    CHECK(decode<I>(b) == v);
  }
}

// ---- compile time: what is saveable ----

static_assert(saveable<std::int8_t> && saveable<std::int16_t> && saveable<std::int32_t> && saveable<std::int64_t>);
static_assert(saveable<std::uint8_t> && saveable<std::uint16_t> && saveable<std::uint32_t> && saveable<std::uint64_t>);
static_assert(saveable<char> && saveable<signed char> && saveable<unsigned char> && saveable<wchar_t>);
static_assert(saveable<char8_t> && saveable<char16_t> && saveable<char32_t> && saveable<long long>);
static_assert(saveable<bool> && saveable<float> && saveable<double>);
static_assert(saveable<color> && saveable<legacy> && saveable<wide>);
// An enum a stream could give a value it cannot hold: no fixed underlying type, or bool.
static_assert(!saveable<loose> && !saveable<yes_no>);
static_assert(saveable<std::array<int, 4>> && saveable<std::array<std::array<std::uint8_t, 2>, 3>>);
static_assert(saveable<std::array<bool, 3>> && saveable<std::array<int, 0>>);
static_assert(saveable<point> && saveable<nested> && saveable<empty> && saveable<holds_empty>);
static_assert(saveable<std::string> && saveable<std::vector<int>> && saveable<std::vector<bool>>);
static_assert(saveable<std::vector<point>> && saveable<std::vector<nested>> && saveable<std::vector<std::string>>);
static_assert(saveable<std::array<std::string, 3>> && saveable<std::vector<std::vector<int>>>);
static_assert(saveable<std::array<empty, 2>>);  // no count, so elements of no bytes are harmless

static_assert(!saveable<long double> && !saveable<with_long_double>);
static_assert(!saveable<int*> && !saveable<const char*> && !saveable<void*> && !saveable<with_pointer>);
static_assert(!saveable<std::map<int, int>> && !saveable<with_map> && !saveable<outer>);
static_assert(!saveable<std::unique_ptr<int>> && !saveable<with_unique>);
static_assert(!saveable<std::optional<int>> && !saveable<with_optional>);
static_assert(!saveable<const int> && !saveable<with_const> && !saveable<volatile int> && !saveable<with_volatile>);
static_assert(!saveable<int&> && !saveable<const int&> && !saveable<with_const_ref> && !saveable<with_ref>);
static_assert(!saveable<either> && !saveable<with_union>);
static_assert(!saveable<std::vector<empty>> && !saveable<with_empty_vector>);
static_assert(!saveable<std::vector<holds_empty>> && !saveable<std::vector<std::array<int, 0>>>);
static_assert(!saveable<with_private> && !saveable<std::pair<int, int>> && !saveable<std::wstring>);
static_assert(!saveable<std::vector<int*>> && !saveable<std::array<long double, 2>>);

// first_unsaveable_t names the offending type, depth-first; void when all is well.
static_assert(std::is_void_v<first_unsaveable_t<nested>> && std::is_void_v<first_unsaveable_t<std::vector<bool>>>);
static_assert(std::is_same_v<first_unsaveable_t<long double>, long double>);
static_assert(std::is_same_v<first_unsaveable_t<outer>, std::map<int, int>>);
static_assert(std::is_same_v<first_unsaveable_t<std::vector<outer>>, std::map<int, int>>);
static_assert(std::is_same_v<first_unsaveable_t<two_bad>, float*>);
// A const (or reference) member makes the struct unassignable: the struct itself is named.
static_assert(std::is_same_v<first_unsaveable_t<with_const>, with_const>);
static_assert(std::is_same_v<first_unsaveable_t<with_union>, either>);
static_assert(std::is_same_v<first_unsaveable_t<std::array<int*, 3>>, int*>);
static_assert(std::is_same_v<first_unsaveable_t<with_empty_vector>, std::vector<empty>>);
static_assert(std::is_same_v<first_unsaveable_t<std::array<std::optional<int>, 1>>, std::optional<int>>);

// The fewest bytes in a stream.
static_assert(state_min_size<std::uint8_t>() == 1 && state_min_size<std::int16_t>() == 2);
static_assert(state_min_size<std::uint32_t>() == 4 && state_min_size<std::int64_t>() == 8);
static_assert(state_min_size<bool>() == 1 && state_min_size<float>() == 4 && state_min_size<double>() == 8);
static_assert(state_min_size<color>() == 1 && state_min_size<legacy>() == 2 && state_min_size<wide>() == 8);
static_assert(state_min_size<std::array<std::uint16_t, 3>>() == 6 && state_min_size<std::array<bool, 5>>() == 5);
static_assert(state_min_size<std::string>() == 8 && state_min_size<std::vector<point>>() == 8);
static_assert(state_min_size<std::array<std::string, 2>>() == 16);
static_assert(state_min_size<point>() == 8 && state_min_size<nested>() == 8 + 16 + 8);
static_assert(state_min_size<empty>() == 0 && state_min_size<holds_empty>() == 0);
static_assert(state_min_size<std::array<int, 0>>() == 0);

}  // namespace

TEST_CASE("saveable and first_unsaveable_t agree at run time as well") {
  CHECK(saveable<nested>);
  CHECK_FALSE(saveable<outer>);
  CHECK(std::is_same_v<first_unsaveable_t<outer>, std::map<int, int>>);
  CHECK(state_min_size<nested>() == 32);
}

TEST_CASE("integers are written in their own width, little-endian") {
  CHECK(encode(std::uint32_t{0x11223344}) == hex({0x44, 0x33, 0x22, 0x11}));
  CHECK(encode(std::int16_t{-2}) == hex({0xFE, 0xFF}));
  CHECK(encode(std::uint8_t{0xAB}) == hex({0xAB}));
  CHECK(encode(std::int8_t{-128}) == hex({0x80}));
  CHECK(encode(std::uint16_t{0x0102}) == hex({0x02, 0x01}));
  CHECK(encode(std::int64_t{-1}) == hex({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}));
  CHECK(encode(std::numeric_limits<std::int64_t>::min()) == hex({0, 0, 0, 0, 0, 0, 0, 0x80}));
  CHECK(encode(std::uint64_t{0x0102030405060708}) == hex({8, 7, 6, 5, 4, 3, 2, 1}));
  CHECK(encode(char16_t{0x20AC}) == hex({0xAC, 0x20}));
}

TEST_CASE("bool is one byte, 0 or 1") {
  CHECK(encode(false) == hex({0x00}));
  CHECK(encode(true) == hex({0x01}));
}

TEST_CASE("float and double are their IEEE bits, little-endian") {
  CHECK(encode(1.0f) == hex({0x00, 0x00, 0x80, 0x3F}));
  CHECK(encode(1.0) == hex({0, 0, 0, 0, 0, 0, 0xF0, 0x3F}));
  CHECK(encode(-0.0) == hex({0, 0, 0, 0, 0, 0, 0, 0x80}));
  CHECK(encode(-2.5) == hex({0, 0, 0, 0, 0, 0, 0x04, 0xC0}));
  CHECK(encode(std::numeric_limits<double>::infinity()) == hex({0, 0, 0, 0, 0, 0, 0xF0, 0x7F}));
}

TEST_CASE("enumerations are their underlying integer") {
  CHECK(encode(color::blue) == hex({0xFF}));
  CHECK(encode(color::green) == hex({0x02}));
  CHECK(encode(legacy_low) == hex({0xFE, 0xFF}));
  CHECK(encode(legacy_high) == hex({0x34, 0x12}));
  CHECK(encode(wide::big) == hex({8, 7, 6, 5, 4, 3, 2, 1}));
}

TEST_CASE("strings and vectors are an 8-byte count then their elements; std::array has no count") {
  CHECK(encode(std::string("ab")) == cat(count(2), hex({'a', 'b'})));
  CHECK(encode(std::string()) == count(0));
  CHECK(encode(std::vector<std::uint16_t>{1, 2}) == cat(count(2), hex({0x01, 0x00, 0x02, 0x00})));
  CHECK(encode(std::vector<std::uint16_t>{}) == count(0));
  CHECK(encode(std::vector<bool>{true, false, true}) == cat(count(3), hex({1, 0, 1})));
  CHECK(encode(std::array<std::uint16_t, 2>{0x0102, 0x0304}) == hex({0x02, 0x01, 0x04, 0x03}));
  CHECK(encode(std::array<bool, 2>{false, true}) == hex({0, 1}));
  CHECK(encode(std::vector<color>{color::red, color::blue}) == cat(count(2), hex({0x01, 0xFF})));
  CHECK(encode(std::vector<std::string>{"x", ""}) == cat(cat(count(2), cat(count(1), hex({'x'}))), count(0)));
  CHECK(encode(std::array<std::string, 2>{"a", "bc"}) ==
        cat(cat(count(1), hex({'a'})), cat(count(2), hex({'b', 'c'}))));
  CHECK(encode(std::vector<point>{{1, 2}, {-1, 0x100}}) ==
        cat(count(2), hex({1, 0, 0, 0, 2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x01, 0, 0})));
  CHECK(encode(std::array<int, 0>{}).empty());
  CHECK(encode(empty{}).empty());
}

namespace {
struct record {
  std::uint8_t a = 0;
  std::uint32_t b = 0;
  bool c = false;
  std::string d;
  std::int16_t e = 0;
  bool operator==(const record&) const = default;
};
}  // namespace

TEST_CASE("an aggregate is its fields in declaration order, with no padding") {
  const record r{0x11, 0xAABBCCDD, true, "hi", -2};
  const bytes expected =
      cat(cat(hex({0x11, 0xDD, 0xCC, 0xBB, 0xAA, 0x01}), cat(count(2), hex({'h', 'i'}))), hex({0xFE, 0xFF}));
  CHECK(encode(r) == expected);
  CHECK(encode(nested{{1, 2}, {point{3, 4}, point{5, 6}}, ""}) ==
        cat(hex({1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0}), count(0)));
}

TEST_CASE("the writer appends to what the vector held, and counts only what it wrote") {
  bytes out = hex({0xEE, 0xEE});
  state_writer w(out);
  CHECK(w.size() == 0);
  w.write(std::uint16_t{0x0102});
  w.write_bytes(hex({9, 8, 7}));
  w.write(true);
  CHECK(w.size() == 6);
  CHECK(out == hex({0xEE, 0xEE, 0x02, 0x01, 9, 8, 7, 1}));
}

TEST_CASE("integers of every width round-trip at their limits") {
  check_integer_limits<std::int8_t>();
  check_integer_limits<std::uint8_t>();
  check_integer_limits<std::int16_t>();
  check_integer_limits<std::uint16_t>();
  check_integer_limits<std::int32_t>();
  check_integer_limits<std::uint32_t>();
  check_integer_limits<std::int64_t>();
  check_integer_limits<std::uint64_t>();
  check_integer_limits<char>();
  check_integer_limits<wchar_t>();
  check_integer_limits<char32_t>();
}

TEST_CASE("bools and enumerations round-trip") {
  CHECK(round_trip(true) == true);
  CHECK(round_trip(false) == false);
  CHECK(round_trip(color::blue) == color::blue);
  CHECK(round_trip(color::red) == color::red);
  CHECK(round_trip(legacy_low) == legacy_low);
  CHECK(round_trip(wide::big) == wide::big);
  // An enumeration with a fixed type holds every value of that type, named or not.
  CHECK(decode<color>(hex({0x07})) == static_cast<color>(7));
}

TEST_CASE("floats and doubles round-trip bit for bit: NaN payloads, -0.0, infinities, denormals") {
  const std::uint64_t double_bits[] = {
      0x7FF8000000000123ULL,  // a quiet NaN with a payload
      0xFFF8000000000001ULL,  // a negative quiet NaN
      0x7FF0000000000001ULL,  // a signalling NaN
      0x8000000000000000ULL,  // -0.0
      0x7FF0000000000000ULL,  // +inf
      0xFFF0000000000000ULL,  // -inf
      0x0000000000000001ULL,  // the smallest denormal
      0x7FEFFFFFFFFFFFFFULL,  // the largest finite
  };
  for (const std::uint64_t b : double_bits) {
    CAPTURE(b);
    const double d = std::bit_cast<double>(b);
    CHECK(bits_of(round_trip(d)) == b);
  }
  const std::uint32_t float_bits[] = {0x7FC00042U, 0x7F800001U, 0x80000000U, 0x7F800000U, 0xFF800000U, 0x00000001U};
  for (const std::uint32_t b : float_bits) {
    CAPTURE(b);
    const float f = std::bit_cast<float>(b);
    CHECK(bits_of(round_trip(f)) == b);
  }
  CHECK(std::signbit(round_trip(-0.0)));
  CHECK(round_trip(std::numeric_limits<double>::lowest()) == std::numeric_limits<double>::lowest());
  CHECK(round_trip(std::numeric_limits<float>::max()) == std::numeric_limits<float>::max());
}

TEST_CASE("strings, vectors and arrays round-trip, empty ones included") {
  CHECK(round_trip(std::string()).empty());
  CHECK(round_trip(std::string("hello")) == "hello");
  CHECK(round_trip(std::string("a\0b\xff", 4)) == std::string("a\0b\xff", 4));
  const std::string long_string(5000, 'z');
  CHECK(round_trip(long_string) == long_string);
  CHECK(round_trip(std::vector<int>{}).empty());
  CHECK(round_trip(std::vector<bool>{}).empty());
  CHECK(round_trip(std::vector<std::string>{}).empty());
  CHECK(round_trip(std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 0, -1}) ==
        std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 0, -1});
  std::vector<bool> flags;
  for (int i = 0; i < 77; ++i) flags.push_back(i % 3 == 0);
  CHECK(round_trip(flags) == flags);
  CHECK(round_trip(std::vector<point>{{1, 2}, {3, 4}}) == std::vector<point>{{1, 2}, {3, 4}});
  CHECK(round_trip(std::array<std::string, 3>{"", "x", "yz"}) == std::array<std::string, 3>{"", "x", "yz"});
  CHECK(round_trip(std::vector<std::vector<int>>{{}, {1}, {2, 3}}) == std::vector<std::vector<int>>{{}, {1}, {2, 3}});
  CHECK(round_trip(std::array<bool, 3>{true, false, true}) == std::array<bool, 3>{true, false, true});
  CHECK(round_trip(std::vector<color>{color::blue, color::red}) == std::vector<color>{color::blue, color::red});
  CHECK(round_trip(std::vector<double>{-0.0, 1.5}) == std::vector<double>{-0.0, 1.5});
}

TEST_CASE("reading a string or a vector replaces what it held") {
  CHECK(decode<std::vector<int>>(encode(std::vector<int>{7, 8}), {1, 2, 3, 4, 5}) == std::vector<int>{7, 8});
  CHECK(decode<std::vector<int>>(encode(std::vector<int>{}), {1, 2}).empty());
  CHECK(decode<std::string>(encode(std::string("ab")), "previous") == "ab");
  CHECK(decode<std::vector<bool>>(encode(std::vector<bool>{true}), {false, false}) == std::vector<bool>{true});
}

namespace {
struct inner {
  std::vector<color> colors;
  std::array<std::int16_t, 3> triple{};
  std::vector<bool> flags;
  bool operator==(const inner&) const = default;
};
struct big {
  std::uint8_t u8 = 0;
  std::int8_t i8 = 0;
  std::uint16_t u16 = 0;
  std::int16_t i16 = 0;
  std::uint32_t u32 = 0;
  std::int32_t i32 = 0;
  std::uint64_t u64 = 0;
  std::int64_t i64 = 0;
  bool flag = false;
  float f = 0;
  double d = 0;
  color c = color::red;
  legacy l = legacy_low;
  std::array<point, 2> corners{};
  std::string name;
  std::vector<std::string> tags;
  std::vector<point> path;
  std::vector<std::vector<std::int32_t>> grid;
  // (No std::array of strings here: g++ 12 crashes in Boost.PFR on an aggregate holding one.)
  inner in;
  std::vector<inner> more;
  empty nothing;
  std::string last;
  bool operator==(const big& o) const {
    // Compares the doubles by bits, so NaN and -0.0 must come back exactly.
    return u8 == o.u8 && i8 == o.i8 && u16 == o.u16 && i16 == o.i16 && u32 == o.u32 && i32 == o.i32 && u64 == o.u64 &&
           i64 == o.i64 && flag == o.flag && bits_of(f) == bits_of(o.f) && bits_of(d) == bits_of(o.d) && c == o.c &&
           l == o.l && corners == o.corners && name == o.name && tags == o.tags && path == o.path && grid == o.grid &&
           in == o.in && more == o.more && last == o.last;
  }
};

big sample_big() {
  big b;
  b.u8 = 0xFF;
  b.i8 = -128;
  b.u16 = 0xFFFF;
  b.i16 = -32768;
  b.u32 = 0xFFFFFFFFU;
  b.i32 = std::numeric_limits<std::int32_t>::min();
  b.u64 = std::numeric_limits<std::uint64_t>::max();
  b.i64 = std::numeric_limits<std::int64_t>::min();
  b.flag = true;
  b.f = std::bit_cast<float>(0x7FC01234U);
  b.d = -0.0;
  b.c = color::blue;
  b.l = legacy_high;
  b.corners = {point{-1, 1}, point{std::numeric_limits<std::int32_t>::max(), 0}};
  b.name = "unit name";
  b.tags = {"", "a", "bcd"};
  b.path = {{1, 2}, {3, 4}, {5, 6}};
  b.grid = {{}, {1}, {2, 3, 4}};
  b.in = inner{{color::green}, {1, -1, 2}, {true, false}};
  b.more = {inner{}, inner{{color::red, color::blue}, {7, 8, 9}, {false}}};
  b.last = "end";
  return b;
}
}  // namespace

TEST_CASE("a large nested aggregate round-trips, and so does its default (empty) value") {
  const big b = sample_big();
  const bytes encoded = encode(b);
  // The fixed fields, then each variable field's count and elements.
  const std::size_t fixed = 1 + 1 + 2 + 2 + 4 + 4 + 8 + 8 + 1 + 4 + 8 + 1 + 2 + 16;
  const std::size_t variable = (8 + 9) + (8 + 8 + 8 + 1 + 8 + 3) + (8 + 24) + (8 + 8 + (8 + 4) + (8 + 12)) +
                               (8 + 1 + 6 + 8 + 2) + (8 + (8 + 6 + 8) + (8 + 2 + 6 + 8 + 1)) + (8 + 3);
  CHECK(encoded.size() == fixed + variable);
  CHECK(decode<big>(encoded) == b);
  CHECK(round_trip(big{}) == big{});
  CHECK(encode(big{}).size() == state_min_size<big>());
}

TEST_CASE("truncating a fixed-size encoding anywhere is stream_truncated at the value it cuts") {
  struct fixed {
    std::uint32_t a;
    std::array<std::uint16_t, 3> b;
    bool c;
    double d;
  };
  const bytes full = encode(fixed{0x01020304, {5, 6, 7}, true, 2.0});
  REQUIRE(full.size() == 4 + 6 + 1 + 8);
  for (std::size_t n = 0; n < full.size(); ++n) {
    CAPTURE(n);
    const bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    state_reader r(cut);
    fixed value{};
    const pdm::status s = r.read(value);
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error_value() == errc::stream_truncated);
    // The array is read in one piece, so its cut is reported at its start.
    const std::size_t at = n < 4 ? 0 : n < 10 ? 4 : n < 11 ? 10 : 11;
    CHECK(s.error_value().detail().find("at byte " + std::to_string(at) + " of the unit's " + std::to_string(n)) !=
          std::string::npos);
    CHECK(r.offset() == at);
    CHECK(r.offset() <= n);
  }
}

TEST_CASE("a cut inside a count is stream_truncated; a cut after it leaves a count too large") {
  struct with_string {
    std::uint32_t a;
    std::string s;
    std::uint16_t b;
  };
  const bytes full = encode(with_string{1, "hello", 2});
  REQUIRE(full.size() == 4 + 8 + 5 + 2);
  for (std::size_t n = 0; n < full.size(); ++n) {
    CAPTURE(n);
    const bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    state_reader r(cut);
    with_string value{};
    const pdm::status s = r.read(value);
    REQUIRE_FALSE(s.has_value());
    if (n < 4) {
      CHECK(s.error_value() == errc::stream_truncated);
      CHECK(r.offset() == 0);
    } else if (n < 12) {
      CHECK(s.error_value() == errc::stream_truncated);
      CHECK(r.offset() == 4);
    } else if (n < 17) {
      CHECK(s.error_value() == errc::stream_too_large);
      CHECK(r.offset() == 4);  // the count's own position
    } else {
      CHECK(s.error_value() == errc::stream_truncated);
      CHECK(r.offset() == 17);
    }
  }
}

TEST_CASE("every truncation of the large aggregate fails cleanly") {
  const bytes full = encode(sample_big());
  for (std::size_t n = 0; n < full.size(); ++n) {
    CAPTURE(n);
    // A copy of exactly n bytes, so ASan sees any read past the end.
    const bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    state_reader r(cut);
    big value;
    const pdm::status s = r.read(value);
    REQUIRE_FALSE(s.has_value());
    const std::error_code code = s.error_value().code();
    CHECK((code == errc::stream_truncated || code == errc::stream_too_large));
    CHECK(r.offset() <= n);
    CHECK(r.remaining() == n - r.offset());
  }
}

TEST_CASE("a bool byte other than 0 or 1 is stream_corrupted, wherever the bool is") {
  for (unsigned b : {2U, 0x80U, 0xFFU}) {
    CAPTURE(b);
    const pdm::error e = read_failure<bool>(hex({b}));
    CHECK(e == errc::stream_corrupted);
    CHECK(e.detail().find("at byte 0 of the unit's 1") != std::string::npos);
  }
  CHECK(read_failure<std::vector<bool>>(cat(count(3), hex({1, 0, 2}))) == errc::stream_corrupted);
  CHECK(read_failure<std::array<bool, 2>>(hex({1, 3})) == errc::stream_corrupted);
  bytes rec = encode(record{1, 2, true, "", 3});
  rec[5] = std::byte{2};  // record::c
  const pdm::error e = read_failure<record>(rec);
  CHECK(e == errc::stream_corrupted);
  CHECK(e.detail().find("at byte 5 of") != std::string::npos);
}

TEST_CASE("a count larger than the bytes left is stream_too_large, before any allocation") {
  const std::uint64_t huge = std::uint64_t{1} << 62U;
  // Were these allocated, ASan (and the allocator) would fail the test with bad_alloc.
  CHECK(read_failure<std::string>(count(huge)) == errc::stream_too_large);
  CHECK(read_failure<std::vector<std::uint8_t>>(count(huge)) == errc::stream_too_large);
  CHECK(read_failure<std::vector<std::uint64_t>>(cat(count(huge), bytes(64))) == errc::stream_too_large);
  CHECK(read_failure<std::vector<bool>>(count(huge)) == errc::stream_too_large);
  CHECK(read_failure<std::vector<std::string>>(count(huge)) == errc::stream_too_large);
  CHECK(read_failure<std::vector<point>>(count(~std::uint64_t{0})) == errc::stream_too_large);
  CHECK(read_failure<std::vector<std::vector<int>>>(cat(count(1), count(huge))) == errc::stream_too_large);

  // The bound is the element's smallest size: 3 uint32s fit in 12 bytes, 4 do not.
  CHECK(decode<std::vector<std::uint32_t>>(cat(count(3), bytes(12))) == std::vector<std::uint32_t>(3));
  CHECK(read_failure<std::vector<std::uint32_t>>(cat(count(4), bytes(12))) == errc::stream_too_large);
  // Two strings need at least 16 bytes (their counts); 15 is too few, 16 are two empty strings.
  CHECK(read_failure<std::vector<std::string>>(cat(count(2), bytes(15))) == errc::stream_too_large);
  CHECK(decode<std::vector<std::string>>(cat(count(2), bytes(16))) == std::vector<std::string>{"", ""});
  // A point is 8 bytes: 20 bytes hold 2 of them, not 3.
  CHECK(read_failure<std::vector<point>>(cat(count(3), bytes(20))) == errc::stream_too_large);
  CHECK(decode<std::vector<point>>(cat(count(2), bytes(16))) == std::vector<point>(2));
  // A count that passes the bound can still have elements that do not fit.
  CHECK(read_failure<std::vector<std::string>>(cat(count(2), cat(count(9), bytes(8)))) == errc::stream_too_large);
  CHECK(read_failure<std::vector<point>>(cat(count(1), bytes(7))) == errc::stream_too_large);

  // The error is reported at the count's own position.
  const pdm::error e = read_failure<record>(cat(hex({1, 2, 3, 4, 5, 0}), cat(count(huge), hex({'a'}))));
  CHECK(e == errc::stream_too_large);
  CHECK(e.detail().find("at byte 6 of the unit's 15") != std::string::npos);
  CHECK(e.detail().find("count") != std::string::npos);
}

TEST_CASE("the first failure sticks: later reads return it and do not move") {
  const bytes data = hex({0x01, 0x02, 0x09, 0x03, 0x04, 0x05, 0x06});
  state_reader r(data);
  std::uint16_t first = 0;
  CHECK(r.read(first).has_value());
  CHECK(first == 0x0201);
  CHECK(!r.code());
  CHECK(r.failure().code() == std::error_code());

  bool b = false;
  const pdm::status s = r.read(b);  // 0x09 is not a bool
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error_value() == errc::stream_corrupted);
  CHECK(r.code() == errc::stream_corrupted);
  CHECK(r.offset() == 2);
  CHECK(r.remaining() == 5);
  const std::string message = s.error_value().message();
  CHECK(message.find("at byte 2 of the unit's 7") != std::string::npos);
  CHECK(message.find("bool") != std::string::npos);

  // Four bytes are there, but the reader does nothing more.
  std::uint32_t later = 0xDEADBEEF;
  const pdm::status again = r.read(later);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error_value() == errc::stream_corrupted);
  CHECK(again.error_value().message() == message);
  CHECK(later == 0xDEADBEEF);
  CHECK(r.offset() == 2);

  std::array<std::byte, 1> raw{std::byte{0x55}};
  const pdm::status raw_status = r.read_bytes(raw);
  REQUIRE_FALSE(raw_status.has_value());
  CHECK(raw_status.error_value() == errc::stream_corrupted);
  CHECK(raw[0] == std::byte{0x55});
  CHECK(r.offset() == 2);
  CHECK(r.failure().message() == message);
}

TEST_CASE("a truncation stays the error even after a read that would fit") {
  const bytes data = hex({0x01, 0x02, 0x03});
  state_reader r(data);
  std::uint32_t too_big = 0;
  CHECK(r.read(too_big).error_value() == errc::stream_truncated);
  std::uint8_t small = 0;
  const pdm::status s = r.read(small);
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error_value() == errc::stream_truncated);
  CHECK(small == 0);
  CHECK(r.offset() == 0);
  CHECK(r.failure().detail().find("at byte 0 of the unit's 3") != std::string::npos);
}

TEST_CASE("version() is the version the reader was given") {
  const bytes data;
  CHECK(state_reader(data).version() == 0);
  CHECK(state_reader(data, 7).version() == 7);
  CHECK(state_reader(data, 0xFFFFFFFFU).version() == 0xFFFFFFFFU);
}

TEST_CASE("read_bytes copies exactly the bytes asked for, and fails when fewer are left") {
  const bytes data = hex({1, 2, 3, 4, 5});
  state_reader r(data);
  std::array<std::byte, 2> two{};
  CHECK(r.read_bytes(two).has_value());
  CHECK(two[0] == std::byte{1});
  CHECK(two[1] == std::byte{2});
  CHECK(r.read_bytes(std::span<std::byte>(two.data(), 0)).has_value());
  CHECK(r.offset() == 2);
  std::array<std::byte, 4> four{};
  const pdm::status s = r.read_bytes(four);
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error_value() == errc::stream_truncated);
  CHECK(four == std::array<std::byte, 4>{});
  CHECK(r.offset() == 2);
  CHECK(s.error_value().detail().find("at byte 2 of the unit's 5") != std::string::npos);

  state_reader whole(data);
  std::array<std::byte, 5> all{};
  CHECK(whole.read_bytes(all).has_value());
  CHECK(whole.remaining() == 0);
  CHECK(bytes(all.begin(), all.end()) == data);
}

TEST_CASE("values written one after another read back in order") {
  bytes out;
  out.reserve(64);  // see encode()
  state_writer w(out);
  w.write(std::uint8_t{9});
  w.write(std::string("mid"));
  w.write(std::vector<point>{{7, 8}});
  w.write_bytes(hex({0xAA, 0xBB}));
  w.write(color::green);

  state_reader r(out, 3);
  std::uint8_t a = 0;
  std::string b;
  std::vector<point> c;
  std::array<std::byte, 2> d{};
  color e = color::red;
  CHECK(r.read(a).has_value());
  CHECK(r.read(b).has_value());
  CHECK(r.read(c).has_value());
  CHECK(r.read_bytes(d).has_value());
  CHECK(r.read(e).has_value());
  CHECK(a == 9);
  CHECK(b == "mid");
  CHECK(c == std::vector<point>{{7, 8}});
  CHECK(d[1] == std::byte{0xBB});
  CHECK(e == color::green);
  CHECK(r.remaining() == 0);
  std::uint8_t past = 0;
  CHECK(r.read(past).error_value() == errc::stream_truncated);
}
