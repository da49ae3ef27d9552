// Detach: bottom-most first, parents notified (or not), refusals, queries, poisoned memory.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "chain/chain_drivers.hpp"

using namespace chain_test;

namespace {

// Top -> Cache -> Tracer -> Cache -> Mem on LUN#0; Top -> Plain -> Mem on LUN#1.
constexpr std::string_view config_json = R"({"Devices": {"disk": {"0": {
  "LUN#0": {"Driver": "Top", "AttachedDriver": {"Driver": "Cache", "AttachedDriver": {"Driver": "Tracer",
            "AttachedDriver": {"Driver": "Cache", "AttachedDriver": {"Driver": "Mem"}}}}},
  "LUN#1": {"Driver": "Top", "AttachedDriver": {"Driver": "Plain", "AttachedDriver": {"Driver": "Mem"}}}}}}})";

struct fixture {
  counting_memory memory;
  disk_device dev;
  pdm::vm vm;
  explicit fixture(bool detachable = true, std::string_view json = config_json)
      : vm(make_registry(), config_of(json), options(memory)) {
    dev.detachable = detachable;
    REQUIRE(vm.add_device(dev.spec()));
    REQUIRE(vm.attach("disk", 0, 0));
    REQUIRE(vm.attach("disk", 0, 1));
    take_journal();
  }
  static pdm::vm_options options(counting_memory& m) {
    pdm::vm_options o;
    o.emt = pdm::emt_mode::current_thread;
    o.instance_memory = &m;
    o.poison_freed = true;
    return o;
  }
  std::vector<std::string> names(std::uint32_t lun) {
    std::vector<std::string> out;
    const std::vector<pdm::driver_ref> chain = vm.chain("disk", 0, lun).value();
    for (const pdm::driver_ref& r : chain) out.push_back(std::string(r.name()) + "#" + std::to_string(r.instance()));
    return out;
  }
};

}  // namespace

TEST_CASE("a detach from the device side destroys bottom-most first and notifies each parent") {
  fixture f;
  CHECK(f.memory.live == 8);
  REQUIRE(f.vm.detach("disk", 0, 0));
  CHECK(take_journal() == std::vector<std::string>{"detached below Cache#1",
                                                   "dtor Mem#0",  // unlink, tell the parent, destruct
                                                   "detached below Tracer#0", "dtor Cache#1",  //
                                                   "detached below Cache#0", "dtor Tracer#0",  //
                                                   "detached below Top#0", "dtor Cache#0",     //
                                                   "device detach LUN#0", "dtor Top#0"});
  CHECK(f.vm.chain("disk", 0, 0)->empty());
  CHECK(f.vm.counts("Cache")->live == 0);
  CHECK(f.vm.counts("Cache")->next_instance == 2);
  CHECK(f.vm.counts("Mem")->live == 1);
  CHECK(f.memory.live == 3);
  CHECK(f.memory.unpoisoned == 0);  // every freed block was filled with 0xdeadd0d0 first
  CHECK(f.vm.detach("disk", 0, 0).error_value() == pdm::errc::no_attached_driver);
}

TEST_CASE("detach flags reach the parents; no_callbacks tells nobody") {
  SUBCASE("not_hot_plug") {
    fixture f;
    REQUIRE(f.vm.detach_driver("disk", 0, 0, "Mem", 0, pdm::attach_flags::not_hot_plug));
    CHECK(take_journal() == std::vector<std::string>{"detached below Cache#1 (not hot plug)", "dtor Mem#0"});
  }
  SUBCASE("no_callbacks") {
    fixture f;
    REQUIRE(f.vm.detach("disk", 0, 0, pdm::attach_flags::no_callbacks));
    CHECK(take_journal() ==
          std::vector<std::string>{"dtor Mem#0", "dtor Cache#1", "dtor Tracer#0", "dtor Cache#0", "dtor Top#0"});
  }
}

TEST_CASE("detach by driver name and occurrence") {
  fixture f;
  REQUIRE(f.vm.detach_driver("disk", 0, 0, "Cache", 1));
  CHECK(f.names(0) == std::vector<std::string>{"Top#0", "Cache#0", "Tracer#0"});
  CHECK(take_journal() ==
        std::vector<std::string>{"detached below Cache#1", "dtor Mem#0", "detached below Tracer#0", "dtor Cache#1"});
  pdm::status s = f.vm.detach_driver("disk", 0, 0, "Cache", 1);
  CHECK(s.error_value() == pdm::errc::instance_not_found);
  CHECK(s.error_value().message().find("occurrence 1 of driver 'Cache'") != std::string::npos);
  CHECK(f.vm.detach_driver("disk", 0, 0, "Mem", 0).error_value() == pdm::errc::instance_not_found);
  CHECK(f.vm.detach_driver("disk", 0, 7, "Mem", 0).error_value() == pdm::errc::lun_not_found);
  CHECK(f.vm.detach_driver("tape", 0, 0, "Mem", 0).error_value() == pdm::errc::device_not_found);
  // An empty name means the top driver.
  REQUIRE(f.vm.detach_driver("disk", 0, 0, "", 0));
  CHECK(f.vm.chain("disk", 0, 0)->empty());
}

