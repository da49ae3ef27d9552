// minivmm: a small VMM host built on pdm, and pdm's demo.
//
//   minivmm run   [CONFIG.json] [--dir DIR] [path=value ...]
//   minivmm check [CONFIG.json] [--dir DIR] [path=value ...]
//
// `run` builds a VM from the config (default: examples/configs/minivmm.json) in DIR (default
// ./minivmm-work, created; relative paths in the config are relative to it), attaches every
// configured chain, prints the stacks, runs a scripted guest workload through them (disk sectors
// written and read back, serial lines exchanged with a peer over TCP and a Unix socket and written
// to a file), suspends, saves the state to DIR/minivmm.sav and powers off; then builds a fresh VM
// from the same config, restores the state into it and checks it, hot-unplugs a disk, mounts
// another image in the DVD drive, prints the statistics and writes the stacks as a Graphviz graph
// (DIR/minivmm.dot, and minivmm.svg when `dot` is installed).
// `check` validates the config against minivmm's drivers and devices without constructing any
// driver, and reports every problem at once.
//
// Exit codes: 0 success; 1 the workload or the restore did not verify; 2 the config is invalid or
// a driver could not be attached (the message names the driver, its instance and config path);
// 64 bad command line.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <pdm/pdm.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "char_drivers.hpp"
#include "machine.hpp"
#include "storage_drivers.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_config = 2;
constexpr int exit_usage = 64;

// How long the host waits for serial traffic before it calls the workload failed.
constexpr std::chrono::seconds traffic_deadline{10};

// The images the host keeps in its media library (made in DIR by `run`; `check` counts them as
// present).
constexpr std::array<std::string_view, 2> media_library{"install.iso", "tools.iso"};
constexpr std::uint64_t library_sectors = 64;

struct options {
  std::string command;
  std::string config_file = std::string(MINIVMM_CONFIG_DIR) + "/minivmm.json";
  fs::path dir = "minivmm-work";
  std::vector<std::string> overrides;
};

void print_usage() {
  std::fprintf(stderr,
               "usage: minivmm run   [CONFIG.json] [--dir DIR] [path=value ...]\n"
               "       minivmm check [CONFIG.json] [--dir DIR] [path=value ...]\n");
}

std::optional<options> parse_command_line(int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  options o;
  o.command = argv[1];
  if (o.command != "run" && o.command != "check") return std::nullopt;
  bool have_file = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--dir") {
      if (i + 1 == argc) return std::nullopt;
      o.dir = argv[++i];
    } else if (a.find('=') != std::string_view::npos) {
      o.overrides.emplace_back(a);
    } else if (!have_file && !a.starts_with("-")) {
      o.config_file = a;
      have_file = true;
    } else {
      return std::nullopt;
    }
  }
  return o;
}

void print_error(const pdm::error& e) { std::fprintf(stderr, "minivmm: %s\n", e.message().c_str()); }

pdm::result<pdm::config_tree> load_config(const options& o) {
  pdm::result<pdm::config_tree> config = pdm::load_json_file(o.config_file);
  if (!config) return config;
  if (pdm::status s = pdm::apply_overrides(config->root(), o.overrides); !s) return std::move(s).error_value();
  return config;
}

// Every RawImage the config names that does not exist (and is not to be created), resolved
// against `dir`: what `check` can tell about files without opening them.
void check_images(const pdm::config_node& node, const fs::path& dir, std::vector<pdm::error>& problems) {
  pdm::result<std::string> driver = node.get<std::string>("Driver");
  if (driver && *driver == "RawImage") {
    pdm::result<std::string> path = node.get<std::string>("Config/Path");
    pdm::result<bool> create = node.get_or<bool>("Config/Create", false);
    const bool in_library = path && std::find(media_library.begin(), media_library.end(), *path) != media_library.end();
    if (path && create && !*create && !in_library && !fs::exists(dir / *path)) {
      problems.push_back(pdm::error(pdm::errc::io_error, "image '" + *path + "' does not exist in " + dir.string() +
                                                             " (and Create is not set)")
                             .driver("RawImage")
                             .path(node.full_path("Config/Path")));
    }
  }
  if (const pdm::config_node* below = node.find_child("AttachedDriver")) check_images(*below, dir, problems);
}

