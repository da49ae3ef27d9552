#include <pdm/core/error.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <string>

TEST_CASE("an error's message names the driver, the instance and the config path") {
  const pdm::error e = pdm::error(pdm::errc::driver_not_found, "no driver called 'Foo'")
                           .driver("Block", 3)
                           .path("Devices/ahci/0/LUN#0/AttachedDriver");
  CHECK(e == pdm::errc::driver_not_found);
  CHECK(e.driver_name() == "Block");
  CHECK(e.instance() == 3);
  CHECK(e.config_path() == "Devices/ahci/0/LUN#0/AttachedDriver");
  CHECK(e.message() ==
        "driver 'Block' #3 at 'Devices/ahci/0/LUN#0/AttachedDriver': driver not found: no driver called 'Foo'");
}

TEST_CASE("an error's message leaves out what it does not know") {
  CHECK(pdm::error(pdm::errc::queue_full).message() == "queue full");
  CHECK(pdm::error(pdm::errc::queue_full).driver("Q").message() == "driver 'Q': queue full");
  CHECK(pdm::error(pdm::errc::wrong_type, "expected integer").path("A/B").message() ==
        "at 'A/B': config value has the wrong type: expected integer");
}

TEST_CASE("errors carry codes of other categories too") {
  const pdm::error e(std::make_error_code(std::errc::no_such_file_or_directory), "disk.img");
  CHECK(e.code() == std::errc::no_such_file_or_directory);
  CHECK_FALSE(e == pdm::errc::io_error);
  CHECK(e.message().find("disk.img") != std::string::npos);
}

TEST_CASE("result holds a value or an error") {
  pdm::result<int> good = 7;
  REQUIRE(good.has_value());
  CHECK(*good == 7);
  CHECK(good.value_or(1) == 7);

  pdm::result<int> bad = pdm::errc::out_of_range;
  REQUIRE_FALSE(bad);
  CHECK(bad.error_value() == pdm::errc::out_of_range);
  CHECK(bad.value_or(1) == 1);
}

TEST_CASE("result works with move-only values and moves errors out") {
  pdm::result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  REQUIRE(r);
  std::unique_ptr<int> p = std::move(r).value();
  CHECK(*p == 5);

  pdm::result<std::unique_ptr<int>> e = pdm::error(pdm::errc::no_memory, "x");
  pdm::error moved = std::move(e).error_value();
  CHECK(moved.detail() == "x");
}

TEST_CASE("status is success by default and an error otherwise") {
  pdm::status s = pdm::ok();
  CHECK(s.has_value());
  pdm::status f = pdm::error(pdm::errc::detach_not_possible).driver("Char", 0);
  REQUIRE_FALSE(f);
  CHECK(f.error_value() == pdm::errc::detach_not_possible);
  CHECK(f.error_value().message() == "driver 'Char' #0: the parent cannot detach drivers below it");
}

TEST_CASE("an error can carry every related problem, each printed on its own line") {
  pdm::error all(pdm::errc::invalid_value, "2 problems");
  all.path("Devices/x/0/LUN#0/Config");
  all.add_cause(pdm::error(pdm::errc::unknown_key, "did you mean 'Path'?").path("Devices/x/0/LUN#0/Config/Pth"));
  all.add_cause(pdm::error(pdm::errc::missing_required).path("Devices/x/0/LUN#0/Config/Size"));
  REQUIRE(all.causes().size() == 2);
  CHECK(all.causes()[1] == pdm::errc::missing_required);
  CHECK(all.message() ==
        "at 'Devices/x/0/LUN#0/Config': invalid config value: 2 problems\n"
        "  - at 'Devices/x/0/LUN#0/Config/Pth': unknown config key: did you mean 'Path'?\n"
        "  - at 'Devices/x/0/LUN#0/Config/Size': required config key missing");
}