TEST_CASE("the driver or device above must have a detach notification") {
  SUBCASE("a driver without on_detach_below") {
    fixture f;
    pdm::status s = f.vm.detach_driver("disk", 0, 1, "Mem", 0);
    CHECK(s.error_value() == pdm::errc::detach_not_possible);
    CHECK(s.error_value().message().find("driver 'Plain' above it has no on_detach_below hook") != std::string::npos);
    CHECK(s.error_value().driver_name() == "Mem");
    CHECK(s.error_value().config_path() == "Devices/disk/0/LUN#1/AttachedDriver/AttachedDriver");
    CHECK(f.names(1) == std::vector<std::string>{"Top#1", "Plain#0", "Mem#1"});
    CHECK(take_journal().empty());
    // Detaching Plain itself is fine: Top has the hook.
    REQUIRE(f.vm.detach_driver("disk", 0, 1, "Plain", 0));
    CHECK(f.names(1) == std::vector<std::string>{"Top#1"});
  }
  SUBCASE("a device without on_detach") {
    fixture f(false);
    pdm::status s = f.vm.detach("disk", 0, 0);
    CHECK(s.error_value() == pdm::errc::detach_not_possible);
    CHECK(s.error_value().message().find("device 'disk' has no on_detach hook") != std::string::npos);
    CHECK(f.names(0).size() == 5);
    // Further down the parents are drivers with the hook.
    REQUIRE(f.vm.detach_driver("disk", 0, 0, "Tracer", 0));
    CHECK(f.names(0) == std::vector<std::string>{"Top#0", "Cache#0"});
  }
}

namespace {

// A driver that, told of a detach below it, tries to detach itself: a detach within a detach.
class stubborn final : public bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Stubborn", .description = "Detaches itself when told", .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<bytes>;
  using needs_below = pdm::interface_list<bytes>;
  explicit stubborn(pdm::driver_context& ctx) : ctx_(ctx) { (void)ctx.attach(); }
  void on_detach_below(pdm::attach_flags /*flags*/) {
    pdm::status s = ctx_.detach_self();
    note(s ? std::string("detach_self ok") : "detach_self: " + std::string(s.error_value().code().message()));
  }
  bool write(std::size_t /*offset*/, const void* /*in*/, std::size_t /*size*/) override { return false; }
  bool read(std::size_t /*offset*/, void* /*out*/, std::size_t /*size*/) override { return false; }
  [[nodiscard]] std::size_t size() const override { return 0; }

 private:
  pdm::driver_context& ctx_;
};

}  // namespace

TEST_CASE("a detach while detaching is refused") {
  pdm::registry r = make_registry();
  REQUIRE(r.add(pdm::driver_list<stubborn>{}));
  disk_device dev;
  pdm::vm vm(
      std::move(r),
      config_of(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "AttachedDriver": {"Driver": "Stubborn",
                 "AttachedDriver": {"Driver": "Mem"}}}}}}})"),
      [] {
        pdm::vm_options o;
        o.emt = pdm::emt_mode::current_thread;
        return o;
      }());
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.attach("disk", 0, 0));
  take_journal();
  REQUIRE(vm.detach("disk", 0, 0));
  // Stubborn is itself being detached when it hears of Mem's detach: its own detach is refused.
  CHECK(take_journal() == std::vector<std::string>{"detach_self: a detach is already in progress", "dtor Mem#0",
                                                   "detached below Top#0", "device detach LUN#0", "dtor Top#0"});
  CHECK(vm.chain("disk", 0, 0)->empty());

  // Detached on its own (Mem below it), it may detach itself from the hook: Top is told.
  REQUIRE(vm.attach("disk", 0, 0));
  take_journal();
  REQUIRE(vm.detach_driver("disk", 0, 0, "Mem", 0));
  CHECK(take_journal() == std::vector<std::string>{"detached below Top#1", "detach_self ok", "dtor Mem#1"});
  std::vector<pdm::driver_ref> chain = vm.chain("disk", 0, 0).value();
  REQUIRE(chain.size() == 1);
  CHECK(chain[0].name() == "Top");
}

TEST_CASE("a driver detaches below itself and attaches again") {
  fixture f;
  auto* top_driver = static_cast<top*>(f.vm.driver_on_lun("disk", 0, 0)->get());
  REQUIRE(top_driver->ctx_.detach());
  CHECK(f.names(0) == std::vector<std::string>{"Top#0"});
  CHECK(top_driver->ctx_.detach().error_value() == pdm::errc::no_attached_driver);
  CHECK_FALSE(top_driver->put(0, 1));  // told of the detach, it dropped its pointer
  take_journal();
  REQUIRE(top_driver->ctx_.attach());
  CHECK(f.names(0) == std::vector<std::string>{"Top#0", "Cache#2", "Tracer#1", "Cache#3", "Mem#2"});
  CHECK(top_driver->ctx_.below().name() == "Cache");
  CHECK(top_driver->ctx_.below().instance() == 2);
  pdm::result<pdm::driver_ref> again = top_driver->ctx_.attach();
  CHECK(again.error_value() == pdm::errc::already_attached);
}

