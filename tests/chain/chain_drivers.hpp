// tests/chain/chain_drivers.hpp - small but real drivers for the chain manager's tests.
//
// A word store: `Top` offers 32-bit words to the device over a byte medium, `Cache` and `Tracer`
// pass bytes through (Cache keeps a copy, Tracer counts), `Mem` stores them. Every constructor,
// destructor and hook writes a line to the journal, so tests can check the order of calls, and
// every driver's config can make its constructor fail (by ctx.fail or by exception, before or
// after it attached below). `Plain` has no detach hook; `Solo` allows one instance; `ImgA` and
// `ImgB` probe image files; `Slow` finishes its suspend and power-off notifications later.
#pragma once

#include <doctest/doctest.h>

#include <pdm/pdm.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Failed checks print journals and errors, not {?}.
namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& v) {
    std::string out = "{";
    for (const std::string& s : v) out += (out.size() > 1 ? ", \"" : "\"") + s + "\"";
    return String((out + "}").c_str());
  }
};
template <class T>
struct StringMaker<pdm::result<T>> {
  static String convert(const pdm::result<T>& r) {
    return String(r ? "ok" : ("error: " + r.error_value().message()).c_str());
  }
};
}  // namespace doctest

namespace chain_test {

/// A config tree from JSON text; fails the test case if the text does not load.
inline pdm::config_tree config_of(std::string_view json) {
  pdm::result<pdm::config_tree> t = pdm::load_json(json);
  REQUIRE_MESSAGE(t.has_value(), (t ? std::string() : t.error_value().message()));
  return std::move(t).value();
}

/// VM options for tests: the test's thread is the EMT.
inline pdm::vm_options on_this_thread() {
  pdm::vm_options o;
  o.emt = pdm::emt_mode::current_thread;
  return o;
}

/// A string usable as a template argument (for driver names in templates).
template <std::size_t N>
struct fixed_name {
  char chars[N]{};
  constexpr fixed_name(const char (&s)[N]) noexcept {  // NOLINT(google-explicit-constructor)
    for (std::size_t i = 0; i < N; ++i) chars[i] = s[i];
  }
  [[nodiscard]] constexpr std::string_view view() const noexcept { return {chars, N - 1}; }
};

// --- The journal ---------------------------------------------------------------------------------

inline std::vector<std::string>& journal() {
  static std::vector<std::string> lines;
  return lines;
}
inline void note(std::string line) { journal().push_back(std::move(line)); }
inline std::string who(const pdm::driver_context& ctx) {
  return std::string(ctx.driver_name()) + "#" + std::to_string(ctx.instance());
}
/// Journal lines and then clears the journal.
inline std::vector<std::string> take_journal() { return std::exchange(journal(), {}); }

// --- Interfaces ----------------------------------------------------------------------------------

/// What the test device offers the driver at the top of a chain.
struct port {
  static constexpr std::string_view interface_id = "test.port/1";
  int notices = 0;
};

/// 32-bit words, what the device needs from the top driver.
struct words {
  static constexpr std::string_view interface_id = "test.words/1";
  virtual bool put(std::size_t index, std::uint32_t value) = 0;
  virtual bool get(std::size_t index, std::uint32_t& value) = 0;

 protected:
  ~words() = default;
};

/// Bytes, what every layer below the top offers.
struct bytes {
  static constexpr std::string_view interface_id = "test.bytes/1";
  virtual bool write(std::size_t offset, const void* in, std::size_t size) = 0;
  virtual bool read(std::size_t offset, void* out, std::size_t size) = 0;
  [[nodiscard]] virtual std::size_t size() const = 0;

 protected:
  ~bytes() = default;
};

/// An interface no driver offers.
struct nothing {
  static constexpr std::string_view interface_id = "test.nothing/1";
};

// --- Config shared by every test driver ----------------------------------------------------------

struct test_config {
  /// How the constructor fails: "", "error", "throw", "error_after_attach", "throw_after_attach".
  std::string fail;
  /// Bytes a Mem stores.
  std::uint32_t size = 64;
  /// Attach below in the constructor when something is configured there.
  bool attach = true;
};

}  // namespace chain_test

BOOST_HANA_ADAPT_STRUCT(chain_test::test_config, fail, size, attach);

namespace chain_test {}  // namespace chain_test

