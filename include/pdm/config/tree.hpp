// pdm/config/tree.hpp - the config tree: named nodes holding named, typed values.
//
// The tree is what drivers are configured from (VirtualBox's layout: `Devices/<device>/<n>/LUN#<n>/
// Driver`, `.../Config/...`, `.../AttachedDriver/...`). Each node holds entries, each either a
// value or a child node; one name is one entry, so a node never has a value and a child of the same
// name (which JSON could not represent). Entries enumerate in insertion order, which a JSON round
// trip keeps. Look-up by name hashes the name once and probes a small per-node table, so finding a
// key six levels down costs six probes, not a string compare per sibling.
//
// A driver's `Config` node is a restricted root: `parent()` refuses to leave it, so a driver sees
// its own configuration and nothing above it. Paths in errors are always full paths from the tree's
// root, so a message says exactly where the problem is.
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

// The n < 8 bytes at p as one word, without a byte loop (which the compilers turn into byte stores
// and a wide reload: a store-forwarding stall). Overlapping loads; every byte counts.
[[nodiscard]] inline std::uint64_t tail_bytes(const char* p, std::size_t n) noexcept {
  if (n >= 4) {
    std::uint32_t lo = 0;
    std::uint32_t hi = 0;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    return (static_cast<std::uint64_t>(hi) << 32U) | lo;
  }
  if (n == 0) return 0;
  const auto b = [p](std::size_t i) { return static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])); };
  return (b(0) << 16U) | (b(n / 2) << 8U) | b(n - 1);
}

