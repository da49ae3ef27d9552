// tests/chain/mount.cpp - driver_context::mount_prepare: replacing the config below a driver
// with `Driver = <core>` and `Config/Path = <file>`, choosing the core driver by probing, and
// keeping the old subtree exactly on every failure (the reference's MountPrepare lost it, and
// with no core driver killed a release build after deleting it).
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "chain/chain_drivers.hpp"

namespace {

using chain_test::bytes;
using chain_test::note;
using chain_test::who;
using chain_test::words;

// --- Temporary files -----------------------------------------------------------------------------

// A fresh directory under the system's temp directory, removed with everything in it.
class temp_dir {
 public:
  temp_dir() {
    std::random_device seed;
    std::mt19937_64 gen(seed());
    const std::filesystem::path base = std::filesystem::temp_directory_path();
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::filesystem::path p = base / ("pdm-mount-test-" + std::to_string(gen()));
      if (std::filesystem::create_directory(p)) {
        path_ = std::move(p);
        return;
      }
    }
    throw std::runtime_error("cannot make a temporary directory");
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  temp_dir(temp_dir&&) = delete;
  temp_dir& operator=(temp_dir&&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  // Writes `contents` to `name` in the directory and returns the file's path as a string.
  std::string file(const std::string& name, std::string_view contents) const {
    const std::filesystem::path p = path_ / name;
    std::ofstream out(p, std::ios::binary);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (!out) throw std::runtime_error("cannot write " + p.string());
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

// --- Drivers -------------------------------------------------------------------------------------

// What the mountable drivers share: attach whatever is configured, prepare a mount, remount.
class mount_logic {
 public:
  explicit mount_logic(pdm::driver_context& ctx) : ctx_(ctx) {
    pdm::result<pdm::driver_ref> r = ctx.attach();
    if (r) {
      below_ = r->query<bytes>();
    } else if (r.error_value() != pdm::errc::no_attached_driver) {
      ctx.fail(r.error_value());
    }
  }

  pdm::status prepare(std::string_view file, std::string_view core = {}) { return ctx_.mount_prepare(file, core); }
  pdm::status attach_prepared() {
    pdm::result<pdm::driver_ref> r = ctx_.attach();
    if (!r) return r.error_value();
    below_ = r->query<bytes>();
    return pdm::ok();
  }
  pdm::status detach_below() { return ctx_.detach(); }
  // Detaches what is below (if anything), prepares the mount and attaches it.
  pdm::status remount(std::string_view file, std::string_view core = {}) {
    if (ctx_.below()) {
      if (pdm::status s = ctx_.detach(); !s) return s;
    }
    if (pdm::status s = ctx_.mount_prepare(file, core); !s) return s;
    return attach_prepared();
  }
  [[nodiscard]] bytes* medium() const noexcept { return below_; }

  pdm::driver_context& ctx_;

 protected:
  bytes* below_ = nullptr;
};

// A mountable top driver: words for the device, over a medium it can change.
class mount_top final : public words, public mount_logic {
 public:
  static constexpr pdm::driver_traits traits{.name = "Mount",
                                             .description = "Words over a medium it mounts",
                                             .class_mask = pdm::driver_class::block | pdm::driver_class::mountable};
  using provides = pdm::interface_list<words>;
  using needs_below = pdm::interface_list<bytes>;
  using needs_above = pdm::interface_list<chain_test::port>;

  explicit mount_top(pdm::driver_context& ctx) : mount_logic((note("ctor " + who(ctx)), ctx)) {}
  ~mount_top() { note("dtor " + who(ctx_)); }
  mount_top(const mount_top&) = delete;
  mount_top& operator=(const mount_top&) = delete;
  mount_top(mount_top&&) = delete;
  mount_top& operator=(mount_top&&) = delete;

  bool put(std::size_t index, std::uint32_t value) override {
    return below_ != nullptr && below_->write(index * 4, &value, 4);
  }
  bool get(std::size_t index, std::uint32_t& value) override {
    return below_ != nullptr && below_->read(index * 4, &value, 4);
  }
  void on_detach_below(pdm::attach_flags /*flags*/) {
    note("detached below " + who(ctx_));
    below_ = nullptr;
  }
};

// A mountable layer in the middle of a chain: bytes through to a medium it can change.
class mount_slot final : public bytes, public mount_logic {
 public:
  static constexpr pdm::driver_traits traits{.name = "Slot",
                                             .description = "A slot for a medium",
                                             .class_mask = pdm::driver_class::filter | pdm::driver_class::mountable};
  using provides = pdm::interface_list<bytes>;
  using needs_below = pdm::interface_list<bytes>;

  explicit mount_slot(pdm::driver_context& ctx) : mount_logic((note("ctor " + who(ctx)), ctx)) {}
  ~mount_slot() { note("dtor " + who(ctx_)); }
  mount_slot(const mount_slot&) = delete;
  mount_slot& operator=(const mount_slot&) = delete;
  mount_slot(mount_slot&&) = delete;
  mount_slot& operator=(mount_slot&&) = delete;

  bool write(std::size_t offset, const void* in, std::size_t size) override {
    return below_ != nullptr && below_->write(offset, in, size);
  }
  bool read(std::size_t offset, void* out, std::size_t size) override {
    return below_ != nullptr && below_->read(offset, out, size);
  }
  [[nodiscard]] std::size_t size() const override { return below_ != nullptr ? below_->size() : 0; }
  void on_detach_below(pdm::attach_flags /*flags*/) {
    note("detached below " + who(ctx_));
    below_ = nullptr;
  }
};

// A top driver that prepares its mount in its constructor, from its Config (read by hand):
// `Image` (the file), `Core` (the core driver, may be absent), `FailAfter` (then fails),
// `AttachFirst` (attach and detach what is configured below before mounting).
class loader final : public words {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Loader", .description = "Mounts its image while it is built", .class_mask = pdm::driver_class::block};
  using provides = pdm::interface_list<words>;
  using needs_below = pdm::interface_list<bytes>;

  explicit loader(pdm::driver_context& ctx) : ctx_(ctx) {
    note("ctor " + who(ctx));
    const pdm::config_node& c = *ctx.config();
    const std::string image = c.get_or<std::string>("Image", "").value_or("");
    const std::string core = c.get_or<std::string>("Core", "").value_or("");
    if (c.get_or<bool>("AttachFirst", false).value_or(false)) {
      // Attach what is configured, then let it go again before mounting.
      if (pdm::result<pdm::driver_ref> first = ctx.attach(); !first) {
        ctx.fail(first.error_value());
        return;
      }
      if (pdm::status s = ctx.detach(); !s) {
        ctx.fail(s.error_value());
        return;
      }
    }
    if (pdm::status s = ctx.mount_prepare(image, core); !s) {
      ctx.fail(s.error_value());
      return;
    }
    pdm::result<pdm::driver_ref> r = ctx.attach();
    if (!r) {
      ctx.fail(r.error_value());
      return;
    }
    if (c.get_or<bool>("FailAfter", false).value_or(false)) {
      ctx.fail(pdm::error(pdm::errc::invalid_value, "configured to fail after mounting"));
    }
  }
  ~loader() { note("dtor " + who(ctx_)); }
  loader(const loader&) = delete;
  loader& operator=(const loader&) = delete;
  loader(loader&&) = delete;
  loader& operator=(loader&&) = delete;

  bool put(std::size_t /*index*/, std::uint32_t /*value*/) override { return false; }
  bool get(std::size_t /*index*/, std::uint32_t& /*value*/) override { return false; }
  void on_detach_below(pdm::attach_flags /*flags*/) { note("detached below " + who(ctx_)); }

 private:
  pdm::driver_context& ctx_;
};

// Media drivers with probes, for probe order, ties, throwing probes and what a probe sees.
template <chain_test::fixed_name Name, int Score>
class probed final : public bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = Name.view(), .description = "A probed format", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<bytes>;
  explicit probed(pdm::driver_context& ctx) { note("ctor " + who(ctx)); }
  // Claims files that start with "TIE" with `Score`; records what it was shown.
  static int probe(std::span<const std::byte> head, std::string_view file) {
    seen_head.assign(head.begin(), head.end());
    seen_file = std::string(file);
    ++calls;
    if (head.size() >= 3 && std::memcmp(head.data(), "TIE", 3) == 0) return Score;
    return 0;
  }
  bool write(std::size_t /*offset*/, const void* /*in*/, std::size_t /*size*/) override { return false; }
  bool read(std::size_t /*offset*/, void* /*out*/, std::size_t /*size*/) override { return false; }
  [[nodiscard]] std::size_t size() const override { return 0; }

  static inline std::vector<std::byte> seen_head;
  static inline std::string seen_file;
  static inline int calls = 0;
};
using tie_1 = probed<"Tie1", 60>;
using tie_2 = probed<"Tie2", 60>;
using never = probed<"Never", 0>;
using negative = probed<"Negative", -5>;

// A probe that throws: it must not claim the file, nor stop the others.
class thrower final : public bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Thrower", .description = "Its probe throws", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<bytes>;
  explicit thrower(pdm::driver_context& /*ctx*/) {}
  static int probe(std::span<const std::byte> /*head*/, std::string_view /*file*/) {
    throw std::runtime_error("probe exploded");
  }
  bool write(std::size_t /*offset*/, const void* /*in*/, std::size_t /*size*/) override { return false; }
  bool read(std::size_t /*offset*/, void* /*out*/, std::size_t /*size*/) override { return false; }
  [[nodiscard]] std::size_t size() const override { return 0; }
};

using mount_drivers = pdm::driver_list<mount_top, mount_slot, loader, chain_test::top, chain_test::cache,
                                       chain_test::mem, chain_test::needy, chain_test::img_a, chain_test::img_b>;

pdm::registry mount_registry() {
  pdm::registry r;
  if (!r.add(mount_drivers{})) throw std::logic_error("the mount test drivers do not register");
  return r;
}

pdm::config_tree load(std::string_view json) {
  pdm::result<pdm::config_tree> t = pdm::load_json(json);
  if (!t) throw std::logic_error("bad test config: " + t.error_value().message());
  return std::move(*t);
}

// The usual configuration: Mount over a Mem with its own Config and a (dead) subtree below it.
constexpr std::string_view mounted_mem = R"({
  "Devices": {"disk": {"0": {"LUN#0": {
    "Driver": "Mount",
    "Config": {"Label": "keep me"},
    "AttachedDriver": {
      "Driver": "Mem",
      "Config": {"Size": 128},
      "AttachedDriver": {"Driver": "Mem", "Config": {"Size": 16}}
    }
  }}}}
})";