TEST_CASE("destroying the VM destroys every chain without notifications") {
  counting_memory memory;
  {
    disk_device dev;
    pdm::vm vm(make_registry(), config_of(config_json), fixture::options(memory));
    REQUIRE(vm.add_device(dev.spec()));
    REQUIRE(vm.attach("disk", 0, 0));
    REQUIRE(vm.attach("disk", 0, 1));
    take_journal();
  }
  CHECK(take_journal() == std::vector<std::string>{"dtor Mem#0", "dtor Cache#1", "dtor Tracer#0", "dtor Cache#0",
                                                   "dtor Top#0", "dtor Mem#1", "dtor Plain#0", "dtor Top#1"});
  CHECK(memory.live == 0);
  CHECK(memory.allocations == 8);
  CHECK(memory.unpoisoned == 0);
}

TEST_CASE("long attach and detach cycles leave nothing behind") {
  fixture f;
  const std::string config_before = f.vm.config().dump();
  for (int i = 0; i < 200; ++i) {
    REQUIRE(f.vm.detach("disk", 0, 0));
    REQUIRE(f.vm.attach("disk", 0, 0));
  }
  take_journal();
  CHECK(f.memory.live == 8);
  CHECK(f.memory.allocations == 8 + 200 * 5);
  CHECK(f.vm.counts("Cache")->live == 2);
  CHECK(f.vm.counts("Cache")->next_instance == 2 + 200 * 2);
  CHECK(f.vm.config().dump() == config_before);
}

namespace {

pdm::vm* current_vm = nullptr;

// Tries to detach its own LUN's chain while it is being constructed.
class impatient final : public chain_test::words {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Impatient", .description = "Detaches too early", .class_mask = pdm::driver_class::block};
  using provides = pdm::interface_list<chain_test::words>;
  explicit impatient(pdm::driver_context& /*ctx*/) {
    pdm::status s = current_vm->detach("disk", 0, 0);
    note(s ? std::string("detached") : "refused: " + s.error_value().message());
  }
  bool put(std::size_t /*index*/, std::uint32_t /*value*/) override { return true; }
  bool get(std::size_t /*index*/, std::uint32_t& /*value*/) override { return true; }
};

// Detaches itself from its suspend hook, then throws.
class leaver final : public chain_test::bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Leaver", .description = "Leaves and complains", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<chain_test::bytes>;
  explicit leaver(pdm::driver_context& ctx) : ctx_(ctx) {}
  void on_suspend() {
    (void)ctx_.detach_self();
    throw std::runtime_error("gone");
  }
  bool write(std::size_t /*offset*/, const void* /*in*/, std::size_t /*size*/) override { return false; }
  bool read(std::size_t /*offset*/, void* /*out*/, std::size_t /*size*/) override { return false; }
  [[nodiscard]] std::size_t size() const override { return 0; }

 private:
  pdm::driver_context& ctx_;
};

}  // namespace

TEST_CASE("a chain cannot be detached while one of its drivers is being constructed") {
  pdm::registry r = make_registry();
  REQUIRE(r.add(pdm::driver_list<impatient>{}));
  disk_device dev;
  pdm::vm vm(std::move(r), config_of(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Impatient"}}}}})"),
             on_this_thread());
  current_vm = &vm;
  REQUIRE(vm.add_device(dev.spec()));
  take_journal();
  REQUIRE(vm.attach("disk", 0, 0, pdm::attach_flags::not_hot_plug));
  const std::vector<std::string> j = take_journal();
  REQUIRE(j.size() == 1);
  CHECK(j[0].find("refused: driver 'Impatient' #0 at 'Devices/disk/0/LUN#0': a detach is already in progress: "
                  "driver 'Impatient' #0 in that chain is still being constructed") == 0);
  CHECK(vm.chain("disk", 0, 0)->size() == 1);
  current_vm = nullptr;
}

TEST_CASE("a power hook that detaches its own driver and then throws is reported by name") {
  pdm::registry r = make_registry();
  REQUIRE(r.add(pdm::driver_list<leaver>{}));
  std::vector<pdm::vm_report> reports;
  pdm::vm_options options = on_this_thread();
  options.report = [&reports](const pdm::vm_report& rep) { reports.push_back(rep); };
  pdm::vm vm(
      std::move(r),
      config_of(
          R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "AttachedDriver": {"Driver": "Leaver"}}}}}})"),
      options);
  disk_device dev;
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.attach("disk", 0, 0, pdm::attach_flags::not_hot_plug));
  REQUIRE(vm.power_on());
  REQUIRE(vm.suspend());
  CHECK(vm.chain("disk", 0, 0)->size() == 1);  // Leaver is gone
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].what.driver_name() == "Leaver");
  CHECK(reports[0].what.message().find("suspend hook threw: gone") != std::string::npos);
}
