// Unit tests of pdm/chain/transform.hpp: wildcard patterns, parsing and checking rules, matching.
#include <pdm/chain/transform.hpp>
#include <pdm/config/json.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

pdm::config_tree parse(std::string_view json) {
  pdm::result<pdm::config_tree> t = pdm::load_json(json);
  if (!t) FAIL("bad test JSON: " << t.error_value().message());
  return std::move(*t);
}

// A tree with `rules_json` (an object of rules) at PDM/DriverTransformations.
pdm::config_tree with_rules(std::string_view rules_json) {
  return parse(R"({"PDM": {"DriverTransformations": )" + std::string(rules_json) + "}}");
}

const pdm::config_node& rules_node(const pdm::config_tree& t) {
  const pdm::config_node* n = t.root().find_child("PDM/DriverTransformations");
  REQUIRE(n != nullptr);
  return *n;
}

// The one rule `json` as rule "r".
pdm::result<std::vector<pdm::transformation_rule>> parse_one(const pdm::config_tree& t) {
  return pdm::parse_transformations(rules_node(t));
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace

// --- Wildcards ---------------------------------------------------------------------------------------

TEST_CASE("wildcard_match_one: '*' any run, '?' one character, everything else itself") {
  struct row {
    const char* pattern;
    const char* text;
    bool match;
  };
  const row rows[] = {
      {"", "", true},
      {"", "a", false},
      {"a", "", false},
      {"abc", "abc", true},
      {"abc", "abd", false},
      {"abc", "ab", false},
      {"ab", "abc", false},
      {"Mem", "mem", false},  // case matters
      {"*", "", true},
      {"*", "anything at all", true},
      {"**", "", true},
      {"***", "x", true},
      {"?", "", false},
      {"?", "a", true},
      {"?", "ab", false},
      {"??", "ab", true},
      {"*?", "", false},
      {"*?", "a", true},
      {"?*", "a", true},
      {"?*?", "a", false},
      {"?*?", "ab", true},
      {"a*", "a", true},
      {"a*", "abc", true},
      {"a*", "ba", false},
      {"*a", "a", true},
      {"*a", "cba", true},
      {"*a", "ab", false},
      {"a*b", "ab", true},
      {"a*b", "aXb", true},
      {"a*b", "aXbYb", true},
      {"a*b", "aXbY", false},
      {"*a*", "bab", true},
      {"*a*", "bbb", false},
      {"a*b*c", "abc", true},
      {"a*b*c", "aXXbYYc", true},
      {"a*b*c", "acb", false},
      {"*ab*ab", "xabyabab", true},  // the first "ab" tried is not the one that works
      {"*aab", "aaab", true},        // backtracking inside a run of the same letter
      {"a?c", "abc", true},
      {"a?c", "ac", false},
      {"C?che", "Cache", true},
      {"<top>", "<top>", true},
      {"<*>", "<top>", true},
      {"top", "<top>", false},
      {"*", "*", true},
      {"?", "*", true},
      {"a|b", "a|b", true},  // no list splitting here: '|' is an ordinary character
      {"a|b", "a", false},
  };
  for (const row& r : rows) {
    INFO("pattern '" << std::string(r.pattern) << "', text '" << std::string(r.text) << "'");
    CHECK(pdm::wildcard_match_one(r.pattern, r.text) == r.match);
  }
}

TEST_CASE("wildcard_match: '|' separates patterns; one match is enough") {
  struct row {
    const char* patterns;
    const char* text;
    bool match;
  };
  const row rows[] = {
      {"Cache", "Cache", true},
      {"Cache|Mem", "Mem", true},
      {"Cache|Mem", "Cache", true},
      {"Cache|Mem", "Tracer", false},
      {"a|b|c|d", "d", true},
      {"a|b|c|d", "e", false},
      {"x*|M?m", "Mem", true},
      {"x*|M?m", "xyz", true},
      {"x*|M?m", "Mum", true},
      {"x*|M?m", "Memo", false},
      {"", "", true},
      {"", "Mem", false},
      {"|", "", true},  // two empty patterns
      {"|", "a", false},
      {"Mem|", "", true},  // an empty pattern at the end matches the empty text only
      {"Mem|", "Me", false},
      {"|Mem", "Mem", true},
      {"Mem||Cache", "Cache", true},
      {"Mem||Cache", "", true},
      {"<top>|Cache", "<top>", true},
      {"0|1", "1", true},
      {"0|1", "10", false},
      {"1*", "10", true},
      {"*|nothing", "anything", true},
  };
  for (const row& r : rows) {
    INFO("patterns '" << std::string(r.patterns) << "', text '" << std::string(r.text) << "'");
    CHECK(pdm::wildcard_match(r.patterns, r.text) == r.match);
  }
}

TEST_CASE("wildcard matching works at compile time") {
  constexpr bool one = pdm::wildcard_match_one("M?m*", "Mem0");
  constexpr bool list = pdm::wildcard_match("Cache|Tr*", "Tracer");
  constexpr bool none = pdm::wildcard_match("Cache|Tr*", "Mem");
  CHECK(one);
  CHECK(list);
  CHECK_FALSE(none);
}

TEST_CASE("to_string names every action as the config spells it") {
  CHECK(pdm::to_string(pdm::transform_action::inject) == "inject");
  CHECK(pdm::to_string(pdm::transform_action::mergeconfig) == "mergeconfig");
  CHECK(pdm::to_string(pdm::transform_action::remove) == "remove");
  CHECK(pdm::to_string(pdm::transform_action::removetree) == "removetree");
  CHECK(pdm::to_string(pdm::transform_action::replace) == "replace");
  CHECK(pdm::to_string(pdm::transform_action::replacetree) == "replacetree");
}

// --- Parsing -----------------------------------------------------------------------------------------

TEST_CASE("parse_transformations: defaults, and what a rule points to") {
  const pdm::config_tree t = with_rules(R"({
    "plain": {"AttachedDriver": {"Driver": "Tracer", "Config": {"Size": 1}}},
    "full": {"Device": "disk|store", "LUN": "0", "BelowDriver": "<top>", "AboveDriver": "M*",
             "Action": "mergeconfig", "Config": {"Size": 2}},
    "empty-above": {"AboveDriver": "", "Action": "remove"}
  })");
  pdm::result<std::vector<pdm::transformation_rule>> parsed = parse_one(t);
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 3);
  const pdm::config_node& rules = rules_node(t);

  // Sorted by name: empty-above, full, plain.
  const pdm::transformation_rule& empty_above = (*parsed)[0];
  const pdm::transformation_rule& full = (*parsed)[1];
  const pdm::transformation_rule& plain = (*parsed)[2];
  CHECK(empty_above.name == "empty-above");
  CHECK(full.name == "full");
  CHECK(plain.name == "plain");

  CHECK(plain.node == rules.find_child("plain"));
  CHECK(plain.device == "*");
  CHECK(plain.lun == "*");
  CHECK(plain.below_driver == "*");
  CHECK_FALSE(plain.above_driver.has_value());
  CHECK(plain.action == pdm::transform_action::inject);
  CHECK(plain.attached == rules.find_child("plain/AttachedDriver"));
  CHECK(plain.config == nullptr);

  CHECK(full.node == rules.find_child("full"));
  CHECK(full.device == "disk|store");
  CHECK(full.lun == "0");
  CHECK(full.below_driver == "<top>");
  REQUIRE(full.above_driver.has_value());
  CHECK(*full.above_driver == "M*");
  CHECK(full.action == pdm::transform_action::mergeconfig);
  CHECK(full.attached == nullptr);
  CHECK(full.config == rules.find_child("full/Config"));

  REQUIRE(empty_above.above_driver.has_value());  // given, though empty
  CHECK(empty_above.above_driver->empty());
  CHECK(empty_above.action == pdm::transform_action::remove);
}

