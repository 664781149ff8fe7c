// The doctest runner for heed_tests. Each tests/test_<family>.cpp adds its cases.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
