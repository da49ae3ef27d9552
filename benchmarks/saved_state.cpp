// benchmarks/saved_state.cpp - saving and loading 64 MiB of driver state across 1,000 units:
// pdm's VM save and load against the 2008 saved-state manager's put/get calls, and against
// copying the same bytes with memcpy.
//
// Cases (no arguments):
//   state_save_load/pdm        a pdm::vm with 1,000 driver instances (one device, 1,000 LUNs),
//                              each with an aggregate saved_state of 64 KiB; one iteration is
//                              vm.save_state(buffer) then vm.load_state(buffer): the stream
//                              header, per unit a header with its own CRC, the data encoded
//                              from the aggregate's fields (found by Boost.PFR) and a CRC-32C of
//                              it, the end marker; then the whole stream checked (every CRC,
//                              every length) and every unit decoded into a fresh saved_state
//                              before the drivers take them
//   state_save_load/baseline   the 2008 way: per unit, one put call per field through a table of
//                              function pointers (PutU64, PutU32, PutU16, PutU8, PutMem), each
//                              checking the room left and appending to the stream buffer, with a
//                              unit header (name, instance, version, length); a CRC-32 (IEEE,
//                              byte-wise table, as the 2008 runtime computed it) over the whole
//                              stream at the end of the save, checked before the load; the load
//                              then one get call per field back into the driver's state
//   state_save_load/minimum    memcpy of each unit's bytes into the buffer and back: what any
//                              save and load of this state must at least do
//
// The state of each unit (65,536 bytes of data):
//   - a header: generation (uint64), flags (uint32), status (uint16), mode (uint8),
//     revision (uint8): 16 bytes
//   - std::vector<entry>, 1,024 entries of 16 bytes: lba (uint64), length (uint32),
//     tag (uint16), kind (uint8), queue (uint8)
//   - std::vector<std::uint8_t>, 49,136 bytes of buffer contents (plus its 8-byte count)
// so 64 MiB in all (1,000 x 64 KiB = 62.5 MiB of data, 65.5 MB; bytes_per_second counts the
// data saved and loaded, twice the state's size per iteration). The entry table is a run of
// padding-free aggregates of integers, which pdm copies in one piece; a table with a bool or
// a string in each entry is encoded field by field instead (see benchmarks/README.md).
//
// Each case runs one untimed save and load before the timed ones, so that each measures a VMM
// saving and loading again (its buffers grown, its pages touched), not the first touch of 128 MiB
// of fresh memory: on a virtual machine whose page faults are slow, that first iteration alone
// can outweigh the others of a short run (measured: medians of 250-400 ms instead of 12-20 ms in
// some processes of the same binary).
#include <pdm/chain/vm.hpp>
#include <pdm/config/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench_main.hpp"

