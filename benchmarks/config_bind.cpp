// benchmarks/config_bind.cpp - reading a driver's 20-key config: pdm::bind against the seed's way.
//
// Cases:
//   config_bind/pdm        pdm::bind<vd_config>(node): every key read, type- and range-checked, an
//                          unknown-key check, defaults from the struct, the result a struct
//   config_bind/baseline   what a 2008 driver constructor does with the same config: the value
//                          names checked against a list (CFGMR3AreValuesValid), then one query per
//                          key with its default (CFGMR3QueryU32Def, ...BoolDef,
//                          ...StringAllocDef), a range check where the type needs one, the enum
//                          read as a string and compared with each name, the strings freed
//
// The Config node holds 12 of the 20 keys (the rest take their defaults), as a disk's usually
// does. Both sides produce the same values, checked before timing.
#include <pdm/config/binding.hpp>
#include <pdm/config/tree.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench_main.hpp"
#include "seed_baseline.hpp"

namespace bench {

enum class cache_mode { none, write_through, write_back };
BOOST_DESCRIBE_ENUM(cache_mode, none, write_through, write_back)

struct vd_config {
  std::string path;
  std::string format = "VDI";
  std::string type = "HardDisk";
  std::string parent_path;
  bool read_only = false;
  bool mountable = false;
  bool locked = false;
  bool use_new_io = true;
  bool discard = false;
  bool non_rotational = false;
  std::uint32_t block_size = 512;
  std::uint32_t max_requests = 64;
  std::uint16_t port = 0;
  std::uint8_t lun = 0;
  std::uint64_t size = 0;
  std::uint64_t cache_size = 0;
  std::uint32_t flush_interval = 0;
  std::uint32_t flush_threshold = 0;
  std::uint32_t pci_device = 0;
  cache_mode cache = cache_mode::write_back;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "path", .required = true},
      {.member = "block_size", .min = 512, .max = 65536},
      {.member = "port", .max = 29},
  };
};

}  // namespace bench

BOOST_HANA_ADAPT_STRUCT(bench::vd_config, path, format, type, parent_path, read_only, mountable, locked, use_new_io,
                        discard, non_rotational, block_size, max_requests, port, lun, size, cache_size, flush_interval,
                        flush_threshold, pci_device, cache);

