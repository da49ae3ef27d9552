// tests/services/state_stream.cpp - the saved-state stream (pdm::state_stream_writer and
// pdm::state_stream_reader): the documented layout byte for byte (against records built by hand
// here with pdm::detail::crc32c), round trips of 0, 1 and several units through memory and through
// a file, unit names the writer refuses, abandoned units, and every kind of bad input with its
// code and a message that says where: truncation at every length, every single-bit flip, a wrong
// magic, another format, absurd and over-limit data lengths (refused before any allocation), bytes
// after the end marker, a wrong unit count, unknown records, bad name lengths and names; and file
// errors (a missing file, a missing directory, a full device). Files are unique names under
// std::filesystem::temp_directory_path(), removed afterwards. Single-threaded; no timing.
#include <pdm/services/crc32c.hpp>
#include <pdm/services/state_codec.hpp>
#include <pdm/services/state_stream.hpp>

#include <doctest/doctest.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using pdm::errc;
using bytes = std::vector<std::byte>;

// ---- building streams by hand, with correct checksums ----

void put_le(bytes& out, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::byte>((v >> (8U * i)) & 0xFFU));
}
void set_le(bytes& b, std::size_t at, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) b[at + i] = static_cast<std::byte>((v >> (8U * i)) & 0xFFU);
}
std::uint64_t get_le(const bytes& b, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = (v << 8U) | static_cast<std::uint64_t>(b[at + i]);
  return v;
}
std::uint32_t crc_of(const bytes& b, std::size_t from, std::size_t to) {
  return pdm::detail::crc32c(std::span<const std::byte>(b).subspan(from, to - from));
}
void append(bytes& out, std::string_view s) {
  for (char c : s) out.push_back(static_cast<std::byte>(c));
}
void append(bytes& out, const bytes& b) { out.insert(out.end(), b.begin(), b.end()); }

bytes forge_header(std::uint32_t format) {
  bytes out;
  append(out, "PDMSTATE");
  put_le(out, format, 4);
  put_le(out, crc_of(out, 0, 12), 4);
  return out;
}
// A unit record whose data length field says `length` (normally data.size()).
bytes forge_unit(std::string_view name, std::uint32_t instance, std::uint32_t version, const bytes& data,
                 std::uint64_t length) {
  bytes out;
  append(out, "UNIT");
  put_le(out, version, 4);
  put_le(out, instance, 4);
  put_le(out, name.size(), 2);
  append(out, name);
  put_le(out, length, 8);
  put_le(out, crc_of(out, 0, out.size()), 4);
  append(out, data);
  put_le(out, pdm::detail::crc32c(data), 4);
  return out;
}
bytes forge_end(std::uint32_t units) {
  bytes out;
  append(out, "END!");
  put_le(out, units, 4);
  put_le(out, crc_of(out, 0, 8), 4);
  return out;
}

struct unit_spec {
  std::string name;
  std::uint32_t instance = 0;
  std::uint32_t version = 0;
  bytes data;
  bool operator==(const unit_spec&) const = default;
};

bytes pattern(std::size_t n, unsigned seed) {
  bytes out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::byte>((i * 31U + seed) & 0xFFU));
  return out;
}

bytes forge_stream(const std::vector<unit_spec>& units) {
  bytes out = forge_header(1);
  for (const unit_spec& u : units) append(out, forge_unit(u.name, u.instance, u.version, u.data, u.data.size()));
  append(out, forge_end(static_cast<std::uint32_t>(units.size())));
  return out;
}

// Three units: 16 + (30 + 5 + 5) + (30 + 1 + 0) + (30 + 8 + 2) + 12 = 139 bytes; alpha's record
// starts at byte 16, b's at 56, gamma's at 87, the end marker at 127.
const std::vector<unit_spec>& sample_units() {
  static const std::vector<unit_spec> units{
      {"alpha", 1, 1, {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}}},
      {"b", 0, 2, {}},
      {"gamma-\xce\xb4", 7, 3, {std::byte{9}, std::byte{8}}},
  };
  return units;
}
constexpr std::size_t sample_size = 139;
constexpr std::size_t sample_end_at = 127;

// ---- writing and reading through the classes under test ----