TEST_CASE("parse_transformations: every action by name, with what it needs") {
  const pdm::config_tree t = with_rules(R"({
    "1": {"Action": "inject", "AttachedDriver": {"Driver": "A"}},
    "2": {"Action": "mergeconfig", "Config": {}},
    "3": {"Action": "remove"},
    "4": {"Action": "removetree"},
    "5": {"Action": "replace", "AttachedDriver": {"Driver": "B", "Config": {"X": 1}}},
    "6": {"Action": "replacetree", "AttachedDriver": {"Driver": "C", "AttachedDriver": {"Driver": "D"}}}
  })");
  pdm::result<std::vector<pdm::transformation_rule>> parsed = parse_one(t);
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 6);
  const pdm::transform_action want[] = {pdm::transform_action::inject,  pdm::transform_action::mergeconfig,
                                        pdm::transform_action::remove,  pdm::transform_action::removetree,
                                        pdm::transform_action::replace, pdm::transform_action::replacetree};
  for (std::size_t i = 0; i < 6; ++i) {
    INFO("rule " << (*parsed)[i].name);
    CHECK((*parsed)[i].name == std::to_string(i + 1));
    CHECK((*parsed)[i].action == want[i]);
  }
  CHECK((*parsed)[5].attached->has_child("AttachedDriver"));
}

