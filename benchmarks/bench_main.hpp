// benchmarks/bench_main.hpp - the main() every pdm benchmark binary shares.
//
// Besides running Google Benchmark, it records in the output's context which compiler built
// the binary and which pdm version it measured, so a saved JSON file says what it is.
#pragma once

#include <benchmark/benchmark.h>

#include <pdm/version.hpp>

#include <string>

namespace pdm_bench {

inline std::string compiler_name() {
#if defined(__clang__)
  std::string name = "clang++ " __clang_version__;
#elif defined(__GNUC__)
  std::string name = "g++ " __VERSION__;
#else
  std::string name = "unknown";
#endif
  while (!name.empty() && name.back() == ' ') name.pop_back();
  return name;
}

inline int run_benchmarks(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("pdm_compiler", compiler_name());
  benchmark::AddCustomContext("pdm_version", pdm::version_string);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace pdm_bench
