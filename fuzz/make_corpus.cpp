// fuzz/make_corpus.cpp - the seed inputs of the saved-state fuzz target (corpus/state_loader/):
// streams saved by the rig of loader_vm.hpp in several states, streams with older unit versions,
// units reordered, missing or unknown, and broken streams (truncated, wrong magic or format,
// flipped bits, absurd lengths and counts with their checksums recomputed, bad versions, bad
// names, duplicates, bytes left over).
//
//   pdm_fuzz_make_corpus <directory>          writes every seed there (other files are left alone)
//   pdm_fuzz_make_corpus --check <directory>  checks that the directory holds every seed, byte for
//                                             byte, and no seed this program no longer makes
//
// Either way each seed is first loaded into fresh rigs, with the default options and with
// unknown_unit_policy::skip + missing_unit_policy::keep, and must give the outcome written beside
// it here (success or a code), so a seed cannot silently stop testing what its name says.
// The hand-made streams are built byte by byte from the layout in pdm/services/state_stream.hpp
// (checksums with pdm::detail::crc32c), and the program checks that such a stream of the rig's
// units is byte for byte what vm::save_state writes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "loader_vm.hpp"

namespace {

namespace fs = std::filesystem;
using bytes = std::vector<std::byte>;
using pdm::errc;
using pdm_fuzz::encode;
using pdm_fuzz::rig;

// ---- Streams by hand ----------------------------------------------------------------------------

void put_le(bytes& out, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::byte>((v >> (8U * i)) & 0xFFU));
}
void set_le(bytes& b, std::size_t at, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) b[at + i] = static_cast<std::byte>((v >> (8U * i)) & 0xFFU);
}
std::uint32_t crc_of(const bytes& b, std::size_t from, std::size_t to) {
  return pdm::detail::crc32c(std::span<const std::byte>(b).subspan(from, to - from));
}
void append(bytes& out, std::string_view s) {
  for (const char c : s) out.push_back(static_cast<std::byte>(c));
}
void append(bytes& out, const bytes& b) { out.insert(out.end(), b.begin(), b.end()); }

bytes header(std::uint32_t format = 1) {
  bytes out;
  append(out, "PDMSTATE");
  put_le(out, format, 4);
  put_le(out, crc_of(out, 0, 12), 4);
  return out;
}

// A unit record; the name length and data length fields may lie (the header CRC covers the lie).
struct unit {
  std::string name;
  std::uint32_t instance = 0;
  std::uint32_t version = 0;
  bytes data;
  std::optional<std::uint64_t> name_length;
  std::optional<std::uint64_t> data_length;
};

bytes record(const unit& u) {
  bytes out;
  append(out, "UNIT");
  put_le(out, u.version, 4);
  put_le(out, u.instance, 4);
  put_le(out, u.name_length.value_or(u.name.size()), 2);
  append(out, u.name);
  put_le(out, u.data_length.value_or(u.data.size()), 8);
  put_le(out, crc_of(out, 0, out.size()), 4);
  append(out, u.data);
  put_le(out, pdm::detail::crc32c(u.data), 4);
  return out;
}

bytes end_marker(std::uint32_t units) {
  bytes out;
  append(out, "END!");
  put_le(out, units, 4);
  put_le(out, crc_of(out, 0, 8), 4);
  return out;
}

bytes stream(const std::vector<unit>& units) {
  bytes out = header();
  for (const unit& u : units) append(out, record(u));
  append(out, end_marker(static_cast<std::uint32_t>(units.size())));
  return out;
}

// ---- The rig's units ----------------------------------------------------------------------------

// The rig's four units with their current data, in registration order (what save_state writes).
std::vector<unit> units_of(const rig& r) {
  const pdm_fuzz::snapshot s = r.take();
  std::vector<unit> out;
  for (const auto i : {pdm_fuzz::ctl_unit, pdm_fuzz::queue_unit, pdm_fuzz::regs_unit, pdm_fuzz::disk_unit}) {
    out.push_back({r.units[i].name, r.units[i].instance, r.units[i].version, s.units[i], {}, {}});
  }
  return out;
}