// Mount with nothing configured below.
constexpr std::string_view bare_mount = R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Mount"}}}}})";

// A VM with the disk device, its EMT the test's thread.
struct rig {
  chain_test::disk_device dev;
  pdm::vm vm;

  explicit rig(std::string_view json, pdm::registry r = mount_registry())
      : vm(std::move(r), load(json), pdm::vm_options{.emt = pdm::emt_mode::current_thread}) {
    chain_test::take_journal();
    if (!vm.add_device(dev.spec())) throw std::logic_error("the disk does not add");
  }

  // Attaches LUN#0 and returns the object of driver `name` in it.
  template <class D>
  D& attach(std::string_view name) {
    pdm::result<pdm::driver_ref> top = vm.attach("disk", 0, 0);
    if (!top) throw std::logic_error("attach failed: " + top.error_value().message());
    return get<D>(name);
  }
  template <class D>
  D& get(std::string_view name) {
    pdm::result<pdm::driver_ref> r = vm.driver_on_lun("disk", 0, 0, name);
    if (!r) throw std::logic_error("no " + std::string(name) + ": " + r.error_value().message());
    return *static_cast<D*>(r->get());
  }
  std::vector<std::string> chain() {
    std::vector<std::string> out;
    pdm::result<std::vector<pdm::driver_ref>> c = vm.chain("disk", 0, 0);
    if (!c) return {"error: " + c.error_value().message()};
    for (const pdm::driver_ref& d : *c) out.push_back(std::string(d.name()) + "#" + std::to_string(d.instance()));
    return out;
  }
  std::string config() const { return vm.config().dump(); }
  const pdm::config_node* lun() const { return vm.config().find_child("Devices/disk/0/LUN#0"); }
  pdm::driver_counts counts(std::string_view name) {
    pdm::result<pdm::driver_counts> c = vm.counts(name);
    return c ? *c : pdm::driver_counts{~0U, ~0U};
  }
};

