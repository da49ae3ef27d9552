// tests/services/vm_statistics.cpp - a driver's statistics through a real VM: counters, profiles
// and values registered under /Drivers/<driver>-<instance>/, seen by the host through
// vm.statistics() (snapshot, find, text and JSON); naming errors; removal with the instance (after
// a detach, after a failed construction), instance numbers keeping instances apart, and a counter
// updated from several threads, driver threads included, that gives the exact total.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <latch>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "services/service_rig.hpp"

namespace {
using svc_test::below_driver;
using svc_test::rig;
using svc_test::top_driver;

// The statistics a script made, kept by the driver (in `extra`) for the test.
struct stats {
  pdm::stat_counter* reads = nullptr;
  pdm::stat_profile* latency = nullptr;
  pdm::stat_value* queued = nullptr;
};

// The script: a counter, a profile and a value, kept in d.extra.
template <class Driver>
void register_three(Driver& d) {
  auto s = std::make_shared<stats>();
  pdm::result<pdm::stat_counter*> c = d.ctx.add_counter("Reads", pdm::stat_unit::calls, "Read requests");
  REQUIRE_MESSAGE(c.has_value(), (c ? std::string() : c.error_value().message()));
  s->reads = *c;
  pdm::result<pdm::stat_profile*> p = d.ctx.add_profile("IO/Latency", pdm::stat_unit::ns, "Time per request");
  REQUIRE(p);
  s->latency = *p;
  pdm::result<pdm::stat_value*> v = d.ctx.add_value("/IO/Queued", pdm::stat_unit::count, "Requests waiting");
  REQUIRE(v);
  s->queued = *v;
  d.extra = s;
}
stats& stats_of(top_driver& d) { return *static_cast<stats*>(d.extra.get()); }

std::vector<std::string> names_under(const pdm::vm& vm, std::string_view prefix) {
  std::vector<std::string> out;
  for (const pdm::stat_sample& s : vm.statistics().snapshot(prefix)) out.push_back(s.name);
  return out;
}

std::vector<std::string> three_names(std::string_view base) {
  return {std::string(base) + "/IO/Latency", std::string(base) + "/IO/Queued", std::string(base) + "/Reads"};
}

// A driver for pdm::driver_object::create: no VM.
class loner final {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Loner", .description = "Lives without a VM", .class_mask = pdm::driver_class::status};
  explicit loner(pdm::driver_context& c) : ctx(c) {}
  pdm::driver_context& ctx;
};

TEST_CASE("a driver's statistics are named /Drivers/<driver>-<instance>/<name>, with unit and description") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) { register_three(d); };
  top_driver& d = r.attach();
  CHECK(names_under(r.vm, "/Drivers/Scripted-0") == three_names("/Drivers/Scripted-0"));
  CHECK(r.vm.statistics().size() == 3);

  std::optional<pdm::stat_sample> reads = r.vm.statistics().find("/Drivers/Scripted-0/Reads");
  REQUIRE(reads);
  CHECK(reads->kind == pdm::stat_kind::counter);
  CHECK(reads->unit == pdm::stat_unit::calls);
  CHECK(reads->description == "Read requests");
  CHECK(reads->counter == 0);
  std::optional<pdm::stat_sample> latency = r.vm.statistics().find("/Drivers/Scripted-0/IO/Latency");
  REQUIRE(latency);
  CHECK(latency->kind == pdm::stat_kind::profile);
  CHECK(latency->unit == pdm::stat_unit::ns);
  std::optional<pdm::stat_sample> queued = r.vm.statistics().find("/Drivers/Scripted-0/IO/Queued");
  REQUIRE(queued);  // a leading '/' in the driver's name changes nothing
  CHECK(queued->kind == pdm::stat_kind::value);
  CHECK(queued->description == "Requests waiting");
  CHECK_FALSE(r.vm.statistics().find("/Drivers/Scripted-0//IO/Queued"));

  // Updates show in every view.
  stats& s = stats_of(d);
  s.reads->add(3);
  s.latency->add(10);
  s.latency->add(30);
  s.queued->set(-4);
  reads = r.vm.statistics().find("/Drivers/Scripted-0/Reads");
  REQUIRE(reads);
  CHECK(reads->counter == 3);
  latency = r.vm.statistics().find("/Drivers/Scripted-0/IO/Latency");
  REQUIRE(latency);
  CHECK(latency->profile == pdm::stat_profile_values{2, 40, 10, 30});
  const std::vector<pdm::stat_sample> snap = r.vm.statistics().snapshot("/Drivers/Scripted-0/IO");
  REQUIRE(snap.size() == 2);
  CHECK(snap[1].name == "/Drivers/Scripted-0/IO/Queued");
  CHECK(snap[1].value == -4);

  CHECK(r.vm.statistics().to_text("/Drivers/Scripted-0/Reads") ==
        "/Drivers/Scripted-0/Reads  3 calls  Read requests\n");
  const std::string text = r.vm.statistics().to_text("/Drivers");
  CAPTURE(text);
  CHECK(text.find("/Drivers/Scripted-0/IO/Latency") != std::string::npos);
  CHECK(text.find("(count 2, total 40, min 10, max 30)") != std::string::npos);

  const nlohmann::json json = nlohmann::json::parse(r.vm.statistics().to_json("/Drivers/Scripted-0"));
  REQUIRE(json["statistics"].size() == 3);
  CHECK(json["statistics"][0]["name"] == "/Drivers/Scripted-0/IO/Latency");
  CHECK(json["statistics"][0]["kind"] == "profile");
  CHECK(json["statistics"][0]["average"] == 20);
  CHECK(json["statistics"][1]["value"] == -4);
  CHECK(json["statistics"][2]["name"] == "/Drivers/Scripted-0/Reads");
  CHECK(json["statistics"][2]["unit"] == "calls");
  CHECK(json["statistics"][2]["description"] == "Read requests");
  CHECK(json["statistics"][2]["value"] == 3);
}