bytes saved(rig& r) {
  bytes out;
  pdm::status s = r.vm.save_state(out);
  PDM_FUZZ_CHECK(s, "save_state: " + s.error_value().message());
  return out;
}

// States to save.
void empty_states(rig& r) {
  r.ctl->saved() = {};
  r.queue->saved() = {};
  r.queue->regs() = {};
  r.disk->saved() = {};
}

// A little of everything changed from a fresh rig's states.
void altered_states(rig& r) {
  pdm_fuzz::ctl_state& c = r.ctl->saved();
  c.name = "ctl, altered";
  c.channels.push_back({3, true, pdm_fuzz::mode::off, "right", {4}});
  c.regs[1] = 7;
  c.armed = false;
  c.ratio = 2.5;
  c.flags.push_back(false);
  c.info.tags.emplace_back("gamma");
  pdm_fuzz::queue_state& q = r.queue->saved();
  q.head = 4;
  q.entries.push_back({10, {9, 9}, 2});
  q.owner = "queue, altered";
  q.letter = 'Q';
  pdm_fuzz::regs_state& g = r.queue->regs();
  g.control = 0x4321;
  g.values.push_back(2);
  g.label = "regs, altered";
  g.latched = false;
  pdm_fuzz::disk_state& d = r.disk->saved();
  d.sectors = 4096;
  d.blocks.push_back(0xEE);
  d.names.emplace_back("swap");
  d.weights.push_back(3.0);
  d.modes.push_back(pdm_fuzz::mode::on);
  d.dirty.push_back(true);
}

void large_states(rig& r) {
  pdm_fuzz::ctl_state& c = r.ctl->saved();
  c.name.assign(300, 'n');
  c.channels.clear();
  for (std::uint16_t i = 0; i < 40; ++i) {
    pdm_fuzz::channel ch{i, (i % 3) == 0, static_cast<pdm_fuzz::mode>(i % 3), std::string(i, 'x'), {}};
    for (std::int32_t k = 0; k < i; ++k) ch.samples.push_back(k * 1000 - 7);
    c.channels.push_back(std::move(ch));
  }
  c.flags.assign(77, true);
  c.info.tags.assign(20, "tag");
  pdm_fuzz::queue_state& q = r.queue->saved();
  q.entries.clear();
  for (std::uint8_t i = 0; i < 50; ++i)
    q.entries.push_back({i, std::vector<std::uint8_t>(i, i), static_cast<std::int8_t>(-i)});
  q.owner.assign(1000, 'o');
  pdm_fuzz::regs_state& g = r.queue->regs();
  g.values.assign(500, 0xABCD);
  g.label.assign(100, 'l');
  pdm_fuzz::disk_state& d = r.disk->saved();
  d.blocks.assign(12000, 0x5A);
  d.names.assign(30, "name");
  d.keys.assign(100, {1, 2, 3, 4});
  d.tables.assign(20, std::vector<std::uint32_t>(20, 7));
  d.weights.assign(64, 1.5);
  d.raw.assign(3000, 'r');
  d.deltas.assign(100, -1);
  d.modes.assign(100, pdm_fuzz::mode::on);
  d.gains.assign(100, 0.125F);
  d.points.assign(100, {7, -7});
  d.dirty.assign(1000, true);
}

