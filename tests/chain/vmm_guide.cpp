// docs/guide.md, the guide for VMM builders: its central example is the code between the markers
// below, run here. The guide's copy of it (the ```cpp block after `<!-- guide-example -->`) is
// checked against this file, and the outputs it quotes (`<!-- guide-output -->`, `<!-- guide-typo
// -->`) against what the code prints, so the guide cannot drift from code that compiles and runs.
#include <doctest/doctest.h>

// guide:begin
#include <pdm/pdm.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../../examples/drivers/storage.hpp"  // example drivers Block, Tracer, RamDisk

// The VMM's disk controller. pdm does not emulate it: it needs to know its LUNs, what each LUN
// offers the driver at the top of its chain (the controller's port) and what it needs from it.
struct disk_controller final : example::block_port {
  std::array<example::block*, 2> drives{};  // the top driver of each LUN, or null
};

// The chain below LUN 0: Block -> Tracer -> RamDisk. LUN 1 is empty until a disk is plugged in.
constexpr std::string_view vm_config = R"({"Devices": {"disk": {"0": {"LUN#0": {
  "Driver": "Block",
  "AttachedDriver": {"Driver": "Tracer", "Config": {"Label": "disk0", "Report": false},
    "AttachedDriver": {"Driver": "RamDisk", "Config": {"SizeSectors": 64}}}}}}}})";

