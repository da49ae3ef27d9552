// Breaks pdm::rule::driver_derives_publicly_from_every_interface_it_provides: derives privately from media.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver claims to provide an interface it does not implement \(it must derive publicly and unambiguously from every interface in `provides`\)
// EXPECT-GCC: pdm::rule::driver_derives_publicly_from_every_interface_it_provides<driver_deriving_privately>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_derives_publicly_from_every_interface_it_provides<driver_deriving_privately>' "pdm: a driver claims to provide an interface it does not implement \(it must derive publicly and unambiguously from every interface in `provides`\)"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

#include <string_view>

struct media {
  static constexpr std::string_view interface_id = "test.media/1";
};

class driver_deriving_privately : private media {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "PrivateMedia", .description = "Hides its media base", .class_mask = pdm::driver_class::media};
  using provides = pdm::interface_list<media>;
  explicit driver_deriving_privately(pdm::driver_context& /*ctx*/) {}
};

[[maybe_unused]] constexpr auto count = pdm::driver_list<driver_deriving_privately>::size;