// What `check` finds: pdm::check_config against minivmm's drivers and devices, then, with
// `images`, the image files. (`run` leaves missing files to the RawImage driver, whose error
// says why the file could not be opened.)
std::vector<pdm::error> check(const pdm::config_tree& config, const pdm::registry& drivers, minivmm::machine& hw,
                              const fs::path& dir, bool images) {
  const std::vector<pdm::device_spec> devices = hw.devices();
  std::vector<pdm::error> problems = pdm::check_config(config, drivers, devices);
  if (const pdm::config_node* all = config.root().find_child("Devices"); all != nullptr && images) {
    for (const pdm::config_node& device : all->children()) {
      for (const pdm::config_node& instance : device.children()) {
        for (const pdm::config_node& lun : instance.children()) {
          if (lun.name().starts_with("LUN#")) check_images(lun, dir, problems);
        }
      }
    }
  }
  return problems;
}

// --- The host's side of the workload --------------------------------------------------------------

// What sector `lba` of a library image holds: its name and number, then zeros.
std::vector<std::byte> library_sector(std::string_view image, std::uint64_t lba) {
  std::vector<std::byte> s(minivmm::sector_size);
  const std::string text = "minivmm " + std::string(image) + " sector " + std::to_string(lba);
  std::memcpy(s.data(), text.data(), text.size());
  return s;
}

bool write_library(const fs::path& dir) {
  for (std::string_view image : media_library) {
    std::ofstream out(dir / image, std::ios::binary | std::ios::trunc);
    for (std::uint64_t lba = 0; lba < library_sectors; ++lba) {
      const std::vector<std::byte> s = library_sector(image, lba);
      out.write(reinterpret_cast<const char*>(s.data()), static_cast<std::streamsize>(s.size()));
    }
    if (!out) return false;
  }
  return true;
}

// What the guest writes to sector `lba` of the disk on controller LUN `lun`.
std::vector<std::byte> disk_pattern(std::uint32_t lun, std::uint64_t lba) {
  std::vector<std::byte> s(minivmm::sector_size);
  for (std::size_t i = 0; i < s.size(); ++i)
    s[i] = static_cast<std::byte>((lba * 31 + std::uint64_t{lun} * 7 + i) & 0xff);
  return s;
}
constexpr std::uint64_t workload_sectors = 32;

