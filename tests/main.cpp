// The doctest runner for heed_tests. Each tests/test_<family>.cpp adds its cases.
//
// ctest runs each case on its own (doctest_discover_tests passes its name as
// --test-case). To CMake a ';' separates list items, so a name holding one
// reached doctest cut short, selected no case, and a run of no case passed:
// such tests never ran. So a run whose --test-case selects nothing fails here.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstring>
#include <iostream>

namespace {

unsigned g_selected = 0;  // the cases that passed the filters in this run

// A listener that only counts; doctest's own reporter still prints everything.
struct CountSelected : doctest::IReporter {
  explicit CountSelected(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override { g_selected = stats.numTestCasesPassingFilters; }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("count_selected", 1, CountSelected);

bool names_a_case(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--test-case=", 12) == 0 || std::strncmp(argv[i], "-tc=", 4) == 0) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (context.shouldExit()) return result;  // --help, --list-test-cases, ...
  if (result == 0 && names_a_case(argc, argv) && g_selected == 0) {
    std::cerr << "heed_tests: --test-case selected no test case; a test name must not hold ';' (CMake splits "
                 "names there, so ctest passes doctest a part of the name)\n";
    return 1;
  }
  return result;
}
