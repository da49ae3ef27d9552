// pdm/core/errc.hpp - pdm's status codes and their std::error_category.
//
// Every failure pdm reports carries one of these codes. The numbering is stable (codes are
// grouped by subsystem in blocks of 100) so codes can be logged, compared across versions and
// passed through the plugin ABI. docs/errors.md tables each code against the 2008 manager's
// VERR_* status it corresponds to.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

namespace pdm {

/// \brief Status codes of pdm; use with std::error_code through make_error_code().
enum class errc : int {
  // 0 is success in std::error_code; no enumerator uses it.

  // General (1..99)
  invalid_argument = 1,  ///< an argument is out of its documented domain
  no_memory,             ///< an allocation failed
  not_implemented,       ///< the operation has no implementation for this input
  internal_error,        ///< an invariant of pdm itself broke; please report it
  wrong_thread,          ///< called on the wrong thread (for example not on the EMT)
  invalid_vm_state,      ///< the VM is in a state that does not allow the operation
  cancelled,             ///< the caller cancelled the operation
  timeout,               ///< an operation did not complete in the allowed time

  // Driver registration (100..199)
  invalid_registration = 100,    ///< a driver descriptor breaks a registration rule
  unknown_registration_version,  ///< a descriptor's ABI version is not one pdm knows
  name_clash,                    ///< a driver with the same name is already registered
  interface_id_clash,            ///< two different interface ids hash to the same key
  module_name_too_long,          ///< a PDM/Drivers/<name> module name is too long
  file_name_too_long,            ///< a module's resolved file name is too long
  module_load_failed,            ///< the dynamic loader could not load a module
  no_registration_export,        ///< a module has no registration entry point
  abi_mismatch,                  ///< a module was built against another pdm ABI

  // Attach and detach (200..299)
  missing_driver_name = 200,        ///< the config node has no Driver value
  driver_not_found,                 ///< no registered driver has that name
  too_many_instances,               ///< the driver's max_instances are all alive
  missing_interface,                ///< a driver does not provide an interface its neighbour needs
  already_attached,                 ///< something is already attached there
  no_attached_driver,               ///< the config names no driver to attach there
  detach_not_possible,              ///< the parent has no detach notification
  detach_in_progress,               ///< a detach was requested while one is running
  no_runtime_attach,                ///< the driver cannot attach below itself at run time
  instance_not_found,               ///< no driver instance matches
  device_not_found,                 ///< no device instance matches
  lun_not_found,                    ///< the device has no such LUN
  constructor_failed,               ///< a driver constructor failed (error or exception)
  misconfigured_transformation,     ///< a DriverTransformations rule is malformed
  cannot_transform_removed_driver,  ///< a rule acts on a driver another rule removed

  // Config tree (300..399)
  value_not_found = 300,  ///< no value of that name
  child_not_found,        ///< no child node of that name
  wrong_type,             ///< the value exists but has another type
  integer_too_big,        ///< the integer does not fit the requested type
  integer_too_small,      ///< the integer is below the requested type's range
  out_of_range,           ///< the value is outside the range the schema allows
  invalid_name,           ///< a node or value name is not allowed
  already_exists,         ///< a node or value of that name already exists
  no_parent,              ///< the node is a (restricted) root and has no parent
  parse_error,            ///< a config file is not valid JSON
  nesting_too_deep,       ///< a config file nests deeper than the documented limit
  duplicate_key,          ///< a config file has the same key twice in one object
  unknown_key,            ///< a key is not part of the driver's config schema
  missing_required,       ///< a required key is missing
  invalid_value,          ///< a value has the right type but is not acceptable

  // Services: timers, queues, pollers, threads, statistics (400..499)
  queue_full = 400,    ///< a queue has no free item
  poller_table_full,   ///< every poller slot is in use
  thread_not_stopped,  ///< a driver thread did not terminate in time
  statistic_exists,    ///< a statistic of that name is already registered
  resource_limit,      ///< a per-instance resource limit was reached
  resource_destroyed,  ///< the resource was destroyed (with its instance or by hand): the handle is stale

  // Saved state (500..599)
  unit_exists = 500,     ///< a saved-state unit with that name and instance exists
  unit_not_found,        ///< the stream has a unit no driver claims, or the reverse
  unit_version_too_new,  ///< the stream's unit version is newer than the driver's
  stream_truncated,      ///< the stream ends early
  stream_corrupted,      ///< a checksum or marker does not match
  stream_bad_magic,      ///< the stream is not a pdm saved state
  stream_too_large,      ///< a length in the stream is beyond the allowed limit
  io_error,              ///< reading or writing the stream's file failed
  unit_version_too_old,  ///< the stream's unit version is older than the driver can load