void extreme_states(rig& r) {
  pdm_fuzz::ctl_state& c = r.ctl->saved();
  constexpr char odd_name[] = "\0\xff\xfe not UTF-8 \xc3";  // a NUL, bytes that are not UTF-8
  c.name.assign(odd_name, sizeof odd_name - 1);
  c.channels = {{0xFFFF, true, static_cast<pdm_fuzz::mode>(0xFF), std::string(1, '\0'), {INT32_MIN, INT32_MAX}}};
  c.regs = {0, 0xFFFFFFFFU, 0x80000000U, 1};
  c.corners = {pdm_fuzz::point{INT16_MIN, INT16_MAX}, pdm_fuzz::point{0, -1}};
  c.ratio = std::numeric_limits<double>::quiet_NaN();
  c.gain = -std::numeric_limits<float>::infinity();
  c.flags = {false};
  c.info = {UINT64_MAX, {""}, static_cast<pdm_fuzz::level>(INT32_MIN), static_cast<pdm_fuzz::legacy_kind>(0xFFFF)};
  pdm_fuzz::queue_state& q = r.queue->saved();
  q.head = UINT32_MAX;
  q.tail = 0;
  q.entries = {{UINT64_MAX, {0xFF}, INT8_MIN}};
  q.owner = "\xe2\x82";
  q.totals = {INT64_MIN, 0, INT64_MAX};
  q.letter = '\x80';
  r.queue->regs() = {UINT32_MAX, {0, 0xFFFF}, std::string(3, '\0'), false};
  pdm_fuzz::disk_state& d = r.disk->saved();
  d.sectors = UINT64_MAX;
  d.temperature = INT16_MIN;
  d.serial = {'\0', '\xff', 'a', 'b', 'c', 'd', 'e', 'f'};
  d.weights = {std::numeric_limits<double>::denorm_min(), -0.0, std::numeric_limits<double>::infinity(),
               std::numeric_limits<double>::signaling_NaN()};
  d.offset = INT64_MIN;
  d.raw = {'\0', '\x7f', '\x80', '\xff'};
  d.deltas = {INT8_MIN, INT8_MAX};
  d.modes = {static_cast<pdm_fuzz::mode>(3), static_cast<pdm_fuzz::mode>(0xFF)};
  d.gains = {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::denorm_min()};
  d.points = {{INT16_MIN, INT16_MAX}};
  d.dirty = {};
}

// The data of the queue unit as FzQueue version 1 or 2 saved it.
bytes queue_old(std::uint32_t version, bool trailing = false) {
  pdm_fuzz::queue_v2 old{{5, 2, {{11, {1, 2}}, {12, {}}}}, "old owner"};
  bytes out = version == 1 ? encode(old.v1) : encode(old);
  if (trailing) out.push_back(std::byte{0});
  return out;
}
bytes regs_v1() { return encode(std::uint32_t{0xC0FFEE}); }

// ---- Seeds --------------------------------------------------------------------------------------

// A seed and the outcome it must have: nullopt is success.
struct seed {
  std::string name;
  bytes data;
  std::optional<errc> strict;   // default options
  std::optional<errc> lenient;  // unknown_unit_policy::skip, missing_unit_policy::keep
};

bytes truncate(bytes b, std::size_t n) {
  b.resize(n);
  return b;
}
bytes flip(bytes b, std::size_t at, unsigned bit) {
  b[at] ^= static_cast<std::byte>(1U << bit);
  return b;
}

