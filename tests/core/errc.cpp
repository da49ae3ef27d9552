#include <pdm/core/errc.hpp>

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <system_error>

namespace {
// Every enumerator, so the tests below cover each code; keep in step with errc.hpp.
constexpr pdm::errc all_codes[] = {
    pdm::errc::invalid_argument,
    pdm::errc::no_memory,
    pdm::errc::not_implemented,
    pdm::errc::internal_error,
    pdm::errc::wrong_thread,
    pdm::errc::invalid_vm_state,
    pdm::errc::cancelled,
    pdm::errc::timeout,
    pdm::errc::invalid_registration,
    pdm::errc::unknown_registration_version,
    pdm::errc::name_clash,
    pdm::errc::interface_id_clash,
    pdm::errc::module_name_too_long,
    pdm::errc::file_name_too_long,
    pdm::errc::module_load_failed,
    pdm::errc::no_registration_export,
    pdm::errc::abi_mismatch,
    pdm::errc::missing_driver_name,
    pdm::errc::driver_not_found,
    pdm::errc::too_many_instances,
    pdm::errc::missing_interface,
    pdm::errc::already_attached,
    pdm::errc::no_attached_driver,
    pdm::errc::detach_not_possible,
    pdm::errc::detach_in_progress,
    pdm::errc::no_runtime_attach,
    pdm::errc::instance_not_found,
    pdm::errc::device_not_found,
    pdm::errc::lun_not_found,
    pdm::errc::constructor_failed,
    pdm::errc::misconfigured_transformation,
    pdm::errc::cannot_transform_removed_driver,
    pdm::errc::value_not_found,
    pdm::errc::child_not_found,
    pdm::errc::wrong_type,
    pdm::errc::integer_too_big,
    pdm::errc::integer_too_small,
    pdm::errc::out_of_range,
    pdm::errc::invalid_name,
    pdm::errc::already_exists,
    pdm::errc::no_parent,
    pdm::errc::parse_error,
    pdm::errc::nesting_too_deep,
    pdm::errc::duplicate_key,
    pdm::errc::unknown_key,
    pdm::errc::missing_required,
    pdm::errc::invalid_value,
    pdm::errc::queue_full,
    pdm::errc::poller_table_full,
    pdm::errc::thread_not_stopped,
    pdm::errc::statistic_exists,
    pdm::errc::resource_limit,
    pdm::errc::resource_destroyed,
    pdm::errc::unit_exists,
    pdm::errc::unit_not_found,
    pdm::errc::unit_version_too_new,
    pdm::errc::stream_truncated,
    pdm::errc::stream_corrupted,
    pdm::errc::stream_bad_magic,
    pdm::errc::stream_too_large,
    pdm::errc::io_error,
    pdm::errc::unit_version_too_old,
    pdm::errc::access_denied,
    pdm::errc::hub_registry_full,
};
}  // namespace

TEST_CASE("every errc has a distinct message and name and converts to std::error_code") {
  std::set<std::string> messages;
  std::set<std::string> names;
  for (pdm::errc e : all_codes) {
    const std::error_code code = e;  // implicit, through is_error_code_enum
    CHECK(code.category() == pdm::error_category());
    CHECK(code.value() == static_cast<int>(e));
    CHECK(code);  // no code is success
    CHECK(messages.insert(code.message()).second);
    CHECK(names.insert(pdm::errc_name(e)).second);
    CHECK(std::string(pdm::errc_name(e)).size() > 0);
    CHECK(code.message().find("unknown pdm error") == std::string::npos);
  }
}

TEST_CASE("the category is named pdm and answers unknown values without failing") {
  CHECK(std::string(pdm::error_category().name()) == "pdm");
  CHECK(pdm::error_category().message(99999) == "unknown pdm error 99999");
  CHECK(std::string(pdm::errc_name(static_cast<pdm::errc>(99999))).empty());
}

TEST_CASE("codes keep their published numbers") {
  // docs/errors.md publishes these numbers; changing one breaks logs and the module ABI.
  CHECK(static_cast<int>(pdm::errc::invalid_argument) == 1);
  CHECK(static_cast<int>(pdm::errc::invalid_registration) == 100);
  CHECK(static_cast<int>(pdm::errc::name_clash) == 102);
  CHECK(static_cast<int>(pdm::errc::missing_driver_name) == 200);
  CHECK(static_cast<int>(pdm::errc::driver_not_found) == 201);
  CHECK(static_cast<int>(pdm::errc::value_not_found) == 300);
  CHECK(static_cast<int>(pdm::errc::queue_full) == 400);
  CHECK(static_cast<int>(pdm::errc::unit_exists) == 500);
  CHECK(static_cast<int>(pdm::errc::access_denied) == 600);
}

TEST_CASE("pdm codes do not compare equal to generic codes with the same value") {
  const std::error_code mine = pdm::errc::invalid_argument;
  const std::error_code generic = std::make_error_code(std::errc::operation_not_permitted);  // value 1
  CHECK(mine.value() == generic.value());
  CHECK(mine != generic);
}
