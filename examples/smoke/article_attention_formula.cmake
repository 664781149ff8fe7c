# The worked example's numbers, exact: --check compares the weights with
# e/(e+e^0.5) and e^0.5/(e+e^0.5) to 1e-4 and exits 1 on a mismatch; the
# regular expression also wants them printed as the article prints them.
add_test(NAME example_article_attention_formula
         COMMAND article_attention_formula --check --out ${CMAKE_CURRENT_BINARY_DIR}/out_article_attention_formula)
set_tests_properties(example_article_attention_formula PROPERTIES
  PASS_REGULAR_EXPRESSION "weights = softmax\\(scores\\) = \\[0\\.6225, 0\\.3775\\].*context = w1 V1 \\+ w2 V2 = \\[0\\.6225, 0\\.3775\\].*all checks passed"
  FAIL_REGULAR_EXPRESSION "FAIL|NaN|nan")
