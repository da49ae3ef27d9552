// pdm/config/json.hpp - config trees to and from JSON, through nlohmann/json.
//
// The format: a JSON object is a node, a key is a name. An integer (up to 64 bits, signed or
// unsigned) is an integer value, a string a string value, true/false a bool, and a byte string is
// written `{"$bytes": "<base64>"}`. Floating-point numbers, null and arrays are not config values
// and are refused with an error that says so. Keys keep their order, so a file saved after loading
// lists its keys as the original did.
//
// Loading is all or nothing: it builds a new tree, and any error (malformed JSON, a duplicate key,
// nesting deeper than 64 objects, an invalid name, a number or string over the limits) gives an
// error with the line and column, the config path, and no tree. The parser is nlohmann/json's,
// driven through its SAX interface so that duplicate keys and limits are caught while reading.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pdm/config/tree.hpp"
#include "pdm/config/value.hpp"
#include "pdm/core/error.hpp"

namespace pdm {

/// \brief Options of load_json and load_json_file.
struct json_load_options {
  /// Objects nested deeper than this are refused (`nesting_too_deep`); at most config_limits::max_depth.
  std::size_t max_depth = config_limits::max_depth;
  /// Input larger than this is refused before parsing (`out_of_range`).
  std::size_t max_input_bytes = std::size_t{64} * 1024 * 1024;
  /// Shown before line and column in error messages (load_json_file sets the file's name).
  std::string source_name = {};
};

namespace detail {

inline constexpr std::string_view base64_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

[[nodiscard]] inline std::string base64_encode(const config_bytes& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = std::to_integer<std::uint32_t>(in[i]) << 16U |
                            std::to_integer<std::uint32_t>(in[i + 1]) << 8U | std::to_integer<std::uint32_t>(in[i + 2]);
    for (unsigned shift : {18U, 12U, 6U, 0U}) out += base64_alphabet[(v >> shift) & 63U];
  }
  if (const std::size_t rest = in.size() - i; rest != 0) {
    std::uint32_t v = std::to_integer<std::uint32_t>(in[i]) << 16U;
    if (rest == 2) v |= std::to_integer<std::uint32_t>(in[i + 1]) << 8U;
    out += base64_alphabet[(v >> 18U) & 63U];
    out += base64_alphabet[(v >> 12U) & 63U];
    out += rest == 2 ? base64_alphabet[(v >> 6U) & 63U] : '=';
    out += '=';
  }
  return out;
}

// Strict: the standard alphabet, length a multiple of 4, padding only at the end, no stray bits.
[[nodiscard]] inline std::optional<config_bytes> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') pad = in.size() >= 2 && in[in.size() - 2] == '=' ? 2 : 1;
  config_bytes out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = in[i + k];
      std::uint32_t d = 0;
      if (c == '=' && i + 4 == in.size() && k >= 4 - pad) {
        d = 0;
      } else {
        const std::size_t pos = base64_alphabet.find(c);
        if (pos == std::string_view::npos) return std::nullopt;
        d = static_cast<std::uint32_t>(pos);
      }
      v = v << 6U | d;
    }
    const std::size_t n = i + 4 == in.size() ? 3 - pad : 3;
    if (n < 3 && (v & (n == 2 ? 0xFFU : 0xFFFFU)) != 0) return std::nullopt;  // non-canonical padding bits
    for (std::size_t k = 0; k < n; ++k) out.push_back(static_cast<std::byte>((v >> (16U - 8U * k)) & 0xFFU));
  }
  return out;
}

// An input iterator over a char buffer that publishes how far the parser has read, so errors
// found in SAX callbacks can name a line and column.
struct tracking_iterator {
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;
  const char* p = nullptr;
  const char** progress = nullptr;
  reference operator*() const noexcept { return *p; }
  tracking_iterator& operator++() noexcept {
    *progress = ++p;
    return *this;
  }
  tracking_iterator operator++(int) noexcept {  // NOLINT(cert-dcl21-cpp): the standard iterator form
    tracking_iterator t = *this;
    ++*this;
    return t;
  }
  friend bool operator==(const tracking_iterator& a, const tracking_iterator& b) noexcept { return a.p == b.p; }
};

