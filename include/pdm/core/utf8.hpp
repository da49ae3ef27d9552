// pdm/core/utf8.hpp - the one UTF-8 check pdm uses: config names and strings, statistic
// descriptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pdm::detail {

// Well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
[[nodiscard]] constexpr bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    std::uint32_t min = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0U) == 0xC0U) {
      extra = 1, min = 0x80, cp = c & 0x1FU;
    } else if ((c & 0xF0U) == 0xE0U) {
      extra = 2, min = 0x800, cp = c & 0x0FU;
    } else if ((c & 0xF8U) == 0xF0U) {
      extra = 3, min = 0x10000, cp = c & 0x07U;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0U) != 0x80U) return false;
      cp = (cp << 6U) | (cc & 0x3FU);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace pdm::detail
