// pdm/services/crc32c.hpp - CRC-32C (Castagnoli) checksums of saved-state units: the SSE4.2
// crc32 instruction on x86-64 CPUs that have it, slicing-by-8 tables everywhere else.
//
// Saved state is written and read in units (a driver's state, a device's, a header), each with a
// checksum so that a damaged or truncated file is refused instead of restoring garbage into a
// VM. The checksum is CRC-32C, the iSCSI/ext4/SCTP polynomial: on x86-64 one instruction per 8
// bytes, so checking tens of MiB of saved state costs milliseconds, and it detects every error
// burst of up to 32 bits (so every single flipped bit).
//
// Two implementations compute the same value:
//   - crc32c_software(): slicing-by-8 (eight 256-entry tables built on first use; 8 bytes per
//     step with 8 table look-ups), correct on any host: 8-byte words are read with std::memcpy
//     (any alignment) and assembled byte by byte when the host is not little-endian;
//   - crc32c_hardware() (x86-64 only): _mm_crc32_u64, 8 bytes per instruction. The instruction
//     has a latency of 3 cycles and a throughput of 1 per cycle, so one dependent chain would use
//     a third of it: each 96 KiB of a buffer is cut into three adjacent 32 KiB blocks whose CRCs
//     run as three independent chains, then are joined with a constant "shift over n zero bytes"
//     operator (a 4 x 256 table, built on first use, per block size). What remains is done in
//     runs of 3 * 256 bytes the same way, and the last < 768 bytes as one chain.
//   - crc32c_folding() (x86-64 with AVX-512 and VPCLMULQDQ): the buffer folded 256 bytes at a
//     time into four 512-bit accumulators with carry-less multiplies, the technique of Intel's
//     "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ" paper, its constants worked
//     out here by the same polynomial arithmetic as the shift tables (x_pow()); the last 16
//     bytes of state and the tail go through the crc32 instruction. About 3x the crc32
//     instruction's speed on data in cache (measured on an AMD EPYC VM: 64 MiB of saved state in
//     64 KiB units checked in about 1 ms), which is what saved state mostly checksums: a unit
//     just written, or just about to be decoded.
// crc32c() chooses once per process: folding where the CPU and the operating system support
// AVX-512 and VPCLMULQDQ (read from CPUID and XCR0: g++ 12's __builtin_cpu_supports does not
// report VPCLMULQDQ), else the crc32 instruction (__builtin_cpu_supports("sse4.2")), and the
// software version on other architectures. The tables are built at run time, once, on first use
// (function-local statics, so thread-safe and free of initialisation order): built as constants
// they cost every translation unit that includes this header about 0.13 s of compile time.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

namespace pdm::detail {

/// Internals of crc32c() and its tests: the tables and the zero-shift operators.
namespace crc32c_impl {

/// \brief The CRC-32C polynomial, bit-reflected (x^0 in bit 31).
inline constexpr std::uint32_t polynomial = 0x82F63B78U;

using table = std::array<std::uint32_t, 256>;

/// \brief slicing[0] is the bytewise table; slicing[k][b] advances the CRC of byte b followed by
/// k zero bytes.
inline std::array<table, 8> make_slicing_tables() noexcept {
  std::array<table, 8> t{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t c = b;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1U) != 0 ? (c >> 1U) ^ polynomial : c >> 1U;
    t[0][b] = c;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8U) ^ t[0][t[k - 1][b] & 0xFFU];
  }
  return t;
}

/// \brief The slicing-by-8 tables, built on first use.
inline const std::array<table, 8>& slicing() noexcept {
  static const std::array<table, 8> tables = make_slicing_tables();
  return tables;
}

/// \brief a(x) * b(x) modulo the polynomial, both bit-reflected (x^0 is bit 31).
constexpr std::uint32_t multiply(std::uint32_t a, std::uint32_t b) noexcept {
  std::uint32_t product = 0;
  for (std::uint32_t m = 1U << 31U; m != 0; m >>= 1U) {
    if ((a & m) != 0) product ^= b;
    b = (b & 1U) != 0 ? (b >> 1U) ^ polynomial : b >> 1U;  // b *= x
  }
  return product;
}

/// \brief x^e modulo the polynomial, bit-reflected, for any exponent e (in bits).
constexpr std::uint32_t x_pow(std::size_t e) noexcept {
  std::uint32_t result = 1U << 31U;  // x^0
  std::uint32_t power = 1U << 30U;   // x^1
  for (; e != 0; e >>= 1U) {
    if ((e & 1U) != 0) result = multiply(result, power);
    power = multiply(power, power);
  }
  return result;
}