TEST_CASE("a name registered twice by one instance is refused with statistic_exists; the first stays") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) { register_three(d); };
  top_driver& d = r.attach();
  stats_of(d).reads->add(7);
  pdm::result<pdm::stat_counter*> again = d.ctx.add_counter("Reads", pdm::stat_unit::count);
  REQUIRE_FALSE(again);
  CHECK(again.error_value() == pdm::errc::statistic_exists);
  CHECK(again.error_value().driver_name() == "Scripted");
  CHECK(again.error_value().instance() == 0);
  CHECK(again.error_value().detail().find("/Drivers/Scripted-0/Reads") != std::string::npos);
  // Another kind under the same name, a group under a statistic, a statistic over a group.
  CHECK(d.ctx.add_value("/Reads", pdm::stat_unit::count).error_value() == pdm::errc::statistic_exists);
  CHECK(d.ctx.add_profile("Reads/Slow", pdm::stat_unit::ns).error_value() == pdm::errc::statistic_exists);
  CHECK(d.ctx.add_counter("IO", pdm::stat_unit::count).error_value() == pdm::errc::statistic_exists);
  CHECK(r.vm.statistics().size() == 3);
  const std::optional<pdm::stat_sample> reads = r.vm.statistics().find("/Drivers/Scripted-0/Reads");
  REQUIRE(reads);
  CHECK(reads->kind == pdm::stat_kind::counter);
  CHECK(reads->unit == pdm::stat_unit::calls);
  CHECK(reads->counter == 7);
  // The failed registrations left nothing behind to remove: the instance goes cleanly.
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK(r.vm.statistics().size() == 0);
}

