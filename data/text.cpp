#include "heed/data/text.h"

#include <fstream>
#include <iterator>
#include <set>

#include "heed/core/error.h"

namespace heed::data {

std::vector<std::string_view> utf8_characters(std::string_view text) {
  std::vector<std::string_view> chars;
  size_t at = 0;
  while (at < text.size()) {
    // The lead byte says how long the character is: 0xxxxxxx is one byte,
    // 110xxxxx two, 1110xxxx three, 11110xxx four; every byte after it is 10xxxxxx.
    const auto lead = static_cast<unsigned char>(text[at]);
    const size_t width = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
    if (width == 0)
      throw ValueError(msg("utf8_characters: byte ", static_cast<int>(lead), " at offset ", at,
                           " cannot start a UTF-8 character"));
    if (at + width > text.size())
      throw ValueError(msg("utf8_characters: the character at offset ", at, " needs ", width, " bytes; the text ends after ",
                           text.size() - at));
    for (size_t k = 1; k < width; ++k)
      if ((static_cast<unsigned char>(text[at + k]) >> 6) != 0x2)
        throw ValueError(msg("utf8_characters: byte ", at + k, " should continue the character at offset ", at,
                             " (10xxxxxx) but does not"));
    chars.push_back(text.substr(at, width));
    at += width;
  }
  return chars;
}

Vocabulary Vocabulary::of_characters(std::string_view text) {
  std::set<std::string_view> distinct;
  for (std::string_view c : utf8_characters(text)) distinct.insert(c);
  Vocabulary v;
  for (std::string_view c : distinct) {
    v.ids_.emplace(std::string(c), v.size());
    v.tokens_.emplace_back(c);
  }
  return v;
}

std::vector<int64_t> Vocabulary::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  for (std::string_view c : utf8_characters(text)) {
    auto it = ids_.find(c);
    if (it == ids_.end())
      throw ValueError(msg("Vocabulary::encode: the character '", c, "' at offset ", c.data() - text.data(),
                           " is not in the vocabulary (", size(), " characters)"));
    ids.push_back(it->second);
  }
  return ids;
}

const std::string& Vocabulary::token(int64_t id) const {
  if (id < 0 || id >= size())
    throw IndexError(msg("Vocabulary: id ", id, " is out of range for ", size(), " characters"));
  return tokens_[static_cast<size_t>(id)];
}

std::string Vocabulary::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  for (int64_t id : ids) text += token(id);
  return text;
}

TextDataset::TextDataset(Tensor tokens, int64_t vocab_size, int64_t block_size, int64_t stride)
    : tokens_(std::move(tokens)), vocab_size_(vocab_size), block_size_(block_size),
      stride_(stride == 0 ? block_size : stride) {
  if (!tokens_.defined() || tokens_.dtype() != kInt64 || tokens_.dim() != 1)
    throw DTypeError("TextDataset: tokens must be a 1-d int64 tensor");
  if (block_size_ <= 0 || stride_ <= 0)
    throw ValueError(msg("TextDataset: block_size (", block_size_, ") and stride (", stride_, ") must be positive"));
  tokens_ = tokens_.contiguous();
  const int64_t n = tokens_.numel();
  const int64_t* id = tokens_.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    if (id[i] < 0 || id[i] >= vocab_size_)
      throw ValueError(msg("TextDataset: token ", i, " is ", id[i], "; ids must lie in [0, vocab_size = ", vocab_size_, ")"));
  if (n < block_size_ + 1)
    throw ValueError(msg("TextDataset: a text of ", n, " tokens is shorter than one window (block_size + 1 = ",
                         block_size_ + 1, ")"));
  size_ = (n - (block_size_ + 1)) / stride_ + 1;
}

TextDataset TextDataset::bytes(std::string_view text, int64_t block_size, int64_t stride) {
  std::vector<int64_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);  // char may be signed
  const auto n = static_cast<int64_t>(ids.size());
  return TextDataset(Tensor::from_vector(ids, {n}), 256, block_size, stride);
}

TextDataset TextDataset::characters(std::string_view text, int64_t block_size, int64_t stride) {
  Vocabulary vocab = Vocabulary::of_characters(text);
  std::vector<int64_t> ids = vocab.encode(text);
  const auto n = static_cast<int64_t>(ids.size());
  TextDataset ds(Tensor::from_vector(ids, {n}), vocab.size(), block_size, stride);
  ds.vocabulary_ = std::move(vocab);
  return ds;
}

TextDataset TextDataset::from_file(const std::filesystem::path& path, int64_t block_size, TextEncoding encoding,
                                   int64_t stride) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IOError(msg("TextDataset: cannot open ", path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IOError(msg("TextDataset: reading ", path, " failed"));
  return encoding == TextEncoding::Bytes ? bytes(text, block_size, stride) : characters(text, block_size, stride);
}

Example TextDataset::get(int64_t i) const {
  if (i < 0 || i >= size_) throw_bad_index("TextDataset", i, size_);
  const int64_t start = i * stride_;
  return {tokens_.slice(0, start, start + block_size_), tokens_.slice(0, start + 1, start + block_size_ + 1)};
}

std::pair<TextDataset, TextDataset> TextDataset::split(double fraction) const {
  const int64_t n = tokens_.numel();
  if (!(fraction > 0 && fraction < 1)) throw ValueError(msg("TextDataset::split: fraction is ", fraction, "; it must lie in (0, 1)"));
  const auto cut = static_cast<int64_t>(static_cast<double>(n) * fraction);
  if (cut < block_size_ + 1 || n - cut < block_size_ + 1)
    throw ValueError(msg("TextDataset::split: cutting ", n, " tokens at ", cut, " leaves a part shorter than one window (",
                         block_size_ + 1, " tokens)"));
  std::pair<TextDataset, TextDataset> parts{TextDataset(tokens_.slice(0, 0, cut), vocab_size_, block_size_, stride_),
                                            TextDataset(tokens_.slice(0, cut, n), vocab_size_, block_size_, stride_)};
  parts.first.vocabulary_ = parts.second.vocabulary_ = vocabulary_;
  return parts;
}

}  // namespace heed::data
