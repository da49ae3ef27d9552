// pdm/core/hash.hpp - a constexpr string hash shared by compile-time and run-time tables.
//
// Driver names and interface ids are hashed with the same function at compile time (for
// driver_list tables and typed interface keys) and at run time (for look-ups by string), so
// both sides agree on every key.
#pragma once

#include <cstdint>
#include <string_view>

namespace pdm {

/// \brief 64-bit FNV-1a of a string; constexpr, stable across platforms and releases.
[[nodiscard]] constexpr std::uint64_t hash_string(std::string_view text) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace pdm
