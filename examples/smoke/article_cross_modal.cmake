# The default 300 steps take under a second in Release: run them all. --check
# wants at least 90% of held-out words to put their largest attention weight on
# their own region (8 seeds tried: 0.993 to 0.995), the held-out loss to fall by
# more than half, and the three pictures written; it exits 1 otherwise.
add_test(NAME example_article_cross_modal
         COMMAND article_cross_modal --check --out ${CMAKE_CURRENT_BINARY_DIR}/out_article_cross_modal)
set_tests_properties(example_article_cross_modal PROPERTIES
  PASS_REGULAR_EXPRESSION "H' = concat\\(H, Attention\\) \\[1, 8, 48\\].*\\(loss decreased\\).*all checks passed"
  FAIL_REGULAR_EXPRESSION "FAIL|NaN|nan")
