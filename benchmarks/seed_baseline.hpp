// benchmarks/seed_baseline.hpp - the reference algorithms pdm is measured against.
//
// These are re-implementations, written for the benchmarks, of what the 2008 driver manager
// and the modern VirtualBox interface query do. They are written to be as fast as those
// algorithms honestly allow, never slower:
//
// - driver_chain: registered drivers are a singly linked list of nodes, one heap allocation
//   per node, appended at the tail in registration order. A node holds the next pointer, the
//   instance count and a pointer to the driver's registration record; the record holds the
//   name in a fixed `char[32]` plus the other registration fields. Registration walks the
//   whole list (duplicate check and tail search in one pass); look-up walks the list and
//   compares names with strcmp.
// - interface queries: every driver instance starts with a base interface whose only member
//   is a query function pointer. The query function compares the requested interface id (a
//   36-character UUID string) with each interface the driver provides, in turn, and returns
//   the first match. The modern reference compares with a function that parses both strings
//   into 128-bit UUIDs and compares those; strcmp is cheaper, so quad_query_interface is faster
//   than the original. quad_query_interface_parsed does what the reference does (parse, then
//   compare) for a second, clearly labelled comparison.
// - config tree (cfg_*): the 2008 configuration manager (CFGM). A node holds a linked list of
//   child nodes and a separate linked list of values (leafs), both in insertion order; every
//   node and leaf is one heap allocation with its name stored inline after it, with the name's
//   length beside it. A path is resolved component by component: the end of a component is
//   found with strchr, and each child list is walked comparing the length first and then the
//   bytes with memcmp. The value is then found by a walk of the leaf list (strlen of the name,
//   length, memcmp) and its type and range are checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace seed {

// ---------------------------------------------------------------------------------------------
// Registry: a singly linked list with strcmp look-up.

/// Status codes of the seed registry (negative: failure).
enum : int {
  seed_ok = 0,
  seed_bad_version = -1,
  seed_bad_registration = -2,
  seed_name_clash = -3,
  seed_no_memory = -4,
};

inline constexpr std::uint32_t record_version = 0x80010000U;

/// What a driver module hands over when it registers a driver (fixed-size name included).
struct registration_record {
  std::uint32_t version = record_version;
  char name[32] = {};
  const char* description = nullptr;
  std::uint32_t flags = 0;
  std::uint32_t class_mask = 0;
  std::uint32_t max_instances = 0;
  std::uint32_t instance_size = 0;
  int (*construct)(void* instance, void* config) = nullptr;
  void (*destruct)(void* instance) = nullptr;
  int (*io_control)(void* instance, std::uint32_t function, void* in, void* out) = nullptr;
  void (*power_on)(void* instance) = nullptr;
  void (*reset)(void* instance) = nullptr;
  void (*suspend)(void* instance) = nullptr;
  void (*resume)(void* instance) = nullptr;
  void (*power_off)(void* instance) = nullptr;
  void (*detach)(void* instance) = nullptr;
  std::uint32_t version_end = record_version;
};

/// One registered driver: a separately allocated list node.
struct driver_node {
  driver_node* next;
  std::uint32_t instances;
  const registration_record* record;
};

/// The registered drivers, in registration order.
class driver_chain {
 public:
  driver_chain() = default;
  driver_chain(const driver_chain&) = delete;
  driver_chain& operator=(const driver_chain&) = delete;
  ~driver_chain() {
    while (head_ != nullptr) {
      driver_node* next = head_->next;
      delete head_;
      head_ = next;
    }
  }

  /// Validates `record`, rejects a duplicate name, and appends a new node at the tail.
  int add(const registration_record* record) {
    if (record->version != record_version) return seed_bad_version;
    const std::size_t length = strnlen(record->name, sizeof record->name);
    if (length == 0 || length >= sizeof record->name) return seed_bad_registration;
    if (record->max_instances == 0) return seed_bad_registration;
    if (record->instance_size > (1U << 20)) return seed_bad_registration;
    if (record->construct == nullptr) return seed_bad_registration;

    // One pass finds a clash and the tail.
    driver_node* prev = nullptr;
    for (driver_node* cur = head_; cur != nullptr; prev = cur, cur = cur->next) {
      if (std::strcmp(cur->record->name, record->name) == 0) return seed_name_clash;
    }
    auto* node = new (std::nothrow) driver_node{nullptr, 0, record};
    if (node == nullptr) return seed_no_memory;
    if (prev != nullptr) {
      prev->next = node;
    } else {
      head_ = node;
    }
    return seed_ok;
  }

