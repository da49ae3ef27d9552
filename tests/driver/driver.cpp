// The driver concept: each rule holds for good drivers and fails for the matching bad one.
// (The diagnostics of broken rules are checked by the compile-fail tests in tests/fail/.)
#include <pdm/driver/driver.hpp>

#include <doctest/doctest.h>

#include <array>
#include <string>
#include <vector>

#include "test_drivers.hpp"

namespace {

constexpr pdm::driver_traits good_traits{
    .name = "Good", .description = "ok", .class_mask = pdm::driver_class::media, .max_instances = 1};

// A driver whose traits come from Src::value (driver_traits holds string_views, so it cannot
// be a template argument itself).
template <class Src>
struct with_traits {
  static constexpr pdm::driver_traits traits = Src::value;
  explicit with_traits(pdm::driver_context& /*ctx*/) {}
};
template <std::size_t N>
struct fixed {
  char text[N];
  constexpr fixed(const char (&s)[N]) {  // NOLINT(google-explicit-constructor)
    for (std::size_t i = 0; i < N; ++i) text[i] = s[i];
  }
};
template <fixed Name>
struct named_src {
  static constexpr pdm::driver_traits value{.name = std::string_view(Name.text, sizeof(Name.text) - 1),
                                            .description = "ok",
                                            .class_mask = pdm::driver_class::media,
                                            .max_instances = 1};
};
template <fixed Name>
using named = with_traits<named_src<Name>>;
struct good_src {
  static constexpr pdm::driver_traits value = good_traits;
};
struct no_description_src {
  static constexpr pdm::driver_traits value{.name = "N", .description = "", .class_mask = pdm::driver_class::media};
};
struct no_class_src {
  static constexpr pdm::driver_traits value{.name = "N", .description = "d"};
};
struct unknown_class_src {
  static constexpr pdm::driver_traits value{
      .name = "N", .description = "d", .class_mask = static_cast<pdm::driver_class>(1U << 30)};
};
struct zero_instances_src {
  static constexpr pdm::driver_traits value{
      .name = "N", .description = "d", .class_mask = pdm::driver_class::media, .max_instances = 0};
};

struct no_traits {
  explicit no_traits(pdm::driver_context& /*ctx*/) {}
};
struct no_ctor {
  static constexpr pdm::driver_traits traits = good_traits;
};
struct throwing_dtor {
  static constexpr pdm::driver_traits traits = good_traits;
  explicit throwing_dtor(pdm::driver_context& /*ctx*/) {}
  ~throwing_dtor() noexcept(false) {}  // NOLINT(bugprone-exception-escape)
};
struct huge {
  static constexpr pdm::driver_traits traits = good_traits;
  explicit huge(pdm::driver_context& /*ctx*/) {}
  std::array<char, (1U << 20) + 1> bytes;
};
struct claims_media {
  static constexpr pdm::driver_traits traits = good_traits;
  using provides = pdm::interface_list<test::media>;
  explicit claims_media(pdm::driver_context& /*ctx*/) {}
};
struct lists_twice : test::block {
  static constexpr pdm::driver_traits traits = good_traits;
  using provides = pdm::interface_list<test::block, test::block>;
  explicit lists_twice(pdm::driver_context& /*ctx*/) {}
  bool read_sector(std::uint64_t /*lba*/, std::array<std::uint8_t, 512>& /*out*/) override { return false; }
};
struct bad_hook {
  static constexpr pdm::driver_traits traits = good_traits;
  explicit bad_hook(pdm::driver_context& /*ctx*/) {}
  int on_power_on() { return 1; }
};
struct alignas(8192) over_aligned {
  static constexpr pdm::driver_traits traits = good_traits;
  explicit over_aligned(pdm::driver_context& /*ctx*/) {}
};
struct alignas(4096) page_aligned {
  static constexpr pdm::driver_traits traits = good_traits;
  explicit page_aligned(pdm::driver_context& /*ctx*/) {}
};
struct needs_non_interface {
  static constexpr pdm::driver_traits traits = good_traits;
  using needs_below = pdm::interface_list<int>;
  explicit needs_non_interface(pdm::driver_context& /*ctx*/) {}
};
struct with_saved_state {
  static constexpr pdm::driver_traits traits = good_traits;
  struct saved_state {
    std::uint32_t x;
  };
  static constexpr std::uint32_t saved_state_version = 2;
  explicit with_saved_state(pdm::driver_context& /*ctx*/) {}
  saved_state& saved() { return state; }
  saved_state state{};
};
struct saved_state_without_version {
  static constexpr pdm::driver_traits traits = good_traits;
  struct saved_state {
    std::uint32_t x;
  };
  explicit saved_state_without_version(pdm::driver_context& /*ctx*/) {}
};
struct saved_state_without_accessor {
  static constexpr pdm::driver_traits traits = good_traits;
  struct saved_state {
    std::uint32_t x;
  };
  static constexpr std::uint32_t saved_state_version = 1;
  explicit saved_state_without_accessor(pdm::driver_context& /*ctx*/) {}
  const saved_state& saved() const { return state; }  // const: pdm could not load into it
  saved_state state{};
};
struct saved_state_with_pointer {
  static constexpr pdm::driver_traits traits = good_traits;
  struct inner {
    int* p;
  };
  struct saved_state {
    std::uint32_t x;
    std::array<inner, 2> items;
  };
  static constexpr std::uint32_t saved_state_version = 1;
  explicit saved_state_with_pointer(pdm::driver_context& /*ctx*/) {}
  saved_state& saved() { return state; }
  saved_state state{};
};
struct saved_state_with_older_loader {
  static constexpr pdm::driver_traits traits = good_traits;
  struct saved_state {
    std::uint32_t x;
    std::vector<std::string> names;
  };
  static constexpr std::uint32_t saved_state_version = 3;
  explicit saved_state_with_older_loader(pdm::driver_context& /*ctx*/) {}
  saved_state& saved() { return state; }
  pdm::status load_older_state(pdm::state_reader& in, saved_state& out) { return in.read(out.x); }
  saved_state state{};
};
struct bad_older_loader {
  static constexpr pdm::driver_traits traits = good_traits;
  explicit bad_older_loader(pdm::driver_context& /*ctx*/) {}
  struct saved_state {
    std::uint32_t x;
  };
  static constexpr std::uint32_t saved_state_version = 2;
  saved_state& saved() { return state; }
  saved_state state{};
  void load_older_state(pdm::state_reader& /*in*/) {}  // no saved_state& out
};
struct config_but_wrong_ctor {
  static constexpr pdm::driver_traits traits = good_traits;
  struct config_type {};
  explicit config_but_wrong_ctor(pdm::driver_context& /*ctx*/) {}
};

}  // namespace