TEST_CASE("invalid statistic names and descriptions are refused and register nothing") {
  rig r;
  top_driver& d = r.attach();
  for (const char* bad : {"", "/", "Reads/", "a//b", "bad$name", "caf\xc3\xa9", "tab\there"}) {
    CAPTURE(bad);
    pdm::result<pdm::stat_counter*> c = d.ctx.add_counter(bad, pdm::stat_unit::count);
    REQUIRE_FALSE(c);
    CHECK(c.error_value() == pdm::errc::invalid_name);
    CHECK(c.error_value().driver_name() == "Scripted");
    CHECK(d.ctx.add_profile(bad, pdm::stat_unit::ns).error_value() == pdm::errc::invalid_name);
    CHECK(d.ctx.add_value(bad, pdm::stat_unit::count).error_value() == pdm::errc::invalid_name);
  }
  const std::string too_long(300, 'x');
  CHECK(d.ctx.add_counter(too_long, pdm::stat_unit::count).error_value() == pdm::errc::invalid_name);
  const std::string long_description(2000, 'd');
  CHECK(d.ctx.add_counter("Fine", pdm::stat_unit::count, long_description).error_value() ==
        pdm::errc::invalid_argument);
  CHECK(r.vm.statistics().size() == 0);
  // Allowed characters: letters, digits, space, '_', '.', '#', '-'.
  REQUIRE(d.ctx.add_counter("LUN#0/Read ops_total.v-2", pdm::stat_unit::count));
  CHECK(r.vm.statistics().find("/Drivers/Scripted-0/LUN#0/Read ops_total.v-2"));
}

TEST_CASE("statistics are registered on the EMT only, and need a VM") {
  rig r;
  top_driver& d = r.attach();
  std::error_code there;
  std::thread other([&] {
    pdm::result<pdm::stat_counter*> c = d.ctx.add_counter("FromElsewhere", pdm::stat_unit::count);
    if (!c) there = c.error_value().code();
  });
  other.join();
  CHECK(there == pdm::make_error_code(pdm::errc::wrong_thread));
  CHECK(r.vm.statistics().size() == 0);

  pdm::result<pdm::driver_object> made = pdm::driver_object::create(pdm::descriptor_of<loner>, 3);
  REQUIRE(made);
  pdm::driver_context& ctx = static_cast<loner*>(made->get())->ctx;
  pdm::result<pdm::stat_counter*> c = ctx.add_counter("Alone", pdm::stat_unit::count);
  REQUIRE_FALSE(c);
  CHECK(c.error_value() == pdm::errc::invalid_vm_state);
  CHECK(c.error_value().driver_name() == "Loner");
  CHECK(ctx.add_profile("Alone", pdm::stat_unit::ns).error_value() == pdm::errc::invalid_vm_state);
  CHECK(ctx.add_value("Alone", pdm::stat_unit::count).error_value() == pdm::errc::invalid_vm_state);
}

TEST_CASE("an instance's statistics go with it; the next instance has its own names") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) { register_three(d); };
  top_driver& first = r.attach();
  CHECK(first.ctx.instance() == 0);
  stats_of(first).reads->add(5);
  REQUIRE(r.vm.detach("dev", 0, 0));
  CHECK(r.vm.statistics().snapshot("/Drivers/Scripted-0").empty());
  CHECK_FALSE(r.vm.statistics().find("/Drivers/Scripted-0/Reads"));
  CHECK(r.vm.statistics().size() == 0);
  CHECK(r.vm.statistics().to_json("/Drivers") == "{\"statistics\": []}\n");

  top_driver& second = r.attach();
  CHECK(second.ctx.instance() == 1);
  CHECK(names_under(r.vm, "/Drivers") == three_names("/Drivers/Scripted-1"));
  const std::optional<pdm::stat_sample> reads = r.vm.statistics().find("/Drivers/Scripted-1/Reads");
  REQUIRE(reads);
  CHECK(reads->counter == 0);  // its own counter, not the old one's
  stats_of(second).reads->add(2);
  CHECK(r.vm.statistics().find("/Drivers/Scripted-1/Reads")->counter == 2);
  CHECK(r.vm.statistics().snapshot("/Drivers/Scripted-0").empty());
}