using names = std::vector<std::string>;

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// True if `e` or one of its causes (at any depth) has code `c`.
bool has_code(const pdm::error& e, pdm::errc c) {
  if (e == c) return true;
  for (const pdm::error& cause : e.causes()) {
    if (has_code(cause, c)) return true;
  }
  return false;
}

}  // namespace

// --- Mount with a core driver ----------------------------------------------------------------------

TEST_CASE("mount_prepare with a core driver writes Driver and Config/Path, and attach builds it") {
  rig r(bare_mount);
  mount_top& m = r.attach<mount_top>("Mount");
  CHECK(r.chain() == names{"Mount#0"});
  CHECK(r.lun()->find_child("AttachedDriver") == nullptr);
  chain_test::take_journal();

  const std::string file = "/images/disk one.imga";
  REQUIRE(m.prepare(file, "ImgA"));
  // Config only: nothing is built yet.
  CHECK(r.chain() == names{"Mount#0"});
  CHECK(chain_test::take_journal().empty());
  const pdm::config_node* below = r.lun()->find_child("AttachedDriver");
  REQUIRE(below != nullptr);
  CHECK(below->size() == 2);
  CHECK(below->get<std::string>("Driver").value_or("") == "ImgA");
  const pdm::config_node* cfg = below->find_child("Config");
  REQUIRE(cfg != nullptr);
  CHECK(cfg->size() == 1);
  CHECK(cfg->get<std::string>("Path").value_or("") == file);
  // The driver's own level is otherwise untouched.
  CHECK(r.lun()->get<std::string>("Driver").value_or("") == "Mount");

  REQUIRE(m.attach_prepared());
  CHECK(r.chain() == names{"Mount#0", "ImgA#0"});
  CHECK(chain_test::take_journal() == names{"ctor ImgA#0 " + file});
  CHECK(m.medium() != nullptr);
  CHECK(r.counts("ImgA").live == 1);
}

