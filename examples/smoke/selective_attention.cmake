# selective_attention, quick: 20 training steps. --check exits 1 unless the loss
# fell, every weights row sums to 1 and the four pictures were written; the
# thresholds on held-out accuracy and attention mass are switched off (--min-* 0),
# as 20 steps are not meant to finish learning.
# OMP_WAIT_POLICY=passive: with every core busy (ctest -j, a shared 2-core machine)
# libgomp's idle threads spin and take the CPU from the thread doing the work.
add_test(NAME example_selective_attention
         COMMAND selective_attention --steps 20 --min-mass 0 --min-accuracy 0 --check
                 --out ${CMAKE_CURRENT_BINARY_DIR}/out_selective_attention)
set_tests_properties(example_selective_attention PROPERTIES
  ENVIRONMENT "OMP_WAIT_POLICY=passive"
  FAIL_REGULAR_EXPRESSION "check FAILED|[^a-z]nan[^a-z]|NaN"
  TIMEOUT 60)

# The claim of the issue, on the default configuration: after training, the
# attention mass on the letter after the cue is above 0.9 on held-out data (and
# the held-out accuracy too). Labelled slow: run it with ctest -L slow.
add_test(NAME example_selective_attention_default
         COMMAND selective_attention --check --min-mass 0.9 --min-accuracy 0.9
                 --out ${CMAKE_CURRENT_BINARY_DIR}/out_selective_attention_default)
set_tests_properties(example_selective_attention_default PROPERTIES
  LABELS slow
  ENVIRONMENT "OMP_WAIT_POLICY=passive"
  FAIL_REGULAR_EXPRESSION "check FAILED|[^a-z]nan[^a-z]|NaN"
  TIMEOUT 300)