// A peer on the host's side of a serial stream: a client socket.
class peer {
 public:
  static std::optional<peer> connect_to(const std::string& endpoint) {
    // "tcp 127.0.0.1:PORT (listening)" or "unix PATH (listening)"
    const std::size_t listening = endpoint.rfind(" (listening)");
    if (listening == std::string::npos) return std::nullopt;
    const std::string where = endpoint.substr(0, listening);
    peer p;
    if (where.starts_with("tcp ")) {
      const std::string location = where.substr(4);
      const std::size_t colon = location.rfind(':');
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(location.substr(colon + 1))));
      if (::inet_pton(AF_INET, location.substr(0, colon).c_str(), &a.sin_addr) != 1) return std::nullopt;
      p.fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!p.fd_ || ::connect(p.fd_.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return std::nullopt;
    } else if (where.starts_with("unix ")) {
      const std::string path = where.substr(5);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      if (path.size() >= sizeof a.sun_path) return std::nullopt;
      std::memcpy(a.sun_path, path.data(), path.size());
      p.fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!p.fd_ || ::connect(p.fd_.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return std::nullopt;
    } else {
      return std::nullopt;
    }
    return p;
  }
  // Reads until a line ends or `deadline`; the line without its '\n'.
  std::optional<std::string> read_line(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (const std::size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{.fd = fd_.get(), .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      std::array<char, 512> chunk{};
      const ssize_t n = ::recv(fd_.get(), chunk.data(), chunk.size(), 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk.data(), static_cast<std::size_t>(n));
    }
  }
  bool send(std::string_view text) {
    return ::send(fd_.get(), text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  }

 private:
  minivmm::unique_fd fd_;
  std::string buffer_;
};

// Runs the EMT's work (this thread is the EMT) until `done` or the deadline.
bool pump_until(pdm::vm& vm, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + traffic_deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    vm.thread().wait_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
  }
  return true;
}

// The top driver's interface I on a LUN, or null when nothing is attached there.
template <class I>
I* top_of(pdm::vm& vm, std::string_view device, std::uint32_t instance, std::uint32_t lun) {
  pdm::result<std::vector<pdm::driver_ref>> chain = vm.chain(device, instance, lun);
  if (!chain || chain->empty()) return nullptr;
  return chain->front().query<I>();
}

// The first driver of a LUN's chain that provides I.
template <class I>
I* find_in_chain(pdm::vm& vm, std::string_view device, std::uint32_t instance, std::uint32_t lun) {
  pdm::result<std::vector<pdm::driver_ref>> chain = vm.chain(device, instance, lun);
  if (!chain) return nullptr;
  for (const pdm::driver_ref& d : *chain) {
    if (I* i = d.query<I>()) return i;
  }
  return nullptr;
}

bool sector_is(minivmm::block& disk, std::uint64_t lba, const std::vector<std::byte>& expected) {
  std::vector<std::byte> got(minivmm::sector_size);
  return disk.read_sectors(lba, got) && got == expected;
}

struct tally {
  int passed = 0;
  int total = 0;
  void count(bool ok) {
    ++total;
    passed += ok ? 1 : 0;
  }
  [[nodiscard]] bool all() const { return passed == total; }
};

// The guest's disk workload: every writable disk gets `workload_sectors` written and read back;
// a read-only drive has its first sector read and, for a library image, checked.
tally disk_workload(pdm::vm& vm) {
  tally sectors;
  for (std::uint32_t lun = 0; lun < minivmm::controller_ports; ++lun) {
    minivmm::block* disk = top_of<minivmm::block>(vm, "ahci", 0, lun);
    if (disk == nullptr) continue;
    const minivmm::block_info info = disk->info();
    if (info.sectors == 0) {
      std::printf("  ahci LUN#%u: empty drive\n", lun);
      continue;
    }
    if (info.read_only) {
      const bool library = std::find(media_library.begin(), media_library.end(), info.medium) != media_library.end();
      std::vector<std::byte> first(minivmm::sector_size);
      const bool ok = disk->read_sectors(0, first) && (!library || first == library_sector(info.medium, 0));
      sectors.count(ok);
      std::printf("  ahci LUN#%u: read-only %s, sector 0 %s\n", lun, info.medium.c_str(), ok ? "verified" : "WRONG");
      continue;
    }
    const std::uint64_t n = std::min(workload_sectors, info.sectors);
    int good = 0;
    for (std::uint64_t lba = 0; lba < n; ++lba) {
      const std::vector<std::byte> out = disk_pattern(lun, lba);
      const bool ok = disk->write_sectors(lba, out) && sector_is(*disk, lba, out);
      sectors.count(ok);
      good += ok ? 1 : 0;
    }
    std::printf("  ahci LUN#%u: %d/%llu sectors written and read back on %s\n", lun, good,
                static_cast<unsigned long long>(n), info.medium.c_str());
  }
  return sectors;
}

// The guest's serial workload: a line out of every port; where a peer can connect (a listening
// TCP or Unix socket), the host reads it there and answers, and the guest must receive the
// answer; where the stream is a file, the line must be in the file.
tally serial_workload(pdm::vm& vm, const minivmm::machine& hw) {
  tally ports;
  for (std::uint32_t i = 0; i < minivmm::serial_ports; ++i) {
    minivmm::char_device* port = top_of<minivmm::char_device>(vm, "serial", i, 0);
    minivmm::stream* below = find_in_chain<minivmm::stream>(vm, "serial", i, 0);
    if (port == nullptr || below == nullptr) continue;
    const std::string endpoint = below->endpoint();
    const std::string line = "minivmm serial " + std::to_string(i) + ": hello from the guest";
    std::optional<peer> host = peer::connect_to(endpoint);
    const std::uint64_t sent_before = port->counters().bytes_sent;
    const std::string out = line + "\n";
    bool ok = port->send(std::as_bytes(std::span(out)));
    // True once the Char driver's I/O thread sent the line (pump_until runs the EMT meanwhile).
    const auto line_sent = [&] { return port->counters().bytes_sent >= sent_before + out.size(); };
    std::string how;
    if (host) {
      const auto deadline = std::chrono::steady_clock::now() + traffic_deadline;
      std::optional<std::string> got;
      ok = ok && pump_until(vm, line_sent);
      ok = ok && (got = host->read_line(deadline)) && *got == line;
      const std::string answer = "hello from the host on serial " + std::to_string(i) + "\n";
      ok = ok && host->send(answer) && pump_until(vm, [&] { return hw.serial(i).inbox().ends_with(answer); });
      how = "line sent, peer read it and answered, answer received";
    } else if (endpoint.starts_with("file ")) {
      ok = ok && pump_until(vm, line_sent);
      std::ifstream in(endpoint.substr(5), std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      ok = ok && text.str().ends_with(out);
      how = "line written to the file";
    } else {
      ok = ok && pump_until(vm, line_sent);
      how = "line sent";
    }
    ports.count(ok);
    std::printf("  serial %u (%s): %s%s\n", i, endpoint.c_str(), how.c_str(), ok ? "" : ": FAILED");
  }
  return ports;
}

// What a restore must bring back: every Block's counters and every Char's.
struct snapshot {
  std::map<std::uint32_t, minivmm::block_info> disks;
  std::map<std::uint32_t, minivmm::char_counters> serials;
};

snapshot take_snapshot(pdm::vm& vm) {
  snapshot s;
  for (std::uint32_t lun = 0; lun < minivmm::controller_ports; ++lun) {
    if (minivmm::block* d = top_of<minivmm::block>(vm, "ahci", 0, lun)) s.disks[lun] = d->info();
  }
  for (std::uint32_t i = 0; i < minivmm::serial_ports; ++i) {
    if (minivmm::char_device* c = top_of<minivmm::char_device>(vm, "serial", i, 0)) s.serials[i] = c->counters();
  }
  return s;
}

bool same(const snapshot& a, const snapshot& b) {
  if (a.disks.size() != b.disks.size() || a.serials.size() != b.serials.size()) return false;
  for (const auto& [lun, d] : a.disks) {
    const auto it = b.disks.find(lun);
    if (it == b.disks.end() || it->second.sectors_read != d.sectors_read ||
        it->second.sectors_written != d.sectors_written || it->second.media_changes != d.media_changes) {
      return false;
    }
  }
  for (const auto& [i, c] : a.serials) {
    const auto it = b.serials.find(i);
    if (it == b.serials.end() || it->second.bytes_sent != c.bytes_sent ||
        it->second.bytes_received != c.bytes_received || it->second.bytes_dropped != c.bytes_dropped) {
      return false;
    }
  }
  return true;
}

bool on_path(std::string_view program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::stringstream dirs(path);
  for (std::string d; std::getline(dirs, d, ':');) {
    if (!d.empty() && ::access((fs::path(d) / program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

pdm::vm_options vm_settings() {
  pdm::vm_options o;
  o.emt = pdm::emt_mode::current_thread;  // this thread is the EMT and runs its work in pump_until
  o.report = [](const pdm::vm_report& r) { std::fprintf(stderr, "minivmm: vm: %s\n", r.what.message().c_str()); };
  return o;
}

// A step's error: printed, and the exit code for it.
int failed_step(const char* step, const pdm::error& e, int code = exit_config) {
  std::fprintf(stderr, "minivmm: %s failed: %s\n", step, e.message().c_str());
  return code;
}

int run(const options& o, const pdm::registry& drivers, const pdm::config_tree& config) {
  const fs::path state_file = "minivmm.sav";
  std::vector<std::string> summary;

  // --- The first VM: attach, run the workload, save, power off ---------------------------------
  snapshot saved;
  std::uintmax_t state_bytes = 0;
  std::size_t state_units = 0;
  std::size_t chains = 0;
  {
    minivmm::machine hw;
    pdm::vm vm(drivers, config.root().clone(), vm_settings());
    if (pdm::status s = hw.install(vm); !s) return failed_step("adding the devices", s.error_value());
    if (pdm::status s = vm.attach_all(); !s) return failed_step("attach", s.error_value());
    const std::vector<pdm::device_view> topology = vm.topology().value();
    for (const pdm::device_view& d : topology) {
      for (const pdm::lun_view& l : d.luns) chains += l.chain.empty() ? 0 : 1;
    }
    std::printf("stacks (%zu chains):\n%s", chains, vm.dump().value().c_str());
    if (pdm::status s = vm.power_on(); !s) return failed_step("power on", s.error_value());
    std::printf("workload:\n");
    const tally sectors = disk_workload(vm);
    const tally ports = serial_workload(vm, hw);
    summary.push_back("workload verified: " + std::to_string(sectors.passed) + "/" + std::to_string(sectors.total) +
                      " disk sectors, " + std::to_string(ports.passed) + "/" + std::to_string(ports.total) +
                      " serial ports");
    if (!sectors.all() || !ports.all()) {
      std::fprintf(stderr, "minivmm: the workload did not verify\n");
      return exit_failed;
    }
    std::printf("statistics after the workload:\n%s", vm.statistics().to_text("/Drivers").c_str());
    if (pdm::status s = vm.suspend(); !s) return failed_step("suspend", s.error_value());
    saved = take_snapshot(vm);
    if (pdm::status s = vm.save_state(pdm::state_file{state_file.string()}); !s) {
      return failed_step("save", s.error_value(), exit_failed);
    }
    state_units = vm.state_units().size();
    state_bytes = fs::file_size(state_file);
    std::printf("saved: %zu units, %ju bytes to %s\n", state_units, state_bytes, (o.dir / state_file).c_str());
    if (pdm::status s = vm.power_off(); !s) return failed_step("power off", s.error_value());
    std::printf("powered off\n");
  }

  // --- A fresh VM from the same config: restore, verify, unplug, mount --------------------------
  minivmm::machine hw;
  pdm::vm vm(drivers, config.root().clone(), vm_settings());
  if (pdm::status s = hw.install(vm); !s) return failed_step("adding the devices", s.error_value());
  if (pdm::status s = vm.attach_all(); !s) return failed_step("attach (second VM)", s.error_value());
  if (pdm::status s = vm.load_state(pdm::state_file{state_file.string()}); !s) {
    return failed_step("restore", s.error_value(), exit_failed);
  }
  const bool restored = same(saved, take_snapshot(vm));
  // The disks' contents live in their image files: the guest's sectors must still be there.
  int kept = 0;
  int expected = 0;
  for (const auto& [lun, info] : saved.disks) {
    minivmm::block* disk = top_of<minivmm::block>(vm, "ahci", 0, lun);
    if (info.read_only || info.sectors == 0 || disk == nullptr) continue;
    for (std::uint64_t lba = 0; lba < std::min(workload_sectors, info.sectors); ++lba) {
      ++expected;
      kept += sector_is(*disk, lba, disk_pattern(lun, lba)) ? 1 : 0;
    }
  }
  std::printf("restored into a fresh VM: drive and serial counters %s, %d/%d sectors still on disk\n",
              restored ? "match" : "DIFFER", kept, expected);
  if (!restored || kept != expected) return exit_failed;
  summary.push_back("state saved (" + std::to_string(state_units) + " units, " + std::to_string(state_bytes) +
                    " bytes) and restored into a fresh VM: verified");
  if (pdm::status s = vm.power_on(); !s) return failed_step("power on (second VM)", s.error_value());

  // Hot-unplug the last fixed disk (when there are two or more), mount tools.iso in the first
  // removable drive.
  std::optional<std::uint32_t> unplug;
  std::optional<std::uint32_t> drive;
  int fixed = 0;
  for (const auto& [lun, info] : saved.disks) {
    if (info.removable) {
      if (!drive) drive = lun;
    } else {
      ++fixed;
      unplug = lun;
    }
  }
  if (fixed >= 2 && unplug) {
    const std::uint32_t before = vm.counts("Block").value().live;
    if (pdm::status s = vm.detach("ahci", 0, *unplug); !s)
      return failed_step("hot-unplug", s.error_value(), exit_failed);
    const bool gone = top_of<minivmm::block>(vm, "ahci", 0, *unplug) == nullptr &&
                      vm.counts("Block").value().live == before - 1 && hw.unplugged() == std::vector{*unplug};
    std::printf("hot-unplugged ahci LUN#%u: %s\n", *unplug, gone ? "chain gone, controller told" : "NOT DONE");
    if (!gone) return exit_failed;
    summary.push_back("hot-unplug of ahci LUN#" + std::to_string(*unplug) + ": done");
  }
  if (drive) {
    auto* m = top_of<minivmm::mount>(vm, "ahci", 0, *drive);
    auto* disk = top_of<minivmm::block>(vm, "ahci", 0, *drive);
    const std::uint32_t changes = hw.port(*drive).changes();
    const bool ok = m != nullptr && m->mount_image("tools.iso", "") && disk->info().medium == "tools.iso" &&
                    sector_is(*disk, 0, library_sector("tools.iso", 0)) && hw.port(*drive).present() &&
                    hw.port(*drive).changes() > changes;
    std::printf("mounted tools.iso in ahci LUN#%u (format found by probing): %s\n", *drive,
                ok ? "sector 0 verified" : "FAILED");
    if (!ok) return exit_failed;
    summary.push_back("mount of tools.iso in ahci LUN#" + std::to_string(*drive) + ": verified");
  }

  // The stacks as a graph (in DIR, the working directory now).
  const std::string dot = pdm::to_dot(vm.topology().value(), pdm::dot_options{.name = "minivmm"});
  std::ofstream dot_file("minivmm.dot", std::ios::binary | std::ios::trunc);
  dot_file << dot;
  dot_file.close();
  if (!dot_file) {
    std::fprintf(stderr, "minivmm: cannot write %s\n", (o.dir / "minivmm.dot").c_str());
    return exit_failed;
  }
  std::string graph = (o.dir / "minivmm.dot").string();
  if (!on_path("dot")) {
    graph += " (no SVG: Graphviz's dot is not installed)";
  } else if (std::system("dot -Tsvg minivmm.dot -o minivmm.svg") == 0) {
    graph += ", " + (o.dir / "minivmm.svg").string();
  } else {
    graph += " (Graphviz's dot failed to make the SVG)";
  }
  std::printf("graph: %s\n", graph.c_str());
  if (pdm::status s = vm.power_off(); !s) return failed_step("power off (second VM)", s.error_value());

  std::printf("\nsummary:\n  %zu chains attached from %s\n", chains, o.config_file.c_str());
  for (const std::string& line : summary) std::printf("  %s\n", line.c_str());
  std::printf("  graph of the stacks: %s\nminivmm: ok\n", graph.c_str());
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<options> o = parse_command_line(argc, argv);
  if (!o) {
    print_usage();
    return exit_usage;
  }
  // The config file is named from where minivmm was started, before it moves into DIR.
  std::error_code ec;
  o->config_file = fs::absolute(o->config_file, ec).string();
  pdm::result<pdm::config_tree> config = load_config(*o);
  if (!config) {
    print_error(config.error_value());
    return exit_config;
  }
  pdm::registry drivers;
  if (pdm::status s = drivers.add(minivmm::drivers{}); !s) {  // a bug of minivmm's, not of the config
    print_error(s.error_value());
    return exit_failed;
  }
  minivmm::machine hw;
  const std::vector<pdm::error> problems = check(*config, drivers, hw, o->dir, o->command == "check");
  if (!problems.empty()) {
    std::fprintf(stderr, "minivmm: %s: %zu problem%s\n", o->config_file.c_str(), problems.size(),
                 problems.size() == 1 ? "" : "s");
    for (const pdm::error& e : problems) std::fprintf(stderr, "  %s\n", e.message().c_str());
    return exit_config;
  }
  if (o->command == "check") {
    std::printf("%s: ok\n", o->config_file.c_str());
    return exit_ok;
  }
  fs::create_directories(o->dir, ec);
  fs::current_path(o->dir, ec);
  if (ec) {
    std::fprintf(stderr, "minivmm: cannot work in %s: %s\n", o->dir.c_str(), ec.message().c_str());
    return exit_config;
  }
  if (!write_library(".")) {
    std::fprintf(stderr, "minivmm: cannot write the media library in %s\n", o->dir.c_str());
    return exit_failed;
  }
  std::printf("minivmm: pdm %s, config %s, directory %s\n", pdm::version_string, o->config_file.c_str(),
              o->dir.c_str());
  return run(*o, drivers, *config);
}
