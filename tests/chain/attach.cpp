// Attach: chains built from config, in the order design.md gives, with every attach error.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "chain/chain_drivers.hpp"

using namespace chain_test;

namespace {

constexpr std::string_view three_layers = R"({"Devices": {"disk": {"0": {
  "LUN#0": {"Driver": "Top", "AttachedDriver": {"Driver": "Cache",
            "AttachedDriver": {"Driver": "Mem", "Config": {"Size": 32}}}},
  "LUN#1": {"Driver": "Top", "AttachedDriver": {"Driver": "Mem"}}}}}})";

std::vector<std::string> names(pdm::vm& vm, std::uint32_t lun) {
  std::vector<std::string> out;
  const std::vector<pdm::driver_ref> chain = vm.chain("disk", 0, lun).value();
  for (const pdm::driver_ref& r : chain) {
    out.push_back(std::string(r.name()) + "#" + std::to_string(r.instance()));
  }
  return out;
}

}  // namespace

TEST_CASE("a LUN's chain is built top to bottom from its config and works") {
  take_journal();
  disk_device dev;
  pdm::vm vm(make_registry(), config_of(three_layers), on_this_thread());
  REQUIRE(vm.add_device(dev.spec()));
  pdm::result<pdm::driver_ref> top = vm.attach("disk", 0, 0);
  REQUIRE_MESSAGE(top.has_value(), (top ? "" : top.error_value().message()));
  CHECK(top->name() == "Top");
  CHECK(names(vm, 0) == std::vector<std::string>{"Top#0", "Cache#0", "Mem#0"});
  // Constructors run top first (each attaches below from its constructor), then the device is told.
  CHECK(take_journal() == std::vector<std::string>{"ctor Top#0", "ctor Cache#0", "ctor Mem#0", "device attach LUN#0"});
  // The layers are linked: words written at the top land in Mem, through Cache.
  words* w = top->query<words>();
  REQUIRE(w != nullptr);
  CHECK(w->put(7, 0xC0FFEEU));
  std::uint32_t back = 0;
  CHECK(w->get(7, back));
  CHECK(back == 0xC0FFEEU);
  CHECK_FALSE(w->put(8, 1));  // Mem's Size is 32 bytes: word 8 is past the end
  auto* c = static_cast<cache*>(vm.driver_on_lun("disk", 0, 0, "Cache")->get());
  CHECK(c->writes == 2);
  CHECK(c->reads == 1);
  // The top driver saw the device's port through ctx.above().
  CHECK(dev.the_port.notices == 1);
}

TEST_CASE("instance numbers only grow; the live count goes up and down") {
  disk_device dev;
  pdm::vm vm(make_registry(), config_of(three_layers), on_this_thread());
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.attach("disk", 0, 0));
  REQUIRE(vm.attach("disk", 0, 1));
  CHECK(names(vm, 1) == std::vector<std::string>{"Top#1", "Mem#1"});
  CHECK(vm.counts("Mem")->live == 2);
  CHECK(vm.counts("Mem")->next_instance == 2);
  REQUIRE(vm.detach("disk", 0, 0));
  CHECK(vm.counts("Mem")->live == 1);
  CHECK(vm.counts("Mem")->next_instance == 2);
  REQUIRE(vm.attach("disk", 0, 0));
  CHECK(names(vm, 0) == std::vector<std::string>{"Top#2", "Cache#1", "Mem#2"});
  CHECK(vm.counts("Mem")->live == 2);
  CHECK(vm.counts("Mem")->next_instance == 3);
  std::vector<std::string> mems;
  const std::vector<pdm::driver_ref> live = vm.instances_of("Mem").value();
  for (const pdm::driver_ref& r : live) mems.push_back(std::to_string(r.instance()));
  CHECK(mems == std::vector<std::string>{"1", "2"});
  CHECK(vm.counts("Solo")->live == 0);
  CHECK(vm.counts("Nope").error_value() == pdm::errc::driver_not_found);
  CHECK(vm.instances_of("Nope").error_value() == pdm::errc::driver_not_found);
}

