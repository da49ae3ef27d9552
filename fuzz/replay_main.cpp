// fuzz/replay_main.cpp - runs the saved-state fuzz target (state_loader.cpp, built without
// libFuzzer) over every file of the corpus directories and files it is given: the corpus as a
// regression test, with every compiler and sanitizer of the build.
//
//   pdm_fuzz_state_loader_replay <directory or file>...
//
// Fails (exit 1) when a directory cannot be read, or when there is no input at all; a broken
// invariant traps inside the target, after this program named the input on stderr.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "state_loader.hpp"

namespace {

namespace fs = std::filesystem;

bool read_file(const fs::path& path, std::vector<std::uint8_t>& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return !f.bad();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <corpus directory or file>...\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      for (fs::directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec)) inputs.push_back(it->path());
      }
      if (ec) {
        std::fprintf(stderr, "cannot read the directory %s: %s\n", arg.c_str(), ec.message().c_str());
        return 1;
      }
    } else if (fs::is_regular_file(arg, ec)) {
      inputs.push_back(arg);
    } else {
      std::fprintf(stderr, "no such file or directory: %s\n", arg.c_str());
      return 1;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "no inputs: the corpus is empty\n");
    return 1;
  }
  std::sort(inputs.begin(), inputs.end());
  const auto start = std::chrono::steady_clock::now();
  std::size_t bytes = 0;
  std::vector<std::uint8_t> data;
  for (const fs::path& path : inputs) {
    if (!read_file(path, data)) {
      std::fprintf(stderr, "cannot read %s\n", path.c_str());
      return 1;
    }
    std::fprintf(stderr, "%s (%zu bytes)\n", path.c_str(), data.size());
    (void)pdm_fuzz_state_loader(data.data(), data.size());
    bytes += data.size();
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::printf("%zu inputs, %zu bytes, every invariant held (%lld ms)\n", inputs.size(), bytes,
              static_cast<long long>(ms));
  return 0;
}