TEST_CASE("mount_prepare replaces the old AttachedDriver subtree: old Config keys and deeper levels are gone") {
  rig r(mounted_mem);
  mount_top& m = r.attach<mount_top>("Mount");
  REQUIRE(r.chain() == names{"Mount#0", "Mem#0"});
  REQUIRE(m.put(3, 0xfeedU));
  chain_test::take_journal();
  const pdm::config_node* own_config_before = r.lun()->find_child("Config");

  REQUIRE(m.remount("/images/b.img", "ImgB"));
  CHECK(r.chain() == names{"Mount#0", "ImgB#0"});
  CHECK(chain_test::take_journal() == names{"detached below Mount#0", "dtor Mem#0", "ctor ImgB#0 /images/b.img"});
  CHECK(r.counts("Mem").live == 0);

  const pdm::config_node* below = r.lun()->find_child("AttachedDriver");
  REQUIRE(below != nullptr);
  CHECK(below->get<std::string>("Driver").value_or("") == "ImgB");
  CHECK(below->find_child("AttachedDriver") == nullptr);
  CHECK_FALSE(below->has_value("Config/Size"));
  CHECK(below->find_child("Config")->size() == 1);
  CHECK(below->get<std::string>("Config/Path").value_or("") == "/images/b.img");
  // The mounting driver's own Config is the same node with the same contents.
  CHECK(r.lun()->find_child("Config") == own_config_before);
  CHECK(r.lun()->get<std::string>("Config/Label").value_or("") == "keep me");
  // The new medium is what the top driver uses: ImgB reads nothing.
  std::uint32_t v = 0;
  CHECK_FALSE(m.get(3, v));
}

TEST_CASE("remounting again and again replaces the previous mount each time") {
  rig r(bare_mount);
  mount_top& m = r.attach<mount_top>("Mount");
  for (int round = 0; round < 3; ++round) {
    const std::string file = "/images/round" + std::to_string(round);
    REQUIRE(m.remount(file, round % 2 == 0 ? "ImgA" : "ImgB"));
    CHECK(r.lun()->get<std::string>("AttachedDriver/Config/Path").value_or("") == file);
    CHECK(r.lun()->find_child("AttachedDriver")->size() == 2);
  }
  CHECK(r.chain() == names{"Mount#0", "ImgA#1"});
  CHECK(r.counts("ImgA").live == 1);
  CHECK(r.counts("ImgB").live == 0);
}

TEST_CASE("a driver in the middle of a chain mounts below itself, leaving the levels above alone") {
  rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {
    "Driver": "Top",
    "AttachedDriver": {"Driver": "Slot", "AttachedDriver": {"Driver": "Mem", "Config": {"Size": 32}}}
  }}}}})");
  (void)r.attach<chain_test::top>("Top");
  REQUIRE(r.chain() == names{"Top#0", "Slot#0", "Mem#0"});
  mount_slot& slot = r.get<mount_slot>("Slot");
  chain_test::take_journal();

  REQUIRE(slot.remount("/images/mid.img", "ImgA"));
  CHECK(r.chain() == names{"Top#0", "Slot#0", "ImgA#0"});
  CHECK(chain_test::take_journal() == names{"detached below Slot#0", "dtor Mem#0", "ctor ImgA#0 /images/mid.img"});
  CHECK(r.lun()->get<std::string>("Driver").value_or("") == "Top");
  CHECK(r.lun()->get<std::string>("AttachedDriver/Driver").value_or("") == "Slot");
  CHECK(r.lun()->get<std::string>("AttachedDriver/AttachedDriver/Driver").value_or("") == "ImgA");
  CHECK(r.lun()->get<std::string>("AttachedDriver/AttachedDriver/Config/Path").value_or("") == "/images/mid.img");
  CHECK_FALSE(r.lun()->has_value("AttachedDriver/AttachedDriver/Config/Size"));
}

