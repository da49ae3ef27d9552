// pdm/core/source_location.hpp - pdm::source_location: std::source_location where the standard
// library has it, an equivalent built on the compiler's builtins where it does not.
//
// clang 14 with libstdc++ 12 has no std::source_location (the library needs a builtin clang 14
// lacks), but both compilers have __builtin_FILE, __builtin_LINE and __builtin_FUNCTION, which
// give the caller's position when used as default arguments. Helpers that record where they were
// called from (assert_emt, set_error) take a pdm::source_location defaulted to current().
#pragma once

#include <cstdint>
#if __has_include(<source_location>)
#include <source_location>
#endif

namespace pdm {

#if defined(__cpp_lib_source_location) && __cpp_lib_source_location >= 201907L
using source_location = std::source_location;
#else
/// \brief Where in the source a call was made; the subset of std::source_location pdm uses.
class source_location {
 public:
  [[nodiscard]] static constexpr source_location current(const char* file = __builtin_FILE(),
                                                         const char* function = __builtin_FUNCTION(),
                                                         std::uint_least32_t line = __builtin_LINE()) noexcept {
    source_location s;
    s.file_ = file;
    s.function_ = function;
    s.line_ = line;
    return s;
  }
  constexpr source_location() noexcept = default;
  [[nodiscard]] constexpr const char* file_name() const noexcept { return file_; }
  [[nodiscard]] constexpr const char* function_name() const noexcept { return function_; }
  [[nodiscard]] constexpr std::uint_least32_t line() const noexcept { return line_; }
  // A member, as in std::source_location; the builtins give no column.
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static)
  [[nodiscard]] constexpr std::uint_least32_t column() const noexcept { return 0; }

 private:
  const char* file_ = "";
  const char* function_ = "";
  std::uint_least32_t line_ = 0;
};
#endif

}  // namespace pdm
