// pdm/config/fwd.hpp - declarations the driver layer needs of the config layer, without its cost.
//
// A driver_descriptor carries a type-erased "bind this driver's Config node, then construct"
// function. The descriptor only needs its declaration; the definition lives in
// pdm/config/binding.hpp, which every driver with a config_type includes anyway (it describes its
// config struct with it). Keeping the binding machinery (Boost.Hana, Boost.Describe, the tree) out
// of the driver headers saves about 0.4 s per translation unit that only declares drivers.
#pragma once

#include "pdm/core/error.hpp"

namespace pdm {

class config_node;

namespace detail {

/// Receives the bound config (a `T*` for the driver's config_type T, which the receiver may move
/// from) and a caller context.
using bound_config_user = void (*)(void* config, void* context);

/// Binds `node` to a T and passes it to `use`; the problems of a failed bind otherwise. Defined in
/// pdm/config/binding.hpp.
template <class T>
status bind_config_erased(const config_node& node, bound_config_user use, void* context);

}  // namespace detail
}  // namespace pdm