namespace chain_test {

// Shared constructor behaviour: journal, fail before attach, attach, fail after attach.
inline bool fail_now(pdm::driver_context& ctx, const std::string& how, bool after_attach) {
  const std::string_view want = after_attach ? std::string_view(how).substr(0, how.find('_')) : how;
  if (after_attach != (how.find("_after_attach") != std::string::npos)) return false;
  if (want == "error") {
    ctx.fail(pdm::error(pdm::errc::invalid_value, "configured to fail"));
    return true;
  }
  if (want == "throw") throw std::runtime_error("configured to throw");
  return false;
}

template <class Below>
Below* attach_below(pdm::driver_context& ctx, const test_config& c) {
  if (!c.attach || ctx.config() == nullptr) return nullptr;
  pdm::result<pdm::driver_ref> below = ctx.attach();
  if (!below) {
    if (below.error_value() == pdm::errc::no_attached_driver) return nullptr;
    ctx.fail(below.error_value());
    return nullptr;
  }
  return below->query<Below>();
}

// Journals the standard hooks; mixed into every driver.
template <class Self>
struct journaled {
  void on_power_on() { note("power_on " + who(self().ctx_)); }
  void on_reset() { note("reset " + who(self().ctx_)); }
  void on_suspend() { note("suspend " + who(self().ctx_)); }
  void on_resume() { note("resume " + who(self().ctx_)); }
  void on_power_off() { note("power_off " + who(self().ctx_)); }

 private:
  Self& self() { return static_cast<Self&>(*this); }
};

// --- Drivers -------------------------------------------------------------------------------------

/// The top: words over bytes.
class top final : public words, public journaled<top> {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Top", .description = "Words over a byte medium", .class_mask = pdm::driver_class::block};
  using provides = pdm::interface_list<words>;
  using needs_below = pdm::interface_list<bytes>;
  using needs_above = pdm::interface_list<port>;
  using config_type = test_config;

  top(pdm::driver_context& ctx, const test_config& c) : ctx_(ctx) {
    note("ctor " + who(ctx));
    if (fail_now(ctx, c.fail, false)) return;
    below_ = attach_below<bytes>(ctx, c);
    if (fail_now(ctx, c.fail, true)) return;
    if (port* p = ctx.above().query<port>()) ++p->notices;
  }
  ~top() { note("dtor " + who(ctx_)); }
  top(const top&) = delete;
  top& operator=(const top&) = delete;
  top(top&&) = delete;
  top& operator=(top&&) = delete;

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
  pdm::status on_attach_below(pdm::attach_flags /*flags*/) {
    note("attach_below " + who(ctx_));
    pdm::result<pdm::driver_ref> below = ctx_.attach();
    if (!below) return below.error_value();
    below_ = below->query<bytes>();
    return pdm::ok();
  }

  pdm::driver_context& ctx_;

 private:
  bytes* below_ = nullptr;
};

/// A pass-through layer that counts the traffic; no detach hook unless `Hooked`.
template <bool Hooked, fixed_name Name>
class pass_through final : public bytes, public journaled<pass_through<Hooked, Name>> {
 public:
  static constexpr pdm::driver_traits traits{
      .name = Name.view(), .description = "Counts byte traffic", .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<bytes>;
  using needs_below = pdm::interface_list<bytes>;
  using config_type = test_config;

  pass_through(pdm::driver_context& ctx, const test_config& c) : ctx_(ctx) {
    note("ctor " + who(ctx));
    if (fail_now(ctx, c.fail, false)) return;
    below_ = attach_below<bytes>(ctx, c);
    if (fail_now(ctx, c.fail, true)) return;
  }
  ~pass_through() { note("dtor " + who(ctx_)); }
  pass_through(const pass_through&) = delete;
  pass_through& operator=(const pass_through&) = delete;
  pass_through(pass_through&&) = delete;
  pass_through& operator=(pass_through&&) = delete;

  bool write(std::size_t offset, const void* in, std::size_t size) override {
    ++writes;
    return below_ != nullptr && below_->write(offset, in, size);
  }
  bool read(std::size_t offset, void* out, std::size_t size) override {
    ++reads;
    return below_ != nullptr && below_->read(offset, out, size);
  }
  [[nodiscard]] std::size_t size() const override { return below_ != nullptr ? below_->size() : 0; }
  void on_detach_below(pdm::attach_flags flags) requires Hooked {
    note(std::string("detached below ") + who(ctx_) +
         (pdm::has_flag(flags, pdm::attach_flags::not_hot_plug) ? " (not hot plug)" : ""));
    below_ = nullptr;
  }
  pdm::status on_attach_below(pdm::attach_flags /*flags*/) requires Hooked {
    pdm::result<pdm::driver_ref> below = ctx_.attach();
    if (!below) return below.error_value();
    below_ = below->query<bytes>();
    return pdm::ok();
  }

  pdm::driver_context& ctx_;
  int reads = 0;
  int writes = 0;

 private:
  bytes* below_ = nullptr;
};

using cache = pass_through<true, "Cache">;
using tracer = pass_through<true, "Tracer">;
using plain = pass_through<false, "Plain">;

/// The bottom: bytes in memory.
class mem final : public bytes, public journaled<mem> {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Mem", .description = "Bytes in memory", .class_mask = pdm::driver_class::media, .max_instances = 8};
  using provides = pdm::interface_list<bytes>;
  using config_type = test_config;

