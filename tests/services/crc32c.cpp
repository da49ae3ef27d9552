// tests/services/crc32c.cpp - CRC-32C (pdm/services/crc32c.hpp): the standard check value and the
// iSCSI vectors of RFC 3720 on every implementation; the tables and the zero-shift operator the
// hardware version joins its three chains with; the software, hardware and dispatching versions
// against a bit-at-a-time reference on pseudo-random data at every length 0..300 and start offset
// 0..15, around the hardware version's block thresholds, and on 1 MiB buffers; continuation over
// pieces split at random points; and a change of value for every single flipped bit. The data are
// pseudo-random with fixed seeds; no assertion depends on timing.
#include <pdm/services/crc32c.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace impl = pdm::detail::crc32c_impl;
using pdm::detail::crc32c;
using pdm::detail::crc32c_software;

using bytes = std::span<const std::byte>;

// The definition, one bit at a time: the oracle every implementation is held to.
std::uint32_t reference(bytes data, std::uint32_t crc = 0) {
  std::uint32_t c = ~crc;
  for (std::byte b : data) {
    c ^= static_cast<std::uint32_t>(b);
    for (int i = 0; i < 8; ++i) c = (c & 1U) != 0 ? (c >> 1U) ^ 0x82F63B78U : c >> 1U;
  }
  return ~c;
}

bytes as_bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::vector<std::byte> random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<std::byte> v(n);
  for (std::byte& b : v) b = static_cast<std::byte>(gen() & 0xFFU);
  return v;
}

// Each implementation this build can run, by name; the hardware one when the CPU has it.
struct implementation {
  const char* name;
  std::uint32_t (*fn)(bytes, std::uint32_t);
};

std::vector<implementation> implementations() {
  std::vector<implementation> all{{"reference", [](bytes d, std::uint32_t c) { return reference(d, c); }},
                                  {"software", [](bytes d, std::uint32_t c) { return crc32c_software(d, c); }},
                                  {"crc32c", [](bytes d, std::uint32_t c) { return crc32c(d, c); }}};
#if defined(__x86_64__)
  if (pdm::detail::crc32c_hardware_available()) {
    all.push_back({"hardware", [](bytes d, std::uint32_t c) { return pdm::detail::crc32c_hardware(d, c); }});
  }
#endif
#if defined(PDM_CRC32C_FOLDING)
  if (pdm::detail::crc32c_folding_available()) {
    all.push_back({"folding", [](bytes d, std::uint32_t c) { return pdm::detail::crc32c_folding(d, c); }});
  }
#endif
  return all;
}

// Lengths at and around the hardware version's thresholds (three chains of short or long blocks).
std::vector<std::size_t> threshold_lengths() {
  std::vector<std::size_t> lengths;
  for (std::size_t base : {3 * impl::short_block, 6 * impl::short_block, 3 * impl::long_block,
                           3 * impl::long_block + 3 * impl::short_block, 6 * impl::long_block,
                           // the folding version's: its minimum, one step of four 512-bit
                           // accumulators, one 64-byte step after them, 16-byte steps after that
                           std::size_t{256}, std::size_t{512}, std::size_t{512 + 64}, std::size_t{512 + 64 + 16},
                           std::size_t{512 + 64 + 48}, std::size_t{768 + 3 * 64 + 3 * 16}}) {
    // One byte and one 8-byte word either side, and the threshold itself.
    for (std::size_t d : {0, 1, 2, 8, 9, 10, 16, 17, 18}) lengths.push_back(base + d - 9);
  }
  return lengths;
}

}  // namespace

