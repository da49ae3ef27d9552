#include <pdm/driver/interface.hpp>

#include <doctest/doctest.h>

#include "test_drivers.hpp"

namespace {
struct no_id {};
struct empty_id {
  static constexpr std::string_view interface_id = "";
};
struct runtime_id {
  static inline std::string_view interface_id = "not constant";
};
}  // namespace

static_assert(pdm::interface<test::media>);
static_assert(!pdm::interface<no_id>);
static_assert(!pdm::interface<empty_id>);
static_assert(!pdm::interface<runtime_id>);
static_assert(!pdm::interface<const test::media>);
static_assert(!pdm::interface<int>);
static_assert(pdm::interface_key<test::media> == pdm::hash_string("pdm.test.media/1"));
static_assert(pdm::list_contains_v<pdm::interface_list<test::media, test::block>, test::block>);
static_assert(!pdm::list_contains_v<pdm::interface_list<test::media>, test::block>);
static_assert(pdm::interface_list<test::media, test::block>::size == 2);

TEST_CASE("a typed query is a derived-to-base conversion on the same object") {
  pdm::driver_context ctx("MemDisk", 0);
  test::memory_disk disk(ctx);
  test::media& m = pdm::query_interface<test::media>(disk);
  test::mount& mt = pdm::query_interface<test::mount>(disk);
  CHECK(static_cast<void*>(&m) == static_cast<void*>(static_cast<test::media*>(&disk)));
  CHECK(static_cast<void*>(&mt) == static_cast<void*>(static_cast<test::mount*>(&disk)));
  CHECK(static_cast<void*>(&mt) != static_cast<void*>(&m));  // second base: a real adjustment
  const char hello[] = "hi";
  CHECK(m.write(10, hello, 2) == 2);
  char back[2] = {};
  CHECK(disk.read(10, back, 2) == 2);
  CHECK(back[0] == 'h');
  CHECK(mt.is_mounted());

  // A const driver gives const interfaces.
  const test::memory_disk& cdisk = disk;
  const test::mount& cmt = pdm::query_interface<test::mount>(cdisk);
  static_assert(std::is_same_v<decltype(pdm::query_interface<test::mount>(cdisk)), const test::mount&>);
  CHECK(&cmt == &mt);
  CHECK(cmt.is_mounted());
}

TEST_CASE("a resolved table finds each provided interface and no other") {
  pdm::driver_context ctx("MemDisk", 0);
  test::memory_disk disk(ctx);
  const pdm::resolved_interface table[] = {
      {pdm::interface_key<test::media>, static_cast<test::media*>(&disk)},
      {pdm::interface_key<test::mount>, static_cast<test::mount*>(&disk)},
  };
  CHECK(pdm::find_interface<test::media>(table) == static_cast<test::media*>(&disk));
  CHECK(pdm::find_interface<test::mount>(table) == static_cast<test::mount*>(&disk));
  CHECK(pdm::find_interface<test::block>(table) == nullptr);
  CHECK(pdm::find_interface(table, std::string_view("pdm.test.mount/1")) == static_cast<test::mount*>(&disk));
  CHECK(pdm::find_interface(table, std::string_view("pdm.test.nothing/1")) == nullptr);
  CHECK(pdm::find_interface(std::span<const pdm::resolved_interface>{}, pdm::interface_key<test::media>) == nullptr);
}

TEST_CASE("interface refs are shared by every driver with the same list") {
  const auto& refs = pdm::detail::interface_refs_for<pdm::provides_t<test::memory_disk>>::value;
  REQUIRE(refs.size() == 2);
  CHECK(refs[0].id == "pdm.test.media/1");
  CHECK(refs[1].key == pdm::interface_key<test::mount>);
  CHECK(pdm::descriptor_of<test::memory_disk>.provides.data() == refs.data());
}