  mem(pdm::driver_context& ctx, const test_config& c) : ctx_(ctx), data_(c.size) {
    note("ctor " + who(ctx));
    fail_now(ctx, c.fail, false);
  }
  ~mem() { note("dtor " + who(ctx_)); }
  mem(const mem&) = delete;
  mem& operator=(const mem&) = delete;
  mem(mem&&) = delete;
  mem& operator=(mem&&) = delete;

  bool write(std::size_t offset, const void* in, std::size_t size) override {
    if (offset > data_.size() || size > data_.size() - offset) return false;
    std::memcpy(data_.data() + offset, in, size);
    return true;
  }
  bool read(std::size_t offset, void* out, std::size_t size) override {
    if (offset > data_.size() || size > data_.size() - offset) return false;
    std::memcpy(out, data_.data() + offset, size);
    return true;
  }
  [[nodiscard]] std::size_t size() const override { return data_.size(); }

  pdm::driver_context& ctx_;

 private:
  std::vector<std::byte> data_;
};

/// A bottom driver of which one instance may live at a time.
class solo final : public bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Solo", .description = "One at a time", .class_mask = pdm::driver_class::media, .max_instances = 1};
  using provides = pdm::interface_list<bytes>;
  explicit solo(pdm::driver_context& ctx) : ctx_(ctx) { note("ctor " + who(ctx)); }
  ~solo() { note("dtor " + who(ctx_)); }
  solo(const solo&) = delete;
  solo& operator=(const solo&) = delete;
  solo(solo&&) = delete;
  solo& operator=(solo&&) = delete;
  bool write(std::size_t /*offset*/, const void* /*in*/, std::size_t /*size*/) override { return false; }
  bool read(std::size_t /*offset*/, void* /*out*/, std::size_t /*size*/) override { return false; }
  [[nodiscard]] std::size_t size() const override { return 0; }

 private:
  pdm::driver_context& ctx_;
};

/// A driver that needs an interface nobody offers from below.
class needy final : public bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Needy", .description = "Needs what nobody has", .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<bytes>;
  using needs_above = pdm::interface_list<nothing>;
  explicit needy(pdm::driver_context& ctx) { note("ctor " + who(ctx)); }
  bool write(std::size_t /*offset*/, const void* /*in*/, std::size_t /*size*/) override { return false; }
  bool read(std::size_t /*offset*/, void* /*out*/, std::size_t /*size*/) override { return false; }
  [[nodiscard]] std::size_t size() const override { return 0; }
};

/// Image drivers whose probes recognise files by their first bytes.
template <fixed_name Name, fixed_name Magic, int Score>
class image final : public bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = Name.view(), .description = "An image file format", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<bytes>;
  explicit image(pdm::driver_context& ctx)
      : path_(ctx.config() != nullptr ? ctx.config()->get_or<std::string>("Path", "").value_or("") : "") {
    note("ctor " + who(ctx) + " " + path_);
  }
  static int probe(std::span<const std::byte> head, std::string_view /*file*/) {
    const std::string_view magic = Magic.view();
    if (head.size() < magic.size()) return 0;
    return std::memcmp(head.data(), magic.data(), magic.size()) == 0 ? Score : 0;
  }
  bool write(std::size_t /*offset*/, const void* /*in*/, std::size_t /*size*/) override { return false; }
  bool read(std::size_t /*offset*/, void* /*out*/, std::size_t /*size*/) override { return false; }
  [[nodiscard]] std::size_t size() const override { return 0; }

 private:
  std::string path_;
};
using img_a = image<"ImgA", "IMGA", 80>;
using img_b = image<"ImgB", "IMG", 50>;

