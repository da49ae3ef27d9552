// fuzz/state_loader.cpp - a fuzz target for the saved-state loader: vm::load_state over any
// bytes, into the VM of loader_vm.hpp (three drivers with aggregate saved states, one with
// load_older_state, and a unit registered by hand), the way a VMM restores a saved state.
//
// Per input, on a fresh VM:
//   load_state(input) with the default options, then with unknown_unit_policy::skip and
//   missing_unit_policy::keep, then (same options) from a file holding the input, then with the
//   default options and a progress callback that cancels after a few units;
// and for each load, whatever the input:
//   - load_state returns (no crash, no sanitizer report, no exception, no hang);
//   - a failed load has one of the loader's codes (stream_*, unit_*) and a message, and leaves
//     every unit's state (the three drivers' saved states and the regs unit) as it was, bit for
//     bit;
//   - the regs unit's load_done ran as often as its load_prepare succeeded;
//   - a successful load accepted a stream that pdm::state_stream_reader reads to its end marker;
//     with the default options that stream has every unit, and no unit nothing registered;
//     a unit of the current version left its driver with exactly the unit's bytes (decoding is
//     the inverse of encoding), a unit absent from the stream (keep) left its driver as it was;
//   - after a successful load the VM saves again, a fresh VM loads that stream (default options)
//     into equal states, and saves the same bytes again;
// and between the loads:
//   - a stream the default options take, the lenient options take too, changing nothing more
//     (a load is idempotent);
//   - the file reader agrees with the memory reader: same outcome, same code, same states;
//   - progress reports count the units one by one and the bytes upwards to the stream's size; a
//     load the callback cancels fails with `cancelled` and changes nothing; one it does not
//     cancel ends as it does without a callback.
// A broken invariant prints what broke and traps (__builtin_trap), which libFuzzer reports as a
// crash with the input saved.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "loader_vm.hpp"
#include "state_loader.hpp"

namespace {

using pdm_fuzz::snapshot;
using pdm_fuzz::unit_count;

// A unit of a stream as pdm::state_stream_reader reads it.
struct record {
  std::string name;
  std::uint32_t instance = 0;
  std::uint32_t version = 0;
  std::vector<std::byte> data;
};

// Every unit of the stream, or nullopt when the stream reader refuses it (header, any record,
// the end marker, bytes after it).
std::optional<std::vector<record>> parse_stream(std::span<const std::byte> in) {
  pdm::state_stream_reader r(in);
  if (!r.open()) return std::nullopt;
  std::vector<record> out;
  for (;;) {
    pdm::result<std::optional<pdm::state_unit_record>> next = r.next();
    if (!next) return std::nullopt;
    if (!*next) break;
    const pdm::state_unit_record& u = **next;
    out.push_back({u.name, u.instance, u.version, std::vector<std::byte>(u.data.begin(), u.data.end())});
    // A record takes at least 31 bytes (a 26-byte header, a 1-byte name, a 4-byte data CRC).
    PDM_FUZZ_CHECK(out.size() * 31 <= in.size(), "the reader returned more units than the stream can hold");
  }
  PDM_FUZZ_CHECK(r.offset() == in.size(), "the reader stopped before the end of an accepted stream");
  return out;
}

const record* find_unit(const std::vector<record>& records, const pdm_fuzz::unit_id& u) {
  for (const record& r : records) {
    if (r.name == u.name && r.instance == u.instance) return &r;
  }
  return nullptr;
}

// The codes a load may fail with: the stream's and the units' (the drivers' hooks here return
// only these too).
bool loader_code(const std::error_code& c, bool may_cancel) {
  using pdm::errc;
  if (may_cancel && c == make_error_code(errc::cancelled)) return true;
  for (errc e : {errc::stream_truncated, errc::stream_corrupted, errc::stream_bad_magic, errc::stream_too_large,
                 errc::unit_not_found, errc::unit_version_too_new, errc::unit_version_too_old}) {
    if (c == make_error_code(e)) return true;
  }
  return false;
}

std::string describe(const pdm::status& s) { return s ? std::string("success") : s.error_value().message(); }

// One input's loads into one rig, and the checks after each.
class session {
 public:
  session(pdm_fuzz::rig& r, std::span<const std::byte> in) : rig_(r), records_(parse_stream(in)) {}

