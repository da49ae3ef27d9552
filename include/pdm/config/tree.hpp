// pdm/config/tree.hpp - the config tree: named nodes holding named, typed values.
//
// The tree is what drivers are configured from (VirtualBox's layout: `Devices/<device>/<n>/LUN#<n>/
// Driver`, `.../Config/...`, `.../AttachedDriver/...`). Each node holds entries, each either a
// value or a child node; one name is one entry, so a node never has a value and a child of the same
// name (which JSON could not represent). Entries enumerate in insertion order, which a JSON round
// trip keeps.
//
// Look-up: every tree keeps one hash table (the tree's index) over all its entries, keyed by the
// hash of each entry's full path. Every node caches its own full path and the state of the hash
// after it, so finding `a/b/c/Value` below a node hashes the relative path once, continuing from
// the node's state, probes the table once and checks the candidate's full path in place: the cost
// does not grow with the depth or with the number of siblings. Finding one name in a node is the
// same probe.
//
// A driver's `Config` node is a restricted root: `parent()` refuses to leave it, so a driver sees
// its own configuration and nothing above it. Paths in errors are always full paths from the tree's
// root, so a message says exactly where the problem is.
//
// Memory (64-bit, libstdc++; a name or path longer than 15 bytes adds a heap block of its size):
//   - a node: 144 bytes: parent and index pointers, name, cached
//     full path, hash state (32 bytes), entries, flag; plus the path on the heap when it is longer
//     than 15 bytes. Cached paths add up to O(nodes x depth), bounded by the 64-level limit.
//   - an entry (value or child node): 104 bytes in its node's vector: name, value,
//     child, owner, and its name's first and last 8 bytes (the full-path hash is not kept: it is
//     recomputed when the index changes); plus its 16-byte slot in the index, at a load between 1/4
//     and 1/2: 32 to 64 bytes.
//   - a tree: 16 bytes, and its index: 48 bytes and 8 slots (128 bytes) while small.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "pdm/config/value.hpp"
#include "pdm/core/error.hpp"

namespace pdm {

class config_node;
class config_tree;

/// \brief How config_node::merge treats a value present on both sides.
enum class value_merge : std::uint8_t {
  replace,        ///< the source's value wins
  keep_existing,  ///< the destination's value stays
  fail,           ///< the merge fails with `already_exists` and changes nothing
};
/// \brief How config_node::merge treats a child node present on both sides.
enum class child_merge : std::uint8_t {
  merge,          ///< merge the two nodes' entries, recursively, with the same options
  replace,        ///< the source's subtree replaces the destination's
  keep_existing,  ///< the destination's subtree stays
  fail,           ///< the merge fails with `already_exists` and changes nothing
};
/// \brief Options of config_node::merge. A value on one side and a node of the same name on the
/// other counts as a conflict of the source's kind (a source value follows `values`, a source node
/// follows `children`; `merge` then means the source's node replaces the value).
struct merge_options {
  value_merge values = value_merge::replace;
  child_merge children = child_merge::merge;
};

namespace detail {

[[nodiscard]] constexpr std::uint64_t byte_swap(std::uint64_t x) noexcept {
  std::uint64_t r = 0;
  for (int i = 0; i < 8; ++i, x >>= 8U) r = (r << 8U) | (x & 0xFFU);
  return r;
}

// The 8 bytes at p as a little-endian word: byte i at bits 8i..8i+7, whatever the machine.
[[nodiscard]] inline std::uint64_t load_word(const char* p) noexcept {
  std::uint64_t w = 0;
  std::memcpy(&w, p, 8);
  if constexpr (std::endian::native == std::endian::big) w = byte_swap(w);
  return w;
}
[[nodiscard]] inline std::uint64_t load_half(const char* p) noexcept {
  std::uint32_t w = 0;
  std::memcpy(&w, p, 4);
  if constexpr (std::endian::native == std::endian::big) return byte_swap(w) >> 32U;
  return w;
}

// The n < 8 bytes at p packed as load_word would (byte i at bits 8i.., zero above), without a byte
// loop (which the compilers turn into byte stores and a wide reload: a store-forwarding stall):
// overlapping loads, whose common bytes land on the same bits.
[[nodiscard, gnu::always_inline]] inline std::uint64_t pack_bytes(const char* p, std::size_t n) noexcept {
  if (n >= 4) return load_half(p) | (load_half(p + n - 4) << (8 * (n - 4)));
  if (n == 0) return 0;
  const auto b = [p](std::size_t i) { return static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])); };
  return b(0) | (b(n / 2) << (8 * (n / 2))) | (b(n - 1) << (8 * (n - 1)));
}

// The n bytes at a and b are equal, inline for the usual short runs (no call to memcmp) and
// without a byte loop: from 16 bytes on, 16 at a time (GNU vector extensions, which g++ and clang++
// turn into SSE2 compares), overlapping at the end.
#if defined(__GNUC__)
using bytes16 = char __attribute__((vector_size(16)));
#endif
[[nodiscard, gnu::always_inline]] inline bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
  const auto diff = [a, b](std::size_t i) { return load_word(a + i) ^ load_word(b + i); };
  if (n >= 16) {
    if (n > 128) return std::memcmp(a, b, n) == 0;
#if defined(__GNUC__)
    const auto diff16 = [a, b](std::size_t i) {
      bytes16 x;
      bytes16 y;
      std::memcpy(&x, a + i, 16);
      std::memcpy(&y, b + i, 16);
      return x ^ y;
    };
    bytes16 d = diff16(n - 16);
    for (std::size_t i = 0; i + 16 < n; i += 16) d |= diff16(i);
    std::uint64_t w[2];
    std::memcpy(w, &d, 16);
    return (w[0] | w[1]) == 0;
#else
    std::uint64_t d = diff(n - 16) | diff(n - 8);
    for (std::size_t i = 0; i + 16 < n; i += 16) d |= diff(i) | diff(i + 8);
    return d == 0;
#endif
  }
  if (n >= 8) return (diff(0) | diff(n - 8)) == 0;
  return pack_bytes(a, n) == pack_bytes(b, n);
}

