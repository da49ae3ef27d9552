#include <pdm/analysis/config_reference.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace {

struct pipe_config {
  std::string path = "a|b";
  static constexpr pdm::config_field config_fields[] = {{.member = "path", .description = "Where | what"}};
};

}  // namespace

BOOST_HANA_ADAPT_STRUCT(pipe_config, path);

namespace {

class pipe_driver {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Pipe", .description = "A named pipe", .class_mask = pdm::driver_class::stream, .max_instances = 1};
  using config_type = pipe_config;
  pipe_driver(pdm::driver_context& /*ctx*/, const config_type& /*config*/) {}
};

class null_driver {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Null", .description = "Discards everything.", .class_mask = pdm::driver_class::stream};
  explicit null_driver(pdm::driver_context& /*ctx*/) {}
};

}  // namespace

TEST_CASE("the reference has a section per driver, in list order, with its keys") {
  const std::string md =
      pdm::config_reference(pdm::driver_list<pipe_driver, null_driver>{}, "Drivers", "What they read.");
  CHECK(md ==
        "# Drivers\n"
        "\n"
        "What they read.\n"
        "\n"
        "## `Pipe`\n"
        "\n"
        "A named pipe. At most 1 instance.\n"
        "\n"
        "| key | type | default | description |\n"
        "|---|---|---|---|\n"
        "| `Path` | string | `\"a\\|b\"` | Where \\| what |\n"
        "\n"
        "## `Null`\n"
        "\n"
        "Discards everything.\n"
        "\n"
        "Takes no configuration keys.\n");
}