TEST_CASE("parse_transformations: rules come in byte-wise name order, whatever the config order") {
  const pdm::config_tree t = with_rules(R"({
    "b": {"Action": "remove"}, "a": {"Action": "remove"}, "B": {"Action": "remove"},
    "9": {"Action": "remove"}, "10": {"Action": "remove"}, "a-2": {"Action": "remove"},
    "a-10": {"Action": "remove"}, "_": {"Action": "remove"}
  })");
  pdm::result<std::vector<pdm::transformation_rule>> parsed = parse_one(t);
  REQUIRE(parsed);
  std::string order;
  for (const pdm::transformation_rule& r : *parsed) order += r.name + " ";
  CHECK(order == "10 9 B _ a a-10 a-2 b ");
}

TEST_CASE("parse_transformations: no rules") {
  const pdm::config_tree t = with_rules("{}");
  pdm::result<std::vector<pdm::transformation_rule>> parsed = parse_one(t);
  REQUIRE(parsed);
  CHECK(parsed->empty());
}

TEST_CASE("parse_transformations: every mistake is misconfigured_transformation at its path") {
  struct row {
    const char* what;
    const char* rule;    // rule "r"'s JSON
    const char* path;    // below PDM/DriverTransformations/r
    const char* detail;  // a part of the detail
  };
  const row rows[] = {
      {"unknown key", R"({"Acton": "remove"})", "Acton", "unknown key 'Acton' (did you mean 'Action'?)"},
      {"unknown key, close to another", R"({"BelowDrivers": "x", "Action": "remove"})", "BelowDrivers",
       "(did you mean 'BelowDriver'?)"},
      {"unknown key, lower case", R"({"device": "x", "Action": "remove"})", "device", "(did you mean 'Device'?)"},
      {"unknown key, close to AttachedDriver", R"({"AttachDriver": {"Driver": "x"}})", "AttachDriver",
       "(did you mean 'AttachedDriver'?)"},
      {"unknown key, listing the keys", R"({"Zebra": 1})", "Zebra",
       "a rule has Device, LUN, BelowDriver, AboveDriver, Action, AttachedDriver and Config"},
      {"unknown action", R"({"Action": "injekt"})", "Action", "unknown action 'injekt' (did you mean 'inject'?)"},
      {"unknown action, capitalised", R"({"Action": "Remove"})", "Action", "(did you mean 'remove'?)"},
      {"unknown action, listing the actions", R"({"Action": "explode"})", "Action",
       "the actions are inject, mergeconfig, remove, removetree, replace and replacetree"},
      {"empty action", R"({"Action": ""})", "Action", "unknown action ''"},
      {"action that is not a string", R"({"Action": 1})", "Action", "must be a string"},
      {"inject without AttachedDriver", R"({"Device": "x"})", "AttachedDriver", "needs an AttachedDriver"},
      {"inject without AttachedDriver, explicitly", R"({"Action": "inject"})", "AttachedDriver",
       "needs an AttachedDriver"},
      {"replace without AttachedDriver", R"({"Action": "replace"})", "AttachedDriver", "needs an AttachedDriver"},
      {"replacetree without AttachedDriver", R"({"Action": "replacetree"})", "AttachedDriver",
       "needs an AttachedDriver"},
      {"AttachedDriver that is a value", R"({"AttachedDriver": "Tracer"})", "AttachedDriver", "must be a node"},
      {"AttachedDriver without Driver", R"({"AttachedDriver": {"Config": {}}})", "AttachedDriver/Driver",
       "the AttachedDriver template needs a Driver string"},
      {"AttachedDriver with an empty Driver", R"({"AttachedDriver": {"Driver": ""}})", "AttachedDriver/Driver",
       "needs a Driver string"},
      {"AttachedDriver with a Driver that is not a string", R"({"Action": "replace", "AttachedDriver": {"Driver": 3}})",
       "AttachedDriver/Driver", "needs a Driver string"},
      {"AttachedDriver with a Driver that is a node", R"({"AttachedDriver": {"Driver": {}}})", "AttachedDriver/Driver",
       "needs a Driver string"},
      {"inject template with its own AttachedDriver",
       R"({"AttachedDriver": {"Driver": "A", "AttachedDriver": {"Driver": "B"}}})", "AttachedDriver/AttachedDriver",
       "cannot have its own AttachedDriver (use replacetree)"},
      {"replace template with its own AttachedDriver",
       R"({"Action": "replace", "AttachedDriver": {"Driver": "A", "AttachedDriver": {"Driver": "B"}}})",
       "AttachedDriver/AttachedDriver", "cannot have its own AttachedDriver (use replacetree)"},
      {"AttachedDriver for remove", R"({"Action": "remove", "AttachedDriver": {"Driver": "A"}})", "AttachedDriver",
       "only inject, replace and replacetree rules take an AttachedDriver"},
      {"AttachedDriver for removetree", R"({"Action": "removetree", "AttachedDriver": {"Driver": "A"}})",
       "AttachedDriver", "only inject, replace and replacetree rules take an AttachedDriver"},
      {"AttachedDriver for mergeconfig",
       R"({"Action": "mergeconfig", "Config": {}, "AttachedDriver": {"Driver": "A"}})", "AttachedDriver",
       "only inject, replace and replacetree rules take an AttachedDriver"},
      {"mergeconfig without Config", R"({"Action": "mergeconfig"})", "Config",
       "a mergeconfig rule needs a Config node"},
      {"Config that is a value", R"({"Action": "mergeconfig", "Config": "Size=1"})", "Config", "must be a node"},
      {"Config for inject", R"({"Config": {}, "AttachedDriver": {"Driver": "A"}})", "Config",
       "only mergeconfig rules take a Config"},
      {"Config for replace", R"({"Action": "replace", "Config": {}, "AttachedDriver": {"Driver": "A"}})", "Config",
       "only mergeconfig rules take a Config"},
      {"Config for replacetree", R"({"Action": "replacetree", "Config": {}, "AttachedDriver": {"Driver": "A"}})",
       "Config", "only mergeconfig rules take a Config"},
      {"Config for remove", R"({"Action": "remove", "Config": {}})", "Config", "only mergeconfig rules take a Config"},
      {"Config for removetree", R"({"Action": "removetree", "Config": {}})", "Config",
       "only mergeconfig rules take a Config"},
      {"Device not a string", R"({"Action": "remove", "Device": 1})", "Device", "must be a string, not integer"},
      {"LUN not a string", R"({"Action": "remove", "LUN": 0})", "LUN", "must be a string, not integer"},
      {"BelowDriver not a string", R"({"Action": "remove", "BelowDriver": false})", "BelowDriver",
       "must be a string, not bool"},
      {"AboveDriver not a string", R"({"Action": "remove", "AboveDriver": 7})", "AboveDriver", "must be a string"},
      {"a pattern that is a node", R"({"Action": "remove", "LUN": {}})", "LUN", "must be a string value, not a node"},
  };
  for (const row& r : rows) {
    INFO("what: " << std::string(r.what));
    const pdm::config_tree t = with_rules(std::string(R"({"ok": {"Action": "remove"}, "r": )") + r.rule + "}");
    pdm::result<std::vector<pdm::transformation_rule>> parsed = parse_one(t);
    REQUIRE_FALSE(parsed);
    const pdm::error& e = parsed.error_value();
    CHECK(e == pdm::errc::misconfigured_transformation);
    CHECK(e.config_path() == "PDM/DriverTransformations/r/" + std::string(r.path));
    INFO("detail: " << e.detail());
    CHECK(contains(e.detail(), r.detail));
    CHECK(contains(e.message(), "at 'PDM/DriverTransformations/r/"));
  }
}

