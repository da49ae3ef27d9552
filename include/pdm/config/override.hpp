// pdm/config/override.hpp - `path=value` overrides, as a command line gives them.
//
// `Devices/serial/0/LUN#0/Config/Port=5023` sets one value, creating missing nodes on the way.
// Overrides are typed: when a value already exists, the text must parse as that value's kind (a
// string stays a string even if it reads "5"; an integer refuses "abc" with `wrong_type`). A new
// value is an integer if the text is one (decimal, or hex with 0x, optionally negative), a bool if
// it is `true` or `false`, and a string otherwise. A `:kind` suffix on the path forces the kind:
// `Path:string=123`, `Id:integer=0x10`, `Key:bytes=00ff10` (hex), `Flag:bool=1`.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pdm/config/tree.hpp"
#include "pdm/config/value.hpp"
#include "pdm/core/error.hpp"

namespace pdm {

namespace detail {

[[nodiscard]] inline std::optional<config_value> parse_integer(std::string_view text, errc& why) {
  why = errc::wrong_type;
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  unsigned base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    unsigned d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    if (v > (UINT64_MAX - d) / base) {
      why = negative ? errc::integer_too_small : errc::integer_too_big;
      return std::nullopt;
    }
    v = v * base + d;
  }
  if (!negative) return config_value(v);
  if (v > static_cast<std::uint64_t>(INT64_MAX) + 1) {
    why = errc::integer_too_small;
    return std::nullopt;
  }
  if (v == 0) return config_value(std::int64_t{0});
  return config_value(static_cast<std::int64_t>(0 - v));  // two's complement: -v fits int64
}

[[nodiscard]] inline std::optional<config_value> parse_hex_bytes(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  config_bytes out;
  out.reserve(text.size() / 2);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<std::byte>(hi * 16 + lo));
  }
  return config_value(std::move(out));
}

[[nodiscard]] inline result<config_value> parse_as(value_kind kind, std::string_view text, const std::string& path) {
  switch (kind) {
    case value_kind::integer: {
      errc why{};
      if (std::optional<config_value> v = parse_integer(text, why)) return *v;
      return error(why, config_value::quote(text) + (why == errc::wrong_type ? " is not an integer" : "")).path(path);
    }
    case value_kind::boolean:
      if (text == "true" || text == "1") return config_value(true);
      if (text == "false" || text == "0") return config_value(false);
      return error(errc::wrong_type, config_value::quote(text) + " is not a bool (true, false, 1 or 0)").path(path);
    case value_kind::bytes:
      if (std::optional<config_value> v = parse_hex_bytes(text)) return *v;
      return error(errc::wrong_type, config_value::quote(text) + " is not bytes in hex (pairs of 0-9a-f)").path(path);
    case value_kind::string:
      return config_value(std::string(text));
  }
  return error(errc::internal_error);
}

}  // namespace detail

namespace detail {

// Applies one override below `root` as if `root` were `depth_offset` nodes deeper (the trial
// run of apply_overrides works on a copy whose root is at depth 0). Everything is checked before
// anything changes.
[[nodiscard]] inline status apply_override_at(config_node& root, std::string_view assignment,
                                              std::size_t depth_offset) {
  const std::size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return error(errc::invalid_argument, "an override reads path=value, not " + config_value::quote(assignment));
  }
  std::string_view path = assignment.substr(0, eq);
  const std::string_view text = assignment.substr(eq + 1);
  std::optional<value_kind> forced;
  const std::size_t colon = path.rfind(':');
  if (colon != std::string_view::npos && path.find('/', colon) == std::string_view::npos) {
    const std::string_view suffix = path.substr(colon + 1);
    for (value_kind k : {value_kind::integer, value_kind::string, value_kind::bytes, value_kind::boolean}) {
      if (suffix == value_kind_name(k)) forced = k;
    }
    const bool word = !suffix.empty() && std::ranges::all_of(suffix, [](char c) { return c >= 'a' && c <= 'z'; });
    if (!forced && word) {
      return error(errc::invalid_argument,
                   "unknown kind " + config_value::quote(suffix) + " (integer, string, bytes or bool)")
          .path(root.full_path(path.substr(0, colon)));
    }
    if (forced) path.remove_suffix(suffix.size() + 1);
  }
  const std::string full = root.full_path(path);
  const auto [dir, name] = split_last(path);
  const bool nested = path.find('/') != std::string_view::npos;
  if (std::string_view p = pdm::name_problem(name); !p.empty()) {
    return error(errc::invalid_name, std::string(p) + ": " + config_value::quote(name)).path(full);
  }
  const std::size_t parents = nested ? static_cast<std::size_t>(std::ranges::count(path, '/')) : 0;
  if (root.depth() + depth_offset + parents > config_limits::max_depth) {
    return depth_error(full);
  }
  // The value's kind: forced, else the existing value's, else what the text reads as.
  config_node* existing_at = nested ? root.find_child(dir) : &root;
  std::optional<value_kind> kind = forced;
  if (existing_at != nullptr) {
    if (existing_at->has_child(name)) return error(errc::wrong_type, "a node, not a value").path(full);
    if (const config_value* existing = existing_at->find_value(name); existing != nullptr && !kind) {
      kind = existing->kind();
    }
  }
  result<config_value> v = error(errc::internal_error);
  if (kind) {
    v = parse_as(*kind, text, full);
  } else {
    errc why{};
    if (std::optional<config_value> i = parse_integer(text, why)) {
      v = *i;
    } else if (why != errc::wrong_type) {
      v = error(why, config_value::quote(text)).path(full);
    } else if (text == "true" || text == "false") {
      v = config_value(text == "true");
    } else {
      v = config_value(std::string(text));
    }
  }
  if (!v) return std::move(v).error_value();
  if (std::string_view p = value_problem(*v); !p.empty()) return error(errc::invalid_value, std::string(p)).path(full);
  config_node* at = existing_at;
  if (at == nullptr) {
    result<config_node*> n = root.ensure_child(dir);  // checks every name before creating any node
    if (!n) return std::move(n).error_value();
    at = *n;
  }
  return at->set_value(name, std::move(*v));
}

}  // namespace detail

/// \brief Applies one `path[:kind]=value` override below `root` (see the header's comment); on an
/// error nothing changes.
[[nodiscard]] inline status apply_override(config_node& root, std::string_view assignment) {
  return detail::apply_override_at(root, assignment, 0);
}

/// \brief Applies overrides in order, all or nothing: on an error `root` is unchanged.
[[nodiscard]] inline status apply_overrides(config_node& root, std::span<const std::string> assignments) {
  // A trial run on a copy finds the first error, so the real run below cannot fail half-way.
  config_tree trial = root.clone();
  for (const std::string& a : assignments) {
    if (status s = detail::apply_override_at(trial.root(), a, root.depth()); !s) {
      error e = std::move(s).error_value();
      return e.path(root.full_path(e.config_path()));
    }
  }
  for (const std::string& a : assignments) {
    if (status s = apply_override(root, a); !s) return s;  // not reached: the trial run passed
  }
  return ok();
}

}  // namespace pdm
