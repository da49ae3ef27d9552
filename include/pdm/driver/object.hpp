// pdm/driver/object.hpp - a live driver made from a type-erased descriptor.
//
// driver_object constructs a driver through its descriptor and owns it: one allocation holds
// the driver's context, the driver object and its interfaces, resolved to addresses once, at
// construction. The addresses are also placed in a small direct-mapped table whose slot is
// (key >> shift) & mask, with shift and mask chosen at creation so the driver's keys do not
// collide: a dynamic query is one load and one compare, whichever interface is asked for, and
// a miss costs the same. The chain manager builds its instance records on the same idea.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "pdm/core/error.hpp"
#include "pdm/driver/context.hpp"
#include "pdm/driver/descriptor.hpp"
#include "pdm/driver/interface.hpp"

namespace pdm {

/// \brief An owned, type-erased driver instance with its resolved interface table.
class driver_object {
  // How the slot table is laid out for one object; see place().
  struct placement {
    std::size_t slot_count;
    std::uint32_t shift;
    bool linear;  // no collision-free placement found: misses fall back to a scan of the rows
  };

 public:
  /// \brief Constructs instance `instance` of the driver `d`; `config` points to the bound
  /// config_type for a driver that declares one (`invalid_argument` if it is null), else null.
  ///
  /// A constructor that throws gives errc::constructor_failed with the exception's text; a
  /// failed allocation gives errc::no_memory. Either way nothing is left allocated.
  [[nodiscard]] static result<driver_object> create(const driver_descriptor& d, std::uint32_t instance,
                                                    const void* config = nullptr) {
    if (config == nullptr && has_hook(d.hooks, driver_hooks::config)) {
      return error(errc::invalid_argument, "the driver takes a config_type: bind its config and pass it")
          .driver(d.name, instance);
    }
    const placement p = place(d.provides);
    const layout l = layout_of(d, p);
    void* block = ::operator new(l.size, std::align_val_t(l.alignment), std::nothrow);
    if (block == nullptr) {
      return error(errc::no_memory, "allocating " + std::to_string(l.size) + " bytes").driver(d.name, instance);
    }
    auto* base = static_cast<std::byte*>(block);
    auto* ctx = ::new (base + l.context_offset) driver_context(d.name, instance);
    auto* table = reinterpret_cast<resolved_interface*>(base + l.table_offset);
    auto* slots = reinterpret_cast<resolved_interface*>(base + l.slots_offset);
    void* object = base + l.object_offset;
    try {
      d.construct(object, *ctx, config, table);
    } catch (const std::exception& e) {
      ctx->~driver_context();
      ::operator delete(block, std::align_val_t(l.alignment));
      return error(errc::constructor_failed, e.what()).driver(d.name, instance);
    } catch (...) {
      ctx->~driver_context();
      ::operator delete(block, std::align_val_t(l.alignment));
      return error(errc::constructor_failed, "the constructor threw a non-standard exception").driver(d.name, instance);
    }
    const std::span<const resolved_interface> rows(table, d.provides.size());
    fill_slots(rows, slots, p);
    return driver_object(d, block, ctx, object, rows, slots, p, l.alignment);
  }

  driver_object(driver_object&& other) noexcept
      : d_(other.d_),
        block_(std::exchange(other.block_, nullptr)),
        ctx_(other.ctx_),
        object_(other.object_),
        interfaces_(other.interfaces_),
        slots_(other.slots_),
        shift_(other.shift_),
        mask_(other.mask_),
        linear_(other.linear_),
        alignment_(other.alignment_) {}
  driver_object& operator=(driver_object&& other) noexcept {
    if (this != &other) {
      release();
      d_ = other.d_;
      block_ = std::exchange(other.block_, nullptr);
      ctx_ = other.ctx_;
      object_ = other.object_;
      interfaces_ = other.interfaces_;
      slots_ = other.slots_;
      shift_ = other.shift_;
      mask_ = other.mask_;
      linear_ = other.linear_;
      alignment_ = other.alignment_;
    }
    return *this;
  }
  driver_object(const driver_object&) = delete;
  driver_object& operator=(const driver_object&) = delete;
  ~driver_object() { release(); }

  /// \brief Constructs instance `instance` of the driver `d` from its Config node: for a driver
  /// with a config_type the node is bound first, and a failed bind gives its problems (naming the
  /// driver and instance) and constructs nothing; a driver without one ignores the node. For a
  /// driver with a config_type, the program must include <pdm/config/binding.hpp> (describing the
  /// config struct needs it anyway).
  [[nodiscard]] static result<driver_object> create_configured(const driver_descriptor& d, std::uint32_t instance,
                                                               const config_node& config);

  /// \brief The driver's descriptor.
  [[nodiscard]] const driver_descriptor& descriptor() const noexcept { return *d_; }
  /// \brief The driver's context (name and instance).
  [[nodiscard]] driver_context& context() const noexcept { return *ctx_; }
  /// \brief The driver object's address (what the descriptor's hook functions take).
  [[nodiscard]] void* get() const noexcept { return object_; }
  /// \brief The resolved interface table, in `provides` order.
  [[nodiscard]] std::span<const resolved_interface> interfaces() const noexcept { return interfaces_; }