TEST_CASE("parse_transformations: no did-you-mean when nothing is close") {
  const pdm::config_tree t = with_rules(R"({"r": {"Zebra": "x", "Action": "remove"}})");
  pdm::result<std::vector<pdm::transformation_rule>> parsed = parse_one(t);
  REQUIRE_FALSE(parsed);
  CHECK_FALSE(contains(parsed.error_value().detail(), "did you mean"));
  const pdm::config_tree u = with_rules(R"({"r": {"Action": "obliterate"}})");
  pdm::result<std::vector<pdm::transformation_rule>> parsed_u = parse_one(u);
  REQUIRE_FALSE(parsed_u);
  CHECK_FALSE(contains(parsed_u.error_value().detail(), "did you mean"));
}

TEST_CASE("parse_transformations: a rule that is a value") {
  const pdm::config_tree t = with_rules(R"({"good": {"Action": "remove"}, "bad": "remove"})");
  pdm::result<std::vector<pdm::transformation_rule>> parsed = parse_one(t);
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error_value() == pdm::errc::misconfigured_transformation);
  CHECK(parsed.error_value().config_path() == "PDM/DriverTransformations/bad");
  CHECK(contains(parsed.error_value().detail(), "a transformation rule must be a node"));
}

TEST_CASE("parse_transformations: one broken rule fails them all") {
  const pdm::config_tree t = with_rules(R"({
    "a": {"Action": "remove"}, "b": {"Action": "remove", "Device": 1}, "c": {"Action": "remove"}
  })");
  pdm::result<std::vector<pdm::transformation_rule>> parsed = parse_one(t);
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error_value().config_path() == "PDM/DriverTransformations/b/Device");
}

