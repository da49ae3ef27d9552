// pdm/config/binding.hpp - binding a config node to a driver's typed config struct.
//
// A driver declares its configuration as a plain struct described to Boost.Hana (with
// BOOST_HANA_ADAPT_STRUCT after the definition, so members keep their default initializers, or
// BOOST_HANA_DEFINE_STRUCT), and optionally a table `static constexpr pdm::config_field
// config_fields[]` that gives a member a description, marks it required, renames its key or limits
// an integer's range. pdm::bind<T>(node) reads the node into a T:
//
//   integers (range-checked against the member's type and the table's min/max), bool,
//   std::string, pdm::config_bytes, enums by enumerator name (described with BOOST_DESCRIBE_ENUM),
//   std::optional<X> (absent: nullopt), nested described structs (a child node), and lists of
//   children: std::vector<X> (the entries of a child node, in order) and std::map<std::string, X>
//   (keyed by entry name).
//
// Keys default to the member's name in CamelCase (`read_only` is `ReadOnly`), the convention of
// VirtualBox-style configs. Defaults are the members' initializers. Binding reports every problem
// at once, each with its full config path: unknown keys (with a "did you mean"), wrong types,
// integers out of range, enum names that do not exist, missing required keys. The returned error is
// `invalid_value` ("N problems") at the node's path, its causes() are the problems in the order
// found (the members' order, then unknown keys), and nothing is half-bound.
//
// Macros: the struct and enum descriptions are the only macros pdm asks for; C++20 has no
// reflection to do without them.
#pragma once

#include <algorithm>
#include <array>
#include <boost/describe/enum.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/hana/accessors.hpp>
#include <boost/hana/adapt_struct.hpp>
#include <boost/hana/at.hpp>
#include <boost/hana/concept/struct.hpp>
#include <boost/hana/define_struct.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>
#include <boost/mp11/algorithm.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "pdm/config/fwd.hpp"
#include "pdm/config/tree.hpp"
#include "pdm/config/value.hpp"
#include "pdm/core/error.hpp"
#include "pdm/core/suggest.hpp"

namespace pdm {

/// \brief What a config struct says about one member (all but `member` optional).
struct config_field {
  std::string_view member;            ///< the C++ member's name
  std::string_view description = {};  ///< one line for the config reference
  bool required = false;              ///< a missing key is `missing_required`
  std::string_view key = {};          ///< the config key; empty: the member's name in CamelCase
  std::int64_t min = std::numeric_limits<std::int64_t>::min();    ///< integers: the smallest allowed
  std::uint64_t max = std::numeric_limits<std::uint64_t>::max();  ///< integers: the largest allowed
};

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::bool_constant<!std::is_same_v<T, std::byte>> {};
template <class T>
struct is_string_map : std::false_type {};
template <class T, class C, class A>
struct is_string_map<std::map<std::string, T, C, A>> : std::true_type {};

template <class T>
inline constexpr bool is_config_struct = boost::hana::Struct<T>::value;

template <class T>
inline constexpr bool is_config_enum = std::is_enum_v<T>&& boost::describe::has_describe_enumerators<T>::value;

template <class T>
inline constexpr bool is_config_scalar =
    config_integer<T> || std::is_same_v<T, bool> || std::is_same_v<T, std::string> || std::is_same_v<T, config_bytes> ||
    is_config_enum<T>;

// What one element of a list, map or optional may be.
template <class T>
inline constexpr bool is_config_element = is_config_scalar<T> || is_config_struct<T>;

template <class T>
struct member_bindable : std::bool_constant<is_config_element<T>> {};
template <class T>
struct member_bindable<std::optional<T>> : std::bool_constant<is_config_element<T>> {};
template <class T, class A>
struct member_bindable<std::vector<T, A>> : std::bool_constant<std::is_same_v<T, std::byte> || is_config_element<T>> {};
template <class T, class C, class A>
struct member_bindable<std::map<std::string, T, C, A>> : std::bool_constant<is_config_element<T>> {};

template <class T>
constexpr std::size_t member_count() noexcept {
  if constexpr (is_config_struct<T>) {
    return decltype(boost::hana::length(boost::hana::accessors<T>()))::value;
  } else {
    return 0;
  }
}

template <class T, std::size_t I>
using member_type_at = std::remove_cvref_t<decltype(boost::hana::second(
    boost::hana::at_c<I>(boost::hana::accessors<T>()))(std::declval<T&>()))>;

template <class T, std::size_t... I>
constexpr std::array<std::string_view, sizeof...(I)> member_names_of(std::index_sequence<I...> /*unused*/) noexcept {
  return {std::string_view(
      boost::hana::to<const char*>(boost::hana::first(boost::hana::at_c<I>(boost::hana::accessors<T>()))))...};
}

template <class T>
inline constexpr std::array<std::string_view, member_count<T>()> member_names =
    member_names_of<T>(std::make_index_sequence<member_count<T>()>{});

template <class T>
constexpr std::span<const config_field> fields_of() noexcept {
  if constexpr (requires { std::span<const config_field>(T::config_fields); }) {
    return std::span<const config_field>(T::config_fields);
  } else {
    return {};
  }
}

// A key computed at compile time (CamelCase of a member name, or the table's key).
struct key_text {
  std::array<char, config_limits::max_name_bytes + 1> text{};
  std::size_t size = 0;
  [[nodiscard]] constexpr std::string_view view() const noexcept { return {text.data(), size}; }
};

constexpr key_text camel_case(std::string_view member) noexcept {
  key_text k;
  bool upper = true;
  for (char c : member) {
    if (c == '_') {
      upper = true;
      continue;
    }
    if (k.size == config_limits::max_name_bytes) break;
    k.text[k.size++] = upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    upper = false;
  }
  return k;
}

struct member_info {
  key_text key;
  const config_field* field = nullptr;  // the table's entry for the member, if any
};

template <class T>
constexpr std::array<member_info, member_count<T>()> member_infos() noexcept {
  std::array<member_info, member_count<T>()> out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::string_view name = member_names<T>[i];
    for (const config_field& f : fields_of<T>()) {
      if (f.member == name) {
        out[i].field = &f;
        break;
      }
    }
    if (out[i].field != nullptr && !out[i].field->key.empty()) {
      key_text k;
      for (char c : out[i].field->key.substr(0, config_limits::max_name_bytes)) k.text[k.size++] = c;
      out[i].key = k;
    } else {
      out[i].key = camel_case(name);
    }
  }
  return out;
}