TEST_CASE("Config is created where missing and handed over as a restricted root") {
  disk_device dev;
  pdm::vm vm(make_registry(), config_of(three_layers), on_this_thread());
  REQUIRE(vm.add_device(dev.spec()));
  CHECK_FALSE(vm.config().has_child("Devices/disk/0/LUN#0/Config"));
  REQUIRE(vm.attach("disk", 0, 0));
  const pdm::config_node* cfg = vm.config().find_child("Devices/disk/0/LUN#0/Config");
  REQUIRE(cfg != nullptr);
  CHECK(cfg->is_restricted_root());
  CHECK(cfg->parent().error_value() == pdm::errc::no_parent);
  CHECK(vm.config().find_child("Devices/disk/0/LUN#0/AttachedDriver/AttachedDriver/Config")->is_restricted_root());
}

TEST_CASE("the device hears of a hot attach, not of one at construction") {
  disk_device dev;
  pdm::vm vm(make_registry(), config_of(three_layers), on_this_thread());
  REQUIRE(vm.add_device(dev.spec()));
  take_journal();
  REQUIRE(vm.attach("disk", 0, 0, pdm::attach_flags::not_hot_plug));
  CHECK(take_journal() == std::vector<std::string>{"ctor Top#0", "ctor Cache#0", "ctor Mem#0"});
}

TEST_CASE("attach_all attaches every configured LUN that is free") {
  disk_device dev;
  disk_device other;
  std::string json(three_layers);
  pdm::vm vm(make_registry(), config_of(json), on_this_thread());
  REQUIRE(vm.add_device(dev.spec(0)));
  REQUIRE(vm.add_device(other.spec(1)));  // disk #1 has no config: skipped
  REQUIRE(vm.attach("disk", 0, 1));
  take_journal();
  REQUIRE(vm.attach_all());
  CHECK(names(vm, 0) == std::vector<std::string>{"Top#1", "Cache#0", "Mem#1"});
  CHECK(vm.chain("disk", 1, 0)->empty());
  CHECK(take_journal() == std::vector<std::string>{"ctor Top#1", "ctor Cache#0", "ctor Mem#1"});
}

TEST_CASE("attach errors: where the chain would go") {
  disk_device dev;
  pdm::vm vm(make_registry(), config_of(three_layers), on_this_thread());
  REQUIRE(vm.add_device(dev.spec()));

  pdm::result<pdm::driver_ref> r = vm.attach("tape", 0, 0);
  CHECK(r.error_value() == pdm::errc::device_not_found);
  CHECK(r.error_value().config_path() == "Devices/tape/0");
  r = vm.attach("disk", 3, 0);
  CHECK(r.error_value() == pdm::errc::device_not_found);
  r = vm.attach("disk", 0, 5);
  CHECK(r.error_value() == pdm::errc::lun_not_found);
  CHECK(r.error_value().config_path() == "Devices/disk/0/LUN#5");

  REQUIRE(vm.attach("disk", 0, 0));
  r = vm.attach("disk", 0, 0);
  CHECK(r.error_value() == pdm::errc::already_attached);
  CHECK(r.error_value().message().find("'Top' #0") != std::string::npos);

  pdm::vm empty(make_registry(), config_of(R"({"Devices": {"disk": {"0": {}}}})"), on_this_thread());
  REQUIRE(empty.add_device(dev.spec()));
  r = empty.attach("disk", 0, 0);
  CHECK(r.error_value() == pdm::errc::no_attached_driver);
  CHECK(r.error_value().config_path() == "Devices/disk/0/LUN#0");
}

