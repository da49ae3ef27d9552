// benchmarks/registry.cpp - look-up of a driver by name: pdm::registry against the seed's list.
//
// Cases (the argument is the number of registered drivers):
//   lookup/pdm/N            pdm::registry::find(name), every name registered
//   lookup/baseline/N       seed::driver_chain::find(name): linked list walk with strcmp
//   lookup_miss/pdm/N       the same with names that are not registered
//   lookup_miss/baseline/N
//
// Both sides register the same N generated names ("Block-17", "Char-342", ...) and look up the
// same queries: every name once per cycle, in an order shuffled with a fixed seed, so the list
// walk sees its average case (half the list) rather than its best or worst. The query strings
// are separate copies of the names, so no side can win by comparing pointers.
#include <pdm/driver/registry.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench_main.hpp"
#include "seed_baseline.hpp"

namespace {

// The driver every generated registration copies; only the name differs between copies.
struct template_media {
  static constexpr std::string_view interface_id = "pdm.bench.media/1";
  virtual std::uint64_t size() = 0;

 protected:
  ~template_media() = default;
};

class template_driver final : public template_media {
 public:
  static constexpr pdm::driver_traits traits{.name = "Template",
                                             .description = "The driver generated registrations copy",
                                             .class_mask = pdm::driver_class::media,
                                             .max_instances = 16};
  using provides = pdm::interface_list<template_media>;
  explicit template_driver(pdm::driver_context& /*ctx*/) {}
  std::uint64_t size() override { return 0; }
};

// Realistic names: a class word, a dash and a number, at most 31 characters. The class words
// differ in their first characters, so most strcmp calls of the list walk stop at once.
constexpr const char* class_words[] = {"Block", "Media",    "Char", "Stream", "Net",    "Audio",
                                       "Usb",   "Keyboard", "Scsi", "Mouse",  "Filter", "Acpi"};

std::vector<std::string> driver_names(std::size_t count, std::size_t first_number) {
  std::vector<std::string> names;
  names.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    names.push_back(std::string(class_words[i % std::size(class_words)]) + "-" + std::to_string(first_number + i));
  }
  return names;
}

// Every name once, shuffled with a fixed seed; fresh copies of the strings.
std::vector<std::string> shuffled_queries(const std::vector<std::string>& names) {
  std::vector<std::string> queries(names.begin(), names.end());
  std::mt19937_64 rng(20081125);  // NOLINT(cert-msc32-c,cert-msc51-cpp): the same order on every run
  std::shuffle(queries.begin(), queries.end(), rng);
  return queries;
}

// Registered names are numbered 0..N-1; missing names from 1,000,000, so they never match.
constexpr std::size_t missing_base = 1000000;

// ---------------------------------------------------------------------------------------------
// pdm

struct pdm_setup {
  std::vector<std::string> names;
  std::vector<pdm::driver_descriptor> descriptors;
  pdm::registry registry;

  explicit pdm_setup(std::size_t count) : names(driver_names(count, 0)) {
    descriptors.assign(count, pdm::descriptor_of<template_driver>);
    std::vector<const pdm::driver_descriptor*> batch;
    batch.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      descriptors[i].name = names[i];
      batch.push_back(&descriptors[i]);
    }
    ok = static_cast<bool>(registry.add(std::span<const pdm::driver_descriptor* const>(batch)));
  }
  bool ok = false;
};

void run_pdm(benchmark::State& state, bool hits) {
  const auto count = static_cast<std::size_t>(state.range(0));
  const pdm_setup setup(count);
  if (!setup.ok || setup.registry.size() != count) {
    state.SkipWithError("pdm::registry rejected the generated drivers");
    return;
  }
  const std::vector<std::string> queries = shuffled_queries(hits ? setup.names : driver_names(count, missing_base));
  for (const std::string& q : queries) {  // the look-ups measured below are correct
    const pdm::driver_descriptor* d = setup.registry.find(q);
    if (hits ? (d == nullptr || d->name != q) : d != nullptr) {
      state.SkipWithError("pdm::registry::find gave a wrong answer");
      return;
    }
  }

  const pdm::registry& registry = setup.registry;
  std::size_t i = 0;
  for (auto _ : state) {
    const pdm::driver_descriptor* d = registry.find(queries[i]);
    benchmark::DoNotOptimize(d);
    if (++i == queries.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void lookup_pdm(benchmark::State& state) { run_pdm(state, true); }
void lookup_miss_pdm(benchmark::State& state) { run_pdm(state, false); }

// ---------------------------------------------------------------------------------------------
// Baseline: the seed's linked list

struct seed_setup {
  std::vector<std::string> names;
  std::vector<seed::registration_record> records;  // like the static records of driver modules
  seed::driver_chain chain;
  bool ok = true;

  explicit seed_setup(std::size_t count) : names(driver_names(count, 0)), records(count) {
    for (std::size_t i = 0; i < count; ++i) {
      seed::registration_record& r = records[i];
      std::memcpy(r.name, names[i].c_str(), names[i].size() + 1);
      r.description = "A generated driver";
      r.class_mask = 1U << 3;
      r.max_instances = 16;
      r.instance_size = sizeof(template_driver);
      r.construct = [](void*, void*) { return 0; };
      r.destruct = [](void*) {};
      if (chain.add(&r) != seed::seed_ok) ok = false;
    }
  }
};

void run_baseline(benchmark::State& state, bool hits) {
  const auto count = static_cast<std::size_t>(state.range(0));
  const seed_setup setup(count);
  if (!setup.ok) {
    state.SkipWithError("the seed registry rejected the generated drivers");
    return;
  }
  const std::vector<std::string> queries = shuffled_queries(hits ? setup.names : driver_names(count, missing_base));
  for (const std::string& q : queries) {
    const seed::driver_node* n = setup.chain.find(q.c_str());
    if (hits ? (n == nullptr || q != n->record->name) : n != nullptr) {
      state.SkipWithError("seed::driver_chain::find gave a wrong answer");
      return;
    }
  }

  const seed::driver_chain& chain = setup.chain;
  std::size_t i = 0;
  for (auto _ : state) {
    const seed::driver_node* n = chain.find(queries[i].c_str());
    benchmark::DoNotOptimize(n);
    if (++i == queries.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void lookup_baseline(benchmark::State& state) { run_baseline(state, true); }
void lookup_miss_baseline(benchmark::State& state) { run_baseline(state, false); }

void register_all() {
  for (const auto& [name, fn] :
       {std::pair{"lookup/pdm", &lookup_pdm}, std::pair{"lookup/baseline", &lookup_baseline},
        std::pair{"lookup_miss/pdm", &lookup_miss_pdm}, std::pair{"lookup_miss/baseline", &lookup_miss_baseline}}) {
    benchmark::RegisterBenchmark(name, fn)->Arg(10)->Arg(100)->Arg(1000);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return pdm_bench::run_benchmarks(argc, argv);
}