std::vector<seed> make_seeds() {
  std::vector<seed> seeds;
  auto add = [&](std::string name, bytes data, std::optional<errc> strict, std::optional<errc> lenient) {
    seeds.push_back({std::move(name), std::move(data), strict, lenient});
  };
  constexpr std::optional<errc> success;

  // What vm::save_state writes, in several states.
  {
    rig r;
    add("valid-initial", saved(r), success, success);
  }
  // The hand-made seeds below carry every unit in a state other than a fresh rig's, so a load
  // that fails halfway and still changed a driver shows (the target compares with the state
  // before the load).
  rig base;
  altered_states(base);
  const std::vector<unit> u = units_of(base);  // ctl, queue, regs, disk
  const bytes initial = saved(base);
  PDM_FUZZ_CHECK(initial == stream(u), "the hand-built stream differs from what vm::save_state writes");
  add("valid-altered", initial, success, success);
  {
    rig r;
    empty_states(r);
    add("valid-empty", saved(r), success, success);
  }
  {
    rig r;
    large_states(r);
    add("valid-large", saved(r), success, success);
  }
  {
    rig r;
    extreme_states(r);
    add("valid-extremes", saved(r), success, success);
  }
  auto with = [&](std::size_t i, unit replacement) {
    std::vector<unit> v = u;
    v[i] = std::move(replacement);
    return v;
  };
  auto versioned = [&](std::size_t i, std::uint32_t version, bytes data) {
    unit x = u[i];
    x.version = version;
    x.data = std::move(data);
    return with(i, x);
  };
  constexpr std::size_t ctl = 0;
  constexpr std::size_t queue = 1;
  constexpr std::size_t regs = 2;
  constexpr std::size_t disk = 3;

  // Older versions the drivers load.
  add("valid-queue-v1", stream(versioned(queue, 1, queue_old(1))), success, success);
  add("valid-queue-v2", stream(versioned(queue, 2, queue_old(2))), success, success);
  add("valid-regs-v1", stream(versioned(regs, 1, regs_v1())), success, success);
  add("valid-reordered", stream({u[disk], u[regs], u[ctl], u[queue]}), success, success);

  // Units missing or unknown: only the lenient options take them.
  add("lenient-no-disk", stream({u[ctl], u[queue], u[regs]}), errc::unit_not_found, success);
  add("lenient-no-units", stream({}), errc::unit_not_found, success);
  {
    std::vector<unit> v = u;
    v.push_back({"Nobody@Devices/none/0/LUN#0", 0, 1, encode(std::string("unknown")), {}, {}});
    add("lenient-unknown-unit", stream(v), errc::unit_not_found, success);
  }
  {
    unit other = u[regs];
    other.instance = 6;
    add("lenient-regs-other-instance", stream(with(regs, other)), errc::unit_not_found, success);
  }

  // Broken streams.
  add("bad-empty", {}, errc::stream_truncated, errc::stream_truncated);
  add("bad-header-only", header(), errc::stream_truncated, errc::stream_truncated);
  add("bad-truncated-header", truncate(initial, 10), errc::stream_truncated, errc::stream_truncated);
  add("bad-truncated-unit-header", truncate(initial, 16 + 20), errc::stream_truncated, errc::stream_truncated);
  add("bad-truncated-data", truncate(initial, 16 + 60), errc::stream_truncated, errc::stream_truncated);
  add("bad-truncated-end", truncate(initial, initial.size() - 1), errc::stream_truncated, errc::stream_truncated);
  {
    bytes b = initial;
    b[7] = std::byte{'X'};
    add("bad-magic", b, errc::stream_bad_magic, errc::stream_bad_magic);
  }
  {
    bytes b = initial;
    set_le(b, 8, 2, 4);
    set_le(b, 12, crc_of(b, 0, 12), 4);
    add("bad-format-2", b, errc::stream_corrupted, errc::stream_corrupted);
  }
  add("bad-header-crc", flip(initial, 13, 0), errc::stream_corrupted, errc::stream_corrupted);
  add("bad-unit-header-crc", flip(initial, 16 + 5, 3), errc::stream_corrupted, errc::stream_corrupted);
  add("bad-data-bitflip", flip(initial, 16 + 26 + u[ctl].name.size() + 2, 6), errc::stream_corrupted,
      errc::stream_corrupted);
  add("bad-end-crc", flip(initial, initial.size() - 2, 1), errc::stream_corrupted, errc::stream_corrupted);
  {
    bytes b = header();
    for (const unit& x : u) append(b, record(x));
    append(b, end_marker(5));
    add("bad-end-count", b, errc::stream_corrupted, errc::stream_corrupted);
  }
  {
    bytes b = initial;
    b.push_back(std::byte{0});
    add("bad-after-end", b, errc::stream_corrupted, errc::stream_corrupted);
  }
  {
    bytes b = initial;
    b[16] = std::byte{'X'};  // "XNIT"
    add("bad-record-magic", b, errc::stream_corrupted, errc::stream_corrupted);
  }
  add("bad-duplicate-unit", stream({u[ctl], u[queue], u[ctl], u[regs], u[disk]}), errc::stream_corrupted,
      errc::stream_corrupted);

  // Absurd lengths and counts, their checksums recomputed.
  {
    unit x = u[ctl];
    x.data_length = std::uint64_t{1} << 63U;
    add("bad-length-huge", stream(with(ctl, x)), errc::stream_too_large, errc::stream_too_large);
    x.data_length = (std::uint64_t{1} << 30U) - 1;
    add("bad-length-beyond-stream", stream(with(ctl, x)), errc::stream_truncated, errc::stream_truncated);
    x.data_length = x.data.size() + 1;
    add("bad-length-plus-one", stream(with(ctl, x)), errc::stream_corrupted, errc::stream_corrupted);
  }
  {
    unit x = u[ctl];
    x.name_length = 0;
    add("bad-name-length-0", stream(with(ctl, x)), errc::stream_corrupted, errc::stream_corrupted);
    x.name_length = 1025;
    add("bad-name-length-1025", stream(with(ctl, x)), errc::stream_corrupted, errc::stream_corrupted);
    x = u[ctl];
    x.name[0] = '\xff';
    add("bad-name-not-utf8", stream(with(ctl, x)), errc::stream_corrupted, errc::stream_corrupted);
  }
  {
    bytes d = u[ctl].data;
    set_le(d, 0, std::uint64_t{1} << 62U, 8);  // FzCtl's name: a count of 2^62 bytes
    add("bad-count-huge", stream(versioned(ctl, 1, d)), errc::stream_too_large, errc::stream_too_large);
  }
  {
    const pdm_fuzz::ctl_state& c = base.ctl->saved();
    bytes d = u[ctl].data;
    set_le(d, 0, d.size() - 8 + 1, 8);  // the name's count: one byte more than the unit holds
    add("bad-count-plus-one", stream(versioned(ctl, 1, d)), errc::stream_too_large, errc::stream_too_large);
    // FzCtl's `armed` as 2, with the data's CRC recomputed.
    const std::size_t armed =
        encode(c.name).size() + encode(c.channels).size() + encode(c.regs).size() + encode(c.corners).size();
    d = u[ctl].data;
    PDM_FUZZ_CHECK(d[armed] == static_cast<std::byte>(c.armed ? 1 : 0), "FzCtl's armed is not where it should be");
    d[armed] = std::byte{2};
    add("bad-bool-2", stream(versioned(ctl, 1, d)), errc::stream_corrupted, errc::stream_corrupted);
  }
  {
    bytes d = u[disk].data;
    // FzDisk's blocks: sectors (8), temperature (2), serial (8), then the count of 2^64 - 1.
    set_le(d, 18, UINT64_MAX, 8);
    add("bad-vector-count-max", stream(versioned(disk, 2, d)), errc::stream_too_large, errc::stream_too_large);
  }
  {
    bytes d = u[ctl].data;
    d.push_back(std::byte{0});
    add("bad-ctl-trailing-byte", stream(versioned(ctl, 1, d)), errc::stream_corrupted, errc::stream_corrupted);
    d = u[disk].data;
    d.resize(5);  // inside `sectors`
    add("bad-disk-short", stream(versioned(disk, 2, d)), errc::stream_truncated, errc::stream_truncated);
    d = u[regs].data;
    d.pop_back();  // no `latched`
    add("bad-regs-short", stream(versioned(regs, 2, d)), errc::stream_truncated, errc::stream_truncated);
    d = u[regs].data;
    d.push_back(std::byte{1});
    add("bad-regs-trailing-byte", stream(versioned(regs, 2, d)), errc::stream_corrupted, errc::stream_corrupted);
  }

  // Versions.
  add("bad-queue-v4", stream(versioned(queue, 4, u[queue].data)), errc::unit_version_too_new,
      errc::unit_version_too_new);
  // Version 0, which nothing saves, is refused before any driver code sees it.
  add("bad-queue-v0", stream(versioned(queue, 0, queue_old(1))), errc::stream_corrupted, errc::stream_corrupted);
  add("bad-queue-v1-trailing-byte", stream(versioned(queue, 1, queue_old(1, true))), errc::stream_corrupted,
      errc::stream_corrupted);
  add("bad-queue-v2-as-v1", stream(versioned(queue, 1, queue_old(2))), errc::stream_corrupted, errc::stream_corrupted);
  add("bad-disk-v1", stream(versioned(disk, 1, u[disk].data)), errc::unit_version_too_old, errc::unit_version_too_old);
  add("bad-ctl-v0", stream(versioned(ctl, 0, u[ctl].data)), errc::stream_corrupted, errc::stream_corrupted);
  add("bad-regs-v3", stream(versioned(regs, 3, u[regs].data)), errc::unit_version_too_new, errc::unit_version_too_new);
  add("bad-regs-v0", stream(versioned(regs, 0, regs_v1())), errc::stream_corrupted, errc::stream_corrupted);
  // The last unit fails after three were decoded (and must be discarded).
  add("bad-late-unit", stream(versioned(disk, 3, u[disk].data)), errc::unit_version_too_new,
      errc::unit_version_too_new);
  return seeds;
}

