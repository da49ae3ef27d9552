// tests/analysis/config_check.cpp - check_config (pdm/analysis/config_check.hpp): a config checked
// against a registry and the VMM's devices without constructing anything; every problem reported
// at once with its code, driver and path; what an attach of the same config then does.
#include <doctest/doctest.h>

#include <pdm/pdm.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../examples/drivers/storage.hpp"

namespace {

using pdm::errc;

// A media driver that counts its constructions and allows one instance.
int constructed = 0;
class single final : public example::media {
 public:
  static constexpr pdm::driver_traits traits{.name = "Single",
                                             .description = "One instance at most",
                                             .class_mask = pdm::driver_class::media,
                                             .max_instances = 1};
  using provides = pdm::interface_list<example::media>;
  explicit single(pdm::driver_context& /*ctx*/) { ++constructed; }
  bool read(std::uint64_t /*offset*/, void* /*out*/, std::size_t /*size*/) override { return false; }
  bool write(std::uint64_t /*offset*/, const void* /*in*/, std::size_t /*size*/) override { return false; }
  [[nodiscard]] std::uint64_t size() const override { return 0; }
};

pdm::registry drivers() {
  pdm::registry r;
  REQUIRE(r.add(example::storage_drivers{}));
  REQUIRE(r.add(pdm::driver_list<single>{}));
  return r;
}

pdm::config_tree config_of(std::string_view json) {
  pdm::result<pdm::config_tree> c = pdm::load_json(json);
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error_value().message()));
  return std::move(c).value();
}

// The VMM's devices: disk #0 with LUNs 0 and 1, offering the block port and needing block.
std::vector<pdm::device_spec> devices(example::block_port& port) {
  pdm::device_spec disk{.name = "disk", .instance = 0};
  for (std::uint32_t n : {0U, 1U}) {
    disk.luns.push_back(pdm::lun_spec{
        .number = n, .offers = {pdm::offer<example::block_port>(port)}, .needs = pdm::interfaces<example::block>()});
  }
  return {std::move(disk)};
}

// The problem with `code` whose path is `path`, or a failed check.
const pdm::error& find(const std::vector<pdm::error>& problems, errc code, std::string_view path) {
  const auto it = std::find_if(problems.begin(), problems.end(),
                               [&](const pdm::error& e) { return e == code && e.config_path() == path; });
  if (it == problems.end()) {
    std::string all;
    for (const pdm::error& e : problems) all += e.message() + "\n";
    FAIL("no ", pdm::make_error_code(code).message(), " at ", path, "; the problems:\n", all);
  }
  return *it;
}

constexpr std::string_view good = R"({
  "Devices": {"disk": {"0": {
    "LUN#0": {"Driver": "Block", "AttachedDriver": {"Driver": "RamDisk", "Config": {"SizeSectors": 8}}},
    "LUN#1": {"Driver": "Block", "Config": {"Policy": "read_only"},
              "AttachedDriver": {"Driver": "Tracer", "Config": {"Report": false}, "AttachedDriver": {"Driver": "Single"}}}}}},
  "PDM": {"DriverTransformations": {"trace": {"AboveDriver": "RamDisk", "AttachedDriver": {"Driver": "Tracer"}}}}})";

}  // namespace

TEST_CASE("a good config has no problems, with or without the devices, and nothing is constructed") {
  example::block_port port;
  const pdm::config_tree config = config_of(good);
  constructed = 0;
  CHECK(pdm::check_config(config, drivers()).empty());
  CHECK(pdm::check_config(config, drivers(), devices(port)).empty());
  CHECK(constructed == 0);
  // The same config attaches.
  pdm::vm_options options;
  options.emt = pdm::emt_mode::current_thread;
  pdm::vm vm(drivers(), config_of(good), options);
  for (pdm::device_spec& d : devices(port)) REQUIRE(vm.add_device(std::move(d)));
  CHECK(vm.attach_all());
  CHECK(constructed == 1);
}

