// config_reference: writes docs/config-reference.md from the example drivers' config structs.
//
// Usage: config_reference [OUTPUT]   (standard output without OUTPUT)
// The build's `update-config-reference` target regenerates the file in the source tree, and the
// test `config_reference_is_current` fails when the committed file is stale.
#include <pdm/analysis/config_reference.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "../drivers/storage.hpp"

int main(int argc, char** argv) {
  const std::string text = pdm::config_reference(
      example::storage_drivers{}, "Config reference",
      "Every key the example drivers read from their `Config` node (a driver's config is its\n"
      "`Devices/<device>/<instance>/LUN#<n>/[AttachedDriver/...]Config` node, see\n"
      "[the config chapter](config.md)). Generated from the drivers' config structs by\n"
      "`examples/config_reference` (`cmake --build --preset gcc --target update-config-reference`);\n"
      "do not edit by hand: the test `config_reference_is_current` fails when this file is stale.\n"
      "\n"
      "A key in `code` is a path below the driver's `Config` node; `<name>` stands for any name.\n"
      "Integers show their C++ type and, where the driver limits it, the allowed range.");
  if (argc < 2) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "config_reference: cannot write %s\n", argv[1]);
    return 1;
  }
  return 0;
}
