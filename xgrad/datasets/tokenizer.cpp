#include "xgrad/datasets/tokenizer.hpp"

#include "xgrad/autograd/printable.hpp"

#include <locale.h>
#include <wctype.h>
#include <algorithm>
#include <numeric>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "xgrad/datasets/file_io.hpp"

namespace xgrad::data {

namespace {

constexpr char32_t invalid_code_point = 0xFFFFFFFF;

struct Decoded {
  char32_t code_point;  // invalid_code_point for a malformed sequence
  std::size_t length;   // bytes consumed (1 for a malformed sequence)
};

// Decodes the UTF-8 sequence starting at s[i] (s[i] >= 0x80).
Decoded decode_utf8(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  std::size_t len;
  char32_t cp;
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2, cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3, cp = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4, cp = lead & 0x07;
  } else {
    return {invalid_code_point, 1};
  }
  if (i + len > s.size()) return {invalid_code_point, 1};
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return {invalid_code_point, 1};
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return {invalid_code_point, 1};
  }
  return {cp, len};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Unicode simple lower-case mapping for non-ASCII code points. glibc's
// built-in C.UTF-8 locale carries the Unicode tables; without it (other C
// libraries) Latin-1 letters are still mapped.
char32_t lower_non_ascii(char32_t cp) {
  static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  if (utf8) return static_cast<char32_t>(towlower_l(static_cast<wint_t>(cp), utf8));
  if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)) return cp + 0x20;
  return cp;
}

// Python's str.lower has one full (multi-code-point) lower-case mapping:
// U+0130 (capital I with dot above) -> "i" + U+0307.
constexpr char32_t capital_i_with_dot = 0x130;
constexpr char32_t combining_dot_above = 0x307;

bool ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

// ---- HTML and case ----

std::string strip_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t lt = text.find('<', i);
    if (lt == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, lt - i));
    // A tag starts with a letter, '/' or '!' ("<br />", "</i>", "<!-- -->"),
    // so "<3" or "a < b" stay text; it ends at the first '>' with no '<' before it.
    const bool tag_start =
        lt + 1 < text.size() && (ascii_letter(text[lt + 1]) || text[lt + 1] == '/' || text[lt + 1] == '!');
    const std::size_t gt = tag_start ? text.find_first_of("<>", lt + 1) : std::string_view::npos;
    if (gt == std::string_view::npos || text[gt] != '>') {
      out.push_back('<');
      i = lt + 1;
      continue;
    }
    const std::string_view tag = text.substr(lt + 1, gt - lt - 1);  // between < and >
    const bool is_br = tag.size() >= 2 && (tag[0] == 'b' || tag[0] == 'B') && (tag[1] == 'r' || tag[1] == 'R') &&
                       (tag.size() == 2 || !ascii_letter(tag[2]));
    if (is_br) out.push_back(' ');
    i = gt + 1;
  }
  return out;
}

std::string to_lower_utf8(std::string_view text) {
  // With no filters, the normalized text is just the lower-cased text.
  WordSplitter lowering(TextOptions{.filters = "", .lower = true, .split = " "});
  return lowering.normalized(text);
}

// ---- WordSplitter ----

WordSplitter::WordSplitter(TextOptions options) : options_(std::move(options)) {
  if (options_.split.empty()) throw std::invalid_argument("WordSplitter: the split string must not be empty");
  const std::string_view f(options_.filters);
  for (std::size_t i = 0; i < f.size();) {
    const auto c = static_cast<unsigned char>(f[i]);
    if (c < 0x80) {
      ascii_filter_[c] = true;
      ++i;
      continue;
    }
    const Decoded d = decode_utf8(f, i);
    if (d.code_point == invalid_code_point) {
      throw std::invalid_argument("WordSplitter: the filters string is not valid UTF-8");
    }
    other_filters_.push_back(d.code_point);
    i += d.length;
  }
  std::sort(other_filters_.begin(), other_filters_.end());
}

bool WordSplitter::is_filtered(char32_t cp) const {
  if (cp < 0x80) return ascii_filter_[cp];
  return std::binary_search(other_filters_.begin(), other_filters_.end(), cp);
}