class json_tree_builder {
 public:
  json_tree_builder(std::string_view text, const json_load_options& options, const char** progress)
      : text_(text), options_(options), progress_(progress) {}

  // nlohmann's SAX interface.
  bool null() { return fail_value(errc::wrong_type, "null is not a config value"); }
  bool boolean(bool b) { return put(config_value(b)); }
  bool number_integer(std::int64_t v) { return put(config_value(v)); }
  bool number_unsigned(std::uint64_t v) { return put(config_value(v)); }
  bool number_float(double /*v*/, const std::string& text) {
    if (text.find_first_of(".eE") == std::string::npos) {
      return fail_value(errc::integer_too_big, "integer " + text + " does not fit in 64 bits");
    }
    return fail_value(errc::wrong_type, "floating-point number " + text + " is not a config value (use an integer)");
  }
  bool string(std::string& s) {
    if (!frames_.empty() && frames_.back().bytes_state == 1) {
      std::optional<config_bytes> b = base64_decode(s);
      if (!b) return fail(errc::invalid_value, "{\"$bytes\": ...} needs standard base64", frames_.back().path);
      if (b->size() > config_limits::max_value_bytes) {
        return fail(errc::invalid_value, "a bytes value is at most 16 MiB", frames_.back().path);
      }
      frames_.back().bytes_state = 2;
      frames_.back().bytes = std::move(*b);
      return true;
    }
    if (s.size() > config_limits::max_value_bytes)
      return fail_value(errc::invalid_value, "a string value is at most 16 MiB");
    return put(config_value(std::move(s)));
  }
  bool binary(std::vector<std::uint8_t>& /*b*/) { return fail_value(errc::wrong_type, "binary values are not JSON"); }
  bool start_object(std::size_t /*n*/) {
    if (frames_.empty()) {
      frames_.push_back(frame{&tree_.root(), {}, {}, 0, {}});
      return true;
    }
    frame& parent = frames_.back();
    if (parent.bytes_state != 0)
      return fail(errc::invalid_value, "{\"$bytes\": ...} holds one base64 string", parent.path);
    if (frames_.size() > options_.max_depth || frames_.size() >= config_limits::max_depth + 1) {
      return fail(
          errc::nesting_too_deep,
          "objects nest at most " + std::to_string(std::min(options_.max_depth, config_limits::max_depth)) + " deep",
          join_path(parent.path, key_));
    }
    // The node is created at the first key (or at the end): `{"$bytes": ...}` is a value, not a node.
    frames_.push_back(frame{nullptr, key_, join_path(parent.path, key_), 0, {}});
    return true;
  }
  bool key(std::string& k) {
    frame& f = frames_.back();
    if (f.bytes_state != 0) return fail(errc::invalid_value, "{\"$bytes\": ...} holds nothing else", f.path);
    if (f.node == nullptr && k == "$bytes") {
      f.bytes_state = 1;
      return true;
    }
    if (!materialize()) return false;
    if (std::string_view p = pdm::name_problem(k); !p.empty()) {
      return fail(errc::invalid_name, std::string(p) + ": " + config_value::quote(k), join_path(f.path, k));
    }
    if (f.node->find(k)) {
      return fail(errc::duplicate_key, "the key " + config_value::quote(k) + " appears twice in one object",
                  join_path(f.path, k));
    }
    key_ = std::move(k);
    return true;
  }
  bool end_object() {
    frame& f = frames_.back();
    if (f.bytes_state == 1) return fail(errc::invalid_value, "{\"$bytes\": ...} needs a base64 string", f.path);
    if (f.bytes_state == 2) {
      config_value v(std::move(f.bytes));
      std::string name = std::move(f.name);
      frames_.pop_back();
      key_ = std::move(name);
      return put(std::move(v));
    }
    if (!materialize()) return false;
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*n*/) {
    if (frames_.empty()) return fail(errc::wrong_type, "a config file holds one JSON object", {});
    return fail_value(errc::wrong_type, R"(arrays are not config values (use an object with keys "0", "1", ...))");
  }
  bool end_array() { return !frames_.empty(); }  // never reached: start_array always fails
  bool parse_error(std::size_t position, const std::string& last_token, const nlohmann::json::exception& ex) {
    if (ex.id == 406) {  // a number beyond double's range: say what a config can hold instead
      (void)number_float(0.0, last_token);
      return false;
    }
    // nlohmann's text: "[json.exception.parse_error.101] parse error at line 2, column 5: <what>"
    std::string_view what = ex.what();
    if (const std::size_t c = what.find("column "); c != std::string_view::npos) {
      if (const std::size_t colon = what.find(": ", c); colon != std::string_view::npos) what.remove_prefix(colon + 2);
    }
    // The parser quotes what it last read, which may be invalid UTF-8: escape such bytes so the
    // message itself stays valid text.
    std::string text;
    for (char c : what) {
      const auto u = static_cast<unsigned char>(c);
      if (u >= 0x80 || u < 0x20) {
        text += "\\x";
        append_hex(text, u);
      } else {
        text += c;
      }
    }
    error_ = error(errc::parse_error, where(position) + text);
    if (!frames_.empty()) error_->path(frames_.back().path);
    return false;
  }