/// \brief x^(8 * n) modulo the polynomial: the operator that runs a CRC register over n zero bytes.
constexpr std::uint32_t x_pow_8n(std::size_t n) noexcept { return x_pow(8 * n); }

/// \brief shift(t, c) == multiply(x_pow_8n(n), c) as four table look-ups, for t = make_shift_table(n).
using shift_table = std::array<table, 4>;

inline shift_table make_shift_table(std::size_t n) noexcept {
  const std::uint32_t op = x_pow_8n(n);
  std::array<std::uint32_t, 32> image{};  // the operator applied to each single bit
  for (std::size_t i = 0; i < 32; ++i) image[i] = multiply(op, 1U << i);
  shift_table t{};
  for (std::size_t k = 0; k < 4; ++k) {
    for (std::size_t b = 0; b < 256; ++b) {
      std::uint32_t v = 0;
      for (std::size_t i = 0; i < 8; ++i) {
        if (((b >> i) & 1U) != 0) v ^= image[8 * k + i];
      }
      t[k][b] = v;
    }
  }
  return t;
}

/// \brief The CRC register `crc` advanced over the n zero bytes `t` was made for.
constexpr std::uint32_t shift(const shift_table& t, std::uint32_t crc) noexcept {
  return t[0][crc & 0xFFU] ^ t[1][(crc >> 8U) & 0xFFU] ^ t[2][(crc >> 16U) & 0xFFU] ^ t[3][crc >> 24U];
}

/// \brief Block sizes of the hardware version's three interleaved chains (multiples of 8). Long
/// blocks keep the three streams long enough for the hardware prefetcher when the buffer comes
/// from memory (measured on an AMD EPYC VM over 64 MiB: 8 KiB blocks 15.7 GB/s, 32 KiB 21 GB/s); short
/// blocks keep the combine step cheap against the work it joins.
inline constexpr std::size_t long_block = 32768;
inline constexpr std::size_t short_block = 256;
/// \brief The shift operators over long_block and short_block zero bytes, built on first use.
inline const shift_table& long_shift() noexcept {
  static const shift_table t = make_shift_table(long_block);
  return t;
}
inline const shift_table& short_shift() noexcept {
  static const shift_table t = make_shift_table(short_block);
  return t;
}

/// \brief The 8 bytes at `p` (any alignment) as a little-endian number, on any host.
inline std::uint64_t load_le64(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, sizeof v);
  } else {
    for (std::size_t i = 8; i-- != 0;) v = (v << 8U) | static_cast<std::uint64_t>(p[i]);
  }
  return v;
}

#if defined(__x86_64__)
[[gnu::target("sse4.2")]] inline std::uint32_t hw_word(std::uint32_t crc, const std::byte* p) noexcept {
  return static_cast<std::uint32_t>(_mm_crc32_u64(crc, load_le64(p)));
}

[[gnu::target("sse4.2")]] inline std::uint32_t hw_byte(std::uint32_t crc, std::byte b) noexcept {
  return _mm_crc32_u8(crc, static_cast<unsigned char>(b));
}

/// \brief The CRC register `crc` advanced over the 3 * block bytes at `p` (block a multiple of 8),
/// as three independent chains joined with `t` == make_shift_table(block).
[[gnu::target("sse4.2")]] inline std::uint32_t hw_three_way(std::uint32_t crc, const std::byte* p, std::size_t block,
                                                            const shift_table& t) noexcept {
  std::uint32_t crc1 = 0;
  std::uint32_t crc2 = 0;
  for (const std::byte* const end = p + block; p != end; p += 8) {
    crc = hw_word(crc, p);
    crc1 = hw_word(crc1, p + block);
    crc2 = hw_word(crc2, p + 2 * block);
  }
  // CRC(A B C) == shift(shift(CRC(A)) ^ CRC0(B)) ^ CRC0(C), CRC0 starting from a zero register.
  return shift(t, shift(t, crc) ^ crc1) ^ crc2;
}
#endif

