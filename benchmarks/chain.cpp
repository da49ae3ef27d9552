// benchmarks/chain.cpp - attaching and detaching a chain of three drivers from config: pdm::vm
// against the 2008 manager's algorithms (seed_chain.hpp), and against the bare minimum.
//
// Cases (the argument is the number of registered drivers, the three of the chain among them):
//   chain_attach_detach/pdm/N        vm.attach("disk", 0, 0) + vm.detach("disk", 0, 0)
//   chain_attach_detach/baseline/N   seed::chain_device_attach + seed::chain_device_detach
//   chain_attach_detach/minimum      3 aligned allocations + 3 constructions of trivial objects
//                                    that point at each other, then 3 destructions + 3 frees
//
// One iteration attaches the whole chain configured for LUN#0 of device "disk" #0 and detaches
// it again:
//
//   Devices/disk/0/LUN#0/Driver = "Top",    Config/{Size, Label}
//                  .../AttachedDriver/Driver = "Mid",    Config/{Size, Label}
//                  .../AttachedDriver/AttachedDriver/Driver = "Bottom", Config/{Size, Label}
//
// The same work on both sides:
// - the registry holds N drivers, the chain's three at spread positions (N/6, N/2, 5N/6 in
//   registration order; the others are generated "Block-0", "Media-1", ...), so the baseline's
//   list walks see on average half the list;
// - the config trees are the same, with realistic neighbours: the device instance's node also
//   holds `Trusted`, `PCIDeviceNo` and a `Config` node, and the root a `PDM` node;
// - each driver's constructor reads its Size (an integer) and Label (a string), both required,
//   and keeps both; attaches the driver configured below it, if any, through the manager; asks
//   the driver below for its byte interface and keeps the pointer; the top driver also asks the
//   device above for its port. pdm binds the config to a typed struct before the constructor
//   runs (unknown keys rejected); the baseline's constructors do what 2008 drivers did: check
//   the value names against a list (CFGMR3AreValuesValid), query the integer and query the
//   string as a heap copy (CFGMR3QueryStringAlloc), which the driver keeps and frees in its
//   destructor. The labels are longer than any std::string's inline buffer, so pdm allocates
//   for them too: the bind makes the struct's copy, and the driver, which takes its config by
//   value, moves it into its member (as a pdm driver would). pdm makes 6 heap allocations per
//   iteration (3 instances + 3 labels), the baseline 9 (3 instances + 3 `Driver` name copies +
//   3 labels). A short label (at most 15 characters) would let pdm skip its 3 while the
//   baseline still makes its 3.
// - the device keeps the interface of the top driver: pdm's loop asks the returned driver for
//   it; the baseline's device attach callback asks the top driver's base interface for it. Both
//   devices forget it in their detach callback.
// - the config look-up depth: the baseline starts from the device instance's node
//   (Devices/disk/0), as a 2008 device's attach did, and prints "LUN#0" to find the LUN's node
//   below it; pdm finds Devices/disk/0/LUN#0 itself, from the root, by one hashed path look-up.
//   The baseline also finds the device, its instance and the LUN by list walks, as the 2008
//   run-time attach and detach did; pdm by a scan of its device vector and LUN vector.
// - detach destroys bottom-most first on both sides, telling each parent. The baseline fills
//   every freed instance with 0xdeadd0d0 (the 2008 manager always did); pdm, built with NDEBUG,
//   does not (vm_options::poison_freed is off in release builds).
//
// pdm's VM runs with emt_mode::current_thread: the benchmark's thread is the EMT, so no request
// crosses threads. Before timing, each side attaches the chain, writes a word through it and
// reads it back, checks the drivers and detaches, and the benchmark reports an error if any of
// that fails.
#include <pdm/chain/vm.hpp>
#include <pdm/config/binding.hpp>
#include <pdm/config/tree.hpp>
#include <pdm/driver/registry.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench_main.hpp"
#include "seed_chain.hpp"

namespace bench {

/// What each level of the chain is configured with.
struct level {
  const char* driver;
  std::uint32_t size;
  const char* label;
};
constexpr std::array<level, 3> levels = {{
    {"Top", 64, "disk 0, LUN 0: 32-bit words over bytes"},
    {"Mid", 64, "disk 0, LUN 0: bytes passed through"},
    {"Bottom", 64, "disk 0, LUN 0: bytes kept in memory"},
}};
constexpr std::size_t cells = 64;  // bytes the bottom driver stores

/// The byte written and read back before timing, at word index 5.
constexpr std::uint32_t probe_index = 5;
constexpr std::uint32_t probe_value = 0x5eed1234U;

// ---------------------------------------------------------------------------------------------
// pdm: interfaces and drivers

/// What the device offers the top driver.
struct disk_port {
  static constexpr std::string_view interface_id = "bench.chain.disk_port/1";
  std::uint32_t lun = 0;
};

/// 32-bit words: what the device needs from the top driver.
struct words {
  static constexpr std::string_view interface_id = "bench.chain.words/1";
  virtual bool put(std::uint32_t index, std::uint32_t value) = 0;
  virtual bool get(std::uint32_t index, std::uint32_t& value) = 0;