namespace bench {

constexpr std::size_t units = 1000;
constexpr std::size_t entries_per_unit = 1024;
constexpr std::size_t buffer_bytes = 65536 - 16 - entries_per_unit * 16 - 8 * 2;  // two counts

struct entry {
  std::uint64_t lba = 0;
  std::uint32_t length = 0;
  std::uint16_t tag = 0;
  std::uint8_t kind = 0;
  std::uint8_t queue = 0;
};
static_assert(sizeof(entry) == 16);

struct unit_state {
  std::uint64_t generation = 0;
  std::uint32_t flags = 0;
  std::uint16_t status = 0;
  std::uint8_t mode = 0;
  std::uint8_t revision = 0;
  std::vector<entry> entries;
  std::vector<std::uint8_t> buffer;
};

// The same contents for every side: unit u's state, filled from a simple generator.
unit_state make_state(std::size_t u) {
  unit_state s;
  std::uint64_t x = 0x9e3779b97f4a7c15ULL * (u + 1);
  auto next = [&x] {
    x ^= x << 13U;
    x ^= x >> 7U;
    x ^= x << 17U;
    return x;
  };
  s.generation = next();
  s.flags = static_cast<std::uint32_t>(next());
  s.status = static_cast<std::uint16_t>(next());
  s.mode = static_cast<std::uint8_t>(next());
  s.revision = static_cast<std::uint8_t>(next());
  s.entries.resize(entries_per_unit);
  for (entry& e : s.entries) {
    e = entry{next(), static_cast<std::uint32_t>(next()), static_cast<std::uint16_t>(next()),
              static_cast<std::uint8_t>(next()), static_cast<std::uint8_t>(next())};
  }
  s.buffer.resize(buffer_bytes);
  for (std::uint8_t& b : s.buffer) b = static_cast<std::uint8_t>(next());
  return s;
}

bool same(const unit_state& a, const unit_state& b) {
  return a.generation == b.generation && a.flags == b.flags && a.status == b.status && a.mode == b.mode &&
         a.revision == b.revision && a.entries.size() == b.entries.size() &&
         std::memcmp(a.entries.data(), b.entries.data(), a.entries.size() * sizeof(entry)) == 0 && a.buffer == b.buffer;
}

constexpr double bytes_per_iteration() {
  // The data saved and loaded: every field once each way.
  return 2.0 * static_cast<double>(units) * (16.0 + entries_per_unit * 16.0 + static_cast<double>(buffer_bytes));
}

// ---------------------------------------------------------------------------------------------
// pdm: a VM with 1,000 instances of a driver with a saved_state.

struct stateful_tag {
  static constexpr std::string_view interface_id = "bench.state.tag/1";
};

class stateful final : public stateful_tag {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Stateful", .description = "Holds 64 KiB of saved state", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<stateful_tag>;
  using saved_state = unit_state;
  static constexpr std::uint32_t saved_state_version = 1;
  explicit stateful(pdm::driver_context& /*ctx*/) {}
  saved_state& saved() { return state; }
  saved_state state;
};

std::string vm_config() {
  std::string json = R"({"Devices": {"dev": {"0": {)";
  for (std::size_t i = 0; i < units; ++i) {
    if (i != 0) json += ",";
    json += "\"LUN#" + std::to_string(i) + "\": {\"Driver\": \"Stateful\"}";
  }
  json += "}}}}";
  return json;
}

void save_load_pdm(benchmark::State& state) {
  pdm::registry drivers;
  pdm::result<pdm::config_tree> config = pdm::load_json(vm_config());
  if (!drivers.add(pdm::driver_list<stateful>{}) || !config) {
    state.SkipWithError("pdm: the driver or the config does not load");
    return;
  }
  pdm::vm_options options;
  options.emt = pdm::emt_mode::current_thread;
  pdm::vm vm(std::move(drivers), std::move(config).value(), options);
  pdm::device_spec d{.name = "dev", .instance = 0};
  for (std::size_t i = 0; i < units; ++i) {
    d.luns.push_back(pdm::lun_spec{.number = static_cast<std::uint32_t>(i), .needs = pdm::interfaces<stateful_tag>()});
  }
  if (!vm.add_device(std::move(d)) || !vm.attach_all()) {
    state.SkipWithError("pdm: the VM does not attach its drivers");
    return;
  }
  std::vector<stateful*> instances;
  for (std::size_t i = 0; i < units; ++i) {
    pdm::result<pdm::driver_ref> r = vm.driver_on_lun("dev", 0, static_cast<std::uint32_t>(i));
    if (!r) {
      state.SkipWithError("pdm: a LUN has no driver");
      return;
    }
    instances.push_back(static_cast<stateful*>(r->get()));
    instances.back()->state = make_state(i);
  }
  std::vector<std::byte> stream;
  std::uint64_t failures = 0;
  auto cycle = [&] {
    stream.clear();  // keeps its capacity, as a VMM saving again would
    if (!vm.save_state(stream) || !vm.load_state(stream)) ++failures;
    benchmark::DoNotOptimize(stream.data());
  };
  cycle();  // untimed: the stream's first growth (see warm-up in the header comment)
  for (auto _ : state) cycle();
  for (std::size_t i = 0; i < units; ++i) {
    if (!same(instances[i]->state, make_state(i))) ++failures;
  }
  if (failures != 0) state.SkipWithError("pdm: a save or load failed, or a state changed");
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_iteration() * static_cast<double>(state.iterations())));
  state.counters["stream_bytes"] = static_cast<double>(stream.size());
}

// ---------------------------------------------------------------------------------------------
// The baseline: the 2008 saved-state manager's put/get calls.

