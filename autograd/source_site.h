// Where a call was written: a file, a line and a function, taken as a default
// argument at the call (record() keeps its caller's for anomaly mode).
//
// That is std::source_location's job, and heed uses it where it compiles. clang
// 14 cannot compile libstdc++'s version (it needs a builtin clang gained in
// version 15; the library then leaves __cpp_lib_source_location undefined), so
// there heed falls back on the older builtins both compilers have, which name
// the function without its signature ("log", not "heed::Tensor heed::log(const
// heed::Tensor&)").
#pragma once

#include <cstdint>
#if __has_include(<source_location>)
#include <source_location>
#endif

namespace heed {

#ifdef __cpp_lib_source_location
using SourceSite = std::source_location;
#else
class SourceSite {
 public:
  static constexpr SourceSite current(const char* file = __builtin_FILE(), uint_least32_t line = __builtin_LINE(),
                                      const char* function = __builtin_FUNCTION()) {
    return SourceSite(file, line, function);
  }
  constexpr SourceSite() = default;
  constexpr const char* file_name() const { return file_; }
  constexpr uint_least32_t line() const { return line_; }
  constexpr const char* function_name() const { return function_; }

 private:
  constexpr SourceSite(const char* file, uint_least32_t line, const char* function)
      : file_(file), line_(line), function_(function) {}
  const char* file_ = "";
  uint_least32_t line_ = 0;
  const char* function_ = "";
};
#endif

}  // namespace heed