void write_units(pdm::state_stream_writer& w, const std::vector<unit_spec>& units) {
  REQUIRE(w.begin().has_value());
  for (const unit_spec& u : units) {
    auto unit = w.begin_unit(u.name, u.instance, u.version);
    REQUIRE(unit.has_value());
    std::vector<std::byte>& out = *unit.value();
    out.insert(out.end(), u.data.begin(), u.data.end());
    REQUIRE(w.end_unit().has_value());
  }
  REQUIRE(w.finish().has_value());
  CHECK(w.units() == units.size());
}

bytes write_memory(const std::vector<unit_spec>& units) {
  bytes out;
  pdm::state_stream_writer w(out);
  write_units(w, units);
  CHECK(w.bytes() == out.size());
  return out;
}

struct outcome {
  std::vector<unit_spec> units;
  std::optional<pdm::error> failure;  // empty: the end marker was reached and checked
};

outcome read_all(pdm::state_stream_reader& r) {
  outcome o;
  if (pdm::status s = r.open(); !s) {
    o.failure = s.error_value();
    return o;
  }
  for (;;) {
    auto next = r.next();
    if (!next) {
      o.failure = next.error_value();
      return o;
    }
    if (!next.value()) return o;
    const pdm::state_unit_record& rec = *next.value();
    o.units.push_back({rec.name, rec.instance, rec.version, bytes(rec.data.begin(), rec.data.end())});
    REQUIRE(o.units.size() <= 1000);  // a reader that never ends would be a failure too
  }
}

outcome read_memory(const bytes& stream, std::optional<std::uint64_t> max_unit = std::nullopt) {
  pdm::state_stream_reader r{std::span<const std::byte>(stream)};
  if (max_unit) r.set_max_unit_size(*max_unit);
  outcome o = read_all(r);
  if (!o.failure) CHECK(r.offset() == stream.size());
  return o;
}

