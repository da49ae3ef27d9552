#include <pdm/config/tree.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
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
