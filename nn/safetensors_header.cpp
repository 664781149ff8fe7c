// The safetensors header, written and read in one pass each.
//
// Why not parse the header into a JSON document and walk it: nlohmann's
// order-keeping object searches its keys one by one on every insert, and its
// parser callback (the only way to see duplicate keys, which the DOM drops
// silently) rescans a parent object whenever a child closes. Both are linear per
// key, so quadratic per header: 80,000 tensors took over a minute. Here the
// parser streams events (nlohmann's SAX interface) into a small state machine
// that keeps one entry's fields at a time, checks that entry when it closes, and
// forgets what it does not need.
#include "heed/nn/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "heed/core/error.h"

namespace heed::safetensors {

const char* stored_code(Stored s) {
  switch (s) {
    case Stored::F32: return "F32";
    case Stored::F64: return "F64";
    case Stored::I64: return "I64";
    case Stored::F16: return "F16";
    case Stored::BF16: return "BF16";
  }
  return "?";
}

uint64_t stored_size(Stored s) {
  switch (s) {
    case Stored::F64:
    case Stored::I64: return 8;
    case Stored::F32: return 4;
    case Stored::F16:
    case Stored::BF16: return 2;
  }
  return 0;
}

DType loaded_dtype(Stored s) {
  switch (s) {
    case Stored::F64: return kFloat64;
    case Stored::I64: return kInt64;
    case Stored::F32:
    case Stored::F16:
    case Stored::BF16: return kFloat32;
  }
  return kFloat32;
}

Stored stored_as(DType t) {
  switch (t) {
    case DType::Float32: return Stored::F32;
    case DType::Float64: return Stored::F64;
    case DType::Int64: return Stored::I64;
  }
  return Stored::F32;
}

// ============================================================================
// write
// ============================================================================

std::string write_header(const Header& header, std::string_view op) {
  // A key as a JSON string: nlohmann escapes it, and refuses text that is not UTF-8.
  auto quoted = [&](const std::string& s) {
    try {
      return nlohmann::json(s).dump();
    } catch (const nlohmann::json::exception& e) {
      throw ValueError(msg(op, ": cannot write the header: ", e.what()));
    }
  };
  std::string text = "{";
  auto comma = [&] {
    if (text.size() > 1) text += ',';
  };
  if (!header.metadata.empty()) {
    text += quoted(kMetadataKey) + ":{";
    bool first = true;
    for (const auto& [k, v] : header.metadata) {
      if (!first) text += ',';
      first = false;
      text += quoted(k) + ":" + quoted(v);
    }
    text += '}';
  }
  for (const Entry& e : header.entries) {
    if (e.key == kMetadataKey)
      throw ValueError(msg(op, ": a tensor may not be named '", kMetadataKey,
                           "' (the format reserves it for metadata)"));
    comma();
    text += quoted(e.key) + R"(:{"dtype":")" + stored_code(e.stored) + R"(","shape":[)";
    for (size_t d = 0; d < e.shape.size(); ++d) {
      if (d > 0) text += ',';
      text += std::to_string(e.shape[d]);
    }
    text += R"(],"data_offsets":[)" + std::to_string(e.begin) + "," + std::to_string(e.end) + "]}";
  }
  text += '}';
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// ============================================================================
// read
// ============================================================================

void LoadFailure::operator()(const std::string& why) const {
  throw IOError(msg("load_safetensors: ", source, ": ", why));
}
void LoadFailure::operator()(const std::string& key, const std::string& why) const {
  (*this)(msg("tensor '", key, "': ", why));
}

namespace {

// A JSON value as the pass saw it: its type and, for the checks that follow,
// a string's text or an array's scalar items (at most kMaxDims + 1 of them
// stored, all of them counted).
struct Seen {
  struct Item {
    enum Kind { Unsigned, Negative, Fraction, Other } kind;
    uint64_t value;
    std::string text;  // as JSON, for error messages
  };
  std::string type;  // nlohmann's names: object, array, string, number, boolean, null; "" if absent
  std::string text;
  std::vector<Item> items;
  uint64_t count = 0;

  // The value as JSON, for an error message; a long array is cut short.
  std::string dump() const {
    if (type == "string") return nlohmann::json(text).dump();
    if (type != "array") return type;
    std::string s = "[";
    for (size_t i = 0; i < items.size(); ++i) s += (i ? "," : "") + items[i].text;
    if (count > items.size()) s += ",...";
    return s + "]";
  }
};

constexpr uint64_t kMaxItems = kMaxDims + 1;  // enough to see that a shape has too many

// The checks, applied to one entry once its value has closed.
class Checker {
 public:
  Checker(const std::string& path, uint64_t data_size) : fail{path}, data_size_(data_size) {}

  const LoadFailure fail;  // public: the parse's own errors (Pass) are raised through it too

  void metadata(const Seen& value, const std::vector<std::pair<std::string, Seen>>& fields,
                std::map<std::string, std::string>& out) const {
    if (value.type != "object") fail(msg("'", kMetadataKey, "' must be an object, not a ", value.type));
    for (const auto& [k, v] : fields) {
      if (v.type != "string")
        fail(msg("'", kMetadataKey, "' value of '", k, "' must be a string, not a ", v.type));
      out[k] = v.text;
    }
  }

  Entry entry(const std::string& key, const Seen& value, const Seen& dtype, const Seen& shape,
              const Seen& offsets) const {
    if (value.type != "object") fail(key, msg("the entry must be an object, not a ", value.type));
    for (const auto& [field, name] : {std::pair{&dtype, "dtype"}, {&shape, "shape"}, {&offsets, "data_offsets"}})
      if (field->type.empty()) fail(key, msg("the entry has no \"", name, "\""));
    Entry e;
    e.key = key;
    e.stored = parse_dtype(key, dtype);
    e.shape = parse_shape(key, shape);
    const bool pair = offsets.type == "array" && offsets.count == 2 &&
                      offsets.items[0].kind == Seen::Item::Unsigned && offsets.items[1].kind == Seen::Item::Unsigned;
    if (!pair) fail(key, msg("\"data_offsets\" must be [begin, end], two integers >= 0, not ", offsets.dump()));
    e.begin = offsets.items[0].value;
    e.end = offsets.items[1].value;
    if (e.begin > e.end) fail(key, msg("data_offsets [", e.begin, ", ", e.end, "] has begin > end"));
    if (e.end > data_size_)
      fail(key, msg("data_offsets [", e.begin, ", ", e.end, "] ends beyond the data, which has ", data_size_,
                    " bytes"));
    // The size rule bounds numel by 2^50, so the byte count cannot overflow.
    const uint64_t expected = static_cast<uint64_t>(numel(e.shape)) * stored_size(e.stored);
    if (e.end - e.begin != expected)
      fail(key, msg("data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin, " bytes, but shape ",
                    e.shape, " of ", stored_code(e.stored), " needs ", expected));
    return e;
  }

  // Sorted by offset, the tensors must tile [0, data_size) exactly.
  void layout(std::vector<Entry> entries) const {
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
    uint64_t covered = 0;
    const Entry* prev = nullptr;
    for (const Entry& e : entries) {
      if (e.begin < covered)
        fail(e.key, msg("data_offsets [", e.begin, ", ", e.end, "] overlap tensor '", prev->key,
                        "', which ends at ", covered));
      if (e.begin > covered)
        fail(e.key, msg("data_offsets [", e.begin, ", ", e.end, "] leave a gap of ", e.begin - covered,
                        " bytes after offset ", covered, "; the tensors must cover the data exactly"));
      covered = e.end;
      prev = &e;
    }
    if (covered != data_size_)
      fail(msg("the data has ", data_size_, " bytes but the tensors cover only ", covered,
               "; the tensors must cover the data exactly"));
  }

 private:
  Stored parse_dtype(const std::string& key, const Seen& field) const {
    if (field.type != "string") fail(key, msg("\"dtype\" must be a string, not a ", field.type));
    const std::string& name = field.text;
    for (Stored s : {Stored::F32, Stored::F64, Stored::I64, Stored::F16, Stored::BF16})
      if (name == stored_code(s)) return s;
    static const std::unordered_set<std::string> known = {"BOOL", "U8",  "I8",  "U16", "I16",
                                                          "U32",  "I32", "U64", "F8_E4M3", "F8_E5M2"};
    if (known.count(name))
      fail(key, msg("dtype ", name, " is not supported by heed (F32, F64, I64, F16 and BF16 are)"));
    fail(key, msg("unknown dtype \"", name, "\" (heed reads F32, F64, I64, F16 and BF16)"));
  }

  // The shape, under the one size rule every heed tensor obeys (core/shape.h).
  Shape parse_shape(const std::string& key, const Seen& field) const {
    if (field.type != "array") fail(key, msg("\"shape\" must be an array, not a ", field.type));
    if (field.count > static_cast<uint64_t>(kMaxDims))
      fail(key, msg("shape ", field.dump(), " has ", field.count, " dims; a heed tensor has at most ", kMaxDims));
    Shape shape;
    for (const Seen::Item& d : field.items) {
      if (d.kind == Seen::Item::Negative) fail(key, msg("shape ", field.dump(), " has a negative size"));
      if (d.kind != Seen::Item::Unsigned) fail(key, msg("shape ", field.dump(), " must hold integers"));
      // A size past the element limit breaks the rule on its own; clamping it
      // keeps the int64 cast from wrapping before the rule sees it.
      shape.push_back(static_cast<int64_t>(std::min<uint64_t>(d.value, kMaxElements + 1)));
    }
    if (const char* why = size_rule_violation(shape)) fail(key, msg("shape ", field.dump(), " ", why));
    return shape;
  }

  uint64_t data_size_;
};

// The state machine fed by nlohmann's SAX parser. Depth is the number of open
// containers: the header object is opened at depth 0, each entry at 1, a field's
// array at 2; the format has nothing deeper, and a hostile header of a million
// '[' is refused at the third.
class Pass {
 public:
  Pass(const Checker& check, Header& out) : check_(check), out_(out) {}

  bool null() { return scalar("null", "null", Seen::Item::Other); }
  bool boolean(bool b) { return scalar("boolean", b ? "true" : "false", Seen::Item::Other); }
  bool number_integer(int64_t v) {  // nlohmann reports only negative integers here
    return scalar("number", std::to_string(v), v < 0 ? Seen::Item::Negative : Seen::Item::Unsigned,
                  static_cast<uint64_t>(v));
  }
  bool number_unsigned(uint64_t v) { return scalar("number", std::to_string(v), Seen::Item::Unsigned, v); }
  bool number_float(double, const std::string& text) { return scalar("number", text, Seen::Item::Fraction); }
  bool string(std::string& s) { return scalar("string", s, Seen::Item::Other); }
  bool binary(nlohmann::json::binary_t&) { return scalar("binary", "", Seen::Item::Other); }
  bool start_object(size_t) { return open('{', "object"); }
  bool start_array(size_t) { return open('[', "array"); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(std::string& k) {
    if (open_.size() == 1) {  // a top-level key: a tensor's name, or "__metadata__"
      if (!keys_.insert(k).second) check_.fail(msg("the key '", k, "' appears twice in the header"));
      key_ = k;
    } else if (open_.size() == 2 && open_[1] == '{') {  // a field of an entry
      if (!fields_.insert(k).second)
        check_.fail(msg("a field '", k, "' appears twice in one entry of the header"));
      field_ = k;
    }
    return true;
  }

  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception& e) {
    check_.fail(msg("the header is not valid JSON: ", e.what()));
  }

  // After the parse: the checks that need every entry.
  void finish() { check_.layout(out_.entries); }

 private:
  // A value begins. Where it sits decides what is kept of it.
  void begin_value(const char* type, const std::string& text) {
    const size_t depth = open_.size();
    if (depth == 0 && std::string_view(type) != "object")
      check_.fail(msg("the header must be a JSON object, not a ", type));
    if (depth == 1) {  // an entry (or the metadata) begins: forget the previous one's fields
      entry_ = Seen{type, text, {}, 0};
      dtype_ = shape_ = offsets_ = Seen{};
      meta_fields_.clear();
      fields_.clear();
    }
    if (depth == 2 && open_[1] == '{') {  // a field's value
      if (key_ == kMetadataKey) meta_fields_.emplace_back(field_, Seen{type, text, {}, 0});
      else if (Seen* f = tracked(field_)) *f = Seen{type, text, {}, 0};
    }
  }

  Seen* tracked(const std::string& field) {
    if (field == "dtype") return &dtype_;
    if (field == "shape") return &shape_;
    if (field == "data_offsets") return &offsets_;
    return nullptr;
  }

  bool scalar(const char* type, const std::string& text, Seen::Item::Kind kind, uint64_t value = 0) {
    begin_value(type, text);
    if (open_.size() == 3 && open_[2] == '[' && open_[1] == '{' && key_ != kMetadataKey) {
      if (Seen* f = tracked(field_)) {  // an item of a field's array
        if (f->items.size() < kMaxItems)
          f->items.push_back({kind, value, std::string_view(type) == "string" ? nlohmann::json(text).dump() : text});
        ++f->count;
      }
    }
    if (open_.size() == 1) entry_done();
    return true;
  }

  bool open(char bracket, const char* type) {
    if (open_.size() >= 3) check_.fail("the header nests deeper than the format allows (objects of arrays of numbers)");
    begin_value(type, "");
    open_.push_back(bracket);
    return true;
  }

  bool close() {
    open_.pop_back();
    if (open_.size() == 1) entry_done();
    return true;
  }

  // A top-level value has closed: check it, keep what it says.
  void entry_done() {
    if (key_ == kMetadataKey) check_.metadata(entry_, meta_fields_, out_.metadata);
    else out_.entries.push_back(check_.entry(key_, entry_, dtype_, shape_, offsets_));
  }

  const Checker& check_;
  Header& out_;
  std::vector<char> open_;                 // '{' or '[' per open container, outermost first
  std::unordered_set<std::string> keys_;   // every top-level key so far
  std::unordered_set<std::string> fields_; // the current entry's field names
  std::string key_, field_;                // the current top-level key and field
  Seen entry_, dtype_, shape_, offsets_;   // the current entry and its fields
  std::vector<std::pair<std::string, Seen>> meta_fields_;
};

}  // namespace

Header read_header(std::string_view text, uint64_t data_size, const std::string& path) {
  Checker check(path, data_size);
  Header header;
  Pass pass(check, header);
  nlohmann::json::sax_parse(text.begin(), text.end(), &pass);
  pass.finish();
  return header;
}

}  // namespace heed::safetensors
