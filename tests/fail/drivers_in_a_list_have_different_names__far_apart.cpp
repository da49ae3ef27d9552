// Breaks pdm::rule::drivers_in_a_list_have_different_names: the 2nd and the 9th of ten drivers are both "Disk".
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: two drivers in a driver_list have the same traits\.name; names must be unique
// EXPECT-GCC: pdm::rule::drivers_in_a_list_have_different_names<early_disk, late_disk>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::drivers_in_a_list_have_different_names<early_disk, late_disk>' "pdm: two drivers in a driver_list have the same traits\.name; names must be unique"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

template <int N>
struct filler {
  static constexpr const char name[] = {'F', 'i', 'l', 'l', 'e', 'r', char('0' + N), '\0'};
  static constexpr pdm::driver_traits traits{
      .name = name, .description = "A driver that fills the list", .class_mask = pdm::driver_class::filter};
  explicit filler(pdm::driver_context& /*ctx*/) {}
};

struct early_disk {
  static constexpr pdm::driver_traits traits{
      .name = "Disk", .description = "A disk listed early", .class_mask = pdm::driver_class::media};
  explicit early_disk(pdm::driver_context& /*ctx*/) {}
};

struct late_disk {
  static constexpr pdm::driver_traits traits{
      .name = "Disk", .description = "A disk listed late", .class_mask = pdm::driver_class::media};
  explicit late_disk(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<filler<0>, early_disk, filler<1>, filler<2>, filler<3>,
                                                         filler<4>, filler<5>, filler<6>, late_disk, filler<7>>::size;