  result<config_tree> finish(bool parsed) {
    if (error_) return std::move(*error_);
    if (!parsed) return error(errc::parse_error, where(text_.size()) + "incomplete JSON");
    return std::move(tree_);
  }

  // Called before parsing: the top level must be an object.
  [[nodiscard]] std::optional<error> check_top_level() {
    std::size_t i = text_.starts_with("\xEF\xBB\xBF") ? 3 : 0;  // a UTF-8 byte order mark (the parser skips it too)
    while (i < text_.size() && (text_[i] == ' ' || text_[i] == '\t' || text_[i] == '\n' || text_[i] == '\r')) ++i;
    if (i < text_.size() && text_[i] != '{') {
      return error(errc::wrong_type, where(i + 1) + "a config file holds one JSON object");
    }
    return std::nullopt;
  }

 private:
  struct frame {
    config_node* node;  // null until the object turns out to be a node, not {"$bytes": ...}
    std::string name;   // the key this object has in its parent
    std::string path;   // full config path, for errors
    int bytes_state;    // 0 a node, 1 saw "$bytes", 2 have the bytes
    config_bytes bytes;
  };

  bool materialize() {
    frame& f = frames_.back();
    if (f.node != nullptr) return true;
    frame& parent = frames_[frames_.size() - 2];
    result<config_node*> n = parent.node->add_child(f.name);
    if (!n) return fail(n.error_value().code(), n.error_value().detail(), f.path);
    f.node = *n;
    return true;
  }

  bool put(config_value v) {
    frame& f = frames_.back();
    if (f.bytes_state != 0) return fail(errc::invalid_value, "{\"$bytes\": ...} needs a base64 string", f.path);
    status s = f.node->add_value(key_, std::move(v));
    if (!s) return fail(s.error_value().code(), s.error_value().detail(), join_path(f.path, key_));
    return true;
  }

  bool fail_value(const std::error_code& code, const std::string& detail) {
    const std::string path = frames_.empty() ? std::string() : join_path(frames_.back().path, key_);
    return fail(code, detail, path);
  }
  bool fail(const std::error_code& code, const std::string& detail, const std::string& path) {
    if (!error_) error_ = error(code, where(static_cast<std::size_t>(*progress_ - text_.data())) + detail).path(path);
    return false;
  }