  // Host services (600..699)
  access_denied = 600,  ///< a host call is outside the allowed operation range
  hub_registry_full,    ///< no more USB hubs can be registered
};

namespace detail {

// The message of each code: a short sentence, lower case, no trailing full stop, so that
// callers can prefix it with the driver, instance and config path.
constexpr const char* errc_message(errc e) noexcept {
  switch (e) {
    case errc::invalid_argument:
      return "invalid argument";
    case errc::no_memory:
      return "out of memory";
    case errc::not_implemented:
      return "not implemented";
    case errc::internal_error:
      return "internal error in pdm";
    case errc::wrong_thread:
      return "called on the wrong thread";
    case errc::invalid_vm_state:
      return "not allowed in the VM's current state";
    case errc::cancelled:
      return "cancelled";
    case errc::timeout:
      return "timed out";
    case errc::invalid_registration:
      return "invalid driver registration";
    case errc::unknown_registration_version:
      return "unknown driver registration version";
    case errc::name_clash:
      return "a driver of that name is already registered";
    case errc::interface_id_clash:
      return "two interface ids have the same key";
    case errc::module_name_too_long:
      return "driver module name too long";
    case errc::file_name_too_long:
      return "driver module file name too long";
    case errc::module_load_failed:
      return "driver module could not be loaded";
    case errc::no_registration_export:
      return "driver module has no registration entry point";
    case errc::abi_mismatch:
      return "driver module built for another pdm ABI";
    case errc::missing_driver_name:
      return "no Driver value in the config";
    case errc::driver_not_found:
      return "driver not found";
    case errc::too_many_instances:
      return "too many instances of the driver";
    case errc::missing_interface:
      return "a required interface is missing";
    case errc::already_attached:
      return "a driver is already attached";
    case errc::no_attached_driver:
      return "no driver configured to attach";
    case errc::detach_not_possible:
      return "the parent cannot detach drivers below it";
    case errc::detach_in_progress:
      return "a detach is already in progress";
    case errc::no_runtime_attach:
      return "the driver cannot attach at run time";
    case errc::instance_not_found:
      return "driver instance not found";
    case errc::device_not_found:
      return "device not found";
    case errc::lun_not_found:
      return "LUN not found";
    case errc::constructor_failed:
      return "driver constructor failed";
    case errc::misconfigured_transformation:
      return "misconfigured driver transformation";
    case errc::cannot_transform_removed_driver:
      return "cannot transform a removed driver";
    case errc::value_not_found:
      return "config value not found";
    case errc::child_not_found:
      return "config node not found";
    case errc::wrong_type:
      return "config value has the wrong type";
    case errc::integer_too_big:
      return "integer too big for the requested type";
    case errc::integer_too_small:
      return "integer too small for the requested type";
    case errc::out_of_range:
      return "value out of range";
    case errc::invalid_name:
      return "invalid name";
    case errc::already_exists:
      return "already exists";
    case errc::no_parent:
      return "node has no parent";
    case errc::parse_error:
      return "config file parse error";
    case errc::nesting_too_deep:
      return "config nesting too deep";
    case errc::duplicate_key:
      return "duplicate key";
    case errc::unknown_key:
      return "unknown config key";
    case errc::missing_required:
      return "required config key missing";
    case errc::invalid_value:
      return "invalid config value";
    case errc::queue_full:
      return "queue full";
    case errc::poller_table_full:
      return "poller table full";
    case errc::thread_not_stopped:
      return "driver thread did not stop in time";
    case errc::statistic_exists:
      return "statistic already registered";
    case errc::resource_limit:
      return "resource limit reached";
    case errc::resource_destroyed:
      return "the resource was destroyed";
    case errc::unit_exists:
      return "saved-state unit already registered";
    case errc::unit_not_found:
      return "saved-state unit not found";
    case errc::unit_version_too_new:
      return "saved-state unit version newer than the driver";
    case errc::stream_truncated:
      return "saved-state stream truncated";
    case errc::stream_corrupted:
      return "saved-state stream corrupted";
    case errc::stream_bad_magic:
      return "not a pdm saved-state stream";
    case errc::stream_too_large:
      return "saved-state length beyond limit";
    case errc::io_error:
      return "I/O error";
    case errc::unit_version_too_old:
      return "saved-state unit version older than the driver loads";
    case errc::access_denied:
      return "access denied";
    case errc::hub_registry_full:
      return "USB hub registry full";
  }
  return nullptr;
}

class category_impl final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "pdm"; }
  [[nodiscard]] std::string message(int code) const override {
    const char* text = errc_message(static_cast<errc>(code));
    return text != nullptr ? text : "unknown pdm error " + std::to_string(code);
  }
};

}  // namespace detail

