// Instantiates every public header's templates for clang-tidy's `tidy` test (see CMakeLists.txt):
// the headers, not this file, are what the test holds to .clang-tidy.
#include <pdm/pdm.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct sample_interface {
  static constexpr std::string_view interface_id = "tidy.sample/1";
  virtual int value() = 0;

 protected:
  ~sample_interface() = default;
};

class sample_driver final : public sample_interface {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Sample", .description = "tidy sample", .class_mask = pdm::driver_class::filter, .max_instances = 1};
  using provides = pdm::interface_list<sample_interface>;
  // The services' templates instantiated: a queue, a timer, a statistic.
  explicit sample_driver(pdm::driver_context& ctx) {
    pdm::result<pdm::queue<std::uint64_t>> q =
        ctx.create_queue<std::uint64_t>(4, std::chrono::milliseconds(1), [](std::uint64_t&) { return true; });
    if (q) (void)q->insert(1);
    if (pdm::result<pdm::timer> t = ctx.create_timer(pdm::clock_kind::real, [] {}); t)
      (void)t->arm_in(std::chrono::milliseconds(1));
    if (pdm::result<pdm::stat_counter*> c = ctx.add_counter("Made", pdm::stat_unit::count); c) (*c)->add();
    pdm::state_unit_hooks hooks;
    hooks.save = [this](pdm::state_writer& out) {
      out.write(state_.count);
      return pdm::ok();
    };
    hooks.load = [this](pdm::state_reader& in) { return in.read(state_.count); };
    if (pdm::result<pdm::state_unit> u = ctx.register_state_unit("extra", 0, 1, std::move(hooks)); u && !u->valid())
      state_.count = 1;
  }
  int value() override { return 1; }
  // Saved state: the automatic unit's templates (save, stage, finish) and a hand-written unit.
  struct item {
    std::uint16_t id = 0;
    bool busy = false;
  };
  struct saved_state {
    std::uint32_t count = 0;
    std::string name;
    std::vector<item> items;
  };
  static constexpr std::uint32_t saved_state_version = 2;
  saved_state& saved() { return state_; }
  pdm::status load_older_state(pdm::state_reader& in, saved_state& out) const {
    out.name = state_.name;  // version 1 had no name: keep the current one
    return in.read(out.count);
  }
  void on_power_on() {}
  void on_detach_below(pdm::attach_flags /*flags*/) {}

 private:
  saved_state state_;
};

using drivers = pdm::driver_list<sample_driver>;
using chain =
    pdm::static_chain<pdm::device_port<pdm::interface_list<>, pdm::interface_list<sample_interface>>, sample_driver>;
static_assert(chain::valid);

enum class sample_mode { fast, safe };
BOOST_DESCRIBE_ENUM(sample_mode, fast, safe)

struct sample_inner {
  std::string name;
};
struct sample_config {
  std::uint32_t size = 1;
  std::optional<bool> flag;
  sample_mode mode = sample_mode::safe;
  sample_inner inner;
  std::vector<sample_inner> list;
  std::map<std::string, std::int64_t> map;
  pdm::config_bytes key;
  static constexpr pdm::config_field config_fields[] = {{.member = "size", .required = true, .min = 1, .max = 9}};
};

}  // namespace

BOOST_HANA_ADAPT_STRUCT(sample_inner, name);
BOOST_HANA_ADAPT_STRUCT(sample_config, size, flag, mode, inner, list, map, key);

int main() {
  pdm::registry registry;
  if (!registry.add(drivers{})) return 1;
  const pdm::driver_descriptor* d = registry.find("Sample");
  if (d == nullptr || !pdm::validate_descriptor(*d)) return 2;
  const pdm::result<int> r = pdm::errc::out_of_range;
  pdm::result<pdm::config_tree> tree = pdm::load_json(R"({"A": {"B": 1, "K": {"$bytes": "AA=="}}})");
  if (!tree || !pdm::apply_override(tree->root(), "A/C=x")) return 4;
  if (tree->root().get_or<int>("A/B", 0).value_or(0) != 1 || pdm::save_json(tree->root()).empty()) return 5;
  if (!tree->root().merge(tree->root().clone().root())) return 6;
  if (pdm::bind<sample_config>(tree->root()).has_value()) return 7;
  if (pdm::config_schema<sample_config>().size() != 9) return 8;
  if (pdm::config_reference(drivers{}, "Reference").empty()) return 9;
  (void)pdm::as_hana(drivers{});
  // The chain manager's templates (call, on_emt_call) instantiated.
  pdm::vm_options options;
  options.emt = pdm::emt_mode::current_thread;
  pdm::vm vm(std::move(registry), std::move(*tree), options);
  if (!vm.add_device(pdm::device_spec{.name = "dev"})) return 10;
  if (!vm.attach("dev", 0, 0).has_value() && vm.call([] { return 1; }).value_or(0) != 1) return 11;
  if (!vm.power_on() || !vm.dump()) return 12;
  (void)vm.process();
  if (vm.statistics().to_json().empty()) return 13;
  std::vector<std::byte> image;
  if (!vm.suspend() || !vm.save_state(image) || !vm.load_state(image)) return 14;
  return r.has_value() ? 3 : 0;
}
