# The article's 100 epochs take well under a second: run them all. --check
# verifies that the loss fell, that each row of the attention weights sums to 1
# and that both pictures were written (exit 1 otherwise); the expression also
# wants the article's "Epoch 90, Loss:" line and heed's refusal of the
# article's [10, 1] vs [10, 50] loss.
add_test(NAME example_article_self_attention
         COMMAND article_self_attention --check --out ${CMAKE_CURRENT_BINARY_DIR}/out_article_self_attention)
set_tests_properties(example_article_self_attention PROPERTIES
  PASS_REGULAR_EXPRESSION "heed refuses: mse_loss.*Epoch 90, Loss: .*\\(loss decreased\\).*all checks passed"
  FAIL_REGULAR_EXPRESSION "FAIL|NaN|nan")