TEST_CASE("attach errors: the driver's name and look-up") {
  disk_device dev;
  auto attach_with = [&](std::string_view json) {
    pdm::vm vm(make_registry(), config_of(json), on_this_thread());
    REQUIRE(vm.add_device(dev.spec()));
    const std::string before = vm.config().dump();
    pdm::result<pdm::driver_ref> r = vm.attach("disk", 0, 0);
    CHECK(vm.config().dump() == before);
    CHECK(vm.chain("disk", 0, 0)->empty());
    return r.has_value() ? pdm::error() : r.error_value();
  };
  pdm::error e = attach_with(R"({"Devices": {"disk": {"0": {"LUN#0": {"Config": {}}}}}})");
  CHECK(e == pdm::errc::missing_driver_name);
  CHECK(e.config_path() == "Devices/disk/0/LUN#0");

  e = attach_with(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Topp"}}}}})");
  CHECK(e == pdm::errc::driver_not_found);
  CHECK(e.message().find("did you mean 'Top'") != std::string::npos);
  CHECK(e.config_path() == "Devices/disk/0/LUN#0/Driver");

  e = attach_with(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": 7}}}}})");
  CHECK(e == pdm::errc::wrong_type);

  e = attach_with(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "AttachDriver": {"Driver": "Mem"}}}}}})");
  CHECK(e == pdm::errc::unknown_key);
  CHECK(e.message().find("did you mean 'AttachedDriver'") != std::string::npos);

  e = attach_with(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "Config": 1}}}}})");
  CHECK(e == pdm::errc::wrong_type);
  CHECK(e.config_path() == "Devices/disk/0/LUN#0/Config");

  // A driver lower down with a bad name: the whole attach fails, nothing is left.
  e = attach_with(
      R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "AttachedDriver": {"Driver": "Cache", "AttachedDriver": {"Driver": "Mystery"}}}}}}})");
  CHECK(e == pdm::errc::driver_not_found);
  CHECK(e.config_path() == "Devices/disk/0/LUN#0/AttachedDriver/AttachedDriver/Driver");
}

TEST_CASE("attach errors: instance limits and interfaces are checked before construction") {
  disk_device dev;
  take_journal();
  pdm::vm vm(make_registry(), config_of(R"({"Devices": {"disk": {"0": {
      "LUN#0": {"Driver": "Top", "AttachedDriver": {"Driver": "Solo"}},
      "LUN#1": {"Driver": "Top", "AttachedDriver": {"Driver": "Solo"}}}}}})"),
             on_this_thread());
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.attach("disk", 0, 0));
  take_journal();
  pdm::result<pdm::driver_ref> r = vm.attach("disk", 0, 1);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error_value() == pdm::errc::too_many_instances);
  CHECK(r.error_value().driver_name() == "Solo");
  CHECK(r.error_value().message().find("1 of at most 1 are alive") != std::string::npos);
  // Top #1 was constructed, then destroyed when its attach below failed.
  CHECK(take_journal() == std::vector<std::string>{"ctor Top#1", "dtor Top#1"});
  CHECK(vm.counts("Top")->live == 1);
  CHECK(vm.counts("Top")->next_instance == 1);

  // The device needs words from the top driver: Mem offers bytes.
  pdm::vm bad_top(make_registry(), config_of(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Mem"}}}}})"),
                  on_this_thread());
  REQUIRE(bad_top.add_device(dev.spec()));
  r = bad_top.attach("disk", 0, 0);
  CHECK(r.error_value() == pdm::errc::missing_interface);
  CHECK(r.error_value().message().find("does not provide test.words/1, which the device 'disk' (LUN 0) needs") !=
        std::string::npos);
  CHECK(take_journal().empty());  // nothing was constructed

  // Top needs bytes below; Top provides words only.
  pdm::vm bad_below(
      make_registry(),
      config_of(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "AttachedDriver": {"Driver": "Top"}}}}}})"),
      on_this_thread());
  REQUIRE(bad_below.add_device(dev.spec()));
  r = bad_below.attach("disk", 0, 0);
  CHECK(r.error_value() == pdm::errc::missing_interface);
  CHECK(r.error_value().message().find("which the driver 'Top' above it needs") != std::string::npos);
  CHECK(take_journal() == std::vector<std::string>{"ctor Top#0", "dtor Top#0"});

  // Needy needs test.nothing/1 from above, which Cache does not offer.
  pdm::vm needs_above(
      make_registry(),
      config_of(
          R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "AttachedDriver": {"Driver": "Cache", "AttachedDriver": {"Driver": "Needy"}}}}}}})"),
      on_this_thread());
  REQUIRE(needs_above.add_device(dev.spec()));
  r = needs_above.attach("disk", 0, 0);
  CHECK(r.error_value() == pdm::errc::missing_interface);
  CHECK(r.error_value().driver_name() == "Needy");
  CHECK(r.error_value().message().find("it needs test.nothing/1 from above") != std::string::npos);
  const std::vector<std::string> j = take_journal();
  CHECK(std::find(j.begin(), j.end(), "ctor Needy#0") == j.end());
}

