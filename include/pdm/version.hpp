// pdm/version.hpp - the library's version; CMake's project version must match (a test checks).
#pragma once

#define PDM_VERSION_MAJOR 0
#define PDM_VERSION_MINOR 1
#define PDM_VERSION_PATCH 0

namespace pdm {
/// \brief The library's version as "major.minor.patch".
inline constexpr const char* version_string = "0.1.0";
}  // namespace pdm
