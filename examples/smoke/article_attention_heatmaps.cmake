# One forward pass of the article's SelfAttentionLayer (d_model 512, 10 tokens),
# then 5 timed passes. --check exits 1 unless every row of the weights sums to 1
# (to 1e-5), the weights equal softmax(scores) over the keys, the article's
# softmax(dim=1) rows do NOT sum to 1, the output is [1, 10, 512] and finite,
# and all six pictures (scores, weights, the article's weights; PNG and SVG)
# were written. The expression also wants the output's shape printed.
add_test(NAME example_article_attention_heatmaps
         COMMAND article_attention_heatmaps --check --steps 5
                 --out ${CMAKE_CURRENT_BINARY_DIR}/out_article_attention_heatmaps)
set_tests_properties(example_article_attention_heatmaps PROPERTIES
  PASS_REGULAR_EXPRESSION "output of the self-attention layer, \\[1, 10, 512\\].*check passed: every weights row sums to 1"
  FAIL_REGULAR_EXPRESSION "FAIL|NaN|nan")
