#include "heed/train/text.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <sstream>

namespace heed::text {

static bool starts_character(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }

size_t display_width(std::string_view s) { return static_cast<size_t>(std::count_if(s.begin(), s.end(), starts_character)); }

std::string first_chars(std::string_view s, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++i)
    if (starts_character(s[i]) && count++ == n) return std::string(s.substr(0, i));
  return std::string(s);
}

std::string fixed(double v, int decimals) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(decimals) << v;
  return out.str();
}

std::string clock_time(double seconds) {
  if (seconds < 59.95) return fixed(std::max(0.0, seconds), 1) + "s";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  std::ostringstream out;
  if (s >= 3600) out << s / 3600 << ':' << std::setw(2) << std::setfill('0') << (s / 60) % 60;
  else out << s / 60;
  out << ':' << std::setw(2) << std::setfill('0') << s % 60;
  return out.str();
}

}  // namespace heed::text
