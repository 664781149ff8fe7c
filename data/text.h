// Text for language models: a text as a sequence of token ids, and the windows
// a model learns from.
//
//   auto ds = data::TextDataset::from_file("notes.txt", /*block_size=*/128);
//   data::Example e = ds.get(0);   // {x, y}: int64 [128] each, y = x shifted by one
//
// Example i is the window of T + 1 tokens starting at i * stride: its first T
// are the input x, its last T the targets y (y[t] is the token after x[t]), so
// one window trains all T next-token predictions at once. With stride = T
// (the default) the windows tile the text without overlap.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "heed/core/tensor.h"
#include "heed/data/dataset.h"

namespace heed::data {

// A text's UTF-8 characters, each a view of 1 to 4 bytes. Malformed UTF-8 (a
// stray continuation byte, a cut-off character) is a ValueError naming the offset.
std::vector<std::string_view> utf8_characters(std::string_view text);

// A character vocabulary: the distinct characters of a text, sorted (by code
// point, which is byte order for UTF-8), with ids 0..size()-1.
class Vocabulary {
 public:
  static Vocabulary of_characters(std::string_view text);
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  // A character the vocabulary lacks is a ValueError naming it and its offset.
  std::vector<int64_t> encode(std::string_view text) const;
  std::string decode(const std::vector<int64_t>& ids) const;
  const std::string& token(int64_t id) const;

 private:
  std::vector<std::string> tokens_;      // id -> character
  std::map<std::string, int64_t, std::less<>> ids_;  // character -> id
};

enum class TextEncoding {
  Bytes,       // one token per byte, vocabulary 256: any file, any language
  Characters,  // one token per UTF-8 character, vocabulary = the text's own characters
};

class TextDataset {
 public:
  // stride 0 means stride = block_size.
  TextDataset(Tensor tokens, int64_t vocab_size, int64_t block_size, int64_t stride = 0);
  static TextDataset bytes(std::string_view text, int64_t block_size, int64_t stride = 0);
  static TextDataset characters(std::string_view text, int64_t block_size, int64_t stride = 0);
  static TextDataset from_file(const std::filesystem::path& path, int64_t block_size,
                               TextEncoding encoding = TextEncoding::Bytes, int64_t stride = 0);

  int64_t size() const { return size_; }
  Example get(int64_t i) const;  // {x, y}: int64 [T] each

  int64_t block_size() const { return block_size_; }
  int64_t stride() const { return stride_; }
  int64_t vocab_size() const { return vocab_size_; }
  const Tensor& tokens() const { return tokens_; }  // int64 [N]
  // The character vocabulary (Characters only; Bytes needs none).
  const std::optional<Vocabulary>& vocabulary() const { return vocabulary_; }

  // The first `fraction` of the tokens and the rest, as two datasets with this
  // one's settings: training and validation text, no window crossing the cut.
  std::pair<TextDataset, TextDataset> split(double fraction) const;

 private:
  Tensor tokens_;
  int64_t vocab_size_, block_size_, stride_, size_;
  std::optional<Vocabulary> vocabulary_;
};

}  // namespace heed::data