std::string outcome(const pdm::status& s) { return s ? "success" : s.error_value().message(); }
std::string outcome(std::optional<errc> e) { return e ? make_error_code(*e).message() : "success"; }

// Loads the seed into fresh rigs with both options; true when both outcomes are the expected ones.
bool verify(const seed& s) {
  bool good = true;
  auto check = [&](const pdm::load_options& o, std::optional<errc> expected, const char* which) {
    rig r;
    pdm::status got = r.vm.load_state(s.data, o);
    const bool as_expected = expected ? (!got && got.error_value() == *expected) : static_cast<bool>(got);
    if (!as_expected) {
      std::fprintf(stderr, "seed %s, %s options: expected %s, got %s\n", s.name.c_str(), which,
                   outcome(expected).c_str(), outcome(got).c_str());
      good = false;
    }
  };
  check({}, s.strict, "default");
  pdm::load_options lenient;
  lenient.unknown_unit = pdm::unknown_unit_policy::skip;
  lenient.missing_unit = pdm::missing_unit_policy::keep;
  check(lenient, s.lenient, "lenient");
  return good;
}

bool read_file(const fs::path& path, bytes& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  const std::vector<char> chars((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  out.resize(chars.size());
  if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
  return !f.bad();
}

bool write_file(const fs::path& path, const bytes& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(f.flush());
}

bool is_seed_name(const std::string& name) {
  for (const std::string_view prefix : {"valid-", "lenient-", "bad-"}) {
    if (name.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const bool check = argc == 3 && std::string_view(argv[1]) == "--check";
  if (argc != 2 && !check) {
    std::fprintf(stderr, "usage: %s [--check] <corpus directory>\n", argv[0]);
    return 2;
  }
  const fs::path dir(argv[argc - 1]);
  const std::vector<seed> seeds = make_seeds();
  bool good = true;
  std::size_t total = 0;
  for (const seed& s : seeds) {
    good = verify(s) && good;
    total += s.data.size();
  }
  if (!good) return 1;
  if (!check) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    for (const seed& s : seeds) {
      if (!write_file(dir / s.name, s.data)) {
        std::fprintf(stderr, "cannot write %s\n", (dir / s.name).c_str());
        return 1;
      }
    }
    std::printf("%zu seeds, %zu bytes, written to %s\n", seeds.size(), total, dir.c_str());
    return 0;
  }
  const std::string regenerate = std::string(" (regenerate: ") + argv[0] + " " + dir.string() + ")";
  for (const seed& s : seeds) {
    bytes on_disk;
    if (!read_file(dir / s.name, on_disk)) {
      std::fprintf(stderr, "seed %s is not in %s%s\n", s.name.c_str(), dir.c_str(), regenerate.c_str());
      good = false;
    } else if (on_disk != s.data) {
      std::fprintf(stderr, "seed %s in %s is out of date%s\n", s.name.c_str(), dir.c_str(), regenerate.c_str());
      good = false;
    }
  }
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_seed_name(name)) continue;
    bool made = false;
    for (const seed& s : seeds) made = made || s.name == name;
    if (!made) {
      std::fprintf(stderr, "%s in %s is no longer made by this program: remove it\n", name.c_str(), dir.c_str());
      good = false;
    }
  }
  if (ec) {
    std::fprintf(stderr, "cannot read %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  if (good) std::printf("%zu seeds, %zu bytes, all current in %s\n", seeds.size(), total, dir.c_str());
  return good ? 0 : 1;
}
