// Breaks pdm::rule::driver_description_is_not_empty in a static_chain: reported once, as in a driver_list.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver's traits\.description must not be empty
// EXPECT-GCC: pdm::rule::driver_description_is_not_empty<chained_driver_without_description>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_description_is_not_empty<chained_driver_without_description>' "pdm: a driver's traits\.description must not be empty"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/analysis/static_chain.hpp>

struct chained_driver_without_description {
  static constexpr pdm::driver_traits traits{
      .name = "NoDescription", .description = "", .class_mask = pdm::driver_class::media};
  explicit chained_driver_without_description(pdm::driver_context& /*ctx*/) {}
};

using port = pdm::device_port<>;
[[maybe_unused]] constexpr bool valid = pdm::static_chain<port, chained_driver_without_description>::valid;