template <class T>
inline constexpr auto members_of = member_infos<T>();

template <class T>
constexpr bool fields_name_members() noexcept {
  return std::ranges::all_of(fields_of<T>(), [](const config_field& f) {
    return std::ranges::find(member_names<T>, f.member) != member_names<T>.end();
  });
}
template <class T>
constexpr bool fields_name_members_once() noexcept {
  const std::span<const config_field> fs = fields_of<T>();
  for (std::size_t i = 0; i < fs.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (fs[i].member == fs[j].member) return false;
    }
  }
  return true;
}
template <class T>
constexpr bool keys_are_valid() noexcept {
  return std::ranges::all_of(members_of<T>, [](const member_info& m) { return valid_name(m.key.view()); }) &&
         std::ranges::all_of(fields_of<T>(), [](const config_field& f) { return f.key.empty() || valid_name(f.key); });
}
template <class T>
constexpr bool keys_are_unique() noexcept {
  for (std::size_t i = 0; i < members_of<T>.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (members_of<T>[i].key.view() == members_of<T>[j].key.view()) return false;
    }
  }
  return true;
}

// The integer a member holds (itself, or through optional, vector or map), or void.
template <class M>
struct integer_of {
  using type = void;
};
template <config_integer M>
struct integer_of<M> {
  using type = M;
};
template <class M>
struct integer_of<std::optional<M>> : integer_of<M> {};
template <class M, class A>
struct integer_of<std::vector<M, A>> : integer_of<M> {};
template <class M, class C, class A>
struct integer_of<std::map<std::string, M, C, A>> : integer_of<M> {};

template <class T, std::size_t... I>
constexpr bool ranges_fit(std::index_sequence<I...> /*unused*/) noexcept {
  auto fits = [](const member_info& m, auto tag) {
    using M = typename decltype(tag)::type;
    if (m.field == nullptr) return true;
    const bool ranged = m.field->min != std::numeric_limits<std::int64_t>::min() ||
                        m.field->max != std::numeric_limits<std::uint64_t>::max();
    if (!ranged) return true;
    using Int = typename integer_of<M>::type;
    if constexpr (std::is_void_v<Int>) {
      return false;
    } else {
      return m.field->min < 0 || static_cast<std::uint64_t>(m.field->min) <= m.field->max;
    }
  };
  return (fits(
              members_of<T>[I], std::type_identity<member_type_at<T, I>> {}) &&
          ...);
}
template <class T>
constexpr bool ranges_fit() noexcept {
  return ranges_fit<T>(std::make_index_sequence<member_count<T>()>{});
}

template <class T, std::size_t... I>
constexpr bool members_bindable(std::index_sequence<I...> /*unused*/) noexcept {
  return (member_bindable<member_type_at<T, I>>::value && ...);
}

