# The default 100 training steps take well under a second in Release: run them
# all. --check exits 1 unless the train accuracy is at least 0.95, the loss fell,
# "love" and "best" get more weight in the article's two (held-out) sentences
# after training than before, both sentences are judged positive, the weights
# sum to 1 and the three pictures were written. (Seed 0; the claims hold for
# about 99 seeds in 100, see the program.)
add_test(NAME example_article_additive_attention
         COMMAND article_additive_attention --check --seed 0
                 --out ${CMAKE_CURRENT_BINARY_DIR}/out_article_additive_attention)
set_tests_properties(example_article_additive_attention PROPERTIES
  PASS_REGULAR_EXPRESSION "in heed: mul: shapes \\[2, 10\\] and \\[2, 10, 16\\].*check passed: train accuracy"
  FAIL_REGULAR_EXPRESSION "FAIL|NaN|nan")