const std::string& WordSplitter::normalized(std::string_view text) {
  buffer_.clear();
  buffer_.reserve(text.size() + 16);
  const bool lower = options_.lower;
  const auto emit = [&](char32_t cp) {
    if (is_filtered(cp)) {
      buffer_.append(options_.split);
    } else {
      append_utf8(buffer_, cp);
    }
  };
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {  // the common case, kept free of decoding
      if (lower && c >= 'A' && c <= 'Z') c += 32;
      if (ascii_filter_[c]) {
        buffer_.append(options_.split);
      } else {
        buffer_.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    const Decoded d = decode_utf8(text, i);
    if (d.code_point == invalid_code_point) {
      buffer_.push_back(text[i]);  // not text Python could have decoded; kept as is
    } else if (lower && d.code_point == capital_i_with_dot) {
      emit('i');
      emit(combining_dot_above);
    } else {
      emit(lower ? lower_non_ascii(d.code_point) : d.code_point);
    }
    i += d.length;
  }
  return buffer_;
}

std::vector<std::string> WordSplitter::split(std::string_view text) {
  std::vector<std::string> words;
  for_each_word(text, [&](std::string_view w) { words.emplace_back(w); });
  return words;
}

std::vector<std::string> text_to_word_sequence(std::string_view text, const TextOptions& options) {
  return WordSplitter(options).split(text);
}

// ---- Tokenizer ----

Tokenizer::Tokenizer(TokenizerConfig config) : config_(std::move(config)) {
  WordSplitter check(config_.text);  // rejects an empty split string up front
}

void Tokenizer::fit_on_texts(const std::vector<std::string>& texts) {
  WordSplitter splitter(config_.text);
  if (slot_of_.empty()) slot_of_.reserve(1 << 16);
  // last_document[slot]: the last document that counted this word, so each
  // document adds at most 1 to a word's document frequency (Keras word_docs).
  std::vector<std::uint32_t> last_document(words_.size(), 0);
  for (const std::string& text : texts) {
    ++document_count_;
    const auto document = static_cast<std::uint32_t>(document_count_);
    splitter.for_each_word(text, [&](std::string_view word) {
      auto it = slot_of_.find(word);
      std::uint32_t slot;
      if (it == slot_of_.end()) {
        slot = static_cast<std::uint32_t>(words_.size());
        words_.emplace_back(word);
        counts_.push_back(0);
        document_counts_.push_back(0);
        last_document.push_back(0);
        slot_of_.emplace(words_.back(), slot);
      } else {
        slot = it->second;
      }
      ++counts_[slot];
      if (last_document[slot] != document) {
        last_document[slot] = document;
        ++document_counts_[slot];
      }
    });
  }
  rebuild_index();
}

void Tokenizer::rebuild_index() {
  std::vector<std::uint32_t> order(words_.size());
  std::iota(order.begin(), order.end(), 0u);
  // Keras: wcounts.sort(key=count, reverse=True), a stable sort, over the
  // counts in first-appearance order.
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return counts_[a] > counts_[b]; });
  const std::int64_t first = config_.oov_token ? 2 : 1;
  index_of_slot_.assign(words_.size(), 0);
  slot_by_index_.assign(words_.size() + static_cast<std::size_t>(first), -1);
  for (std::size_t rank = 0; rank < order.size(); ++rank) {
    const auto index = first + static_cast<std::int64_t>(rank);
    index_of_slot_[order[rank]] = index;
    slot_by_index_[static_cast<std::size_t>(index)] = static_cast<std::int64_t>(order[rank]);
  }
  oov_index_.reset();
  if (config_.oov_token) {
    // Keras builds word_index with dict(zip([oov] + words, 1..)): an OOV
    // token that is also a counted word keeps that word's later index, and
    // then no word has index 1.
    const auto it = slot_of_.find(*config_.oov_token);
    oov_index_ = it == slot_of_.end() ? 1 : index_of_slot_[it->second];
  }
}

std::size_t Tokenizer::word_index_size() const {
  const bool oov_extra = config_.oov_token && !slot_of_.contains(*config_.oov_token);
  return words_.size() + (oov_extra ? 1 : 0);
}