TEST_CASE("the implementations this build runs") {
  const std::vector<implementation> all = implementations();
#if defined(__x86_64__)
  const std::string what = pdm::detail::crc32c_hardware_available()
                               ? "x86-64 with SSE4.2: the hardware version is tested"
                               : "x86-64 without SSE4.2: no hardware version to test";
  MESSAGE(what);
  const std::string folding = pdm::detail::crc32c_folding_available()
                                  ? "AVX-512 with VPCLMULQDQ: the folding version is tested, and crc32c() uses it"
                                  : "no AVX-512 with VPCLMULQDQ: crc32c() uses the crc32 instruction";
  MESSAGE(folding);
  CHECK(all.size() == 3U + (pdm::detail::crc32c_hardware_available() ? 1U : 0U) +
                          (pdm::detail::crc32c_folding_available() ? 1U : 0U));
  // The folding version needs the crc32 instruction for its last bytes.
  CHECK((!pdm::detail::crc32c_folding_available() || pdm::detail::crc32c_hardware_available()));
#else
  MESSAGE("not x86-64: crc32c() is the software version");
  CHECK(!pdm::detail::crc32c_hardware_available());
  CHECK(all.size() == 3U);
#endif
}

TEST_CASE("the standard check value and the empty input") {
  for (const implementation& f : implementations()) {
    CAPTURE(f.name);
    CHECK(f.fn(as_bytes("123456789"), 0) == 0xE3069283U);
    CHECK(f.fn(bytes{}, 0) == 0U);
    CHECK(f.fn(bytes{}, 0xE3069283U) == 0xE3069283U);  // continuing over nothing changes nothing
    CHECK(f.fn(as_bytes("a"), 0) == 0xC1D04330U);
  }
  CHECK(crc32c(as_bytes("123456789")) == 0xE3069283U);  // default argument: a new checksum
  CHECK(crc32c_software(as_bytes("123456789")) == 0xE3069283U);
  CHECK(crc32c(bytes{}) == 0U);
}

TEST_CASE("the iSCSI vectors of RFC 3720 (B.4)") {
  std::array<std::byte, 32> zeros{};
  std::array<std::byte, 32> ones{};
  std::array<std::byte, 32> ascending{};
  std::array<std::byte, 32> descending{};
  for (std::size_t i = 0; i < 32; ++i) {
    ones[i] = std::byte{0xFF};
    ascending[i] = static_cast<std::byte>(i);
    descending[i] = static_cast<std::byte>(31 - i);
  }
  // An iSCSI read command PDU.
  const std::array<std::uint8_t, 48> pdu{0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                         0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                                         0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                                         0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  for (const implementation& f : implementations()) {
    CAPTURE(f.name);
    CHECK(f.fn(zeros, 0) == 0x8A9136AAU);
    CHECK(f.fn(ones, 0) == 0x62A8AB43U);
    CHECK(f.fn(ascending, 0) == 0x46DD794EU);
    CHECK(f.fn(descending, 0) == 0x113FDB5CU);
    CHECK(f.fn(std::as_bytes(std::span(pdu)), 0) == 0xD9963A56U);
  }
}

TEST_CASE("the tables and the zero-shift operator") {
  // Entries of the well-known bytewise table.
  CHECK(impl::slicing()[0][0] == 0U);
  CHECK(impl::slicing()[0][1] == 0xF26B8303U);
  CHECK(impl::slicing()[0][128] == 0x82F63B78U);
  CHECK(impl::slicing()[0][255] == 0xAD7D5351U);
  // slicing[k] is the bytewise table followed by k zero bytes.
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t b = 0; b < 256; b += 17) {
      std::uint32_t c = impl::slicing()[0][b];
      for (std::size_t z = 0; z < k; ++z) c = (c >> 8U) ^ impl::slicing()[0][c & 0xFFU];
      CHECK(impl::slicing()[k][b] == c);
    }
  }
  // x^0 * a == a; x^8 * a is a run over one zero byte.
  CHECK(impl::x_pow_8n(0) == 0x80000000U);
  CHECK(impl::multiply(impl::x_pow_8n(0), 0x12345678U) == 0x12345678U);
  // shift(make_shift_table(n), r) is the register r run over n zero bytes; in terms of finished
  // values (the register inverted on the way in and out): ~crc32c(n zeros, c) == shift(~c).
  std::mt19937 gen(7);  // NOLINT(cert-msc32-c,cert-msc51-cpp): a fixed seed, on purpose
  for (std::size_t n : {std::size_t{1}, std::size_t{8}, impl::short_block, std::size_t{1000}, impl::long_block}) {
    CAPTURE(n);
    const std::vector<std::byte> zeros(n);
    const impl::shift_table t = impl::make_shift_table(n);
    for (int i = 0; i < 20; ++i) {
      const std::uint32_t c = gen();
      CHECK(impl::shift(t, ~c) == ~reference(zeros, c));
      CHECK(impl::multiply(impl::x_pow_8n(n), ~c) == ~reference(zeros, c));
    }
  }
  for (std::uint32_t c : {0U, 1U, 0x80000000U, 0xFFFFFFFFU, 0xDEADBEEFU}) {
    const std::vector<std::byte> zeros(impl::long_block);
    CHECK(impl::shift(impl::long_shift(), ~c) == ~reference(zeros, c));
    const std::vector<std::byte> short_zeros(impl::short_block);
    CHECK(impl::shift(impl::short_shift(), ~c) == ~reference(short_zeros, c));
  }
}