TEST_CASE("every problem of a driver's node is reported at once, with its code, driver and path") {
  const pdm::config_tree config = config_of(R"({"Devices": {"disk": {"0": {
    "LUN#0": {"Driver": "Block", "AttachedDriver": {"Driver": "RamDsk"}},
    "LUN#1": {"Driver": "Block", "AttachedDrivre": {"Driver": "RamDisk"}},
    "LUN#2": {"AttachedDriver": {"Driver": "RamDisk"}},
    "LUN#3": {"Driver": 7},
    "LUN#4": {"Driver": "Block", "Config": 1, "AttachedDriver": {"Driver": "RamDisk"}},
    "LUN#5": {"Driver": "Block", "AttachedDriver": {"Driver": "RamDisk", "Config": {"SizeSectors": 0, "Fil": 1}}}}}}})");
  const std::vector<pdm::error> problems = pdm::check_config(config, drivers());
  const pdm::error& unknown = find(problems, errc::driver_not_found, "Devices/disk/0/LUN#0/AttachedDriver/Driver");
  CHECK(unknown.message().find("'RamDsk' is not registered (did you mean 'RamDisk'?)") != std::string::npos);
  const pdm::error& typo = find(problems, errc::unknown_key, "Devices/disk/0/LUN#1/AttachedDrivre");
  CHECK(typo.message().find("did you mean 'AttachedDriver'?") != std::string::npos);
  find(problems, errc::missing_driver_name, "Devices/disk/0/LUN#2");
  const pdm::error& number = find(problems, errc::wrong_type, "Devices/disk/0/LUN#3/Driver");
  CHECK(number.message().find("Driver must be a string") != std::string::npos);
  find(problems, errc::wrong_type, "Devices/disk/0/LUN#4/Config");
  // The RamDisk's config binds as at attach: both of its problems, naming the driver.
  const auto bind = std::find_if(problems.begin(), problems.end(), [](const pdm::error& e) {
    return e.driver_name() == "RamDisk" && e.config_path().starts_with("Devices/disk/0/LUN#5/AttachedDriver/Config");
  });
  REQUIRE(bind != problems.end());
  CHECK(bind->message().find("SizeSectors") != std::string::npos);
  CHECK(bind->message().find("did you mean 'Fill'?") != std::string::npos);
  CHECK(problems.size() == 6);
}

TEST_CASE("interfaces are checked both ways between drivers, and against the LUN when the devices are given") {
  example::block_port port;
  const pdm::config_tree config = config_of(R"({"Devices": {"disk": {"0": {
    "LUN#0": {"Driver": "Block", "AttachedDriver": {"Driver": "Block"}},
    "LUN#1": {"Driver": "RamDisk"}}}}})");
  const std::vector<pdm::error> without = pdm::check_config(config, drivers());
  // Block below Block: it provides no media, and it needs the block port from above.
  const pdm::error& media = find(without, errc::missing_interface, "Devices/disk/0/LUN#0/AttachedDriver");
  CHECK(media.driver_name() == "Block");
  CHECK(media.message().find("it does not provide example.media/1, which the driver 'Block' above it needs") !=
        std::string::npos);
  const pdm::error& port_above = find(without, errc::missing_interface, "Devices/disk/0/LUN#0/AttachedDriver");
  CHECK(without.size() == 2);  // that, and: the lower Block needs the block port, which a Block does not offer
  CHECK(std::any_of(without.begin(), without.end(), [](const pdm::error& e) {
    return e.message().find(
               "it needs example.block-port/1 from above, which the driver 'Block' above it does not offer") !=
           std::string::npos;
  }));
  (void)port_above;
  const std::vector<pdm::error> with = pdm::check_config(config, drivers(), devices(port));
  const pdm::error& lun = find(with, errc::missing_interface, "Devices/disk/0/LUN#1");
  CHECK(lun.driver_name() == "RamDisk");
  CHECK(lun.message().find("which the device 'disk' (LUN 1) needs") != std::string::npos);
}

TEST_CASE("devices and LUNs the VMM does not have, and instance nodes that are not numbers") {
  example::block_port port;
  const pdm::config_tree config = config_of(R"({"Devices": {
    "disk": {"0": {"LUN#7": {"Driver": "RamDisk"}, "LUN#x": {"Driver": "RamDisk"}, "Settings": {"A": 1}},
             "one": {"LUN#0": {"Driver": "RamDisk"}}},
    "net": {"0": {"LUN#0": {"Driver": "RamDisk"}}}}})");
  const std::vector<pdm::error> problems = pdm::check_config(config, drivers(), devices(port));
  find(problems, errc::lun_not_found, "Devices/disk/0/LUN#7");
  find(problems, errc::invalid_name, "Devices/disk/0/LUN#x");
  find(problems, errc::invalid_name, "Devices/disk/one");
  find(problems, errc::device_not_found, "Devices/net/0");
  CHECK(problems.size() == 4);  // a device's own settings (not LUN#n) are not the check's business
}

TEST_CASE("more configured instances than a driver allows is too_many_instances") {
  const pdm::config_tree config = config_of(R"({"Devices": {"disk": {"0": {
    "LUN#0": {"Driver": "Tracer", "AttachedDriver": {"Driver": "Single"}},
    "LUN#1": {"Driver": "Tracer", "AttachedDriver": {"Driver": "Single"}}}}}})");
  const std::vector<pdm::error> problems = pdm::check_config(config, drivers());
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == errc::too_many_instances);
  CHECK(problems[0].driver_name() == "Single");
  CHECK(problems[0].message().find("2 instances are configured; the driver allows 1") != std::string::npos);
}

TEST_CASE("a transformation rule the VM would refuse is reported") {
  const pdm::config_tree config = config_of(R"({"PDM": {"DriverTransformations": {
    "bad": {"Action": "explode", "AttachedDriver": {"Driver": "Tracer"}}}}})");
  const std::vector<pdm::error> problems = pdm::check_config(config, drivers());
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message().find("explode") != std::string::npos);
}
