// benchmarks/seed_chain.hpp - the 2008 driver manager's chain building, for bench_chain.
//
// A re-implementation, written for the benchmarks, of how the 2008 manager attaches the chain of
// drivers configured below a device's LUN and detaches it again. It reproduces the algorithms,
// not the code, and is written to be as fast as those algorithms honestly allow:
//
// - registered drivers: seed::driver_chain from seed_baseline.hpp, a singly linked list searched
//   with strcmp; its node holds the driver's one instance counter, which only grows (the
//   reference hands out `counter++` and takes the number back only when a constructor fails).
// - config: the CFGM tree of seed_baseline.hpp (linked lists of children and of values, a walk
//   comparing length, then bytes, per name). A child is found by resolving a path relative to a
//   node (CFGMR3GetChild), a string by a query that returns a heap copy the caller frees
//   (CFGMR3QueryStringAlloc; resolved once here, where the reference asks for the size first and
//   then resolves the value a second time).
// - devices: a list of registered devices searched with strcmp, each with a list of instances,
//   each instance with a list of LUNs; a LUN is found by walking the three (the reference's
//   run-time attach and detach find the LUN this way, and its device helper walks the LUN list
//   again).
// - attach, from the device (for the top driver) or from a driver (for the one below it): the
//   LUN's node "LUN#<n>" (printed) below the device instance's node, or the caller's
//   "AttachedDriver" child; its "Driver" string read as a heap copy and freed at the end; the
//   driver looked up in the list; "Config" found, or created if missing, and marked as a
//   restricted root; one zeroing heap allocation of header + instance data, rounded up to 16
//   bytes; the header filled in; linked in as the LUN's new bottom (and the new top when the
//   device attaches); the constructor called through the registration record. A failed
//   constructor is unlinked, its memory filled with 0xdeadd0d0 and freed, and the instance
//   number taken back.
// - drivers reach the manager through a table of helper function pointers in their header, and
//   reach each other through a query function of their base interface that takes an enumerated
//   interface id (the 2008 interfaces were numbered, not named by UUID strings).
// - detach: refused if the driver is already being detached or the parent (driver or device) has
//   no detach callback; otherwise the chain is destroyed bottom-most first: unlink, the parent's
//   detach callback, the destructor, the walks that free what the instance registered (queues,
//   timers, saved-state units, threads: four lists, empty in the benchmark), the fill of header
//   and instance data with 0xdeadd0d0, the free.
//
// Where this is faster than the reference: memory comes from malloc/calloc/free, where the
// reference's heap adds a header, a lock and statistics to every block; the string query resolves
// its value once; the debug-build assertions and log statements are left out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "seed_baseline.hpp"

namespace seed {

// ---------------------------------------------------------------------------------------------
// Status codes (negative: failure) and interfaces.

enum : int {
  chain_ok = 0,
  chain_device_not_found = -40,
  chain_instance_not_found = -41,
  chain_lun_not_found = -42,
  chain_already_attached = -43,
  chain_no_attached_driver = -44,
  chain_missing_driver_name = -45,
  chain_driver_not_found = -46,
  chain_no_memory = -47,
  chain_detach_not_possible = -48,
  chain_missing_interface = -49,
  chain_unknown_config_values = -50,
  chain_invalid_parameter = -51,
  chain_no_runtime_attach = -52,
};

/// Interfaces by number, as the 2008 manager named them.
enum class iface_id : std::uint32_t { base = 1, disk_port, words, bytes };

/// The interface every device and driver instance offers first: how to ask it for the others.
struct ibase {
  void* (*query)(ibase* self, iface_id id);
};

struct drv_instance;
struct dev_instance;
struct lun_entry;
struct machine;

/// What a driver may ask of the manager (the reference's table has some thirty entries; these
/// are the chain helpers).
struct drv_helpers {
  int (*attach)(drv_instance* self, ibase** below);
  int (*detach)(drv_instance* self);
  int (*detach_self)(drv_instance* self);
};

/// A driver instance's header; the driver's instance data follows at drv_data_offset.
struct drv_instance {
  std::uint32_t version;
  // The manager's part.
  drv_instance* up;
  drv_instance* down;
  lun_entry* lun;
  driver_node* driver;
  machine* vm;
  bool detaching;
  cfg_node* node;  // where it is configured: LUN#n or an AttachedDriver node
  // What the driver sees.
  const drv_helpers* helpers;
  const registration_record* reg;
  cfg_node* config;  // node's Config, a restricted root
  std::uint32_t instance;
  ibase* up_base;    // the base interface of what is above (driver or device)
  ibase* down_base;  // the base interface of the driver below (cleared on detach)
  ibase base;        // this instance's base interface; the driver's constructor sets its query
  void* data;        // the instance data
};

inline constexpr std::uint32_t drv_instance_version = 0xc0010000U;
inline constexpr std::size_t chain_align_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }
/// Where the instance data starts in an instance's block.
inline constexpr std::size_t drv_data_offset = chain_align_up(sizeof(drv_instance), 16);