 protected:
  ~words() = default;
};

/// Bytes: what every driver below the top offers.
struct bytes {
  static constexpr std::string_view interface_id = "bench.chain.bytes/1";
  virtual bool write(std::size_t offset, const void* in, std::size_t size) = 0;
  virtual bool read(std::size_t offset, void* out, std::size_t size) = 0;

 protected:
  ~bytes() = default;
};

/// Every chain driver's config.
struct level_config {
  std::uint32_t size = 0;
  std::string label;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "size", .required = true},
      {.member = "label", .required = true},
  };
};

}  // namespace bench

BOOST_HANA_ADAPT_STRUCT(bench::level_config, size, label);

namespace bench {

inline bool fits(std::size_t offset, std::size_t size, std::size_t limit) noexcept {
  return offset <= limit && size <= limit - offset;
}

class top_driver final : public words {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Top", .description = "32-bit words over a byte medium", .class_mask = pdm::driver_class::block};
  using provides = pdm::interface_list<words>;
  using needs_below = pdm::interface_list<bytes>;
  using needs_above = pdm::interface_list<disk_port>;
  using config_type = level_config;

  top_driver(pdm::driver_context& ctx, level_config c)
      : size_(c.size), label_(std::move(c.label)), port_(ctx.above().query<disk_port>()) {
    pdm::result<pdm::driver_ref> below = ctx.attach();
    if (!below) {
      ctx.fail(below.error_value());
      return;
    }
    below_ = below->query<bytes>();
  }
  bool put(std::uint32_t index, std::uint32_t value) override {
    return below_ != nullptr && fits(index * 4U, 4, size_) && below_->write(index * 4U, &value, 4);
  }
  bool get(std::uint32_t index, std::uint32_t& value) override {
    return below_ != nullptr && fits(index * 4U, 4, size_) && below_->read(index * 4U, &value, 4);
  }
  void on_detach_below(pdm::attach_flags /*flags*/) { below_ = nullptr; }
  [[nodiscard]] const std::string& label() const noexcept { return label_; }
  [[nodiscard]] const disk_port* port() const noexcept { return port_; }

 private:
  std::uint32_t size_;
  std::string label_;
  disk_port* port_;
  bytes* below_ = nullptr;
};

class mid_driver final : public bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Mid", .description = "Passes bytes through", .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<bytes>;
  using needs_below = pdm::interface_list<bytes>;
  using config_type = level_config;

  mid_driver(pdm::driver_context& ctx, level_config c) : size_(c.size), label_(std::move(c.label)) {
    pdm::result<pdm::driver_ref> below = ctx.attach();
    if (!below) {
      ctx.fail(below.error_value());
      return;
    }
    below_ = below->query<bytes>();
  }
  bool write(std::size_t offset, const void* in, std::size_t size) override {
    return below_ != nullptr && fits(offset, size, size_) && below_->write(offset, in, size);
  }
  bool read(std::size_t offset, void* out, std::size_t size) override {
    return below_ != nullptr && fits(offset, size, size_) && below_->read(offset, out, size);
  }
  void on_detach_below(pdm::attach_flags /*flags*/) { below_ = nullptr; }

 private:
  std::uint32_t size_;
  std::string label_;
  bytes* below_ = nullptr;
};

class bottom_driver final : public bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Bottom", .description = "Bytes kept in memory", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<bytes>;
  using config_type = level_config;

  bottom_driver(pdm::driver_context& /*ctx*/, level_config c)
      : size_(c.size < cells ? c.size : static_cast<std::uint32_t>(cells)), label_(std::move(c.label)) {}
  bool write(std::size_t offset, const void* in, std::size_t size) override {
    if (!fits(offset, size, size_)) return false;
    std::memcpy(data_.data() + offset, in, size);
    return true;
  }
  bool read(std::size_t offset, void* out, std::size_t size) override {
    if (!fits(offset, size, size_)) return false;
    std::memcpy(out, data_.data() + offset, size);
    return true;
  }

 private:
  std::uint32_t size_;
  std::string label_;
  std::array<unsigned char, cells> data_{};
};

