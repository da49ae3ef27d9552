#include <pdm/core/hash.hpp>

#include <doctest/doctest.h>

#include <string>

// FNV-1a 64 reference values: the hash is part of the module ABI, so it must never change.
static_assert(pdm::hash_string("") == 0xcbf29ce484222325ULL);
static_assert(pdm::hash_string("a") == 0xaf63dc4c8601ec8cULL);
static_assert(pdm::hash_string("foobar") == 0x85944171f73967e8ULL);

TEST_CASE("the run-time hash equals the compile-time hash") {
  const std::string runtime = std::string("foo") + "bar";
  constexpr auto compile_time = pdm::hash_string("foobar");
  CHECK(pdm::hash_string(runtime) == compile_time);
  CHECK(pdm::hash_string("RawFile") != pdm::hash_string("RawFilf"));
}