/// The instance data of `ins`, as the driver's type.
template <class T>
T* drv_data(drv_instance* ins) noexcept {
  return static_cast<T*>(ins->data);
}
/// The instance whose base interface is `base`.
inline drv_instance* drv_of_base(ibase* base) noexcept {
  return reinterpret_cast<drv_instance*>(reinterpret_cast<char*>(base) - offsetof(drv_instance, base));
}

/// What a device module registers (the fields the chain code uses).
struct dev_registration {
  char name[32] = {};
  std::uint32_t instance_size = 0;
  /// Attaches the chain of a LUN at run time; null: the device cannot.
  int (*attach)(dev_instance* dev, std::uint32_t lun) = nullptr;
  /// Told before the chain of a LUN is destroyed; null: the device's chains cannot be detached.
  void (*detach)(dev_instance* dev, std::uint32_t lun) = nullptr;
};

/// What a device may ask of the manager (the chain part).
struct dev_helpers {
  int (*driver_attach)(dev_instance* dev, std::uint32_t lun, ibase* base, ibase** below, const char* description);
};

/// One attachment point of a device instance; made by the device's first attach on it.
struct lun_entry {
  lun_entry* next;
  std::uint32_t number;
  dev_instance* device;
  drv_instance* top;
  drv_instance* bottom;
  ibase* base;  // the device's base interface for this LUN
  const char* description;
};

/// A device instance.
struct dev_instance {
  dev_instance* next;  // the device's next instance
  const dev_registration* reg;
  const dev_helpers* helpers;
  machine* vm;
  std::uint32_t instance;
  cfg_node* node;    // Devices/<name>/<instance>
  cfg_node* config;  // its Config
  lun_entry* luns;
  void* data;
};

/// A registered device: a list node with its instances.
struct dev_node {
  dev_node* next;
  const dev_registration* reg;
  dev_instance* instances;
};

/// Something a driver instance registered and owns (a queue, a timer, a saved-state unit, a
/// thread): freed when the instance is destroyed.
struct owned_resource {
  owned_resource* next;
  const void* owner;
};

/// The part of a VM the chain code uses.
struct machine {
  machine() = default;
  machine(const machine&) = delete;
  machine& operator=(const machine&) = delete;
  ~machine() {
    for (dev_node* d = devices; d != nullptr;) {
      for (dev_instance* i = d->instances; i != nullptr;) {
        for (lun_entry* l = i->luns; l != nullptr;) {
          lun_entry* next = l->next;
          std::free(l);  // NOLINT(*-no-malloc,*-owning-memory)
          l = next;
        }
        dev_instance* next = i->next;
        delete i;
        i = next;
      }
      dev_node* next = d->next;
      delete d;
      d = next;
    }
  }