// What one entry of a list binds to: the vector's element, or the map's mapped type.
template <class M>
struct list_value {
  using type = typename M::value_type;
};
template <class T, class C, class A>
struct list_value<std::map<std::string, T, C, A>> {
  using type = T;
};

// The described struct a member holds (itself, or through optional, vector or map), or void.
template <class M>
struct element_struct {
  using type = std::conditional_t<is_config_struct<M>, M, void>;
};
template <class M>
struct element_struct<std::optional<M>> : element_struct<M> {};
template <class M, class A>
struct element_struct<std::vector<M, A>> : element_struct<M> {};
template <class M, class C, class A>
struct element_struct<std::map<std::string, M, C, A>> : element_struct<M> {};
template <class M>
using element_struct_t = typename element_struct<M>::type;

}  // namespace detail

namespace rule {

template <class T>
inline constexpr bool config_type_is_a_struct_described_with_boost_hana = detail::is_config_struct<T>;

template <class T>
inline constexpr bool config_struct_is_default_constructible = std::is_default_constructible_v<T>;

template <class T>
inline constexpr bool config_fields_name_members_of_the_struct = detail::fields_name_members<T>();

template <class T>
inline constexpr bool config_fields_name_each_member_at_most_once = detail::fields_name_members_once<T>();

template <class T>
inline constexpr bool config_keys_are_valid_names = detail::keys_are_valid<T>();

template <class T>
inline constexpr bool config_keys_are_unique = detail::keys_are_unique<T>();

template <class T>
inline constexpr bool config_ranges_are_given_only_for_integers_and_not_empty = detail::ranges_fit<T>();

/// M is a member type of config struct T that binding supports.
template <class T, class M>
inline constexpr bool config_member_type_is_bindable = detail::member_bindable<M>::value;

}  // namespace rule

namespace detail {

template <class T>
constexpr bool config_value_rules_hold() noexcept;

template <class E>
constexpr bool nested_rules_hold() noexcept {
  if constexpr (std::is_void_v<E>) {
    return true;
  } else {
    return config_value_rules_hold<E>();
  }
}
template <class T, std::size_t... I>
constexpr bool nested_structs_hold(std::index_sequence<I...> /*unused*/) noexcept {
  return (nested_rules_hold<element_struct_t<member_type_at<T, I>>>() && ...);
}

template <class T>
constexpr bool config_value_rules_hold() noexcept {
  return rule::config_struct_is_default_constructible<T> && rule::config_fields_name_members_of_the_struct<T> &&
         rule::config_fields_name_each_member_at_most_once<T> && rule::config_keys_are_valid_names<T> &&
         rule::config_keys_are_unique<T> && rule::config_ranges_are_given_only_for_integers_and_not_empty<T> &&
         members_bindable<T>(std::make_index_sequence<member_count<T>()>{}) &&
         nested_structs_hold<T>(std::make_index_sequence<member_count<T>()>{});
}

template <class T>
struct config_struct_checks {
  static_assert(rule::config_type_is_a_struct_described_with_boost_hana<T>,
                "pdm: a config type must be a struct described with BOOST_HANA_ADAPT_STRUCT or "
                "BOOST_HANA_DEFINE_STRUCT");
};

template <class T, class M>
struct config_member_checks {
  static_assert(rule::config_member_type_is_bindable<T, M>,
                "pdm: a config member must be an integer, bool, std::string, pdm::config_bytes, a described "
                "enum, a described struct, or std::optional, std::vector or std::map<std::string, ...> of one");
};

template <class T>
struct config_value_checks {
  static_assert(rule::config_struct_is_default_constructible<T>,
                "pdm: a config struct must be default constructible (defaults come from member initializers)");
  static_assert(rule::config_fields_name_members_of_the_struct<T>,
                "pdm: an entry of config_fields names a member the config struct does not have");
  static_assert(rule::config_fields_name_each_member_at_most_once<T>, "pdm: config_fields describes a member twice");
  static_assert(rule::config_keys_are_valid_names<T>,
                "pdm: a config key must be a valid name (1..255 bytes, no '/', no control characters, no "
                "leading '$')");
  static_assert(rule::config_keys_are_unique<T>, "pdm: two members of a config struct have the same key");
  static_assert(rule::config_ranges_are_given_only_for_integers_and_not_empty<T>,
                "pdm: a config_fields range (min, max) applies only to integer members and needs min <= max");
};

// Instantiates the member checks of T, and the checks of every struct nested in it.
template <class T>
constexpr std::size_t diagnose_members() noexcept;

template <class E>
constexpr std::size_t diagnose_nested() noexcept {
  if constexpr (std::is_void_v<E>) {
    return 0;
  } else {
    return sizeof(config_value_checks<E>) + diagnose_members<E>();  // named with the nested type
  }
}

template <class T, std::size_t... I>
constexpr std::size_t diagnose_members(std::index_sequence<I...> /*unused*/) noexcept {
  return (sizeof(config_member_checks<T, member_type_at<T, I>>) + ... + 0) +
         (diagnose_nested<element_struct_t<member_type_at<T, I>>>() + ... + 0);
}

template <class T>
constexpr std::size_t diagnose_members() noexcept {
  return diagnose_members<T>(std::make_index_sequence<member_count<T>()>{});
}

template <class T>
using config_checks_for = std::conditional_t<!rule::config_type_is_a_struct_described_with_boost_hana<T>,
                                             config_struct_checks<T>, config_value_checks<T>>;

// Never called: instantiating it fires the broken rules' static_asserts (see driver.hpp).
template <class T>
void diagnose_config() noexcept {
  (void)sizeof(config_checks_for<T>);
  if constexpr (rule::config_type_is_a_struct_described_with_boost_hana<T>) (void)diagnose_members<T>();
}

}  // namespace detail

