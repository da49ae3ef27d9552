// Breaks pdm::rule::driver_hooks_have_the_documented_signatures: probe is not static (a member function of the
// instance).
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver hook has the wrong signature; expected void on_power_on\(\), on_reset\(\), on_suspend\(\), on_resume\(\), on_power_off\(\), void on_detach_below\(pdm::attach_flags\), pdm::status on_attach_below\(pdm::attach_flags\) and static int probe\(std::span<const std::byte>, std::string_view\)
// EXPECT-GCC: pdm::rule::driver_hooks_have_the_documented_signatures<driver_with_member_probe>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_hooks_have_the_documented_signatures<driver_with_member_probe>' "pdm: a driver hook has the wrong signature; expected void on_power_on\(\), on_reset\(\), on_suspend\(\), on_resume\(\), on_power_off\(\), void on_detach_below\(pdm::attach_flags\), pdm::status on_attach_below\(pdm::attach_flags\) and static int probe\(std::span<const std::byte>, std::string_view\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct driver_with_member_probe {
  static constexpr pdm::driver_traits traits{
      .name = "MemberProbe", .description = "Probe is not static", .class_mask = pdm::driver_class::block};
  explicit driver_with_member_probe(pdm::driver_context& /*ctx*/) {}
  int probe(std::span<const std::byte> /*head*/, std::string_view /*file*/) { return 0; }
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_member_probe>::size;
