#include <pdm/config/tree.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

// Devices/serial/0/LUN#0/{Driver, Config/{Port, Server}, AttachedDriver/{Driver}}
pdm::config_tree sample() {
  pdm::config_tree t;
  pdm::config_node& lun = **t->ensure_child("Devices/serial/0/LUN#0");
  REQUIRE(lun.add_value("Driver", "Char"));
  pdm::config_node& cfg = **lun.add_child("Config");
  REQUIRE(cfg.add_value("Port", 5023));
  REQUIRE(cfg.add_value("Server", true));
  REQUIRE(cfg.add_value("Key", pdm::config_bytes{std::byte{1}, std::byte{2}}));
  REQUIRE(lun.add_value("AttachedDriver/Driver", "TCP").error_value() == pdm::errc::child_not_found);
  REQUIRE(lun.add_child("AttachedDriver"));
  REQUIRE(lun.add_value("AttachedDriver/Driver", "TCP"));
  return t;
}

std::vector<std::string> names(const pdm::config_node& n) {
  std::vector<std::string> out;
  for (pdm::config_node::entry_ref e : n.entries()) out.push_back(e.name() + (e.is_node() ? "/" : ""));
  return out;
}

}  // namespace

TEST_CASE("paths reach nodes and values; errors carry the full path") {
  pdm::config_tree t = sample();
  CHECK(*t->get<std::string>("Devices/serial/0/LUN#0/AttachedDriver/Driver") == "TCP");
  const pdm::config_node* lun = t->find_child("Devices/serial/0/LUN#0");
  REQUIRE(lun != nullptr);
  CHECK(lun->path() == "Devices/serial/0/LUN#0");
  CHECK(lun->name() == "LUN#0");
  CHECK(*lun->get<std::uint16_t>("Config/Port") == 5023);

  const pdm::result<int> missing = lun->get<int>("Config/Nope");
  CHECK(missing.error_value() == pdm::errc::value_not_found);
  CHECK(missing.error_value().config_path() == "Devices/serial/0/LUN#0/Config/Nope");

  const pdm::result<int> no_node = lun->get<int>("Konfig/Port");
  CHECK(no_node.error_value() == pdm::errc::child_not_found);
  CHECK(no_node.error_value().config_path() == "Devices/serial/0/LUN#0/Konfig");

  CHECK(lun->get<int>("Config").error_value() == pdm::errc::wrong_type);
  CHECK(lun->get<int>("Driver/X").error_value() == pdm::errc::wrong_type);
  CHECK(lun->get<int>("Config//Port").error_value() == pdm::errc::invalid_name);
  CHECK(lun->child("Driver").error_value() == pdm::errc::wrong_type);
  CHECK(lun->child("Nope").error_value() == pdm::errc::child_not_found);
  CHECK(*lun->child("Config") == lun->find_child("Config"));
  CHECK(t->find_child("") == nullptr);
  CHECK(t->find_value("") == nullptr);
}

TEST_CASE("typed queries check kinds and ranges, with the value's path") {
  pdm::config_tree t = sample();
  const pdm::config_node& cfg = *t->find_child("Devices/serial/0/LUN#0/Config");
  const pdm::result<std::uint8_t> small = cfg.get<std::uint8_t>("Port");
  CHECK(small.error_value() == pdm::errc::integer_too_big);
  CHECK(small.error_value().config_path() == "Devices/serial/0/LUN#0/Config/Port");
  CHECK(small.error_value().message() ==
        "at 'Devices/serial/0/LUN#0/Config/Port': integer too big for the requested type: 5023");
  CHECK(cfg.get<std::string>("Port").error_value() == pdm::errc::wrong_type);
  CHECK(*cfg.get<bool>("Server"));
  CHECK(cfg.get<pdm::config_bytes>("Key")->size() == 2);
  CHECK(cfg.get<pdm::config_value>("Port")->kind() == pdm::value_kind::integer);
  CHECK(cfg.find_value("Key")->kind() == pdm::value_kind::bytes);
  CHECK(cfg.has_value("Port"));
  CHECK_FALSE(cfg.has_child("Port"));
}

TEST_CASE("defaulted queries default only what is missing") {
  pdm::config_tree t = sample();
  const pdm::config_node& cfg = *t->find_child("Devices/serial/0/LUN#0/Config");
  CHECK(*cfg.get_or<int>("Timeout", 30) == 30);
  CHECK(*cfg.get_or<int>("Sub/Timeout", 30) == 30);  // a missing node on the way is missing too
  CHECK(*cfg.get_or<int>("Port", 1) == 5023);
  CHECK(cfg.get_or<std::uint8_t>("Port", 1).error_value() == pdm::errc::integer_too_big);
  CHECK(cfg.get_or<std::string>("Port", "x").error_value() == pdm::errc::wrong_type);
  CHECK(cfg.parent().value()->get_or<int>("Config", 1).error_value() == pdm::errc::wrong_type);
}