  driver_chain drivers;
  dev_node* devices = nullptr;
  owned_resource* queues = nullptr;
  owned_resource* timers = nullptr;
  owned_resource* saved_state_units = nullptr;
  owned_resource* threads = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Small parts.

/// CFGMR3GetChild: the node at `path` below `node`, or nullptr.
inline cfg_node* chain_get_child(cfg_node* node, const char* path) noexcept {
  const cfg_node* child = nullptr;
  if (cfg_resolve_node(node, path, &child) != cfg_ok) return nullptr;
  return const_cast<cfg_node*>(child);  // NOLINT(*-const-cast): the tree's nodes are not const
}

/// CFGMR3QueryStringAlloc: a heap copy of the string `name` of `node`, freed by the caller.
inline int chain_query_string_alloc(const cfg_node* node, const char* name, char** out) noexcept {
  const cfg_leaf* leaf = nullptr;
  const int rc = cfg_resolve_leaf(node, name, &leaf);
  if (rc != cfg_ok) return rc;
  if (leaf->type != cfg_value_type::string) return cfg_not_integer;         // the reference's "not a string"
  auto* copy = static_cast<char*>(std::malloc(leaf->value.string.length));  // NOLINT(*-no-malloc,*-owning-memory)
  if (copy == nullptr) return cfg_no_memory;
  std::memcpy(copy, leaf->value.string.text, leaf->value.string.length);
  *out = copy;
  return cfg_ok;
}

/// ASMMemFill32: `size` bytes (a multiple of 4) at `p` filled with `pattern`.
inline void chain_fill32(void* p, std::size_t size, std::uint32_t pattern) noexcept {
  auto* bytes = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i + 4 <= size; i += 4) std::memcpy(bytes + i, &pattern, 4);
#if defined(__GNUC__)
  // The reference frees through an out-of-line heap function, so the fill is always done; here
  // free() is visible to the compiler, which would drop the stores to memory about to be freed.
  __asm__ __volatile__("" : : "r"(p) : "memory");
#endif
}

/// Frees what `owner` registered in one resource list: a walk of the whole list.
inline void chain_release_owned(owned_resource*& head, const void* owner) noexcept {
  for (owned_resource** link = &head; *link != nullptr;) {
    owned_resource* r = *link;
    if (r->owner == owner) {
      *link = r->next;
      std::free(r);  // NOLINT(*-no-malloc,*-owning-memory)
    } else {
      link = &r->next;
    }
  }
}

/// pdmR3DevFindLun: a device by name (strcmp), its instance by number, the LUN by number.
inline int chain_find_lun(machine* vm, const char* device, std::uint32_t instance, std::uint32_t lun,
                          lun_entry** out) noexcept {
  for (dev_node* d = vm->devices; d != nullptr; d = d->next) {
    if (std::strcmp(d->reg->name, device) != 0) continue;
    for (dev_instance* i = d->instances; i != nullptr; i = i->next) {
      if (i->instance != instance) continue;
      for (lun_entry* l = i->luns; l != nullptr; l = l->next) {
        if (l->number == lun) {
          *out = l;
          return chain_ok;
        }
      }
      return chain_lun_not_found;
    }
    return chain_instance_not_found;
  }
  return chain_device_not_found;
}

// ---------------------------------------------------------------------------------------------
// Attach.

inline int chain_drv_attach(drv_instance* self, ibase** below) noexcept;
inline int chain_drv_detach(drv_instance* self) noexcept;
inline int chain_drv_detach_self(drv_instance* self) noexcept;

/// The helper table every driver instance points to.
inline constexpr drv_helpers chain_drv_helpers{&chain_drv_attach, &chain_drv_detach, &chain_drv_detach_self};

