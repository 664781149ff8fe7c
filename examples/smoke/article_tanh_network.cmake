# Both networks at the default 2000 steps (a fraction of a second). --check
# wants the hand-derived gradients to match autograd's to 1e-5 (relative)
# before and after training, and each loss to fall by more than half; it exits
# 1 otherwise.
add_test(NAME example_article_tanh_network
         COMMAND article_tanh_network --check --out ${CMAKE_CURRENT_BINARY_DIR}/out_article_tanh_network)
set_tests_properties(example_article_tanh_network PROPERTIES
  PASS_REGULAR_EXPRESSION "simple \\(10-10-5\\).*loss decreased.*deeper \\(10-10-10-5\\).*loss decreased.*all checks passed"
  FAIL_REGULAR_EXPRESSION "FAIL|NaN|nan")
