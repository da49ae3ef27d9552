// docs/chains.md quotes a VM's dump after a transformation; this builds that VM and checks the
// quote, so the chapter cannot drift from what the library prints.
#include <doctest/doctest.h>

#include <pdm/pdm.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "../../examples/drivers/storage.hpp"

namespace {

// The ```-block after `marker` in docs/chains.md, without the list item's two-space indent.
std::string quoted_block(const std::string& marker) {
  std::ifstream in(std::string(PDM_SOURCE_DIR) + "/docs/chains.md");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const std::size_t at = doc.find(marker);
  REQUIRE(at != std::string::npos);
  const std::size_t open = doc.find("```\n", at);
  const std::size_t close = doc.find("```", open + 4);
  REQUIRE(open != std::string::npos);
  REQUIRE(close != std::string::npos);
  std::istringstream lines(doc.substr(open + 4, close - open - 4));
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  ", 0) == 0) line.erase(0, 2);
    if (!line.empty()) out += line + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("the chapter's dump of a transformed chain is what the VM prints") {
  pdm::result<pdm::config_tree> config = pdm::load_json(R"({
    "Devices": {"disk": {"0": {"LUN#0": {"Driver": "Block",
      "AttachedDriver": {"Driver": "RamDisk", "Config": {"SizeSectors": 8}}}}}},
    "PDM": {"DriverTransformations": {
      "trace-disks": {"AboveDriver": "RamDisk", "AttachedDriver": {"Driver": "Tracer", "Config": {"Report": false}}}}}})");
  REQUIRE(config.has_value());
  pdm::registry drivers;
  REQUIRE(drivers.add(example::storage_drivers{}));
  pdm::vm_options options;
  options.emt = pdm::emt_mode::current_thread;
  pdm::vm vm(std::move(drivers), std::move(*config), options);
  pdm::device_spec disk;
  disk.name = "disk";
  example::block_port port;
  disk.luns.push_back(pdm::lun_spec{
      .number = 0, .offers = {pdm::offer<example::block_port>(port)}, .needs = pdm::interfaces<example::block>()});
  REQUIRE(vm.add_device(std::move(disk)));
  pdm::result<pdm::driver_ref> top = vm.attach("disk", 0, 0);
  REQUIRE_MESSAGE(top.has_value(), (top ? "" : top.error_value().message()));
  CHECK(vm.dump().value() == quoted_block("<!-- chains-dump -->"));
}