  /// The node of the driver called `name`, or nullptr: a walk from the head with strcmp.
  [[nodiscard]] const driver_node* find(const char* name) const noexcept {
    for (const driver_node* cur = head_; cur != nullptr; cur = cur->next) {
      if (std::strcmp(cur->record->name, name) == 0) return cur;
    }
    return nullptr;
  }

 private:
  driver_node* head_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Interfaces: a query function per driver comparing UUID strings in turn.

/// The interface every driver instance offers first: how to ask it for the others.
struct base_interface {
  void* (*query_interface)(base_interface* base, const char* iid);
};

/// Interface ids as the modern reference spells them: 36-character UUID strings.
inline constexpr char media_iid[] = "8c2e4b6a-1f3d-4e59-a7b0-92d6c1e8f453";
inline constexpr char mount_iid[] = "e71a90c4-5b28-4d6f-8e13-07f4a2bc9d61";
inline constexpr char block_iid[] = "3f95d2e8-a640-47b1-9c5d-6e0b18f7a224";
inline constexpr char leds_iid[] = "b4067e1d-92ac-4f38-b5e7-d10c63a84f09";
/// An interface the quad driver does not provide.
inline constexpr char network_iid[] = "5da8c317-e04b-4b92-8f6a-c2791e5d03b8";

// C-style interfaces: structs of function pointers embedded in the instance; a function finds
// its instance by subtracting the member's offset from the interface pointer.
struct media_interface {
  std::uint64_t (*get_size)(media_interface* self);
};
struct mount_interface {
  bool (*is_mounted)(mount_interface* self);
};
struct block_interface {
  std::uint32_t (*sector_size)(block_interface* self);
};
struct leds_interface {
  std::uint32_t (*query_led)(leds_interface* self, std::uint32_t lun);
};

/// A driver instance providing four interfaces, laid out as the reference lays them out.
struct quad_instance {
  base_interface base;
  media_interface media;
  mount_interface mount;
  block_interface block;
  leds_interface leds;
  std::uint64_t bytes;
  std::uint32_t sector;
};

template <class Member>
quad_instance* owner_of(Member* member, std::size_t offset) noexcept {
  return reinterpret_cast<quad_instance*>(reinterpret_cast<char*>(member) - offset);
}

/// The quad driver's query: one strcmp per provided interface, in declaration order.
inline void* quad_query_interface(base_interface* base, const char* iid) {
  quad_instance* self = owner_of(base, offsetof(quad_instance, base));
  if (std::strcmp(iid, media_iid) == 0) return &self->media;
  if (std::strcmp(iid, mount_iid) == 0) return &self->mount;
  if (std::strcmp(iid, block_iid) == 0) return &self->block;
  if (std::strcmp(iid, leds_iid) == 0) return &self->leds;
  return nullptr;
}

/// The value of one hexadecimal digit, or -1.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", optionally in braces, into 16 bytes.
inline bool parse_uuid(const char* text, std::uint8_t (&out)[16]) noexcept {
  const bool braces = text[0] == '{';
  const char* p = braces ? text + 1 : text;
  std::size_t byte = 0;
  for (std::size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (p[i] != '-') return false;
      continue;
    }
    const int hi = hex_value(p[i]);
    const int lo = hi < 0 ? -1 : hex_value(p[i + 1]);
    if (lo < 0) return false;
    out[byte++] = static_cast<std::uint8_t>(hi << 4 | lo);
    ++i;
  }
  if (braces) return p[36] == '}' && p[37] == '\0';
  return p[36] == '\0';
}