TEST_CASE("a failed construction leaves no statistic behind") {
  rig r;
  bool throws = false;
  SUBCASE("ctx.fail") {}
  SUBCASE("an exception") { throws = true; }
  top_driver::the_script().ctor = [throws](top_driver& d) {
    register_three(d);
    if (throws) throw std::runtime_error("no");
    d.ctx.fail(pdm::error(pdm::errc::invalid_value, "no"));
  };
  pdm::result<pdm::driver_ref> a = r.vm.attach("dev", 0, 0);
  REQUIRE_FALSE(a);
  CHECK(r.vm.statistics().size() == 0);
  CHECK(r.vm.statistics().snapshot("/Drivers").empty());
  // Nor does a failed chain: the driver below registered too, and went with the attach.
  below_driver::the_script().ctor = [](below_driver& d) { REQUIRE(d.ctx.add_counter("Mine", pdm::stat_unit::count)); };
  top_driver::the_script().ctor = [](top_driver& d) {
    REQUIRE(d.ctx.attach());
    REQUIRE(d.ctx.add_counter("Mine", pdm::stat_unit::count));
    d.ctx.fail(pdm::error(pdm::errc::invalid_value, "no"));
  };
  REQUIRE_FALSE(r.vm.attach("dev", 0, 1));
  CHECK(r.vm.statistics().size() == 0);
  // The LUN attaches again, and its statistics register again under the same rules.
  top_driver::the_script().ctor = [](top_driver& d) { register_three(d); };
  top_driver& d = r.attach();
  CHECK(names_under(r.vm, "/Drivers") == three_names("/Drivers/Scripted-" + std::to_string(d.ctx.instance())));
}

TEST_CASE("two instances of a driver, and the driver below, register the same names without colliding") {
  rig r;
  below_driver::the_script().ctor = [](below_driver& d) { register_three(d); };
  top_driver::the_script().ctor = [](top_driver& d) {
    register_three(d);
    if (d.ctx.above().lun() == 1) REQUIRE(d.ctx.attach());
  };
  top_driver& zero = r.attach(0);
  top_driver& one = r.attach(1);
  CHECK(zero.ctx.instance() == 0);
  CHECK(one.ctx.instance() == 1);
  std::vector<std::string> expected = three_names("/Drivers/Below-0");
  for (const std::string& n : three_names("/Drivers/Scripted-0")) expected.push_back(n);
  for (const std::string& n : three_names("/Drivers/Scripted-1")) expected.push_back(n);
  CHECK(names_under(r.vm, "/Drivers") == expected);
  stats_of(zero).reads->add(1);
  stats_of(one).reads->add(10);
  CHECK(r.vm.statistics().find("/Drivers/Scripted-0/Reads")->counter == 1);
  CHECK(r.vm.statistics().find("/Drivers/Scripted-1/Reads")->counter == 10);
  CHECK(r.vm.statistics().find("/Drivers/Below-0/Reads")->counter == 0);

  REQUIRE(r.vm.detach("dev", 0, 0));  // Scripted-0's go; Scripted-1's and Below-0's stay
  expected.erase(expected.begin() + 3, expected.begin() + 6);
  CHECK(names_under(r.vm, "/Drivers") == expected);
  CHECK(r.vm.statistics().find("/Drivers/Scripted-1/Reads")->counter == 10);
  REQUIRE(r.vm.detach("dev", 0, 1));
  CHECK(r.vm.statistics().size() == 0);
}

TEST_CASE("the host reads the statistics from another thread while instances come and go") {
  rig r;
  top_driver::the_script().ctor = [](top_driver& d) {
    register_three(d);
    stats_of(d).reads->add(d.ctx.instance());
  };
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::atomic<int> reads{0};
  std::latch reading(1);
  std::thread host([&] {
    while (!stop.load()) {
      const std::vector<pdm::stat_sample> snap = r.vm.statistics().snapshot("/Drivers");
      if (snap.size() > 3) bad.fetch_add(1);
      for (const pdm::stat_sample& s : snap) {
        if (s.name.rfind("/Drivers/Scripted-", 0) != 0) bad.fetch_add(1);
      }
      (void)r.vm.statistics().to_json();
      (void)r.vm.statistics().to_text();
      if (reads.fetch_add(1) == 0) reading.count_down();
    }
  });
  reading.wait();  // the host reads while instances come and go (how often is up to the scheduler)
  for (std::uint32_t i = 0; i < 200; ++i) {
    top_driver& d = r.attach();
    CHECK(d.ctx.instance() == i);
    stats_of(d).latency->add(i);
    REQUIRE(r.vm.detach("dev", 0, 0));
  }
  stop = true;
  host.join();
  CHECK(bad.load() == 0);
  CHECK(reads.load() > 0);
  CHECK(r.vm.statistics().size() == 0);
}