  // Runs `do_load` (a vm::load_state call with `options`) and checks what it left.
  template <class F>
  pdm::status load(const pdm::load_options& options, const char* which, F&& do_load) {
    const snapshot before = rig_.take();
    rig_.queue->counts = {};
    pdm::status s = std::forward<F>(do_load)();
    check(s, before, options, std::string(which) + " load: ");
    return s;
  }

 private:
  void check(const pdm::status& s, const snapshot& before, const pdm::load_options& options, const std::string& where) {
    const pdm_fuzz::hook_counts& n = rig_.queue->counts;
    PDM_FUZZ_CHECK(n.load_done == n.load_prepare_ok, where + "regs' load_done ran " + std::to_string(n.load_done) +
                                                         " times, its load_prepare succeeded " +
                                                         std::to_string(n.load_prepare_ok) + " times");
    PDM_FUZZ_CHECK(n.load_prepare <= 1 && n.load <= n.load_prepare_ok, where + "regs' load ran without a load_prepare");
    PDM_FUZZ_CHECK(n.save_prepare == 0 && n.save == 0 && n.save_done == 0, where + "a load ran save hooks");
    const snapshot after = rig_.take();
    if (!s) {
      const pdm::error& e = s.error_value();
      PDM_FUZZ_CHECK(loader_code(e.code(), static_cast<bool>(options.progress)),
                     where + "an unexpected code: " + e.message());
      PDM_FUZZ_CHECK(!e.detail().empty(), where + "an error without a detail: " + e.message());
      PDM_FUZZ_CHECK(after == before, where + "the load failed (" + e.message() + ") and changed a driver's state");
      return;
    }
    PDM_FUZZ_CHECK(records_.has_value(), where + "the VM loaded a stream pdm::state_stream_reader refuses");
    for (std::size_t i = 0; i < unit_count; ++i) {
      const pdm_fuzz::unit_id& u = rig_.units[i];
      const record* rec = find_unit(*records_, u);
      if (i == pdm_fuzz::regs_unit) {
        PDM_FUZZ_CHECK(n.load == (rec != nullptr ? 1 : 0), where + "regs' load ran " + std::to_string(n.load) +
                                                               " times, the stream has it " +
                                                               (rec != nullptr ? "once" : "not"));
      }
      if (rec == nullptr) {
        PDM_FUZZ_CHECK(options.missing_unit == pdm::missing_unit_policy::keep,
                       where + "the load succeeded without unit " + u.name);
        PDM_FUZZ_CHECK(after.units[i] == before.units[i],
                       where + "unit " + u.name + " is not in the stream, yet changed");
        continue;
      }
      PDM_FUZZ_CHECK(rec->version <= u.version, where + "a unit newer than its driver loaded: " + u.name);
      if (rec->version == u.version) {
        PDM_FUZZ_CHECK(after.units[i] == rec->data,
                       where + "unit " + u.name + " loaded into a state that does not encode to its bytes");
      }
    }
    if (options.unknown_unit == pdm::unknown_unit_policy::fail) {
      for (const record& rec : *records_) {
        bool known = false;
        for (const pdm_fuzz::unit_id& u : rig_.units)
          known = known || (rec.name == u.name && rec.instance == u.instance);
        PDM_FUZZ_CHECK(known, where + "the load succeeded with unit '" + rec.name + "', which nothing registered");
      }
    }
    if (round_tripped_ != after) round_trip(after, where);
  }

  // Saves, loads into a fresh VM, saves again: the same states, the same bytes.
  void round_trip(const snapshot& state, const std::string& where) {
    rig_.queue->counts = {};
    std::vector<std::byte> saved;
    pdm::status s = rig_.vm.save_state(saved);
    PDM_FUZZ_CHECK(s, where + "saving the loaded state failed: " + describe(s));
    const pdm_fuzz::hook_counts& n = rig_.queue->counts;
    PDM_FUZZ_CHECK(n.save_prepare == 1 && n.save == 1 && n.save_done == 1 && n.load_prepare == 0,
                   where + "a save ran regs' hooks other than once each save hook");
    PDM_FUZZ_CHECK(rig_.take() == state, where + "saving changed a state");
    pdm_fuzz::rig fresh;
    s = fresh.vm.load_state(saved);
    PDM_FUZZ_CHECK(s, where + "a fresh VM refuses the re-saved stream: " + describe(s));
    PDM_FUZZ_CHECK(fresh.take() == state, where + "the re-saved stream loads into different states");
    std::vector<std::byte> again;
    s = fresh.vm.save_state(again);
    PDM_FUZZ_CHECK(s && again == saved, where + "saving the re-loaded state gave other bytes");
    round_tripped_ = state;
  }