std::optional<std::int64_t> Tokenizer::index_of(std::string_view word) const {
  if (const auto it = slot_of_.find(word); it != slot_of_.end()) return index_of_slot_[it->second];
  if (config_.oov_token && word == *config_.oov_token) return oov_index_;
  return std::nullopt;
}

std::optional<std::string> Tokenizer::word_at(std::int64_t index) const {
  if (index > 0 && static_cast<std::size_t>(index) < slot_by_index_.size() &&
      slot_by_index_[static_cast<std::size_t>(index)] >= 0) {
    return words_[static_cast<std::size_t>(slot_by_index_[static_cast<std::size_t>(index)])];
  }
  if (config_.oov_token && oov_index_ == index) return *config_.oov_token;
  return std::nullopt;
}

std::vector<std::pair<std::string, std::size_t>> Tokenizer::word_counts() const {
  std::vector<std::pair<std::string, std::size_t>> out;
  out.reserve(words_.size());
  for (std::size_t s = 0; s < words_.size(); ++s) out.emplace_back(words_[s], counts_[s]);
  return out;
}

std::size_t Tokenizer::document_frequency(std::string_view word) const {
  const auto it = slot_of_.find(word);
  return it == slot_of_.end() ? 0 : document_counts_[it->second];
}

std::optional<std::int64_t> Tokenizer::sequence_id(std::optional<std::int64_t> index) const {
  if (!index) return oov_index_;  // unknown word: OOV id, or dropped without an oov_token
  const std::size_t limit = config_.num_words.value_or(0);
  if (limit != 0 && static_cast<std::size_t>(*index) >= limit) return oov_index_;
  return index;
}

std::vector<std::int64_t> Tokenizer::text_to_sequence(std::string_view text) const {
  WordSplitter splitter(config_.text);
  std::vector<std::int64_t> ids;
  splitter.for_each_word(text, [&](std::string_view word) {
    if (const auto id = sequence_id(index_of(word))) ids.push_back(*id);
  });
  return ids;
}

std::vector<std::vector<std::int64_t>> Tokenizer::texts_to_sequences(const std::vector<std::string>& texts) const {
  WordSplitter splitter(config_.text);
  std::vector<std::vector<std::int64_t>> sequences(texts.size());
  for (std::size_t t = 0; t < texts.size(); ++t) {
    std::vector<std::int64_t>& ids = sequences[t];
    splitter.for_each_word(texts[t], [&](std::string_view word) {
      if (const auto id = sequence_id(index_of(word))) ids.push_back(*id);
    });
  }
  return sequences;
}

std::vector<std::string> Tokenizer::sequences_to_texts(const std::vector<std::vector<std::int64_t>>& sequences) const {
  std::vector<std::string> texts;
  texts.reserve(sequences.size());
  const std::size_t limit = config_.num_words.value_or(0);
  for (const auto& seq : sequences) {
    std::string text;
    for (const std::int64_t id : seq) {
      std::optional<std::string> word = word_at(id);
      if (!word || (limit != 0 && id >= 0 && static_cast<std::size_t>(id) >= limit)) {
        word = oov_index_ ? word_at(*oov_index_) : std::nullopt;
      }
      if (!word) continue;
      if (!text.empty()) text.push_back(' ');
      text += *word;
    }
    texts.push_back(std::move(text));
  }
  return texts;
}

// ---- JSON (Keras tokenizer.to_json format) ----

namespace {

using ordered_json = nlohmann::ordered_json;

std::string dump_ascii(const ordered_json& j) {
  // Keras writes json.dumps(..., ensure_ascii=True); invalid UTF-8 becomes U+FFFD.
  return j.dump(-1, ' ', true, ordered_json::error_handler_t::replace);
}

// A JSON object written key by key, in order, with the same text as
// dump_ascii of an ordered_json. Building the ordered_json instead costs a
// linear key search per insertion: quadratic, over 25 s for IMDB's 112k words.
class ObjectWriter {
 public:
  template <class V>
  void add(const std::string& key, const V& value) {
    text_ += text_.size() == 1 ? "" : ",";
    text_ += dump_ascii(ordered_json(key)) + ":" + dump_ascii(ordered_json(value));
  }
  std::string finish() { return text_ + "}"; }