  // "name:line:column: " for a byte offset just past the offending character.
  [[nodiscard]] std::string where(std::size_t offset) const {
    offset = std::min(offset, text_.size());
    std::size_t line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i + 1 < offset; ++i) {
      if (text_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    const std::size_t column = offset > line_start ? offset - line_start : 1;
    std::string out = options_.source_name.empty() ? std::string("line ") : options_.source_name + ":";
    out += std::to_string(line);
    out += options_.source_name.empty() ? ", column " : ":";
    out += std::to_string(column);
    out += ": ";
    return out;
  }

  std::string_view text_;
  const json_load_options& options_;
  const char** progress_;
  config_tree tree_;
  std::vector<frame> frames_;
  std::string key_;
  std::optional<error> error_;
};

inline nlohmann::ordered_json to_json(const config_node& node) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (config_node::entry_ref e : node.entries()) {
    if (e.is_node()) {
      out[e.name()] = to_json(e.node());
      continue;
    }
    const config_value& v = e.value();
    switch (v.kind()) {
      case value_kind::integer:
        if (v.is_negative()) {
          out[e.name()] = static_cast<std::int64_t>(v.bits());
        } else {
          out[e.name()] = v.bits();
        }
        break;
      case value_kind::string:
        out[e.name()] = v.string();
        break;
      case value_kind::bytes:
        out[e.name()] = nlohmann::ordered_json{{"$bytes", base64_encode(v.bytes())}};
        break;
      case value_kind::boolean:
        out[e.name()] = v.boolean();
        break;
    }
  }
  return out;
}

}  // namespace detail

/// \brief Parses a config tree from JSON text; all or nothing (see the header's comment).
[[nodiscard]] inline result<config_tree> load_json(std::string_view text, const json_load_options& options = {}) {
  if (text.size() > options.max_input_bytes) {
    return error(errc::out_of_range, "the input is " + std::to_string(text.size()) + " bytes; the limit is " +
                                         std::to_string(options.max_input_bytes));
  }
  try {
    const char* progress = text.data();
    detail::json_tree_builder builder(text, options, &progress);
    if (std::optional<error> e = builder.check_top_level()) return std::move(*e);
    const detail::tracking_iterator first{text.data(), &progress};
    const detail::tracking_iterator last{text.data() + text.size(), &progress};
    const bool parsed = nlohmann::json::sax_parse(first, last, &builder);
    return builder.finish(parsed);
  } catch (const std::bad_alloc&) {
    return error(errc::no_memory, "while loading JSON");
  }
}

/// \brief Reads and parses a JSON config file (a regular file, a pipe or a device); errors name
/// the file, line and column.
[[nodiscard]] inline result<config_tree> load_json_file(const std::filesystem::path& file,
                                                        json_load_options options = {}) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(file, ec);
    return error(errc::io_error, file.string() + (exists ? ": cannot open" : ": no such file"));
  }
  std::string text;
  std::array<char, 65536> chunk{};
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > options.max_input_bytes) {
      return error(errc::out_of_range, file.string() + " is larger than the limit of " +
                                           std::to_string(options.max_input_bytes) + " bytes");
    }
  }
  if (in.bad()) return error(errc::io_error, file.string() + ": read failed");
  if (options.source_name.empty()) options.source_name = file.string();
  return load_json(text, options);
}

/// \brief The subtree as JSON text (`indent` spaces per level, or one line if negative), ending in
/// a newline. Loading the text gives an equal tree.
[[nodiscard]] inline std::string save_json(const config_node& node, int indent = 2) {
  std::string out = detail::to_json(node).dump(indent);
  out += '\n';
  return out;
}

/// \brief Writes the subtree as JSON to `file`: to a temporary file beside it, then renamed over
/// it, so a failed write leaves the old file as it was; `io_error` on failure.
[[nodiscard]] inline status save_json_file(const config_node& node, const std::filesystem::path& file, int indent = 2) {
  const std::string text = save_json(node, indent);
  std::filesystem::path temp = file;
  temp += ".pdm-tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return error(errc::io_error, file.string() + ": cannot open " + temp.string() + " for writing");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temp, ignored);
      return error(errc::io_error, file.string() + ": write failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, file, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    return error(errc::io_error, file.string() + ": " + ec.message());
  }
  return ok();
}

}  // namespace pdm
