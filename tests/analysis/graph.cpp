// tests/analysis/graph.cpp - vm::topology() (pdm/chain/topology.hpp) and to_dot
// (pdm/analysis/graph.hpp): a live VM's devices, LUNs and chains as values, with config paths,
// offered interfaces and transformation notes; the DOT text drawn from them, its clusters, boxes
// and edges, escaping, and the options that leave parts out.
#include <doctest/doctest.h>

#include <pdm/pdm.hpp>

#include <string>
#include <utility>
#include <vector>

#include "../../examples/drivers/storage.hpp"

namespace {

// Occurrences of `what` in `text`.
std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// disk #0 with LUN#0 and LUN#1 (nothing configured), disk #1 with LUN#0; each LUN#0 is Block
// over RamDisk, with Tracer injected above RamDisk by a rule.
struct two_disks {
  example::block_port port;
  pdm::vm vm;

  static pdm::config_tree config() {
    pdm::result<pdm::config_tree> c = pdm::load_json(R"({
      "Devices": {"disk": {
        "0": {"LUN#0": {"Driver": "Block", "AttachedDriver": {"Driver": "RamDisk", "Config": {"SizeSectors": 8}}}},
        "1": {"LUN#0": {"Driver": "Block", "AttachedDriver": {"Driver": "RamDisk", "Config": {"SizeSectors": 4}}}}}},
      "PDM": {"DriverTransformations": {
        "trace-disks": {"Device": "disk", "LUN": "0", "AboveDriver": "RamDisk",
                        "AttachedDriver": {"Driver": "Tracer", "Config": {"Report": false}}}}}})");
    REQUIRE(c.has_value());
    return std::move(c).value();
  }
  static pdm::registry drivers() {
    pdm::registry r;
    REQUIRE(r.add(example::storage_drivers{}));
    return r;
  }
  static pdm::vm_options options() {
    pdm::vm_options o;
    o.emt = pdm::emt_mode::current_thread;
    return o;
  }

  two_disks() : vm(drivers(), config(), options()) {
    for (std::uint32_t instance : {0U, 1U}) {
      pdm::device_spec disk{.name = "disk", .instance = instance};
      for (std::uint32_t lun : {0U, 1U}) {
        if (instance == 1 && lun == 1) continue;
        disk.luns.push_back(pdm::lun_spec{.number = lun,
                                          .offers = {pdm::offer<example::block_port>(port)},
                                          .needs = pdm::interfaces<example::block>()});
      }
      disk.hooks.on_detach = [](std::uint32_t, pdm::attach_flags) {};
      REQUIRE(vm.add_device(std::move(disk)));
    }
    REQUIRE(vm.attach("disk", 0, 0).has_value());
    REQUIRE(vm.attach("disk", 1, 0).has_value());
  }
};

}  // namespace

TEST_CASE("topology: devices in order, LUNs as declared, drivers top to bottom with paths and interfaces") {
  two_disks t;
  pdm::result<std::vector<pdm::device_view>> topo = t.vm.topology();
  REQUIRE(topo.has_value());
  const std::vector<pdm::device_view>& devices = *topo;
  REQUIRE(devices.size() == 2);
  CHECK(devices[0].name == "disk");
  CHECK(devices[0].instance == 0);
  CHECK(devices[1].instance == 1);
  REQUIRE(devices[0].luns.size() == 2);
  REQUIRE(devices[1].luns.size() == 1);
  CHECK(devices[0].luns[1].number == 1);
  CHECK(devices[0].luns[1].chain.empty());

  const std::vector<pdm::chain_entry>& chain = devices[0].luns[0].chain;
  REQUIRE(chain.size() == 3);
  CHECK(chain[0].driver == "Block");
  CHECK(chain[1].driver == "Tracer");
  CHECK(chain[2].driver == "RamDisk");
  CHECK(chain[0].instance == 0);
  CHECK(chain[2].instance == 0);
  CHECK(devices[1].luns[0].chain[0].instance == 1);  // the second Block
  CHECK(devices[1].luns[0].chain[2].driver == "RamDisk");
  CHECK(devices[1].luns[0].chain[2].instance == 1);  // the second RamDisk
  CHECK(chain[0].config_path == "Devices/disk/0/LUN#0");
  CHECK(chain[1].config_path == "Devices/disk/0/LUN#0/AttachedDriver");
  CHECK(chain[2].config_path == "Devices/disk/0/LUN#0/AttachedDriver/AttachedDriver");
  CHECK(chain[0].provides == std::vector<std::string>{"example.block/1"});
  CHECK(chain[2].provides == std::vector<std::string>{"example.media/1"});
  // The transformation's marks: the injected driver and the one it moved down.
  REQUIRE(chain[1].notes.size() == 1);
  CHECK(chain[1].notes[0] == "trace-disks: inject: injected above RamDisk");
  REQUIRE(chain[2].notes.size() == 1);
  CHECK(chain[2].notes[0] == "trace-disks: inject: moved below Tracer");
  CHECK(chain[0].notes.empty());
  CHECK(devices[1].luns[0].chain.size() == 3);  // the rule names LUN 0 of disk: both instances
}