  /// \brief The interface with `key`, or nullptr: one slot load and one compare, no call.
  [[nodiscard]] void* query(std::uint64_t key) const noexcept {
    const resolved_interface& slot = slots_[(key >> shift_) & mask_];
    if (slot.key == key) [[likely]] {
      return slot.address;  // an empty slot's key is one no row has, so this is a real hit
    }
    return linear_ ? query_linear(key) : nullptr;
  }
  /// \brief Interface I, or nullptr.
  template <interface I>
  [[nodiscard]] I* query() const noexcept {
    return static_cast<I*>(query(interface_key<I>));
  }
  /// \brief The interface with id string `id` (modules, tools), or nullptr.
  [[nodiscard]] void* query(std::string_view id) const noexcept { return query(hash_string(id)); }

 private:
  // Out of line and cold: only objects whose keys found no collision-free placement get here.
  [[nodiscard, gnu::noinline, gnu::cold]] void* query_linear(std::uint64_t key) const noexcept {
    return find_interface(interfaces_, key);
  }

  struct layout {
    std::size_t context_offset, table_offset, slots_offset, slot_count, object_offset, size, alignment;
  };
  static constexpr std::size_t align_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }
  // [context][rows: k x {key, address}][slots: 2^n >= 2k x {key, address}][driver object]
  static layout layout_of(const driver_descriptor& d, const placement& p) noexcept {
    layout l{};
    const std::size_t k = d.provides.size();
    l.alignment = std::max({d.alignment, alignof(driver_context), alignof(resolved_interface)});
    l.context_offset = 0;
    l.table_offset = align_up(sizeof(driver_context), alignof(resolved_interface));
    l.slots_offset = l.table_offset + k * sizeof(resolved_interface);
    l.slot_count = p.slot_count;
    l.object_offset = align_up(l.slots_offset + l.slot_count * sizeof(resolved_interface), d.alignment);
    l.size = l.object_offset + d.size;
    return l;
  }

  static bool separates(std::span<const interface_ref> keys, std::uint32_t shift, std::size_t mask) noexcept {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (((keys[i].key >> shift) & mask) == ((keys[j].key >> shift) & mask)) return false;
      }
    }
    return true;
  }
  // The smallest table (at least two slots per key, up to 16x that) and a shift under which the
  // driver's keys land in distinct slots. Keys are 64-bit hashes, so one is found at the first
  // size almost always; the linear fallback keeps queries correct for any key set.
  static placement place(std::span<const interface_ref> keys) noexcept {
    const std::size_t first = std::bit_ceil(std::max<std::size_t>(2 * keys.size(), 1));
    for (std::size_t count = first; count <= first * 16; count *= 2) {
      const auto bits = static_cast<std::uint32_t>(std::countr_zero(count));
      for (std::uint32_t shift = 0; shift + bits <= 64; ++shift) {
        if (separates(keys, shift, count - 1)) return {count, shift, false};
      }
    }
    return {first, 0, true};
  }
  // Empty slots get a key that no row has (and a null address), so a query that lands on one
  // is a miss without a second test on the hot path.
  static void fill_slots(std::span<const resolved_interface> rows, resolved_interface* slots,
                         const placement& p) noexcept {
    std::uint64_t empty_key = 0;
    while (std::ranges::any_of(rows, [empty_key](const resolved_interface& r) { return r.key == empty_key; })) {
      ++empty_key;
    }
    for (std::size_t i = 0; i < p.slot_count; ++i) slots[i] = resolved_interface{empty_key, nullptr};
    for (const resolved_interface& r : rows) {
      resolved_interface& slot = slots[(r.key >> p.shift) & (p.slot_count - 1)];
      if (slot.address == nullptr) slot = r;  // with `linear`, later clashing keys are found by the scan
    }
  }

  driver_object(const driver_descriptor& d, void* block, driver_context* ctx, void* object,
                std::span<const resolved_interface> interfaces, const resolved_interface* slots, const placement& p,
                std::size_t alignment) noexcept
      : d_(&d),
        block_(block),
        ctx_(ctx),
        object_(object),
        interfaces_(interfaces),
        slots_(slots),
        shift_(p.shift),
        mask_(p.slot_count - 1),
        linear_(p.linear),
        alignment_(alignment) {}

  void release() noexcept {
    if (block_ == nullptr) return;
    d_->destroy(object_);
    ctx_->~driver_context();
    ::operator delete(block_, std::align_val_t(alignment_));
    block_ = nullptr;
  }

  const driver_descriptor* d_;
  void* block_;
  driver_context* ctx_;
  void* object_;
  std::span<const resolved_interface> interfaces_;
  const resolved_interface* slots_;
  std::uint32_t shift_;
  std::size_t mask_;
  bool linear_;
  std::size_t alignment_;
};

inline result<driver_object> driver_object::create_configured(const driver_descriptor& d, std::uint32_t instance,
                                                              const config_node& config) {
  if (d.bind_config == nullptr) return create(d, instance, nullptr);
  struct call {
    const driver_descriptor* d;
    std::uint32_t instance;
    std::optional<result<driver_object>> out;
  } c{&d, instance, std::nullopt};
  const status bound = d.bind_config(
      config,
      [](const void* bound_config, void* context) {
        auto* x = static_cast<call*>(context);
        x->out.emplace(create(*x->d, x->instance, bound_config));
      },
      &c);
  if (!bound) {
    error e = bound.error_value();
    return std::move(e.driver(d.name, instance));
  }
  if (!c.out) return error(errc::internal_error, "bind_config did not pass a config on").driver(d.name, instance);
  return std::move(*c.out);
}

}  // namespace pdm