// Good drivers.
static_assert(pdm::driver<test::memory_disk>);
static_assert(pdm::driver<test::block_layer>);
static_assert(pdm::driver<test::counting_filter>);
static_assert(pdm::driver<with_traits<good_src>>);
static_assert(pdm::driver<with_saved_state>);
static_assert(pdm::driver<named<"a">>);
static_assert(pdm::driver<named<"Host Serial-2_x">>);
static_assert(pdm::driver<named<"0123456789012345678901234567890">>);  // 31

// Each rule, broken.
static_assert(!pdm::driver<int>);
static_assert(!pdm::driver<const test::memory_disk>);
static_assert(!pdm::driver<no_traits>);
static_assert(!pdm::rule::driver_has_static_constexpr_traits<no_traits>);
static_assert(!pdm::driver<named<"">>);
static_assert(!pdm::rule::driver_name_is_not_empty<named<"">>);
static_assert(!pdm::driver<named<"01234567890123456789012345678901">>);  // 32
static_assert(!pdm::rule::driver_name_is_at_most_31_characters<named<"01234567890123456789012345678901">>);
static_assert(!pdm::driver<named<"a/b">>);
static_assert(!pdm::driver<named<"tab\there">>);
static_assert(!pdm::rule::driver_name_has_only_letters_digits_underscores_spaces_and_dashes<named<"a.b">>);
static_assert(!pdm::driver<with_traits<no_description_src>>);
static_assert(!pdm::driver<with_traits<no_class_src>>);  // no class
static_assert(!pdm::driver<with_traits<unknown_class_src>>);
static_assert(!pdm::driver<with_traits<zero_instances_src>>);
static_assert(!pdm::rule::driver_max_instances_is_not_zero<with_traits<zero_instances_src>>);
static_assert(!pdm::driver<huge> && !pdm::rule::driver_size_is_at_most_1_MiB<huge>);
static_assert(!pdm::driver<over_aligned> && !pdm::rule::driver_alignment_is_at_most_4096<over_aligned>);
static_assert(pdm::driver<page_aligned>);  // the compile-time limit equals the run-time one
static_assert(!pdm::driver<no_ctor> && !pdm::rule::driver_is_constructible_from_its_context_and_config<no_ctor>);
static_assert(!pdm::driver<config_but_wrong_ctor>);
static_assert(!pdm::driver<throwing_dtor> && !pdm::rule::driver_destructor_is_noexcept<throwing_dtor>);
static_assert(!pdm::driver<claims_media> &&
              !pdm::rule::driver_derives_publicly_from_every_interface_it_provides<claims_media>);
