# article_seq2seq: the article's forward at its shapes, then 60 training steps.
# --check exits 1 unless the output is [1, 10, 512] and the weights [1, 10, 10]
# with rows summing to 1, decoder step 0 does not see target step 9, the train and
# held-out losses fell, and both pictures were written.
# OMP_WAIT_POLICY=passive: with every core busy (ctest -j, a shared 2-core machine)
# libgomp's idle threads spin and take the CPU from the thread doing the work, and
# the run takes ~10x longer. Passive threads sleep instead.
add_test(NAME example_article_seq2seq
         COMMAND article_seq2seq --steps 60 --check --out ${CMAKE_CURRENT_BINARY_DIR}/out_article_seq2seq)
set_tests_properties(example_article_seq2seq PROPERTIES
  ENVIRONMENT "OMP_WAIT_POLICY=passive"
  FAIL_REGULAR_EXPRESSION "check FAILED|[^a-z]nan[^a-z]|NaN"
  TIMEOUT 120)