TEST_CASE("one name is one entry: a value and a node cannot share it") {
  pdm::config_tree t;
  REQUIRE(t->add_value("X", 1));
  CHECK(t->add_value("X", 2).error_value() == pdm::errc::already_exists);
  CHECK(t->add_child("X").error_value() == pdm::errc::already_exists);
  REQUIRE(t->add_child("N"));
  CHECK(t->set_value("N", 1).error_value() == pdm::errc::wrong_type);
  CHECK(t->ensure_child("X/Y").error_value() == pdm::errc::wrong_type);
  CHECK(t->add_child("N").error_value() == pdm::errc::already_exists);
  REQUIRE(t->set_value("X", "now a string"));
  CHECK(*t->get<std::string>("X") == "now a string");
}

TEST_CASE("bad names and bad values are refused and change nothing") {
  pdm::config_tree t;
  CHECK(t->add_child("a/b").error_value() == pdm::errc::child_not_found);
  CHECK(t->add_child("").error_value() == pdm::errc::invalid_name);
  CHECK(t->add_child("$x").error_value() == pdm::errc::invalid_name);
  CHECK(t->add_value("bad\xff", 1).error_value() == pdm::errc::invalid_name);
  CHECK(t->add_value("S", std::string("\xc3")).error_value() == pdm::errc::invalid_value);
  CHECK(t->ensure_child("").error_value() == pdm::errc::invalid_name);
  CHECK(t->empty());
}

TEST_CASE("entries enumerate in insertion order; children() and values() filter") {
  pdm::config_tree t;
  for (const char* n : {"Zeta", "Alpha", "Mid"}) REQUIRE(t->add_value(n, 1));
  REQUIRE(t->add_child("Beta"));
  REQUIRE(t->add_value("Last", 2));
  CHECK(names(t.root()) == std::vector<std::string>{"Zeta", "Alpha", "Mid", "Beta/", "Last"});
  std::vector<std::string> kids;
  for (const pdm::config_node& c : std::as_const(t.root()).children()) kids.push_back(c.name());
  CHECK(kids == std::vector<std::string>{"Beta"});
  std::vector<std::string> vals;
  for (pdm::config_node::entry_ref e : t->values()) vals.push_back(e.name());
  CHECK(vals == std::vector<std::string>{"Zeta", "Alpha", "Mid", "Last"});
  REQUIRE(t->remove_value("Alpha"));
  CHECK(names(t.root()) == std::vector<std::string>{"Zeta", "Mid", "Beta/", "Last"});
  CHECK(t->size() == 4);
}

TEST_CASE("many children: look-up stays correct through growth and removal") {
  pdm::config_tree t;
  for (int i = 0; i < 300; ++i) REQUIRE(t->add_value("Key" + std::to_string(i), i));
  for (int i = 0; i < 300; i += 3) REQUIRE(t->remove_value("Key" + std::to_string(i)));
  for (int i = 0; i < 300; ++i) {
    const pdm::result<int> r = t->get<int>("Key" + std::to_string(i));
    if (i % 3 == 0) {
      CHECK(r.error_value() == pdm::errc::value_not_found);
    } else {
      CHECK(*r == i);
    }
  }
  CHECK(t->size() == 200);
}

TEST_CASE("removing values and subtrees") {
  pdm::config_tree t = sample();
  CHECK(t->remove_value("Devices/serial/0/LUN#0/Config").error_value() == pdm::errc::value_not_found);
  CHECK(t->remove_child("Devices/serial/0/LUN#0/Driver").error_value() == pdm::errc::child_not_found);
  CHECK(t->remove_child("Devices/nope").error_value() == pdm::errc::child_not_found);
  REQUIRE(t->remove_child("Devices/serial/0/LUN#0/Config"));
  CHECK_FALSE(t->has_child("Devices/serial/0/LUN#0/Config"));
  REQUIRE(t->remove_value("Devices/serial/0/LUN#0/Driver"));
  CHECK(names(*t->find_child("Devices/serial/0/LUN#0")) == std::vector<std::string>{"AttachedDriver/"});
  t->clear();
  CHECK(t->empty());
}

TEST_CASE("a restricted root cannot reach its parent") {
  pdm::config_tree t = sample();
  pdm::config_node& cfg = *t->find_child("Devices/serial/0/LUN#0/Config");
  CHECK(cfg.parent().value()->name() == "LUN#0");
  cfg.set_restricted_root();
  CHECK(cfg.is_restricted_root());
  const pdm::result<pdm::config_node*> up = cfg.parent();
  CHECK(up.error_value() == pdm::errc::no_parent);
  CHECK(up.error_value().config_path() == "Devices/serial/0/LUN#0/Config");
  CHECK(std::as_const(cfg).parent().error_value() == pdm::errc::no_parent);
  CHECK(t->parent().error_value() == pdm::errc::no_parent);
  // Its own subtree stays reachable, and its path still says where it is.
  CHECK(*cfg.get<int>("Port") == 5023);
  CHECK(cfg.path() == "Devices/serial/0/LUN#0/Config");
  cfg.set_restricted_root(false);
  CHECK(cfg.parent());
}

