// benchmarks/interface.cpp - asking a live driver instance for one of its interfaces.
//
// Cases (the argument is the position of the requested interface in the driver's list of four
// provided interfaces: 0 = first, 3 = last, 4 = an interface the driver does not provide):
//   interface_query/pdm/K       type-erased: driver_object::query(interface_key<I>), a key scan
//   interface_query/baseline/K  base->query_interface(base, "<36-char UUID>"), one strcmp per
//                               provided interface in turn, through a function pointer
//   typed_query/pdm/K           pdm::query_interface<I>(driver) with the driver's type known
//   typed_query/baseline/K      the same baseline query as above (K = 0 and 3 only)
//   interface_query_uuid/...    as interface_query, but the baseline parses both UUID strings
//                               before comparing them, as the modern reference really does; the
//                               targets are judged on the cheaper strcmp baseline above
//
// Each iteration passes the instance and descriptor pointers and the requested key through
// benchmark::DoNotOptimize, so neither side can fold the query into a constant or hoist it out
// of the loop: each iteration really performs one query on an instance the compiler cannot see.
#include <pdm/driver/descriptor.hpp>
#include <pdm/driver/driver.hpp>
#include <pdm/driver/interface.hpp>
#include <pdm/driver/object.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "bench_main.hpp"
#include "seed_baseline.hpp"

namespace {

// ---------------------------------------------------------------------------------------------
// pdm: a driver class providing four interfaces.

struct media {
  static constexpr std::string_view interface_id = "pdm.bench.media/1";
  virtual std::uint64_t get_size() = 0;

 protected:
  ~media() = default;
};
struct mount {
  static constexpr std::string_view interface_id = "pdm.bench.mount/1";
  virtual bool is_mounted() = 0;

 protected:
  ~mount() = default;
};
struct block {
  static constexpr std::string_view interface_id = "pdm.bench.block/1";
  virtual std::uint32_t sector_size() = 0;

 protected:
  ~block() = default;
};
struct leds {
  static constexpr std::string_view interface_id = "pdm.bench.leds/1";
  virtual std::uint32_t query_led(std::uint32_t lun) = 0;

 protected:
  ~leds() = default;
};
struct network {  // provided by nobody here: the "missing" case asks for it
  static constexpr std::string_view interface_id = "pdm.bench.network/1";
  virtual void send() = 0;

 protected:
  ~network() = default;
};

class quad_driver final : public media, public mount, public block, public leds {
 public:
  static constexpr pdm::driver_traits traits{.name = "Quad",
                                             .description = "A driver providing four interfaces",
                                             .class_mask = pdm::driver_class::media | pdm::driver_class::block,
                                             .max_instances = 4};
  using provides = pdm::interface_list<media, mount, block, leds>;

  explicit quad_driver(pdm::driver_context& /*ctx*/) {}

  std::uint64_t get_size() override { return bytes_; }
  bool is_mounted() override { return true; }
  std::uint32_t sector_size() override { return 512; }
  std::uint32_t query_led(std::uint32_t lun) override { return lun; }

 private:
  std::uint64_t bytes_ = 1U << 20;
};

constexpr std::array<std::uint64_t, 5> requested_keys{pdm::interface_key<media>, pdm::interface_key<mount>,
                                                      pdm::interface_key<block>, pdm::interface_key<leds>,
                                                      pdm::interface_key<network>};
static_assert(pdm::descriptor_of<quad_driver>.provides.size() == 4);

// An instance made the way a chain manager makes one: a driver_object from the descriptor, with
// its interfaces resolved at construction.
pdm::driver_object make_quad() {
  pdm::result<pdm::driver_object> r = pdm::driver_object::create(pdm::descriptor_of<quad_driver>, 0);
  if (!r) std::abort();
  return std::move(r).value();
}

void* expected_pdm(void* instance, std::size_t which) {
  auto* d = static_cast<quad_driver*>(instance);
  switch (which) {
    case 0:
      return static_cast<media*>(d);
    case 1:
      return static_cast<mount*>(d);
    case 2:
      return static_cast<block*>(d);
    case 3:
      return static_cast<leds*>(d);
    default:
      return nullptr;
  }
}

void interface_query_pdm(benchmark::State& state) {
  const auto which = static_cast<std::size_t>(state.range(0));
  const pdm::driver_object q = make_quad();
  const pdm::driver_object* object = &q;
  std::uint64_t key = requested_keys.at(which);
  if (object->query(key) != expected_pdm(q.get(), which)) {
    state.SkipWithError("pdm query gave a wrong answer");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(object);
    benchmark::DoNotOptimize(key);
    void* found = object->query(key);
    benchmark::DoNotOptimize(found);
  }
}

template <class I>
void typed_query_pdm(benchmark::State& state) {
  const pdm::driver_object q = make_quad();
  auto* driver = static_cast<quad_driver*>(q.get());
  for (auto _ : state) {
    benchmark::DoNotOptimize(driver);
    I* found = &pdm::query_interface<I>(*driver);
    benchmark::DoNotOptimize(found);
  }
}

// ---------------------------------------------------------------------------------------------
// Baseline: query function with strcmp over UUID strings.

constexpr std::array<const char*, 5> iid_literals{seed::media_iid, seed::mount_iid, seed::block_iid, seed::leds_iid,
                                                  seed::network_iid};

void* expected_seed(seed::quad_instance& q, std::size_t which) {
  switch (which) {
    case 0:
      return &q.media;
    case 1:
      return &q.mount;
    case 2:
      return &q.block;
    case 3:
      return &q.leds;
    default:
      return nullptr;
  }
}

void run_query_baseline(benchmark::State& state, bool parse_uuids) {
  const auto which = static_cast<std::size_t>(state.range(0));
  const auto q = std::make_unique<seed::quad_instance>();
  seed::init_quad_instance(*q, parse_uuids);
  // The caller's copy of the id, as a different module would hold it (a different address).
  const std::string requested(iid_literals.at(which));
  const char* iid = requested.c_str();
  seed::base_interface* base = &q->base;
  if (base->query_interface(base, iid) != expected_seed(*q, which)) {
    state.SkipWithError("baseline query gave a wrong answer");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(base);
    benchmark::DoNotOptimize(iid);
    void* found = base->query_interface(base, iid);
    benchmark::DoNotOptimize(found);
  }
}

void query_baseline(benchmark::State& state) { run_query_baseline(state, false); }
void query_baseline_parsed(benchmark::State& state) { run_query_baseline(state, true); }

void register_all() {
  for (int which : {0, 1, 2, 3, 4}) {
    benchmark::RegisterBenchmark("interface_query/pdm", interface_query_pdm)->Arg(which);
    benchmark::RegisterBenchmark("interface_query/baseline", query_baseline)->Arg(which);
  }
  for (int which : {0, 3, 4}) {
    benchmark::RegisterBenchmark("interface_query_uuid/pdm", interface_query_pdm)->Arg(which);
    benchmark::RegisterBenchmark("interface_query_uuid/baseline", query_baseline_parsed)->Arg(which);
  }
  benchmark::RegisterBenchmark("typed_query/pdm/0", typed_query_pdm<media>);
  benchmark::RegisterBenchmark("typed_query/baseline", query_baseline)->Arg(0);
  benchmark::RegisterBenchmark("typed_query/pdm/3", typed_query_pdm<leds>);
  benchmark::RegisterBenchmark("typed_query/baseline", query_baseline)->Arg(3);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return pdm_bench::run_benchmarks(argc, argv);
}