// a == b for names, inline for the usual short ones (no call to memcmp).
[[nodiscard]] inline bool same_name(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  if (n > 16) return std::memcmp(a.data(), b.data(), n) == 0;
  if (n >= 8) {
    std::uint64_t a0 = 0;
    std::uint64_t a1 = 0;
    std::uint64_t b0 = 0;
    std::uint64_t b1 = 0;
    std::memcpy(&a0, a.data(), 8);
    std::memcpy(&b0, b.data(), 8);
    std::memcpy(&a1, a.data() + n - 8, 8);
    std::memcpy(&b1, b.data() + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  return tail_bytes(a.data(), n) == tail_bytes(b.data(), n);
}

// A fast run-time hash for entry names (8 bytes per step); not stable across releases, never
// stored.
[[nodiscard]] inline std::uint64_t name_hash(std::string_view s) noexcept {
  constexpr std::uint64_t k = 0x9E3779B97F4A7C15ULL;
  std::uint64_t h = k ^ (s.size() * 0xFF51AFD7ED558CCDULL);
  const char* p = s.data();
  std::size_t n = s.size();
  auto mix = [](std::uint64_t x) {
    x ^= x >> 32U;
    x *= 0xD6E8FEB86659FD93ULL;
    x ^= x >> 32U;
    return x;
  };
  while (n >= 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, 8);
    h = mix(h ^ w) * k;
    p += 8;
    n -= 8;
  }
  return mix(h ^ tail_bytes(p, n));
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
    std::uint64_t hash;
    config_value value;                 // meaningful when node is null
    std::unique_ptr<config_node> node;  // a child node, or null for a value
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
  [[nodiscard]] std::string path() const {
    if (parent_ == nullptr) return {};
    return detail::join_path(parent_->path(), name_);
  }
  /// \brief The parent node; `no_parent` at the tree's root and at a restricted root.
  [[nodiscard]] result<config_node*> parent() noexcept { return parent_impl<config_node>(this); }
  [[nodiscard]] result<const config_node*> parent() const noexcept { return parent_impl<const config_node>(this); }
  /// \brief Makes this node a restricted root (or not): parent() then refuses to leave it.
  void set_restricted_root(bool restricted = true) noexcept { restricted_ = restricted; }
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
    const config_node* n = this;
    while (n != nullptr) {
      const std::size_t slash = path.find('/');
      const entry* e = n->find_entry(path.substr(0, slash));
      if (e == nullptr || e->node == nullptr) return nullptr;
      n = e->node.get();
      if (slash == std::string_view::npos) return n;
      path.remove_prefix(slash + 1);
    }
    return nullptr;
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
    const config_node* n = this;
    const char* p = path.data();
    const char* const end = p + path.size();
    for (;;) {  // one pass: no rfind for the last name, no memchr call per (short) name
      const char* slash = p;
      while (slash != end && *slash != '/') ++slash;
      const entry* e = n->find_entry(std::string_view(p, static_cast<std::size_t>(slash - p)));
      if (e == nullptr) return nullptr;
      if (slash == end) return e->node != nullptr ? nullptr : &e->value;
      if (e->node == nullptr) return nullptr;
      n = e->node.get();
      p = slash + 1;
    }
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
    if (find_value(path) == nullptr) {
      error e = lookup_error(path, true);
      if (e == errc::value_not_found || e == errc::child_not_found) return fallback;
      return e;
    }
    return get<T>(path);
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
      return error(errc::nesting_too_deep, "a tree is at most 64 nodes deep").path(n->full_path(path));
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
    entries_.clear();
    index_.clear();
  }

  /// \brief Moves a whole tree in as the child `name`; `already_exists` if the name is taken.
  status adopt(std::string_view name, config_tree&& subtree);
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
  explicit config_node(config_node* parent, std::string name) : parent_(parent), name_(std::move(name)) {}

  template <class Node, class Self>
  static result<Node*> parent_impl(Self* self) noexcept {
    if (self->parent_ == nullptr) return error(errc::no_parent, "the tree's root has no parent");
    if (self->restricted_) return error(errc::no_parent, "a restricted root cannot see its parent").path(self->path());
    return self->parent_;
  }

  [[nodiscard]] const entry* find_entry(std::string_view name) const noexcept {
    if (index_.empty()) return nullptr;
    const std::uint64_t h = detail::name_hash(name);
    const std::size_t mask = index_.size() - 1;
    for (std::size_t pos = h & mask;; pos = (pos + 1) & mask) {
      const std::uint32_t slot = index_[pos];
      if (slot == 0) return nullptr;
      const entry& e = entries_[slot - 1];
      if (e.hash == h && detail::same_name(e.name, name)) return &e;
    }
  }
  [[nodiscard]] entry* find_entry(std::string_view name) noexcept {
    return const_cast<entry*>(std::as_const(*this).find_entry(name));  // NOLINT(*-const-cast)
  }

  // Load factor at most 1/2; rebuilt on growth and on removal.
  void rebuild_index() {
    std::size_t cap = 8;
    while (cap < entries_.size() * 2) cap *= 2;
    index_.assign(cap, 0);
    for (std::size_t i = 0; i < entries_.size(); ++i) place(i);
  }
  void place(std::size_t i) noexcept {
    const std::size_t mask = index_.size() - 1;
    std::size_t pos = entries_[i].hash & mask;
    while (index_[pos] != 0) pos = (pos + 1) & mask;
    index_[pos] = static_cast<std::uint32_t>(i + 1);
  }
  // Appends an entry (the name must be valid and free).
  entry& append(std::string_view name) {
    entries_.push_back(entry{std::string(name), detail::name_hash(name), config_value{}, nullptr});
    if (entries_.size() * 2 > index_.size()) {
      rebuild_index();
    } else {
      place(entries_.size() - 1);
    }
    return entries_.back();
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
      return error(errc::nesting_too_deep, "a tree is at most 64 nodes deep").path(full_path(name));
    }
    entry& e = append(name);
    e.node.reset(new config_node(this, std::string(name)));
    return e.node.get();
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
      e->value = std::move(v);
      return ok();
    }
    n->append(name).value = std::move(v);
    return ok();
  }

  status remove_entry(std::string_view path, bool node) {
    const auto [dir, name] = detail::split_last(path);
    config_node* n = path.find('/') != std::string_view::npos ? find_child(dir) : this;
    const entry* e = n == nullptr ? nullptr : n->find_entry(name);
    if (e == nullptr || (e->node != nullptr) != node) {
      return error(node ? errc::child_not_found : errc::value_not_found).path(full_path(path));
    }
    n->entries_.erase(n->entries_.begin() + (e - n->entries_.data()));
    n->rebuild_index();
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

  [[nodiscard]] std::size_t height() const noexcept {
    std::size_t h = 0;
    for (const entry& e : entries_) {
      if (e.node != nullptr) h = std::max(h, e.node->height() + 1);
    }
    return h;
  }

  void copy_entries_from(const config_node& from) {
    for (const entry& e : from.entries_) {
      entry& mine = append(e.name);
      if (e.node != nullptr) {
        mine.node.reset(new config_node(this, e.name));
        mine.node->restricted_ = e.node->restricted_;
        mine.node->copy_entries_from(*e.node);
      } else {
        mine.value = e.value;
      }
    }
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
    for (const entry& src : from.entries_) {
      entry* dst = find_entry(src.name);
      if (dst == nullptr) {
        entry& e = append(src.name);
        if (src.node != nullptr) {
          e.node.reset(new config_node(this, src.name));
          e.node->restricted_ = src.node->restricted_;
          e.node->copy_entries_from(*src.node);
        } else {
          e.value = src.value;
        }
        continue;
      }
      if (src.node == nullptr) {
        if (o.values == value_merge::keep_existing) continue;
        dst->node.reset();
        dst->value = src.value;
        continue;
      }
      if (o.children == child_merge::keep_existing) continue;
      if (o.children == child_merge::merge && dst->node != nullptr) {
        dst->node->merge_into(*src.node, o);
        continue;
      }
      dst->node.reset(new config_node(this, src.name));
      dst->node->restricted_ = src.node->restricted_;
      dst->node->copy_entries_from(*src.node);
      dst->value = config_value{};
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
  std::string name_;
  std::vector<entry> entries_;
  std::vector<std::uint32_t> index_;  // open addressing: 0 empty, else entry index + 1
  bool restricted_ = false;
};

/// \brief A whole config tree: owns its root node. Movable; the nodes themselves never move.
class config_tree {
 public:
  /// \brief An empty tree.
  config_tree() : root_(new config_node(nullptr, std::string())) {}
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
  if (depth() + 1 + subtree.root_->height() > config_limits::max_depth) {
    return error(errc::nesting_too_deep, "a tree is at most 64 nodes deep").path(full_path(name));
  }
  entry& e = append(name);
  e.node = std::move(subtree.root_);
  e.node->parent_ = this;
  e.node->name_ = std::string(name);
  subtree.root_.reset(new config_node(nullptr, std::string()));
  return ok();
}

inline status config_node::merge(const config_node& from, merge_options options) {
  if (depth() + from.height() > config_limits::max_depth) {
    return error(errc::nesting_too_deep, "a tree is at most 64 nodes deep").path(path());
  }
  // From the same tree (even this very node), merge from a copy: changing the tree while
  // reading it could copy a node into itself or destroy what is being read.
  auto top = [](const config_node* n) {
    while (n->parent_ != nullptr) n = n->parent_;
    return n;
  };
  if (top(this) == top(&from)) {
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
