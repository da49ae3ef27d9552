#include <pdm/driver/hana.hpp>

#include <doctest/doctest.h>

#include <boost/hana/at.hpp>
#include <boost/hana/equal.hpp>
#include <boost/hana/filter.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/transform.hpp>
#include <boost/hana/unpack.hpp>

#include "test_drivers.hpp"

namespace hana = boost::hana;

namespace {
using drivers = pdm::driver_list<test::memory_disk, test::block_layer, test::counting_filter>;

constexpr auto media_drivers = hana::filter(pdm::as_hana(drivers{}), [](auto t) {
  using D = typename decltype(t)::type;
  return hana::bool_c<pdm::has_any(D::traits.class_mask, pdm::driver_class::media)>;
});
}  // namespace

static_assert(hana::length(pdm::as_hana(drivers{})) == hana::size_c<3>);
static_assert(hana::length(media_drivers) == hana::size_c<2>);
static_assert(media_drivers == hana::tuple_t<test::memory_disk, test::counting_filter>);

TEST_CASE("a Hana view of a list can be turned back into a driver_list") {
  auto to_list = [](auto... t) { return pdm::driver_list<typename decltype(t)::type...>{}; };
  using media_list = decltype(hana::unpack(media_drivers, to_list));
  static_assert(media_list::size == 2);
  CHECK(media_list::find("Counter") != nullptr);
  CHECK(media_list::find("Block") == nullptr);
  const auto names = hana::transform(pdm::as_hana(drivers{}), [](auto t) { return decltype(t)::type::traits.name; });
  CHECK(hana::at_c<1>(names) == "Block");
}
