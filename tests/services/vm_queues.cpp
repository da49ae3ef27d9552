// tests/services/vm_queues.cpp - driver queues through a VM: producers insert (from the EMT or
// any thread), the EMT hands items to the consumer in insertion order, on demand or by
// interval; a consumer may stop and keep the rest; a full queue is an error the producer sees;
// the queue goes with its instance, and a producer still holding it gets resource_destroyed.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "services/service_rig.hpp"

namespace {
using namespace std::chrono_literals;
using svc_test::rig;
using svc_test::top_driver;

struct item {
  std::uint32_t producer = 0;
  std::uint32_t sequence = 0;
};

// A queue the driver made, and what its consumer saw.
struct queue_box {
  pdm::queue<item> q;
  std::vector<item> seen;
  std::size_t stop_at = SIZE_MAX;  // the consumer keeps the item with this sequence (once)
  bool throw_at_stop = false;
  // Runs for each item, after it is recorded; owned by the test, since it may destroy the box.
  const std::function<void(top_driver&)>* on_item = nullptr;
};

queue_box& make_queue(top_driver& d, std::size_t capacity, std::chrono::nanoseconds interval) {
  auto box = std::make_shared<queue_box>();
  queue_box* b = box.get();
  auto q = d.ctx.create_queue<item>(
      capacity, interval,
      [b, &d](item& i) {
        if (i.sequence == b->stop_at) {
          b->stop_at = SIZE_MAX;
          if (b->throw_at_stop) throw std::runtime_error("consumer failed");
          return false;
        }
        b->seen.push_back(i);
        if (b->on_item != nullptr) (*b->on_item)(d);  // may detach the instance, and b with it: touch nothing after
        return true;
      },
      "work");
  REQUIRE_MESSAGE(q.has_value(), (q ? std::string() : q.error_value().message()));
  b->q = *q;
  d.extra = box;
  return *b;
}

std::vector<std::uint32_t> sequences(const std::vector<item>& v) {
  std::vector<std::uint32_t> out;
  for (const item& i : v) out.push_back(i.sequence);
  return out;
}

TEST_CASE("an on-demand queue is flushed at the EMT's next turn, in insertion order") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) { make_queue(d, 8, 0ns); };
  top_driver& d = r.attach();
  auto& b = *std::static_pointer_cast<queue_box>(d.extra);
  for (std::uint32_t i = 0; i < 5; ++i) REQUIRE(b.q.insert(item{0, i}));
  CHECK(b.q.size() == 5);
  CHECK(b.seen.empty());  // nothing is consumed before the EMT's turn
  r.vm.process();
  CHECK(sequences(b.seen) == std::vector<std::uint32_t>{0, 1, 2, 3, 4});
  CHECK(b.q.size() == 0);
}

TEST_CASE("an interval queue waits for its interval, and flush() asks for a turn before it") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) { make_queue(d, 8, 10ms); };
  top_driver& d = r.attach();
  auto& b = *std::static_pointer_cast<queue_box>(d.extra);
  REQUIRE(b.q.insert(item{0, 1}));
  r.vm.process();
  r.advance(9ms);
  CHECK(b.seen.empty());
  r.advance(1ms);
  CHECK(sequences(b.seen) == std::vector<std::uint32_t>{1});
  REQUIRE(b.q.insert(item{0, 2}));
  r.advance(1ms);
  CHECK(b.seen.size() == 1);
  b.q.flush();
  r.vm.process();
  CHECK(sequences(b.seen) == std::vector<std::uint32_t>{1, 2});
}

TEST_CASE("a consumer that stops keeps the item and the rest, which come again after queue_retry") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) { make_queue(d, 8, 0ns); };
  top_driver& d = r.attach();
  auto& b = *std::static_pointer_cast<queue_box>(d.extra);
  b.stop_at = 2;
  for (std::uint32_t i = 0; i < 5; ++i) REQUIRE(b.q.insert(item{0, i}));
  r.vm.process();
  CHECK(sequences(b.seen) == std::vector<std::uint32_t>{0, 1});
  CHECK(b.q.size() == 3);
  r.vm.process();  // not yet: the retry waits queue_retry (1 ms)
  CHECK(b.seen.size() == 2);
  r.advance(1ms);
  CHECK(sequences(b.seen) == std::vector<std::uint32_t>{0, 1, 2, 3, 4});
}

TEST_CASE("a consumer that throws is reported and its item is kept for the retry") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) { make_queue(d, 8, 0ns); };
  top_driver& d = r.attach();
  auto& b = *std::static_pointer_cast<queue_box>(d.extra);
  b.stop_at = 1;
  b.throw_at_stop = true;
  for (std::uint32_t i = 0; i < 3; ++i) REQUIRE(b.q.insert(item{0, i}));
  r.vm.process();
  CHECK(sequences(b.seen) == std::vector<std::uint32_t>{0});
  const std::vector<pdm::vm_report> reports = r.take_reports();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].kind == pdm::report_kind::hook_threw);
  CHECK(reports[0].what.message().find("queue 'work'") != std::string::npos);
  CHECK(reports[0].what.message().find("consumer failed") != std::string::npos);
  CHECK(reports[0].what.driver_name() == "Scripted");
  r.advance(1ms);
  CHECK(sequences(b.seen) == std::vector<std::uint32_t>{0, 1, 2});
}

