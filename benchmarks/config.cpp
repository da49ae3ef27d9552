// benchmarks/config.cpp - finding a value six levels down a config tree: pdm::config_node against
// the seed's configuration manager.
//
// Cases (the argument is the number of entries in every node on the path):
//   config_lookup/pdm/C             root.get<std::uint32_t>("N1/N2/N3/N4/N5/Value"), one fixed path
//   config_lookup/baseline/C        seed::cfg_query_u32_at(root, path): a list walk per component
//   config_lookup_all/pdm/C         the same, rotating through all C values of the last node
//   config_lookup_all/baseline/C
//
// The tree: five nodes on the path, each with C child nodes; the wanted child sits in the middle
// (position C/2) of its siblings, the others are empty nodes. The fifth node holds C integer
// values. config_lookup asks for the value in the middle position; config_lookup_all asks for
// each of the C values in turn, so the list walk of the last level sees every position. Names
// are realistic and of varying length ("Driver", "AttachedDriver", "LUN#2", "PCIDeviceNo1",
// ...), different at each level. Both sides are given the same full path string, so both pay
// for splitting it into components. The query strings are separate copies of the names.
#include <pdm/config/tree.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench_main.hpp"
#include "seed_baseline.hpp"

namespace {

// Nodes on the path to the value; the value is one component further down.
constexpr std::size_t path_nodes = 5;

// Names seen in real VM configurations, of lengths 3 to 14. A name used a second time in the same
// node gets a number ("Driver1"), and "LUN#" always has one ("LUN#0").
constexpr std::array<std::string_view, 24> words = {
    "Driver",    "AttachedDriver", "LUN#", "Config",     "Path", "ReadOnly", "Format",  "Type",
    "Mountable", "Locked",         "IRQ",  "BlockCache", "Port", "Trusted",  "IOBase",  "PCIDeviceNo",
    "MAC",       "CableConnected", "Size", "UUID",       "Mode", "HostIP",   "Network", "ShareName"};

// The name of entry `i` of a node at `level`: each level starts at a different word.
std::string entry_name(std::size_t level, std::size_t i) {
  const std::size_t shifted = i + 7 * level;
  const std::string_view word = words[shifted % words.size()];
  const std::size_t round = shifted / words.size() - (7 * level) / words.size();
  std::string name(word);
  if (word.back() == '#' || round > 0) name += std::to_string(round);
  return name;
}

// The value stored under entry `i` of the last node: distinct, and above 16 bits.
constexpr std::uint32_t value_of(std::size_t i) { return 0x10000U + static_cast<std::uint32_t>(i) * 7U; }

// The tree's shape: the names of the path's nodes and of the last node's values.
struct shape {
  std::size_t children;
  std::vector<std::vector<std::string>> node_names;  // [level][position], levels 0..path_nodes-1
  std::vector<std::string> value_names;              // [position]