// A name's first and last 8 bytes, laid out as a longer string that ends with the name holds
// them: `last` is the word ending with the name's last byte, the bytes before the name masked to
// zero; `first` is the word starting with its first byte (0 for names under 8 bytes). An entry
// keeps its name's key, so checking the end of a query against the name needs no pointer to be
// followed (which is most of the cost of a look-up's check).
struct name_key {
  std::uint64_t first = 0;
  std::uint64_t last = 0;

  [[nodiscard]] static name_key of(std::string_view name) noexcept {
    const std::size_t n = name.size();
    if (n >= 8) return {load_word(name.data()), load_word(name.data() + n - 8)};
    return {0, pack_bytes(name.data(), n) << ((64 - 8 * n) & 63U)};
  }
  // True if the n = name.size() > 0 bytes before `end` are `name` (whose key this is); `avail`
  // (at least n) bytes before `end` may be read.
  [[nodiscard, gnu::always_inline]] bool ends(const char* end, std::size_t avail,
                                              const std::string& name) const noexcept {
    const std::size_t n = name.size();
    if (n >= 8) {
      if (((load_word(end - 8) ^ last) | (load_word(end - n) ^ first)) != 0) return false;
      return n <= 16 || same_bytes(name.data() + 8, end - n + 8, n - 16);
    }
    const std::uint64_t tail =
        avail >= 8 ? load_word(end - 8) & (~std::uint64_t{0} << (64 - 8 * n)) : pack_bytes(end - n, n) << (64 - 8 * n);
    return tail == last;
  }
};

// A streaming hash of a byte string, 8 bytes per step: feeding a string in pieces gives the same
// value as feeding it whole, wherever the pieces split it (the state keeps the bytes of an
// unfinished word). Each 8-byte word is multiplied on its own, off the critical path, and folded
// into one of two lanes (alternately) with a rotate and an xor, so a path costs about one cycle of
// latency per word; a final multiply carries every bit into the top ones, which the index uses.
// Not cryptographic, not stable across releases, never stored outside memory.
class path_hash {
 public:
  /// Feeds `s`.
  void append(std::string_view s) noexcept { absorb(a_, b_, tail_, size_, s); }
  /// The hash of everything fed and then `more`; the state does not change.
  [[nodiscard, gnu::always_inline]] std::uint64_t finish(std::string_view more) const noexcept {
    std::uint64_t a = a_;
    std::uint64_t b = b_;
    std::uint64_t tail = tail_;
    std::size_t size = size_;
    absorb(a, b, tail, size, more);
    return finalize(a, b, tail, size);
  }
  /// The state after also feeding `name` and a '/'.
  [[nodiscard]] path_hash then(std::string_view name) const noexcept {
    path_hash h = *this;
    h.append(name);
    h.append("/");
    return h;
  }
  /// Bytes fed.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  [[nodiscard]] static std::uint64_t step(std::uint64_t h, std::uint64_t w) noexcept {
    return std::rotl(h, 29) ^ (w * 0x9E3779B97F4A7C15ULL);
  }
  // Word i goes to lane `a` and the lanes swap, so each lane's chain is every other word. On
  // locals, inlined, so the state stays in registers (through memory, every step would wait for a
  // store to forward).
  [[gnu::always_inline]] static void absorb(std::uint64_t& a, std::uint64_t& b, std::uint64_t& tail, std::size_t& size,
                                            std::string_view s) noexcept {
    const char* p = s.data();
    const char* const end = p + s.size();
    const std::size_t k = size & 7U;  // bytes already in tail
    size += s.size();
    if (k + s.size() < 8) {
      tail |= pack_bytes(p, s.size()) << (8 * k);
      return;
    }
    // The word that completes the pending bytes (what does not fit drops out), then whole words.
    const std::uint64_t first = s.size() >= 8 ? load_word(p) : pack_bytes(p, s.size());
    std::uint64_t x = step(a, tail | (first << (8 * k)));
    a = b;
    b = x;
    p += 8 - k;
    for (; end - p >= 16; p += 16) {  // two words: one per lane, the lanes stay as they are
      a = step(a, load_word(p));
      b = step(b, load_word(p + 8));
    }
    if (end - p >= 8) {
      x = step(a, load_word(p));
      a = b;
      b = x;
      p += 8;
    }
    // The last r < 8 bytes; from a long string, one load of its last word (no branches).
    const auto r = static_cast<std::size_t>(end - p);
    tail = s.size() >= 8 ? (load_word(end - 8) >> 1U) >> (63 - 8 * r) : pack_bytes(p, r);
  }
  // Lane `a` (the one that took the most words) is used last: the rest is ready by then. The
  // multiply carries every input bit into the top bits, which the index uses.
  [[nodiscard]] static std::uint64_t finalize(std::uint64_t a, std::uint64_t b, std::uint64_t tail,
                                              std::size_t size) noexcept {
    return (std::rotl(a, 29) ^ ((tail * 0x9E3779B97F4A7C15ULL) ^ std::rotl(b, 41) ^ size)) * 0xD6E8FEB86659FD93ULL;
  }
  std::uint64_t a_ = 0x243F6A8885A308D3ULL;  // the lane of the next word
  std::uint64_t b_ = 0x13198A2E03707344ULL;
  std::uint64_t tail_ = 0;  // the last size_ % 8 bytes, packed
  std::size_t size_ = 0;
};

// The error of a change that would make a tree deeper than config_limits::max_depth.
[[nodiscard]] inline error depth_error(const std::string& path) {
  return error(errc::nesting_too_deep, "a tree is at most 64 nodes deep").path(path);
}

// Splits "a/b/c" into the node path "a/b" and the last name "c".
[[nodiscard]] inline std::pair<std::string_view, std::string_view> split_last(std::string_view path) noexcept {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view{}, path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

[[nodiscard]] inline std::string join_path(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!out.empty() && !b.empty()) out += '/';
  out += b;
  return out;
}

}  // namespace detail