namespace {

// The 12 keys the node holds.
void fill(pdm::config_node& n) {
  (void)n.add_value("Path", "/var/lib/vm/disk0.vdi");
  (void)n.add_value("Format", "VDI");
  (void)n.add_value("Type", "HardDisk");
  (void)n.add_value("ReadOnly", false);
  (void)n.add_value("Mountable", true);
  (void)n.add_value("UseNewIo", true);
  (void)n.add_value("BlockSize", 4096);
  (void)n.add_value("Port", 3);
  (void)n.add_value("Size", std::uint64_t{64} << 30);
  (void)n.add_value("CacheSize", 8U << 20);
  (void)n.add_value("PciDevice", 13);
  (void)n.add_value("Cache", "write_through");
}

void fill(seed::cfg_node* n) {
  (void)seed::cfg_insert_string(n, "Path", "/var/lib/vm/disk0.vdi");
  (void)seed::cfg_insert_string(n, "Format", "VDI");
  (void)seed::cfg_insert_string(n, "Type", "HardDisk");
  (void)seed::cfg_insert_integer(n, "ReadOnly", 0);
  (void)seed::cfg_insert_integer(n, "Mountable", 1);
  (void)seed::cfg_insert_integer(n, "UseNewIo", 1);
  (void)seed::cfg_insert_integer(n, "BlockSize", 4096);
  (void)seed::cfg_insert_integer(n, "Port", 3);
  (void)seed::cfg_insert_integer(n, "Size", std::uint64_t{64} << 30);
  (void)seed::cfg_insert_integer(n, "CacheSize", 8U << 20);
  (void)seed::cfg_insert_integer(n, "PciDevice", 13);
  (void)seed::cfg_insert_string(n, "Cache", "write_through");
}

// The seed's driver constructor reading its config into the same struct (its strings are heap
// copies; here they end up in the struct's std::string members, and the copies are freed).
int read_seed_style(const seed::cfg_node* n, bench::vd_config& out) {
  if (!seed::cfg_are_values_valid(n,
                                  "Path\0Format\0Type\0ParentPath\0ReadOnly\0Mountable\0Locked\0UseNewIo\0"
                                  "Discard\0NonRotational\0BlockSize\0MaxRequests\0Port\0Lun\0Size\0CacheSize\0"
                                  "FlushInterval\0FlushThreshold\0PciDevice\0Cache\0")) {
    return -1;
  }
  auto take = [](char* copy, std::string& into) {
    into.assign(copy);
    std::free(copy);  // NOLINT(*-no-malloc,*-owning-memory)
  };
  char* text = nullptr;
  if (seed::cfg_query_string_alloc_def(n, "Path", &text, "") != seed::cfg_ok) return -2;
  take(text, out.path);
  if (out.path.empty()) return -3;  // required
  if (seed::cfg_query_string_alloc_def(n, "Format", &text, "VDI") != seed::cfg_ok) return -2;
  take(text, out.format);
  if (seed::cfg_query_string_alloc_def(n, "Type", &text, "HardDisk") != seed::cfg_ok) return -2;
  take(text, out.type);
  if (seed::cfg_query_string_alloc_def(n, "ParentPath", &text, "") != seed::cfg_ok) return -2;
  take(text, out.parent_path);
  if (seed::cfg_query_bool_def(n, "ReadOnly", &out.read_only, false) != seed::cfg_ok) return -4;
  if (seed::cfg_query_bool_def(n, "Mountable", &out.mountable, false) != seed::cfg_ok) return -4;
  if (seed::cfg_query_bool_def(n, "Locked", &out.locked, false) != seed::cfg_ok) return -4;
  if (seed::cfg_query_bool_def(n, "UseNewIo", &out.use_new_io, true) != seed::cfg_ok) return -4;
  if (seed::cfg_query_bool_def(n, "Discard", &out.discard, false) != seed::cfg_ok) return -4;
  if (seed::cfg_query_bool_def(n, "NonRotational", &out.non_rotational, false) != seed::cfg_ok) return -4;
  if (seed::cfg_query_unsigned_def<std::uint32_t>(n, "BlockSize", &out.block_size, 512) != seed::cfg_ok) return -5;
  if (out.block_size < 512 || out.block_size > 65536) return -6;
  if (seed::cfg_query_unsigned_def<std::uint32_t>(n, "MaxRequests", &out.max_requests, 64) != seed::cfg_ok) return -5;
  if (seed::cfg_query_unsigned_def<std::uint16_t>(n, "Port", &out.port, 0) != seed::cfg_ok) return -5;
  if (out.port > 29) return -6;
  if (seed::cfg_query_unsigned_def<std::uint8_t>(n, "Lun", &out.lun, 0) != seed::cfg_ok) return -5;
  if (seed::cfg_query_integer_def(n, "Size", &out.size, 0) != seed::cfg_ok) return -5;
  if (seed::cfg_query_integer_def(n, "CacheSize", &out.cache_size, 0) != seed::cfg_ok) return -5;
  if (seed::cfg_query_unsigned_def<std::uint32_t>(n, "FlushInterval", &out.flush_interval, 0) != seed::cfg_ok)
    return -5;
  if (seed::cfg_query_unsigned_def<std::uint32_t>(n, "FlushThreshold", &out.flush_threshold, 0) != seed::cfg_ok) {
    return -5;
  }
  if (seed::cfg_query_unsigned_def<std::uint32_t>(n, "PciDevice", &out.pci_device, 0) != seed::cfg_ok) return -5;
  if (seed::cfg_query_string_alloc_def(n, "Cache", &text, "write_back") != seed::cfg_ok) return -2;
  const char* names[] = {"none", "write_through", "write_back"};
  int found = -1;
  for (int i = 0; i < 3; ++i) {
    if (std::strcmp(text, names[i]) == 0) found = i;
  }
  std::free(text);  // NOLINT(*-no-malloc,*-owning-memory)
  if (found < 0) return -7;
  out.cache = static_cast<bench::cache_mode>(found);
  return 0;
}

bool same(const bench::vd_config& a, const bench::vd_config& b) {
  return a.path == b.path && a.format == b.format && a.type == b.type && a.parent_path == b.parent_path &&
         a.read_only == b.read_only && a.mountable == b.mountable && a.locked == b.locked &&
         a.use_new_io == b.use_new_io && a.discard == b.discard && a.non_rotational == b.non_rotational &&
         a.block_size == b.block_size && a.max_requests == b.max_requests && a.port == b.port && a.lun == b.lun &&
         a.size == b.size && a.cache_size == b.cache_size && a.flush_interval == b.flush_interval &&
         a.flush_threshold == b.flush_threshold && a.pci_device == b.pci_device && a.cache == b.cache;
}

void config_bind_pdm(benchmark::State& state) {
  pdm::config_tree tree;
  pdm::config_node& node = **tree->ensure_child("Devices/ahci/0/LUN#0/AttachedDriver/Config");
  fill(node);
  const pdm::config_node* n = &node;
  pdm::result<bench::vd_config> check = pdm::bind<bench::vd_config>(*n);
  if (!check || check->cache != bench::cache_mode::write_through || check->block_size != 4096) {
    state.SkipWithError("pdm bind gave a wrong answer");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(n);
    pdm::result<bench::vd_config> r = pdm::bind<bench::vd_config>(*n);
    benchmark::DoNotOptimize(r);
  }
}

void config_bind_baseline(benchmark::State& state) {
  seed::cfg_tree tree;
  seed::cfg_node* node = tree.root();
  for (const char* name : {"Devices", "ahci", "0", "LUN#0", "AttachedDriver", "Config"}) {
    seed::cfg_node* child = nullptr;
    (void)seed::cfg_insert_node(node, name, &child);
    node = child;
  }
  fill(node);
  const seed::cfg_node* n = node;
  pdm::config_tree reference;
  fill(reference.root());
  bench::vd_config got;
  if (read_seed_style(n, got) != 0 || !same(got, *pdm::bind<bench::vd_config>(reference.root()))) {
    state.SkipWithError("baseline gave a wrong answer");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(n);
    bench::vd_config out;
    const int rc = read_seed_style(n, out);
    benchmark::DoNotOptimize(rc);
    benchmark::DoNotOptimize(out);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("config_bind/pdm", &config_bind_pdm);
  benchmark::RegisterBenchmark("config_bind/baseline", &config_bind_baseline);
  return pdm_bench::run_benchmarks(argc, argv);
}
