// Breaks driver_list<Ds...>::descriptor<D>(): D is not one of the list's drivers.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: driver_list::descriptor<D>\(\): D is not in this list
// EXPECT-GCC: descriptor\(\) \[with D = unlisted_driver; Ds = {listed_disk, listed_tape}\]
// EXPECT-GCC: std::is_same_v<unlisted_driver, listed_tape>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement '[^']*' "pdm: driver_list::descriptor<D>\(\): D is not in this list"
// EXPECT-CLANG: 'pdm::driver_list<listed_disk, listed_tape>::descriptor<unlisted_driver>' requested here
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

struct listed_disk {
  static constexpr pdm::driver_traits traits{
      .name = "ListedDisk", .description = "In the list", .class_mask = pdm::driver_class::media};
  explicit listed_disk(pdm::driver_context& /*ctx*/) {}
};

struct listed_tape {
  static constexpr pdm::driver_traits traits{
      .name = "ListedTape", .description = "In the list too", .class_mask = pdm::driver_class::media};
  explicit listed_tape(pdm::driver_context& /*ctx*/) {}
};

struct unlisted_driver {
  static constexpr pdm::driver_traits traits{
      .name = "Unlisted", .description = "Not in the list", .class_mask = pdm::driver_class::media};
  explicit unlisted_driver(pdm::driver_context& /*ctx*/) {}
};

using drivers = pdm::driver_list<listed_disk, listed_tape>;
const pdm::driver_descriptor& unlisted() { return drivers::descriptor<unlisted_driver>(); }