/// \brief One node of a config tree. Nodes are owned by their parent (the root by a config_tree)
/// and never move, so references and pointers to them stay valid until the node is removed.
class config_node {
  struct entry {
    std::string name;
    config_value value;                 // meaningful when node is null
    std::unique_ptr<config_node> node;  // a child node, or null for a value
    config_node* owner;                 // the node holding the entry
    detail::name_key key;               // of the name: checks it in place
  };

  // One slot of the tree's index. Entries sit in their node's vector: when it grows or an entry
  // before them goes, they move, and their slots are pointed at their new places.
  struct slot {
    std::uint64_t hash = 0;  // of the entry's full path
    entry* e = nullptr;      // null: the slot is empty
  };

  // The tree's index: every entry of the tree (values and nodes, not the root), keyed by the hash
  // of its full path. Open addressing with linear probing, a power-of-two capacity, load at most
  // 1/2, backward-shift deletion (no tombstones). The tree owns it; every node points to it.
  class tree_index {
   public:
    tree_index() : slots_(min_capacity) {}

    [[nodiscard]] std::size_t size() const noexcept { return used_; }
    // Counts changes to the tree (see config_node::version()).
    std::uint64_t version = 0;
    // Room for `n` entries in all: may allocate and rehash; afterwards `n - size()` inserts cannot fail.
    void reserve(std::size_t n) {
      if (n * 2 <= slots_.size()) return;
      std::vector<slot> old(std::bit_ceil(n * 2));
      old.swap(slots_);
      mask_ = slots_.size() - 1;
      shift_ = 64 - static_cast<unsigned>(std::countr_zero(slots_.size()));
      for (const slot& s : old) {
        if (s.e != nullptr) place(s);
      }
    }
    // The first slot with hash `h` whose entry `match` accepts, or null.
    template <class Match>
    [[nodiscard]] const slot* find(std::uint64_t h, const Match& match) const noexcept {
      for (std::size_t i = home(h);; i = (i + 1) & mask_) {
        const slot& s = slots_[i];
        if (s.e == nullptr) return nullptr;
        if (s.hash == h && match(*s.e)) return &s;
      }
    }
    // Adds entry `e` whose full path hashes to `h`; room must have been reserved.
    void insert(std::uint64_t h, entry& e) noexcept {
      place(slot{h, &e});
      ++used_;
    }
    // The slot of the entry at `e`, whose full path hashes to `h`; it must be in the index.
    [[nodiscard]] slot& slot_of(std::uint64_t h, const entry* e) noexcept {
      for (std::size_t i = home(h);; i = (i + 1) & mask_) {
        if (slots_[i].e == e) return slots_[i];
      }
    }
    // Removes a slot, moving later slots of the probe run back into the hole.
    void erase(slot& s) noexcept {
      auto hole = static_cast<std::size_t>(&s - slots_.data());
      for (std::size_t i = (hole + 1) & mask_;; i = (i + 1) & mask_) {
        const slot& next = slots_[i];
        if (next.e == nullptr) break;
        // `next` may fill the hole unless its home lies cyclically in (hole, i].
        if (((i - home(next.hash)) & mask_) >= ((i - hole) & mask_)) {
          slots_[hole] = next;
          hole = i;
        }
      }
      slots_[hole] = slot{};
      --used_;
    }

   private:
    static constexpr std::size_t min_capacity = 8;
    void place(const slot& s) noexcept {
      std::size_t i = home(s.hash);
      while (slots_[i].e != nullptr) i = (i + 1) & mask_;
      slots_[i] = s;
    }
    std::vector<slot> slots_;
    // A slot's home is the top bits of its hash (the hash ends with a multiply: they mix best).
    [[nodiscard]] std::size_t home(std::uint64_t h) const noexcept { return static_cast<std::size_t>(h >> shift_); }
    std::size_t mask_ = min_capacity - 1;
    unsigned shift_ = 64 - 3;  // 64 - log2(capacity)
    std::size_t used_ = 0;
  };

 public:
  config_node(const config_node&) = delete;
  config_node& operator=(const config_node&) = delete;
  config_node(config_node&&) = delete;  // children point at their parent: nodes never move
  config_node& operator=(config_node&&) = delete;
  ~config_node() = default;

  // ---- identity and navigation ------------------------------------------------------------

  /// \brief The node's name (empty for a tree's root).
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// \brief The full path from the tree's root, e.g. `Devices/serial/0/LUN#0/Config` (empty for the root).
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// \brief The parent node; `no_parent` at the tree's root and at a restricted root.
  [[nodiscard]] result<config_node*> parent() noexcept { return parent_impl<config_node>(this); }
  [[nodiscard]] result<const config_node*> parent() const noexcept { return parent_impl<const config_node>(this); }
  /// \brief Makes this node a restricted root (or not): parent() then refuses to leave it.
  void set_restricted_root(bool restricted = true) noexcept { restricted_ = restricted; }
  /// \brief A number that changes whenever anything in this node's tree is added, removed,
  /// replaced or set (not when a restricted flag changes): a cache of something read from the
  /// tree is current while the version it was read at is.
  [[nodiscard]] std::uint64_t version() const noexcept { return index_->version; }
  [[nodiscard]] bool is_restricted_root() const noexcept { return restricted_; }
  /// \brief Nodes between this one and the tree's root (0 for the root).
  [[nodiscard]] std::size_t depth() const noexcept {
    std::size_t d = 0;
    for (const config_node* n = parent_; n != nullptr; n = n->parent_) ++d;
    return d;
  }

  // ---- enumeration (insertion order) ------------------------------------------------------

  /// \brief A read-only view of one entry: its name and either a value or a child node.
  class entry_ref {
   public:
    explicit entry_ref(const entry& e) noexcept : e_(&e) {}
    [[nodiscard]] const std::string& name() const noexcept { return e_->name; }
    [[nodiscard]] bool is_node() const noexcept { return e_->node != nullptr; }
    /// \brief The value; precondition: !is_node().
    [[nodiscard]] const config_value& value() const noexcept { return e_->value; }
    /// \brief The child node; precondition: is_node().
    [[nodiscard]] const config_node& node() const noexcept { return *e_->node; }