TEST_CASE("clone copies a subtree deeply") {
  pdm::config_tree t = sample();
  pdm::config_tree copy = t->find_child("Devices/serial")->clone();
  CHECK(copy->path().empty());
  CHECK(*copy->get<int>("0/LUN#0/Config/Port") == 5023);
  REQUIRE(copy->set_value("0/LUN#0/Config/Port", 1));
  CHECK(*t->get<int>("Devices/serial/0/LUN#0/Config/Port") == 5023);
  CHECK(t->find_child("Devices/serial")->clone() == t->find_child("Devices/serial")->clone());
  CHECK_FALSE(copy == t->find_child("Devices/serial")->clone());
}

TEST_CASE("adopt moves a tree in as a child") {
  pdm::config_tree t = sample();
  pdm::config_tree sub;
  REQUIRE(sub->add_value("Path", "disk.img"));
  pdm::config_node& lun = *t->find_child("Devices/serial/0/LUN#0");
  CHECK(lun.adopt("Config", std::move(sub)).error_value() == pdm::errc::already_exists);
  REQUIRE(lun.adopt("Extra", std::move(sub)));
  CHECK(*t->get<std::string>("Devices/serial/0/LUN#0/Extra/Path") == "disk.img");
  CHECK(t->find_child("Devices/serial/0/LUN#0/Extra")->parent().value() == &lun);
  CHECK(sub->empty());  // the moved-from tree is empty and usable
  CHECK(lun.adopt("bad/name", pdm::config_tree{}).error_value() == pdm::errc::invalid_name);
}

TEST_CASE("merge: replace values and merge keys, as mergeconfig does") {
  pdm::config_tree dst;
  REQUIRE(dst->add_value("A", 1));
  REQUIRE(dst->add_value("B", 2));
  REQUIRE(dst->ensure_child("Sub"));
  REQUIRE(dst->add_value("Sub/X", 1));
  pdm::config_tree src;
  REQUIRE(src->add_value("B", 20));
  REQUIRE(src->add_value("C", 30));
  REQUIRE(src->ensure_child("Sub"));
  REQUIRE(src->add_value("Sub/Y", 2));
  REQUIRE(dst->merge(src.root()));
  CHECK(*dst->get<int>("A") == 1);
  CHECK(*dst->get<int>("B") == 20);
  CHECK(*dst->get<int>("C") == 30);
  CHECK(*dst->get<int>("Sub/X") == 1);
  CHECK(*dst->get<int>("Sub/Y") == 2);
  CHECK(names(dst.root()) == std::vector<std::string>{"A", "B", "Sub/", "C"});
}

TEST_CASE("merge: keep existing values, replace or keep whole subtrees") {
  pdm::config_tree src;
  REQUIRE(src->add_value("B", 20));
  REQUIRE(src->ensure_child("Sub"));
  REQUIRE(src->add_value("Sub/Y", 2));

  pdm::config_tree keep;
  REQUIRE(keep->add_value("B", 2));
  REQUIRE(keep->ensure_child("Sub"));
  REQUIRE(keep->add_value("Sub/X", 1));
  REQUIRE(keep->merge(src.root(), {.values = pdm::value_merge::keep_existing, .children = pdm::child_merge::replace}));
  CHECK(*keep->get<int>("B") == 2);
  CHECK_FALSE(keep->has_value("Sub/X"));
  CHECK(*keep->get<int>("Sub/Y") == 2);

  pdm::config_tree kept;
  REQUIRE(kept->ensure_child("Sub"));
  REQUIRE(kept->add_value("Sub/X", 1));
  REQUIRE(kept->merge(src.root(), {.children = pdm::child_merge::keep_existing}));
  CHECK(*kept->get<int>("Sub/X") == 1);
  CHECK_FALSE(kept->has_value("Sub/Y"));
  CHECK(*kept->get<int>("B") == 20);
}

TEST_CASE("merge: a conflict under `fail` changes nothing and names the path") {
  pdm::config_tree dst;
  REQUIRE(dst->ensure_child("Top/Sub"));
  REQUIRE(dst->add_value("Top/Sub/X", 1));
  pdm::config_tree src;
  REQUIRE(src->add_value("New", 5));  // would be added before the conflict is found
  REQUIRE(src->ensure_child("Sub"));
  REQUIRE(src->add_value("Sub/X", 2));
  const pdm::config_tree before = dst->clone();
  const pdm::status s = dst->find_child("Top")->merge(src.root(), {.values = pdm::value_merge::fail});
  CHECK(s.error_value() == pdm::errc::already_exists);
  CHECK(s.error_value().config_path() == "Top/Sub/X");
  CHECK(dst == before);

  const pdm::status c = dst->find_child("Top")->merge(src.root(), {.children = pdm::child_merge::fail});
  CHECK(c.error_value() == pdm::errc::already_exists);
  CHECK(c.error_value().config_path() == "Top/Sub");
  CHECK(dst == before);
}