  explicit shape(std::size_t c) : children(c), node_names(path_nodes) {
    for (std::size_t level = 0; level < path_nodes; ++level) {
      for (std::size_t i = 0; i < c; ++i) node_names[level].push_back(entry_name(level, i));
    }
    for (std::size_t i = 0; i < c; ++i) value_names.push_back(entry_name(path_nodes, i));
  }
  [[nodiscard]] std::size_t middle() const noexcept { return children / 2; }
  // The full path to the value at `position` of the last node (fresh strings).
  [[nodiscard]] std::string path_to(std::size_t position) const {
    std::string p;
    for (std::size_t level = 0; level < path_nodes; ++level) {
      p += node_names[level][middle()];
      p += '/';
    }
    p += value_names[position];
    return p;
  }
  // Paths asked for: only the middle value, or every value in turn.
  [[nodiscard]] std::vector<std::string> queries(bool all) const {
    std::vector<std::string> q;
    if (!all) {
      q.push_back(path_to(middle()));
    } else {
      for (std::size_t i = 0; i < children; ++i) q.push_back(path_to(i));
    }
    return q;
  }
  [[nodiscard]] std::uint32_t expected(bool all, std::size_t query) const noexcept {
    return value_of(all ? query : middle());
  }
};

// ---------------------------------------------------------------------------------------------
// pdm

bool build_pdm(const shape& s, pdm::config_tree& tree) {
  pdm::config_node* n = &tree.root();
  for (std::size_t level = 0; level < path_nodes; ++level) {
    pdm::config_node* next = nullptr;
    for (std::size_t i = 0; i < s.children; ++i) {
      pdm::result<pdm::config_node*> child = n->add_child(s.node_names[level][i]);
      if (!child) return false;
      if (i == s.middle()) next = *child;
    }
    n = next;
  }
  for (std::size_t i = 0; i < s.children; ++i) {
    if (!n->add_value(s.value_names[i], pdm::config_value(value_of(i)))) return false;
  }
  return true;
}

void run_pdm(benchmark::State& state, bool all) {
  const shape s(static_cast<std::size_t>(state.range(0)));
  pdm::config_tree tree;
  if (!build_pdm(s, tree)) {
    state.SkipWithError("pdm::config_tree rejected the generated tree");
    return;
  }
  const std::vector<std::string> queries = s.queries(all);
  std::vector<std::string_view> paths(queries.begin(), queries.end());
  for (std::size_t i = 0; i < paths.size(); ++i) {  // the look-ups measured below are correct
    const pdm::result<std::uint32_t> r = tree.root().get<std::uint32_t>(paths[i]);
    if (!r || *r != s.expected(all, i)) {
      state.SkipWithError("pdm::config_node::get gave a wrong answer");
      return;
    }
  }

  const pdm::config_node* root = &tree.root();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(root);
    // The key goes through DoNotOptimize as two scalars, as the baseline's pointer does: a
    // string_view forced through memory is stored with one 16-byte vector store and read back as
    // two 8-byte loads, whose forwarding costs pdm a few ns per call that no real caller pays.
    const char* data = paths[i].data();
    std::size_t size = paths[i].size();
    benchmark::DoNotOptimize(data);
    benchmark::DoNotOptimize(size);
    const pdm::result<std::uint32_t> r = root->get<std::uint32_t>(std::string_view(data, size));
    const std::uint32_t v = r ? *r : 0;
    benchmark::DoNotOptimize(v);
    if (++i == paths.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void lookup_pdm(benchmark::State& state) { run_pdm(state, false); }
void lookup_all_pdm(benchmark::State& state) { run_pdm(state, true); }

// ---------------------------------------------------------------------------------------------
// Baseline: the seed's configuration manager

bool build_seed(const shape& s, seed::cfg_tree& tree) {
  seed::cfg_node* n = tree.root();
  if (n == nullptr) return false;
  for (std::size_t level = 0; level < path_nodes; ++level) {
    seed::cfg_node* next = nullptr;
    for (std::size_t i = 0; i < s.children; ++i) {
      seed::cfg_node* child = nullptr;
      if (seed::cfg_insert_node(n, s.node_names[level][i].c_str(), &child) != seed::cfg_ok) return false;
      if (i == s.middle()) next = child;
    }
    n = next;
  }
  for (std::size_t i = 0; i < s.children; ++i) {
    if (seed::cfg_insert_integer(n, s.value_names[i].c_str(), value_of(i)) != seed::cfg_ok) return false;
  }
  return true;
}

void run_baseline(benchmark::State& state, bool all) {
  const shape s(static_cast<std::size_t>(state.range(0)));
  seed::cfg_tree tree;
  if (!build_seed(s, tree)) {
    state.SkipWithError("the seed config tree rejected the generated tree");
    return;
  }
  const std::vector<std::string> queries = s.queries(all);
  std::vector<const char*> paths;
  paths.reserve(queries.size());
  for (const std::string& q : queries) paths.push_back(q.c_str());
  for (std::size_t i = 0; i < paths.size(); ++i) {
    std::uint32_t v = 0;
    if (seed::cfg_query_u32_at(tree.root(), paths[i], &v) != seed::cfg_ok || v != s.expected(all, i)) {
      state.SkipWithError("seed::cfg_query_u32_at gave a wrong answer");
      return;
    }
  }

  const seed::cfg_node* root = tree.root();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(root);
    const char* path = paths[i];
    benchmark::DoNotOptimize(path);
    std::uint32_t found = 0;
    const int rc = seed::cfg_query_u32_at(root, path, &found);
    const std::uint32_t v = rc == seed::cfg_ok ? found : 0;
    benchmark::DoNotOptimize(v);
    if (++i == paths.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void lookup_baseline(benchmark::State& state) { run_baseline(state, false); }
void lookup_all_baseline(benchmark::State& state) { run_baseline(state, true); }

void register_all() {
  for (const auto& [name, fn] :
       {std::pair{"config_lookup/pdm", &lookup_pdm}, std::pair{"config_lookup/baseline", &lookup_baseline},
        std::pair{"config_lookup_all/pdm", &lookup_all_pdm},
        std::pair{"config_lookup_all/baseline", &lookup_all_baseline}}) {
    benchmark::RegisterBenchmark(name, fn)->Arg(16)->Arg(64);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return pdm_bench::run_benchmarks(argc, argv);
}