   private:
    const entry* e_;
  };

  /// \brief A range over the entries of a node, optionally only its children or only its values.
  template <class Node, int Filter>  // Filter: 0 all entries, 1 children, 2 values
  class entry_range {
   public:
    using entries_t = std::conditional_t<std::is_const_v<Node>, const std::vector<entry>, std::vector<entry>>;
    class iterator {
     public:
      using iterator_category = std::forward_iterator_tag;
      using difference_type = std::ptrdiff_t;
      using value_type = std::conditional_t<Filter == 1, Node, entry_ref>;
      using reference = std::conditional_t<Filter == 1, Node&, entry_ref>;
      using pointer = void;
      iterator() = default;
      iterator(entries_t* v, std::size_t i) noexcept : v_(v), i_(i) { skip(); }
      reference operator*() const noexcept {
        if constexpr (Filter == 1) {
          return *(*v_)[i_].node;
        } else {
          return entry_ref((*v_)[i_]);
        }
      }
      iterator& operator++() noexcept {
        ++i_;
        skip();
        return *this;
      }
      iterator operator++(int) noexcept {  // NOLINT(cert-dcl21-cpp): the standard iterator form
        iterator t = *this;
        ++*this;
        return t;
      }
      friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.i_ == b.i_; }

     private:
      void skip() noexcept {
        if constexpr (Filter != 0) {
          while (i_ < v_->size() && (((*v_)[i_].node != nullptr) != (Filter == 1))) ++i_;
        }
      }
      entries_t* v_ = nullptr;
      std::size_t i_ = 0;
    };
    explicit entry_range(entries_t& v) noexcept : v_(&v) {}
    [[nodiscard]] iterator begin() const noexcept { return iterator(v_, 0); }
    [[nodiscard]] iterator end() const noexcept { return iterator(v_, v_->size()); }