/// 0 when both strings are well-formed UUIDs with the same value; parses both, as the reference does.
inline int compare_uuid_strings(const char* a, const char* b) noexcept {
  std::uint8_t ua[16];
  std::uint8_t ub[16];
  if (!parse_uuid(a, ua) || !parse_uuid(b, ub)) return 1;
  return std::memcmp(ua, ub, sizeof ua);
}

/// The quad driver's query as the modern reference writes it: parse and compare UUIDs in turn.
inline void* quad_query_interface_parsed(base_interface* base, const char* iid) {
  quad_instance* self = owner_of(base, offsetof(quad_instance, base));
  if (compare_uuid_strings(iid, media_iid) == 0) return &self->media;
  if (compare_uuid_strings(iid, mount_iid) == 0) return &self->mount;
  if (compare_uuid_strings(iid, block_iid) == 0) return &self->block;
  if (compare_uuid_strings(iid, leds_iid) == 0) return &self->leds;
  return nullptr;
}

/// Fills in a quad instance: the query function and the interface function pointers.
inline void init_quad_instance(quad_instance& q, bool parse_uuids = false) {
  q.base.query_interface = parse_uuids ? &quad_query_interface_parsed : &quad_query_interface;
  q.media.get_size = [](media_interface* m) { return owner_of(m, offsetof(quad_instance, media))->bytes; };
  q.mount.is_mounted = [](mount_interface*) { return true; };
  q.block.sector_size = [](block_interface* b) { return owner_of(b, offsetof(quad_instance, block))->sector; };
  q.leds.query_led = [](leds_interface*, std::uint32_t lun) { return lun; };
  q.bytes = 1U << 20;
  q.sector = 512;
}

// ---------------------------------------------------------------------------------------------
// Config tree: the 2008 configuration manager (CFGM). cfg_node mirrors CFGMNODE, cfg_leaf
// mirrors CFGMLEAF, cfg_resolve_node mirrors cfgmR3ResolveNode, cfg_resolve_leaf mirrors
// cfgmR3ResolveLeaf, cfg_query_integer / cfg_query_u32 mirror CFGMR3QueryInteger /
// CFGMR3QueryU32, and cfg_insert_node / cfg_insert_integer mirror CFGMR3InsertNode /
// CFGMR3InsertInteger (single-component names). The structures keep the reference's layout
// (both lists are doubly linked there; look-ups only follow `next`).

/// Status codes of the seed config tree (negative: failure).
enum : int {
  cfg_ok = 0,
  cfg_no_parent = -20,
  cfg_child_not_found = -21,
  cfg_value_not_found = -22,
  cfg_invalid_path = -23,
  cfg_not_integer = -24,
  cfg_integer_too_big = -25,
  cfg_node_exists = -26,
  cfg_leaf_exists = -27,
  cfg_no_memory = -28,
};

/// The kinds of value a leaf holds.
enum class cfg_value_type : std::uint32_t { none = 0, integer = 1, string = 2, bytes = 3 };

struct cfg_string_value {
  std::size_t length;  // including the terminator
  char* text;
};
struct cfg_bytes_value {
  std::size_t size;
  std::uint8_t* data;
};
/// A leaf's value (CFGMVALUE).
union cfg_value {
  std::uint64_t integer;
  cfg_string_value string;
  cfg_bytes_value bytes;
};

/// One named value (CFGMLEAF); its name follows it in the same allocation (the reference's szName[1]).
struct cfg_leaf {
  cfg_leaf* next;
  cfg_leaf* prev;
  cfg_value_type type;
  cfg_value value;
  std::size_t name_length;  // without the terminator

  [[nodiscard]] const char* name() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  [[nodiscard]] char* name() noexcept { return reinterpret_cast<char*>(this + 1); }
};

/// One node (CFGMNODE); its name follows it in the same allocation.
struct cfg_node {
  cfg_node* next;
  cfg_node* prev;
  cfg_node* parent;
  cfg_node* first_child;
  cfg_leaf* first_leaf;
  void* vm;  // the owning VM in the reference; unused here
  bool restricted_root;
  std::size_t name_length;  // without the terminator