TEST_CASE("the messages name each action with the right article") {
  struct row {
    const char* rule;
    const char* detail;
  };
  const row rows[] = {
      {R"({"Action": "inject"})", "an inject rule needs an AttachedDriver"},
      {R"({"Action": "replace"})", "a replace rule needs an AttachedDriver"},
      {R"({"Action": "replacetree"})", "a replacetree rule needs an AttachedDriver"},
      {R"({"AttachedDriver": {"Driver": "A", "AttachedDriver": {"Driver": "B"}}})",
       "an inject template cannot have its own AttachedDriver"},
      {R"({"Action": "replace", "AttachedDriver": {"Driver": "A", "AttachedDriver": {"Driver": "B"}}})",
       "a replace template cannot have its own AttachedDriver"},
  };
  for (const row& r : rows) {
    INFO("rule: " << std::string(r.rule));
    const pdm::config_tree t = with_rules(std::string(R"({"r": )") + r.rule + "}");
    pdm::result<std::vector<pdm::transformation_rule>> parsed = parse_one(t);
    REQUIRE_FALSE(parsed);
    const std::string detail = parsed.error_value().detail();
    CHECK(detail.substr(0, std::string_view(r.detail).size()) == std::string(r.detail));
  }
}

// --- Matching ----------------------------------------------------------------------------------------