   private:
    entries_t* v_;
  };

  /// \brief Every entry, values and children, in insertion order.
  [[nodiscard]] entry_range<const config_node, 0> entries() const noexcept {
    return entry_range<const config_node, 0>(entries_);
  }
  /// \brief The child nodes, in insertion order.
  [[nodiscard]] entry_range<config_node, 1> children() noexcept { return entry_range<config_node, 1>(entries_); }
  [[nodiscard]] entry_range<const config_node, 1> children() const noexcept {
    return entry_range<const config_node, 1>(entries_);
  }
  /// \brief The values, in insertion order.
  [[nodiscard]] entry_range<const config_node, 2> values() const noexcept {
    return entry_range<const config_node, 2>(entries_);
  }
  /// \brief Number of entries (values and children).
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

  // ---- look-up ------------------------------------------------------------------------------

  /// \brief The child node at `path` (e.g. `Devices/serial/0`), or nullptr.
  [[nodiscard]] config_node* find_child(std::string_view path) noexcept {
    return const_cast<config_node*>(std::as_const(*this).find_child(path));  // NOLINT(*-const-cast)
  }
  [[nodiscard]] const config_node* find_child(std::string_view path) const noexcept {
    const entry* e = find_path(path);
    return e == nullptr ? nullptr : e->node.get();
  }
  /// \brief The child node at `path`, or `child_not_found` (or `invalid_name`) with the full path.
  [[nodiscard]] result<config_node*> child(std::string_view path) {
    if (config_node* n = find_child(path)) return n;
    return lookup_error(path, false);
  }
  [[nodiscard]] result<const config_node*> child(std::string_view path) const {
    if (const config_node* n = find_child(path)) return n;
    return lookup_error(path, false);
  }
  /// \brief The value at `path` (e.g. `Config/Path`), or nullptr.
  [[nodiscard]] const config_value* find_value(std::string_view path) const noexcept {
    const entry* e = find_path(path);
    return e == nullptr || e->node != nullptr ? nullptr : &e->value;
  }
  /// \brief The entry (value or child node) called `name` in this node, if any; `name` is one
  /// name, not a path.
  [[nodiscard]] std::optional<entry_ref> find(std::string_view name) const noexcept {
    if (const entry* e = find_entry(name)) return entry_ref(*e);
    return std::nullopt;
  }
  /// \brief True if a value exists at `path`.
  [[nodiscard]] bool has_value(std::string_view path) const noexcept { return find_value(path) != nullptr; }
  /// \brief True if a child node exists at `path`.
  [[nodiscard]] bool has_child(std::string_view path) const noexcept { return find_child(path) != nullptr; }

  /// \brief The value at `path` as T (an integer type, bool, std::string, config_bytes or
  /// config_value), checked: `value_not_found`, `wrong_type`, `integer_too_big`, `integer_too_small`,
  /// each with the value's full path.
  template <class T>
  [[nodiscard]] result<T> get(std::string_view path) const {
    const config_value* v = find_value(path);
    if (v == nullptr) return lookup_error(path, true);
    result<T> r = v->as<T>();
    if (!r) return std::move(r).error_value().path(full_path(path));
    return r;
  }
  /// \brief As get<T>, but a missing value (or a missing node on the way to it) gives `fallback`;
  /// a value of the wrong type or out of range is still an error.
  template <class T>
  [[nodiscard]] result<T> get_or(std::string_view path, T fallback) const {
    const config_value* v = find_value(path);
    if (v == nullptr) {
      error e = lookup_error(path, true);
      if (e == errc::value_not_found || e == errc::child_not_found) return fallback;
      return e;
    }
    return read_as<T>(*v, path);
  }

  /// \brief As get_or<std::string>, for a string literal fallback.
  [[nodiscard]] result<std::string> get_or(std::string_view path, const char* fallback) const {
    return get_or<std::string>(path, std::string(fallback));
  }

  // ---- changes ------------------------------------------------------------------------------

  /// \brief Adds a child node `name` (or the last node of a path whose other nodes exist);
  /// `already_exists` if anything has that name.
  result<config_node*> add_child(std::string_view path) {
    const auto [dir, name] = detail::split_last(path);
    result<config_node*> at = dir.empty() ? result<config_node*>(this) : child(dir);
    if (!at) return std::move(at).error_value();
    return (*at)->add_entry_node(name);
  }
  /// \brief The child node at `path`, creating every missing node on the way (like `mkdir -p`);
  /// `wrong_type` if a value is in the way; all or nothing (names and depth are checked first).
  result<config_node*> ensure_child(std::string_view path) {
    if (path.empty()) return bad_name(path, "an empty path");
    // Walk what exists, then check every missing name and the depth before creating anything.
    config_node* n = this;
    for (;;) {
      const std::size_t slash = path.find('/');
      const std::string_view name = path.substr(0, slash);
      const entry* e = n->find_entry(name);
      if (e == nullptr) break;
      if (e->node == nullptr)
        return error(errc::wrong_type, "a value is in the way of a node").path(n->full_path(name));
      n = e->node.get();
      if (slash == std::string_view::npos) return n;
      path.remove_prefix(slash + 1);
    }
    std::size_t missing = 0;
    for (std::string_view rest = path;; ++missing) {
      const std::size_t slash = rest.find('/');
      const std::string_view name = rest.substr(0, slash);
      if (std::string_view p = pdm::name_problem(name); !p.empty()) return n->bad_name(name, p);
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    if (n->depth() + missing + 1 > config_limits::max_depth) {
      return detail::depth_error(n->full_path(path));
    }
    for (;;) {
      const std::size_t slash = path.find('/');
      result<config_node*> added = n->add_entry_node(path.substr(0, slash));
      if (!added) return added;  // only on a broken invariant: every name was checked
      n = *added;
      if (slash == std::string_view::npos) return n;
      path.remove_prefix(slash + 1);
    }
  }
  /// \brief Adds a value at `path` (its nodes must exist); `already_exists` if the name is taken.
  status add_value(std::string_view path, config_value v) { return put_value(path, std::move(v), false); }
  /// \brief Sets a value at `path`, replacing a value of any kind there (its nodes must exist);
  /// `wrong_type` if a child node has that name.
  status set_value(std::string_view path, config_value v) { return put_value(path, std::move(v), true); }
  /// \brief Removes the value at `path`; `value_not_found` if there is none.
  status remove_value(std::string_view path) { return remove_entry(path, false); }
  /// \brief Removes the child node at `path` and its whole subtree; `child_not_found` if there is none.
  status remove_child(std::string_view path) { return remove_entry(path, true); }
  /// \brief Removes every entry.
  void clear() noexcept {
    unindex_entries();
    entries_.clear();
  }

  /// \brief Moves a whole tree in as the child `name`; `already_exists` if the name is taken.
  status adopt(std::string_view name, config_tree&& subtree);
  /// \brief Replaces every entry of this node with the entries of `contents`' root, moved in: this
  /// node keeps its identity, name, parent and restricted flag; what was below it is destroyed.
  /// All or nothing (`nesting_too_deep`, or `invalid_argument` for a tree's own contents).
  status assign(config_tree&& contents);
  /// \brief As assign(config_tree&&), with a deep copy of `from`'s entries (`from` may be anywhere,
  /// even below this node).
  status assign(const config_node& from);
  /// \brief A deep copy of this node's subtree as a new tree (its root has no name and no parent;
  /// restricted roots below it stay restricted).
  [[nodiscard]] config_tree clone() const;
  /// \brief Merges `from`'s entries into this node, recursively; all or nothing: a conflict under
  /// a `fail` policy is found before anything changes. Nodes that are merged keep their identity
  /// (pointers to them stay valid); replaced nodes and values are destroyed. `from` may be
  /// anywhere, even in this node's own tree.
  status merge(const config_node& from, merge_options options = {});

  /// \brief The subtree as indented text, one entry per line: `Name = value` and `Name/` for nodes.
  [[nodiscard]] std::string dump() const {
    std::string out;
    dump_into(out, 0);
    return out;
  }

  /// \brief The full path of `relative`, seen from this node (for error messages).
  [[nodiscard]] std::string full_path(std::string_view relative) const { return detail::join_path(path(), relative); }

  /// \brief Structural equality: same entries in the same order with equal values.
  friend bool operator==(const config_node& a, const config_node& b) noexcept {
    if (a.entries_.size() != b.entries_.size()) return false;
    for (std::size_t i = 0; i < a.entries_.size(); ++i) {
      const entry& x = a.entries_[i];
      const entry& y = b.entries_[i];
      if (x.name != y.name || (x.node == nullptr) != (y.node == nullptr)) return false;
      if (x.node != nullptr ? !(*x.node == *y.node) : !(x.value == y.value)) return false;
    }
    return true;
  }

 private:
  friend class config_tree;
  // A tree's root.
  explicit config_node(tree_index* index) noexcept : index_(index) {}
  // A new child `name` of `parent`, not yet among its entries.
  config_node(config_node* parent, std::string_view name)
      : parent_(parent),
        index_(parent->index_),
        name_(name),
        path_(detail::join_path(parent->path_, name)),
        prefix_(parent->prefix_.then(name)) {}

  template <class Node, class Self>
  static result<Node*> parent_impl(Self* self) noexcept {
    if (self->parent_ == nullptr) return error(errc::no_parent, "the tree's root has no parent");
    if (self->restricted_) return error(errc::no_parent, "a restricted root cannot see its parent").path(self->path());
    return self->parent_;
  }

  // True if entry `e` has the full path `path_/relative` (`relative` at the root), compared in
  // place: its node's cached path, then '/', then its name.
  [[nodiscard, gnu::always_inline]] bool has_full_path(const entry& e, std::string_view relative) const noexcept {
    const char* const end = relative.data() + relative.size();
    const std::size_t name_size = e.name.size();
    if (e.owner == this) return name_size == relative.size() && e.key.ends(end, relative.size(), e.name);
    // Any other owner must be below this node (so not the root): its full path is `theirs/name`,
    // to be equal to `mine relative` with `mine` this node's path and '/' (nothing at the root).
    // The query's side is addressed from the name's size alone (the name ends the query), so its
    // loads need not wait for the owner's.
    if (name_size >= relative.size()) return false;
    const std::size_t head = relative.size() - name_size - 1;  // relative = head '/' name
    const std::size_t mine = prefix_.size();
    const std::string& theirs = e.owner->path_;
    return relative[head] == '/' && e.key.ends(end, relative.size(), e.name) && theirs.size() == mine + head &&
           detail::same_bytes(theirs.data() + mine, relative.data(), head) &&
           (mine == 0 || (theirs[mine - 1] == '/' && detail::same_bytes(theirs.data(), path_.data(), mine - 1)));
  }

  // The entry at `relative`, a path below this node, or null: one hash of the relative path
  // (continuing from this node's state), one probe of the tree's index, and the candidate's full
  // path checked in place. Empty names, a leading or trailing '/', or a value on the way never
  // match: every indexed full path is made of valid names and goes through nodes only.
  // Nodes with a few entries (a driver's node: Driver, Config, AttachedDriver) are scanned for a
  // single name: comparing a handful of names costs less than hashing one.
  static constexpr std::size_t scan_limit = 6;
  [[nodiscard]] const entry* scan_entries(std::string_view name) const noexcept {
    for (const entry& e : entries_) {
      if (e.name.size() != name.size()) continue;
      std::size_t i = 0;  // names are short: a byte loop beats a call to memcmp
      while (i < name.size() && e.name[i] == name[i]) ++i;
      if (i == name.size()) return &e;
    }
    return nullptr;
  }

  [[nodiscard]] const entry* find_path(std::string_view relative) const noexcept {
    if (entries_.size() <= scan_limit && relative.find('/') == std::string_view::npos) return scan_entries(relative);
    const slot* s = index_->find(prefix_.finish(relative),
                                 [this, relative](const entry& e) noexcept { return has_full_path(e, relative); });
    return s == nullptr ? nullptr : s->e;
  }
  [[nodiscard]] entry* find_path(std::string_view relative) noexcept {
    return const_cast<entry*>(std::as_const(*this).find_path(relative));  // NOLINT(*-const-cast)
  }
  // The entry called `name` in this node, or null (a path finds nothing: the owner must be this node).
  [[nodiscard]] const entry* find_entry(std::string_view name) const noexcept {
    if (entries_.size() <= scan_limit) return scan_entries(name);
    const slot* s = index_->find(prefix_.finish(name), [this, name](const entry& e) noexcept {
      return e.owner == this && e.name.size() == name.size() &&
             e.key.ends(name.data() + name.size(), name.size(), e.name);
    });
    return s == nullptr ? nullptr : s->e;
  }
  [[nodiscard]] entry* find_entry(std::string_view name) noexcept {
    return const_cast<entry*>(std::as_const(*this).find_entry(name));  // NOLINT(*-const-cast)
  }

  // The index key of an entry of this node: the hash of its full path (not stored: recomputed
  // when the index is changed, which is rarer than looking up).
  [[nodiscard]] std::uint64_t key_of(const entry& e) const noexcept { return prefix_.finish(e.name); }

  // Room for `n` entries in entries_ (and for as many in the index). Growing moves the entries,
  // so their slots are pointed at the new places while the old ones still exist.
  void reserve_entries(std::size_t n) {
    index_->reserve(index_->size() + (n > entries_.size() ? n - entries_.size() : 0));
    if (n <= entries_.capacity()) return;
    std::vector<entry> bigger;
    bigger.reserve(std::max(n, entries_.capacity() * 2));
    for (entry& e : entries_) bigger.push_back(std::move(e));  // no reallocation, no throw
    for (std::size_t i = 0; i < entries_.size(); ++i) index_->slot_of(key_of(bigger[i]), &entries_[i]).e = &bigger[i];
    entries_.swap(bigger);
  }
  // Appends an entry (the name must be valid and free) and indexes it; `node` is null for a value.
  entry& append(std::string_view name, std::unique_ptr<config_node> node = nullptr) {
    ++index_->version;
    reserve_entries(entries_.size() + 1);
    entries_.push_back(entry{std::string(name), config_value{}, std::move(node), this, detail::name_key::of(name)});
    index_->insert(prefix_.finish(name), entries_.back());
    return entries_.back();
  }
  // Appends a new, empty child node (the name must be valid and free).
  config_node& append_node(std::string_view name) {
    std::unique_ptr<config_node> n(new config_node(this, name));
    return *append(name, std::move(n)).node;
  }

  // Takes every entry of this node's subtree out of the index (the entries themselves stay).
  void unindex_entries() noexcept {
    ++index_->version;
    for (const entry& e : entries_) {
      if (e.node != nullptr) e.node->unindex_entries();
      index_->erase(index_->slot_of(key_of(e), &e));
    }
  }
  // Removes entry `i` and its subtree; the entries after it move up one place, in the index too.
  void erase_entry(std::size_t i) noexcept {
    ++index_->version;
    const entry& e = entries_[i];
    if (e.node != nullptr) e.node->unindex_entries();
    index_->erase(index_->slot_of(key_of(e), &e));
    for (std::size_t j = i + 1; j < entries_.size(); ++j) {
      index_->slot_of(key_of(entries_[j]), &entries_[j]).e = &entries_[j - 1];
    }
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  // The nodes of this subtree with the full paths they get when this node's path becomes `path`,
  // parents before children (adopt computes them all before it changes anything).
  void collect_paths(std::string path, std::vector<std::pair<config_node*, std::string>>& out) {
    out.emplace_back(this, std::move(path));
    const std::size_t at = out.size() - 1;
    for (const entry& e : entries_) {
      if (e.node != nullptr) e.node->collect_paths(detail::join_path(out[at].second, e.name), out);
    }
  }

  [[nodiscard]] error bad_name(std::string_view name, std::string_view problem) const {
    std::string d(problem);
    if (!name.empty()) d += ": " + config_value::quote(name);
    return error(errc::invalid_name, std::move(d)).path(path());
  }

  result<config_node*> add_entry_node(std::string_view name) {
    if (std::string_view p = pdm::name_problem(name); !p.empty()) return bad_name(name, p);
    if (find_entry(name) != nullptr) return error(errc::already_exists).path(full_path(name));
    if (depth() + 1 > config_limits::max_depth) {
      return detail::depth_error(full_path(name));
    }
    return &append_node(name);
  }

  status put_value(std::string_view path, config_value v, bool replace) {
    const auto [dir, name] = detail::split_last(path);
    config_node* n = this;
    if (path.find('/') != std::string_view::npos) {
      result<config_node*> at = child(dir);
      if (!at) return std::move(at).error_value();
      n = *at;
    }
    if (std::string_view p = pdm::name_problem(name); !p.empty()) return n->bad_name(name, p);
    if (std::string_view p = value_problem(v); !p.empty()) {
      return error(errc::invalid_value, std::string(p)).path(n->full_path(name));
    }
    if (entry* e = n->find_entry(name)) {
      if (e->node != nullptr) return error(errc::wrong_type, "a node has that name").path(n->full_path(name));
      if (!replace) return error(errc::already_exists).path(n->full_path(name));
      ++index_->version;
      e->value = std::move(v);
      return ok();
    }
    n->append(name).value = std::move(v);
    return ok();
  }

  status remove_entry(std::string_view path, bool node) {
    const entry* e = find_path(path);
    if (e == nullptr || (e->node != nullptr) != node) {
      return error(node ? errc::child_not_found : errc::value_not_found).path(full_path(path));
    }
    config_node& owner = *e->owner;
    owner.erase_entry(static_cast<std::size_t>(e - owner.entries_.data()));
    return ok();
  }

  // Why a look-up of `path` failed: a bad name, a missing node on the way, or the last name.
  [[nodiscard]] error lookup_error(std::string_view path, bool value) const {
    const config_node* n = this;
    std::string_view rest = path;
    for (;;) {
      const std::size_t slash = rest.find('/');
      const std::string_view name = rest.substr(0, slash);
      if (std::string_view p = pdm::name_problem(name); !p.empty()) {
        return error(errc::invalid_name, std::string(p)).path(full_path(path));
      }
      const entry* e = n->find_entry(name);
      const bool last = slash == std::string_view::npos;
      if (e == nullptr) {
        return error(last && value ? errc::value_not_found : errc::child_not_found).path(n->full_path(name));
      }
      if (last) {
        return error(errc::wrong_type, value ? "a node, not a value" : "a value, not a node").path(n->full_path(name));
      }
      if (e->node == nullptr) return error(errc::wrong_type, "a value, not a node").path(n->full_path(name));
      n = e->node.get();
      rest.remove_prefix(slash + 1);
    }
  }

  // `v` (found at `path`) as T, with the full path on a conversion error. get() spells the same
  // three lines out: through this call, g++ 12 made the depth-6 look-up 0.9 ns slower.
  template <class T>
  [[nodiscard]] result<T> read_as(const config_value& v, std::string_view path) const {
    result<T> r = v.as<T>();
    if (!r) return std::move(r).error_value().path(full_path(path));
    return r;
  }

  // Appends a deep copy of `e` (a value or a subtree) under the same name.
  void append_copy(const entry& e) {
    if (e.node != nullptr) {
      config_node& n = append_node(e.name);
      n.restricted_ = e.node->restricted_;
      n.copy_entries_from(*e.node);
    } else {
      append(e.name).value = e.value;
    }
  }

  [[nodiscard]] std::size_t height() const noexcept {
    std::size_t h = 0;
    for (const entry& e : entries_) {
      if (e.node != nullptr) h = std::max(h, e.node->height() + 1);
    }
    return h;
  }

  void copy_entries_from(const config_node& from) {
    reserve_entries(entries_.size() + from.entries_.size());
    for (const entry& e : from.entries_) append_copy(e);
  }

  // The first conflict a merge with `o` would fail on, or nothing.
  [[nodiscard]] std::optional<error> merge_conflict(const config_node& from, const merge_options& o) const {
    for (const entry& src : from.entries_) {
      const entry* dst = find_entry(src.name);
      if (dst == nullptr) continue;
      if (src.node == nullptr) {
        if (o.values == value_merge::fail) return error(errc::already_exists).path(full_path(src.name));
        continue;
      }
      if (o.children == child_merge::fail) return error(errc::already_exists).path(full_path(src.name));
      if (o.children == child_merge::merge && dst->node != nullptr) {
        if (std::optional<error> e = dst->node->merge_conflict(*src.node, o)) return e;
      }
    }
    return std::nullopt;
  }

  // Applies a merge merge_conflict found no conflict in.
  void merge_into(const config_node& from, const merge_options& o) {
    ++index_->version;
    for (const entry& src : from.entries_) {
      entry* dst = find_entry(src.name);
      if (dst == nullptr) {
        append_copy(src);
        continue;
      }
      if (src.node == nullptr) {
        if (o.values == value_merge::keep_existing) continue;
        config_value v = src.value;
        if (dst->node != nullptr) {
          dst->node->unindex_entries();
          dst->node.reset();
        }
        dst->value = std::move(v);
        continue;
      }
      if (o.children == child_merge::keep_existing) continue;
      if (o.children == child_merge::merge && dst->node != nullptr) {
        dst->node->merge_into(*src.node, o);
        continue;
      }
      // The entry stays where it is (same name, same full path, same index slot); only what
      // hangs below it changes.
      std::unique_ptr<config_node> fresh(new config_node(this, src.name));
      fresh->restricted_ = src.node->restricted_;
      if (dst->node != nullptr) dst->node->unindex_entries();
      dst->node = std::move(fresh);
      dst->value = config_value{};
      dst->node->copy_entries_from(*src.node);
    }
  }

  void dump_into(std::string& out, std::size_t indent) const {
    for (const entry& e : entries_) {
      out.append(indent * 2, ' ');
      out += e.name;
      if (e.node != nullptr) {
        out += "/\n";
        e.node->dump_into(out, indent + 1);
      } else {
        out += " = ";
        out += e.value.text();
        out += '\n';
      }
    }
  }

  config_node* parent_ = nullptr;
  tree_index* index_ = nullptr;  // the tree's index, owned by the config_tree
  std::string name_;
  std::string path_;          // the full path from the tree's root (empty for the root)
  detail::path_hash prefix_;  // the hash state after path_ and a '/' (nothing fed at the root)
  std::vector<entry> entries_;
  bool restricted_ = false;
};

/// \brief A whole config tree: owns its root node and the index of every entry below it. Movable;
/// the nodes themselves never move.
class config_tree {
 public:
  /// \brief An empty tree.
  config_tree() : index_(std::make_unique<config_node::tree_index>()), root_(new config_node(index_.get())) {}
  config_tree(config_tree&&) noexcept = default;
  config_tree& operator=(config_tree&&) noexcept = default;
  config_tree(const config_tree&) = delete;
  config_tree& operator=(const config_tree&) = delete;
  ~config_tree() = default;

  [[nodiscard]] config_node& root() noexcept { return *root_; }
  [[nodiscard]] const config_node& root() const noexcept { return *root_; }
  config_node* operator->() noexcept { return root_.get(); }
  const config_node* operator->() const noexcept { return root_.get(); }

  friend bool operator==(const config_tree& a, const config_tree& b) noexcept { return *a.root_ == *b.root_; }

 private:
  friend class config_node;
  std::unique_ptr<config_node::tree_index> index_;  // declared first: destroyed after the nodes
  std::unique_ptr<config_node> root_;
};

inline config_tree config_node::clone() const {
  config_tree t;
  t.root_->copy_entries_from(*this);
  return t;
}

inline status config_node::adopt(std::string_view name, config_tree&& subtree) {
  if (std::string_view p = pdm::name_problem(name); !p.empty()) return bad_name(name, p);
  if (find_entry(name) != nullptr) return error(errc::already_exists).path(full_path(name));
  if (subtree.index_.get() == index_) {
    return error(errc::invalid_argument, "a tree cannot adopt itself").path(full_path(name));
  }
  if (depth() + 1 + subtree.root_->height() > config_limits::max_depth) {
    return detail::depth_error(full_path(name));
  }
  // Everything that allocates comes first (the empty tree left behind, room in the index and in
  // entries_, the names, the adopted nodes' new paths); the move itself cannot fail.
  config_tree emptied;
  index_->reserve(index_->size() + subtree.index_->size() + 1);
  reserve_entries(entries_.size() + 1);
  std::string entry_name(name);
  std::string node_name(name);
  std::vector<std::pair<config_node*, std::string>> moving;
  subtree.root_->collect_paths(full_path(name), moving);

  std::unique_ptr<config_node> moved = std::move(subtree.root_);
  subtree = std::move(emptied);  // its old index goes; its nodes are now ours
  moved->parent_ = this;
  moved->name_ = std::move(node_name);
  const std::uint64_t h = prefix_.finish(name);
  ++index_->version;
  entries_.push_back(entry{std::move(entry_name), config_value{}, std::move(moved), this, detail::name_key::of(name)});
  index_->insert(h, entries_.back());
  for (auto& [n, path] : moving) {  // parents first: each node's hash state continues its parent's
    n->index_ = index_;
    n->path_ = std::move(path);
    n->prefix_ = n->parent_->prefix_.then(n->name_);
    for (entry& e : n->entries_) index_->insert(n->key_of(e), e);
  }
  return ok();
}

inline status config_node::assign(config_tree&& contents) {
  if (contents.index_.get() == index_) {
    return error(errc::invalid_argument, "a node cannot take the contents of its own tree").path(path());
  }
  if (depth() + contents.root_->height() > config_limits::max_depth) return detail::depth_error(path());
  // Everything that allocates comes first (the empty tree left behind, room in the index, the
  // moved nodes' new paths); the exchange itself cannot fail.
  config_tree emptied;
  index_->reserve(index_->size() + contents.index_->size());
  std::vector<std::pair<config_node*, std::string>> moving;
  for (const entry& e : contents.root_->entries_) {
    if (e.node != nullptr) e.node->collect_paths(detail::join_path(path(), e.name), moving);
  }
  std::vector<entry> incoming = std::move(contents.root_->entries_);
  contents = std::move(emptied);  // its old index and root go; the entries are now ours
  unindex_entries();
  entries_ = std::move(incoming);  // the old entries and their subtrees are destroyed
  for (entry& e : entries_) {
    e.owner = this;
    if (e.node != nullptr) e.node->parent_ = this;
    index_->insert(key_of(e), e);
  }
  for (auto& [n, p] : moving) {  // parents first: each node's hash state continues its parent's
    n->index_ = index_;
    n->path_ = std::move(p);
    n->prefix_ = n->parent_->prefix_.then(n->name_);
    for (entry& e : n->entries_) index_->insert(n->key_of(e), e);
  }
  return ok();
}

inline status config_node::assign(const config_node& from) { return assign(from.clone()); }

inline status config_node::merge(const config_node& from, merge_options options) {
  if (depth() + from.height() > config_limits::max_depth) {
    return detail::depth_error(path());
  }
  // From the same tree (even this very node), merge from a copy: changing the tree while
  // reading it could copy a node into itself or destroy what is being read.
  if (index_ == from.index_) {
    const config_tree copy = from.clone();
    return merge(copy.root(), options);
  }
  // Find conflicts first, then change in place: nodes that are merged (not replaced) stay
  // where they are, so pointers to them stay valid.
  if (std::optional<error> e = merge_conflict(from, options)) return std::move(*e);
  merge_into(from, options);
  return ok();
}

}  // namespace pdm