TEST_CASE("attach errors: constructors that fail, and bad config") {
  disk_device dev;
  auto attach_with = [&](std::string_view json) {
    pdm::vm vm(make_registry(), config_of(json), on_this_thread());
    REQUIRE(vm.add_device(dev.spec()));
    pdm::result<pdm::driver_ref> r = vm.attach("disk", 0, 0);
    CHECK(vm.chain("disk", 0, 0)->empty());
    return r.has_value() ? pdm::error() : r.error_value();
  };
  pdm::error e =
      attach_with(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "Config": {"Fail": "throw"}}}}}})");
  CHECK(e == pdm::errc::constructor_failed);
  CHECK(e.detail() == "configured to throw");
  CHECK(e.driver_name() == "Top");
  CHECK(e.instance() == 0);
  CHECK(e.config_path() == "Devices/disk/0/LUN#0");

  e = attach_with(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "Config": {"Fail": "error"}}}}}})");
  CHECK(e == pdm::errc::invalid_value);  // what the driver passed to ctx.fail()
  CHECK(e.detail() == "configured to fail");
  CHECK(e.driver_name() == "Top");

  // Typed config: an unknown key and a wrong type are both reported, nothing is constructed.
  take_journal();
  e = attach_with(
      R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "Config": {"Fial": "x", "Attach": 3}}}}}})");
  CHECK(e == pdm::errc::invalid_value);
  CHECK(e.causes().size() == 2);
  CHECK(e.driver_name() == "Top");
  CHECK(take_journal().empty());
}

TEST_CASE("the device can refuse a hot-attached chain") {
  disk_device dev;
  pdm::vm vm(make_registry(), config_of(three_layers), on_this_thread());
  pdm::device_spec spec = dev.spec();
  spec.hooks.on_attach = [](std::uint32_t, pdm::attach_flags) -> pdm::status {
    return pdm::error(pdm::errc::invalid_argument, "no room");
  };
  REQUIRE(vm.add_device(std::move(spec)));
  const std::string before = vm.config().dump();
  take_journal();
  pdm::result<pdm::driver_ref> r = vm.attach("disk", 0, 0);
  CHECK(r.error_value() == pdm::errc::invalid_argument);
  CHECK(r.error_value().config_path() == "Devices/disk/0/LUN#0");
  CHECK(vm.chain("disk", 0, 0)->empty());
  CHECK(vm.config().dump() == before);  // the Config nodes it made are gone again
  // Destroyed bottom-most first, without notifications.
  CHECK(take_journal() == std::vector<std::string>{"ctor Top#0", "ctor Cache#0", "ctor Mem#0", "dtor Mem#0",
                                                   "dtor Cache#0", "dtor Top#0"});
  CHECK(vm.counts("Top")->next_instance == 0);
}

TEST_CASE("extend_chain asks the bottom driver to attach below itself") {
  disk_device dev;
  pdm::vm vm(make_registry(),
             config_of(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Top", "AttachedDriver": {"Driver": "Cache",
                 "Config": {"Attach": false}, "AttachedDriver": {"Driver": "Mem"}}}}}}})"),
             on_this_thread());
  REQUIRE(vm.add_device(dev.spec()));
  CHECK(vm.extend_chain("disk", 0, 0).error_value() == pdm::errc::no_attached_driver);
  REQUIRE(vm.attach("disk", 0, 0));
  CHECK(names(vm, 0) == std::vector<std::string>{"Top#0", "Cache#0"});
  REQUIRE(vm.extend_chain("disk", 0, 0));
  CHECK(names(vm, 0) == std::vector<std::string>{"Top#0", "Cache#0", "Mem#0"});
  // Mem has no on_attach_below hook.
  pdm::status s = vm.extend_chain("disk", 0, 0);
  CHECK(s.error_value() == pdm::errc::no_runtime_attach);
  CHECK(s.error_value().driver_name() == "Mem");
  CHECK(vm.extend_chain("disk", 0, 9).error_value() == pdm::errc::lun_not_found);
}

