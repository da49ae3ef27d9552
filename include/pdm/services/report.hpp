// pdm/services/report.hpp - what a VM tells its host about problems that are not the caller's
// error: a failed thread assertion, a slow driver, a hook that threw, a thread that would not stop.
//
// Reports go to vm_options::report (one line each on std::clog without one). They never change
// what the VM does: it goes on, and the report says what it saw.
#pragma once

#include "pdm/core/error.hpp"

namespace pdm {

/// \brief What a vm reports to its report sink.
enum class report_kind {
  wrong_thread,        ///< a driver's assert_emt() or assert_other() failed
  slow_notification,   ///< a driver has not completed an asynchronous power notification in time
  hook_threw,          ///< a hook, a callback or a posted request threw; the exception was caught
  thread_not_stopped,  ///< a driver thread did not stop (or suspend) in time; the VM goes on waiting
  driver_error,        ///< a driver's set_error or set_runtime_error, when the host installed no error sink
};

/// \brief One report: its kind and an error naming the driver, instance and details.
struct vm_report {
  report_kind kind = report_kind::wrong_thread;
  error what;
};

}  // namespace pdm
