#pragma once
// Text to integer sequences with the semantics of Keras's preprocessing
// (keras.preprocessing.text.Tokenizer and text_to_word_sequence), so that a
// lab written with Keras or with a Keras tokenizer gives the same ids here.
//
// Rules reproduced (each is covered by a golden test):
//  - lower-casing (Unicode letters too, like Python's str.lower), then every
//    character of `filters` is replaced by the split string, then the text is
//    split on that string and empty tokens are dropped. Only the split string
//    separates words (with the default filters, tab and newline are filtered
//    to it; other characters such as '\r' or U+0085 stay inside words).
//  - word index: 1 for the most frequent word, 2 for the next, ...; equal
//    counts keep the order in which words first appeared (Keras stable-sorts
//    its OrderedDict of counts). Index 0 is never assigned (padding).
//  - oov_token: takes index 1, every word shifts up by one.
//  - num_words: texts_to_sequences keeps only ids < num_words; other known
//    words become the OOV id when there is an oov_token and are dropped
//    otherwise. Unknown words likewise. The word index itself keeps every word.
//
// Differences from Python: strip_html is our addition (Keras has none); the
// final-sigma rule of str.lower (word-final capital sigma -> U+03C2) is not
// applied; char_level tokenizers are not supported.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "xgrad/datasets/padding.hpp"  // pad_sequences, the usual next step

namespace xgrad::data {

// Keras's default `filters`: !"#$%&()*+,-./:;<=>?@[\]^_`{|}~ plus tab and newline.
inline constexpr std::string_view keras_default_filters = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n";

// The parameters of text_to_word_sequence.
struct TextOptions {
  std::string filters = std::string(keras_default_filters);  // UTF-8; each code point is filtered
  bool lower = true;
  std::string split = " ";  // must not be empty
};

// Replaces HTML line breaks (<br>, <br/>, <br />, any case) with a space and
// removes every other tag "<...>" (a '<' that is never closed, or closed only
// after another '<', is kept as text). Apply before tokenizing IMDB reviews,
// or "br" becomes a frequent word. Entities such as &#8230; are left as they are.
std::string strip_html(std::string_view text);

// Python's str.lower for UTF-8 text (invalid bytes are copied unchanged).
std::string to_lower_utf8(std::string_view text);

// Splits text into words by Keras's text_to_word_sequence rules (see top).
// Reuse one splitter for many texts: it keeps its scratch buffer.
class WordSplitter {
 public:
  // Throws std::invalid_argument for an empty split string.
  explicit WordSplitter(TextOptions options = {});

  const TextOptions& options() const { return options_; }

  // Calls visit(std::string_view word) for each word of text, in order. A
  // view is valid only during its call.
  template <class Visit>
  void for_each_word(std::string_view text, Visit&& visit) {
    const std::string_view all(normalized(text));
    const std::string_view sep(options_.split);
    std::size_t start = 0;
    while (start <= all.size()) {
      const std::size_t end = sep.size() == 1 ? all.find(sep[0], start) : all.find(sep, start);
      const std::size_t stop = end == std::string_view::npos ? all.size() : end;
      if (stop > start) visit(all.substr(start, stop - start));
      if (end == std::string_view::npos) break;
      start = end + sep.size();
    }
  }

  // The words of text as strings (what text_to_word_sequence returns).
  std::vector<std::string> split(std::string_view text);

  // The text Keras splits: lower-cased (if asked), every filtered character
  // replaced by the split string. Valid until the next call.
  const std::string& normalized(std::string_view text);

 private:
  bool is_filtered(char32_t code_point) const;

  TextOptions options_;
  bool ascii_filter_[128] = {};
  std::vector<char32_t> other_filters_;  // non-ASCII filter code points, sorted
  std::string buffer_;
};

// keras.preprocessing.text.text_to_word_sequence.
std::vector<std::string> text_to_word_sequence(std::string_view text, const TextOptions& options = {});

struct TokenizerConfig {
  std::optional<std::size_t> num_words{};  // keep ids < num_words in sequences (0 = no limit, as Keras)
  TextOptions text{};                      // filters, lower, split
  std::optional<std::string> oov_token{};  // e.g. "<OOV>"; takes index 1
};

// keras.preprocessing.text.Tokenizer (word level).
class Tokenizer {
 public:
  explicit Tokenizer(TokenizerConfig config = {});

  // Counts the words of every text and rebuilds the word index. Calling it
  // again adds to the counts (as Keras does).
  void fit_on_texts(const std::vector<std::string>& texts);

  // Ids of the words of each text, by the rules at the top of this header.
  // Result i has one id per kept word of texts[i] (ragged; pad_sequences next).
  std::vector<std::vector<std::int64_t>> texts_to_sequences(const std::vector<std::string>& texts) const;
  std::vector<std::int64_t> text_to_sequence(std::string_view text) const;
  // The inverse (Keras sequences_to_texts): words joined by single spaces;
  // ids >= num_words and unknown ids become the OOV word when there is an
  // oov_token and are dropped otherwise.
  std::vector<std::string> sequences_to_texts(const std::vector<std::vector<std::int64_t>>& sequences) const;

  const TokenizerConfig& config() const { return config_; }
  std::size_t document_count() const { return document_count_; }
  // Number of entries of Keras's word_index (the OOV token included).
  std::size_t word_index_size() const;
  // Keras word_index[word], nullopt if absent.
  std::optional<std::int64_t> index_of(std::string_view word) const;
  // Keras index_word[index], nullopt if no word has it.
  std::optional<std::string> word_at(std::int64_t index) const;
  // word_counts in first-appearance order (Keras's OrderedDict).
  std::vector<std::pair<std::string, std::size_t>> word_counts() const;
  // How many texts contained `word` (Keras word_docs), 0 if unknown.
  std::size_t document_frequency(std::string_view word) const;

  // Saves the tokenizer as Keras's tokenizer.to_json() text (class_name
  // "Tokenizer", config with the JSON-encoded word_counts, word_docs,
  // index_docs, index_word, word_index): a file written by Keras loads here
  // and the other way round. Words that are not valid UTF-8 are written with
  // U+FFFD replacements.
  std::string to_json() const;
  void save(const std::filesystem::path& path) const;
  // Throws std::runtime_error naming `source` for malformed JSON, a missing or
  // mistyped field, a char_level tokenizer, or a word_index that disagrees
  // with the word counts.
  static Tokenizer from_json(std::string_view json, const std::string& source = "<tokenizer json>");
  static Tokenizer load(const std::filesystem::path& path);

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using SlotMap = std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>>;

  void count_words(std::string_view text, std::vector<std::uint32_t>& last_document);
  void rebuild_index();
  // The id a known word gets in a sequence, after the num_words rule; nullopt = dropped.
  std::optional<std::int64_t> sequence_id(std::optional<std::int64_t> index) const;

  TokenizerConfig config_;
  std::size_t document_count_ = 0;
  // Counted words in first-appearance order; slot_of_ maps a word to its slot.
  std::vector<std::string> words_;
  std::vector<std::size_t> counts_;
  std::vector<std::size_t> document_counts_;
  SlotMap slot_of_;
  std::vector<std::int64_t> index_of_slot_;  // Keras word_index per slot
  std::vector<std::int64_t> slot_by_index_;  // index -> slot, -1 for none (index 0 and OOV)
  std::optional<std::int64_t> oov_index_;    // word_index[oov_token]
};

}  // namespace xgrad::data
