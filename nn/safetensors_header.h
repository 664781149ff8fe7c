// The JSON header of a safetensors file, both ways: written from a list of
// entries, and read back into one with every rule checked. nn/serialize.cpp
// moves the bytes around it; this file is only the header's text.
//
//   {"__metadata__": {"epoch": "3"},
//    "fc.weight": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]}, ...}
//
// Both directions take time linear in the header's length: a checkpoint may
// hold a million small tensors, and a hostile file may claim to.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "heed/core/dtype.h"
#include "heed/core/shape.h"

namespace heed::safetensors {

inline constexpr const char* kMetadataKey = "__metadata__";

// How a tensor's numbers are stored in a file. Three are heed's own dtypes;
// F16 and BF16 are 16-bit floats (core/half.h), loaded into float32 tensors.
enum class Stored : uint8_t { F32, F64, I64, F16, BF16 };

const char* stored_code(Stored s);   // "F32", ..., "BF16": the header's "dtype"
uint64_t stored_size(Stored s);      // bytes per element
DType loaded_dtype(Stored s);        // the dtype of the tensor it loads into
Stored stored_as(DType t);           // a dtype stored as itself

// One tensor as the header describes it.
struct Entry {
  std::string key;
  Stored stored;
  Shape shape;
  uint64_t begin, end;  // its bytes, as offsets into the data after the header
};

struct Header {
  std::vector<Entry> entries;                   // in the header's order
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

// The header's text for `header`, padded with spaces so that 8 + its length is
// a multiple of 8 (the data then starts 8-byte aligned, as the format
// recommends). Throws a ValueError naming `op` for a key that is not valid
// UTF-8 or is "__metadata__".
std::string write_header(const Header& header, std::string_view op);

// Raises every load error: an IOError "load_safetensors: <source>: <why>", or
// "...: tensor '<key>': <why>", where source is the file's path (or what stands
// for it when the bytes come from memory).
struct LoadFailure {
  std::string source;
  [[noreturn]] void operator()(const std::string& why) const;
  [[noreturn]] void operator()(const std::string& key, const std::string& why) const;
};

// Reads `text`, the header of the file `path` whose data after the header has
// `data_size` bytes, and checks it against the rules load_safetensors lists
// (nn/serialize.h). A broken rule raises an IOError "load_safetensors: <path>:
// tensor '<key>': <the rule>". Memory stays proportional to the tensors the
// header describes: nothing is kept of a value the format does not use, and a
// shape of more than kMaxDims sizes is refused without storing them.
Header read_header(std::string_view text, uint64_t data_size, const std::string& path);

}  // namespace heed::safetensors