TEST_CASE("every implementation agrees with the reference at every length 0..300 and offset 0..15") {
  const std::vector<std::byte> data = random_bytes(300 + 16, 1);
  const std::vector<implementation> all = implementations();
  for (std::size_t offset = 0; offset < 16; ++offset) {
    for (std::size_t length = 0; length <= 300; ++length) {
      const bytes piece = bytes(data).subspan(offset, length);
      const std::uint32_t expected = reference(piece);
      for (const implementation& f : all) {
        if (f.fn(piece, 0) != expected) {
          CAPTURE(f.name);
          CAPTURE(offset);
          CAPTURE(length);
          CHECK(f.fn(piece, 0) == expected);
        }
      }
    }
  }
  CHECK(reference(bytes(data).subspan(3, 300)) != reference(bytes(data).subspan(4, 300)));
}

TEST_CASE("every implementation agrees around the hardware version's block thresholds") {
  const std::vector<std::size_t> lengths = threshold_lengths();
  const std::vector<std::byte> data = random_bytes(*std::max_element(lengths.begin(), lengths.end()) + 16, 2);
  const std::vector<implementation> all = implementations();
  for (std::size_t length : lengths) {
    for (std::size_t offset : {0, 1, 7, 13}) {
      const bytes piece = bytes(data).subspan(offset, length);
      const std::uint32_t expected = reference(piece);
      for (const implementation& f : all) {
        CAPTURE(f.name);
        CAPTURE(offset);
        CAPTURE(length);
        CHECK(f.fn(piece, 0) == expected);
      }
    }
    // Continuing from a checksum (a register that is not all ones) crosses the thresholds too.
    const bytes piece = bytes(data).subspan(0, length);
    const std::uint32_t continued = reference(piece, 0x5EED);
    for (const implementation& f : all) {
      CAPTURE(f.name);
      CAPTURE(length);
      CHECK(f.fn(piece, 0x5EED) == continued);
    }
  }
}

TEST_CASE("every implementation agrees on 1 MiB buffers") {
  constexpr std::size_t mib = std::size_t{1} << 20U;
  const std::vector<std::byte> data = random_bytes(mib + 64, 3);
  const std::vector<implementation> all = implementations();
  const std::array<std::array<std::size_t, 2>, 3> cases{{{0, mib}, {5, mib - 1}, {3, mib + 61}}};  // offset, length
  for (const std::array<std::size_t, 2>& c : cases) {
    const std::size_t offset = c[0];
    const std::size_t length = c[1];
    const bytes piece = bytes(data).subspan(offset, length);
    const std::uint32_t expected = reference(piece);
    for (const implementation& f : all) {
      CAPTURE(f.name);
      CAPTURE(offset);
      CAPTURE(length);
      CHECK(f.fn(piece, 0) == expected);
    }
  }
  const std::vector<std::byte> zeros(mib);
  const std::uint32_t expected = reference(zeros);
  for (const implementation& f : all) {
    CAPTURE(f.name);
    CHECK(f.fn(zeros, 0) == expected);
  }
}

