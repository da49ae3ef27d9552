#include <pdm/analysis/static_chain.hpp>

#include <doctest/doctest.h>

#include "test_drivers.hpp"

namespace {
using port = pdm::device_port<pdm::interface_list<test::media_port>, pdm::interface_list<test::block>>;

// block (needs media below, media_port above) -> counter (media in, media out) -> disk.
using disk_chain = pdm::static_chain<port, test::block_layer, test::counting_filter, test::memory_disk>;
using short_chain = pdm::static_chain<port, test::block_layer, test::memory_disk>;
using media_only =
    pdm::static_chain<pdm::device_port<pdm::interface_list<>, pdm::interface_list<test::media>>, test::memory_disk>;
}  // namespace

static_assert(disk_chain::valid && disk_chain::depth == 3);
static_assert(short_chain::valid && short_chain::depth == 2);
static_assert(media_only::valid && media_only::depth == 1);

// The link rules themselves, as values (broken links are compile errors: tests/fail/).
static_assert(pdm::rule::lower_provides_what_upper_needs<test::block_layer, test::memory_disk, test::media>);
static_assert(!pdm::rule::lower_provides_what_upper_needs<port, test::memory_disk, test::block>);
static_assert(pdm::rule::upper_provides_what_lower_needs<port, test::block_layer, test::media_port>);
static_assert(!pdm::rule::upper_provides_what_lower_needs<test::counting_filter, test::block_layer, test::media_port>);

TEST_CASE("a checked chain wires up and works through typed queries") {
  pdm::driver_context c1("Block", 0);
  pdm::driver_context c2("Counter", 0);
  pdm::driver_context c3("MemDisk", 0);
  test::block_layer blk(c1, {});
  test::counting_filter counter(c2);
  test::memory_disk disk(c3);
  counter.connect(&pdm::query_interface<test::media>(disk));
  blk.connect(&pdm::query_interface<test::media>(counter));
  const std::uint8_t byte = 0x5A;
  disk.write(512 * 2, &byte, 1);
  std::array<std::uint8_t, 512> sector{};
  CHECK(pdm::query_interface<test::block>(blk).read_sector(2, sector));
  CHECK(sector[0] == 0x5A);
  CHECK(counter.calls == 1);
}
