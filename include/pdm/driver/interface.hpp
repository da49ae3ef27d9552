// pdm/driver/interface.hpp - interfaces that drivers provide upward and need from below.
//
// An interface is an ordinary class with a stable id string:
//
//     struct media {
//       static constexpr std::string_view interface_id = "pdm.storage.media/1";
//       virtual result<std::size_t> read(std::uint64_t offset, std::span<std::byte> out) = 0;
//     protected:
//       ~media() = default;
//     };
//
// A driver provides an interface by deriving from it publicly and listing it in `provides`.
// When the driver's type is known, query_interface<I>(driver) is a plain derived-to-base
// conversion. When it is not (a type-erased driver_object), the object holds a table of
// {key, address} resolved once, when the driver was constructed; keys are 64-bit hashes of the
// ids, so a dynamic query compares integers and returns a stored pointer: no strings, no calls.
// The registry rejects two different ids with the same key (errc::interface_id_clash), so a
// key match is an id match.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

#include "pdm/core/hash.hpp"

namespace pdm {

namespace detail {
template <class I>
concept has_interface_id = requires {
  { I::interface_id } -> std::convertible_to<std::string_view>;
  // Forces interface_id to be a constant expression.
  typename std::integral_constant<std::size_t, std::string_view(I::interface_id).size()>;
};
}  // namespace detail

/// \brief A class usable as a pdm interface: it has a non-empty constant `interface_id`.
template <class I>
concept interface = std::is_class_v<I> && !std::is_const_v<I> && !std::is_volatile_v<I> &&
                    detail::has_interface_id<I> && !std::string_view(I::interface_id).empty();

/// \brief The 64-bit key under which interface I is found in interface tables.
template <interface I>
inline constexpr std::uint64_t interface_key = hash_string(I::interface_id);

/// \brief A compile-time list of interfaces, as used by `provides`, `needs_below`, `needs_above`.
template <class... Is>
struct interface_list {
  static constexpr std::size_t size = sizeof...(Is);
};

namespace detail {
template <class T>
struct is_interface_list : std::false_type {};
template <class... Is>
struct is_interface_list<interface_list<Is...>> : std::true_type {};

template <class List, class I>
struct list_contains;
template <class... Is, class I>
struct list_contains<interface_list<Is...>, I> : std::bool_constant<(std::is_same_v<Is, I> || ...)> {};
}  // namespace detail

/// \brief True if interface I is one of List's interfaces.
template <class List, class I>
inline constexpr bool list_contains_v = detail::list_contains<List, I>::value;

/// \brief An interface named by its key and id (the id for messages, dumps and modules).
struct interface_ref {
  std::uint64_t key;
  std::string_view id;
};

/// \brief One row of a live object's interface table: the key and the interface's address.
struct resolved_interface {
  std::uint64_t key;
  void* address;
};

namespace detail {
// The refs of an interface list; shared by every driver with the same list.
template <class List>
struct interface_refs_for;
template <class... Is>
struct interface_refs_for<interface_list<Is...>> {
  static constexpr std::array<interface_ref, sizeof...(Is)> value{
      interface_ref{interface_key<Is>, std::string_view(Is::interface_id)}...};
};
}  // namespace detail

/// \brief The address of the interface with `key` in a resolved table, or nullptr.
///
/// Tables are short (a driver provides a handful of interfaces), so a linear scan over 64-bit
/// keys beats any indexed structure here.
[[nodiscard]] inline void* find_interface(std::span<const resolved_interface> table, std::uint64_t key) noexcept {
  for (const resolved_interface& e : table) {
    if (e.key == key) return e.address;
  }
  return nullptr;
}

/// \brief Interface I in a resolved table, or nullptr.
template <interface I>
[[nodiscard]] I* find_interface(std::span<const resolved_interface> table) noexcept {
  return static_cast<I*>(find_interface(table, interface_key<I>));
}

/// \brief The interface with id string `id` (for modules and tools), or nullptr.
[[nodiscard]] inline void* find_interface(std::span<const resolved_interface> table, std::string_view id) noexcept {
  return find_interface(table, hash_string(id));
}

}  // namespace pdm
