# graph_of_attention: writes the DOT file (and PNG/SVG where Graphviz's dot is
# installed); --check verifies the graph's 9 ops, 6 named parameters, the named
# intermediate tensors, and that backward reaches every parameter.
add_test(NAME example_graph_of_attention
  COMMAND graph_of_attention --seed 0 --out ${CMAKE_CURRENT_BINARY_DIR}/out_graph_of_attention --check)
set_tests_properties(example_graph_of_attention PROPERTIES FAIL_REGULAR_EXPRESSION "FAIL|Error|error")
