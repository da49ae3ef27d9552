// Breaks pdm::rule::driver_is_a_non_const_class: a driver must be a class, not a scalar.
// clang-format off
// EXPECT-GCC: static assertion failed: pdm: a driver must be a non-const, non-volatile class type
// EXPECT-GCC: pdm::rule::driver_is_a_non_const_class<int>[^ ]* evaluates to false.?$
// EXPECT-CLANG: static_assert failed due to requirement 'rule::driver_is_a_non_const_class<int>' "pdm: a driver must be a non-const, non-volatile class type"
// EXPECT-CLANG: (^|[^0-9])1 error generated
// clang-format on
#include <pdm/driver/registry.hpp>

using int_driver = int;

[[maybe_unused]] constexpr auto count = pdm::driver_list<int_driver>::size;
