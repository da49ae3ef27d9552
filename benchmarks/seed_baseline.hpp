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
#pragma once

#include <cstddef>
#include <cstdint>
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

}  // namespace seed