// Builds a VM, runs it and takes it apart. `overrides` are `path=value` texts, say from the
// command line. Prints what happens to `out`; returns 0, or 1 after printing the error.
int run_host(std::ostream& out, std::span<const std::string> overrides) {
  auto fail = [&out](const pdm::error& e) {
    out << "error: " << e.message() << '\n';
    return 1;
  };

  // 1. The drivers: checked at compile time by the list, registered at run time.
  pdm::registry drivers;
  if (pdm::status s = drivers.add(example::storage_drivers{}); !s) return fail(s.error_value());

  // 2. The config: JSON (pdm::load_json_file reads a file), then the overrides, all or nothing.
  pdm::result<pdm::config_tree> config = pdm::load_json(vm_config);
  if (!config) return fail(config.error_value());
  if (pdm::status s = pdm::apply_overrides(config->root(), overrides); !s) return fail(s.error_value());

  // 3. The VM. With current_thread, this thread is the EMT: each VM call below runs right here.
  disk_controller disk;  // declared first: it must outlive the VM, which holds its port
  pdm::vm_options options;
  options.emt = pdm::emt_mode::current_thread;
  options.report = [&out](const pdm::vm_report& r) { out << "report: " << r.what.message() << '\n'; };
  pdm::vm vm(std::move(drivers), std::move(*config), options);
  vm.add_error_sink([&out](const pdm::driver_error_event& e) { out << "driver error: " << e.what.message() << '\n'; });

  // 4. The device: two LUNs that offer the controller's port and need a block interface.
  pdm::device_spec spec{.name = "disk", .instance = 0};
  for (const std::uint32_t lun : {0U, 1U}) {
    spec.luns.push_back(pdm::lun_spec{
        .number = lun, .offers = {pdm::offer<example::block_port>(disk)}, .needs = pdm::interfaces<example::block>()});
  }
  spec.hooks.on_attach = [&](std::uint32_t lun, pdm::attach_flags /*flags*/) -> pdm::status {
    pdm::result<pdm::driver_ref> top = vm.driver_on_lun("disk", 0, lun);  // a hot-plugged chain
    if (!top) return top.error_value();
    disk.drives.at(lun) = top->query<example::block>();
    out << "disk: LUN " << lun << " plugged in\n";
    return pdm::ok();
  };
  spec.hooks.on_detach = [&](std::uint32_t lun, pdm::attach_flags /*flags*/) {
    disk.drives.at(lun) = nullptr;  // without this hook, the VMM could not detach chains
    out << "disk: LUN " << lun << " unplugged\n";
  };
  spec.hooks.on_power_on = [&out] { out << "disk: power on\n"; };
  spec.hooks.on_suspend = [&out] { out << "disk: suspend\n"; };
  spec.hooks.on_power_off = [&out] { out << "disk: power off\n"; };
  if (pdm::status s = vm.add_device(std::move(spec)); !s) return fail(s.error_value());

  // 5. Attach every configured LUN, as at power-up (not_hot_plug: on_attach is not called, so
  //    the VMM takes the top drivers itself).
  if (pdm::status s = vm.attach_all(); !s) return fail(s.error_value());
  pdm::result<std::vector<pdm::driver_ref>> chain = vm.chain("disk", 0, 0);
  if (!chain || chain->empty()) return fail(pdm::error(pdm::errc::no_attached_driver, "LUN 0 has no chain"));
  out << "LUN 0:";
  for (const pdm::driver_ref& d : *chain) out << ' ' << d.name() << " #" << d.instance();
  out << '\n';
  disk.drives[0] = chain->front().query<example::block>();  // not null: checked before construction
  pdm::result<pdm::driver_ref> medium = vm.driver_on_lun("disk", 0, 0, "RamDisk");
  if (!medium) return fail(medium.error_value());
  out << "LUN 0 medium: " << medium->query<example::media>()->size() << " bytes\n";

  // 6. Power on, and use the disk as the device emulation would, through the top driver.
  if (pdm::status s = vm.power_on(); !s) return fail(s.error_value());
  example::block::sector written{};
  written.fill(0x5a);
  example::block::sector read_back{};
  const bool io = disk.drives[0]->write_sector(5, written) && disk.drives[0]->read_sector(5, read_back);
  out << "LUN 0 sector 5: " << (io && read_back == written ? "written and read back" : "I/O failed") << '\n';
  vm.process();  // one turn of the EMT: posted requests, due timers, pollers, queues

  // 7. Hot plug: configure a read-only disk below LUN 1 and attach it while the VM runs.
  const std::vector<std::string> new_disk{
      "Devices/disk/0/LUN#1/Driver=Block", "Devices/disk/0/LUN#1/Config/Policy=read_only",
      "Devices/disk/0/LUN#1/AttachedDriver/Driver=RamDisk", "Devices/disk/0/LUN#1/AttachedDriver/Config/Fill=170"};
  if (pdm::status s = pdm::apply_overrides(vm.config(), new_disk); !s) return fail(s.error_value());
  if (pdm::result<pdm::driver_ref> top = vm.attach("disk", 0, 1); !top) return fail(top.error_value());
  example::block::sector first{};
  if (disk.drives[1]->read_sector(0, first)) out << "LUN 1 sector 0 holds " << int{first[0]} << '\n';
  out << "LUN 1 write " << (disk.drives[1]->write_sector(0, first) ? "accepted" : "refused") << '\n';
  if (pdm::result<std::string> dump = vm.dump(); dump) out << *dump;

  // 8. Suspend and save the drivers' state (the example drivers keep none: no units).
  if (pdm::status s = vm.suspend(); !s) return fail(s.error_value());
  std::vector<std::byte> image;
  if (pdm::status s = vm.save_state(image); !s) return fail(s.error_value());
  out << "saved state: " << vm.state_units().size() << " units, " << image.size() << " bytes\n";

  // 9. Unplug LUN 1, power off, and look at the instance counts.
  if (pdm::status s = vm.detach("disk", 0, 1); !s) return fail(s.error_value());
  if (pdm::status s = vm.power_off(); !s) return fail(s.error_value());
  pdm::result<pdm::driver_counts> ram_disks = vm.counts("RamDisk");
  if (!ram_disks) return fail(ram_disks.error_value());
  out << "RamDisk: " << ram_disks->live << " live, next instance " << ram_disks->next_instance << '\n';
  return 0;  // ~vm destroys the chains left, bottom-most first, without detach notifications
}
// guide:end

#include <fstream>
#include <sstream>