// The failure of reading `stream`, which must fail.
pdm::error memory_failure(const bytes& stream, std::optional<std::uint64_t> max_unit = std::nullopt) {
  outcome o = read_memory(stream, max_unit);
  REQUIRE(o.failure.has_value());
  return *o.failure;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// ---- files ----

// A unique path under the temporary directory, removed when this goes away.
class temp_file {
 public:
  explicit temp_file(std::string_view tag) {
    static int counter = 0;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables): unique names
    path_ = std::filesystem::temp_directory_path() / ("pdm-state-stream-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(++counter) + "-" + std::string(tag) + ".bin");
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  temp_file(temp_file&&) = delete;
  temp_file& operator=(temp_file&&) = delete;
  ~temp_file() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  [[nodiscard]] std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

void write_file(const std::string& path, const bytes& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(f.good());
}
bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  bytes out;
  for (std::istreambuf_iterator<char> it(f), end; it != end; ++it) out.push_back(static_cast<std::byte>(*it));
  return out;
}

outcome read_path(const std::string& path, std::optional<std::uint64_t> max_unit = std::nullopt) {
  pdm::state_stream_reader r(path);
  if (max_unit) r.set_max_unit_size(*max_unit);
  outcome o = read_all(r);
  if (!o.failure) CHECK(r.offset() == r.size());
  return o;
}

}  // namespace

TEST_CASE("the hand-built layout of the header comment is what the writer writes") {
  const bytes forged = forge_stream(sample_units());
  CHECK(forged.size() == sample_size);
  CHECK(write_memory(sample_units()) == forged);
  CHECK(write_memory({}) == forge_stream({}));
}

TEST_CASE("a stream with no units is a 16-byte header and a 12-byte end marker") {
  const bytes s = write_memory({});
  REQUIRE(s.size() == 28);
  bytes magic;
  append(magic, "PDMSTATE");
  CHECK(bytes(s.begin(), s.begin() + 8) == magic);
  CHECK(get_le(s, 8, 4) == 1);
  CHECK(get_le(s, 12, 4) == crc_of(s, 0, 12));
  CHECK(get_le(s, 16, 4) == 0x21444E45U);  // "END!"
  CHECK(get_le(s, 20, 4) == 0);
  CHECK(get_le(s, 24, 4) == crc_of(s, 16, 24));

  pdm::state_stream_reader r{std::span<const std::byte>(s)};
  CHECK(r.size() == 28);
  REQUIRE(r.open().has_value());
  CHECK(r.offset() == 16);
  auto next = r.next();
  REQUIRE(next.has_value());
  CHECK_FALSE(next.value().has_value());
  CHECK(r.offset() == 28);
}

TEST_CASE("one unit's record holds its version, instance, name, length and checksums") {
  const bytes data{std::byte{0xA1}, std::byte{0xB2}, std::byte{0xC3}};
  const bytes s = write_memory({{"disk", 3, 7, data}});
  REQUIRE(s.size() == 16 + 30 + 4 + 3 + 12);
  CHECK(get_le(s, 16, 4) == 0x54494E55U);  // "UNIT"
  CHECK(get_le(s, 20, 4) == 7);            // version
  CHECK(get_le(s, 24, 4) == 3);            // instance
  CHECK(get_le(s, 28, 2) == 4);            // name length
  bytes name;
  append(name, "disk");
  CHECK(bytes(s.begin() + 30, s.begin() + 34) == name);
  CHECK(get_le(s, 34, 8) == 3);  // data length
  CHECK(get_le(s, 42, 4) == crc_of(s, 16, 42));
  CHECK(bytes(s.begin() + 46, s.begin() + 49) == data);
  CHECK(get_le(s, 49, 4) == crc_of(s, 46, 49));
  CHECK(get_le(s, 57, 4) == 1);  // the end marker's unit count

  const outcome o = read_memory(s);
  REQUIRE_FALSE(o.failure.has_value());
  REQUIRE(o.units.size() == 1);
  CHECK(o.units[0] == unit_spec{"disk", 3, 7, data});
}

TEST_CASE("several units of different names, instances, versions and sizes round-trip through memory") {
  const std::vector<unit_spec> units{
      {"a", 0, 0, {}},
      {"block-device", 1, 2, pattern(100, 1)},
      {"\xc3\xbf utf-8 \xf0\x9f\x92\xbe", 0xFFFFFFFFU, 0xFFFFFFFFU, {std::byte{0}}},
      // The longest name, then the first name again with another instance.
      {std::string(pdm::max_state_unit_name, 'n'), 5, 1, pattern(4096, 2)},
      {"a", 1, 0, {}},
      {"empty", 9, 9, {}},
  };
  const bytes s = write_memory(units);
  const outcome o = read_memory(s);
  REQUIRE_FALSE(o.failure.has_value());
  CHECK(o.units == units);
}

TEST_CASE("the reader's offset moves record by record") {
  const bytes s = write_memory(sample_units());
  pdm::state_stream_reader r{std::span<const std::byte>(s)};
  REQUIRE(r.open().has_value());
  CHECK(r.offset() == 16);
  for (std::uint64_t expected : {56U, 87U, 127U}) {
    auto next = r.next();
    REQUIRE(next.has_value());
    REQUIRE(next.value().has_value());
    CHECK(r.offset() == expected);
  }
  auto end = r.next();
  REQUIRE(end.has_value());
  CHECK_FALSE(end.value().has_value());
  CHECK(r.offset() == sample_size);
}

TEST_CASE("a memory writer appends to what the vector held") {
  bytes out{std::byte{0xAA}, std::byte{0xBB}};
  pdm::state_stream_writer w(out);
  write_units(w, sample_units());
  REQUIRE(out.size() == 2 + sample_size);
  CHECK(out[0] == std::byte{0xAA});
  CHECK(out[1] == std::byte{0xBB});
  const bytes stream(out.begin() + 2, out.end());
  CHECK(stream == forge_stream(sample_units()));
  const outcome o = read_memory(stream);
  REQUIRE_FALSE(o.failure.has_value());
  CHECK(o.units == sample_units());
}

TEST_CASE("streams of 0, 1 and several units round-trip through a file, with the same bytes as in memory") {
  const std::vector<std::vector<unit_spec>> cases{
      {},
      {{"one", 4, 2, pattern(10, 3)}},
      {{"first", 0, 1, {}}, {"second", 1, 2, pattern(70000, 4)}, {"third", 2, 3, pattern(1, 5)}},
  };
  for (const auto& units : cases) {
    CAPTURE(units.size());
    temp_file file("roundtrip");
    pdm::state_stream_writer w(file.path());
    write_units(w, units);
    const bytes on_disk = read_file(file.path());
    CHECK(on_disk == write_memory(units));
    CHECK(w.bytes() == on_disk.size());

    const outcome o = read_path(file.path());
    REQUIRE_FALSE(o.failure.has_value());
    CHECK(o.units == units);
  }
}

TEST_CASE("a file writer counts the bytes it wrote") {
  temp_file file("count");
  pdm::state_stream_writer w(file.path());
  REQUIRE(w.begin().has_value());
  CHECK(w.bytes() == 16);
  auto unit = w.begin_unit("u", 0, 0);
  REQUIRE(unit.has_value());
  unit.value()->push_back(std::byte{1});
  REQUIRE(w.end_unit().has_value());
  CHECK(w.bytes() == 16 + 30 + 1 + 1);
  REQUIRE(w.finish().has_value());
  CHECK(w.bytes() == 16 + 32 + 12);
  CHECK(std::filesystem::file_size(file.path()) == 60);
}

TEST_CASE("a unit's values written with state_writer read back with state_reader at the unit's version") {
  struct saved {
    std::uint32_t count;
    std::string label;
    std::vector<std::int16_t> samples;
  };
  bytes out;
  pdm::state_stream_writer w(out);
  REQUIRE(w.begin().has_value());
  auto unit = w.begin_unit("codec", 2, 5);
  REQUIRE(unit.has_value());
  pdm::state_writer sw(*unit.value());
  sw.write(saved{42, "label", {-1, 2, -3}});
  const std::size_t written = sw.size();
  CHECK(written == 4 + 8 + 5 + 8 + 6);
  REQUIRE(w.end_unit().has_value());
  REQUIRE(w.finish().has_value());

  pdm::state_stream_reader r{std::span<const std::byte>(out)};
  REQUIRE(r.open().has_value());
  auto next = r.next();
  REQUIRE(next.has_value());
  REQUIRE(next.value().has_value());
  const pdm::state_unit_record& rec = *next.value();
  CHECK(rec.data.size() == written);
  pdm::state_reader sr(rec.data, rec.version);
  CHECK(sr.version() == 5);
  saved back{};
  REQUIRE(sr.read(back).has_value());
  CHECK(back.count == 42);
  CHECK(back.label == "label");
  CHECK(back.samples == std::vector<std::int16_t>{-1, 2, -3});
  CHECK(sr.remaining() == 0);
}

TEST_CASE("begin_unit refuses an empty name, one over max_state_unit_name bytes and invalid UTF-8, writing nothing") {
  bytes out;
  pdm::state_stream_writer w(out);
  REQUIRE(w.begin().has_value());
  auto first = w.begin_unit("kept", 1, 1);
  REQUIRE(first.has_value());
  first.value()->push_back(std::byte{7});
  REQUIRE(w.end_unit().has_value());
  const std::size_t size = out.size();

  const std::string bad_names[] = {
      "",
      std::string(pdm::max_state_unit_name + 1, 'x'),
      std::string(70000, 'x'),  // more than a u16 can count
      "\xff",
      "a\xc3",            // a sequence cut short
      "\xc0\xaf",         // an overlong '/'
      "\xed\xa0\x80",     // a UTF-16 surrogate
      "\xf4\x90\x80\x80"  // above U+10FFFF
  };
  for (const std::string& name : bad_names) {
    CAPTURE(name.size());
    auto unit = w.begin_unit(name, 0, 0);
    REQUIRE_FALSE(unit.has_value());
    CHECK(unit.error_value() == errc::invalid_argument);
    CHECK(
        contains(unit.error_value().message(), "1 to " + std::to_string(pdm::max_state_unit_name) + " bytes of UTF-8"));
    CHECK(out.size() == size);
  }
  CHECK(w.units() == 1);

  const std::string longest_name(pdm::max_state_unit_name, 'y');
  auto longest = w.begin_unit(longest_name, 2, 2);
  REQUIRE(longest.has_value());
  REQUIRE(w.end_unit().has_value());
  REQUIRE(w.finish().has_value());
  const outcome o = read_memory(out);
  REQUIRE_FALSE(o.failure.has_value());
  CHECK(o.units == std::vector<unit_spec>{{"kept", 1, 1, {std::byte{7}}}, {longest_name, 2, 2, {}}});
}

TEST_CASE("an abandoned unit leaves no trace, in memory and in a file") {
  const auto write_with_abandoned = [](pdm::state_stream_writer& w) {
    REQUIRE(w.begin().has_value());
    auto dropped_first = w.begin_unit("dropped-first", 0, 0);
    REQUIRE(dropped_first.has_value());
    dropped_first.value()->push_back(std::byte{0xEE});
    w.abandon_unit();
    for (const unit_spec& u : sample_units()) {
      auto unit = w.begin_unit(u.name, u.instance, u.version);
      REQUIRE(unit.has_value());
      unit.value()->insert(unit.value()->end(), u.data.begin(), u.data.end());
      REQUIRE(w.end_unit().has_value());
      auto dropped = w.begin_unit("dropped", 9, 9);
      REQUIRE(dropped.has_value());
      const bytes junk = pattern(300, 6);
      dropped.value()->insert(dropped.value()->end(), junk.begin(), junk.end());
      w.abandon_unit();
    }
    REQUIRE(w.finish().has_value());
    CHECK(w.units() == sample_units().size());
  };
  bytes out;
  pdm::state_stream_writer memory_writer(out);
  write_with_abandoned(memory_writer);
  CHECK(out == forge_stream(sample_units()));

  temp_file file("abandon");
  pdm::state_stream_writer file_writer(file.path());
  write_with_abandoned(file_writer);
  CHECK(read_file(file.path()) == forge_stream(sample_units()));
  const outcome o = read_path(file.path());
  REQUIRE_FALSE(o.failure.has_value());
  CHECK(o.units == sample_units());
}

TEST_CASE("a stream cut at any length is stream_truncated, in memory and in a file") {
  const bytes full = write_memory(sample_units());
  REQUIRE(full.size() == sample_size);
  temp_file file("cut");
  for (std::size_t n = 0; n < full.size(); ++n) {
    CAPTURE(n);
    const bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));  // exactly n bytes, for ASan
    const pdm::error e = memory_failure(cut);
    CHECK(e == errc::stream_truncated);
    CHECK(contains(e.message(), " of " + std::to_string(n) + ")"));

    write_file(file.path(), cut);
    const outcome o = read_path(file.path());
    REQUIRE(o.failure.has_value());
    CHECK(*o.failure == errc::stream_truncated);
    CHECK(contains(o.failure->message(), "in '" + file.path() + "'"));
  }
}