 private:
  std::string text_ = "{";
};

// The (key, value) pairs of a flat JSON object in file order, without the
// linear key search of an ordered_json (see ObjectWriter). Throws
// nlohmann::json::exception on malformed text or a non-flat object.
class FlatObjectReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::vector<std::pair<std::string, nlohmann::json>> pairs;
  bool null() override { return value(nullptr); }
  bool boolean(bool v) override { return value(v); }
  bool number_integer(number_integer_t v) override { return value(v); }
  bool number_unsigned(number_unsigned_t v) override { return value(v); }
  bool number_float(number_float_t v, const string_t&) override { return value(v); }
  bool string(string_t& v) override { return value(v); }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override { return depth_++ == 0; }
  bool key(string_t& k) override {
    key_ = k;
    return true;
  }
  bool end_object() override { return --depth_ == 0; }
  bool start_array(std::size_t) override { return false; }
  bool end_array() override { return false; }
  bool parse_error(std::size_t position, const std::string& token, const nlohmann::detail::exception& e) override {
    throw nlohmann::json::parse_error::create(101, position, e.what() + std::string(" near '") + token + "'", nullptr);
  }

 private:
  bool value(nlohmann::json v) {
    if (depth_ != 1) return false;  // only a flat object of scalars
    pairs.emplace_back(key_, std::move(v));
    return true;
  }
  int depth_ = 0;
  std::string key_;
};

}  // namespace

std::string Tokenizer::to_json() const {
  ObjectWriter counts, docs, index_docs, index_word, word_index;
  for (std::size_t s = 0; s < words_.size(); ++s) {
    counts.add(words_[s], counts_[s]);
    docs.add(words_[s], document_counts_[s]);
    index_docs.add(std::to_string(index_of_slot_[s]), document_counts_[s]);
  }
  // word_index and index_word in index order, as Keras's dict(zip(...)) has them.
  if (config_.oov_token && !slot_of_.contains(*config_.oov_token)) {
    word_index.add(*config_.oov_token, 1);
    index_word.add("1", *config_.oov_token);
  }
  for (std::size_t index = 1; index < slot_by_index_.size(); ++index) {
    if (slot_by_index_[index] < 0) continue;
    const std::string& word = words_[static_cast<std::size_t>(slot_by_index_[index])];
    word_index.add(word, index);
    index_word.add(std::to_string(index), word);
  }
  ordered_json config = ordered_json::object();
  config["num_words"] = config_.num_words ? ordered_json(*config_.num_words) : ordered_json(nullptr);
  config["filters"] = config_.text.filters;
  config["lower"] = config_.text.lower;
  config["split"] = config_.text.split;
  config["char_level"] = false;
  config["oov_token"] = config_.oov_token ? ordered_json(*config_.oov_token) : ordered_json(nullptr);
  config["document_count"] = document_count_;
  config["word_counts"] = counts.finish();
  config["word_docs"] = docs.finish();
  config["index_docs"] = index_docs.finish();
  config["index_word"] = index_word.finish();
  config["word_index"] = word_index.finish();
  ordered_json root = ordered_json::object();
  root["class_name"] = "Tokenizer";
  root["config"] = std::move(config);
  return dump_ascii(root);
}

void Tokenizer::save(const std::filesystem::path& path) const { write_file_bytes(path, to_json(), "tokenizer file"); }