namespace {

std::string read_text(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open ", file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The text between the `// guide:begin` and `// guide:end` lines of this file.
std::string example_in_source() {
  const std::string source = read_text(PDM_SOURCE_DIR "/tests/chain/vmm_guide.cpp");
  const std::string begin = "\n// guide:begin\n";
  const std::string end = "\n// guide:end\n";
  const std::size_t from = source.find(begin);
  REQUIRE(from != std::string::npos);
  const std::size_t to = source.find(end, from);
  REQUIRE(to != std::string::npos);
  return source.substr(from + begin.size(), to + 1 - from - begin.size());
}

// The body of the block fenced with ```<language> right after the line `<!-- marker -->` in
// docs/guide.md, with its last newline.
std::string guide_block(const std::string& marker, const std::string& language) {
  static const std::string guide = read_text(PDM_SOURCE_DIR "/docs/guide.md");
  const std::string tag = "<!-- " + marker + " -->\n```" + language + "\n";
  const std::size_t at = guide.find(tag);
  REQUIRE_MESSAGE(at != std::string::npos, "docs/guide.md has no ```", language, " block right after <!-- ", marker,
                  " -->");
  CHECK_MESSAGE(guide.find(tag, at + 1) == std::string::npos, "docs/guide.md marks two blocks ", marker);
  const std::size_t body = at + tag.size();
  const std::size_t close = guide.find("\n```\n", body - 1);
  REQUIRE_MESSAGE(close != std::string::npos, "the block after <!-- ", marker, " --> is not closed");
  return guide.substr(body, close + 1 - body);
}

}  // namespace

TEST_CASE("the guide's example is the code of this file") {
  const std::string code = example_in_source();
  CHECK(code.find("int run_host(") != std::string::npos);
  CHECK(guide_block("guide-example", "cpp") == code);
}

TEST_CASE("the guide's host builds, runs, hot-plugs, saves and takes apart its VM") {
  const std::vector<std::string> overrides{"Devices/disk/0/LUN#0/AttachedDriver/AttachedDriver/Config/SizeSectors=256"};
  std::ostringstream out;
  CHECK(run_host(out, overrides) == 0);
  CHECK(out.str() ==
        "LUN 0: Block #0 Tracer #0 RamDisk #0\n"
        "LUN 0 medium: 131072 bytes\n"
        "disk: power on\n"
        "LUN 0 sector 5: written and read back\n"
        "disk: LUN 1 plugged in\n"
        "LUN 1 sector 0 holds 170\n"
        "LUN 1 write refused\n"
        "disk #0\n"
        "  LUN#0\n"
        "    Block #0\n"
        "    Tracer #0\n"
        "    RamDisk #0\n"
        "  LUN#1\n"
        "    Block #1\n"
        "    RamDisk #1\n"
        "disk: suspend\n"
        "saved state: 0 units, 28 bytes\n"
        "disk: LUN 1 unplugged\n"
        "disk: power off\n"
        "RamDisk: 1 live, next instance 2\n");
  CHECK(guide_block("guide-output", "text") == out.str());
}

TEST_CASE("without overrides the disk has the configured size") {
  std::ostringstream out;
  CHECK(run_host(out, {}) == 0);
  CHECK(out.str().find("LUN 0 medium: 32768 bytes\n") != std::string::npos);
}

TEST_CASE("a mistyped override fails the attach, names the key and suggests the right one") {
  const std::vector<std::string> overrides{"Devices/disk/0/LUN#0/AttachedDriver/AttachedDriver/Config/SizeSector=8"};
  std::ostringstream out;
  CHECK(run_host(out, overrides) == 1);
  const std::string text = out.str();
  CHECK(text ==
        "error: driver 'RamDisk' #0 at 'Devices/disk/0/LUN#0/AttachedDriver/AttachedDriver/Config': invalid config "
        "value: 1 problem\n"
        "  - at 'Devices/disk/0/LUN#0/AttachedDriver/AttachedDriver/Config/SizeSector': unknown config key: "
        "\"SizeSector\" is not a key of this config; did you mean 'SizeSectors'?\n");
  CHECK(guide_block("guide-typo", "text") == text);
}

TEST_CASE("an override that does not parse is refused before a VM exists") {
  const std::vector<std::string> overrides{"Devices/disk/0/LUN#0/Config/Policy"};  // no '='
  std::ostringstream out;
  CHECK(run_host(out, overrides) == 1);
  CHECK(out.str().rfind("error: ", 0) == 0);
  CHECK(out.str().find('\n') == out.str().size() - 1);  // one line, nothing else
}
