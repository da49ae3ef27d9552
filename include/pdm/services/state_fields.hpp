// pdm/services/state_fields.hpp - which types a saved state can hold, decided at compile time.
//
// A driver's saved_state is an aggregate that pdm saves and loads field by field through
// Boost.PFR, with no field list written by the driver's author. This header says which field
// types that works for, how few bytes each takes in a stream (so a loader can refuse a length
// before it allocates), and which field breaks the rule when one does, so that the driver check
// (pdm/driver/driver.hpp) can name the driver and the field's type in one diagnostic. The
// encoding itself is in pdm/services/state_codec.hpp.
//
// Saveable types:
//   - integers (any integral type but bool), in sizeof(T) bytes, little-endian
//   - bool, in one byte (0 or 1)
//   - float and double (IEEE 754), their bits as an integer of the same size
//   - enumerations with a fixed underlying type (scoped enums, `enum E : int`), as that integer
//   - std::array<T, N> of a saveable T: N elements, no length
//   - std::string, and std::vector<T> of a saveable T: an 8-byte count, then the elements
//   - aggregates (plain structs, no base class, no C array member) whose fields are all
//     saveable and not const or references: their fields in declaration order
//
// Known limit: g++ 12 crashes (an internal compiler error in Boost.PFR's field count) on an
// aggregate with a std::array of non-trivial elements, such as std::array<std::string, 2>; use
// a std::vector there.
#pragma once

#include <array>
#include <bit>
#include <boost/pfr/core.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace pdm::detail {

template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

template <class T>
struct is_std_vector : std::false_type {};
template <class T>
struct is_std_vector<std::vector<T>> : std::true_type {};

// A struct pdm walks with Boost.PFR. Unions, and classes with constructors or private members,
// are not aggregates; std::array, std::string and std::vector have their own encodings.
template <class T>
inline constexpr bool is_state_aggregate = std::is_class_v<T>&& std::is_aggregate_v<T> && !is_std_array<T>::value;

// An enumeration whose every value of its underlying type is a valid value: one with a fixed
// underlying type (scoped, or `enum E : int`), which alone can be list-initialized from an
// integer. Loading any other enum from a stream could make a value it cannot hold. An
// underlying type of bool is refused too: only 0 and 1 are valid bools.
template <class T>
concept enum_with_fixed_type = std::is_enum_v<T> && requires(std::underlying_type_t<T> v) {
  T{v};
};
template <class T>
constexpr bool saveable_enum() noexcept {
  if constexpr (enum_with_fixed_type<T>) {
    return !std::is_same_v<std::underlying_type_t<T>, bool>;
  } else {
    return false;
  }
}

/// \brief How a saveable type is encoded.
enum class state_kind {
  none,       ///< not saveable
  scalar,     ///< integer, float, double or enumeration: sizeof(T) bytes, little-endian
  boolean,    ///< one byte, 0 or 1
  array,      ///< std::array: its elements
  string,     ///< std::string: count, then the bytes
  vector,     ///< std::vector: count, then the elements
  aggregate,  ///< a struct: its fields in order
};

template <class T>
constexpr state_kind state_kind_of() noexcept {
  // NOLINTNEXTLINE(bugprone-branch-clone): "none" for different reasons, first and last
  if constexpr (std::is_const_v<T> || std::is_volatile_v<T> || std::is_reference_v<T>) {
    return state_kind::none;
  } else if constexpr (std::is_same_v<T, bool>) {
    return state_kind::boolean;
  } else if constexpr (std::is_integral_v<T>) {
    return state_kind::scalar;
  } else if constexpr (std::is_enum_v<T>) {
    return saveable_enum<T>() ? state_kind::scalar : state_kind::none;
  } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    return std::numeric_limits<T>::is_iec559 ? state_kind::scalar : state_kind::none;
  } else if constexpr (is_std_array<T>::value) {
    return state_kind::array;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return state_kind::string;
  } else if constexpr (is_std_vector<T>::value) {
    return state_kind::vector;
  } else if constexpr (is_state_aggregate<T>) {
    // A reference or const member deletes the assignment a load needs (and Boost.PFR reports a
    // reference member as the type it refers to, so this is where one is caught).
    return std::is_move_assignable_v<T> ? state_kind::aggregate : state_kind::none;
  } else {
    return state_kind::none;
  }
}

