// Breaks pdm::rule::driver_is_constructible_from_its_context_and_config: it has a config_type the constructor ignores.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver needs a constructor D\(pdm::driver_context&\), or D\(pdm::driver_context&, const config_type&\) when it declares a config_type
// EXPECT-GCC: pdm::rule::driver_is_constructible_from_its_context_and_config<driver_ignoring_its_config>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_is_constructible_from_its_context_and_config<driver_ignoring_its_config>' "pdm: a driver needs a constructor D\(pdm::driver_context&\), or D\(pdm::driver_context&, const config_type&\) when it declares a config_type"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/config/binding.hpp>
#include <pdm/driver/registry.hpp>

struct driver_ignoring_its_config {
  static constexpr pdm::driver_traits traits{
      .name = "IgnoresConfig", .description = "A driver with an unused config", .class_mask = pdm::driver_class::media};
  struct config_type {
    int sectors = 0;
  };
  explicit driver_ignoring_its_config(pdm::driver_context& /*ctx*/) {}
};

BOOST_HANA_ADAPT_STRUCT(driver_ignoring_its_config::config_type, sectors);

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_ignoring_its_config>::size;