TEST_CASE("devices: names, duplicates and LUNs are checked") {
  pdm::vm vm(make_registry(), pdm::config_tree(), on_this_thread());
  disk_device dev;
  REQUIRE(vm.add_device(dev.spec()));
  CHECK(vm.add_device(dev.spec()).error_value() == pdm::errc::already_exists);
  pdm::device_spec bad = dev.spec(1);
  bad.name = "di/sk";
  CHECK(vm.add_device(std::move(bad)).error_value() == pdm::errc::invalid_argument);
  pdm::device_spec twice = dev.spec(2);
  twice.luns.push_back(twice.luns.front());
  pdm::status s = vm.add_device(std::move(twice));
  CHECK(s.error_value() == pdm::errc::invalid_argument);
  CHECK(s.error_value().message().find("LUN 0 twice") != std::string::npos);
  CHECK(vm.add_device(dev.spec(3)));
}

TEST_CASE("nothing attaches once the VM is off") {
  disk_device dev;
  pdm::vm vm(make_registry(), config_of(three_layers), on_this_thread());
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.power_on());
  REQUIRE(vm.power_off());
  CHECK(vm.attach("disk", 0, 0).error_value() == pdm::errc::invalid_vm_state);
  CHECK(vm.add_device(dev.spec(1)).error_value() == pdm::errc::invalid_vm_state);
}

TEST_CASE("the dump lists devices, LUNs and chains") {
  disk_device dev;
  pdm::vm vm(make_registry(), config_of(three_layers), on_this_thread());
  REQUIRE(vm.add_device(dev.spec()));
  REQUIRE(vm.attach("disk", 0, 0));
  CHECK(vm.dump().value() ==
        "disk #0\n"
        "  LUN#0\n"
        "    Top #0\n"
        "    Cache #0\n"
        "    Mem #0\n"
        "  LUN#1 (nothing attached)\n");
}

TEST_CASE("a LUN attached from another LUN's device hook stays when that attach fails") {
  disk_device dev;
  pdm::vm* self = nullptr;
  pdm::vm vm(make_registry(), config_of(three_layers), on_this_thread());
  self = &vm;
  pdm::device_spec spec = dev.spec();
  spec.hooks.on_attach = [&self](std::uint32_t lun, pdm::attach_flags) -> pdm::status {
    if (lun != 0) return pdm::ok();
    pdm::result<pdm::driver_ref> other = self->attach("disk", 0, 1, pdm::attach_flags::not_hot_plug);
    if (!other) return other.error_value();
    return pdm::error(pdm::errc::invalid_argument, "LUN 0 is refused");
  };
  REQUIRE(vm.add_device(std::move(spec)));
  pdm::result<pdm::driver_ref> r = vm.attach("disk", 0, 0);
  CHECK(r.error_value() == pdm::errc::invalid_argument);
  // LUN 1's chain lives on, with its Config nodes and its instance numbers.
  CHECK(names(vm, 0).empty());
  CHECK(names(vm, 1) == std::vector<std::string>{"Top#1", "Mem#1"});
  CHECK(vm.config().has_child("Devices/disk/0/LUN#1/Config"));
  CHECK(vm.config().has_child("Devices/disk/0/LUN#1/AttachedDriver/Config"));
  CHECK_FALSE(vm.config().has_child("Devices/disk/0/LUN#0/Config"));
  CHECK(vm.counts("Top")->live == 1);
  CHECK(vm.counts("Top")->next_instance == 2);
  CHECK(vm.driver_on_lun("disk", 0, 1)->query<words>()->put(0, 1));
  // The next Top gets a new number.
  REQUIRE(vm.attach("disk", 0, 0, pdm::attach_flags::not_hot_plug));
  CHECK(names(vm, 0).front() == "Top#2");
}