/// \brief The two carry-less multipliers that fold a 128-bit chunk of a message `bits` bits
/// forward, onto the chunk that far behind it: {for the chunk's first 8 bytes, for its last 8}.
///
/// A chunk X (bit k of its 16 little-endian bytes the coefficient of x^(127-k)) is H x^64 + L,
/// with H its first 8 bytes and L its last 8. Moved `bits` further it is H x^(64+bits) +
/// L x^bits, which modulo the polynomial is H K1 + L K2 with K1, K2 of degree < 32: a value of
/// degree < 96 that fits in the later chunk. A carry-less multiply of two bit-reflected 64-bit
/// numbers gives the product times x (its bit 127 is always 0), so each constant is one power
/// lower; a reflected 32-bit value r is the reflected 64-bit r << 32.
constexpr std::array<std::uint64_t, 2> fold_multipliers(std::size_t bits) noexcept {
  return {std::uint64_t{x_pow(bits + 63)} << 32U, std::uint64_t{x_pow(bits - 1)} << 32U};
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PDM_CRC32C_FOLDING 1
// 512- and 128-bit vectors of GCC's and Clang's vector extension, and their carry-less
// multiply built-ins (the ones <immintrin.h> wraps; that header costs half a second of compile
// time in every translation unit, this one needs four built-ins of it).
using v8 = long long __attribute__((vector_size(64)));  // NOLINT(google-runtime-int): the built-ins' type
using v2 = long long __attribute__((vector_size(16)));  // NOLINT(google-runtime-int)

[[gnu::target("avx512f,vpclmulqdq")]] inline v8 clmul_lo(v8 a, v8 b) noexcept {
#if defined(__clang__)
  return __builtin_ia32_pclmulqdq512(a, b, 0x00);
#else
  return __builtin_ia32_vpclmulqdq_v8di(a, b, 0x00);
#endif
}
[[gnu::target("avx512f,vpclmulqdq")]] inline v8 clmul_hi(v8 a, v8 b) noexcept {
#if defined(__clang__)
  return __builtin_ia32_pclmulqdq512(a, b, 0x11);
#else
  return __builtin_ia32_vpclmulqdq_v8di(a, b, 0x11);
#endif
}
[[gnu::target("pclmul")]] inline v2 clmul_lo(v2 a, v2 b) noexcept { return __builtin_ia32_pclmulqdq128(a, b, 0x00); }
[[gnu::target("pclmul")]] inline v2 clmul_hi(v2 a, v2 b) noexcept { return __builtin_ia32_pclmulqdq128(a, b, 0x11); }

/// \brief Four lanes of the same pair of multipliers (one per 128-bit lane of a 512-bit vector).
[[gnu::target("avx512f")]] inline v8 lanes_of(std::array<std::uint64_t, 2> k) noexcept {
  const auto lo = std::bit_cast<long long>(k[0]);  // NOLINT(google-runtime-int)
  const auto hi = std::bit_cast<long long>(k[1]);  // NOLINT(google-runtime-int)
  return v8{lo, hi, lo, hi, lo, hi, lo, hi};
}

[[gnu::target("avx512f")]] inline v8 load64(const std::byte* p) noexcept {
  v8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline v2 load16(const std::byte* p) noexcept {
  v2 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
[[gnu::target("avx512f,vpclmulqdq")]] inline v8 fold(v8 x, v8 k) noexcept { return clmul_lo(x, k) ^ clmul_hi(x, k); }
[[gnu::target("pclmul")]] inline v2 fold(v2 x, v2 k) noexcept { return clmul_lo(x, k) ^ clmul_hi(x, k); }

/// \brief The smallest buffer the folding version takes; shorter ones go to the crc32 instruction.
inline constexpr std::size_t fold_minimum = 256;

/// \brief The CRC register `c` (not inverted) advanced over the n >= fold_minimum bytes at p, by
/// folding: four 512-bit accumulators (sixteen 128-bit chunks) fold 256 bytes forward per step
/// with carry-less multiplies, then onto one another, then 16 bytes at a time; the last chunk
/// goes through the crc32 instruction from a zero register (which multiplies it by x^32 modulo
/// the polynomial: exactly the register it leaves), and so do the last < 16 bytes.
[[gnu::target("avx512f,vpclmulqdq,pclmul,sse4.2")]] inline std::uint32_t fold_run(std::uint32_t c, const std::byte* p,
                                                                                  std::size_t n) noexcept {
  v8 x0 = load64(p);
  v8 x1 = load64(p + 64);
  v8 x2 = load64(p + 128);
  v8 x3 = load64(p + 192);
  x0[0] ^= static_cast<long long>(c);  // NOLINT(google-runtime-int): the register meets the first 4 bytes
  p += 256;
  n -= 256;
  constexpr std::array<std::uint64_t, 2> k256 = fold_multipliers(std::size_t{256} * 8);  // at compile time
  const v8 by_256 = lanes_of(k256);
  for (; n >= 256; p += 256, n -= 256) {
    x0 = fold(x0, by_256) ^ load64(p);
    x1 = fold(x1, by_256) ^ load64(p + 64);
    x2 = fold(x2, by_256) ^ load64(p + 128);
    x3 = fold(x3, by_256) ^ load64(p + 192);
  }
  constexpr std::array<std::uint64_t, 2> k64 = fold_multipliers(std::size_t{64} * 8);
  const v8 by_64 = lanes_of(k64);
  x1 ^= fold(x0, by_64);
  x2 ^= fold(x1, by_64);
  x3 ^= fold(x2, by_64);
  for (; n >= 64; p += 64, n -= 64) x3 = fold(x3, by_64) ^ load64(p);
  // x3's four chunks, 16 bytes apart, onto the last; then the remaining 16-byte chunks.
  constexpr std::array<std::uint64_t, 2> k16 = fold_multipliers(std::size_t{16} * 8);
  const v2 by_16{std::bit_cast<long long>(k16[0]), std::bit_cast<long long>(k16[1])};  // NOLINT(google-runtime-int)
  v2 x = v2{x3[0], x3[1]};
  x = fold(x, by_16) ^ v2 { x3[2], x3[3] };
  x = fold(x, by_16) ^ v2 { x3[4], x3[5] };
  x = fold(x, by_16) ^ v2 { x3[6], x3[7] };
  for (; n >= 16; p += 16, n -= 16) x = fold(x, by_16) ^ load16(p);
  auto r = static_cast<std::uint32_t>(_mm_crc32_u64(0, static_cast<std::uint64_t>(x[0])));
  r = static_cast<std::uint32_t>(_mm_crc32_u64(r, static_cast<std::uint64_t>(x[1])));
  for (; n >= 8; p += 8, n -= 8) r = hw_word(r, p);
  for (; n != 0; ++p, --n) r = hw_byte(r, *p);
  return r;
}
#endif

}  // namespace crc32c_impl

/// \brief CRC-32C of `data`, computed with tables (slicing-by-8) on any CPU.
///
/// Always gives the same value as crc32c(); it is that function's fallback, and the reference the
/// hardware version is tested against. `crc` continues a checksum as in crc32c().
[[nodiscard]] inline std::uint32_t crc32c_software(std::span<const std::byte> data, std::uint32_t crc = 0) noexcept {
  const auto& slicing = crc32c_impl::slicing();
  std::uint32_t c = ~crc;
  const std::byte* p = data.data();
  std::size_t n = data.size();
  for (; n >= 8; p += 8, n -= 8) {
    const std::uint64_t w = crc32c_impl::load_le64(p) ^ c;
    c = slicing[7][w & 0xFFU] ^ slicing[6][(w >> 8U) & 0xFFU] ^ slicing[5][(w >> 16U) & 0xFFU] ^
        slicing[4][(w >> 24U) & 0xFFU] ^ slicing[3][(w >> 32U) & 0xFFU] ^ slicing[2][(w >> 40U) & 0xFFU] ^
        slicing[1][(w >> 48U) & 0xFFU] ^ slicing[0][w >> 56U];
  }
  for (; n != 0; ++p, --n) c = (c >> 8U) ^ slicing[0][(c ^ static_cast<std::uint32_t>(*p)) & 0xFFU];
  return ~c;
}

/// \brief Whether crc32c() uses the CPU's crc32 instruction (x86-64 with SSE4.2).
///
/// Decided on the first call and cached (a function-local static, so thread-safe); callable
/// before main().
[[nodiscard]] inline bool crc32c_hardware_available() noexcept {
#if defined(__x86_64__)
  static const bool available = [] {
    __builtin_cpu_init();  // needed when called before the constructors that would run it
    return static_cast<bool>(__builtin_cpu_supports("sse4.2"));
  }();
  return available;
#else
  return false;
#endif
}

#if defined(__x86_64__)
/// \brief CRC-32C of `data` with the SSE4.2 crc32 instruction; x86-64 only, and only callable
/// when crc32c_hardware_available() (otherwise it executes an illegal instruction).
///
/// Same value and arguments as crc32c(). Aligns to 8 bytes, then runs three interleaved chains over
/// blocks of 3 * 32 KiB and then of 3 * 256 bytes, then one chain of 8-byte words, then bytes.
[[nodiscard]] [[gnu::target("sse4.2")]] inline std::uint32_t crc32c_hardware(std::span<const std::byte> data,
                                                                             std::uint32_t crc = 0) noexcept {
  using namespace crc32c_impl;
  std::uint32_t c = ~crc;
  const std::byte* p = data.data();
  std::size_t n = data.size();
  for (; n != 0 && (reinterpret_cast<std::uintptr_t>(p) & 7U) != 0; ++p, --n) c = hw_byte(c, *p);
  for (; n >= 3 * long_block; p += 3 * long_block, n -= 3 * long_block)
    c = hw_three_way(c, p, long_block, long_shift());
  for (; n >= 3 * short_block; p += 3 * short_block, n -= 3 * short_block) {
    c = hw_three_way(c, p, short_block, short_shift());
  }
  for (; n >= 8; p += 8, n -= 8) c = hw_word(c, p);
  for (; n != 0; ++p, --n) c = hw_byte(c, *p);
  return ~c;
}
#endif

/// \brief Whether crc32c() folds with carry-less multiplies (x86-64 with AVX-512 and VPCLMULQDQ,
/// and an operating system that saves the AVX-512 registers).
///
/// Read from the CPUID instruction once and cached; callable before main().
[[nodiscard]] inline bool crc32c_folding_available() noexcept {
#if defined(PDM_CRC32C_FOLDING)
  static const bool available = [] {
    unsigned a = 0;
    unsigned b = 0;
    unsigned c = 0;
    unsigned d = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) == 0) return false;
    const bool osxsave = ((c >> 27U) & 1U) != 0;
    const bool sse42 = ((c >> 20U) & 1U) != 0;
    const bool pclmul = ((c >> 1U) & 1U) != 0;
    if (!osxsave || !sse42 || !pclmul) return false;
    unsigned xcr0 = 0;
    unsigned xcr0_high = 0;
    __asm__("xgetbv" : "=a"(xcr0), "=d"(xcr0_high) : "c"(0));  // NOLINT(hicpp-no-assembler)
    if ((xcr0 & 0xE6U) != 0xE6U) return false;                 // SSE, AVX, opmask and both halves of the ZMM state
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
    const bool avx512f = ((b >> 16U) & 1U) != 0;
    const bool vpclmulqdq = ((c >> 10U) & 1U) != 0;
    return avx512f && vpclmulqdq;
  }();
  return available;
#else
  return false;
#endif
}