TEST_CASE("a checksum continued over pieces equals the checksum of the whole") {
  const std::vector<std::byte> data = random_bytes(9 * impl::long_block, 4);
  const std::vector<implementation> all = implementations();
  std::mt19937 gen(5);  // NOLINT(cert-msc32-c,cert-msc51-cpp): a fixed seed, on purpose
  for (int trial = 0; trial < 200; ++trial) {
    // Mostly short buffers, some long enough for the three-chain blocks.
    const std::size_t size = std::uniform_int_distribution<std::size_t>(0, trial % 8 == 0 ? data.size() : 2000)(gen);
    const std::size_t start = std::uniform_int_distribution<std::size_t>(0, data.size() - size)(gen);
    const bytes whole = bytes(data).subspan(start, size);
    std::vector<std::size_t> cuts{0, size};
    const int n_cuts = std::uniform_int_distribution<int>(1, 4)(gen);
    for (int i = 0; i < n_cuts; ++i) cuts.push_back(std::uniform_int_distribution<std::size_t>(0, size)(gen));
    std::sort(cuts.begin(), cuts.end());  // repeated cuts give empty pieces
    for (const implementation& f : all) {
      CAPTURE(f.name);
      CAPTURE(size);
      std::uint32_t crc = 0;
      for (std::size_t i = 0; i + 1 < cuts.size(); ++i) crc = f.fn(whole.subspan(cuts[i], cuts[i + 1] - cuts[i]), crc);
      CHECK(crc == f.fn(whole, 0));
    }
    CHECK(crc32c(whole) == reference(whole));
  }
  // Pieces with different implementations chain too: the value is the same function.
  const bytes a = bytes(data).subspan(1, 5000);
  const bytes b = bytes(data).subspan(5001, 3 * impl::long_block + 11);
  CHECK(crc32c_software(b, crc32c(a)) == crc32c(bytes(data).subspan(1, 5000 + b.size())));
  CHECK(crc32c(b, crc32c_software(a)) == reference(bytes(data).subspan(1, 5000 + b.size())));
}

TEST_CASE("a single flipped bit anywhere changes the value") {
  const std::vector<implementation> all = implementations();
  // Every bit of a buffer long enough for the hardware version's short three-chain blocks.
  std::vector<std::byte> data = random_bytes(3 * impl::short_block + 37, 6);
  for (const implementation& f : all) {
    if (f.name == std::string_view("reference")) continue;  // slow; it defines the others
    CAPTURE(f.name);
    const std::uint32_t original = f.fn(data, 0);
    for (std::size_t i = 0; i < data.size(); ++i) {
      for (unsigned bit = 0; bit < 8; ++bit) {
        data[i] ^= static_cast<std::byte>(1U << bit);
        const std::uint32_t flipped = f.fn(data, 0);
        data[i] ^= static_cast<std::byte>(1U << bit);
        if (flipped == original) {
          CAPTURE(i);
          CAPTURE(bit);
          CHECK(flipped != original);
        }
      }
    }
    CHECK(f.fn(data, 0) == original);  // every flip was undone
  }
  // Bits spread over a buffer long enough for the long blocks, in each chain of them.
  std::vector<std::byte> large = random_bytes(3 * impl::long_block + 3 * impl::short_block + 13, 7);
  std::mt19937 gen(8);  // NOLINT(cert-msc32-c,cert-msc51-cpp): a fixed seed, on purpose
  for (const implementation& f : all) {
    CAPTURE(f.name);
    const std::uint32_t original = f.fn(large, 0);
    for (std::size_t i = 0; i < large.size(); i += 499) {
      const unsigned bit = gen() % 8;
      large[i] ^= static_cast<std::byte>(1U << bit);
      const std::uint32_t flipped = f.fn(large, 0);
      large[i] ^= static_cast<std::byte>(1U << bit);
      if (flipped == original) {
        CAPTURE(i);
        CHECK(flipped != original);
      }
    }
    CHECK(f.fn(large, 0) == original);
  }
}