/// Finishes suspend and power off later: the completion is posted to the EMT.
class slow final : public bytes {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Slow", .description = "Takes its time", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<bytes>;
  explicit slow(pdm::driver_context& ctx) : ctx_(ctx) {}
  void on_suspend() { later("suspend"); }
  void on_power_off() { later("power_off"); }
  void on_resume() { note("resume " + who(ctx_)); }
  bool write(std::size_t /*offset*/, const void* /*in*/, std::size_t /*size*/) override { return false; }
  bool read(std::size_t /*offset*/, void* /*out*/, std::size_t /*size*/) override { return false; }
  [[nodiscard]] std::size_t size() const override { return 0; }

 private:
  void later(const char* what) {
    note(std::string(what) + " started " + who(ctx_));
    pdm::result<pdm::async_notification> n = ctx_.notify_later();
    if (!n) {
      note("notify_later failed");
      return;
    }
    auto handle = std::make_shared<pdm::async_notification>(std::move(*n));
    std::string line = std::string(what) + " done " + who(ctx_);
    (void)ctx_.post([handle, line] {
      note(line);
      handle->complete();
    });
  }
  pdm::driver_context& ctx_;
};

/// A memory resource for instance blocks that counts what is live and checks, on every free,
/// that the block was poisoned (when `expect_poison`).
class counting_memory final : public std::pmr::memory_resource {
 public:
  bool expect_poison = true;
  std::size_t live = 0;         // blocks allocated and not freed
  std::size_t allocations = 0;  // blocks ever allocated
  std::size_t unpoisoned = 0;   // blocks freed without the poison pattern

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    ++live;
    ++allocations;
    return std::pmr::new_delete_resource()->allocate(bytes, alignment);
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
    --live;
    if (expect_poison) {
      const auto* b = static_cast<const unsigned char*>(p);
      for (std::size_t i = 0; i < bytes; ++i) {
        if (b[i] != static_cast<unsigned char>(pdm::poison_pattern >> (8 * (i % 4)))) {
          ++unpoisoned;
          break;
        }
      }
    }
    std::pmr::new_delete_resource()->deallocate(p, bytes, alignment);
  }
  [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }
};

/// Every test driver.
using drivers = pdm::driver_list<top, cache, tracer, plain, mem, solo, needy, img_a, img_b, slow>;

/// A registry with every test driver.
inline pdm::registry make_registry() {
  pdm::registry r;
  if (!r.add(drivers{})) throw std::logic_error("the test drivers do not register");
  return r;
}

/// The test device: `disk` with LUNs 0 and 1, offering a port and needing words.
struct disk_device {
  port the_port;
  bool detachable = true;
  bool told_first = false;
  pdm::device_spec spec(std::uint32_t instance = 0) {
    pdm::device_spec s{.name = "disk", .instance = instance};
    for (std::uint32_t n : {0U, 1U}) {
      s.luns.push_back(
          pdm::lun_spec{.number = n, .offers = {pdm::offer<port>(the_port)}, .needs = pdm::interfaces<words>()});
    }
    s.hooks.on_attach = [](std::uint32_t lun, pdm::attach_flags) {
      note("device attach LUN#" + std::to_string(lun));
      return pdm::ok();
    };
    if (detachable) {
      s.hooks.on_detach = [](std::uint32_t lun, pdm::attach_flags) {
        note("device detach LUN#" + std::to_string(lun));
      };
    }
    s.hooks.on_power_on = [] { note("power_on disk"); };
    s.hooks.on_reset = [] { note("reset disk"); };
    s.hooks.on_suspend = [] { note("suspend disk"); };
    s.hooks.on_resume = [] { note("resume disk"); };
    s.hooks.on_power_off = [] { note("power_off disk"); };
    return s;
  }
};

}  // namespace chain_test
