// pdm/config/schema.hpp - what a config struct accepts, as data: keys, types, defaults, docs.
//
// config_schema<T>() lists every key a config struct binds, nested keys as paths below the
// driver's Config node (`Parent/Path`, `Snapshots/<name>/Generation`), with a type a person can
// read, the default (from a default-constructed T), whether it is required, and the one-line
// description from config_fields. Tools use it to document and check configurations without
// constructing drivers; analysis/config_reference.hpp turns it into Markdown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "pdm/config/binding.hpp"
#include "pdm/config/value.hpp"

namespace pdm {

/// \brief One key of a config schema.
struct config_key_info {
  std::string key;            ///< path below the Config node, e.g. `Parent/Path`; `<name>` stands for any name
  std::string type;           ///< e.g. `integer (uint32, 512..4096)`, `enum: none, write_back`, `node`
  std::string default_value;  ///< as a person reads it (`512`, `"raw"`, `true`), or empty when there is none
  bool required = false;      ///< a missing key is an error
  std::string description;    ///< from config_fields, or empty
};

namespace detail {

template <class I>
std::string integer_type_name() {
  return std::string(std::is_signed_v<I> ? "int" : "uint") + std::to_string(sizeof(I) * 8);
}

template <class M>
std::string scalar_type_name(const config_field* f) {
  if constexpr (config_integer<M>) {
    std::string t = "integer (" + integer_type_name<M>();
    if (f != nullptr &&
        (f->min != std::numeric_limits<std::int64_t>::min() || f->max != std::numeric_limits<std::uint64_t>::max())) {
      const auto lo = std::max<std::int64_t>(f->min, static_cast<std::int64_t>(std::numeric_limits<M>::min()));
      const auto hi = std::min<std::uint64_t>(f->max, static_cast<std::uint64_t>(std::numeric_limits<M>::max()));
      t += ", " + std::to_string(lo) + ".." + std::to_string(hi);
    }
    return t + ")";
  } else if constexpr (std::is_same_v<M, bool>) {
    return "bool";
  } else if constexpr (std::is_same_v<M, std::string>) {
    return "string";
  } else if constexpr (std::is_same_v<M, config_bytes>) {
    return "bytes";
  } else {
    static_assert(is_config_enum<M>);
    std::string t = "enum:";
    bool first = true;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<M>>([&](auto d) {
      t += first ? " " : ", ";
      t += d.name;
      first = false;
    });
    return t;
  }
}

template <class M>
std::string scalar_json(const M& v) {
  if constexpr (config_integer<M>) {
    return std::to_string(v);
  } else if constexpr (std::is_same_v<M, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_same_v<M, std::string>) {
    return config_value::quote(v);
  } else if constexpr (std::is_same_v<M, config_bytes>) {
    return v.empty() ? std::string() : config_value(v).text();
  } else {
    std::string name;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<M>>([&](auto d) {
      if (name.empty() && v == d.value) name = config_value::quote(d.name);
    });
    return name;
  }
}

class schema_builder {
 public:
  std::vector<config_key_info> keys;

  template <class T>
  void add_struct(const std::string& prefix, const T& defaults) {
    add_members(prefix, defaults, std::make_index_sequence<member_count<T>()>{});
  }

 private:
  template <class T, std::size_t... I>
  void add_members(const std::string& prefix, const T& defaults, std::index_sequence<I...> /*unused*/) {
    (add_member<T, I>(prefix, defaults), ...);
  }

  template <class T, std::size_t I>
  void add_member(const std::string& prefix, const T& defaults) {
    constexpr const member_info& info = members_of<T>[I];
    using M = member_type_at<T, I>;
    const M& value = boost::hana::second(boost::hana::at_c<I>(boost::hana::accessors<T>()))(defaults);
    config_key_info k;
    k.key = join_path(prefix, info.key.view());
    if (info.field != nullptr) {
      k.required = info.field->required;
      k.description = std::string(info.field->description);
    }
    add_typed<M>(std::move(k), value, info.field);
  }

  template <class M>
  void add_typed(config_key_info k, const M& value, const config_field* f) {
    if constexpr (is_optional<M>::value) {
      using V = typename M::value_type;
      if constexpr (is_config_struct<V>) {
        k.type = "node (optional)";
        const std::string prefix = k.key;
        keys.push_back(std::move(k));
        add_struct(prefix, value ? *value : V{});
      } else {
        k.type = scalar_type_name<V>(f) + ", optional";
        if (value) k.default_value = scalar_json(*value);
        keys.push_back(std::move(k));
      }
    } else if constexpr (is_config_struct<M>) {
      k.type = "node";
      const std::string prefix = k.key;
      keys.push_back(std::move(k));
      add_struct(prefix, value);
    } else if constexpr (is_vector<M>::value || is_string_map<M>::value) {
      using E = typename list_value<M>::type;
      const char* what = is_vector<M>::value ? "list" : "map";
      const std::string prefix = k.key + "/<name>";
      if constexpr (is_config_struct<E>) {
        k.type = std::string("node: a ") + what + " of nodes, one per child";
        keys.push_back(std::move(k));
        add_struct(prefix, E{});
      } else {
        k.type = std::string("node: a ") + what + " of " + scalar_type_name<E>(f) + " values";
        keys.push_back(std::move(k));
      }
    } else {
      k.type = scalar_type_name<M>(f);
      k.default_value = scalar_json(value);
      keys.push_back(std::move(k));
    }
  }
};

}  // namespace detail

/// \brief Every key config struct T binds, in member order, nested keys after their node.
template <class T>
[[nodiscard]] std::vector<config_key_info> config_schema() {
  if constexpr (!check_config<T>()) {
    return {};  // not reached: check_config stopped the build
  } else {
    detail::schema_builder b;
    b.add_struct(std::string(), T{});
    return std::move(b.keys);
  }
}

}  // namespace pdm