TEST_CASE("topology follows the VM: a detached LUN is empty, and the snapshot taken before keeps its chain") {
  two_disks t;
  const std::vector<pdm::device_view> before = *t.vm.topology();
  REQUIRE(t.vm.detach("disk", 1, 0));
  const std::vector<pdm::device_view> after = *t.vm.topology();
  CHECK(after[1].luns[0].chain.empty());
  CHECK(before[1].luns[0].chain.size() == 3);
  CHECK(before[1].luns[0].chain[0].driver == "Block");
}

TEST_CASE("to_dot: a cluster per device, a LUN node per LUN, an edge per link, labels and tooltips") {
  two_disks t;
  const std::string dot = pdm::to_dot(*t.vm.topology());
  CHECK(dot.rfind("digraph \"pdm\" {\n", 0) == 0);
  CHECK(dot.ends_with("}\n"));
  CHECK(count(dot, "subgraph \"cluster_") == 2);
  CHECK(dot.find("label=\"disk #0\";") != std::string::npos);
  CHECK(dot.find("label=\"disk #1\";") != std::string::npos);
  CHECK(count(dot, "[shape=ellipse") == 3);   // three LUNs
  CHECK(count(dot, ", style=dashed]") == 1);  // one of them empty
  CHECK(count(dot, " -> ") == 6);             // LUN->Block->Tracer->RamDisk, twice
  CHECK(dot.find("d0_l0 -> d0_l0_0;") != std::string::npos);
  CHECK(dot.find("d0_l0_0 -> d0_l0_1;") != std::string::npos);
  CHECK(dot.find("d0_l0_1 -> d0_l0_2;") != std::string::npos);
  CHECK(dot.find("label=\"Block #0\\l  example.block/1\\l\"") != std::string::npos);
  CHECK(dot.find("label=\"Tracer #0\\l  example.media/1\\l  (trace-disks: inject: injected above RamDisk)\\l\"") !=
        std::string::npos);
  CHECK(dot.find("tooltip=\"Devices/disk/0/LUN#0/AttachedDriver\"") != std::string::npos);
}

TEST_CASE("to_dot options leave out interfaces, transformation notes and empty LUNs") {
  two_disks t;
  pdm::dot_options o;
  o.name = "stacks";
  o.interfaces = false;
  o.transformations = false;
  o.empty_luns = false;
  const std::string dot = pdm::to_dot(*t.vm.topology(), o);
  CHECK(dot.rfind("digraph \"stacks\" {\n", 0) == 0);
  CHECK(dot.find("example.block/1") == std::string::npos);
  CHECK(dot.find("trace-disks") == std::string::npos);
  CHECK(count(dot, "[shape=ellipse") == 2);
  CHECK(dot.find("style=dashed") == std::string::npos);
  CHECK(dot.find("label=\"Tracer #0\\l\"") != std::string::npos);
}

TEST_CASE("to_dot escapes quotes and backslashes, and drops control characters") {
  std::vector<pdm::device_view> devices(1);
  devices[0].name = "odd \"name\" \\ here";
  devices[0].luns.push_back(pdm::lun_view{.number = 3, .chain = {}});
  devices[0].luns[0].chain.push_back(
      pdm::chain_entry{.driver = "D\"x", .instance = 2, .config_path = "/a\tb", .provides = {}, .notes = {}});
  const std::string dot = pdm::to_dot(devices);
  CHECK(dot.find("label=\"odd \\\"name\\\" \\\\ here #0\";") != std::string::npos);
  CHECK(dot.find("label=\"D\\\"x #2\\l\"") != std::string::npos);
  CHECK(dot.find("tooltip=\"/ab\"") != std::string::npos);
}

TEST_CASE("to_dot of no devices is an empty graph") {
  const std::string dot = pdm::to_dot(std::vector<pdm::device_view>{});
  CHECK(dot ==
        "digraph \"pdm\" {\n  rankdir=TB;\n  fontname=\"Helvetica\";\n  node [shape=box, fontname=\"Helvetica\", "
        "fontsize=10];\n"
        "  edge [arrowsize=0.6];\n}\n");
}