/// The common part of both attach helpers, from the look-up of `Driver` on: builds the driver
/// configured at `node` below `above` (null: at the top of `lun`'s chain, below the device).
inline int chain_instantiate(machine* vm, lun_entry* lun, drv_instance* above, cfg_node* node, ibase* up_base,
                             ibase** out) noexcept {
  char* name = nullptr;
  int rc = chain_query_string_alloc(node, "Driver", &name);
  if (rc != cfg_ok) return rc == cfg_value_not_found ? chain_missing_driver_name : rc;
  // The nodes are the list's own (allocated non-const); find() hands them out as const.
  auto* drv = const_cast<driver_node*>(vm->drivers.find(name));  // NOLINT(*-const-cast)
  if (drv == nullptr) {
    rc = chain_driver_not_found;
  } else {
    cfg_node* config = chain_get_child(node, "Config");
    if (config == nullptr) rc = cfg_insert_node(node, "Config", &config);
    if (rc == cfg_ok) {
      config->restricted_root = true;
      const registration_record* reg = drv->record;
      const std::size_t size = chain_align_up(drv_data_offset + reg->instance_size, 16);
      auto* ins = static_cast<drv_instance*>(std::calloc(1, size));  // NOLINT(*-no-malloc,*-owning-memory)
      if (ins == nullptr) {
        rc = chain_no_memory;
      } else {
        // Fill in the header (the block is zeroed: only what is not zero).
        ins->version = drv_instance_version;
        ins->up = above;
        ins->lun = lun;
        ins->driver = drv;
        ins->vm = vm;
        ins->node = node;
        ins->helpers = &chain_drv_helpers;
        ins->reg = reg;
        ins->config = config;
        ins->instance = drv->instances++;
        ins->up_base = up_base;
        ins->data = reinterpret_cast<char*>(ins) + drv_data_offset;
        // Link as the new bottom, then construct.
        if (above != nullptr) {
          above->down = ins;
        } else {
          lun->top = ins;
        }
        lun->bottom = ins;
        rc = reg->construct(ins, config);
        if (rc == chain_ok) {
          *out = &ins->base;
        } else {
          if (above != nullptr) {
            above->down = nullptr;
          } else {
            lun->top = nullptr;
          }
          lun->bottom = above;
          chain_fill32(ins, size, 0xdeadd0d0U);
          std::free(ins);  // NOLINT(*-no-malloc,*-owning-memory)
          --drv->instances;
        }
      }
    }
  }
  std::free(name);  // NOLINT(*-no-malloc,*-owning-memory)
  return rc;
}

/// The driver helper: attaches the driver configured in `self`'s AttachedDriver node below it.
inline int chain_drv_attach(drv_instance* self, ibase** below) noexcept {
  if (self->down != nullptr) return chain_already_attached;
  cfg_node* node = chain_get_child(self->node, "AttachedDriver");
  if (node == nullptr) return chain_no_attached_driver;
  return chain_instantiate(self->vm, self->lun, self, node, &self->base, below);
}

/// The device helper: attaches the chain configured in the device instance's "LUN#<lun>" node.
/// The LUN is made on the device's first attach to it.
inline int chain_dev_driver_attach(dev_instance* dev, std::uint32_t lun, ibase* base, ibase** below,
                                   const char* description) noexcept {
  lun_entry* prev = nullptr;
  lun_entry* l = dev->luns;
  for (; l != nullptr; prev = l, l = l->next) {
    if (l->number == lun) break;
  }
  if (l == nullptr) {
    if (base == nullptr || description == nullptr || *description == '\0') return chain_invalid_parameter;
    l = static_cast<lun_entry*>(std::malloc(sizeof(lun_entry)));  // NOLINT(*-no-malloc,*-owning-memory)
    if (l == nullptr) return chain_no_memory;
    *l = lun_entry{nullptr, lun, dev, nullptr, nullptr, base, description};
    if (prev != nullptr) {
      prev->next = l;
    } else {
      dev->luns = l;
    }
  } else if (l->top != nullptr) {
    return chain_already_attached;
  }
  char name[48];
  std::snprintf(name, sizeof name, "LUN#%u", static_cast<unsigned>(lun));
  cfg_node* node = chain_get_child(dev->node, name);
  if (node == nullptr) return chain_no_attached_driver;
  return chain_instantiate(dev->vm, l, nullptr, node, base, below);
}

/// The device helper table.
inline constexpr dev_helpers chain_dev_helpers{&chain_dev_driver_attach};

/// PDMR3DeviceAttach: attaches the chain of a LUN at run time, through the device's attach
/// callback (which calls the device helper).
inline int chain_device_attach(machine* vm, const char* device, std::uint32_t instance, std::uint32_t lun) noexcept {
  lun_entry* l = nullptr;
  const int rc = chain_find_lun(vm, device, instance, lun, &l);
  if (rc != chain_ok) return rc;
  dev_instance* dev = l->device;
  if (dev->reg->attach == nullptr) return chain_no_runtime_attach;
  if (l->top != nullptr) return chain_already_attached;
  return dev->reg->attach(dev, lun);
}