namespace seed {

// The stream handle the put/get helpers took: a buffer, where the unit being written or read
// is, and a failure status that sticks.
struct ssm_handle {
  std::vector<std::uint8_t>* buffer = nullptr;
  std::size_t offset = 0;  // the read position
  int rc = 0;              // 0 = success, < 0 = failure
};

// Appends n bytes, growing the buffer: what every put came down to.
int ssm_write(ssm_handle* h, const void* p, std::size_t n) {
  if (h->rc < 0) return h->rc;
  const std::size_t at = h->buffer->size();
  h->buffer->resize(at + n);
  std::memcpy(h->buffer->data() + at, p, n);
  return 0;
}
int ssm_read(ssm_handle* h, void* p, std::size_t n) {
  if (h->rc < 0) return h->rc;
  if (n > h->buffer->size() - h->offset) return h->rc = -1;  // the 2008 "loaded too much" status
  std::memcpy(p, h->buffer->data() + h->offset, n);
  h->offset += n;
  return 0;
}

int put_u64(ssm_handle* h, std::uint64_t v) { return ssm_write(h, &v, sizeof v); }
int put_u32(ssm_handle* h, std::uint32_t v) { return ssm_write(h, &v, sizeof v); }
int put_u16(ssm_handle* h, std::uint16_t v) { return ssm_write(h, &v, sizeof v); }
int put_u8(ssm_handle* h, std::uint8_t v) { return ssm_write(h, &v, sizeof v); }
int put_mem(ssm_handle* h, const void* p, std::size_t n) { return ssm_write(h, p, n); }
int get_u64(ssm_handle* h, std::uint64_t* v) { return ssm_read(h, v, sizeof *v); }
int get_u32(ssm_handle* h, std::uint32_t* v) { return ssm_read(h, v, sizeof *v); }
int get_u16(ssm_handle* h, std::uint16_t* v) { return ssm_read(h, v, sizeof *v); }
int get_u8(ssm_handle* h, std::uint8_t* v) { return ssm_read(h, v, sizeof *v); }
int get_mem(ssm_handle* h, void* p, std::size_t n) { return ssm_read(h, p, n); }

// The helper table a device or driver called through.
struct ssm_helpers {
  int (*put_u64)(ssm_handle*, std::uint64_t);
  int (*put_u32)(ssm_handle*, std::uint32_t);
  int (*put_u16)(ssm_handle*, std::uint16_t);
  int (*put_u8)(ssm_handle*, std::uint8_t);
  int (*put_mem)(ssm_handle*, const void*, std::size_t);
  int (*get_u64)(ssm_handle*, std::uint64_t*);
  int (*get_u32)(ssm_handle*, std::uint32_t*);
  int (*get_u16)(ssm_handle*, std::uint16_t*);
  int (*get_u8)(ssm_handle*, std::uint8_t*);
  int (*get_mem)(ssm_handle*, void*, std::size_t);
};
constexpr ssm_helpers helpers{&put_u64, &put_u32, &put_u16, &put_u8, &put_mem,
                              &get_u64, &get_u32, &get_u16, &get_u8, &get_mem};

// CRC-32 (IEEE 802.3, reflected 0xEDB88320), one table look-up per byte.
constexpr std::array<std::uint32_t, 256> crc32_table = [] {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1U) : c >> 1U;
    t[i] = c;
  }
  return t;
}();
std::uint32_t crc32(const std::uint8_t* p, std::size_t n) {
  std::uint32_t c = 0xFFFFFFFFU;
  for (std::size_t i = 0; i < n; ++i) c = crc32_table[(c ^ p[i]) & 0xFFU] ^ (c >> 8U);
  return c ^ 0xFFFFFFFFU;
}

// A unit's save and load exec callbacks, field by field.
int save_exec(const ssm_helpers* hlp, ssm_handle* h, const unit_state& s) {
  hlp->put_u64(h, s.generation);
  hlp->put_u32(h, s.flags);
  hlp->put_u16(h, s.status);
  hlp->put_u8(h, s.mode);
  hlp->put_u8(h, s.revision);
  hlp->put_u32(h, static_cast<std::uint32_t>(s.entries.size()));
  for (const entry& e : s.entries) {
    hlp->put_u64(h, e.lba);
    hlp->put_u32(h, e.length);
    hlp->put_u16(h, e.tag);
    hlp->put_u8(h, e.kind);
    hlp->put_u8(h, e.queue);
  }
  hlp->put_u32(h, static_cast<std::uint32_t>(s.buffer.size()));
  return hlp->put_mem(h, s.buffer.data(), s.buffer.size());
}
int load_exec(const ssm_helpers* hlp, ssm_handle* h, unit_state& s) {
  hlp->get_u64(h, &s.generation);
  hlp->get_u32(h, &s.flags);
  hlp->get_u16(h, &s.status);
  hlp->get_u8(h, &s.mode);
  hlp->get_u8(h, &s.revision);
  std::uint32_t n = 0;
  if (hlp->get_u32(h, &n) < 0 || n > entries_per_unit * 4) return -1;
  s.entries.resize(n);
  for (entry& e : s.entries) {
    hlp->get_u64(h, &e.lba);
    hlp->get_u32(h, &e.length);
    hlp->get_u16(h, &e.tag);
    hlp->get_u8(h, &e.kind);
    hlp->get_u8(h, &e.queue);
  }
  if (hlp->get_u32(h, &n) < 0 || n > buffer_bytes * 4) return -1;
  s.buffer.resize(n);
  return hlp->get_mem(h, s.buffer.data(), n);
}