  pdm_fuzz::rig& rig_;
  std::optional<std::vector<record>> records_;
  std::optional<snapshot> round_tripped_;  // the last state that went through round_trip()
};

// The file of the file reader's turn, made once and rewritten for each input: a memfd reached
// through /proc/self/fd on Linux (nothing left behind, and four times cheaper than creating and
// removing a file per input), a file in the temporary directory elsewhere.
class scratch_file {
 public:
  scratch_file() {
#if defined(__linux__)
    fd_ = ::memfd_create("pdm-fuzz-state-loader", 0);
    if (fd_ >= 0) path_ = "/proc/self/fd/" + std::to_string(fd_);
#endif
    if (fd_ < 0) {
      std::error_code ec;
      std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
      if (ec) dir = "/tmp";
      path_ = (dir / ("pdm-fuzz-state-loader-" + std::to_string(::getpid()) + ".bin")).string();
      fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      remove_ = true;
    }
    PDM_FUZZ_CHECK(fd_ >= 0, "cannot make a scratch file: " + std::string(std::strerror(errno)));
  }
  scratch_file(const scratch_file&) = delete;
  scratch_file& operator=(const scratch_file&) = delete;
  scratch_file(scratch_file&&) = delete;
  scratch_file& operator=(scratch_file&&) = delete;
  ~scratch_file() {
    ::close(fd_);
    if (remove_) ::unlink(path_.c_str());
  }

  // The file now holds exactly `in`.
  void hold(std::span<const std::byte> in) const {
    bool written = ::ftruncate(fd_, 0) == 0;
    for (std::size_t at = 0; written && at < in.size();) {
      const ::ssize_t n = ::pwrite(fd_, in.data() + at, in.size() - at, static_cast<::off_t>(at));
      written = n > 0;
      if (written) at += static_cast<std::size_t>(n);
    }
    PDM_FUZZ_CHECK(written, "cannot write " + path_ + ": " + std::strerror(errno));
  }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
  bool remove_ = false;
};

}  // namespace