// ---------------------------------------------------------------------------------------------
// Detach.

/// pdmR3DrvDestroyChain: destroys `ins` and everything below it, bottom-most first.
inline void chain_destroy(drv_instance* ins) noexcept {
  machine* vm = ins->vm;
  ins->detaching = true;
  for (;;) {
    drv_instance* cur = ins;
    while (cur->down != nullptr) cur = cur->down;
    // Unlink and tell the parent.
    cur->detaching = true;
    lun_entry* l = cur->lun;
    l->bottom = cur->up;
    if (cur->up != nullptr) {
      drv_instance* parent = cur->up;
      cur->up = nullptr;
      parent->down = nullptr;
      if (parent->reg->detach != nullptr) parent->reg->detach(parent);
      parent->down_base = nullptr;
    } else {
      l->top = nullptr;
      if (l->device->reg->detach != nullptr) l->device->reg->detach(l->device, l->number);
    }
    // Destruct, free what it registered, fill and free the instance.
    cur->up_base = nullptr;
    if (cur->reg->destruct != nullptr) cur->reg->destruct(cur);
    chain_release_owned(vm->queues, cur);
    chain_release_owned(vm->timers, cur);
    chain_release_owned(vm->saved_state_units, cur);
    chain_release_owned(vm->threads, cur);
    const bool last = cur == ins;
    chain_fill32(cur, drv_data_offset + cur->reg->instance_size, 0xdeadd0d0U);
    std::free(cur);  // NOLINT(*-no-malloc,*-owning-memory)
    if (last) break;
  }
}

/// pdmR3DrvDetach: destroys `ins` and what is below it, if what is above it can be told.
inline int chain_detach_instance(drv_instance* ins) noexcept {
  if (ins->detaching) return chain_ok;  // a recursive detach: the reference ignores it
  const bool told = ins->up != nullptr ? ins->up->reg->detach != nullptr : ins->lun->device->reg->detach != nullptr;
  if (!told) return chain_detach_not_possible;
  chain_destroy(ins);
  return chain_ok;
}

inline int chain_drv_detach(drv_instance* self) noexcept {
  if (self->down == nullptr) return chain_no_attached_driver;
  return chain_detach_instance(self->down);
}

inline int chain_drv_detach_self(drv_instance* self) noexcept { return chain_detach_instance(self); }

/// PDMR3DeviceDetach: detaches the chain of a LUN (nothing to do if nothing is attached).
inline int chain_device_detach(machine* vm, const char* device, std::uint32_t instance, std::uint32_t lun) noexcept {
  lun_entry* l = nullptr;
  const int rc = chain_find_lun(vm, device, instance, lun, &l);
  if (rc != chain_ok) return rc;
  if (l->top == nullptr) return chain_ok;
  return chain_detach_instance(l->top);
}

// ---------------------------------------------------------------------------------------------
// Set-up.

/// Registers a device instance configured at `node` (Devices/<name>/<instance>), appending the
/// device to the list if it is not there yet. Its LUNs are made by its first attach to each.
inline int chain_add_device(machine* vm, const dev_registration* reg, std::uint32_t instance, cfg_node* node,
                            void* data, dev_instance** out) {
  dev_node* prev = nullptr;
  dev_node* d = vm->devices;
  for (; d != nullptr; prev = d, d = d->next) {
    if (std::strcmp(d->reg->name, reg->name) == 0) break;
  }
  if (d == nullptr) {
    d = new dev_node{nullptr, reg, nullptr};
    if (prev != nullptr) {
      prev->next = d;
    } else {
      vm->devices = d;
    }
  }
  dev_instance* last = nullptr;
  for (dev_instance* i = d->instances; i != nullptr; last = i, i = i->next) {
    if (i->instance == instance) return chain_invalid_parameter;
  }
  auto* i = new dev_instance{nullptr, reg, &chain_dev_helpers, vm, instance, node, chain_get_child(node, "Config"),
                             nullptr, data};
  if (last != nullptr) {
    last->next = i;
  } else {
    d->instances = i;
  }
  *out = i;
  return chain_ok;
}

}  // namespace seed