  [[nodiscard]] const char* name() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  [[nodiscard]] char* name() noexcept { return reinterpret_cast<char*>(this + 1); }
};

/// Allocates a node or leaf of type T with room for `length` name bytes and a terminator after it.
template <class T>
T* cfg_alloc(const char* name, std::size_t length) noexcept {
  void* p = std::malloc(sizeof(T) + length + 1);  // NOLINT(*-no-malloc,*-owning-memory)
  if (p == nullptr) return nullptr;
  T* t = new (p) T{};
  std::memcpy(t->name(), name, length + 1);
  t->name_length = length;
  return t;
}

/// Frees a node's subtree and the node itself (the reference's CFGMR3RemoveNode, without unlinking).
inline void cfg_free_subtree(cfg_node* node) noexcept {
  for (cfg_node* c = node->first_child; c != nullptr;) {
    cfg_node* next = c->next;
    cfg_free_subtree(c);
    c = next;
  }
  for (cfg_leaf* l = node->first_leaf; l != nullptr;) {
    cfg_leaf* next = l->next;
    if (l->type == cfg_value_type::string) std::free(l->value.string.text);  // NOLINT(*-no-malloc,*-owning-memory)
    if (l->type == cfg_value_type::bytes) std::free(l->value.bytes.data);    // NOLINT(*-no-malloc,*-owning-memory)
    std::free(l);                                                            // NOLINT(*-no-malloc,*-owning-memory)
    l = next;
  }
  std::free(node);  // NOLINT(*-no-malloc,*-owning-memory)
}

/// Adds a child node `name` (one component) at the tail of `parent`'s child list; the list is
/// walked once for a clash and for the tail.
inline int cfg_insert_node(cfg_node* parent, const char* name, cfg_node** child) noexcept {
  if (parent == nullptr) return cfg_no_parent;
  const std::size_t length = std::strlen(name);
  if (length == 0 || std::strchr(name, '/') != nullptr) return cfg_invalid_path;
  cfg_node* prev = parent->first_child;
  if (prev != nullptr) {
    for (;; prev = prev->next) {
      if (length == prev->name_length && std::memcmp(name, prev->name(), length) == 0) return cfg_node_exists;
      if (prev->next == nullptr) break;
    }
  }
  cfg_node* node = cfg_alloc<cfg_node>(name, length);
  if (node == nullptr) return cfg_no_memory;
  node->parent = parent;
  node->vm = parent->vm;
  node->prev = prev;
  if (prev != nullptr) {
    prev->next = node;
  } else {
    parent->first_child = node;
  }
  if (child != nullptr) *child = node;
  return cfg_ok;
}

/// Adds an empty leaf `name` at the tail of `node`'s leaf list (clash check in the same walk),
/// as CFGMR3Insert* do before setting the value.
inline int cfg_append_leaf(cfg_node* node, const char* name, cfg_leaf** out) noexcept {
  if (node == nullptr) return cfg_no_parent;
  const std::size_t length = std::strlen(name);
  if (length == 0) return cfg_invalid_path;
  cfg_leaf* prev = node->first_leaf;
  if (prev != nullptr) {
    for (;; prev = prev->next) {
      if (length == prev->name_length && std::memcmp(name, prev->name(), length) == 0) return cfg_leaf_exists;
      if (prev->next == nullptr) break;
    }
  }
  cfg_leaf* leaf = cfg_alloc<cfg_leaf>(name, length);
  if (leaf == nullptr) return cfg_no_memory;
  leaf->prev = prev;
  if (prev != nullptr) {
    prev->next = leaf;
  } else {
    node->first_leaf = leaf;
  }
  *out = leaf;
  return cfg_ok;
}

/// Adds an integer value `name` (CFGMR3InsertInteger).
inline int cfg_insert_integer(cfg_node* node, const char* name, std::uint64_t value) noexcept {
  cfg_leaf* leaf = nullptr;
  const int rc = cfg_append_leaf(node, name, &leaf);
  if (rc != cfg_ok) return rc;
  leaf->type = cfg_value_type::integer;
  leaf->value.integer = value;
  return cfg_ok;
}