TEST_CASE("rule_matches: every pattern must match; AboveDriver needs a driver") {
  const pdm::config_tree t = with_rules(R"({
    "any": {"Action": "remove"},
    "disk-lun1": {"Action": "remove", "Device": "disk", "LUN": "1"},
    "under-top": {"Action": "remove", "BelowDriver": "<top>"},
    "mem": {"Action": "remove", "AboveDriver": "Mem|Solo"},
    "all": {"Action": "remove", "Device": "d*", "LUN": "1?", "BelowDriver": "C*", "AboveDriver": "M?m"},
    "empty-above": {"Action": "remove", "AboveDriver": ""},
    "any-above": {"Action": "remove", "AboveDriver": "*"}
  })");
  pdm::result<std::vector<pdm::transformation_rule>> parsed = parse_one(t);
  REQUIRE(parsed);
  auto rule = [&](std::string_view name) -> const pdm::transformation_rule& {
    for (const pdm::transformation_rule& r : *parsed) {
      if (r.name == name) return r;
    }
    FAIL("no rule " << std::string(name));
    return parsed->front();
  };
  struct row {
    const char* rule;
    const char* device;
    std::uint32_t lun;
    const char* above;   // the driver above, "<top>" at the device
    const char* driver;  // the driver being attached ("" for a removed one)
    bool match;
  };
  const row rows[] = {
      {"any", "disk", 0, "<top>", "Top", true},
      {"any", "x", 4000000000U, "Q", "Z", true},
      {"any", "disk", 0, "Top", "", true},  // matches a removed driver: the caller reports that
      {"disk-lun1", "disk", 1, "<top>", "Top", true},
      {"disk-lun1", "disk", 0, "<top>", "Top", false},
      {"disk-lun1", "disks", 1, "<top>", "Top", false},
      {"disk-lun1", "disk", 11, "<top>", "Top", false},
      {"under-top", "disk", 0, "<top>", "Top", true},
      {"under-top", "disk", 0, "Top", "Mem", false},
      {"mem", "disk", 0, "Cache", "Mem", true},
      {"mem", "disk", 0, "Cache", "Solo", true},
      {"mem", "disk", 0, "Mem", "Cache", false},  // the driver above does not count
      {"mem", "disk", 0, "Cache", "", false},
      {"all", "disk", 12, "Cache", "Mem", true},
      {"all", "dvd", 10, "Cplx", "Mum", true},
      {"all", "cd", 12, "Cache", "Mem", false},
      {"all", "disk", 1, "Cache", "Mem", false},
      {"all", "disk", 100, "Cache", "Mem", false},
      {"all", "disk", 12, "<top>", "Mem", false},
      {"all", "disk", 12, "Cache", "Memo", false},
      {"empty-above", "disk", 0, "Top", "", false},
      {"empty-above", "disk", 0, "Top", "Mem", false},
      {"any-above", "disk", 0, "Top", "Mem", true},
      {"any-above", "disk", 0, "Top", "", false},
  };
  for (const row& r : rows) {
    INFO("rule " << std::string(r.rule) << ", device " << std::string(r.device) << ", LUN " << r.lun << ", above "
                 << std::string(r.above) << ", driver '" << std::string(r.driver) << "'");
    const pdm::transform_site site{r.device, r.lun, r.above};
    CHECK(pdm::rule_matches(rule(r.rule), site, r.driver) == r.match);
  }
}