// The unit header the 2008 stream had before each unit's data.
struct unit_header {
  char name[32];
  std::uint32_t instance;
  std::uint32_t version;
  std::uint64_t length;
};

}  // namespace seed

void save_load_baseline(benchmark::State& state) {
  std::vector<unit_state> devices;
  devices.reserve(units);
  for (std::size_t i = 0; i < units; ++i) devices.push_back(make_state(i));
  const seed::ssm_helpers* hlp = &seed::helpers;
  benchmark::DoNotOptimize(hlp);  // reached through memory, as a driver reached its helper table
  std::vector<std::uint8_t> stream;
  std::uint64_t failures = 0;
  auto cycle = [&] {
    stream.clear();
    seed::ssm_handle h{&stream, 0, 0};
    for (std::size_t i = 0; i < units; ++i) {
      seed::unit_header uh{};
      std::memcpy(uh.name, "Stateful", 9);
      uh.instance = static_cast<std::uint32_t>(i);
      uh.version = 1;
      const std::size_t header_at = stream.size();
      seed::ssm_write(&h, &uh, sizeof uh);
      const std::size_t data_at = stream.size();
      seed::save_exec(hlp, &h, devices[i]);
      uh.length = stream.size() - data_at;
      std::memcpy(stream.data() + header_at, &uh, sizeof uh);
    }
    const std::uint32_t crc = seed::crc32(stream.data(), stream.size());
    seed::ssm_write(&h, &crc, sizeof crc);
    // Load: the CRC first, then each unit's fields.
    if (seed::crc32(stream.data(), stream.size() - sizeof crc) != crc) ++failures;
    h.offset = 0;
    for (std::size_t i = 0; i < units; ++i) {
      seed::unit_header uh{};
      if (seed::ssm_read(&h, &uh, sizeof uh) < 0 || uh.instance != i) ++failures;
      if (seed::load_exec(hlp, &h, devices[i]) < 0) ++failures;
    }
    benchmark::DoNotOptimize(stream.data());
  };
  cycle();  // untimed, as for pdm
  for (auto _ : state) cycle();
  for (std::size_t i = 0; i < units; ++i) {
    if (!same(devices[i], make_state(i))) ++failures;
  }
  if (failures != 0) state.SkipWithError("baseline: a save or load failed, or a state changed");
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_iteration() * static_cast<double>(state.iterations())));
}

// ---------------------------------------------------------------------------------------------
// The minimum: the bytes of each unit copied out and back.

void save_load_minimum(benchmark::State& state) {
  std::vector<unit_state> devices;
  devices.reserve(units);
  for (std::size_t i = 0; i < units; ++i) devices.push_back(make_state(i));
  constexpr std::size_t header = 16;
  constexpr std::size_t table = entries_per_unit * sizeof(entry);
  constexpr std::size_t per_unit = header + table + buffer_bytes;
  std::vector<std::uint8_t> stream(units * per_unit);
  auto cycle = [&] {
    std::uint8_t* p = stream.data();
    for (const unit_state& s : devices) {
      std::memcpy(p, &s.generation, 8);
      std::memcpy(p + 8, &s.flags, 4);
      std::memcpy(p + 12, &s.status, 2);
      std::memcpy(p + 14, &s.mode, 1);
      std::memcpy(p + 15, &s.revision, 1);
      std::memcpy(p + header, s.entries.data(), table);
      std::memcpy(p + header + table, s.buffer.data(), buffer_bytes);
      p += per_unit;
    }
    benchmark::ClobberMemory();
    const std::uint8_t* q = stream.data();
    for (unit_state& s : devices) {
      std::memcpy(&s.generation, q, 8);
      std::memcpy(&s.flags, q + 8, 4);
      std::memcpy(&s.status, q + 12, 2);
      std::memcpy(&s.mode, q + 14, 1);
      std::memcpy(&s.revision, q + 15, 1);
      std::memcpy(s.entries.data(), q + header, table);
      std::memcpy(s.buffer.data(), q + header + table, buffer_bytes);
      q += per_unit;
    }
    benchmark::ClobberMemory();
  };
  cycle();  // untimed, as for pdm
  for (auto _ : state) cycle();
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_iteration() * static_cast<double>(state.iterations())));
}

void register_all() {
  benchmark::RegisterBenchmark("state_save_load/pdm", &save_load_pdm)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("state_save_load/baseline", &save_load_baseline)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("state_save_load/minimum", &save_load_minimum)->Unit(benchmark::kMillisecond);
}

}  // namespace bench

int main(int argc, char** argv) {
  bench::register_all();
  return pdm_bench::run_benchmarks(argc, argv);
}
