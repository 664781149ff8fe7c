# gradient_norms: a short training run; --check verifies the loss went down, every
# hook ran once per backward and saw exactly the gradient that reached grad(),
# key.bias gets no gradient, and remove_hook works. A second run adds the
# clipping hook (a hook that replaces the gradient) and checks the clipped norms.
add_test(NAME example_gradient_norms
  COMMAND gradient_norms --seed 0 --steps 30 --out ${CMAKE_CURRENT_BINARY_DIR}/out_gradient_norms --check)
add_test(NAME example_gradient_norms_clipped
  COMMAND gradient_norms --seed 0 --steps 30 --clip-norm 0.05
          --out ${CMAKE_CURRENT_BINARY_DIR}/out_gradient_norms_clipped --check)
set_tests_properties(example_gradient_norms example_gradient_norms_clipped
  PROPERTIES FAIL_REGULAR_EXPRESSION "FAIL|Error|error|nan")