TEST_CASE("every single-bit flip of a valid stream is refused before a clean end") {
  const bytes full = write_memory(sample_units());
  for (std::size_t i = 0; i < full.size(); ++i) {
    for (unsigned bit = 0; bit < 8; ++bit) {
      CAPTURE(i);
      CAPTURE(bit);
      bytes flipped = full;
      flipped[i] ^= static_cast<std::byte>(1U << bit);
      const outcome o = read_memory(flipped);
      REQUIRE(o.failure.has_value());
      const std::error_code code = o.failure->code();
      CHECK((code == errc::stream_corrupted || code == errc::stream_truncated || code == errc::stream_bad_magic));
      CHECK(contains(o.failure->message(), "at byte "));
      // What was read before the failure is exactly what was written.
      REQUIRE(o.units.size() <= sample_units().size());
      for (std::size_t k = 0; k < o.units.size(); ++k) CHECK(o.units[k] == sample_units()[k]);
    }
  }
}

TEST_CASE("a stream that does not start with PDMSTATE is stream_bad_magic at byte 0") {
  bytes wrong = write_memory(sample_units());
  wrong[7] = std::byte{'F'};
  set_le(wrong, 12, crc_of(wrong, 0, 12), 4);  // even with a checksum that matches
  const pdm::error e = memory_failure(wrong);
  CHECK(e == errc::stream_bad_magic);
  CHECK(contains(e.message(), "PDMSTATE"));
  CHECK(contains(e.message(), "at byte 0 of 139"));

  bytes text;
  append(text, "this is a text file, not a saved state\n");
  CHECK(memory_failure(text) == errc::stream_bad_magic);
  CHECK(memory_failure(bytes(16)) == errc::stream_bad_magic);

  temp_file file("magic");
  write_file(file.path(), text);
  const outcome o = read_path(file.path());
  REQUIRE(o.failure.has_value());
  CHECK(*o.failure == errc::stream_bad_magic);
  CHECK(contains(o.failure->message(), file.path()));
}