int pdm_fuzz_state_loader(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  pdm_fuzz::rig r;
  session t(r, in);

  const pdm::status strict = t.load({}, "default", [&] { return r.vm.load_state(in); });

  pdm::load_options lenient;
  lenient.unknown_unit = pdm::unknown_unit_policy::skip;
  lenient.missing_unit = pdm::missing_unit_policy::keep;
  const snapshot before_lenient = r.take();
  const pdm::status relaxed = t.load(lenient, "lenient", [&] { return r.vm.load_state(in, lenient); });
  PDM_FUZZ_CHECK(!strict || relaxed,
                 "the default options load the stream, the lenient ones refuse it: " + describe(relaxed));
  if (strict) PDM_FUZZ_CHECK(r.take() == before_lenient, "loading the same stream twice changed a state");

  // The same stream from a file: the same outcome and code, and (a load being idempotent) the
  // same states.
  static const scratch_file file;
  file.hold(in);
  const snapshot before_file = r.take();
  const pdm::status from_file =
      t.load(lenient, "file", [&] { return r.vm.load_state(pdm::state_file{file.path()}, lenient); });
  PDM_FUZZ_CHECK(static_cast<bool>(from_file) == static_cast<bool>(relaxed),
                 "from memory: " + describe(relaxed) + "; from a file: " + describe(from_file));
  PDM_FUZZ_CHECK(from_file || from_file.error_value().code() == relaxed.error_value().code(),
                 "from memory: " + describe(relaxed) + "; from a file: " + describe(from_file));
  PDM_FUZZ_CHECK(r.take() == before_file, "loading the stream from a file changed a state loaded from memory");

  // Default options with a progress callback that checks every report and cancels after the
  // k-th unit (k = 1 to 4, from the input's size): the load is either cancelled, changing nothing,
  // or ends as the first one did.
  const std::size_t cancel_at = size % 4 + 1;
  std::size_t reports = 0;
  std::uint64_t last_bytes = 0;
  pdm::load_options cancelling;
  cancelling.progress = [&](const pdm::state_progress& p) {
    ++reports;
    PDM_FUZZ_CHECK(p.units_done == reports && p.units_total == 0 && p.bytes_total == size &&
                       p.bytes_done > last_bytes && p.bytes_done <= p.bytes_total,
                   "progress report " + std::to_string(reports) + ": units " + std::to_string(p.units_done) + "/" +
                       std::to_string(p.units_total) + ", bytes " + std::to_string(p.bytes_done) + "/" +
                       std::to_string(p.bytes_total) + " (the last had " + std::to_string(last_bytes) + ")");
    last_bytes = p.bytes_done;
    return reports < cancel_at;
  };
  const pdm::status cancelled = t.load(cancelling, "cancelling", [&] { return r.vm.load_state(in, cancelling); });
  if (reports == cancel_at) {
    PDM_FUZZ_CHECK(!cancelled && cancelled.error_value() == pdm::errc::cancelled,
                   "the progress callback cancelled the load, which ended with: " + describe(cancelled));
  } else {
    PDM_FUZZ_CHECK(static_cast<bool>(cancelled) == static_cast<bool>(strict) &&
                       (cancelled || cancelled.error_value().code() == strict.error_value().code()),
                   "with a progress callback: " + describe(cancelled) + "; without: " + describe(strict));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return pdm_fuzz_state_loader(data, size);
}

#if defined(PDM_FUZZ_LIBFUZZER)
// A mutator that gets past the checksums: libFuzzer's own mutation, then, for 7 mutants in 8, every
// checksum of the stream recomputed (the header's, each unit header's and data's, the end
// marker's, and its unit count), as far as the records can still be walked. Without it nearly
// every mutant dies at a CRC-32C, and the unit decoders, the drivers' load code and the VM's
// all-or-nothing logic are seldom reached; with it the fuzzer spends most of its time there.
// Only in the libFuzzer build: LLVMFuzzerMutate is libFuzzer's.
extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

std::uint64_t get_le(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = (v << 8U) | p[i];
  return v;
}
void set_le(std::uint8_t* p, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>((v >> (8U * i)) & 0xFFU);
}
std::uint32_t crc(const std::uint8_t* p, std::size_t n) {
  return pdm::detail::crc32c(std::span<const std::byte>(reinterpret_cast<const std::byte*>(p), n));
}

// Recomputes the checksums of the stream in data[0, size), from the start to the first record
// that cannot be walked (the layout is in pdm/services/state_stream.hpp).
void fix_checksums(std::uint8_t* data, std::size_t size) {
  if (size < 16) return;
  set_le(data + 12, crc(data, 12), 4);
  std::size_t at = 16;
  std::uint32_t units = 0;
  while (size - at >= 12) {
    std::uint8_t* p = data + at;
    const std::size_t left = size - at;
    if (get_le(p, 4) == 0x21444E45U) {  // "END!"
      set_le(p + 4, units, 4);
      set_le(p + 8, crc(p, 8), 4);
      return;
    }
    if (get_le(p, 4) != 0x54494E55U) return;  // not "UNIT"
    const std::size_t name = get_le(p + 12, 2);
    if (left < 14 + name + 12) return;
    const std::uint64_t length = get_le(p + 14 + name, 8);
    set_le(p + 22 + name, crc(p, 22 + name), 4);
    if (length > left - (26 + name) || left - (26 + name) - length < 4) return;
    const std::size_t n = static_cast<std::size_t>(length);
    set_le(p + 26 + name + n, crc(p + 26 + name, n), 4);
    at += 26 + name + n + 4;
    ++units;
  }
}

}  // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  if (seed % 8 != 0) fix_checksums(data, size);
  return size;
}
#endif
