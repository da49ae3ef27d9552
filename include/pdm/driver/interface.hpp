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
// conversion. When it is not (a type-erased instance), the driver's descriptor carries an
// interface table of {key, id, cast} built at compile time; keys are 64-bit hashes of the ids,
// so a dynamic query compares integers, never strings. The registry rejects two different ids
// with the same key (errc::interface_id_clash), so a key match is an id match.
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

/// \brief One row of a type-erased interface table.
struct interface_entry {
  std::uint64_t key;                     ///< interface_key of the interface
  std::string_view id;                   ///< its interface_id, for dumps and modules
  void* (*cast)(void* driver) noexcept;  ///< converts the driver's address to the interface's
};

namespace detail {
template <class D, class I>
void* cast_to_interface(void* driver) noexcept {
  return static_cast<I*>(static_cast<D*>(driver));
}
template <class D, class List>
struct interface_table_for;
template <class D, class... Is>
struct interface_table_for<D, interface_list<Is...>> {
  static constexpr std::array<interface_entry, sizeof...(Is)> value{
      interface_entry{interface_key<Is>, std::string_view(Is::interface_id), &cast_to_interface<D, Is>}...};
};
template <class List>
struct interface_ids_for;
template <class... Is>
struct interface_ids_for<interface_list<Is...>> {
  static constexpr std::array<std::string_view, sizeof...(Is)> value{std::string_view(Is::interface_id)...};
};
}  // namespace detail

/// \brief Finds the interface with `key` in a type-erased table; nullptr if the driver lacks it.
///
/// Tables are short (a driver provides a handful of interfaces), so a linear scan over 64-bit
/// keys beats any indexed structure here.
[[nodiscard]] inline void* find_interface(std::span<const interface_entry> table, std::uint64_t key,
                                          void* driver) noexcept {
  for (const interface_entry& e : table) {
    if (e.key == key) return e.cast(driver);
  }
  return nullptr;
}

/// \brief Finds interface I in a type-erased table; nullptr if the driver lacks it.
template <interface I>
[[nodiscard]] I* find_interface(std::span<const interface_entry> table, void* driver) noexcept {
  return static_cast<I*>(find_interface(table, interface_key<I>, driver));
}

/// \brief Finds an interface by its id string (for modules and tools); nullptr if absent.
[[nodiscard]] inline void* find_interface(std::span<const interface_entry> table, std::string_view id,
                                          void* driver) noexcept {
  return find_interface(table, hash_string(id), driver);
}

}  // namespace pdm
