// Every allocation of an attach failed in turn: each gives a clean error (no_memory, or the
// constructor's failure), and leaves the chains, the counts, the config and the heap as they were.
//
// This program replaces the global operator new: once armed, the Nth allocation throws
// std::bad_alloc (and a nothrow new returns null). The test drivers here allocate nothing in
// their destructors, as destructors must not fail.
#include <doctest/doctest.h>

#include <pdm/pdm.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

namespace {

std::atomic<long> live_allocations{0};
std::atomic<long> countdown{-1};  // -1: not armed; otherwise allocations left before one fails

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
    p = std::malloc(size);
  } else if (posix_memalign(&p, alignment, size) != 0) {
    p = nullptr;
  }
  if (p != nullptr) ++live_allocations;
  return p;
}
void release(void* p) noexcept {
  if (p == nullptr) return;
  --live_allocations;
  std::free(p);
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

namespace alloc_test {

struct port {
  static constexpr std::string_view interface_id = "alloc.port/1";
};
struct data {
  static constexpr std::string_view interface_id = "alloc.data/1";
  virtual int value() = 0;

 protected:
  ~data() = default;
};

struct layer_config {
  std::string label = "layer";
  std::uint32_t weight = 1;
};

}  // namespace alloc_test

BOOST_HANA_ADAPT_STRUCT(alloc_test::layer_config, label, weight);

namespace alloc_test {

// Counts constructions and destructions in plain integers: nothing to allocate.
inline int constructed = 0;
inline int destroyed = 0;

/// A layer: keeps its label (allocates), attaches below when something is configured there.
class layer final : public data {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Layer", .description = "Adds its weight to the value below", .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<data>;
  using needs_below = pdm::interface_list<data>;
  using config_type = layer_config;
  layer(pdm::driver_context& ctx, const layer_config& c)
      : label_(c.label + " #" + std::to_string(ctx.instance())), weight_(c.weight) {
    pdm::result<pdm::driver_ref> below = ctx.attach();
    if (below) {
      below_ = below->query<data>();
    } else if (below.error_value() != pdm::errc::no_attached_driver) {
      ctx.fail(below.error_value());
    }
    ++constructed;  // last: a constructor that throws makes no object, and no destructor runs
  }
  ~layer() { ++destroyed; }
  layer(const layer&) = delete;
  layer& operator=(const layer&) = delete;
  layer(layer&&) = delete;
  layer& operator=(layer&&) = delete;
  int value() override { return static_cast<int>(weight_) + (below_ != nullptr ? below_->value() : 0); }
  void on_detach_below(pdm::attach_flags /*flags*/) { below_ = nullptr; }

 private:
  std::string label_;
  std::uint32_t weight_;
  data* below_ = nullptr;
};

using drivers = pdm::driver_list<layer>;

}  // namespace alloc_test

TEST_CASE("every allocation of an attach fails in turn; each leaves the VM as it was") {
  using namespace alloc_test;
  // Three layers, a transformation that injects a fourth above the top and merges config into
  // the bottom, so the transformation paths allocate too.
  pdm::result<pdm::config_tree> cfg = pdm::load_json(R"({
    "Devices": {"disk": {
      "0": {"LUN#0": {"Driver": "Layer", "Config": {"Label": "top", "Weight": 1},
        "AttachedDriver": {"Driver": "Layer", "Config": {"Label": "middle", "Weight": 10},
          "AttachedDriver": {"Driver": "Layer", "Config": {"Label": "bottom", "Weight": 100}}}}},
      "1": {"LUN#0": {"Driver": "Layer", "Config": {"Label": "top", "Weight": 1},
        "AttachedDriver": {"Driver": "Layer", "Config": {"Label": "middle", "Weight": 10},
          "AttachedDriver": {"Driver": "Layer", "Config": {"Label": "bottom", "Weight": 100}}}}}}},
    "PDM": {"DriverTransformations": {
      "a-inject": {"BelowDriver": "<top>", "AttachedDriver": {"Driver": "Layer", "Config": {"Weight": 1000}}},
      "b-merge": {"Action": "mergeconfig", "AboveDriver": "Layer", "BelowDriver": "Layer", "Config": {"Weight": 7}}}}})");
  REQUIRE(cfg.has_value());
  port the_port;
  pdm::vm_options options;
  options.emt = pdm::emt_mode::current_thread;
  pdm::vm vm(
      [] {
        pdm::registry r;
        REQUIRE(r.add(drivers{}));
        return r;
      }(),
      std::move(cfg).value(), options);
  pdm::device_spec spec;
  spec.name = "disk";
  spec.luns.push_back(
      pdm::lun_spec{.number = 0, .offers = {pdm::offer<port>(the_port)}, .needs = pdm::interfaces<data>()});
  spec.hooks.on_detach = [](std::uint32_t, pdm::attach_flags) {};
  pdm::device_spec warm = spec;
  warm.instance = 1;
  REQUIRE(vm.add_device(std::move(spec)));
  REQUIRE(vm.add_device(std::move(warm)));
  // A full attach and detach on disk #1 first: the VM's own vectors reach the capacity an attach
  // needs, so what stays allocated afterwards is a leak, not a vector that grew.
  REQUIRE(vm.attach("disk", 1, 0));
  REQUIRE(vm.detach("disk", 1, 0));

  const std::string config_before = vm.config().dump();
  const std::string chains_before = vm.dump().value();
  int failures = 0;
  for (long n = 0;; ++n) {
    CAPTURE(n);
    const long heap_before = live_allocations.load();
    const int constructed_before = constructed;
    const int destroyed_before = destroyed;
    countdown = n;
    bool succeeded = false;
    bool armed_still = false;
    {
      pdm::result<pdm::driver_ref> r = vm.attach("disk", 0, 0);
      armed_still = countdown.load() >= 0;
      countdown = -1;
      succeeded = r.has_value();
      if (succeeded) {
        CHECK(armed_still);  // succeeded only because it needed fewer than n + 1 allocations
        // The injected layer (1000) above the three configured ones, whose weights were all merged to 7.
        CHECK(r->query<data>()->value() == 1000 + 7 + 7 + 7);
      } else {
        const pdm::error& e = r.error_value();
        CHECK_MESSAGE((e == pdm::errc::no_memory || e == pdm::errc::constructor_failed), e.message());
      }
    }
    if (succeeded) break;
    ++failures;
    CHECK(constructed - constructed_before == destroyed - destroyed_before);  // every object made was destroyed
    CHECK(live_allocations.load() == heap_before);  // nothing leaked (checked before anything else allocates)
    CHECK(vm.config().dump() == config_before);
    CHECK(vm.dump().value() == chains_before);
    CHECK(vm.counts("Layer")->live == 0);
    CHECK(vm.counts("Layer")->next_instance == 4);  // the warm-up made #0 to #3
    REQUIRE(n < 100000);
  }
  MESSAGE("attach failed cleanly at each of its first " << failures << " allocations");
  CHECK(failures > 20);
  REQUIRE(vm.detach("disk", 0, 0));
  CHECK(vm.counts("Layer")->live == 0);
}