TEST_CASE("merge: a value and a node of the same name follow the source's kind") {
  pdm::config_tree dst;
  REQUIRE(dst->add_value("V", 1));
  REQUIRE(dst->ensure_child("N"));
  pdm::config_tree src;
  REQUIRE(src->ensure_child("V"));
  REQUIRE(src->add_value("V/Inner", 1));
  REQUIRE(src->add_value("N", 7));
  REQUIRE(dst->merge(src.root()));
  CHECK(*dst->get<int>("V/Inner") == 1);
  CHECK(*dst->get<int>("N") == 7);
}

TEST_CASE("merge from inside the same tree is safe") {
  pdm::config_tree t;
  REQUIRE(t->ensure_child("A/B"));
  REQUIRE(t->add_value("A/B/X", 1));
  REQUIRE(t->merge(*t->find_child("A/B")));
  CHECK(*t->get<int>("X") == 1);
  REQUIRE(t->find_child("A")->merge(t.root()));
  CHECK(*t->get<int>("A/A/B/X") == 1);
}

TEST_CASE("depth is bounded at 64 nodes") {
  pdm::config_tree t;
  std::string path = "n";
  for (int i = 1; i < 64; ++i) path += "/n";
  REQUIRE(t->ensure_child(path));
  CHECK(t->ensure_child(path + "/n").error_value() == pdm::errc::nesting_too_deep);
  pdm::config_tree deep;
  REQUIRE(deep->ensure_child("a/b"));
  CHECK(t->find_child(path.substr(0, path.size() - 2))->adopt("x", std::move(deep)).error_value() ==
        pdm::errc::nesting_too_deep);
}

TEST_CASE("the dump is indented text a person can read") {
  pdm::config_tree t = sample();
  REQUIRE(t->add_value("Name", "vm \"one\""));
  CHECK(t->dump() ==
        "Devices/\n"
        "  serial/\n"
        "    0/\n"
        "      LUN#0/\n"
        "        Driver = \"Char\"\n"
        "        Config/\n"
        "          Port = 5023\n"
        "          Server = true\n"
        "          Key = bytes[2] 0102\n"
        "        AttachedDriver/\n"
        "          Driver = \"TCP\"\n"
        "Name = \"vm \\\"one\\\"\"\n");
}

TEST_CASE("merge keeps merged nodes where they are: pointers to them stay valid") {
  pdm::config_tree a;
  pdm::config_node* sub = *a->ensure_child("Sub/Deeper");
  sub->set_restricted_root();
  pdm::config_tree b;
  REQUIRE(b->ensure_child("Sub/Deeper"));
  REQUIRE(b->add_value("Sub/Deeper/X", 1));
  REQUIRE(a->merge(b.root()));
  CHECK(a->find_child("Sub/Deeper") == sub);
  CHECK(*sub->get<int>("X") == 1);
  CHECK(sub->is_restricted_root());
}

TEST_CASE("clone and merge keep restricted roots restricted") {
  pdm::config_tree t;
  (*t->ensure_child("LUN#0/Config"))->set_restricted_root();
  const pdm::config_tree copy = t->clone();
  CHECK(copy->find_child("LUN#0/Config")->is_restricted_root());
  pdm::config_tree dst;
  REQUIRE(dst->merge(t.root()));
  CHECK(dst->find_child("LUN#0/Config")->is_restricted_root());
}

TEST_CASE("ensure_child checks every name and the depth before creating anything") {
  pdm::config_tree t;
  CHECK(t->ensure_child("New/$bad").error_value() == pdm::errc::invalid_name);
  CHECK(t->ensure_child("New/ok//x").error_value() == pdm::errc::invalid_name);
  std::string too_deep = "n";
  for (int i = 0; i < 64; ++i) too_deep += "/n";
  CHECK(t->ensure_child(too_deep).error_value() == pdm::errc::nesting_too_deep);
  CHECK(t->empty());
}

TEST_CASE("get_or takes a string literal as the fallback") {
  pdm::config_tree t;
  REQUIRE(t->add_value("Format", "qcow"));
  CHECK(*t->get_or("Format", "raw") == "qcow");
  CHECK(*t->get_or("Missing", "raw") == "raw");
}

// ---- the tree-wide index: every entry is found by its full path, through every change ----------

namespace {

// Every path a look-up must find, checked from the root and from each node on the way (the
// relative path continues the node's hash state), plus single-name look-ups in the owning node.
void check_found(const pdm::config_tree& t, const std::string& path, bool node) {
  INFO("path: " << path);
  CHECK(t->has_value(path) == !node);
  CHECK(t->has_child(path) == node);
  const pdm::config_node* n = &t.root();
  std::string_view rest = path;
  for (;;) {
    CHECK(n->has_value(rest) == !node);
    CHECK(n->has_child(rest) == node);
    const std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
      const std::optional<pdm::config_node::entry_ref> e = n->find(rest);
      REQUIRE(e.has_value());
      CHECK(e->is_node() == node);
      if (node) CHECK(e->node().path() == path);
      return;
    }
    n = n->find_child(rest.substr(0, slash));
    REQUIRE(n != nullptr);
    rest.remove_prefix(slash + 1);
  }
}

