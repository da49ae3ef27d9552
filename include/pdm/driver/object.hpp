// pdm/driver/object.hpp - a live driver made from a type-erased descriptor.
//
// driver_object constructs a driver through its descriptor and owns it: one allocation holds
// the driver's context, the driver object and the table of its interfaces, resolved to
// addresses once, at construction. A dynamic query is then a scan of a few 64-bit keys that
// returns a stored pointer. The chain manager builds its instance records on the same idea;
// tools and tests use driver_object directly.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
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
 public:
  /// \brief Constructs instance `instance` of the driver `d` (config: the bound config_type or null).
  ///
  /// A constructor that throws gives errc::constructor_failed with the exception's text; a
  /// failed allocation gives errc::no_memory. Either way nothing is left allocated.
  [[nodiscard]] static result<driver_object> create(const driver_descriptor& d, std::uint32_t instance,
                                                    const void* config = nullptr) {
    const layout l = layout_of(d);
    void* block = ::operator new(l.size, std::align_val_t(l.alignment), std::nothrow);
    if (block == nullptr) {
      return error(errc::no_memory, "allocating " + std::to_string(l.size) + " bytes").driver(d.name, instance);
    }
    auto* base = static_cast<std::byte*>(block);
    auto* ctx = ::new (base + l.context_offset) driver_context(d.name, instance);
    auto* table = reinterpret_cast<resolved_interface*>(base + l.table_offset);
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
    return driver_object(d, block, ctx, object, std::span<const resolved_interface>(table, d.provides.size()));
  }

  driver_object(driver_object&& other) noexcept
      : d_(other.d_),
        block_(std::exchange(other.block_, nullptr)),
        ctx_(other.ctx_),
        object_(other.object_),
        interfaces_(other.interfaces_) {}
  driver_object& operator=(driver_object&& other) noexcept {
    if (this != &other) {
      release();
      d_ = other.d_;
      block_ = std::exchange(other.block_, nullptr);
      ctx_ = other.ctx_;
      object_ = other.object_;
      interfaces_ = other.interfaces_;
    }
    return *this;
  }
  driver_object(const driver_object&) = delete;
  driver_object& operator=(const driver_object&) = delete;
  ~driver_object() { release(); }

  /// \brief The driver's descriptor.
  [[nodiscard]] const driver_descriptor& descriptor() const noexcept { return *d_; }
  /// \brief The driver's context (name and instance).
  [[nodiscard]] driver_context& context() const noexcept { return *ctx_; }
  /// \brief The driver object's address (what the descriptor's hook functions take).
  [[nodiscard]] void* get() const noexcept { return object_; }
  /// \brief The resolved interface table, in `provides` order.
  [[nodiscard]] std::span<const resolved_interface> interfaces() const noexcept { return interfaces_; }

  /// \brief The interface with `key`, or nullptr: a scan of 64-bit keys, no call.
  [[nodiscard]] void* query(std::uint64_t key) const noexcept { return find_interface(interfaces_, key); }
  /// \brief Interface I, or nullptr.
  template <interface I>
  [[nodiscard]] I* query() const noexcept {
    return static_cast<I*>(find_interface(interfaces_, interface_key<I>));
  }
  /// \brief The interface with id string `id` (modules, tools), or nullptr.
  [[nodiscard]] void* query(std::string_view id) const noexcept { return find_interface(interfaces_, id); }

 private:
  struct layout {
    std::size_t context_offset, table_offset, object_offset, size, alignment;
  };
  static constexpr std::size_t align_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }
  // [context][table: k x {key, address}][driver object]
  static layout layout_of(const driver_descriptor& d) noexcept {
    layout l{};
    const std::size_t k = d.provides.size();
    l.alignment = std::max({d.alignment, alignof(driver_context), alignof(resolved_interface)});
    l.context_offset = 0;
    l.table_offset = align_up(sizeof(driver_context), alignof(resolved_interface));
    l.object_offset = align_up(l.table_offset + k * sizeof(resolved_interface), d.alignment);
    l.size = l.object_offset + d.size;
    return l;
  }

  driver_object(const driver_descriptor& d, void* block, driver_context* ctx, void* object,
                std::span<const resolved_interface> interfaces) noexcept
      : d_(&d), block_(block), ctx_(ctx), object_(object), interfaces_(interfaces) {}

  void release() noexcept {
    if (block_ == nullptr) return;
    d_->destroy(object_);
    ctx_->~driver_context();
    ::operator delete(block_, std::align_val_t(layout_of(*d_).alignment));
    block_ = nullptr;
  }

  const driver_descriptor* d_;
  void* block_;
  driver_context* ctx_;
  void* object_;
  std::span<const resolved_interface> interfaces_;
};

}  // namespace pdm
