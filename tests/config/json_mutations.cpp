// Bad input, systematically: every truncation of a real config file and thousands of random byte
// changes must give a tree or a clear error, never a crash, a hang or a half-loaded tree (run
// under ASan and UBSan by the sanitize preset).
#include <pdm/config/json.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace {

std::string example_file() {
  std::ifstream in(PDM_SOURCE_DIR "/examples/configs/vm.json", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A loaded tree must survive a save/load round trip unchanged; an error must carry a code of
// pdm's category and a message.
void check_outcome(const pdm::result<pdm::config_tree>& r) {
  if (r) {
    pdm::result<pdm::config_tree> again = pdm::load_json(pdm::save_json(r->root()));
    REQUIRE(again);
    CHECK(*again == *r);
  } else {
    CHECK(r.error_value().code().category() == pdm::error_category());
    CHECK_FALSE(r.error_value().message().empty());
  }
}

}  // namespace

TEST_CASE("every truncation of a config file is an error, not a partial tree") {
  const std::string text = example_file();
  REQUIRE(text.size() > 1000);
  std::size_t loaded = 0;
  for (std::size_t n = 0; n < text.size(); ++n) {
    const pdm::result<pdm::config_tree> r = pdm::load_json(std::string_view(text).substr(0, n));
    if (r) ++loaded;
    check_outcome(r);
  }
  // Only the whole document (and the document without its final newline) is a complete object.
  CHECK(loaded == 1);
  CHECK(pdm::load_json(text).has_value());
}

TEST_CASE("random byte changes give a tree or an error") {
  const std::string text = example_file();
  std::mt19937_64 rng(20261125);
  std::uniform_int_distribution<std::size_t> position(0, text.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  const std::string specials = "{}[]\":,\\/$0-e.\n";
  std::uniform_int_distribution<std::size_t> special(0, specials.size() - 1);
  std::size_t errors = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string mutated = text;
    const int changes = 1 + round % 4;
    for (int c = 0; c < changes; ++c) {
      const std::size_t at = position(rng);
      switch (round % 3) {
        case 0:
          mutated[at] = static_cast<char>(byte(rng));
          break;
        case 1:
          mutated[at] = specials[special(rng)];
          break;
        default:
          mutated.insert(at, 1, specials[special(rng)]);
          break;
      }
    }
    const pdm::result<pdm::config_tree> r = pdm::load_json(mutated);
    if (!r) ++errors;
    check_outcome(r);
  }
  CHECK(errors > 10000);  // most changes break the document; the rest must load consistently
}