TEST_CASE("a device hook that detaches the chain and then refuses it") {
  disk_device dev;
  pdm::vm* self = nullptr;
  pdm::vm vm(make_registry(), config_of(three_layers), on_this_thread());
  self = &vm;
  pdm::device_spec spec = dev.spec();
  spec.hooks.on_attach = [&self](std::uint32_t lun, pdm::attach_flags) -> pdm::status {
    if (pdm::status s = self->detach("disk", 0, lun); !s) return s;
    return pdm::error(pdm::errc::invalid_argument, "changed my mind");
  };
  REQUIRE(vm.add_device(std::move(spec)));
  const std::string before = vm.config().dump();
  take_journal();
  pdm::result<pdm::driver_ref> r = vm.attach("disk", 0, 0);
  CHECK(r.error_value() == pdm::errc::invalid_argument);
  CHECK(names(vm, 0).empty());
  CHECK(vm.config().dump() == before);
  CHECK(vm.counts("Top")->live == 0);
  // Destroyed once, by the detach (which told the device).
  const std::vector<std::string> j = take_journal();
  CHECK(std::count(j.begin(), j.end(), "dtor Top#0") == 1);
  CHECK(std::count(j.begin(), j.end(), "device detach LUN#0") == 1);
}

TEST_CASE("what a request throws reaches vm.call's caller; a posted one is reported") {
  std::vector<pdm::vm_report> reports;
  pdm::vm_options options;
  options.report = [&reports](const pdm::vm_report& r) { reports.push_back(r); };
  pdm::vm vm(make_registry(), pdm::config_tree(), options);  // its own EMT thread
  CHECK_THROWS_WITH_AS((void)vm.call([]() -> int { throw std::runtime_error("inside"); }), "inside",
                       std::runtime_error);
  REQUIRE(vm.post([] { throw std::runtime_error("posted"); }));
  CHECK(vm.call([] { return 7; }).value() == 7);  // after the throwing request: the EMT lives on
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].kind == pdm::report_kind::hook_threw);
  CHECK(reports[0].what.message().find("posted") != std::string::npos);
}

TEST_CASE("a device hook that throws something that is not a std::exception refuses the chain") {
  disk_device dev;
  pdm::vm vm(make_registry(), config_of(three_layers), on_this_thread());
  pdm::device_spec spec = dev.spec();
  spec.hooks.on_attach = [](std::uint32_t, pdm::attach_flags) -> pdm::status { throw 42; };
  REQUIRE(vm.add_device(std::move(spec)));
  const std::string before = vm.config().dump();
  pdm::result<pdm::driver_ref> r = vm.attach("disk", 0, 0);
  CHECK(r.error_value() == pdm::errc::constructor_failed);
  CHECK(r.error_value().detail() == "the device's on_attach threw a non-standard exception");
  CHECK(names(vm, 0).empty());
  CHECK(vm.config().dump() == before);
  // The attach depth was restored: a later attach commits (its Config nodes stay after success).
  spec = dev.spec(1);
  REQUIRE(vm.add_device(std::move(spec)));
  REQUIRE(vm.attach("disk", 0, 1, pdm::attach_flags::not_hot_plug));
  CHECK(vm.config().has_child("Devices/disk/0/LUN#1/Config"));
}

TEST_CASE("a chain attached during a reset of a suspended VM counts as suspended") {
  disk_device dev;
  pdm::vm* self = nullptr;
  pdm::vm vm(make_registry(), config_of(three_layers), on_this_thread());
  self = &vm;
  pdm::device_spec spec = dev.spec();
  spec.hooks.on_reset = [&self] { REQUIRE(self->attach("disk", 0, 1, pdm::attach_flags::not_hot_plug)); };
  REQUIRE(vm.add_device(std::move(spec)));
  REQUIRE(vm.power_on());
  REQUIRE(vm.suspend());
  REQUIRE(vm.reset());
  CHECK(vm.state() == pdm::vm_state::suspended);
  take_journal();
  REQUIRE(vm.resume());
  const std::vector<std::string> j = take_journal();
  CHECK(std::count(j.begin(), j.end(), "resume Top#0") == 1);  // the chain attached during the reset
  CHECK(std::count(j.begin(), j.end(), "resume Mem#0") == 1);
}