TEST_CASE("a counter updated from driver threads and other threads gives the exact total") {
  constexpr int driver_threads = 3;
  constexpr int other_threads = 2;
  constexpr std::uint64_t per_thread = 20000;
  std::latch done(driver_threads + other_threads);
  rig r;
  top_driver::the_script().ctor = [&done](top_driver& d) {
    pdm::result<pdm::stat_counter*> c = d.ctx.add_counter("Hits", pdm::stat_unit::count);
    REQUIRE(c);
    pdm::result<pdm::stat_profile*> p = d.ctx.add_profile("Work", pdm::stat_unit::ns);
    REQUIRE(p);
    pdm::stat_counter* hits = *c;
    pdm::stat_profile* work = *p;
    for (int i = 0; i < driver_threads; ++i) {
      pdm::result<pdm::driver_thread> t =
          d.ctx.create_thread("counter-" + std::to_string(i), [hits, work, &done](pdm::thread_control& t) {
            for (std::uint64_t n = 0; n < per_thread; ++n) {
              ++*hits;
              work->add(n % 7);
            }
            done.count_down();
            while (t.running()) {
              // Keep updating until the instance goes: its statistics must outlive its threads.
              hits->add(0);
              (void)t.sleep(std::chrono::microseconds(50));
            }
          });
      REQUIRE(t);
      d.threads.push_back(*t);
    }
  };
  top_driver& d = r.attach();
  REQUIRE(r.vm.power_on());
  pdm::stat_counter* hits = nullptr;
  {
    pdm::result<pdm::stat_counter*> c = d.ctx.add_counter("Other", pdm::stat_unit::count);
    REQUIRE(c);
    hits = *c;
  }
  std::vector<std::thread> others;
  for (int i = 0; i < other_threads; ++i) {
    others.emplace_back([hits, &done] {
      for (std::uint64_t n = 0; n < per_thread; ++n) hits->add(2);
      done.count_down();
    });
  }
  done.wait();
  for (std::thread& t : others) t.join();
  const std::optional<pdm::stat_sample> total = r.vm.statistics().find("/Drivers/Scripted-0/Hits");
  REQUIRE(total);
  CHECK(total->counter == driver_threads * per_thread);
  CHECK(r.vm.statistics().find("/Drivers/Scripted-0/Other")->counter == 2 * other_threads * per_thread);
  const std::optional<pdm::stat_sample> work = r.vm.statistics().find("/Drivers/Scripted-0/Work");
  REQUIRE(work);
  CHECK(work->profile.count == driver_threads * per_thread);
  CHECK(work->profile.min == 0);
  CHECK(work->profile.max == 6);
  REQUIRE(r.vm.detach("dev", 0, 0));  // joins the threads, then removes the statistics
  CHECK(r.vm.statistics().size() == 0);
}

}  // namespace

namespace {

TEST_CASE("the host zeroes statistics under a prefix; the drivers keep them") {
  svc_test::rig r;
  svc_test::top_driver::the_script().ctor = [](svc_test::top_driver& d) {
    pdm::result<pdm::stat_counter*> c = d.ctx.add_counter("Hits", pdm::stat_unit::count, "hits");
    REQUIRE(c);
    (*c)->add(7);
    pdm::result<pdm::stat_value*> v = d.ctx.add_value("Depth", pdm::stat_unit::count, "depth");
    REQUIRE(v);
    (*v)->set(3);
  };
  r.attach(0);
  r.attach(1);
  r.vm.reset_statistics("/Drivers/Scripted-0");
  REQUIRE(r.vm.statistics().find("/Drivers/Scripted-0/Hits"));
  CHECK(r.vm.statistics().find("/Drivers/Scripted-0/Hits")->counter == 0);
  CHECK(r.vm.statistics().find("/Drivers/Scripted-0/Depth")->value == 0);
  CHECK(r.vm.statistics().find("/Drivers/Scripted-1/Hits")->counter == 7);  // not under the prefix
  r.vm.reset_statistics();
  CHECK(r.vm.statistics().find("/Drivers/Scripted-1/Hits")->counter == 0);
  CHECK(r.vm.statistics().size() == 4);
}

}  // namespace
