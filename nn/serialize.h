// Checkpoints in the safetensors format: an 8-byte little-endian header length,
// a JSON header {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...},
// then the raw little-endian tensor bytes. Files move between heed and
// PyTorch / Hugging Face tools in both directions.
//
//   save(model, "model.safetensors");                    // model.state_dict() to a file
//   load(model, "model.safetensors");                    // and back, key by key
//   StateDict s = load_safetensors("opt.safetensors");   // any named tensors
//   std::string b = save_safetensors_to_bytes(s);        // the same bytes, in memory
//
// heed reads and writes the dtypes it has, F32, F64 and I64, and the 16-bit
// floats F16 and BF16 that half-precision checkpoints use: those load into
// float32 tensors (exactly: every 16-bit float is a float32), and float32
// tensors can be saved as them (FloatFormat). A file holding any other dtype
// (I32, BOOL, ...) raises an IOError naming the key.
//
// Loading streams: each tensor's bytes are read straight into its storage (16-bit
// ones through a small buffer, converted on the way), so a file is read once and
// the memory a load needs is the tensors' own plus the header.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "heed/nn/state_dict.h"

namespace heed {

namespace nn {
class Module;
}

// How save_safetensors stores float32 tensors: as they are, or rounded to 16
// bits (half the bytes; round to nearest even, as PyTorch's .half() and
// .bfloat16(); F16 overflows to inf beyond 65504, BF16 keeps 8 significant bits).
// Float64 and int64 tensors are always stored as they are.
enum class FloatFormat { F32, F16, BF16 };

// Writes the tensors in the state dict's order, each as its contiguous
// row-major bytes (a strided view is written as the values it shows), after a
// header padded with spaces to a multiple of 8 bytes so the data is aligned.
//
// Writes atomically: to "<path>.tmp-XXXXXXXX", flushed and fsync'ed, then renamed
// over path, so a crash or an error mid-save leaves the previous file intact (the
// temporary file is removed on error). A process killed mid-save cannot remove
// its temporary file; the next save to the same path removes every one that no
// living writer holds (each writer keeps an flock on its own; an empty one only
// once it is 10 s old, as its writer may not have locked it yet). `metadata` goes under the header's "__metadata__" (string values
// only, as the format requires).
// Errors: ValueError for an undefined tensor or a tensor named "__metadata__";
// IOError (with the OS's reason) when the file cannot be written.
void save_safetensors(const StateDict& state, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {}, FloatFormat floats = FloatFormat::F32);

// Reads and validates a file; the tensors come back in the header's order, in
// time linear in the file's size (the header is read in one streamed pass). A
// truncated, corrupt or hostile file raises an IOError naming the key and the
// rule it breaks, and nothing is allocated from an unchecked size or read out of
// bounds. The rules:
//   - the file has at least 8 bytes; the header length is at most 100 MB and
//     fits in the file;
//   - the header is one JSON object with no duplicate keys; "__metadata__", if
//     present, maps strings to strings;
//   - every other entry is an object with "dtype" (F32, F64, I64, F16 or BF16), "shape"
//     (integers under the size rule of every heed tensor, core/shape.h: at most
//     64 dims, each >= 0, the nonzero ones' product at most 2^50) and
//     "data_offsets" ([begin, end] with begin <= end <= the data size);
//   - end - begin equals numel * element size;
//   - the tensors, sorted by offset, cover the data exactly: no overlap, no gap
//     and no trailing bytes. The format requires it (the reference
//     implementation rejects such files too), and it means every byte of a
//     file is accounted for.
StateDict load_safetensors(const std::string& path,
                           std::map<std::string, std::string>* metadata = nullptr);

// The same two in memory: a file's bytes as a string, to send, embed or keep,
// and back, under the same rules. `name` stands for the path in error messages.
std::string save_safetensors_to_bytes(const StateDict& state,
                                      const std::map<std::string, std::string>& metadata = {},
                                      FloatFormat floats = FloatFormat::F32);
StateDict load_safetensors_from_bytes(std::string_view bytes,
                                      std::map<std::string, std::string>* metadata = nullptr,
                                      const std::string& name = "<bytes>");

// A module's state_dict to / from a file. load() raises what load_safetensors
// and Module::load_state_dict raise (a missing or unexpected key when strict).
void save(const nn::Module& module, const std::string& path);
void load(nn::Module& module, const std::string& path, bool strict = true);

}  // namespace heed
