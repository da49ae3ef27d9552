// tests/services/service_rig.hpp - a VM with a manual clock and a scripted driver, for the tests
// of what a driver's context offers: timers, queues, pollers, threads, errors, statistics.
//
// The driver "Scripted" runs the test's script in its constructor and destructor, so each test
// says what the driver makes and when. "Below" is the same, attached below Scripted when the
// config asks for it. The rig's VM runs on the test's thread (emt_mode::current_thread) with a
// manual clock: time moves only when the test moves it, and vm.process() runs what is due.
#pragma once

#include <doctest/doctest.h>

#include <pdm/pdm.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace doctest {
template <class T>
struct StringMaker<pdm::result<T>> {
  static String convert(const pdm::result<T>& r) {
    return String(r ? "ok" : ("error: " + r.error_value().message()).c_str());
  }
};
template <>
struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& v) {
    std::string out = "{";
    for (const std::string& s : v) out += (out.size() > 1 ? ", \"" : "\"") + s + "\"";
    return String((out + "}").c_str());
  }
};
}  // namespace doctest

namespace svc_test {

/// What the device needs from the top driver (nothing but presence).
struct marker {
  static constexpr std::string_view interface_id = "svc.marker/1";
};

template <class Self>
struct script {
  std::function<void(Self&)> ctor;
  std::function<void(Self&)> dtor;
};

/// A driver whose constructor and destructor run the test's script; it keeps the handles a
/// test makes it create.
template <int Which>
class scripted final : public marker {
 public:
  static constexpr pdm::driver_traits traits{.name = Which == 0 ? "Scripted" : "Below",
                                             .description = "Runs the test's script",
                                             .class_mask = pdm::driver_class::filter};
  using provides = pdm::interface_list<marker>;

  explicit scripted(pdm::driver_context& c) : ctx(c) {
    if (the_script().ctor) the_script().ctor(*this);
  }
  ~scripted() {
    if (the_script().dtor) the_script().dtor(*this);
  }
  scripted(const scripted&) = delete;
  scripted& operator=(const scripted&) = delete;
  scripted(scripted&&) = delete;
  scripted& operator=(scripted&&) = delete;

  static script<scripted>& the_script() {
    static script<scripted> s;
    return s;
  }
  void on_detach_below(pdm::attach_flags /*flags*/) {}

  pdm::driver_context& ctx;
  std::vector<pdm::timer> timers;
  std::vector<pdm::poller> pollers;
  std::vector<pdm::driver_thread> threads;
  std::shared_ptr<void> extra;  // whatever else a test needs the driver to keep
};

using top_driver = scripted<0>;
using below_driver = scripted<1>;

/// The rig: a VM on this thread with a manual clock, device "dev" #0 with LUNs 0 and 1.
struct rig {
  explicit rig(std::string_view config = R"({"Devices": {"dev": {"0": {
        "LUN#0": {"Driver": "Scripted"},
        "LUN#1": {"Driver": "Scripted", "AttachedDriver": {"Driver": "Below"}}}}}})",
               pdm::vm_options extra = {})
      : vm(make_registry(), load(config), options(std::move(extra))) {
    pdm::device_spec d{.name = "dev", .instance = 0};
    for (std::uint32_t n : {0U, 1U}) d.luns.push_back(pdm::lun_spec{.number = n, .needs = pdm::interfaces<marker>()});
    d.hooks.on_attach = [](std::uint32_t, pdm::attach_flags) { return pdm::ok(); };
    d.hooks.on_detach = [](std::uint32_t, pdm::attach_flags) {};
    REQUIRE(vm.add_device(std::move(d)));
  }
  rig(const rig&) = delete;
  rig& operator=(const rig&) = delete;
  rig(rig&&) = delete;
  rig& operator=(rig&&) = delete;
  ~rig() = default;

  static pdm::registry make_registry() {
    pdm::registry r;
    if (!r.add(pdm::driver_list<top_driver, below_driver>{}))
      throw std::logic_error("the scripted drivers do not register");
    return r;
  }
  static pdm::config_tree load(std::string_view json) {
    pdm::result<pdm::config_tree> t = pdm::load_json(json);
    REQUIRE_MESSAGE(t.has_value(), (t ? std::string() : t.error_value().message()));
    return std::move(t).value();
  }
  pdm::vm_options options(pdm::vm_options o) {
    o.emt = pdm::emt_mode::current_thread;
    o.clock = &clock;
    o.report = [this](const pdm::vm_report& r) {
      const std::lock_guard<std::mutex> hold(reports_lock);
      reports.push_back(r);
    };
    return o;
  }

  /// Attaches LUN `lun` and returns its top driver.
  top_driver& attach(std::uint32_t lun = 0) {
    pdm::result<pdm::driver_ref> r = vm.attach("dev", 0, lun);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error_value().message()));
    return *static_cast<top_driver*>(r->get());
  }
  /// Moves the clock by `d` and lets the EMT run what is due.
  std::size_t advance(std::chrono::nanoseconds d) {
    REQUIRE(clock.advance(d));
    return vm.process();
  }
  std::vector<pdm::vm_report> take_reports() {
    const std::lock_guard<std::mutex> hold(reports_lock);
    return std::exchange(reports, {});
  }

  // Clears the scripts when the rig goes, after the VM (and its drivers' destructors).
  struct script_reset {
    script_reset() = default;
    script_reset(const script_reset&) = delete;
    script_reset& operator=(const script_reset&) = delete;
    script_reset(script_reset&&) = delete;
    script_reset& operator=(script_reset&&) = delete;
    ~script_reset() {
      top_driver::the_script() = {};
      below_driver::the_script() = {};
    }
  };

  script_reset reset;       // first: destroyed last
  pdm::manual_clock clock;  // before vm: it must outlive it
  std::mutex reports_lock;
  std::vector<pdm::vm_report> reports;
  pdm::vm vm;
};

}  // namespace svc_test