void check_gone(const pdm::config_tree& t, const std::string& path) {
  INFO("path: " << path);
  CHECK_FALSE(t->has_value(path));
  CHECK_FALSE(t->has_child(path));
  CHECK_FALSE(t->get<int>(path));
}

}  // namespace

TEST_CASE("index: removing an entry keeps its later siblings findable, in order") {
  pdm::config_tree t;
  pdm::config_node& n = **t->ensure_child("Devices/e1000/0/Config");
  for (int i = 0; i < 40; ++i) {
    if (i % 5 == 0) {
      REQUIRE(n.add_child("Sub" + std::to_string(i)));
      REQUIRE(n.add_value("Sub" + std::to_string(i) + "/Inner", i));
    } else {
      REQUIRE(n.add_value("Key" + std::to_string(i), i));
    }
  }
  pdm::config_node* sub35 = n.find_child("Sub35");
  REQUIRE(sub35 != nullptr);
  for (int i : {0, 17, 39, 1, 20, 2}) {  // the first, a middle one, the last, nodes and values
    const std::string name = (i % 5 == 0 ? "Sub" : "Key") + std::to_string(i);
    REQUIRE((i % 5 == 0 ? n.remove_child(name) : n.remove_value(name)));
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 40; ++i) {
    if (i == 0 || i == 17 || i == 39 || i == 1 || i == 20 || i == 2) {
      check_gone(t, "Devices/e1000/0/Config/" + std::string(i % 5 == 0 ? "Sub" : "Key") + std::to_string(i));
      continue;
    }
    if (i % 5 == 0) {
      expected.push_back("Sub" + std::to_string(i) + "/");
      check_found(t, "Devices/e1000/0/Config/Sub" + std::to_string(i), true);
      CHECK(*n.get<int>("Sub" + std::to_string(i) + "/Inner") == i);
    } else {
      expected.push_back("Key" + std::to_string(i));
      check_found(t, "Devices/e1000/0/Config/Key" + std::to_string(i), false);
      CHECK(*n.get<int>("Key" + std::to_string(i)) == i);
    }
  }
  CHECK(names(n) == expected);
  CHECK(n.find_child("Sub35") == sub35);  // nodes never move
  CHECK(sub35->path() == "Devices/e1000/0/Config/Sub35");
  CHECK(*t->get<int>("Devices/e1000/0/Config/Sub35/Inner") == 35);
}

TEST_CASE("index: an adopted tree is found through its new paths, and the old tree is empty") {
  pdm::config_tree t = sample();
  pdm::config_tree sub;
  REQUIRE(sub->add_value("Path", "disk.img"));
  REQUIRE(sub->ensure_child("Cache/Policy"));
  REQUIRE(sub->add_value("Cache/Policy/Mode", "writeback"));
  REQUIRE(sub->add_value("Cache/Size", 64));
  for (int i = 0; i < 50; ++i) REQUIRE(sub->add_value("Cache/Policy/K" + std::to_string(i), i));
  pdm::config_node* policy = sub->find_child("Cache/Policy");
  REQUIRE(policy != nullptr);

  pdm::config_node& lun = *t->find_child("Devices/serial/0/LUN#0");
  REQUIRE(lun.adopt("AttachedDriver2", std::move(sub)));
  const std::string base = "Devices/serial/0/LUN#0/AttachedDriver2";
  check_found(t, base, true);
  check_found(t, base + "/Path", false);
  check_found(t, base + "/Cache/Policy", true);
  check_found(t, base + "/Cache/Policy/Mode", false);
  check_found(t, base + "/Cache/Size", false);
  for (int i = 0; i < 50; ++i) CHECK(*t->get<int>(base + "/Cache/Policy/K" + std::to_string(i)) == i);
  CHECK(t->find_child(base + "/Cache/Policy") == policy);  // the adopted nodes did not move
  CHECK(policy->path() == base + "/Cache/Policy");
  CHECK(*lun.get<std::string>("AttachedDriver2/Cache/Policy/Mode") == "writeback");
  CHECK(*policy->get<std::string>("Mode") == "writeback");
  CHECK(policy->get<int>("Nope").error_value().config_path() == base + "/Cache/Policy/Nope");
  CHECK(policy->parent().value()->parent().value() == t->find_child(base));
  // The tree's old entries are still there.
  CHECK(*t->get<int>("Devices/serial/0/LUN#0/Config/Port") == 5023);
  // The moved-from tree is empty, knows none of the adopted paths, and can be used again.
  CHECK(sub->empty());
  CHECK_FALSE(sub->has_value("Path"));
  CHECK_FALSE(sub->has_child("Cache/Policy"));
  REQUIRE(sub->add_value("Path", "other.img"));
  REQUIRE(sub->ensure_child("Cache"));
  CHECK(*sub->get<std::string>("Path") == "other.img");
  CHECK(*t->get<std::string>(base + "/Path") == "disk.img");
  // Removing the adopted subtree removes all of it.
  REQUIRE(t->remove_child(base + "/Cache"));
  check_gone(t, base + "/Cache/Policy/Mode");
  check_gone(t, base + "/Cache/Policy/K7");
  check_found(t, base + "/Path", false);
}

