// heed's exceptions, and msg(), the one helper that builds their messages.
//
// Every error a user can trigger is thrown (never abort, never assert), and its
// message names the op, the shapes involved and the rule that was broken:
//
//   matmul: a is [3, 4], b is [5, 6]; a's last dim (4) must equal b's second-to-last (5)
//
// The hierarchy lets a caller catch one family (catch (const heed::ShapeError&))
// or everything heed throws (catch (const heed::Error&)).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace heed {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ShapeError : Error {  // shapes that do not fit the op's rule
  using Error::Error;
};
struct IndexError : Error {  // a dim or an index out of range
  using Error::Error;
};
struct DTypeError : Error {  // a dtype the op does not accept
  using Error::Error;
};
struct ValueError : Error {  // a bad argument value (p outside [0, 1), step <= 0, ...)
  using Error::Error;
};
struct AutogradError : Error {  // misuse of the graph: freed buffers, in-place writes, ...
  using Error::Error;
};
struct IOError : Error {  // files: missing, truncated, corrupt
  using Error::Error;
};

// msg("a is ", shape, "; b is ", 3) streams every argument into one string.
// (g++ 12 has no std::format, and this keeps heed free of a formatting dependency.)
template <class... Args>
std::string msg(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

}  // namespace heed