/// \brief The std::error_category of every pdm::errc code; compares equal across TUs.
[[nodiscard]] inline const std::error_category& error_category() noexcept {
  static const detail::category_impl instance;
  return instance;
}

/// \brief Makes a std::error_code from a pdm::errc (found by ADL).
[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// \brief The enumerator's name ("driver_not_found"), for logs and dumps; "" if unknown.
[[nodiscard]] constexpr const char* errc_name(errc e) noexcept {
  switch (e) {
#define PDM_ERRC_NAME_(x) \
  case errc::x:           \
    return #x
    // A macro here only spells each enumerator once as a string; C++20 has no reflection.
    PDM_ERRC_NAME_(invalid_argument);
    PDM_ERRC_NAME_(no_memory);
    PDM_ERRC_NAME_(not_implemented);
    PDM_ERRC_NAME_(internal_error);
    PDM_ERRC_NAME_(wrong_thread);
    PDM_ERRC_NAME_(invalid_vm_state);
    PDM_ERRC_NAME_(cancelled);
    PDM_ERRC_NAME_(timeout);
    PDM_ERRC_NAME_(invalid_registration);
    PDM_ERRC_NAME_(unknown_registration_version);
    PDM_ERRC_NAME_(name_clash);
    PDM_ERRC_NAME_(interface_id_clash);
    PDM_ERRC_NAME_(module_name_too_long);
    PDM_ERRC_NAME_(file_name_too_long);
    PDM_ERRC_NAME_(module_load_failed);
    PDM_ERRC_NAME_(no_registration_export);
    PDM_ERRC_NAME_(abi_mismatch);
    PDM_ERRC_NAME_(missing_driver_name);
    PDM_ERRC_NAME_(driver_not_found);
    PDM_ERRC_NAME_(too_many_instances);
    PDM_ERRC_NAME_(missing_interface);
    PDM_ERRC_NAME_(already_attached);
    PDM_ERRC_NAME_(no_attached_driver);
    PDM_ERRC_NAME_(detach_not_possible);
    PDM_ERRC_NAME_(detach_in_progress);
    PDM_ERRC_NAME_(no_runtime_attach);
    PDM_ERRC_NAME_(instance_not_found);
    PDM_ERRC_NAME_(device_not_found);
    PDM_ERRC_NAME_(lun_not_found);
    PDM_ERRC_NAME_(constructor_failed);
    PDM_ERRC_NAME_(misconfigured_transformation);
    PDM_ERRC_NAME_(cannot_transform_removed_driver);
    PDM_ERRC_NAME_(value_not_found);
    PDM_ERRC_NAME_(child_not_found);
    PDM_ERRC_NAME_(wrong_type);
    PDM_ERRC_NAME_(integer_too_big);
    PDM_ERRC_NAME_(integer_too_small);
    PDM_ERRC_NAME_(out_of_range);
    PDM_ERRC_NAME_(invalid_name);
    PDM_ERRC_NAME_(already_exists);
    PDM_ERRC_NAME_(no_parent);
    PDM_ERRC_NAME_(parse_error);
    PDM_ERRC_NAME_(nesting_too_deep);
    PDM_ERRC_NAME_(duplicate_key);
    PDM_ERRC_NAME_(unknown_key);
    PDM_ERRC_NAME_(missing_required);
    PDM_ERRC_NAME_(invalid_value);
    PDM_ERRC_NAME_(queue_full);
    PDM_ERRC_NAME_(poller_table_full);
    PDM_ERRC_NAME_(thread_not_stopped);
    PDM_ERRC_NAME_(statistic_exists);
    PDM_ERRC_NAME_(resource_limit);
    PDM_ERRC_NAME_(resource_destroyed);
    PDM_ERRC_NAME_(unit_exists);
    PDM_ERRC_NAME_(unit_not_found);
    PDM_ERRC_NAME_(unit_version_too_new);
    PDM_ERRC_NAME_(stream_truncated);
    PDM_ERRC_NAME_(stream_corrupted);
    PDM_ERRC_NAME_(stream_bad_magic);
    PDM_ERRC_NAME_(stream_too_large);
    PDM_ERRC_NAME_(io_error);
    PDM_ERRC_NAME_(unit_version_too_old);
    PDM_ERRC_NAME_(access_denied);
    PDM_ERRC_NAME_(hub_registry_full);
#undef PDM_ERRC_NAME_
  }
  return "";
}

}  // namespace pdm

template <>
struct std::is_error_code_enum<pdm::errc> : std::true_type {};