/// \brief True when T is a config struct pdm can bind; silent.
template <class T>
concept config_struct = detail::is_config_struct<T> && detail::config_value_rules_hold<T>();

/// \brief Checks T against every config struct rule, one static_assert message per broken rule.
template <class T>
consteval bool check_config() {
  (void)&detail::diagnose_config<T>;
  return config_struct<T>;
}

namespace detail {

// A config path built only when a problem needs it: binding a valid config allocates no paths.
struct lazy_path {
  const std::string& base;
  std::string_view leaf;
  [[nodiscard]] std::string str() const { return join_path(base, leaf); }
};

class binder {
 public:
  std::vector<error> problems;

  void problem(errc code, std::string detail, const std::string& path) {
    problems.push_back(error(code, std::move(detail)).path(path));
  }
  void problem(errc code, std::string detail, const lazy_path& at) { problem(code, std::move(detail), at.str()); }

  template <class T>
  void bind_struct(const config_node* node, const std::string& path, T& out) {
    std::size_t matched = 0;
    bind_members(node, path, out, matched, std::make_index_sequence<member_count<T>()>{});
    if (node != nullptr && matched != node->size()) report_unknown_keys<T>(*node);
  }

  // Binds one entry (present) to `out`; `field` carries a member's range down to its integers.
  template <class M>
  void bind_entry(const config_node::entry_ref& e, const lazy_path& path, M& out, const config_field* field) {
    if constexpr (is_optional<M>::value) {
      out.emplace();
      bind_entry(e, path, *out, field);
    } else if constexpr (is_config_struct<M>) {
      if (!e.is_node()) return problem(errc::wrong_type, "expected a node, found a value", path);
      bind_struct(&e.node(), path.str(), out);
    } else if constexpr (is_vector<M>::value || is_string_map<M>::value) {
      if (!e.is_node()) return problem(errc::wrong_type, "expected a node holding a list, found a value", path);
      const std::string list_path = path.str();
      for (config_node::entry_ref item : e.node().entries()) {
        const lazy_path item_path{list_path, item.name()};
        typename list_value<M>::type element{};
        bind_entry(item, item_path, element, field);
        if constexpr (is_vector<M>::value) {
          out.push_back(std::move(element));
        } else {
          out.emplace(item.name(), std::move(element));
        }
      }
    } else {
      if (e.is_node()) return problem(errc::wrong_type, "expected a value, found a node", path);
      read_scalar(e.value(), path, out, field);
    }
  }

