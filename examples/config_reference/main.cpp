// config_reference: writes docs/config-reference.md from the example drivers' config structs:
// minivmm's drivers (examples/minivmm) and the small storage stack of examples/drivers/storage.hpp.
//
// Usage: config_reference [OUTPUT]   (standard output without OUTPUT)
// The build's `update-config-reference` target regenerates the file in the source tree, and the
// test `config_reference_is_current` fails when the committed file is stale.
#include <pdm/analysis/config_reference.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "../drivers/storage.hpp"
#include "../minivmm/char_drivers.hpp"
#include "../minivmm/storage_drivers.hpp"

namespace {

// One driver list's reference as a section of the whole: every heading one level deeper.
std::string as_section(const std::string& reference) {
  std::istringstream lines(reference);
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    out += line.starts_with('#') ? "#" + line : line;
    out += '\n';
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string text =
      "# Config reference\n\n"
      "Every key the example drivers read from their `Config` node (a driver's config is its\n"
      "`Devices/<device>/<instance>/LUN#<n>/[AttachedDriver/...]Config` node, see\n"
      "[the config chapter](config.md)). Generated from the drivers' config structs by\n"
      "`examples/config_reference` (`cmake --build --preset gcc --target update-config-reference`);\n"
      "do not edit by hand: the test `config_reference_is_current` fails when this file is stale.\n"
      "\n"
      "A key in `code` is a path below the driver's `Config` node; `<name>` stands for any name.\n"
      "Integers show their C++ type and, where the driver limits it, the allowed range.\n\n";
  text +=
      as_section(pdm::config_reference(minivmm::drivers{}, "minivmm's drivers",
                                       "The drivers of the example VMM, [minivmm](guide.md#a-real-host-minivmm) "
                                       "(`examples/minivmm`): its default config is\n`examples/configs/minivmm.json`. "
                                       "Relative paths are relative to the directory minivmm runs in (`--dir`)."));
  text += "\n";
  text += as_section(pdm::config_reference(
      example::storage_drivers{}, "The small storage stack",
      "The drivers of `examples/drivers/storage.hpp`, which the chapters' examples and tests use."));
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