TEST_CASE("index: adopting into a deeper node, and a tree cannot adopt itself") {
  pdm::config_tree t;
  pdm::config_node& deep = **t->ensure_child("A/Bbbbbbbbbbbbbbbbbbbbbbb/C");  // an unaligned hash state
  pdm::config_tree sub;
  REQUIRE(sub->ensure_child("X/Y"));
  REQUIRE(sub->add_value("X/Y/Z", 1));
  REQUIRE(deep.adopt("Sub", std::move(sub)));
  check_found(t, "A/Bbbbbbbbbbbbbbbbbbbbbbb/C/Sub/X/Y/Z", false);
  CHECK(*deep.get<int>("Sub/X/Y/Z") == 1);
  CHECK(deep.adopt("Self", std::move(t)).error_value() == pdm::errc::invalid_argument);
  pdm::config_node& x = *t->find_child("A/Bbbbbbbbbbbbbbbbbbbbbbb/C/Sub/X");
  CHECK(t->adopt("Again", std::move(t)).error_value() == pdm::errc::invalid_argument);
  CHECK(x.path() == "A/Bbbbbbbbbbbbbbbbbbbbbbb/C/Sub/X");
  CHECK(*t->get<int>("A/Bbbbbbbbbbbbbbbbbbbbbbb/C/Sub/X/Y/Z") == 1);
}

TEST_CASE("index: a removed subtree's paths are gone, and can be used again") {
  pdm::config_tree t = sample();
  REQUIRE(t->add_value("Devices/serial/Other", 1));
  REQUIRE(t->remove_child("Devices/serial/0"));
  for (const char* p :
       {"Devices/serial/0", "Devices/serial/0/LUN#0", "Devices/serial/0/LUN#0/Driver", "Devices/serial/0/LUN#0/Config",
        "Devices/serial/0/LUN#0/Config/Port", "Devices/serial/0/LUN#0/AttachedDriver/Driver"}) {
    check_gone(t, p);
  }
  check_found(t, "Devices/serial/Other", false);
  // The same names again, with other contents.
  REQUIRE(t->ensure_child("Devices/serial/0/LUN#0/Config"));
  REQUIRE(t->add_value("Devices/serial/0/LUN#0/Config/Port", 7));
  CHECK(*t->get<int>("Devices/serial/0/LUN#0/Config/Port") == 7);
  check_gone(t, "Devices/serial/0/LUN#0/Driver");
  check_gone(t, "Devices/serial/0/LUN#0/Config/Server");
}

TEST_CASE("index: clear removes the whole subtree from the index") {
  pdm::config_tree t = sample();
  REQUIRE(t->add_value("Top", 1));
  pdm::config_node& lun = *t->find_child("Devices/serial/0/LUN#0");
  lun.clear();
  CHECK(lun.empty());
  check_gone(t, "Devices/serial/0/LUN#0/Config");
  check_gone(t, "Devices/serial/0/LUN#0/Config/Port");
  check_gone(t, "Devices/serial/0/LUN#0/AttachedDriver/Driver");
  check_found(t, "Devices/serial/0/LUN#0", true);
  check_found(t, "Top", false);
  REQUIRE(lun.add_value("Config", 3));  // a value where a node was
  CHECK(*t->get<int>("Devices/serial/0/LUN#0/Config") == 3);
  t->clear();
  check_gone(t, "Top");
  check_gone(t, "Devices/serial/0/LUN#0/Config");
  CHECK(t->empty());
  REQUIRE(t->add_value("Top", 2));
  CHECK(*t->get<int>("Top") == 2);
}

TEST_CASE("index: paths that are not paths find nothing, with the same errors as before") {
  pdm::config_tree t = sample();
  const pdm::config_node& lun = *t->find_child("Devices/serial/0/LUN#0");
  for (const char* p : {"/Devices/serial/0", "Devices/serial/0/", "Devices//serial/0",
                        "Devices/serial/0/LUN#0/Driver/X", "/", "//", "Devices/serial/0/LUN#0/Config/Port/"}) {
    INFO("path: " << p);
    CHECK_FALSE(t->has_value(p));
    CHECK_FALSE(t->has_child(p));
  }
  CHECK(t->get<int>("/Devices").error_value() == pdm::errc::invalid_name);
  CHECK(t->get<int>("Devices/").error_value() == pdm::errc::invalid_name);
  CHECK(t->child("Devices//serial").error_value() == pdm::errc::invalid_name);
  CHECK(lun.get<int>("Driver/X").error_value() == pdm::errc::wrong_type);
  CHECK(lun.get<int>("Driver/X").error_value().config_path() == "Devices/serial/0/LUN#0/Driver");
  CHECK(lun.get<int>("/Config/Port").error_value() == pdm::errc::invalid_name);
  CHECK_FALSE(lun.has_value("Config//Port"));
  CHECK_FALSE(lun.has_value(""));
  // A name is one name: find() does not take paths, and a look-up never leaves the subtree.
  CHECK_FALSE(t->find("Devices/serial").has_value());
  CHECK(t->find("Devices").has_value());
  const pdm::config_node& cfg = *lun.find_child("Config");
  CHECK_FALSE(cfg.has_value("Driver"));  // LUN#0's value, not below Config
  CHECK_FALSE(cfg.has_child("AttachedDriver"));
  CHECK_FALSE(lun.find_child("Config")->has_value("LUN#0/Driver"));
}