// --- Refusals that keep the old config -------------------------------------------------------------

TEST_CASE("mount_prepare with something attached below is already_attached and changes nothing") {
  rig r(mounted_mem);
  mount_top& m = r.attach<mount_top>("Mount");
  const std::string before = r.config();
  chain_test::take_journal();

  pdm::status s = m.prepare("/images/a.img", "ImgA");
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::already_attached);
  CHECK(s.error_value().driver_name() == "Mount");
  CHECK(r.config() == before);
  CHECK(r.chain() == names{"Mount#0", "Mem#0"});
  CHECK(chain_test::take_journal().empty());
}

TEST_CASE("mount_prepare with an unknown core driver is driver_not_found and keeps the config identical") {
  rig r(mounted_mem);
  mount_top& m = r.attach<mount_top>("Mount");
  REQUIRE(m.detach_below());
  const std::string before = r.config();

  pdm::status s = m.prepare("/images/a.img", "ImgC");
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::driver_not_found);
  CHECK(contains(s.error_value().message(), "ImgC"));
  CHECK(r.config() == before);
  CHECK(r.lun()->get<std::string>("AttachedDriver/Driver").value_or("") == "Mem");
  CHECK(r.lun()->get<std::uint32_t>("AttachedDriver/Config/Size").value_or(0) == 128);
  CHECK(r.chain() == names{"Mount#0"});
  // The old config still attaches.
  REQUIRE(m.attach_prepared());
  CHECK(r.chain() == names{"Mount#0", "Mem#1"});
}

TEST_CASE("an unknown core driver with nothing configured below creates no AttachedDriver") {
  rig r(bare_mount);
  mount_top& m = r.attach<mount_top>("Mount");
  const std::string before = r.config();
  pdm::status s = m.prepare("/images/a.img", "NoSuchDriver");
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::driver_not_found);
  CHECK(r.lun()->find_child("AttachedDriver") == nullptr);
  CHECK(r.config() == before);
}

// --- Probing ---------------------------------------------------------------------------------------

TEST_CASE("without a core driver the probes choose: ImgA for IMGA files, ImgB for other IMG files") {
  temp_dir dir;
  const std::string a = dir.file("a.img", "IMGA and some data");
  const std::string b = dir.file("b.img", "IMGB and some data");
  rig r(mounted_mem);
  mount_top& m = r.attach<mount_top>("Mount");
  chain_test::take_journal();

  // Both probes claim "IMGA": ImgA is surer (80 over 50).
  REQUIRE(m.remount(a));
  CHECK(r.lun()->get<std::string>("AttachedDriver/Driver").value_or("") == "ImgA");
  CHECK(r.lun()->get<std::string>("AttachedDriver/Config/Path").value_or("") == a);
  CHECK_FALSE(r.lun()->has_child("AttachedDriver/AttachedDriver"));
  CHECK(r.chain() == names{"Mount#0", "ImgA#0"});

  REQUIRE(m.remount(b));
  CHECK(r.lun()->get<std::string>("AttachedDriver/Driver").value_or("") == "ImgB");
  CHECK(r.lun()->get<std::string>("AttachedDriver/Config/Path").value_or("") == b);
  CHECK(r.chain() == names{"Mount#0", "ImgB#0"});
  CHECK(chain_test::take_journal() == names{"detached below Mount#0", "dtor Mem#0", "ctor ImgA#0 " + a,
                                            "detached below Mount#0", "ctor ImgB#0 " + b});
}

TEST_CASE("a file no probe claims is not_implemented naming the drivers asked, and the old config stays") {
  temp_dir dir;
  const std::string file = dir.file("unknown.bin", "QCOW is not a format anyone here knows");
  rig r(mounted_mem);
  mount_top& m = r.attach<mount_top>("Mount");
  REQUIRE(m.detach_below());
  const std::string before = r.config();

  pdm::status s = m.prepare(file);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::not_implemented);
  const std::string msg = s.error_value().message();
  CHECK(contains(msg, "ImgA"));
  CHECK(contains(msg, "ImgB"));
  CHECK(contains(msg, file));
  CHECK_FALSE(contains(msg, "Mem"));  // Mem has no probe: it was not asked
  CHECK(r.config() == before);
  CHECK(r.chain() == names{"Mount#0"});
}

