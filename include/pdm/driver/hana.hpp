// pdm/driver/hana.hpp - a Boost.Hana view of a driver_list, for type-level algorithms.
//
// driver_list itself avoids Hana so that large lists compile fast; this header lets users who
// want Hana's algorithms (filter by class, transform to descriptors, ...) have them:
//
//     constexpr auto media = boost::hana::filter(pdm::as_hana(drivers{}), [](auto t) {
//       return boost::hana::bool_c<pdm::has_any(decltype(t)::type::traits.class_mask,
//                                               pdm::driver_class::media)>;
//     });
#pragma once

#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include "pdm/driver/registry.hpp"

namespace pdm {

/// \brief The drivers of a driver_list as a hana::tuple of hana::type (hana::tuple_t<Ds...>).
template <class... Ds>
[[nodiscard]] constexpr auto as_hana(driver_list<Ds...> /*list*/) noexcept {
  return boost::hana::tuple_t<Ds...>;
}

}  // namespace pdm