// The driver every generated registration copies; only the name differs between copies.
struct filler_interface {
  static constexpr std::string_view interface_id = "bench.chain.filler/1";
  virtual std::uint64_t value() = 0;

 protected:
  ~filler_interface() = default;
};

class filler_driver final : public filler_interface {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Filler", .description = "A generated registration", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<filler_interface>;
  explicit filler_driver(pdm::driver_context& /*ctx*/) {}
  std::uint64_t value() override { return 0; }
};

// ---------------------------------------------------------------------------------------------
// Both sides: registration order and config layout

// Names of the generated drivers: a class word, a dash and a number (as in bench_registry).
constexpr const char* class_words[] = {"Block", "Media",    "Char", "Stream", "Net",    "Audio",
                                       "Usb",   "Keyboard", "Scsi", "Mouse",  "Filter", "Acpi"};

std::vector<std::string> filler_names(std::size_t count) {
  std::vector<std::string> names;
  names.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    names.push_back(std::string(class_words[i % std::size(class_words)]) + "-" + std::to_string(i));
  }
  return names;
}

// The registration order of `n` drivers: the chain's three at N/6, N/2 and 5N/6, the fillers
// elsewhere in their order.
template <class T>
std::vector<T> registration_order(std::size_t n, const std::array<T, 3>& chain, const std::vector<T>& fillers) {
  const std::array<std::size_t, 3> at = {n / 6, n / 2, 5 * n / 6};
  std::vector<T> out;
  out.reserve(n);
  std::size_t next_filler = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t k = 0;
    while (k < at.size() && at[k] != i) ++k;
    out.push_back(k < at.size() ? chain[k] : fillers[next_filler++]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// pdm: set-up and case

// The device: offers its port to LUN#0's top driver and keeps that driver's words.
struct pdm_disk {
  disk_port port;
  words* top = nullptr;

  pdm::device_spec spec() {
    pdm::device_spec s{.name = "disk", .instance = 0};
    s.luns.push_back(
        pdm::lun_spec{.number = 0, .offers = {pdm::offer<disk_port>(port)}, .needs = pdm::interfaces<words>()});
    s.hooks.on_detach = [this](std::uint32_t /*lun*/, pdm::attach_flags /*flags*/) { top = nullptr; };
    return s;
  }
};

bool build_pdm_config(pdm::config_tree& tree) {
  pdm::config_node& root = tree.root();
  if (!root.ensure_child("PDM/Drivers")) return false;
  pdm::result<pdm::config_node*> dev = root.ensure_child("Devices/disk/0");
  if (!dev) return false;
  if (!(*dev)->add_value("Trusted", true) || !(*dev)->add_value("PCIDeviceNo", 3U)) return false;
  pdm::result<pdm::config_node*> dev_config = (*dev)->add_child("Config");
  if (!dev_config || !(*dev_config)->add_value("Ports", 1U)) return false;
  pdm::result<pdm::config_node*> n = (*dev)->add_child("LUN#0");
  if (!n) return false;
  for (std::size_t i = 0; i < levels.size(); ++i) {
    if (!(*n)->add_value("Driver", levels[i].driver)) return false;
    pdm::result<pdm::config_node*> cfg = (*n)->add_child("Config");
    if (!cfg || !(*cfg)->add_value("Size", levels[i].size) || !(*cfg)->add_value("Label", levels[i].label)) {
      return false;
    }
    if (i + 1 < levels.size()) {
      n = (*n)->add_child("AttachedDriver");
      if (!n) return false;
    }
  }
  return true;
}

struct pdm_setup {
  std::vector<std::string> names;
  std::vector<pdm::driver_descriptor> fillers;
  pdm_disk disk;              // outlives the VM: its port is offered to the chain
  std::optional<pdm::vm> vm;  // destroyed first
  const char* problem = nullptr;

  explicit pdm_setup(std::size_t n) : names(filler_names(n - 3)) {
    fillers.assign(names.size(), pdm::descriptor_of<filler_driver>);
    std::vector<const pdm::driver_descriptor*> filler_ptrs;
    for (std::size_t i = 0; i < names.size(); ++i) {
      fillers[i].name = names[i];
      filler_ptrs.push_back(&fillers[i]);
    }
    const std::array<const pdm::driver_descriptor*, 3> chain = {
        &pdm::descriptor_of<top_driver>, &pdm::descriptor_of<mid_driver>, &pdm::descriptor_of<bottom_driver>};
    const std::vector<const pdm::driver_descriptor*> order = registration_order(n, chain, filler_ptrs);
    pdm::registry registry;
    if (!registry.add(std::span<const pdm::driver_descriptor* const>(order)) || registry.size() != n) {
      problem = "pdm::registry rejected the drivers";
      return;
    }
    pdm::config_tree tree;
    if (!build_pdm_config(tree)) {
      problem = "pdm::config_tree rejected the config";
      return;
    }
    vm.emplace(std::move(registry), std::move(tree), pdm::vm_options{.emt = pdm::emt_mode::current_thread});
    if (!vm->add_device(disk.spec())) problem = "pdm::vm rejected the device";
  }

  // Attaches, writes and reads a word through the chain, checks the drivers, detaches.
  [[nodiscard]] const char* check() {
    pdm::result<pdm::driver_ref> top = vm->attach("disk", 0, 0, pdm::attach_flags::not_hot_plug);
    if (!top) return "pdm: the chain does not attach";
    disk.top = top->query<words>();
    std::uint32_t back = 0;
    if (disk.top == nullptr || !disk.top->put(probe_index, probe_value) || !disk.top->get(probe_index, back) ||
        back != probe_value) {
      return "pdm: a word written through the chain does not come back";
    }
    const auto* t = static_cast<const top_driver*>(top->get());
    if (t->label() != levels[0].label || t->port() != &disk.port)
      return "pdm: the top driver's config or port is wrong";
    pdm::result<std::vector<pdm::driver_ref>> chain = vm->chain("disk", 0, 0);
    if (!chain || chain->size() != 3) return "pdm: the chain does not have three drivers";
    for (std::size_t i = 0; i < 3; ++i) {
      if ((*chain)[i].name() != levels[i].driver) return "pdm: the chain's drivers are not Top, Mid, Bottom";
    }
    if (!vm->detach("disk", 0, 0, pdm::attach_flags::not_hot_plug)) return "pdm: the chain does not detach";
    if (disk.top != nullptr) return "pdm: the device was not told of the detach";
    pdm::result<std::vector<pdm::driver_ref>> after = vm->chain("disk", 0, 0);
    if (!after || !after->empty()) return "pdm: drivers are left after the detach";
    return nullptr;
  }
};

void chain_pdm(benchmark::State& state) {
  pdm_setup setup(static_cast<std::size_t>(state.range(0)));
  const char* problem = setup.problem != nullptr ? setup.problem : setup.check();
  if (problem == nullptr) problem = setup.check();  // a second time: nothing is left over from the first
  if (problem != nullptr) {
    state.SkipWithError(problem);
    return;
  }
  pdm::vm& vm = *setup.vm;
  pdm_disk& disk = setup.disk;
  const std::string_view device = "disk";
  for (auto _ : state) {
    pdm::result<pdm::driver_ref> top = vm.attach(device, 0, 0, pdm::attach_flags::not_hot_plug);
    if (!top) {
      state.SkipWithError("pdm: attach failed");
      break;
    }
    disk.top = top->query<words>();  // what the device keeps, as the baseline's device does
    benchmark::DoNotOptimize(disk.top);
    const pdm::status detached = vm.detach(device, 0, 0, pdm::attach_flags::not_hot_plug);
    if (!detached) {
      state.SkipWithError("pdm: detach failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// ---------------------------------------------------------------------------------------------
// Baseline: interfaces and drivers, as 2008 drivers were written (C-style interfaces of function
// pointers inside the instance data, a query function switching on the interface number)

struct seed_port {
  std::uint32_t lun;
};
struct seed_words {
  bool (*put)(seed_words* self, std::uint32_t index, std::uint32_t value);
  bool (*get)(seed_words* self, std::uint32_t index, std::uint32_t* value);
};
struct seed_bytes {
  bool (*write)(seed_bytes* self, std::size_t offset, const void* in, std::size_t size);
  bool (*read)(seed_bytes* self, std::size_t offset, void* out, std::size_t size);
};

// The instance data that holds interface member `member` at `offset`.
template <class Data, class Member>
Data* data_of(Member* member, std::size_t offset) noexcept {
  return reinterpret_cast<Data*>(reinterpret_cast<char*>(member) - offset);
}

constexpr char level_values[] = "Size\0Label\0";  // the names a level's Config may hold

// What every level's constructor reads: the value names checked, Size, and Label as a heap copy.
int seed_read_config(const seed::cfg_node* cfg, std::uint32_t* size, char** label) {
  if (!seed::cfg_are_values_valid(cfg, level_values)) return seed::chain_unknown_config_values;
  int rc = seed::cfg_query_u32(cfg, "Size", size);
  if (rc != seed::cfg_ok) return rc;
  rc = seed::chain_query_string_alloc(cfg, "Label", label);
  return rc;
}

// Attaches below `ins` through the helper table and asks the new driver for its bytes.
int seed_attach_bytes(seed::drv_instance* ins, seed_bytes** out) {
  seed::ibase* below = nullptr;
  const int rc = ins->helpers->attach(ins, &below);
  if (rc != seed::chain_ok) return rc;
  *out = static_cast<seed_bytes*>(below->query(below, seed::iface_id::bytes));
  return *out != nullptr ? seed::chain_ok : seed::chain_missing_interface;
}

struct seed_top {
  seed_words words;
  std::uint32_t size;
  char* label;
  seed_port* port;
  seed_bytes* below;
};

void* seed_top_query(seed::ibase* base, seed::iface_id id) {
  seed::drv_instance* ins = seed::drv_of_base(base);
  switch (id) {
    case seed::iface_id::base:
      return &ins->base;
    case seed::iface_id::words:
      return &seed::drv_data<seed_top>(ins)->words;
    default:
      return nullptr;
  }
}
bool seed_top_put(seed_words* w, std::uint32_t index, std::uint32_t value) {
  seed_top* self = data_of<seed_top>(w, offsetof(seed_top, words));
  return self->below != nullptr && fits(index * 4U, 4, self->size) &&
         self->below->write(self->below, index * 4U, &value, 4);
}
bool seed_top_get(seed_words* w, std::uint32_t index, std::uint32_t* value) {
  seed_top* self = data_of<seed_top>(w, offsetof(seed_top, words));
  return self->below != nullptr && fits(index * 4U, 4, self->size) &&
         self->below->read(self->below, index * 4U, value, 4);
}
int seed_top_construct(void* instance, void* config) {
  auto* ins = static_cast<seed::drv_instance*>(instance);
  auto* self = seed::drv_data<seed_top>(ins);
  ins->base.query = &seed_top_query;
  self->words.put = &seed_top_put;
  self->words.get = &seed_top_get;
  int rc = seed_read_config(static_cast<const seed::cfg_node*>(config), &self->size, &self->label);
  if (rc != seed::chain_ok) return rc;
  self->port = static_cast<seed_port*>(ins->up_base->query(ins->up_base, seed::iface_id::disk_port));
  if (self->port == nullptr) return seed::chain_missing_interface;
  return seed_attach_bytes(ins, &self->below);
}
void seed_top_destruct(void* instance) {
  std::free(seed::drv_data<seed_top>(static_cast<seed::drv_instance*>(instance))->label);  // NOLINT(*-no-malloc)
}
void seed_top_detach(void* instance) {
  seed::drv_data<seed_top>(static_cast<seed::drv_instance*>(instance))->below = nullptr;
}

struct seed_mid {
  seed_bytes bytes;
  std::uint32_t size;
  char* label;
  seed_bytes* below;
};

void* seed_mid_query(seed::ibase* base, seed::iface_id id) {
  seed::drv_instance* ins = seed::drv_of_base(base);
  switch (id) {
    case seed::iface_id::base:
      return &ins->base;
    case seed::iface_id::bytes:
      return &seed::drv_data<seed_mid>(ins)->bytes;
    default:
      return nullptr;
  }
}
bool seed_mid_write(seed_bytes* b, std::size_t offset, const void* in, std::size_t size) {
  seed_mid* self = data_of<seed_mid>(b, offsetof(seed_mid, bytes));
  return self->below != nullptr && fits(offset, size, self->size) && self->below->write(self->below, offset, in, size);
}
bool seed_mid_read(seed_bytes* b, std::size_t offset, void* out, std::size_t size) {
  seed_mid* self = data_of<seed_mid>(b, offsetof(seed_mid, bytes));
  return self->below != nullptr && fits(offset, size, self->size) && self->below->read(self->below, offset, out, size);
}
int seed_mid_construct(void* instance, void* config) {
  auto* ins = static_cast<seed::drv_instance*>(instance);
  auto* self = seed::drv_data<seed_mid>(ins);
  ins->base.query = &seed_mid_query;
  self->bytes.write = &seed_mid_write;
  self->bytes.read = &seed_mid_read;
  const int rc = seed_read_config(static_cast<const seed::cfg_node*>(config), &self->size, &self->label);
  if (rc != seed::chain_ok) return rc;
  return seed_attach_bytes(ins, &self->below);
}
void seed_mid_destruct(void* instance) {
  std::free(seed::drv_data<seed_mid>(static_cast<seed::drv_instance*>(instance))->label);  // NOLINT(*-no-malloc)
}
void seed_mid_detach(void* instance) {
  seed::drv_data<seed_mid>(static_cast<seed::drv_instance*>(instance))->below = nullptr;
}

struct seed_bottom {
  seed_bytes bytes;
  std::uint32_t size;
  char* label;
  unsigned char data[cells];  // zeroed: instances are allocated zeroed
};

void* seed_bottom_query(seed::ibase* base, seed::iface_id id) {
  seed::drv_instance* ins = seed::drv_of_base(base);
  switch (id) {
    case seed::iface_id::base:
      return &ins->base;
    case seed::iface_id::bytes:
      return &seed::drv_data<seed_bottom>(ins)->bytes;
    default:
      return nullptr;
  }
}
bool seed_bottom_write(seed_bytes* b, std::size_t offset, const void* in, std::size_t size) {
  seed_bottom* self = data_of<seed_bottom>(b, offsetof(seed_bottom, bytes));
  if (!fits(offset, size, self->size)) return false;
  std::memcpy(self->data + offset, in, size);
  return true;
}
bool seed_bottom_read(seed_bytes* b, std::size_t offset, void* out, std::size_t size) {
  seed_bottom* self = data_of<seed_bottom>(b, offsetof(seed_bottom, bytes));
  if (!fits(offset, size, self->size)) return false;
  std::memcpy(out, self->data + offset, size);
  return true;
}
int seed_bottom_construct(void* instance, void* config) {
  auto* ins = static_cast<seed::drv_instance*>(instance);
  auto* self = seed::drv_data<seed_bottom>(ins);
  ins->base.query = &seed_bottom_query;
  self->bytes.write = &seed_bottom_write;
  self->bytes.read = &seed_bottom_read;
  const int rc = seed_read_config(static_cast<const seed::cfg_node*>(config), &self->size, &self->label);
  if (self->size > cells) self->size = cells;
  return rc;
}
void seed_bottom_destruct(void* instance) {
  std::free(seed::drv_data<seed_bottom>(static_cast<seed::drv_instance*>(instance))->label);  // NOLINT(*-no-malloc)
}

// The device: its base interface and port for LUN#0, and the top driver's words once attached.
struct seed_disk {
  seed::ibase base;
  seed_port port;
  seed::ibase* drv_base;
  seed_words* top;
};

void* seed_disk_query(seed::ibase* base, seed::iface_id id) {
  seed_disk* self = data_of<seed_disk>(base, offsetof(seed_disk, base));
  switch (id) {
    case seed::iface_id::base:
      return &self->base;
    case seed::iface_id::disk_port:
      return &self->port;
    default:
      return nullptr;
  }
}
// The device's attach callback: the device helper builds the chain, the device takes its words.
int seed_disk_attach(seed::dev_instance* dev, std::uint32_t lun) {
  auto* self = static_cast<seed_disk*>(dev->data);
  const int rc = dev->helpers->driver_attach(dev, lun, &self->base, &self->drv_base, "Disk LUN");
  if (rc != seed::chain_ok) return rc;
  self->top = static_cast<seed_words*>(self->drv_base->query(self->drv_base, seed::iface_id::words));
  return self->top != nullptr ? seed::chain_ok : seed::chain_missing_interface;
}
void seed_disk_detach(seed::dev_instance* dev, std::uint32_t /*lun*/) {
  auto* self = static_cast<seed_disk*>(dev->data);
  self->drv_base = nullptr;
  self->top = nullptr;
}

seed::registration_record make_record(const char* name, std::uint32_t instance_size, int (*construct)(void*, void*),
                                      void (*destruct)(void*), void (*detach)(void*)) {
  seed::registration_record r;
  std::strncpy(r.name, name, sizeof r.name - 1);
  r.description = "A chain driver";
  r.class_mask = 1U << 3;
  r.max_instances = 16;
  r.instance_size = instance_size;
  r.construct = construct;
  r.destruct = destruct;
  r.detach = detach;
  return r;
}

bool build_seed_config(seed::cfg_tree& tree, seed::cfg_node** device_node) {
  seed::cfg_node* pdm_node = nullptr;
  seed::cfg_node* drivers = nullptr;
  seed::cfg_node* devices = nullptr;
  seed::cfg_node* disk = nullptr;
  seed::cfg_node* dev = nullptr;
  seed::cfg_node* dev_config = nullptr;
  seed::cfg_node* n = nullptr;
  if (seed::cfg_insert_node(tree.root(), "PDM", &pdm_node) != seed::cfg_ok ||
      seed::cfg_insert_node(pdm_node, "Drivers", &drivers) != seed::cfg_ok ||
      seed::cfg_insert_node(tree.root(), "Devices", &devices) != seed::cfg_ok ||
      seed::cfg_insert_node(devices, "disk", &disk) != seed::cfg_ok ||
      seed::cfg_insert_node(disk, "0", &dev) != seed::cfg_ok ||
      seed::cfg_insert_integer(dev, "Trusted", 1) != seed::cfg_ok ||
      seed::cfg_insert_integer(dev, "PCIDeviceNo", 3) != seed::cfg_ok ||
      seed::cfg_insert_node(dev, "Config", &dev_config) != seed::cfg_ok ||
      seed::cfg_insert_integer(dev_config, "Ports", 1) != seed::cfg_ok ||
      seed::cfg_insert_node(dev, "LUN#0", &n) != seed::cfg_ok) {
    return false;
  }
  for (std::size_t i = 0; i < levels.size(); ++i) {
    seed::cfg_node* cfg = nullptr;
    if (seed::cfg_insert_string(n, "Driver", levels[i].driver) != seed::cfg_ok ||
        seed::cfg_insert_node(n, "Config", &cfg) != seed::cfg_ok ||
        seed::cfg_insert_integer(cfg, "Size", levels[i].size) != seed::cfg_ok ||
        seed::cfg_insert_string(cfg, "Label", levels[i].label) != seed::cfg_ok) {
      return false;
    }
    if (i + 1 < levels.size() && seed::cfg_insert_node(n, "AttachedDriver", &n) != seed::cfg_ok) return false;
  }
  *device_node = dev;
  return true;
}

struct seed_setup {
  std::vector<std::string> names;
  std::vector<seed::registration_record> records;  // fillers, then Top, Mid, Bottom; never reallocated
  seed::cfg_tree tree;
  seed::dev_registration disk_reg;
  seed_disk disk{};
  seed::machine vm;  // destroyed first
  seed::dev_instance* disk_instance = nullptr;
  const char* problem = nullptr;

  explicit seed_setup(std::size_t n) : names(filler_names(n - 3)) {
    records.reserve(n);
    for (const std::string& name : names) {
      records.push_back(make_record(
          name.c_str(), sizeof(filler_driver), [](void*, void*) { return 0; }, [](void*) {}, nullptr));
    }
    records.push_back(make_record("Top", sizeof(seed_top), &seed_top_construct, &seed_top_destruct, &seed_top_detach));
    records.push_back(make_record("Mid", sizeof(seed_mid), &seed_mid_construct, &seed_mid_destruct, &seed_mid_detach));
    records.push_back(
        make_record("Bottom", sizeof(seed_bottom), &seed_bottom_construct, &seed_bottom_destruct, nullptr));
    std::vector<const seed::registration_record*> filler_ptrs;
    for (std::size_t i = 0; i < names.size(); ++i) filler_ptrs.push_back(&records[i]);
    const std::array<const seed::registration_record*, 3> chain = {&records[n - 3], &records[n - 2], &records[n - 1]};
    for (const seed::registration_record* r : registration_order(n, chain, filler_ptrs)) {
      if (vm.drivers.add(r) != seed::seed_ok) {
        problem = "the seed registry rejected the drivers";
        return;
      }
    }
    seed::cfg_node* device_node = nullptr;
    if (!build_seed_config(tree, &device_node)) {
      problem = "the seed config tree rejected the config";
      return;
    }
    std::strncpy(disk_reg.name, "disk", sizeof disk_reg.name - 1);
    disk_reg.instance_size = sizeof(seed_disk);
    disk_reg.attach = &seed_disk_attach;
    disk_reg.detach = &seed_disk_detach;
    disk.base.query = &seed_disk_query;
    if (seed::chain_add_device(&vm, &disk_reg, 0, device_node, &disk, &disk_instance) != seed::chain_ok) {
      problem = "the seed machine rejected the device";
    }
  }

  // The device constructor's attach (which makes the LUN), a word written and read back, the
  // drivers checked, then a run-time detach.
  [[nodiscard]] const char* check(bool first) {
    const int rc = first ? seed_disk_attach(disk_instance, 0) : seed::chain_device_attach(&vm, disk_reg.name, 0, 0);
    if (rc != seed::chain_ok) return "baseline: the chain does not attach";
    std::uint32_t back = 0;
    if (disk.top == nullptr || !disk.top->put(disk.top, probe_index, probe_value) ||
        !disk.top->get(disk.top, probe_index, &back) || back != probe_value) {
      return "baseline: a word written through the chain does not come back";
    }
    const seed::lun_entry* lun = disk_instance->luns;
    const seed::drv_instance* d = lun != nullptr ? lun->top : nullptr;
    for (std::size_t i = 0; i < 3; ++i, d = d->down) {
      if (d == nullptr || std::strcmp(d->reg->name, levels[i].driver) != 0) {
        return "baseline: the chain's drivers are not Top, Mid, Bottom";
      }
    }
    if (d != nullptr || lun->bottom == nullptr || std::strcmp(lun->bottom->reg->name, "Bottom") != 0) {
      return "baseline: the chain does not end at Bottom";
    }
    const auto* top = seed::drv_data<const seed_top>(lun->top);
    if (std::strcmp(top->label, levels[0].label) != 0 || top->port != &disk.port) {
      return "baseline: the top driver's config or port is wrong";
    }
    if (seed::chain_device_detach(&vm, disk_reg.name, 0, 0) != seed::chain_ok) {
      return "baseline: the chain does not detach";
    }
    if (disk.top != nullptr || lun->top != nullptr || lun->bottom != nullptr) {
      return "baseline: drivers are left after the detach";
    }
    return nullptr;
  }
};

void chain_baseline(benchmark::State& state) {
  seed_setup setup(static_cast<std::size_t>(state.range(0)));
  const char* problem = setup.problem != nullptr ? setup.problem : setup.check(true);
  if (problem == nullptr) problem = setup.check(false);
  if (problem != nullptr) {
    state.SkipWithError(problem);
    return;
  }
  seed::machine* vm = &setup.vm;
  seed_disk& disk = setup.disk;
  const char* device = "disk";
  for (auto _ : state) {
    if (seed::chain_device_attach(vm, device, 0, 0) != seed::chain_ok) {
      state.SkipWithError("baseline: attach failed");
      break;
    }
    benchmark::DoNotOptimize(disk.top);
    if (seed::chain_device_detach(vm, device, 0, 0) != seed::chain_ok) {
      state.SkipWithError("baseline: detach failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// ---------------------------------------------------------------------------------------------
// The minimum: what any manager of a 3-driver chain must do, and nothing else

struct floor_object {
  floor_object* up;
  floor_object* down;
};

void chain_minimum(benchmark::State& state) {
  constexpr std::align_val_t align{16};
  {
    // The links are right (the loop below does the same).
    void* a = ::operator new(sizeof(floor_object), align);
    void* b = ::operator new(sizeof(floor_object), align);
    auto* top = ::new (a) floor_object{nullptr, nullptr};
    auto* bottom = ::new (b) floor_object{top, nullptr};
    top->down = bottom;
    const bool linked = top->down == bottom && bottom->up == top;
    bottom->~floor_object();
    ::operator delete(b, align);
    top->~floor_object();
    ::operator delete(a, align);
    if (!linked) {
      state.SkipWithError("minimum: the objects are not linked");
      return;
    }
  }
  for (auto _ : state) {
    // Each object escapes (DoNotOptimize) as soon as it exists, so no allocation can be elided.
    auto* top = ::new (::operator new(sizeof(floor_object), align)) floor_object{nullptr, nullptr};
    benchmark::DoNotOptimize(top);
    auto* mid = ::new (::operator new(sizeof(floor_object), align)) floor_object{top, nullptr};
    benchmark::DoNotOptimize(mid);
    top->down = mid;
    auto* bottom = ::new (::operator new(sizeof(floor_object), align)) floor_object{mid, nullptr};
    benchmark::DoNotOptimize(bottom);
    mid->down = bottom;
    benchmark::ClobberMemory();
    // Bottom-most first, as both managers do.
    mid->down = nullptr;
    bottom->~floor_object();
    ::operator delete(bottom, align);
    top->down = nullptr;
    mid->~floor_object();
    ::operator delete(mid, align);
    top->~floor_object();
    ::operator delete(top, align);
  }
  state.SetItemsProcessed(state.iterations());
}

void register_all() {
  for (const auto& [name, fn] :
       {std::pair{"chain_attach_detach/pdm", &chain_pdm}, std::pair{"chain_attach_detach/baseline", &chain_baseline}}) {
    benchmark::RegisterBenchmark(name, fn)->Arg(4)->Arg(64);
  }
  benchmark::RegisterBenchmark("chain_attach_detach/minimum", &chain_minimum);
}

}  // namespace bench

int main(int argc, char** argv) {
  bench::register_all();
  return pdm_bench::run_benchmarks(argc, argv);
}