TEST_CASE("a missing file is io_error and the old config stays") {
  temp_dir dir;
  const std::string missing = (dir.path() / "not-there.img").string();
  rig r(mounted_mem);
  mount_top& m = r.attach<mount_top>("Mount");
  REQUIRE(m.detach_below());
  const std::string before = r.config();

  pdm::status s = m.prepare(missing);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::io_error);
  CHECK(contains(s.error_value().message(), missing));
  CHECK(r.config() == before);
  CHECK(r.lun()->get<std::string>("AttachedDriver/Driver").value_or("") == "Mem");
  CHECK(r.chain() == names{"Mount#0"});
  // Through remount, which detaches first: the old medium is gone, its config is not.
  REQUIRE(m.attach_prepared());
  pdm::status again = m.remount(missing);
  REQUIRE_FALSE(again);
  CHECK(again.error_value() == pdm::errc::io_error);
  CHECK(r.config() == before);
}

TEST_CASE("a directory given as the file to probe is io_error, not a crash and not a mount") {
  temp_dir dir;
  rig r(mounted_mem);
  mount_top& m = r.attach<mount_top>("Mount");
  REQUIRE(m.detach_below());
  const std::string before = r.config();
  pdm::status s = m.prepare(dir.path().string());
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::io_error);
  CHECK(r.config() == before);
}

TEST_CASE("an empty file shows the probes no bytes, and nobody claims it") {
  temp_dir dir;
  const std::string empty = dir.file("empty.img", "");
  pdm::registry reg = mount_registry();
  REQUIRE(reg.add(pdm::driver_list<never>{}));
  rig r(mounted_mem, std::move(reg));
  mount_top& m = r.attach<mount_top>("Mount");
  REQUIRE(m.detach_below());
  const std::string before = r.config();
  never::calls = 0;
  never::seen_head.assign(8, std::byte{1});

  pdm::status s = m.prepare(empty);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::not_implemented);
  CHECK(never::calls == 1);
  CHECK(never::seen_head.empty());
  CHECK(never::seen_file == empty);
  CHECK(contains(s.error_value().message(), "Never"));
  CHECK(r.config() == before);
}

TEST_CASE("probes see the first 4096 bytes of a long file and all of a short one") {
  temp_dir dir;
  std::string content(10000, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 23);
  const std::string long_file = dir.file("long.img", content);
  const std::string short_file = dir.file("short.img", std::string_view(content).substr(0, 100));
  pdm::registry reg = mount_registry();
  REQUIRE(reg.add(pdm::driver_list<never>{}));
  rig r(bare_mount, std::move(reg));
  mount_top& m = r.attach<mount_top>("Mount");

  CHECK(m.prepare(long_file).error_value() == pdm::errc::not_implemented);
  REQUIRE(never::seen_head.size() == 4096);
  CHECK(std::memcmp(never::seen_head.data(), content.data(), 4096) == 0);
  CHECK(never::seen_file == long_file);

  CHECK(m.prepare(short_file).error_value() == pdm::errc::not_implemented);
  REQUIRE(never::seen_head.size() == 100);
  CHECK(std::memcmp(never::seen_head.data(), content.data(), 100) == 0);
  CHECK(r.lun()->find_child("AttachedDriver") == nullptr);
}

TEST_CASE("on a tie the first registered driver wins; a throwing probe claims nothing") {
  temp_dir dir;
  const std::string file = dir.file("tie.img", "TIE tie tie");
  auto mount_with = [&](pdm::registry reg) -> std::string {
    rig r(bare_mount, std::move(reg));
    mount_top& m = r.attach<mount_top>("Mount");
    if (pdm::status s = m.remount(file); !s) return "error: " + s.error_value().message();
    return r.lun()->get<std::string>("AttachedDriver/Driver").value_or("?");
  };
  pdm::registry first;
  REQUIRE(first.add(pdm::driver_list<mount_top, thrower, tie_1, tie_2, chain_test::img_b>{}));
  CHECK(mount_with(std::move(first)) == "Tie1");
  pdm::registry second;
  REQUIRE(second.add(pdm::driver_list<mount_top, tie_2, thrower, tie_1, chain_test::img_b>{}));
  CHECK(mount_with(std::move(second)) == "Tie2");
}