/// The child list's node whose name is the `length` bytes at `name`, or nullptr: a walk
/// comparing lengths first, then bytes.
inline const cfg_node* cfg_find_child(const cfg_node* node, const char* name, std::size_t length) noexcept {
  const cfg_node* child = node->first_child;
  for (; child != nullptr; child = child->next) {
    if (child->name_length == length && std::memcmp(name, child->name(), length) == 0) break;
  }
  return child;
}

/// Resolves a path ("a/b/c", leading and doubled slashes skipped) to a node below `node`.
inline int cfg_resolve_node(const cfg_node* node, const char* path, const cfg_node** out) noexcept {
  if (node == nullptr) return cfg_no_parent;
  const cfg_node* child = nullptr;
  for (;;) {
    while (*path == '/') ++path;
    if (*path == '\0') {
      if (child == nullptr) return cfg_invalid_path;
      *out = child;
      return cfg_ok;
    }
    const char* next = std::strchr(path, '/');
    if (next == nullptr) next = std::strchr(path, '\0');
    child = cfg_find_child(node, path, static_cast<std::size_t>(next - path));
    if (child == nullptr) return cfg_child_not_found;
    node = child;
    path = next;
  }
}

/// The leaf called `name` (one component) in `node`'s leaf list: a walk comparing lengths, then bytes.
inline int cfg_resolve_leaf(const cfg_node* node, const char* name, const cfg_leaf** out) noexcept {
  if (node == nullptr) return cfg_no_parent;
  const std::size_t length = std::strlen(name);
  for (const cfg_leaf* leaf = node->first_leaf; leaf != nullptr; leaf = leaf->next) {
    if (length == leaf->name_length && std::memcmp(name, leaf->name(), length) == 0) {
      *out = leaf;
      return cfg_ok;
    }
  }
  return cfg_value_not_found;
}

/// The integer value `name` of `node`, type-checked.
inline int cfg_query_integer(const cfg_node* node, const char* name, std::uint64_t* out) noexcept {
  const cfg_leaf* leaf = nullptr;
  const int rc = cfg_resolve_leaf(node, name, &leaf);
  if (rc != cfg_ok) return rc;
  if (leaf->type != cfg_value_type::integer) return cfg_not_integer;
  *out = leaf->value.integer;
  return cfg_ok;
}

/// The integer value `name` of `node` as a uint32_t, type- and range-checked.
inline int cfg_query_u32(const cfg_node* node, const char* name, std::uint32_t* out) noexcept {
  std::uint64_t v = 0;
  const int rc = cfg_query_integer(node, name, &v);
  if (rc != cfg_ok) return rc;
  if ((v & 0xFFFFFFFF00000000ULL) != 0) return cfg_integer_too_big;
  *out = static_cast<std::uint32_t>(v);
  return cfg_ok;
}

/// The uint32_t value at a full path "a/b/.../name": what a caller of the reference gets from
/// CFGMR3GetChild(node, "a/b/...") followed by CFGMR3QueryU32(child, "name"), done in one pass
/// over the path (the node part is not copied or scanned twice).
inline int cfg_query_u32_at(const cfg_node* node, const char* path, std::uint32_t* out) noexcept {
  if (node == nullptr) return cfg_no_parent;
  for (;;) {
    while (*path == '/') ++path;
    const char* next = std::strchr(path, '/');
    if (next == nullptr) return cfg_query_u32(node, path, out);  // the last component names the value
    node = cfg_find_child(node, path, static_cast<std::size_t>(next - path));
    if (node == nullptr) return cfg_child_not_found;
    path = next;
  }
}