Tokenizer Tokenizer::from_json(std::string_view json, const std::string& source) {
  const auto fail = [&](const std::string& what) -> std::runtime_error {
    return std::runtime_error(source + ": not a valid tokenizer file: " + what);
  };
  try {
    const ordered_json root = ordered_json::parse(json);
    if (!root.is_object()) throw fail("the top level is not a JSON object");
    if (root.contains("class_name") && root["class_name"] != "Tokenizer") {
      throw fail("class_name is " + root["class_name"].dump() + ", expected \"Tokenizer\"");
    }
    if (!root.contains("config") || !root["config"].is_object()) throw fail("no \"config\" object");
    const ordered_json& c = root["config"];
    const auto field = [&](const char* key, auto check, const char* expected) -> const ordered_json& {
      if (!c.contains(key)) throw fail(std::string("config has no \"") + key + "\"");
      const ordered_json& v = c[key];
      if (!check(v)) throw fail(std::string("config \"") + key + "\" must be " + expected + ", got " + v.dump());
      return v;
    };
    const auto is_string = [](const ordered_json& v) { return v.is_string(); };
    const auto is_count = [](const ordered_json& v) { return v.is_number_unsigned(); };
    const auto is_count_or_null = [](const ordered_json& v) { return v.is_null() || v.is_number_unsigned(); };
    const auto is_string_or_null = [](const ordered_json& v) { return v.is_null() || v.is_string(); };

    if (c.contains("char_level") && c["char_level"] == true) throw fail("char_level tokenizers are not supported");
    TokenizerConfig config;
    if (const auto& n = field("num_words", is_count_or_null, "a count or null"); !n.is_null()) {
      config.num_words = n.get<std::size_t>();
    }
    config.text.filters = field("filters", is_string, "a string").get<std::string>();
    config.text.lower = field(
                            "lower", [](const ordered_json& v) { return v.is_boolean(); }, "true or false")
                            .get<bool>();
    config.text.split = field("split", is_string, "a string").get<std::string>();
    if (config.text.split.empty()) throw fail("config \"split\" is empty");
    if (const auto& o = field("oov_token", is_string_or_null, "a string or null"); !o.is_null()) {
      config.oov_token = o.get<std::string>();
    }
    Tokenizer tok(std::move(config));
    tok.document_count_ = field("document_count", is_count, "a count").get<std::size_t>();

    // Nested JSON objects, stored as strings as Keras does.
    const auto nested = [&](const char* key) {
      const std::string text = field(key, is_string, "a JSON string").get<std::string>();
      FlatObjectReader reader;
      if (!nlohmann::json::sax_parse(text, &reader)) {
        throw fail(std::string("\"") + key + "\" is not a flat JSON object of counts or ids");
      }
      return std::move(reader.pairs);
    };
    const auto counts = nested("word_counts");
    for (const auto& [word, count] : counts) {
      if (!count.is_number_unsigned()) throw fail("the count of \"" + printable(word) + "\" is not a count");
      tok.slot_of_.emplace(word, static_cast<std::uint32_t>(tok.words_.size()));
      tok.words_.push_back(word);
      tok.counts_.push_back(count.get<std::size_t>());
      tok.document_counts_.push_back(0);
    }
    if (c.contains("word_docs")) {
      const auto word_docs = nested("word_docs");
      for (const auto& [word, docs] : word_docs) {
        const auto it = tok.slot_of_.find(word);
        if (it == tok.slot_of_.end() || !docs.is_number_unsigned()) {
          throw fail("word_docs entry \"" + printable(word) + "\" has no word count or is not a count");
        }
        tok.document_counts_[it->second] = docs.get<std::size_t>();
      }
    }
    tok.rebuild_index();
    if (c.contains("word_index")) {
      const auto index = nested("word_index");
      if (index.size() != tok.word_index_size()) {
        throw fail("word_index has " + std::to_string(index.size()) + " entries but word_counts implies " +
                   std::to_string(tok.word_index_size()));
      }
      for (const auto& [word, id] : index) {
        // Compared as 64-bit: 2^32 + 5 must not pass for 5.
        if (!id.is_number_integer() || tok.index_of(word) != id.get<std::int64_t>()) {
          throw fail("word_index[\"" + printable(word) + "\"] = " + id.dump() +
                     " disagrees with the order of word_counts");
        }
      }
    }
    return tok;
  } catch (const nlohmann::json::exception& e) {
    throw fail(e.what());
  }
}

Tokenizer Tokenizer::load(const std::filesystem::path& path) {
  return from_json(read_file_bytes(path, "tokenizer file"), path.string());
}

}  // namespace xgrad::data