TEST_CASE("scores of zero or below never claim a file") {
  temp_dir dir;
  const std::string file = dir.file("x.img", "TIE but nobody scores it");
  pdm::registry reg;
  REQUIRE(reg.add(pdm::driver_list<mount_top, never, negative, thrower>{}));
  rig r(bare_mount, std::move(reg));
  mount_top& m = r.attach<mount_top>("Mount");
  pdm::status s = m.prepare(file);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::not_implemented);
  CHECK(contains(s.error_value().message(), "Never"));
  CHECK(contains(s.error_value().message(), "Negative"));
  CHECK(contains(s.error_value().message(), "Thrower"));
  CHECK(r.lun()->find_child("AttachedDriver") == nullptr);
}

TEST_CASE("with no probing driver registered, not_implemented says so") {
  temp_dir dir;
  const std::string file = dir.file("x.img", "IMGA");
  pdm::registry reg;
  REQUIRE(reg.add(pdm::driver_list<mount_top, chain_test::mem>{}));
  rig r(bare_mount, std::move(reg));
  mount_top& m = r.attach<mount_top>("Mount");
  pdm::status s = m.prepare(file);
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::not_implemented);
  CHECK(contains(s.error_value().message(), "no driver has a probe"));
}

// --- Paths a config cannot hold --------------------------------------------------------------------

TEST_CASE("a file path that is not valid UTF-8 is refused and the old config stays") {
  rig r(mounted_mem);
  mount_top& m = r.attach<mount_top>("Mount");
  REQUIRE(m.detach_below());
  const std::string before = r.config();

  SUBCASE("with a core driver") {
    pdm::status s = m.prepare("/images/bad\xff\xfe.img", "ImgA");
    REQUIRE_FALSE(s);
    CHECK(s.error_value() == pdm::errc::invalid_value);
    CHECK(r.config() == before);
  }
  SUBCASE("probed: the file exists and ImgA claims it, but its name cannot be stored") {
    temp_dir dir;
    const std::string file = dir.file("bad\xff\xfe.img", "IMGA");
    pdm::status s = m.prepare(file);
    REQUIRE_FALSE(s);
    CHECK(s.error_value() == pdm::errc::invalid_value);
    CHECK(r.config() == before);
  }
  CHECK(r.chain() == names{"Mount#0"});
  REQUIRE(m.attach_prepared());
  CHECK(r.chain() == names{"Mount#0", "Mem#1"});
}

// --- Prepared, then the attach fails ---------------------------------------------------------------

TEST_CASE("when the prepared core driver cannot attach, the attach fails and the chain is unchanged") {
  temp_dir dir;
  rig r(mounted_mem);
  mount_top& m = r.attach<mount_top>("Mount");
  REQUIRE(m.detach_below());
  chain_test::take_journal();

  SUBCASE("the core driver's config is bad (Mem has no Path key)") {
    REQUIRE(m.prepare("/images/a.img", "Mem"));
    const std::string prepared = r.config();
    const pdm::driver_counts mem_before = r.counts("Mem");
    pdm::status s = m.attach_prepared();
    REQUIRE_FALSE(s);
    CHECK(has_code(s.error_value(), pdm::errc::unknown_key));
    CHECK(contains(s.error_value().message(), "Path"));
    CHECK(r.config() == prepared);
    CHECK(r.counts("Mem").live == mem_before.live);
    CHECK(r.counts("Mem").next_instance == mem_before.next_instance);
  }
  SUBCASE("the core driver needs what the mounting driver does not offer") {
    REQUIRE(m.prepare("/images/a.img", "Needy"));
    const std::string prepared = r.config();
    pdm::status s = m.attach_prepared();
    REQUIRE_FALSE(s);
    CHECK(s.error_value() == pdm::errc::missing_interface);
    CHECK(r.config() == prepared);
    CHECK(r.counts("Needy").live == 0);
  }
  SUBCASE("the core driver does not provide what the mounting driver needs") {
    REQUIRE(m.prepare("/images/a.img", "Top"));
    const std::string prepared = r.config();
    pdm::status s = m.attach_prepared();
    REQUIRE_FALSE(s);
    CHECK(s.error_value() == pdm::errc::missing_interface);
    CHECK(r.config() == prepared);
  }
  CHECK(r.chain() == names{"Mount#0"});
  CHECK(m.medium() == nullptr);
  CHECK(chain_test::take_journal().empty());  // nothing was constructed
  // A good mount still works afterwards.
  const std::string good = dir.file("good.img", "IMGA");
  REQUIRE(m.remount(good));
  CHECK(r.chain() == names{"Mount#0", "ImgA#0"});
}

// --- Mounting while being constructed --------------------------------------------------------------

