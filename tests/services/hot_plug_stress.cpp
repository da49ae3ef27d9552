// tests/services/hot_plug_stress.cpp - hot plug under load, for ThreadSanitizer: 8 producer
// threads insert into driver queues while the EMT destroys and recreates the instances that
// own them; the instances also run a periodic timer and a thread of their own.
//
// What must hold: nothing crashes or races (the tsan configuration runs this with
// halt_on_error), every insert ends as ok, queue_full or resource_destroyed, and every item
// inserted is either consumed or dropped with its queue - none is lost or counted twice.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "services/service_rig.hpp"

namespace {
using namespace std::chrono_literals;
using svc_test::top_driver;

std::atomic<std::uint64_t> consumed{0};
std::atomic<std::uint64_t> dropped{0};

// An item that counts itself dropped if it is destroyed before the consumer took it.
struct payload {
  explicit payload(std::uint64_t v) noexcept : value(v) {}
  payload(payload&& o) noexcept : value(o.value), live(o.live) { o.live = false; }
  payload& operator=(payload&&) = delete;
  payload(const payload&) = delete;
  payload& operator=(const payload&) = delete;
  ~payload() {
    if (live) dropped.fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t value;
  bool live = true;
};

// Where producers find the current queue of LUN n (replaced at each re-attach).
struct exchange {
  std::mutex lock;
  pdm::queue<payload> current;
  pdm::queue<payload> get() {
    const std::lock_guard<std::mutex> hold(lock);
    return current;
  }
  void set(pdm::queue<payload> q) {
    const std::lock_guard<std::mutex> hold(lock);
    current = std::move(q);
  }
};
exchange queues[2];

TEST_CASE("8 producers insert while the EMT detaches and re-attaches the queues' owners") {
  pdm::vm_options o;
  o.emt = pdm::emt_mode::own_thread;
  std::atomic<std::uint64_t> reports{0};
  o.report = [&reports](const pdm::vm_report&) { reports.fetch_add(1); };
  pdm::registry reg;
  REQUIRE(reg.add(pdm::driver_list<top_driver>{}));
  pdm::vm vm(std::move(reg), svc_test::rig::load(R"({"Devices": {"dev": {"0": {
      "LUN#0": {"Driver": "Scripted"}, "LUN#1": {"Driver": "Scripted"}}}}})"),
             std::move(o));
  pdm::device_spec d{.name = "dev", .instance = 0};
  for (std::uint32_t n : {0U, 1U})
    d.luns.push_back(pdm::lun_spec{.number = n, .needs = pdm::interfaces<svc_test::marker>()});
  d.hooks.on_detach = [](std::uint32_t, pdm::attach_flags) {};
  REQUIRE(vm.add_device(std::move(d)));

  std::atomic<std::uint64_t> ticks{0};
  std::atomic<std::uint64_t> thread_inserts{0};
  top_driver::the_script().ctor = [&](top_driver& drv) {
    const std::uint32_t lun = drv.ctx.above().lun();
    auto q = drv.ctx.create_queue<payload>(
        64, lun == 0 ? 0ns : 200us,
        [](payload& p) {
          p.live = false;
          consumed.fetch_add(1, std::memory_order_relaxed);
          return true;
        },
        "load");
    REQUIRE(q);
    auto t = drv.ctx.create_timer(pdm::clock_kind::real, {}, "tick");
    REQUIRE_FALSE(t);  // a timer needs a callback
    auto tick = std::make_shared<pdm::timer>();
    t = drv.ctx.create_timer(
        pdm::clock_kind::real,
        [tick, &ticks] {
          ticks.fetch_add(1, std::memory_order_relaxed);
          (void)tick->arm_in(100us);
        },
        "tick");
    REQUIRE(t);
    *tick = *t;
    REQUIRE(t->arm_in(100us));
    pdm::queue<payload> own = *q;
    auto th = drv.ctx.create_thread("feeder", [own, &thread_inserts](pdm::thread_control& c) {
      std::uint64_t n = 0;
      while (c.running()) {
        if (!own.try_emplace(n++)) thread_inserts.fetch_add(1, std::memory_order_relaxed);
        if (n % 16 == 0) c.sleep(50us);
      }
    });
    REQUIRE(th);
    queues[lun].set(*q);
  };

  REQUIRE(vm.attach("dev", 0, 0));
  REQUIRE(vm.attach("dev", 0, 1));
  REQUIRE(vm.power_on());

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> inserted{0};
  std::atomic<std::uint64_t> full{0};
  std::atomic<std::uint64_t> destroyed{0};
  std::atomic<std::uint64_t> other{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < 8; ++p) {
    producers.emplace_back([&, p] {
      std::uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        pdm::queue<payload> q = queues[p % 2].get();
        for (int burst = 0; burst < 32; ++burst) {
          const std::error_code e = q.try_emplace(n++);
          if (!e) {
            inserted.fetch_add(1, std::memory_order_relaxed);
          } else if (e == pdm::errc::queue_full) {
            full.fetch_add(1, std::memory_order_relaxed);
            std::this_thread::yield();
          } else if (e == pdm::errc::resource_destroyed) {
            destroyed.fetch_add(1, std::memory_order_relaxed);
            break;
          } else {
            other.fetch_add(1, std::memory_order_relaxed);
          }
        }
      }
    });
  }

  for (int round = 0; round < 60; ++round) {
    const std::uint32_t lun = static_cast<std::uint32_t>(round % 2);
    REQUIRE(vm.detach("dev", 0, lun));
    REQUIRE(vm.attach("dev", 0, lun));
    if (round % 10 == 9) {
      REQUIRE(vm.suspend());
      REQUIRE(vm.resume());
    }
  }
  stop.store(true);
  for (std::thread& t : producers) t.join();
  REQUIRE(vm.power_off());
  REQUIRE(vm.detach("dev", 0, 0));
  REQUIRE(vm.detach("dev", 0, 1));
  queues[0].set({});
  queues[1].set({});  // the last handles: items inserted after their queue closed go now

  CHECK(other.load() == 0);
  CHECK(reports.load() == 0);
  CHECK(inserted.load() > 0);
  CHECK(ticks.load() > 0);
  MESSAGE("inserted " << inserted.load() << " (+" << thread_inserts.load() << " by driver threads), full "
                      << full.load() << ", destroyed " << destroyed.load() << ", consumed " << consumed.load()
                      << ", dropped " << dropped.load() << ", timer ticks " << ticks.load());
  CHECK(consumed.load() + dropped.load() == inserted.load() + thread_inserts.load());
  top_driver::the_script() = {};
}

}  // namespace
