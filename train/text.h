// Text in fixed-width columns, for terminals and logs.
//
// Widths count UTF-8 characters (code points), not bytes: "█" is three bytes and
// one column. (Every byte except the continuation bytes 10xxxxxx starts a
// character.) Wide characters such as CJK, two columns each, are not handled.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace heed::text {

size_t display_width(std::string_view s);
// The first n characters of s.
std::string first_chars(std::string_view s, size_t n);
// v with `decimals` digits after the point: fixed(3.14159, 2) is "3.14".
std::string fixed(double v, int decimals);
// A duration: "4.2s" under a minute, then "3:07", then "1:02:03".
std::string clock_time(double seconds);

}  // namespace heed::text