TEST_CASE("index: deep paths and names of every length") {
  pdm::config_tree t;
  // Names from 1 to 40 bytes (every hash tail and name-key case), then long ones.
  std::vector<std::string> names;
  for (std::size_t len = 1; len <= 40; ++len) names.push_back(std::string(len, static_cast<char>('a' + len % 26)));
  names.push_back(std::string(255, 'L'));
  const std::string long_value(200, 'Q');
  names.push_back("\xc3\xa9t\xc3\xa9");  // UTF-8
  std::string path;
  std::vector<std::string> node_paths;
  for (std::size_t level = 0; level < 64; ++level) {
    path += (path.empty() ? "" : "/") + names[level % names.size()];
    node_paths.push_back(path);
  }
  REQUIRE(t->ensure_child(path));
  for (std::size_t level = 0; level < 64; ++level) {
    for (const std::string& n : {std::string("V"), std::string("Value12"), std::string("Value123"),
                                 std::string("ValueValue123456"), std::string("ValueValue1234567"), long_value}) {
      REQUIRE(t->add_value(node_paths[level] + "/" + n, static_cast<int>(level)));
    }
  }
  for (std::size_t level = 0; level < 64; ++level) {
    INFO("level " << level);
    for (const std::string& n :
         {std::string("V"), std::string("Value123"), std::string("ValueValue1234567"), long_value}) {
      const std::string full = node_paths[level] + "/" + n;
      CHECK(*t->get<int>(full) == static_cast<int>(level));
      // From every node above it, with the rest of the path.
      for (std::size_t from = 0; from <= level; from += 7) {
        const pdm::config_node* start = t->find_child(node_paths[from]);
        REQUIRE(start != nullptr);
        CHECK(*start->get<int>(std::string_view(full).substr(node_paths[from].size() + 1)) == static_cast<int>(level));
      }
      CHECK_FALSE(t->has_value(full + "x"));
      CHECK_FALSE(t->has_value(full.substr(0, full.size() - 1) + "#"));  // the last byte differs
    }
    CHECK(t->find_child(node_paths[level])->path() == node_paths[level]);
  }
  // A name differing only in its last byte, or only in its first.
  CHECK_FALSE(t->has_value(node_paths[3] + "/Value124"));
  CHECK_FALSE(t->has_value(node_paths[3] + "/walue123"));
  CHECK_FALSE(t->has_value(node_paths[3] + "/ValueValue1234568"));
  CHECK_FALSE(t->has_value(node_paths[3] + "/ValueValue1x34567"));
}

