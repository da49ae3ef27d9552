// pdm/pdm.hpp - includes every public pdm header.
//
// Include the individual headers instead to keep compile times down in large projects.
#pragma once

#include "pdm/analysis/config_reference.hpp"
#include "pdm/analysis/static_chain.hpp"
#include "pdm/config/binding.hpp"
#include "pdm/config/json.hpp"
#include "pdm/config/override.hpp"
#include "pdm/config/schema.hpp"
#include "pdm/config/tree.hpp"
#include "pdm/config/value.hpp"
#include "pdm/core/errc.hpp"
#include "pdm/core/error.hpp"
#include "pdm/core/hash.hpp"
#include "pdm/driver/context.hpp"
#include "pdm/driver/descriptor.hpp"
#include "pdm/driver/driver.hpp"
#include "pdm/driver/hana.hpp"
#include "pdm/driver/interface.hpp"
#include "pdm/driver/object.hpp"
#include "pdm/driver/registry.hpp"
#include "pdm/driver/traits.hpp"
#include "pdm/version.hpp"
