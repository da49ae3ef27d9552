// A downstream program: declares a driver, registers it and queries it through pdm::pdm.
#include <pdm/pdm.hpp>

#include <cstdio>

namespace {
struct greeting {
  static constexpr std::string_view interface_id = "consumer.greeting/1";
  virtual int answer() = 0;

 protected:
  ~greeting() = default;
};

class greeter final : public greeting {
 public:
  static constexpr pdm::driver_traits traits{
      .name = "Greeter", .description = "Answers", .class_mask = pdm::driver_class::filter, .max_instances = 1};
  using provides = pdm::interface_list<greeting>;
  explicit greeter(pdm::driver_context& /*ctx*/) {}
  int answer() override { return 42; }
};
}  // namespace

int main() {
  pdm::registry registry;
  if (!registry.add(pdm::driver_list<greeter>{})) return 1;
  const pdm::driver_descriptor* d = registry.find("Greeter");
  if (d == nullptr) return 2;
  pdm::result<pdm::driver_object> obj = pdm::driver_object::create(*d, 0);
  if (!obj) return 3;
  if (obj->query<greeting>()->answer() != 42) return 4;
  std::printf("consumer ok (pdm %s)\n", pdm::version_string);
  return 0;
}