TEST_CASE("a header with another format or a wrong checksum is stream_corrupted") {
  bytes other = forge_header(2);
  append(other, forge_end(0));
  const pdm::error e = memory_failure(other);
  CHECK(e == errc::stream_corrupted);
  CHECK(contains(e.message(), "format is 2"));
  CHECK(contains(e.message(), "at byte 8 of 28"));

  bytes bad_crc = write_memory({});
  bad_crc[12] ^= std::byte{0x01};
  const pdm::error crc = memory_failure(bad_crc);
  CHECK(crc == errc::stream_corrupted);
  CHECK(contains(crc.message(), "header's checksum"));
  CHECK(contains(crc.message(), "at byte 0 of 28"));
}

TEST_CASE("an absurd data length with a valid header checksum is refused without allocating") {
  const std::uint64_t absurd = std::uint64_t{1} << 60U;
  bytes s = forge_header(1);
  append(s, forge_unit("alpha", 1, 1, pattern(5, 7), absurd));
  append(s, forge_end(1));

  // Unlimited: the input is too short for it (were 2^60 bytes allocated, ASan would fail the test).
  const pdm::error e = memory_failure(s, ~std::uint64_t{0});
  CHECK(e == errc::stream_truncated);
  CHECK(contains(e.message(), "unit 'alpha' #1"));
  CHECK(contains(e.message(), std::to_string(absurd)));
  CHECK(contains(e.message(), "at byte 16 of " + std::to_string(s.size())));
  // The default limit (1 GiB) stops it first.
  const pdm::error limited = memory_failure(s);
  CHECK(limited == errc::stream_too_large);
  CHECK(contains(limited.message(), "unit 'alpha' #1"));

  temp_file file("absurd");
  write_file(file.path(), s);
  const outcome o = read_path(file.path(), ~std::uint64_t{0});
  REQUIRE(o.failure.has_value());
  CHECK(*o.failure == errc::stream_truncated);
  CHECK(contains(o.failure->message(), "unit 'alpha' #1"));

  // A length that leaves no room for the data's checksum is truncated as well.
  bytes short_by_one = forge_header(1);
  append(short_by_one, forge_unit("alpha", 1, 1, pattern(5, 7), 5 + 12 + 1));
  append(short_by_one, forge_end(1));
  CHECK(memory_failure(short_by_one) == errc::stream_truncated);
}