TEST_CASE("index: many entries in many nodes, added and removed, match a simple model") {
  // The model: every full path in the tree, with its value (-1 for a node).
  std::map<std::string, int> model;
  pdm::config_tree t;
  std::mt19937 rng(20240611);
  const std::vector<std::string> words = {"Driver", "Config",       "LUN#0", "AttachedDriver", "Path",
                                          "X",      "ReadOnlyFlag", "Port",  "Mountable",      "CableConnected1",
                                          "a",      "PCIDeviceNo"};
  auto pick = [&rng](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  auto nodes = [&model] {
    std::vector<std::string> out{""};
    for (const auto& [p, v] : model) {
      if (v < 0) out.push_back(p);
    }
    return out;
  };
  auto join = [](const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; };
  auto drop_subtree = [&model](const std::string& p) {
    for (auto it = model.lower_bound(p + "/"); it != model.end() && it->first.rfind(p + "/", 0) == 0;) {
      it = model.erase(it);
    }
  };
  for (int round = 0; round < 3000; ++round) {
    const std::vector<std::string> all = nodes();
    const std::string at = all[pick(all.size())];
    std::string name = words[pick(words.size())];  // one pick per statement: the same run on every compiler
    if (pick(3) == 0) name += std::to_string(pick(20));
    const std::string p = join(at, name);
    const auto found = model.find(p);
    switch (pick(8)) {
      case 0:
      case 1:
      case 2: {  // add (or set) a value
        const int v = static_cast<int>(pick(1000));
        const pdm::status s = t->set_value(p, v);
        if (found != model.end() && found->second < 0) {
          CHECK(s.error_value() == pdm::errc::wrong_type);
        } else {
          REQUIRE(s);
          model[p] = v;
        }
        break;
      }
      case 3:
      case 4: {  // add a node
        if (std::count(at.begin(), at.end(), '/') >= 12) break;
        const pdm::result<pdm::config_node*> n = t->add_child(p);
        if (found != model.end()) {
          CHECK(n.error_value() == pdm::errc::already_exists);
        } else {
          REQUIRE(n);
          CHECK((*n)->path() == p);
          model[p] = -1;
        }
        break;
      }
      case 5: {  // remove a value or a subtree
        if (found == model.end()) {
          CHECK(t->remove_value(p).error_value() == pdm::errc::value_not_found);
        } else if (found->second < 0) {
          REQUIRE(t->remove_child(p));
          drop_subtree(p);
          model.erase(p);
        } else {
          REQUIRE(t->remove_value(p));
          model.erase(p);
        }
        break;
      }
      case 6: {  // clear a node now and then
        if (pick(10) != 0 || at.empty()) break;
        t->find_child(at)->clear();
        drop_subtree(at);
        break;
      }
      default: {  // look up something that may or may not be there
        if (found == model.end()) {
          CHECK_FALSE(t->has_value(p));
          CHECK_FALSE(t->has_child(p));
        } else if (found->second < 0) {
          CHECK(t->has_child(p));
        } else {
          CHECK(*t->get<int>(p) == found->second);
        }
      }
    }
    if (round % 500 == 499) {  // everything in the model is in the tree, and nothing else
      std::size_t entries = 0;
      for (const auto& entry : model) {
        const std::string& path = entry.first;
        const int v = entry.second;
        INFO("path: " << path);
        if (v < 0) {
          const pdm::config_node* n = t->find_child(path);
          REQUIRE(n != nullptr);
          CHECK(n->path() == path);
          entries += n->size();
        } else {
          CHECK(*t->get<int>(path) == v);
        }
      }
      CHECK(entries + t->size() == model.size());
    }
  }
  CHECK(model.size() > 1000);                // the run built a sizeable tree (1,432 entries)
  const pdm::config_tree copy = t->clone();  // a clone indexes everything too
  for (const auto& [path, v] : model) {
    if (v >= 0) CHECK(*copy->get<int>(path) == v);
    if (v < 0) CHECK(copy->has_child(path));
  }
}

TEST_CASE("index: merge and clone keep the index right") {
  pdm::config_tree dst = sample();
  pdm::config_tree src;
  REQUIRE(src->ensure_child("Devices/serial/0/LUN#0/Config/Sub"));
  REQUIRE(src->add_value("Devices/serial/0/LUN#0/Config/Sub/Deep", 9));
  REQUIRE(src->add_value("Devices/serial/0/LUN#0/AttachedDriver", 4));  // a value replaces a node
  REQUIRE(dst->merge(src.root()));
  CHECK(*dst->get<int>("Devices/serial/0/LUN#0/Config/Sub/Deep") == 9);
  CHECK(*dst->get<int>("Devices/serial/0/LUN#0/Config/Port") == 5023);
  CHECK(*dst->get<int>("Devices/serial/0/LUN#0/AttachedDriver") == 4);
  check_gone(dst, "Devices/serial/0/LUN#0/AttachedDriver/Driver");

  pdm::config_tree other;
  REQUIRE(other->ensure_child("Config"));
  REQUIRE(other->add_value("Config/Only", 1));
  pdm::config_node& lun = *dst->find_child("Devices/serial/0/LUN#0");
  REQUIRE(lun.merge(other.root(), {.children = pdm::child_merge::replace}));  // Config is replaced
  check_gone(dst, "Devices/serial/0/LUN#0/Config/Sub/Deep");
  check_gone(dst, "Devices/serial/0/LUN#0/Config/Port");
  CHECK(*dst->get<int>("Devices/serial/0/LUN#0/Config/Only") == 1);

  pdm::config_tree copy = dst->find_child("Devices/serial")->clone();
  REQUIRE(copy->set_value("0/LUN#0/Config/Only", 2));
  REQUIRE(copy->remove_child("0/LUN#0/AttachedDriver").error_value() == pdm::errc::child_not_found);
  REQUIRE(copy->remove_value("0/LUN#0/AttachedDriver"));
  CHECK(*dst->get<int>("Devices/serial/0/LUN#0/Config/Only") == 1);
  CHECK(*dst->get<int>("Devices/serial/0/LUN#0/AttachedDriver") == 4);
  CHECK(*copy->get<int>("0/LUN#0/Config/Only") == 2);
  CHECK_FALSE(copy->has_value("Devices/serial/0/LUN#0/Config/Only"));
}

TEST_CASE("index: the path hash does not depend on where a path is split") {
  std::string s;
  for (int i = 0; i < 41; ++i) s += static_cast<char>('A' + (i * 7) % 50);
  for (std::size_t len = 0; len <= s.size(); ++len) {
    const std::string_view whole(s.data(), len);
    pdm::detail::path_hash one;
    one.append(whole);
    const std::uint64_t expected = pdm::detail::path_hash{}.finish(whole);
    CHECK(one.finish("") == expected);
    for (std::size_t i = 0; i <= len; ++i) {
      for (std::size_t j = i; j <= len; j += 3) {
        pdm::detail::path_hash h;
        h.append(whole.substr(0, i));
        h.append(whole.substr(i, j - i));
        INFO("len " << len << " split at " << i << " and " << j);
        CHECK(h.finish(whole.substr(j)) == expected);
      }
    }
    if (len > 0) CHECK(pdm::detail::path_hash{}.finish(whole.substr(0, len - 1)) != expected);
  }
}