  template <class M>
  void read_scalar(const config_value& v, const lazy_path& path, M& out, const config_field* field) {
    if constexpr (is_config_enum<M>) {
      if (v.kind() != value_kind::string) {
        return problem(errc::wrong_type,
                       "expected the name of an enumerator (a string), found " + std::string(value_kind_name(v.kind())),
                       path);
      }
      bool found = false;
      std::vector<std::string_view> names;
      boost::mp11::mp_for_each<boost::describe::describe_enumerators<M>>([&](auto d) {
        names.emplace_back(d.name);
        if (!found && v.string() == d.name) {
          out = d.value;
          found = true;
        }
      });
      if (found) return;
      std::string detail = v.text() + " is not one of:";
      for (std::string_view n : names) detail += " " + std::string(n);
      if (std::string_view s = closest(v.string(), names); !s.empty())
        detail += " (did you mean '" + std::string(s) + "'?)";
      problem(errc::invalid_value, std::move(detail), path);
    } else if constexpr (std::is_same_v<M, std::string>) {
      // Straight into the member: no result<std::string> to copy through.
      if (v.kind() != value_kind::string) {
        return problem(errc::wrong_type, "expected a string, found " + std::string(value_kind_name(v.kind())), path);
      }
      out = v.string();
    } else {
      result<M> r = v.as<M>();
      if (!r) {
        const error& e = r.error_value();
        return problem(static_cast<errc>(e.code().value()), e.detail(), path);
      }
      if constexpr (config_integer<M>) {
        if (field != nullptr) {
          const bool low = v.is_negative() ? static_cast<std::int64_t>(v.bits()) < field->min
                                           : field->min >= 0 && v.bits() < static_cast<std::uint64_t>(field->min);
          const bool high = !v.is_negative() && v.bits() > field->max;
          if (low || high) {
            return problem(errc::out_of_range,
                           v.text() + " is outside " + std::to_string(field->min) + ".." + std::to_string(field->max),
                           path);
          }
        }
      }
      out = std::move(*r);
    }
  }

 private:
  template <class T, std::size_t... I>
  void bind_members(const config_node* node, const std::string& path, T& out, std::size_t& matched,
                    std::index_sequence<I...> /*unused*/) {
    (bind_member<T, I>(node, path, out, matched), ...);
  }

  template <class T, std::size_t I>
  void bind_member(const config_node* node, const std::string& path, T& out, std::size_t& matched) {
    constexpr const member_info& info = members_of<T>[I];
    using M = member_type_at<T, I>;
    M& member = boost::hana::second(boost::hana::at_c<I>(boost::hana::accessors<T>()))(out);
    const lazy_path key_path{path, info.key.view()};
    std::optional<config_node::entry_ref> e = node == nullptr ? std::nullopt : node->find(info.key.view());
    if (!e) {
      if (info.field != nullptr && info.field->required) {
        problem(errc::missing_required, "the key " + config_value::quote(info.key.view()) + " is required", key_path);
      } else if constexpr (is_config_struct<M>) {
        bind_struct(nullptr, key_path.str(), member);  // an absent node still has required keys
      }
      return;
    }
    ++matched;
    bind_entry(*e, key_path, member, info.field);
  }

  template <class T>
  void report_unknown_keys(const config_node& node) {
    std::array<std::string_view, member_count<T>()> keys{};
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = members_of<T>[i].key.view();
    for (config_node::entry_ref e : node.entries()) {
      if (std::find(keys.begin(), keys.end(), e.name()) != keys.end()) continue;
      std::string detail = config_value::quote(e.name()) + " is not a key of this config";
      if (std::string_view s = closest(e.name(), keys); !s.empty())
        detail += "; did you mean '" + std::string(s) + "'?";
      problem(errc::unknown_key, std::move(detail), node.full_path(e.name()));
    }
  }
};

}  // namespace detail

namespace detail {

// Binds `node` into `out` (default-constructed); the problems, as one error, if any.
template <class T>
status bind_into(const config_node& node, T& out) {
  binder b;
  b.bind_struct(&node, node.path(), out);
  if (b.problems.empty()) return ok();
  error all(errc::invalid_value,
            std::to_string(b.problems.size()) + (b.problems.size() == 1 ? " problem" : " problems"));
  all.path(node.path());
  for (error& e : b.problems) all.add_cause(std::move(e));
  return all;
}

}  // namespace detail

/// \brief Binds `node` to a new T (see the header's comment); every problem is reported at once.
template <class T>
[[nodiscard]] result<T> bind(const config_node& node) {
  if constexpr (!check_config<T>()) {
    return error(errc::invalid_argument);  // not reached: check_config stopped the build
  } else {
    T out{};
    if (status s = detail::bind_into(node, out); !s) return std::move(s).error_value();
    return out;
  }
}

namespace detail {

// Declared in pdm/config/fwd.hpp for driver descriptors: binds, then hands the bound struct over
// (bound in place: no result<T> to move it through).
template <class T>
status bind_config_erased(const config_node& node, bound_config_user use, void* context) {
  if constexpr (!check_config<T>()) {
    return error(errc::invalid_argument);  // not reached: check_config stopped the build
  } else {
    T out{};
    if (status s = bind_into(node, out); !s) return s;
    use(&out, context);  // the receiver may move from it
    return ok();
  }
}

}  // namespace detail

/// \brief Checks that `node` binds to T, without keeping the result.
template <class T>
[[nodiscard]] status validate_config(const config_node& node) {
  result<T> r = bind<T>(node);
  if (!r) return std::move(r).error_value();
  return ok();
}

}  // namespace pdm