TEST_CASE("set_max_unit_size: a unit at the limit is read, one byte above it is stream_too_large") {
  const bytes s = write_memory(sample_units());  // alpha has 5 bytes, b none, gamma 2
  const outcome at_limit = read_memory(s, 5);
  REQUIRE_FALSE(at_limit.failure.has_value());
  CHECK(at_limit.units == sample_units());

  const pdm::error e = memory_failure(s, 4);
  CHECK(e == errc::stream_too_large);
  CHECK(contains(e.message(), "unit 'alpha' #1 has 5 bytes of data, above the limit of 4"));
  CHECK(contains(e.message(), "at byte 16 of 139"));

  const outcome zero = read_memory(s, 0);
  REQUIRE(zero.failure.has_value());
  CHECK(*zero.failure == errc::stream_too_large);
  CHECK(zero.units.empty());

  // A later unit over the limit: the ones before it were read.
  bytes later = forge_header(1);
  append(later, forge_unit("small", 0, 0, pattern(3, 8), 3));
  append(later, forge_unit("large", 4, 0, pattern(40, 9), 40));
  append(later, forge_end(2));
  const outcome o = read_memory(later, 39);
  REQUIRE(o.failure.has_value());
  CHECK(*o.failure == errc::stream_too_large);
  CHECK(contains(o.failure->message(), "unit 'large' #4"));
  CHECK(contains(o.failure->message(), "at byte " + std::to_string(16 + 30 + 5 + 3)));
  REQUIRE(o.units.size() == 1);
  CHECK(o.units[0].name == "small");
}

TEST_CASE("bytes after the end marker are stream_corrupted") {
  bytes s = write_memory(sample_units());
  s.push_back(std::byte{0});
  const pdm::error e = memory_failure(s);
  CHECK(e == errc::stream_corrupted);
  CHECK(contains(e.message(), "1 bytes after the end marker"));
  CHECK(contains(e.message(), "at byte 139 of 140"));

  bytes twice = write_memory({});
  append(twice, forge_end(0));
  CHECK(memory_failure(twice) == errc::stream_corrupted);
  bytes two_streams = write_memory(sample_units());
  append(two_streams, write_memory(sample_units()));
  CHECK(memory_failure(two_streams) == errc::stream_corrupted);
}