/// Adds a string value `name` (a copy of the text, terminator included: CFGMR3InsertString).
inline int cfg_insert_string(cfg_node* node, const char* name, const char* text) noexcept {
  const std::size_t text_length = std::strlen(text) + 1;
  auto* copy = static_cast<char*>(std::malloc(text_length));  // NOLINT(*-no-malloc,*-owning-memory)
  if (copy == nullptr) return cfg_no_memory;
  std::memcpy(copy, text, text_length);
  cfg_leaf* leaf = nullptr;
  const int rc = cfg_append_leaf(node, name, &leaf);
  if (rc != cfg_ok) {
    std::free(copy);  // NOLINT(*-no-malloc,*-owning-memory)
    return rc;
  }
  leaf->type = cfg_value_type::string;
  leaf->value.string = cfg_string_value{text_length, copy};
  return cfg_ok;
}

/// CFGMR3QueryIntegerDef: the integer `name`, or `def` if there is no such value.
inline int cfg_query_integer_def(const cfg_node* node, const char* name, std::uint64_t* out,
                                 std::uint64_t def) noexcept {
  const int rc = cfg_query_integer(node, name, out);
  if (rc == cfg_value_not_found || rc == cfg_no_parent) {
    *out = def;
    return cfg_ok;
  }
  return rc;
}

/// CFGMR3QueryU32Def / U16Def / U8Def: range-checked against T after the integer query.
template <class T>
int cfg_query_unsigned_def(const cfg_node* node, const char* name, T* out, T def) noexcept {
  std::uint64_t v = 0;
  const int rc = cfg_query_integer_def(node, name, &v, def);
  if (rc != cfg_ok) return rc;
  if (v > static_cast<std::uint64_t>(static_cast<T>(~T{0}))) return cfg_integer_too_big;
  *out = static_cast<T>(v);
  return cfg_ok;
}

/// CFGMR3QueryBoolDef: an integer, any non-zero value is true.
inline int cfg_query_bool_def(const cfg_node* node, const char* name, bool* out, bool def) noexcept {
  std::uint64_t v = 0;
  const int rc = cfg_query_integer_def(node, name, &v, def ? 1 : 0);
  if (rc == cfg_ok) *out = v != 0;
  return rc;
}

/// CFGMR3QueryStringAllocDef: a heap copy of the string `name` (or of `def`), freed by the caller.
inline int cfg_query_string_alloc_def(const cfg_node* node, const char* name, char** out, const char* def) noexcept {
  const cfg_leaf* leaf = nullptr;
  int rc = cfg_resolve_leaf(node, name, &leaf);
  const char* text = def;
  std::size_t length = std::strlen(def) + 1;
  if (rc == cfg_ok) {
    if (leaf->type != cfg_value_type::string) return cfg_not_integer;  // the reference's "not a string"
    text = leaf->value.string.text;
    length = leaf->value.string.length;
  } else if (rc != cfg_value_not_found) {
    return rc;
  }
  auto* copy = static_cast<char*>(std::malloc(length));  // NOLINT(*-no-malloc,*-owning-memory)
  if (copy == nullptr) return cfg_no_memory;
  std::memcpy(copy, text, length);
  *out = copy;
  return cfg_ok;
}

/// CFGMR3AreValuesValid: every value's name is in `valid`, a list of names each ended by '\0' and
/// the list by an empty name ("A\0B\0"); a linear search of the list per value.
inline bool cfg_are_values_valid(const cfg_node* node, const char* valid) noexcept {
  for (const cfg_leaf* leaf = node->first_leaf; leaf != nullptr; leaf = leaf->next) {
    bool found = false;
    for (const char* v = valid; *v != '\0'; v += std::strlen(v) + 1) {
      const std::size_t length = std::strlen(v);
      if (length == leaf->name_length && std::memcmp(v, leaf->name(), length) == 0) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

/// Owns a CFGM-style tree: an unnamed root node and everything below it.
class cfg_tree {
 public:
  cfg_tree() noexcept : root_(cfg_alloc<cfg_node>("", 0)) {}
  cfg_tree(const cfg_tree&) = delete;
  cfg_tree& operator=(const cfg_tree&) = delete;
  ~cfg_tree() {
    if (root_ != nullptr) cfg_free_subtree(root_);
  }
  [[nodiscard]] cfg_node* root() noexcept { return root_; }
  [[nodiscard]] const cfg_node* root() const noexcept { return root_; }

 private:
  cfg_node* root_;
};

}  // namespace seed
