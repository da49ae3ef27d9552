// fuzz/state_loader.hpp - the saved-state fuzz target's entry point, for the programs that call
// it without libFuzzer (replay_main.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

/// \brief The fuzz target's body (state_loader.cpp), called by LLVMFuzzerTestOneInput and by the
/// replay test. Returns 0; a broken invariant prints what broke and traps.
int pdm_fuzz_state_loader(const std::uint8_t* data, std::size_t size);
