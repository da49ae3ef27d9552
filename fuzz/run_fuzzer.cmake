# Runs the libFuzzer binary for a bounded number of inputs, for CTest (fuzz.state_loader.run):
#   cmake -DFUZZER=<binary> -DCORPUS=<seed directory> -DDICT=<dictionary> -DWORK_DIR=<dir> -DRUNS=<n> -DSEED=<n>
#         -P run_fuzzer.cmake
# The seed directory is only read: new inputs go to WORK_DIR/new, crashes to WORK_DIR/artifacts.
# -timeout=0: no input fails for being slow (tests assert nothing about time); a hang still ends
# at CTest's own time limit.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/new ${WORK_DIR}/artifacts)
execute_process(
  COMMAND ${FUZZER} -runs=${RUNS} -seed=${SEED} -timeout=0 -rss_limit_mb=2048 -print_final_stats=1 -dict=${DICT}
          -artifact_prefix=${WORK_DIR}/artifacts/ ${WORK_DIR}/new ${CORPUS}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB artifacts ${WORK_DIR}/artifacts/*)
  message(FATAL_ERROR "the fuzzer failed (${rc}); inputs that broke it: ${artifacts}\n"
                      "replay one with: pdm_fuzz_state_loader_replay <file>")
endif()