TEST_CASE("a full queue is an error the producer sees, naming the queue and the driver, and loses nothing") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) { make_queue(d, 3, 0ns); };
  top_driver& d = r.attach();
  auto& b = *std::static_pointer_cast<queue_box>(d.extra);
  for (std::uint32_t i = 0; i < 3; ++i) REQUIRE(b.q.insert(item{0, i}));
  const pdm::status full = b.q.insert(item{0, 3});
  REQUIRE_FALSE(full);
  CHECK(full.error_value().code() == pdm::errc::queue_full);
  CHECK(full.error_value().message().find("queue 'work' is full (3 items)") != std::string::npos);
  CHECK(full.error_value().driver_name() == "Scripted");
  CHECK(full.error_value().instance() == 0);
  CHECK(b.q.try_emplace(item{0, 3}) == pdm::errc::queue_full);
  r.vm.process();
  CHECK(sequences(b.seen) == std::vector<std::uint32_t>{0, 1, 2});
  CHECK(b.q.insert(item{0, 3}));  // room again
}

TEST_CASE("producers on other threads insert while the EMT consumes; each producer's order is kept") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) { make_queue(d, 16, 0ns); };
  top_driver& d = r.attach();
  auto& b = *std::static_pointer_cast<queue_box>(d.extra);
  constexpr std::uint32_t per_producer = 2000;
  std::atomic<int> done{0};
  std::vector<std::thread> producers;
  for (std::uint32_t p = 0; p < 2; ++p) {
    producers.emplace_back([&b, &done, p] {
      for (std::uint32_t i = 0; i < per_producer;) {
        if (!b.q.try_emplace(item{p, i})) {
          ++i;
        } else {
          std::this_thread::yield();
        }
      }
      done.fetch_add(1);
    });
  }
  while (done.load() < 2 || b.q.size() > 0) r.vm.thread().wait_until(std::chrono::steady_clock::now() + 1ms);
  for (std::thread& t : producers) t.join();
  r.vm.process();
  REQUIRE(b.seen.size() == 2 * per_producer);
  std::uint32_t next[2] = {0, 0};
  bool in_order = true;
  for (const item& i : b.seen) in_order = in_order && i.sequence == next[i.producer]++;
  CHECK(in_order);
  CHECK(next[0] == per_producer);
  CHECK(next[1] == per_producer);
}

TEST_CASE("a queue goes with its instance: items dropped, inserts through a kept handle fail") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) { make_queue(d, 4, 0ns); };
  top_driver& d = r.attach();
  const pdm::queue<item> kept = std::static_pointer_cast<queue_box>(d.extra)->q;
  REQUIRE(kept.insert(item{0, 1}));
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK_FALSE(kept.valid());
  CHECK(kept.size() == 0);  // the queued item was dropped with the queue
  const pdm::status s = kept.insert(item{0, 2});
  REQUIRE_FALSE(s);
  CHECK(s.error_value().code() == pdm::errc::resource_destroyed);
  CHECK(s.error_value().message().find("destroyed with its instance") != std::string::npos);
  CHECK(r.vm.process() == 0);
}

TEST_CASE("a queue made by a constructor that fails is gone before the attach returns") {
  rig r;
  pdm::queue<item> kept;
  top_driver::the_script().ctor = [&kept](top_driver& d) {
    kept = make_queue(d, 4, 0ns).q;
    REQUIRE(kept.insert(item{0, 1}));
    throw std::runtime_error("constructor gives up");
  };
  CHECK_FALSE(r.vm.attach("dev", 0, 0));
  CHECK_FALSE(kept.valid());
  CHECK(kept.try_emplace(item{0, 2}) == pdm::errc::resource_destroyed);
}

TEST_CASE("a consumer may detach its own instance; it is not called again") {
  rig r;
  std::size_t calls = 0;
  const std::function<void(top_driver&)> leave = [&calls](top_driver& self) {
    ++calls;
    REQUIRE(self.ctx.detach_self());
  };
  top_driver::the_script().ctor = [&leave](top_driver& d) { make_queue(d, 4, 0ns).on_item = &leave; };
  top_driver& d = r.attach();
  const pdm::queue<item> kept = std::static_pointer_cast<queue_box>(d.extra)->q;
  REQUIRE(kept.insert(item{0, 1}));
  REQUIRE(kept.insert(item{0, 2}));
  r.vm.process();
  CHECK(calls == 1);  // the second item never reached the consumer of a destroyed instance
  CHECK_FALSE(kept.valid());
  CHECK(kept.size() == 0);
  CHECK_FALSE(r.vm.driver_on_lun("dev", 0, 0));
}

TEST_CASE("bad queue requests are refused with a clear error") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) {
    auto consume = [](item&) { return true; };
    auto zero = d.ctx.create_queue<item>(0, 0ns, consume, "empty");
    REQUIRE_FALSE(zero);
    CHECK(zero.error_value().code() == pdm::errc::invalid_argument);
    CHECK(zero.error_value().message().find("queue 'empty': capacity 0") != std::string::npos);
    auto none = d.ctx.create_queue<item>(4, 0ns, nullptr, "none");
    REQUIRE_FALSE(none);
    CHECK(none.error_value().code() == pdm::errc::invalid_argument);
    auto back = d.ctx.create_queue<item>(4, -1ms, consume, "back");
    REQUIRE_FALSE(back);
    CHECK(back.error_value().code() == pdm::errc::invalid_argument);
    pdm::result<pdm::queue<item>> off = pdm::error(pdm::errc::internal_error);
    std::thread([&] { off = d.ctx.create_queue<item>(4, 0ns, consume, "off"); }).join();
    REQUIRE_FALSE(off);
    CHECK(off.error_value().code() == pdm::errc::wrong_thread);
  };
  r.attach();
  const pdm::queue<item> empty;
  CHECK(empty.insert(item{}).error_value().code() == pdm::errc::resource_destroyed);
}

}  // namespace
