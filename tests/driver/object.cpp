#include <pdm/config/binding.hpp>
#include <pdm/config/json.hpp>
#include <pdm/driver/object.hpp>

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "test_drivers.hpp"

namespace {
// A driver whose constructor throws when its config says so.
struct fragile final : test::block {
  struct config_type {
    bool fail = false;
  };
  static constexpr pdm::driver_traits traits{
      .name = "Fragile", .description = "throws on request", .class_mask = pdm::driver_class::block};
  using provides = pdm::interface_list<test::block>;
  fragile(pdm::driver_context& ctx, const config_type& cfg) : name_(ctx.driver_name()) {
    if (cfg.fail) throw std::runtime_error("disk image missing");
    ++alive;
  }
  fragile(const fragile&) = delete;
  fragile& operator=(const fragile&) = delete;
  fragile(fragile&&) = delete;
  fragile& operator=(fragile&&) = delete;
  ~fragile() { --alive; }
  bool read_sector(std::uint64_t /*lba*/, std::array<std::uint8_t, 512>& /*out*/) override { return true; }
  std::string name_;  // owns heap memory, so a leak on failure would show under ASan
  static inline int alive = 0;
};

struct alignas(256) wide {
  static constexpr pdm::driver_traits traits{
      .name = "Wide", .description = "over-aligned", .class_mask = pdm::driver_class::status};
  explicit wide(pdm::driver_context& /*ctx*/) {}
  std::array<char, 3> bytes{};
};

struct throws_int {
  static constexpr pdm::driver_traits traits{
      .name = "ThrowsInt", .description = "throws a non-exception", .class_mask = pdm::driver_class::status};
  explicit throws_int(pdm::driver_context& /*ctx*/) { throw 42; }
};
}  // namespace

BOOST_HANA_ADAPT_STRUCT(fragile::config_type, fail);

TEST_CASE("a driver_object constructs, resolves its interfaces and answers queries") {
  pdm::result<pdm::driver_object> r = pdm::driver_object::create(pdm::descriptor_of<test::memory_disk>, 7);
  REQUIRE(r);
  const pdm::driver_object& obj = *r;
  auto* disk = static_cast<test::memory_disk*>(obj.get());
  CHECK(disk->instance() == 7);
  CHECK(obj.context().instance() == 7);
  CHECK(obj.context().driver_name() == "MemDisk");
  CHECK(&obj.descriptor() == &pdm::descriptor_of<test::memory_disk>);

  REQUIRE(obj.interfaces().size() == 2);
  CHECK(obj.interfaces()[0].key == pdm::interface_key<test::media>);
  CHECK(obj.query<test::media>() == static_cast<test::media*>(disk));
  CHECK(obj.query<test::mount>() == static_cast<test::mount*>(disk));
  CHECK(obj.query<test::block>() == nullptr);
  CHECK(obj.query(pdm::interface_key<test::mount>) == static_cast<test::mount*>(disk));
  CHECK(obj.query(std::string_view("pdm.test.media/1")) == static_cast<test::media*>(disk));
  CHECK(obj.query(std::string_view("pdm.test.none/1")) == nullptr);

  // The interfaces work: a write through one is visible through the driver.
  const char data[] = "pdm";
  CHECK(obj.query<test::media>()->write(100, data, 3) == 3);
  char back[3] = {};
  CHECK(disk->read(100, back, 3) == 3);
  CHECK(back[2] == 'm');
}

TEST_CASE("a driver_object passes the config and destroys the driver exactly once") {
  test::block_layer::config_type cfg{.sector_size = 1024};
  const int destroyed_before = test::counting_filter::destroyed;
  {
    pdm::driver_object filter = test::make_object(pdm::descriptor_of<test::counting_filter>, 0);
    pdm::driver_object moved = std::move(filter);  // ownership moves; only one destroy
    CHECK(static_cast<test::counting_filter*>(moved.get())->log() == "Counter constructed");
    pdm::driver_object other = test::make_object(pdm::descriptor_of<test::block_layer>, 1, &cfg);
    other = std::move(moved);  // destroys the block layer, takes the filter
    CHECK(other.context().driver_name() == "Counter");
    CHECK(test::counting_filter::destroyed == destroyed_before);
  }
  CHECK(test::counting_filter::destroyed == destroyed_before + 1);
}

TEST_CASE("a constructor that throws gives constructor_failed and leaks nothing") {
  fragile::config_type bad{.fail = true};
  pdm::result<pdm::driver_object> r = pdm::driver_object::create(pdm::descriptor_of<fragile>, 3, &bad);
  REQUIRE_FALSE(r);
  CHECK(r.error_value() == pdm::errc::constructor_failed);
  CHECK(r.error_value().message() == "driver 'Fragile' #3: driver constructor failed: disk image missing");
  CHECK(fragile::alive == 0);

  pdm::result<pdm::driver_object> odd = pdm::driver_object::create(pdm::descriptor_of<throws_int>, 0);
  REQUIRE_FALSE(odd);
  CHECK(odd.error_value() == pdm::errc::constructor_failed);
  CHECK(odd.error_value().detail() == "the constructor threw a non-standard exception");

  fragile::config_type good{};
  {
    pdm::result<pdm::driver_object> fine = pdm::driver_object::create(pdm::descriptor_of<fragile>, 4, &good);
    REQUIRE(fine);
    CHECK(fragile::alive == 1);
    CHECK(fine->query<test::block>() != nullptr);
  }
  CHECK(fragile::alive == 0);
}

