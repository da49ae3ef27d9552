#include <pdm/config/value.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

TEST_CASE("integers keep their full range, signed and unsigned") {
  const pdm::config_value big(std::numeric_limits<std::uint64_t>::max());
  CHECK(big.kind() == pdm::value_kind::integer);
  CHECK_FALSE(big.is_negative());
  CHECK(*big.as<std::uint64_t>() == std::numeric_limits<std::uint64_t>::max());
  CHECK(big.as<std::int64_t>().error_value() == pdm::errc::integer_too_big);

  const pdm::config_value low(std::numeric_limits<std::int64_t>::min());
  CHECK(low.is_negative());
  CHECK(*low.as<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
  CHECK(low.as<std::uint64_t>().error_value() == pdm::errc::integer_too_small);
  CHECK(low.text() == "-9223372036854775808");
  CHECK(big.text() == "18446744073709551615");
}

TEST_CASE("reading an integer checks the target type's range") {
  const pdm::config_value v(300);
  CHECK(v.as<std::uint8_t>().error_value() == pdm::errc::integer_too_big);
  CHECK(v.as<std::int8_t>().error_value() == pdm::errc::integer_too_big);
  CHECK(*v.as<std::uint16_t>() == 300);
  CHECK(*v.as<std::int16_t>() == 300);
  const pdm::config_value m(-129);
  CHECK(m.as<std::int8_t>().error_value() == pdm::errc::integer_too_small);
  CHECK(*m.as<std::int16_t>() == -129);
  CHECK(m.as<unsigned>().error_value() == pdm::errc::integer_too_small);
  CHECK(pdm::config_value(-1).as<std::uint8_t>().error_value().detail() == "-1");
}

TEST_CASE("bool is its own kind; reading a bool accepts the integers 0 and 1") {
  CHECK(pdm::config_value(true).kind() == pdm::value_kind::boolean);
  CHECK(*pdm::config_value(true).as<bool>());
  CHECK(*pdm::config_value(1).as<bool>());
  CHECK_FALSE(*pdm::config_value(0).as<bool>());
  CHECK(pdm::config_value(2).as<bool>().error_value() == pdm::errc::invalid_value);
  CHECK(pdm::config_value(-1).as<bool>().error_value() == pdm::errc::invalid_value);
  CHECK(pdm::config_value("true").as<bool>().error_value() == pdm::errc::wrong_type);
  // ...but an integer is never read from a bool
  CHECK(pdm::config_value(true).as<int>().error_value() == pdm::errc::wrong_type);
}

TEST_CASE("strings and bytes are read only as themselves") {
  const pdm::config_value s("disk.img");
  CHECK(s.kind() == pdm::value_kind::string);
  CHECK(*s.as<std::string>() == "disk.img");
  CHECK(s.as<int>().error_value() == pdm::errc::wrong_type);
  CHECK(s.as<int>().error_value().detail() == "expected integer, found string");
  CHECK(s.as<pdm::config_bytes>().error_value() == pdm::errc::wrong_type);

  const pdm::config_value b(pdm::config_bytes{std::byte{0x0a}, std::byte{0xff}});
  CHECK(b.kind() == pdm::value_kind::bytes);
  CHECK(b.as<pdm::config_bytes>()->size() == 2);
  CHECK(b.as<std::string>().error_value() == pdm::errc::wrong_type);
  CHECK(b.text() == "bytes[2] 0aff");
  CHECK(pdm::config_value(pdm::config_bytes{}).text() == "bytes[0]");
}

TEST_CASE("text quotes and escapes strings") {
  CHECK(pdm::config_value("a\"b\\c\n").text() == R"("a\"b\\c\n")");
  CHECK(pdm::config_value(std::string("\x01", 1)).text() == R"("\u0001")");
  CHECK(pdm::config_value(false).text() == "false");
}

TEST_CASE("names: 1..255 bytes of UTF-8, no '/', no control characters, no leading '$'") {
  CHECK(pdm::valid_name("LUN#0"));
  CHECK(pdm::valid_name("Päth"));
  CHECK(pdm::valid_name(std::string(255, 'a')));
  CHECK_FALSE(pdm::valid_name(std::string(256, 'a')));
  CHECK_FALSE(pdm::valid_name(""));
  CHECK_FALSE(pdm::valid_name("a/b"));
  CHECK_FALSE(pdm::valid_name("tab\there"));
  CHECK_FALSE(pdm::valid_name("$bytes"));
  CHECK_FALSE(pdm::valid_name("bad\xff"));
  CHECK_FALSE(pdm::valid_name("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(pdm::valid_name("\xed\xa0\x80"));      // a surrogate
  CHECK_FALSE(pdm::valid_name("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK(pdm::name_problem("a/b") == "a name cannot contain '/' (it separates path components)");
}

TEST_CASE("values that cannot be stored say why") {
  CHECK(pdm::value_problem(pdm::config_value("ok")).empty());
  CHECK(pdm::value_problem(pdm::config_value(std::string("\xff"))) ==
        "a string value must be valid UTF-8 (use bytes for binary data)");
  CHECK_FALSE(pdm::value_problem(pdm::config_value(std::string(pdm::config_limits::max_value_bytes + 1, 'x'))).empty());
}

// Floating point, characters, enums and pointers do not silently become a bool.
template <class T>
concept storable = std::is_constructible_v<pdm::config_value, T>;
enum plain_enum { plain_a };
enum class scoped_enum { a };
static_assert(!storable<double>);
static_assert(!storable<float>);
static_assert(!storable<char>);
static_assert(!storable<char8_t>);
static_assert(!storable<plain_enum>);
static_assert(!storable<scoped_enum>);
static_assert(!storable<int*>);
static_assert(!storable<std::nullptr_t>);
static_assert(storable<const char*>);
static_assert(storable<char*>);
static_assert(storable<unsigned char>);
static_assert(storable<std::int8_t>);
static_assert(storable<bool>);

TEST_CASE("a char* is a string, not a bool") {
  char text[] = "abc";
  char* p = text;
  CHECK(pdm::config_value(p).kind() == pdm::value_kind::string);
}