#if defined(PDM_CRC32C_FOLDING)
/// \brief CRC-32C of `data` by folding with 512-bit carry-less multiplies; x86-64 only, and only
/// callable when crc32c_folding_available().
///
/// Same value and arguments as crc32c(). Buffers shorter than 256 bytes go to the crc32
/// instruction (crc32c_hardware()).
[[nodiscard]] [[gnu::target("avx512f,vpclmulqdq,pclmul,sse4.2")]] inline std::uint32_t crc32c_folding(
    std::span<const std::byte> data, std::uint32_t crc = 0) noexcept {
  if (data.size() < crc32c_impl::fold_minimum) return crc32c_hardware(data, crc);
  return ~crc32c_impl::fold_run(~crc, data.data(), data.size());
}
#endif

/// \brief CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, initial value and final xor
/// 0xFFFFFFFF) of `data`, the checksum of saved-state units.
///
/// `crc` is the value a previous call returned, to continue over data given in pieces:
/// crc32c(b, crc32c(a)) == crc32c(a + b); 0 starts a new checksum. The empty input gives `crc`
/// (0 for a new checksum); "123456789" gives 0xE3069283.
///
/// Uses the CPU's crc32 instruction on x86-64 with SSE4.2 (chosen once, see
/// crc32c_hardware_available()), slicing-by-8 tables otherwise. Any alignment and length.
[[nodiscard]] inline std::uint32_t crc32c(std::span<const std::byte> data, std::uint32_t crc = 0) noexcept {
#if defined(PDM_CRC32C_FOLDING)
  if (crc32c_folding_available()) return crc32c_folding(data, crc);
#endif
#if defined(__x86_64__)
  if (crc32c_hardware_available()) return crc32c_hardware(data, crc);
#endif
  return crc32c_software(data, crc);
}

}  // namespace pdm::detail