TEST_CASE("a driver may prepare and attach its mount in its constructor") {
  temp_dir dir;
  const std::string image = dir.file("boot.img", "IMGB boot image");
  rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {"Driver": "Loader", "Config": {"Image": ")" + image + R"("}}}}}})");
  REQUIRE(r.vm.attach("disk", 0, 0));
  CHECK(r.chain() == names{"Loader#0", "ImgB#0"});
  CHECK(r.lun()->get<std::string>("AttachedDriver/Driver").value_or("") == "ImgB");
  CHECK(r.lun()->get<std::string>("AttachedDriver/Config/Path").value_or("") == image);
}

TEST_CASE("a constructor that mounted and then failed leaves the config as it was before the attach") {
  // design.md: a constructor that fails leaves the chains, the counts and the config exactly as
  // they were; a mount prepared by the failed constructor is part of that config.
  temp_dir dir;
  const std::string image = dir.file("boot.img", "IMGA boot image");
  const std::string json = R"({"Devices": {"disk": {"0": {"LUN#0": {
    "Driver": "Loader",
    "Config": {"Image": ")" +
                           image + R"(", "FailAfter": true},
    "AttachedDriver": {"Driver": "Mem", "Config": {"Size": 8}}
  }}}}})";

  SUBCASE("the constructor fails after its mount attached") {
    rig r(json);
    const std::string before = r.config();
    pdm::result<pdm::driver_ref> top = r.vm.attach("disk", 0, 0);
    REQUIRE_FALSE(top);
    CHECK(top.error_value() == pdm::errc::invalid_value);
    CHECK(r.chain().empty());
    CHECK(r.counts("ImgA").live == 0);
    CHECK(r.counts("Loader").live == 0);
    CHECK(r.config() == before);
  }
  SUBCASE("the mount it prepared does not attach") {
    rig r(json);
    REQUIRE(r.vm.config().set_value("Devices/disk/0/LUN#0/Config/Core", pdm::config_value(std::string("Mem"))));
    const std::string before = r.config();
    pdm::result<pdm::driver_ref> top = r.vm.attach("disk", 0, 0);
    REQUIRE_FALSE(top);
    CHECK(has_code(top.error_value(), pdm::errc::unknown_key));
    CHECK(r.chain().empty());
    CHECK(r.config() == before);
  }
}

// --- Threads ---------------------------------------------------------------------------------------

TEST_CASE("mount_prepare off the EMT is wrong_thread and changes nothing") {
  rig r(mounted_mem);
  mount_top& m = r.attach<mount_top>("Mount");
  REQUIRE(m.detach_below());
  const std::string before = r.config();
  pdm::status s = pdm::ok();
  std::thread other([&] { s = m.prepare("/images/a.img", "ImgA"); });
  other.join();
  REQUIRE_FALSE(s);
  CHECK(s.error_value() == pdm::errc::wrong_thread);
  CHECK(r.config() == before);
}

// Last in the file: with the bug it guards against, ASan stops the program here.
TEST_CASE("a constructor that attached, detached, mounted and failed is rolled back without touching freed config") {
  // The first attach leaves undo steps pointing into the old AttachedDriver subtree (its Config
  // node); the mount then replaces that subtree, so rolling back must not use those pointers.
  // No temporary file (the core driver is named): with the bug, ASan ends the program here.
  const std::string image = "/images/boot.img";
  rig r(R"({"Devices": {"disk": {"0": {"LUN#0": {
    "Driver": "Loader",
    "Config": {"Image": "/images/boot.img", "Core": "ImgA", "AttachFirst": true, "FailAfter": true},
    "AttachedDriver": {"Driver": "Mem", "Config": {"Size": 8}}
  }}}}})");
  const std::string before = r.config();
  pdm::result<pdm::driver_ref> top = r.vm.attach("disk", 0, 0);
  REQUIRE_FALSE(top);
  CHECK(top.error_value() == pdm::errc::invalid_value);
  CHECK(chain_test::take_journal() == names{"ctor Loader#0", "ctor Mem#0", "detached below Loader#0", "dtor Mem#0",
                                            "ctor ImgA#0 " + image, "dtor Loader#0"});
  CHECK(r.chain().empty());
  CHECK(r.config() == before);
  // The restored config attaches as it did before (Loader without FailAfter).
  REQUIRE(r.vm.config().set_value("Devices/disk/0/LUN#0/Config/FailAfter", pdm::config_value(false)));
  REQUIRE(r.vm.attach("disk", 0, 0));
  CHECK(r.chain() == names{"Loader#0", "ImgA#0"});  // the failed attach gave its numbers back
}