static_assert(!pdm::driver<lists_twice> && !pdm::rule::driver_lists_each_interface_once<lists_twice>);
static_assert(!pdm::driver<bad_hook> && !pdm::rule::driver_hooks_have_the_documented_signatures<bad_hook>);
static_assert(!pdm::driver<needs_non_interface>);
static_assert(!pdm::driver<saved_state_without_version>);
static_assert(!pdm::driver<saved_state_without_accessor> &&
              !pdm::rule::driver_saved_state_is_reachable_through_saved<saved_state_without_accessor>);
// The field rule names the first field pdm cannot save, however deep.
static_assert(std::is_same_v<pdm::detail::first_unsaveable_field_t<saved_state_with_pointer>, int*>);
static_assert(!pdm::driver<saved_state_with_pointer>);
static_assert(std::is_void_v<pdm::detail::first_unsaveable_field_t<with_saved_state>>);
static_assert(pdm::driver<saved_state_with_older_loader>);
static_assert(!pdm::driver<bad_older_loader> &&
              !pdm::rule::driver_load_older_state_has_the_documented_signature<bad_older_loader>);

// The lists a driver declares, with defaults.
static_assert(std::is_same_v<pdm::provides_t<with_traits<good_src>>, pdm::interface_list<>>);
static_assert(std::is_same_v<pdm::needs_below_t<test::block_layer>, pdm::interface_list<test::media>>);
static_assert(std::is_same_v<pdm::needs_above_t<test::block_layer>, pdm::interface_list<test::media_port>>);
static_assert(pdm::provides_v<test::memory_disk, test::mount>);
static_assert(!pdm::provides_v<test::memory_disk, test::block>);

// check_driver() is usable in constant expressions and agrees with the concept for good drivers.
static_assert(pdm::check_driver<test::memory_disk>());
static_assert(pdm::check_driver<test::block_layer>());

TEST_CASE("a valid driver constructs from its context and does its work") {
  pdm::driver_context ctx("Counter", 5);
  test::counting_filter f(ctx);
  CHECK(f.log() == "Counter constructed");
  pdm::driver_context disk_ctx("MemDisk", 1);
  test::memory_disk disk(disk_ctx);
  CHECK(disk.instance() == 1);
  f.connect(&disk);
  char buf[4] = {};
  CHECK(f.read(0, buf, 4) == 4);
  CHECK(f.calls == 1);
  CHECK(f.size() == 4096);
}

TEST_CASE("the driver context reports identity") {
  pdm::driver_context ctx("Block", 9);
  CHECK(ctx.driver_name() == "Block");
  CHECK(ctx.instance() == 9);
}