TEST_CASE("a driver_object honours the driver's alignment") {
  pdm::driver_object obj = test::make_object(pdm::descriptor_of<wide>, 0);
  CHECK(reinterpret_cast<std::uintptr_t>(obj.get()) % 256 == 0);
  CHECK(obj.interfaces().empty());
}

namespace {
// Many interfaces on one driver: every key must still land in its own slot (or be found).
template <int N>
struct numbered {
  static constexpr std::array<char, 16> id_text = [] {
    std::array<char, 16> t{'t', 'e', 's', 't', '.', 'n', 'u', 'm', '.', char('a' + N / 26), char('a' + N % 26), 0};
    return t;
  }();
  static constexpr std::string_view interface_id{id_text.data(), 11};
};
struct many final : numbered<0>,
                    numbered<1>,
                    numbered<2>,
                    numbered<3>,
                    numbered<4>,
                    numbered<5>,
                    numbered<6>,
                    numbered<7>,
                    numbered<8>,
                    numbered<9>,
                    numbered<10>,
                    numbered<11> {
  static constexpr pdm::driver_traits traits{
      .name = "Many", .description = "twelve interfaces", .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<numbered<0>, numbered<1>, numbered<2>, numbered<3>, numbered<4>, numbered<5>,
                                       numbered<6>, numbered<7>, numbered<8>, numbered<9>, numbered<10>, numbered<11>>;
  explicit many(pdm::driver_context& /*ctx*/) {}
};
template <int... Ns>
bool all_found(const pdm::driver_object& obj, std::integer_sequence<int, Ns...> /*ns*/) {
  auto* d = static_cast<many*>(obj.get());
  return ((obj.query<numbered<Ns>>() == static_cast<numbered<Ns>*>(d)) && ...);
}
}  // namespace

TEST_CASE("every interface of a driver with many is found, and absent ones are not") {
  pdm::driver_object obj = test::make_object(pdm::descriptor_of<many>, 0);
  REQUIRE(obj.interfaces().size() == 12);
  CHECK(all_found(obj, std::make_integer_sequence<int, 12>{}));
  CHECK(obj.query<numbered<12>>() == nullptr);
  CHECK(obj.query<test::media>() == nullptr);
  // Keys that share a slot with a present key but differ are misses, not false hits.
  for (const pdm::resolved_interface& r : obj.interfaces()) {
    CHECK(obj.query(r.key ^ (std::uint64_t{1} << 63)) == nullptr);
    CHECK(obj.query(r.key) == r.address);
  }
}

TEST_CASE("a driver that takes a config refuses to be created without one") {
  pdm::result<pdm::driver_object> r = pdm::driver_object::create(pdm::descriptor_of<fragile>, 0);
  REQUIRE_FALSE(r);
  CHECK(r.error_value() == pdm::errc::invalid_argument);
  CHECK(r.error_value().message() ==
        "driver 'Fragile' #0: invalid argument: the driver takes a config_type: bind its config and pass it");
  CHECK(fragile::alive == 0);
}

TEST_CASE("create_configured binds the Config node, then constructs") {
  pdm::result<pdm::config_tree> tree =
      pdm::load_json(R"({"Good": {"SectorSize": 1024}, "Bad": {"SectorSise": 1024}, "Fragile": {"Fail": true}})");
  REQUIRE(tree);
  pdm::result<pdm::driver_object> block =
      pdm::driver_object::create_configured(pdm::descriptor_of<test::block_layer>, 2, *tree->root().find_child("Good"));
  REQUIRE(block);
  CHECK(static_cast<test::block_layer*>(block->get())->sector_size() == 1024);

  pdm::result<pdm::driver_object> bad =
      pdm::driver_object::create_configured(pdm::descriptor_of<test::block_layer>, 3, *tree->root().find_child("Bad"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error_value() == pdm::errc::invalid_value);
  CHECK(bad.error_value().driver_name() == "Block");
  CHECK(bad.error_value().instance() == 3);
  REQUIRE(bad.error_value().causes().size() == 1);
  CHECK(bad.error_value().causes()[0] == pdm::errc::unknown_key);
  CHECK(bad.error_value().causes()[0].config_path() == "Bad/SectorSise");

  // The bound config reaches the constructor, which may still fail.
  pdm::result<pdm::driver_object> thrown =
      pdm::driver_object::create_configured(pdm::descriptor_of<fragile>, 0, *tree->root().find_child("Fragile"));
  REQUIRE_FALSE(thrown);
  CHECK(thrown.error_value() == pdm::errc::constructor_failed);
  CHECK(fragile::alive == 0);

  // A driver without a config_type ignores the node.
  pdm::result<pdm::driver_object> plain =
      pdm::driver_object::create_configured(pdm::descriptor_of<test::counting_filter>, 0, tree->root());
  CHECK(plain.has_value());
}
