#include <pdm/driver/descriptor.hpp>
#include <pdm/driver/object.hpp>

#include <doctest/doctest.h>

#include <string>

#include "test_drivers.hpp"

namespace {
// A descriptor as a module would hand it over, starting from a valid one.
pdm::driver_descriptor valid_copy() { return pdm::descriptor_of<test::memory_disk>; }

void check_rejected(const pdm::driver_descriptor& d, pdm::errc code, const std::string& fragment) {
  const pdm::status s = pdm::validate_descriptor(d);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == code);
  INFO(s.error_value().message());
  CHECK(s.error_value().message().find(fragment) != std::string::npos);
}
}  // namespace

TEST_CASE("descriptor_of records traits, layout, interfaces and hooks") {
  constexpr const pdm::driver_descriptor& d = pdm::descriptor_of<test::block_layer>;
  static_assert(d.name == "Block");
  static_assert(d.size == sizeof(test::block_layer));
  static_assert(d.alignment == alignof(test::block_layer));
  static_assert(d.max_instances == pdm::unlimited_instances);
  static_assert(d.provides.size() == 1 && d.needs_below.size() == 1 && d.needs_above.size() == 1);
  static_assert(d.needs_below[0].key == pdm::interface_key<test::media>);
  static_assert(d.needs_above[0].id == "pdm.test.media-port/1");
  static_assert(pdm::has_hook(d.hooks, pdm::driver_hooks::power_on));
  static_assert(pdm::has_hook(d.hooks, pdm::driver_hooks::suspend));
  static_assert(!pdm::has_hook(d.hooks, pdm::driver_hooks::resume));
  static_assert(pdm::has_hook(d.hooks, pdm::driver_hooks::detach_below));
  static_assert(pdm::has_hook(d.hooks, pdm::driver_hooks::attach_below));
  static_assert(pdm::has_hook(d.hooks, pdm::driver_hooks::config));
  static_assert(!pdm::has_hook(d.hooks, pdm::driver_hooks::destructor));  // trivially destructible
  static_assert(pdm::has_hook(pdm::descriptor_of<test::counting_filter>.hooks, pdm::driver_hooks::destructor));
  CHECK(pdm::validate_descriptor(d));
}

TEST_CASE("a type-erased driver constructs with its config, runs hooks and destroys") {
  const pdm::driver_descriptor& d = pdm::descriptor_of<test::block_layer>;
  test::block_layer::config_type cfg{.sector_size = 256};
  pdm::driver_object inst = test::make_object(d, 0, &cfg);
  auto* blk = static_cast<test::block_layer*>(inst.get());
  d.on_power_on(inst.get());
  d.on_suspend(inst.get());
  CHECK(blk->power_events == 2);
  CHECK(d.on_attach_below(inst.get(), pdm::attach_flags::none));

  // Connect a medium and read sector 1: with 256-byte sectors it starts at byte 256.
  pdm::driver_object disk = test::make_object(pdm::descriptor_of<test::memory_disk>, 0);
  auto* media = disk.query<test::media>();
  REQUIRE(media != nullptr);
  const std::uint8_t marker = 0xAB;
  media->write(256, &marker, 1);
  blk->connect(media);
  std::array<std::uint8_t, 512> sector{};
  CHECK(inst.query<test::block>()->read_sector(1, sector));
  CHECK(sector[0] == 0xAB);
  d.on_detach_below(inst.get(), pdm::attach_flags::no_callbacks);
  CHECK_FALSE(blk->read_sector(1, sector));  // detached below
}

TEST_CASE("destroy runs the destructor") {
  const int before = test::counting_filter::destroyed;
  {
    pdm::driver_object inst = test::make_object(pdm::descriptor_of<test::counting_filter>, 3);
    CHECK(static_cast<test::counting_filter*>(inst.get())->log() == "Counter constructed");
  }
  CHECK(test::counting_filter::destroyed == before + 1);
}

