// Breaks pdm::rule::driver_derives_publicly_from_every_interface_it_provides: provides media, does not derive from it.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver claims to provide an interface it does not implement \(it must derive publicly and unambiguously from every interface in `provides`\)
// EXPECT-GCC: pdm::rule::driver_derives_publicly_from_every_interface_it_provides<driver_not_deriving_from_media>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_derives_publicly_from_every_interface_it_provides<driver_not_deriving_from_media>' "pdm: a driver claims to provide an interface it does not implement \(it must derive publicly and unambiguously from every interface in `provides`\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

#include <string_view>

struct media {
  static constexpr std::string_view interface_id = "test.media/1";
};

struct driver_not_deriving_from_media {
  static constexpr pdm::driver_traits traits{
      .name = "NotMedia", .description = "Claims media, is not one", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<media>;
  explicit driver_not_deriving_from_media(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_not_deriving_from_media>::size;