/// \brief The fewest bytes a saveable T takes in a stream (a string or vector: its count).
template <class T>
constexpr std::size_t state_min_size() noexcept {
  constexpr state_kind kind = state_kind_of<T>();
  if constexpr (kind == state_kind::scalar) {
    return sizeof(T);
  } else if constexpr (kind == state_kind::boolean) {
    return 1;
  } else if constexpr (kind == state_kind::array) {
    return std::tuple_size_v<T> * state_min_size<typename T::value_type>();
  } else if constexpr (kind == state_kind::string || kind == state_kind::vector) {
    return sizeof(std::uint64_t);
  } else if constexpr (kind == state_kind::aggregate) {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return (std::size_t{0} + ... + state_min_size<boost::pfr::tuple_element_t<I, T>>());
    }
    (std::make_index_sequence<boost::pfr::tuple_size_v<T>>{});
  } else {
    return 0;
  }
}

// The first type, walking T's elements and fields depth-first, that cannot be saved: T itself
// when T's own kind is none; `void` when everything in T can be saved.
template <class T>
struct first_unsaveable;

template <class T>
using first_unsaveable_t = typename first_unsaveable<T>::type;

template <class T, class Fields>
struct first_unsaveable_field;
template <class T, std::size_t... I>
struct first_unsaveable_field<T, std::index_sequence<I...>> {
  // The first non-void of the fields' answers, or void.
  template <class... R>
  struct first_non_void {
    using type = void;
  };
  template <class R0, class... R>
  struct first_non_void<R0, R...> {
    using type = std::conditional_t<std::is_void_v<R0>, typename first_non_void<R...>::type, R0>;
  };
  using type = typename first_non_void<first_unsaveable_t<boost::pfr::tuple_element_t<I, T>>...>::type;
};

template <class T>
struct first_unsaveable {
  static constexpr state_kind kind = state_kind_of<T>();
  static auto pick() {
    if constexpr (kind == state_kind::none) {
      return std::type_identity<T>{};
    } else if constexpr (kind == state_kind::array || kind == state_kind::vector) {
      using element = typename T::value_type;
      using inner = first_unsaveable_t<element>;
      if constexpr (!std::is_void_v<inner>) {
        return std::type_identity<inner>{};
      } else if constexpr (kind == state_kind::vector && state_min_size<element>() == 0) {
        // Elements that take no bytes: a count in the stream could not be checked against the
        // bytes left, so a corrupted count could ask for any number of them.
        return std::type_identity<T>{};
      } else {
        return std::type_identity<void>{};
      }
    } else if constexpr (kind == state_kind::aggregate) {
      return std::type_identity<
          typename first_unsaveable_field<T, std::make_index_sequence<boost::pfr::tuple_size_v<T>>>::type>{};
    } else {
      return std::type_identity<void>{};
    }
  }
  using type = typename decltype(pick())::type;
};

/// \brief True when pdm can save and load a T (see the list at the top of this header).
template <class T>
inline constexpr bool saveable = std::is_void_v<first_unsaveable_t<T>>;

// Whether T's encoding is its bytes in memory on this machine (see state_bytes_as_in_memory).
template <class T>
constexpr bool bytes_as_in_memory() noexcept {
  constexpr state_kind kind = state_kind_of<T>();
  // NOLINTNEXTLINE(bugprone-branch-clone): false for different reasons, first and last
  if constexpr (std::endian::native != std::endian::little) {
    return false;
  } else if constexpr (kind == state_kind::scalar) {
    return true;
  } else if constexpr (kind == state_kind::array) {
    using element = typename T::value_type;
    return bytes_as_in_memory<element>() && sizeof(T) == std::tuple_size_v<T> * sizeof(element);
  } else if constexpr (kind == state_kind::aggregate) {
    if constexpr (!std::is_trivially_copyable_v<T>) {
      return false;
    } else {
      // Every field copies as its bytes, and their sizes add up to the struct's: no padding, so
      // (members of an aggregate being laid out in declaration order) each field sits at the
      // offset the encoding gives it.
      return []<std::size_t... I>(std::index_sequence<I...>) {
        return (true && ... && bytes_as_in_memory<boost::pfr::tuple_element_t<I, T>>()) &&
               (std::size_t{0} + ... + sizeof(boost::pfr::tuple_element_t<I, T>)) == sizeof(T);
      }
      (std::make_index_sequence<boost::pfr::tuple_size_v<T>>{});
    }
  } else {
    return false;  // bool (only 0 and 1 may be loaded), strings and vectors (counts)
  }
}

/// \brief True when a T's encoding is its bytes in memory on this machine, so that a run of
/// them (an array or vector) is copied in one piece: on a little-endian machine, integers,
/// floats, enumerations, and arrays and aggregates of those without padding. Not bool: a
/// loaded bool is checked to be 0 or 1.
template <class T>
inline constexpr bool state_bytes_as_in_memory = bytes_as_in_memory<T>();

}  // namespace pdm::detail
