// benchmarks/helpers.cpp - what calling a driver helper costs: pdm's context against the 2008
// manager's helper table, and against doing the same work directly.
//
// Cases (the argument picks the helper):
//   helper_call/pdm/<h>        a driver's ctx.<helper>() in a running pdm::vm
//   helper_call/baseline/<h>   the 2008 way: pDrvIns->pHlp->pfn<Helper>(pDrvIns), a call through a
//                              function-pointer table that reaches the VM through the instance
//   helper_call/minimum/<h>    the helper's work written inline, with no call layer at all
//
// Helpers: 0 = the virtual clock's time (`now(virtual_time)` / pfnTMGetVirtualTime),
//          1 = the VM's state (`vm_state()` / pfnVMState),
//          2 = the EMT check (`assert_emt()` / pfnAssertEMT), called on the EMT.
//
// The same work on each side: the virtual time is read from one steady_clock reading and a
// running clock's offset (pdm's clock also keeps the value it returned last, so that it never
// goes back, and re-reads its state word to make a concurrent pause safe; the 2008 clock did
// neither); the state is one atomic load; the EMT check compares the calling thread with the
// EMT's. pdm reaches its VM through a virtual call on the context's host, the baseline through
// a function pointer and the instance's back pointer.
#include <pdm/chain/vm.hpp>
#include <pdm/config/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>

#include "bench_main.hpp"

namespace bench {

// ---------------------------------------------------------------------------------------------
// pdm: one driver in a running VM; the benchmark calls its context's helpers.

struct tag {
  static constexpr std::string_view interface_id = "bench.helpers.tag/1";
};

class probe final : public tag {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Probe", .description = "Lends its context to the benchmark", .class_mask = pdm::driver_class::status};
  using provides = pdm::interface_list<tag>;
  explicit probe(pdm::driver_context& c) : ctx(c) {}
  pdm::driver_context& ctx;
};

// ---------------------------------------------------------------------------------------------
// The baseline: the 2008 helper table and what its three helpers did.

namespace seed {
struct drv_ins;
struct machine {
  std::atomic<int> state{0};
  std::thread::id emt;
  // The 2008 virtual clock: ticking or frozen, offset from the host's monotonic time.
  bool ticking = false;
  std::uint64_t offset = 0;
  std::uint64_t frozen = 0;
};
struct drv_hlp {
  std::uint64_t (*tm_get_virtual_time)(drv_ins*);
  int (*vm_state)(drv_ins*);
  bool (*assert_emt)(drv_ins*, const char*, unsigned, const char*);
};
struct drv_ins {
  const drv_hlp* hlp;
  machine* vm;
};

inline std::uint64_t host_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}
inline std::uint64_t virtual_get(const machine& m) noexcept { return m.ticking ? host_ns() - m.offset : m.frozen; }
std::uint64_t hlp_tm_get_virtual_time(drv_ins* d) { return virtual_get(*d->vm); }
int hlp_vm_state(drv_ins* d) { return d->vm->state.load(std::memory_order_acquire); }
bool hlp_assert_emt(drv_ins* d, const char* /*file*/, unsigned /*line*/, const char* /*function*/) {
  return std::this_thread::get_id() == d->vm->emt;  // the failure path (a message) is not taken
}
constexpr drv_hlp helpers{&hlp_tm_get_virtual_time, &hlp_vm_state, &hlp_assert_emt};
}  // namespace seed

// ---------------------------------------------------------------------------------------------

pdm::config_tree chain_config() {
  pdm::result<pdm::config_tree> t = pdm::load_json(R"({"Devices": {"dev": {"0": {"LUN#0": {"Driver": "Probe"}}}}})");
  return t ? std::move(t).value() : pdm::config_tree{};
}

void helper_pdm(benchmark::State& state) {
  pdm::vm_options o;
  o.emt = pdm::emt_mode::current_thread;
  pdm::registry drivers;
  if (!drivers.add(pdm::driver_list<probe>{})) {
    state.SkipWithError("pdm: the driver does not register");
    return;
  }
  pdm::vm vm(std::move(drivers), chain_config(), o);
  pdm::device_spec d{.name = "dev", .instance = 0};
  d.luns.push_back(pdm::lun_spec{.number = 0, .needs = pdm::interfaces<tag>()});
  pdm::result<pdm::driver_ref> made = vm.add_device(std::move(d)) ? vm.attach("dev", 0, 0) : pdm::errc::internal_error;
  if (!made || !vm.power_on()) {
    state.SkipWithError("pdm: the VM does not start");
    return;
  }
  pdm::driver_context& ctx = static_cast<probe*>(made->get())->ctx;
  if (ctx.vm_state() != pdm::vm_state::running || !ctx.assert_emt()) {
    state.SkipWithError("pdm: the helpers answer wrongly");
    return;
  }
  switch (state.range(0)) {
    case 0:
      for (auto _ : state) benchmark::DoNotOptimize(ctx.now(pdm::clock_kind::virtual_time));
      break;
    case 1:
      for (auto _ : state) benchmark::DoNotOptimize(ctx.vm_state());
      break;
    default:
      for (auto _ : state) benchmark::DoNotOptimize(ctx.assert_emt());
      break;
  }
  state.SetItemsProcessed(state.iterations());
}

void helper_baseline(benchmark::State& state) {
  seed::machine vm;
  vm.emt = std::this_thread::get_id();
  vm.state.store(5);  // running
  vm.ticking = true;
  vm.offset = seed::host_ns();
  seed::drv_ins ins{&seed::helpers, &vm};
  seed::drv_ins* d = &ins;
  benchmark::DoNotOptimize(d);  // the table is reached through memory, as a driver reached it
  if (!d->hlp->assert_emt(d, __FILE__, __LINE__, "helper_baseline")) {
    state.SkipWithError("baseline: the EMT check fails on the EMT");
    return;
  }
  switch (state.range(0)) {
    case 0:
      for (auto _ : state) benchmark::DoNotOptimize(d->hlp->tm_get_virtual_time(d));
      break;
    case 1:
      for (auto _ : state) benchmark::DoNotOptimize(d->hlp->vm_state(d));
      break;
    default:
      for (auto _ : state) benchmark::DoNotOptimize(d->hlp->assert_emt(d, __FILE__, __LINE__, "helper_baseline"));
      break;
  }
  state.SetItemsProcessed(state.iterations());
}

void helper_minimum(benchmark::State& state) {
  seed::machine vm;
  vm.emt = std::this_thread::get_id();
  vm.state.store(5);
  vm.ticking = true;
  vm.offset = seed::host_ns();
  switch (state.range(0)) {
    case 0:
      for (auto _ : state) benchmark::DoNotOptimize(seed::virtual_get(vm));
      break;
    case 1:
      for (auto _ : state) benchmark::DoNotOptimize(vm.state.load(std::memory_order_acquire));
      break;
    default:
      for (auto _ : state) benchmark::DoNotOptimize(std::this_thread::get_id() == vm.emt);
      break;
  }
  state.SetItemsProcessed(state.iterations());
}

void register_all() {
  for (const auto& [name, fn] :
       {std::pair{"helper_call/pdm", &helper_pdm}, std::pair{"helper_call/baseline", &helper_baseline},
        std::pair{"helper_call/minimum", &helper_minimum}}) {
    benchmark::RegisterBenchmark(name, fn)->Arg(0)->Arg(1)->Arg(2);
  }
}

}  // namespace bench

int main(int argc, char** argv) {
  bench::register_all();
  return pdm_bench::run_benchmarks(argc, argv);
}
