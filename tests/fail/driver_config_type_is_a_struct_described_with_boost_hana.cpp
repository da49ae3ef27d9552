// Breaks pdm::rule::driver_config_type_is_a_struct_described_with_boost_hana: the driver's
// config_type is a plain struct, so its Config node cannot be bound to it.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's config_type must be a struct described with BOOST_HANA_ADAPT_STRUCT or BOOST_HANA_DEFINE_STRUCT \(see pdm/config/binding\.hpp\)
// EXPECT-GCC: pdm::rule::driver_config_type_is_a_struct_described_with_boost_hana<driver_with_plain_config>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_config_type_is_a_struct_described_with_boost_hana<driver_with_plain_config>' "pdm: a driver's config_type must be a struct described with BOOST_HANA_ADAPT_STRUCT or BOOST_HANA_DEFINE_STRUCT \(see pdm/config/binding\.hpp\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

#include <string>

struct driver_with_plain_config {
  static constexpr pdm::driver_traits traits{.name = "PlainConfig",
                                             .description = "A driver whose config is not described",
                                             .class_mask = pdm::driver_class::media};
  struct config_type {
    std::string path;
  };
  driver_with_plain_config(pdm::driver_context& /*ctx*/, const config_type& /*config*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_with_plain_config>::size;
