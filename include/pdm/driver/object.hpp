// pdm/driver/object.hpp - a live driver made from a type-erased descriptor.
//
// driver_object constructs a driver through its descriptor and owns it: one allocation holds
// the instance header (context, descriptor, tables), the driver object and its interfaces,
// resolved to addresses once, at construction. The addresses are also placed in a small
// direct-mapped table whose slot is (key >> shift) & mask, with shift and mask chosen at creation
// so the driver's keys do not collide: a dynamic query is one load and one compare, whichever
// interface is asked for, and a miss costs the same. The chain manager's instance records use the
// same layout and construction (detail::layout_instance, detail::construct_instance).
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

namespace detail {

// How an instance's slot table is laid out; see place_interfaces().
struct slot_placement {
  std::size_t slot_count;
  std::uint32_t shift;
  bool linear;  // no collision-free placement found: misses fall back to a scan of the rows
};

inline bool separates(std::span<const interface_ref> keys, std::uint32_t shift, std::size_t mask) noexcept {
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
inline slot_placement place_interfaces(std::span<const interface_ref> keys) noexcept {
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
inline void fill_slots(std::span<const resolved_interface> rows, resolved_interface* slots,
                       const slot_placement& p) noexcept {
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

constexpr std::size_t align_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }

// Where the parts of an instance's block go: [Header][rows: k x {key, address}]
// [slots: 2^n >= 2k x {key, address}][driver object]. Header is instance_header or a record that
// starts with one.
struct instance_layout {
  std::size_t rows_offset, slots_offset, object_offset, size, alignment;
  slot_placement placement;
};
template <class Header>
instance_layout layout_instance(const driver_descriptor& d) noexcept {
  instance_layout l{};
  l.placement = place_interfaces(d.provides);
  l.alignment = std::max({d.alignment, alignof(Header), alignof(resolved_interface)});
  l.rows_offset = align_up(sizeof(Header), alignof(resolved_interface));
  l.slots_offset = l.rows_offset + d.provides.size() * sizeof(resolved_interface);
  l.object_offset = align_up(l.slots_offset + l.placement.slot_count * sizeof(resolved_interface), d.alignment);
  l.size = l.object_offset + d.size;
  return l;
}

// Constructs the driver of `h` (whose block has layout `l`) with `config`, then fills its tables.
// Returns an error if the constructor threw or called ctx.fail(). After ctx.fail() the driver
// object exists (`constructed` is true) and the caller destroys it, once it has destroyed what
// the constructor attached below; after an exception it does not. Other memory of the block is
// the caller's.
inline status construct_instance(instance_header& h, const driver_descriptor& d, const instance_layout& l, void* config,
                                 bool& constructed) {
  auto* base = reinterpret_cast<std::byte*>(&h);
  auto* rows = reinterpret_cast<resolved_interface*>(base + l.rows_offset);
  auto* slots = reinterpret_cast<resolved_interface*>(base + l.slots_offset);
  h.desc = &d;
  h.object = base + l.object_offset;
  h.rows = std::span<const resolved_interface>(rows, d.provides.size());
  h.slots = slots;
  h.mask = l.placement.slot_count - 1;
  h.shift = l.placement.shift;
  h.linear = l.placement.linear;
  // Until the constructor returns, queries miss (the slots hold no key of any row).
  for (std::size_t i = 0; i < l.placement.slot_count; ++i) slots[i] = resolved_interface{~std::uint64_t{0}, nullptr};
  constructed = false;
  construction_failure failure;  // holds an error only if the driver calls ctx.fail()
  h.construction_error = &failure;
  h.failed = false;
  try {
    d.construct(h.object, h.ctx, config, rows);
  } catch (const std::bad_alloc&) {
    h.construction_error = nullptr;
    return error(errc::no_memory, "the constructor ran out of memory").driver(d.name, h.ctx.instance());
  } catch (const std::exception& e) {
    h.construction_error = nullptr;
    return error(errc::constructor_failed, e.what()).driver(d.name, h.ctx.instance());
  } catch (...) {
    h.construction_error = nullptr;
    return error(errc::constructor_failed, "the constructor threw a non-standard exception")
        .driver(d.name, h.ctx.instance());
  }
  constructed = true;
  h.construction_error = nullptr;
  if (h.failed) {
    error e = failure.set ? std::move(failure.get()) : error(errc::constructor_failed);
    if (e.code() == std::error_code()) e = error(errc::constructor_failed);
    // An error the driver made itself names it; one it passed on from below keeps its origin.
    if (e.driver_name().empty() && e.config_path().empty()) e.driver(d.name, h.ctx.instance());
    return e;
  }
  fill_slots(h.rows, slots, l.placement);
  return ok();
}

}  // namespace detail

/// \brief An owned, type-erased driver instance with its resolved interface table.
class driver_object {
 public:
  /// \brief Constructs instance `instance` of the driver `d`; `config` points to the bound
  /// config_type for a driver that declares one (`invalid_argument` if it is null), else null.
  /// The constructor receives it as an rvalue: a driver taking its config by value moves from it.
  ///
  /// A constructor that throws gives errc::constructor_failed with the exception's text; one that
  /// calls ctx.fail(e) gives e (after its destructor ran); a failed allocation gives
  /// errc::no_memory. Either way nothing is left allocated.
  [[nodiscard]] static result<driver_object> create(const driver_descriptor& d, std::uint32_t instance,
                                                    void* config = nullptr) {
    if (config == nullptr && has_hook(d.hooks, driver_hooks::config)) {
      return error(errc::invalid_argument, "the driver takes a config_type: bind its config and pass it")
          .driver(d.name, instance);
    }
    const detail::instance_layout l = detail::layout_instance<detail::instance_header>(d);
    void* block = ::operator new(l.size, std::align_val_t(l.alignment), std::nothrow);
    if (block == nullptr) {
      return error(errc::no_memory, "allocating " + std::to_string(l.size) + " bytes").driver(d.name, instance);
    }
    auto* h = ::new (block) detail::instance_header(d.name, instance, nullptr);
    bool constructed = false;
    if (status s = detail::construct_instance(*h, d, l, config, constructed); !s) {
      if (constructed) d.destroy(h->object);  // it failed through ctx.fail()
      h->~instance_header();
      ::operator delete(block, std::align_val_t(l.alignment));
      return std::move(s).error_value();
    }
    return driver_object(h, l.alignment);
  }

  driver_object(driver_object&& other) noexcept : h_(std::exchange(other.h_, nullptr)), alignment_(other.alignment_) {}
  driver_object& operator=(driver_object&& other) noexcept {
    if (this != &other) {
      release();
      h_ = std::exchange(other.h_, nullptr);
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
  [[nodiscard]] const driver_descriptor& descriptor() const noexcept { return *h_->desc; }
  /// \brief The driver's context (name and instance).
  [[nodiscard]] driver_context& context() const noexcept { return h_->ctx; }
  /// \brief The driver object's address (what the descriptor's hook functions take).
  [[nodiscard]] void* get() const noexcept { return h_->object; }
  /// \brief The resolved interface table, in `provides` order.
  [[nodiscard]] std::span<const resolved_interface> interfaces() const noexcept { return h_->rows; }
  /// \brief A handle to this instance, as the chain manager hands them out.
  [[nodiscard]] driver_ref ref() const noexcept { return driver_ref(h_); }

  /// \brief The interface with `key`, or nullptr: one slot load and one compare, no call.
  [[nodiscard]] void* query(std::uint64_t key) const noexcept { return h_->query(key); }
  /// \brief Interface I, or nullptr.
  template <interface I>
  [[nodiscard]] I* query() const noexcept {
    return static_cast<I*>(query(interface_key<I>));
  }
  /// \brief The interface with id string `id` (modules, tools), or nullptr.
  [[nodiscard]] void* query(std::string_view id) const noexcept { return query(hash_string(id)); }

 private:
  driver_object(detail::instance_header* h, std::size_t alignment) noexcept : h_(h), alignment_(alignment) {}

  void release() noexcept {
    if (h_ == nullptr) return;
    h_->desc->destroy(h_->object);
    h_->~instance_header();
    ::operator delete(static_cast<void*>(h_), std::align_val_t(alignment_));
    h_ = nullptr;
  }

  detail::instance_header* h_;
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
      [](void* bound_config, void* context) {
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
