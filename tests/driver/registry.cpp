#include <pdm/driver/registry.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "test_drivers.hpp"

namespace {
using drivers = pdm::driver_list<test::memory_disk, test::block_layer, test::counting_filter>;

struct extra {
  static constexpr pdm::driver_traits traits{
      .name = "Extra", .description = "another driver", .class_mask = pdm::driver_class::status};
  explicit extra(pdm::driver_context& /*ctx*/) {}
};
}  // namespace

static_assert(drivers::valid);
static_assert(drivers::size == 3);
static_assert(drivers::find("Block") == &drivers::descriptors()[1]);
static_assert(drivers::find("MemDisk")->max_instances == 8);
static_assert(drivers::find("memdisk") == nullptr);  // names are case-sensitive
static_assert(drivers::find("") == nullptr);
static_assert(drivers::find("Blockx") == nullptr);
static_assert(&drivers::descriptor<test::counting_filter>() == &drivers::descriptors()[2]);
static_assert(drivers::descriptor<test::counting_filter>().name == pdm::descriptor_of<test::counting_filter>.name);
static_assert(pdm::driver_list<>::valid && pdm::driver_list<>::size == 0 && pdm::driver_list<>::find("x") == nullptr);

TEST_CASE("a driver_list keeps list order and finds every name") {
  const auto ds = drivers::descriptors();
  REQUIRE(ds.size() == 3);
  CHECK(ds[0].name == "MemDisk");
  CHECK(ds[1].name == "Block");
  CHECK(ds[2].name == "Counter");
  for (const pdm::driver_descriptor& d : ds) {
    const std::string copy(d.name);  // a run-time string, not the literal
    CHECK(drivers::find(copy) == &d);
  }
}

TEST_CASE("a registry registers a list and finds drivers by name") {
  pdm::registry reg;
  CHECK(reg.empty());
  CHECK(reg.find("Block") == nullptr);
  REQUIRE(reg.add(drivers{}));
  CHECK(reg.size() == 3);
  CHECK(reg.find("Block") == &drivers::descriptor<test::block_layer>());
  CHECK(reg.find(std::string("Counter")) == &drivers::descriptor<test::counting_filter>());
  CHECK(reg.find("Nope") == nullptr);
  CHECK(reg.interface_id(pdm::interface_key<test::media>) == "pdm.test.media/1");
  CHECK(reg.interface_id(pdm::interface_key<test::media_port>) == "pdm.test.media-port/1");  // from needs_above
  CHECK(reg.interface_id(12345).empty());
  REQUIRE(reg.drivers().size() == 3);
  CHECK(reg.drivers()[2]->name == "Counter");
}

TEST_CASE("registering a name twice is a name clash that changes nothing") {
  pdm::registry reg;
  REQUIRE(reg.add(drivers{}));
  const pdm::status again = reg.add(pdm::descriptor_of<test::block_layer>);
  REQUIRE_FALSE(again);
  CHECK(again.error_value() == pdm::errc::name_clash);
  CHECK(again.error_value().driver_name() == "Block");
  CHECK(again.error_value().message() == "driver 'Block': a driver of that name is already registered");
  CHECK(reg.size() == 3);

  // A batch with one clash adds nothing, not even its valid members.
  const pdm::driver_descriptor* batch[] = {&pdm::descriptor_of<extra>, &pdm::descriptor_of<test::memory_disk>};
  const pdm::status s = reg.add(std::span<const pdm::driver_descriptor* const>(batch));
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::name_clash);
  CHECK(reg.size() == 3);
  CHECK(reg.find("Extra") == nullptr);
  CHECK(reg.add(pdm::descriptor_of<extra>));
  CHECK(reg.find("Extra") == &pdm::descriptor_of<extra>);
}

TEST_CASE("a batch that registers one name twice is rejected") {
  pdm::registry reg;
  const pdm::driver_descriptor* batch[] = {&pdm::descriptor_of<extra>, &pdm::descriptor_of<extra>};
  const pdm::status s = reg.add(std::span<const pdm::driver_descriptor* const>(batch));
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::name_clash);
  CHECK(reg.empty());
}