TEST_CASE("an end marker whose count disagrees, or whose checksum is wrong, is stream_corrupted") {
  for (std::uint32_t count : {0U, 2U, 4U, 0xFFFFFFFFU}) {
    CAPTURE(count);
    bytes s = write_memory(sample_units());
    set_le(s, sample_end_at + 4, count, 4);
    set_le(s, sample_end_at + 8, crc_of(s, sample_end_at, sample_end_at + 8), 4);
    const pdm::error e = memory_failure(s);
    CHECK(e == errc::stream_corrupted);
    CHECK(contains(e.message(), "counts " + std::to_string(count) + " units, the stream has 3"));
    CHECK(contains(e.message(), "at byte 127 of 139"));
  }
  bytes bad_crc = write_memory(sample_units());
  bad_crc[sample_size - 1] ^= std::byte{0x80};
  const pdm::error e = memory_failure(bad_crc);
  CHECK(e == errc::stream_corrupted);
  CHECK(contains(e.message(), "end marker's checksum"));
}

TEST_CASE("a record that is neither a unit nor the end marker is stream_corrupted") {
  bytes s = write_memory(sample_units());
  s[56 + 3] = std::byte{'X'};  // b's "UNIT" becomes "UNIX"
  const outcome o = read_memory(s);
  REQUIRE(o.failure.has_value());
  CHECK(*o.failure == errc::stream_corrupted);
  CHECK(contains(o.failure->message(), "neither a unit record nor the end marker"));
  CHECK(contains(o.failure->message(), "at byte 56 of 139"));
  CHECK(o.units.size() == 1);

  bytes zeros = forge_header(1);
  append(zeros, bytes(12));
  CHECK(memory_failure(zeros) == errc::stream_corrupted);
}

TEST_CASE("a unit header's name length of 0 or above the longest name is stream_corrupted, with a valid checksum") {
  for (const std::string& name :
       {std::string(), std::string(pdm::max_state_unit_name + 1, 'x'), std::string(0xFFFF, 'x')}) {
    CAPTURE(name.size());
    bytes s = forge_header(1);
    append(s, forge_unit(name, 0, 0, pattern(4, 10), 4));
    append(s, forge_end(1));
    const pdm::error e = memory_failure(s);
    CHECK(e == errc::stream_corrupted);
    CHECK(contains(e.message(), "a unit name length of " + std::to_string(name.size())));
    CHECK(contains(e.message(), "at byte 16 of "));
  }
  // Zeroed in a written stream (its checksum no longer matches, but the length is refused first).
  bytes s = write_memory(sample_units());
  set_le(s, 16 + 12, 0, 2);
  CHECK(contains(memory_failure(s).message(), "a unit name length of 0"));
}

TEST_CASE("a unit name that is not UTF-8 is stream_corrupted, even with a valid checksum") {
  bytes s = forge_header(1);
  append(s, forge_unit("bad\xff", 0, 0, {}, 0));
  append(s, forge_end(1));
  const pdm::error e = memory_failure(s);
  CHECK(e == errc::stream_corrupted);
  CHECK(contains(e.message(), "not UTF-8"));
  CHECK(contains(e.message(), "at byte 16 of "));
}

TEST_CASE("checksum mismatches in a unit are stream_corrupted; a data error names the unit") {
  bytes data_bad = write_memory(sample_units());
  data_bad[87 + 26 + 8] ^= std::byte{0x10};  // gamma's first data byte (after 26 + 8 header bytes)
  const outcome o = read_memory(data_bad);
  REQUIRE(o.failure.has_value());
  CHECK(*o.failure == errc::stream_corrupted);
  CHECK(contains(o.failure->message(), "unit 'gamma-\xce\xb4' #7: the data's checksum does not match"));
  CHECK(contains(o.failure->message(), "at byte 87 of 139"));
  CHECK(o.units.size() == 2);

  bytes header_bad = write_memory(sample_units());
  header_bad[16 + 4] ^= std::byte{0x01};  // alpha's version
  const pdm::error e = memory_failure(header_bad);
  CHECK(e == errc::stream_corrupted);
  CHECK(contains(e.message(), "a unit header's checksum does not match"));
  CHECK(contains(e.message(), "at byte 16 of 139"));
}