TEST_CASE("run-time validation applies every registration rule") {
  pdm::driver_descriptor d = valid_copy();
  CHECK(pdm::validate_descriptor(d));

  d = valid_copy();
  d.version = 7;
  check_rejected(d, pdm::errc::unknown_registration_version, "descriptor version 7");
  d = valid_copy();
  d.version_end = 0;
  check_rejected(d, pdm::errc::unknown_registration_version, "expected");

  d = valid_copy();
  d.name = "";
  check_rejected(d, pdm::errc::invalid_registration, "the name is empty");
  d.name = "01234567890123456789012345678901";
  check_rejected(d, pdm::errc::invalid_registration, "longer than 31");
  d.name = "bad/name";
  check_rejected(d, pdm::errc::invalid_registration, "only letters");

  d = valid_copy();
  d.description = "";
  check_rejected(d, pdm::errc::invalid_registration, "description");
  d = valid_copy();
  d.class_mask = pdm::driver_class::none;
  check_rejected(d, pdm::errc::invalid_registration, "class mask");
  d.class_mask = static_cast<pdm::driver_class>(1U << 31);
  check_rejected(d, pdm::errc::invalid_registration, "class mask");
  d = valid_copy();
  d.max_instances = 0;
  check_rejected(d, pdm::errc::invalid_registration, "max_instances");
  d = valid_copy();
  d.size = pdm::max_driver_size + 1;
  check_rejected(d, pdm::errc::invalid_registration, "instance size");
  d.size = 0;
  check_rejected(d, pdm::errc::invalid_registration, "instance size");
  d = valid_copy();
  d.alignment = 3;
  check_rejected(d, pdm::errc::invalid_registration, "alignment");
  d.alignment = 8192;
  check_rejected(d, pdm::errc::invalid_registration, "alignment");
  d = valid_copy();
  d.construct = nullptr;
  check_rejected(d, pdm::errc::invalid_registration, "no constructor");
  d = valid_copy();
  d.destroy = nullptr;
  check_rejected(d, pdm::errc::invalid_registration, "no destroy");
  d = valid_copy();
  d.hooks = pdm::driver_hooks::power_on;  // claims a hook without a function
  check_rejected(d, pdm::errc::invalid_registration, "disagree");
  d.hooks = static_cast<pdm::driver_hooks>(1U << 20);
  check_rejected(d, pdm::errc::invalid_registration, "unknown bits");
}

TEST_CASE("run-time validation checks interface tables") {
  static constexpr pdm::interface_ref twice[] = {{pdm::interface_key<test::media>, "pdm.test.media/1"},
                                                 {pdm::interface_key<test::media>, "pdm.test.media/1"}};
  static constexpr pdm::interface_ref wrong_key[] = {{42, "pdm.test.media/1"}};
  static constexpr pdm::interface_ref empty_id[] = {{pdm::hash_string(""), ""}};
  static constexpr pdm::interface_ref ref_wrong_key[] = {{1, "pdm.test.block/1"}};
  static constexpr pdm::interface_ref ref_twice[] = {{pdm::interface_key<test::block>, "pdm.test.block/1"},
                                                     {pdm::interface_key<test::block>, "pdm.test.block/1"}};

  pdm::driver_descriptor d = valid_copy();
  d.provides = twice;
  check_rejected(d, pdm::errc::invalid_registration, "twice");
  d.provides = wrong_key;
  check_rejected(d, pdm::errc::invalid_registration, "wrong key");
  d.provides = empty_id;
  check_rejected(d, pdm::errc::invalid_registration, "empty interface id");
  d = valid_copy();
  d.needs_below = ref_wrong_key;
  check_rejected(d, pdm::errc::invalid_registration, "needs_below has a wrong key");
  d = valid_copy();
  d.needs_above = ref_twice;
  check_rejected(d, pdm::errc::invalid_registration, "needs_above lists");
}

TEST_CASE("rejections name the driver when its name is valid") {
  pdm::driver_descriptor d = valid_copy();
  d.max_instances = 0;
  const pdm::status s = pdm::validate_descriptor(d);
  REQUIRE_FALSE(s);
  CHECK(s.error_value().driver_name() == "MemDisk");
  CHECK(s.error_value().message() == "driver 'MemDisk': invalid driver registration: max_instances is zero");
}

namespace {
struct alignas(4096) page_aligned_driver {
  static constexpr pdm::driver_traits traits{
      .name = "Paged", .description = "page aligned", .class_mask = pdm::driver_class::media};
  explicit page_aligned_driver(pdm::driver_context& /*ctx*/) {}
};
}  // namespace

TEST_CASE("the compile-time and run-time alignment limits agree") {
  // The largest alignment the driver rules accept also passes validate_descriptor ...
  CHECK(pdm::validate_descriptor(pdm::descriptor_of<page_aligned_driver>));
  // ... and one step above is refused by both (compile time: rule::driver_alignment_is_at_most_4096).
  pdm::driver_descriptor d = pdm::descriptor_of<page_aligned_driver>;
  d.alignment = pdm::max_driver_alignment * 2;
  CHECK(pdm::validate_descriptor(d).error_value() == pdm::errc::invalid_registration);
  pdm::driver_object inst = test::make_object(pdm::descriptor_of<page_aligned_driver>, 0);
  CHECK(reinterpret_cast<std::uintptr_t>(inst.get()) % 4096 == 0);
}