TEST_CASE("invalid and null descriptors are rejected at run time") {
  pdm::registry reg;
  pdm::driver_descriptor broken = pdm::descriptor_of<extra>;
  broken.max_instances = 0;
  const pdm::status s = reg.add(broken);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::invalid_registration);
  const pdm::driver_descriptor* batch[] = {nullptr};
  CHECK(reg.add(std::span<const pdm::driver_descriptor* const>(batch)).error_value() == pdm::errc::invalid_argument);
  CHECK(reg.empty());
}

namespace {
// Two different ids with the same 64-bit FNV-1a key: a real collision, found by a Pollard-rho
// search over strings of this shape (see docs/architecture.md, "Interfaces").
struct colliding_a {
  static constexpr std::string_view interface_id = "if.2e5e24c680952cba";
};
struct colliding_b {
  static constexpr std::string_view interface_id = "if.0112506a33eee60e";
};
static_assert(pdm::interface_key<colliding_a> == pdm::interface_key<colliding_b>);

struct provides_a final : colliding_a {
  static constexpr pdm::driver_traits traits{
      .name = "ProvidesA", .description = "a", .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<colliding_a>;
  explicit provides_a(pdm::driver_context& /*ctx*/) {}
};
struct needs_b {
  static constexpr pdm::driver_traits traits{
      .name = "NeedsB", .description = "b", .class_mask = pdm::driver_class::filter};
  using needs_below = pdm::interface_list<colliding_b>;
  explicit needs_b(pdm::driver_context& /*ctx*/) {}
};
}  // namespace

TEST_CASE("two interface ids with the same key are refused, whichever arrives second") {
  pdm::registry reg;
  REQUIRE(reg.add(pdm::descriptor_of<provides_a>));
  const pdm::status s = reg.add(pdm::descriptor_of<needs_b>);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::interface_id_clash);
  CHECK(s.error_value().driver_name() == "NeedsB");
  CHECK(s.error_value().message().find("'if.2e5e24c680952cba' and 'if.0112506a33eee60e'") != std::string::npos);
  CHECK(reg.size() == 1);
  CHECK(reg.interface_id(pdm::interface_key<colliding_a>) == "if.2e5e24c680952cba");

  // Within one batch (here a compile-time list) the clash is found too, and nothing is added.
  pdm::registry other;
  const pdm::status t = other.add(pdm::driver_list<provides_a, needs_b>{});
  REQUIRE_FALSE(t);
  CHECK(t.error_value() == pdm::errc::interface_id_clash);
  CHECK(other.empty());
  CHECK(other.interface_id(pdm::interface_key<colliding_a>).empty());
}

TEST_CASE("look-up stays exact through growth of the table") {
  // Many run-time descriptors with generated names: each is found, and near misses are not.
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) names.push_back("Drv-" + std::to_string(i));
  std::vector<pdm::driver_descriptor> ds(names.size(), pdm::descriptor_of<extra>);
  for (std::size_t i = 0; i < ds.size(); ++i) ds[i].name = names[i];
  pdm::registry reg;
  for (std::size_t i = 0; i < ds.size(); ++i) REQUIRE(reg.add(ds[i]));  // grows one at a time
  CHECK(reg.size() == 300);
  for (std::size_t i = 0; i < ds.size(); ++i) CHECK(reg.find(names[i]) == &ds[i]);
  CHECK(reg.find("Drv-300") == nullptr);
  CHECK(reg.find("Drv-") == nullptr);
  CHECK(reg.find("drv-1") == nullptr);

  // The same drivers in one batch into a registry that already holds a list.
  pdm::registry batched;
  REQUIRE(batched.add(drivers{}));
  std::vector<const pdm::driver_descriptor*> batch;
  for (const pdm::driver_descriptor& d : ds) batch.push_back(&d);
  REQUIRE(batched.add(std::span<const pdm::driver_descriptor* const>(batch)));
  CHECK(batched.size() == 303);
  for (std::size_t i = 0; i < ds.size(); ++i) CHECK(batched.find(names[i]) == &ds[i]);
  CHECK(batched.find("Block") == &drivers::descriptor<test::block_layer>());
}