TEST_CASE(
    "data_check::by_caller: next() returns a unit whose data is corrupted; intact() and data_mismatch() judge it") {
  bytes stream = write_memory(sample_units());
  stream[87 + 26 + 8] ^= std::byte{0x10};  // gamma's first data byte
  const pdm::error by_next = memory_failure(stream);
  pdm::state_stream_reader r{std::span<const std::byte>(stream)};
  REQUIRE(r.open());
  std::vector<std::uint64_t> offsets;
  for (int i = 0; i < 3; ++i) {
    auto next = r.next(pdm::data_check::by_caller);
    REQUIRE(next.has_value());
    REQUIRE(next.value().has_value());
    const pdm::state_unit_record& rec = *next.value();
    offsets.push_back(rec.offset);
    const bool is_gamma = i == 2;
    CHECK(pdm::state_stream_reader::intact(rec) == !is_gamma);
    if (is_gamma) {
      const pdm::error e = r.data_mismatch(rec);
      CHECK(e == errc::stream_corrupted);
      CHECK(e.message() == by_next.message());  // the same sentence next() gives by itself
      CHECK(rec.data.size() == 2);
      CHECK(rec.data[0] == (std::byte{9} ^ std::byte{0x10}));
    }
  }
  CHECK(offsets == std::vector<std::uint64_t>{16, 56, 87});
  auto end = r.next(pdm::data_check::by_caller);
  REQUIRE(end.has_value());
  CHECK_FALSE(end.value().has_value());  // the end marker counts units handed to the caller
}

TEST_CASE("a record's data_crc is the checksum stored after its data") {
  const bytes stream = write_memory(sample_units());
  pdm::state_stream_reader r{std::span<const std::byte>(stream)};
  REQUIRE(r.open());
  const std::vector<std::size_t> data_crc_at{16 + 26 + 5 + 5, 56 + 26 + 1 + 0, 87 + 26 + 8 + 2};
  for (const std::size_t at : data_crc_at) {
    auto next = r.next();
    REQUIRE(next.has_value());
    REQUIRE(next.value().has_value());
    CHECK(next.value()->data_crc == get_le(stream, at, 4));
    CHECK(next.value()->data_crc == pdm::detail::crc32c(next.value()->data));
  }
}

TEST_CASE("opening a missing file is io_error naming the path") {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("pdm-state-stream-missing-" + std::to_string(::getpid()) + ".bin"))
          .string();
  std::error_code ec;
  std::filesystem::remove(path, ec);
  pdm::state_stream_reader r(path);
  const pdm::status s = r.open();
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error_value() == errc::io_error);
  CHECK(contains(s.error_value().message(), "'" + path + "'"));
  CHECK(contains(s.error_value().message(), std::generic_category().message(ENOENT)));
}

TEST_CASE("writing to a path in a directory that does not exist is io_error naming the path") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("pdm-state-stream-no-dir-" + std::to_string(::getpid()));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  const std::string path = (dir / "state.bin").string();
  pdm::state_stream_writer w(path);
  const pdm::status s = w.begin();
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error_value() == errc::io_error);
  CHECK(contains(s.error_value().message(), "'" + path + "'"));
  CHECK_FALSE(std::filesystem::exists(dir));
}

TEST_CASE("a write the device refuses is io_error (/dev/full)") {
  if (!std::filesystem::exists("/dev/full")) return;  // not every system has it
  {
    // Small enough to stay in stdio's buffer until finish() closes the file.
    pdm::state_stream_writer w(std::string("/dev/full"));
    REQUIRE(w.begin().has_value());
    const pdm::status s = w.finish();
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error_value() == errc::io_error);
    CHECK(contains(s.error_value().message(), "'/dev/full'"));
  }
  {
    // Larger than any stdio buffer: the unit's own write fails.
    pdm::state_stream_writer w(std::string("/dev/full"));
    REQUIRE(w.begin().has_value());
    auto unit = w.begin_unit("big", 0, 0);
    REQUIRE(unit.has_value());
    const bytes data = pattern(1 << 20, 11);
    unit.value()->insert(unit.value()->end(), data.begin(), data.end());
    const pdm::status s = w.end_unit();
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error_value() == errc::io_error);
    CHECK(contains(s.error_value().message(), "'/dev/full'"));
  }
}
