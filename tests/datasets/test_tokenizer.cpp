// Golden tests of the Keras-compatible text preprocessing. Every expected
// value follows from the documented behaviour of keras.preprocessing.text and
// keras.preprocessing.sequence (and was cross-checked against a line-by-line
// Python transcription of that code); the rule each case pins is in its name
// or comment.

#include <doctest/doctest.h>

#include <xtensor/xarray.hpp>

#include "helpers.hpp"
#include "xgrad/datasets/file_io.hpp"
#include "xgrad/datasets/tokenizer.hpp"

using namespace xgrad::data;
using xgrad::data::testing::contains;
using xgrad::data::testing::error_of;
using Words = std::vector<std::string>;
using Ids = std::vector<std::int64_t>;

namespace {
const std::vector<std::string> kTexts = {"The cat sat on the mat.", "The dog ate my homework!", "Cat, dog: cat?"};

TokenizerConfig config(std::optional<std::size_t> num_words, std::optional<std::string> oov_token = {}) {
  TokenizerConfig c;
  c.num_words = num_words;
  c.oov_token = std::move(oov_token);
  return c;
}

TextOptions text_options(bool lower, std::string split) {
  TextOptions o;
  o.lower = lower;
  o.split = std::move(split);
  return o;
}
}  // namespace

TEST_CASE("text_to_word_sequence: lower-case, filters become the split char, empty tokens dropped") {
  // ',' '!' tab newline '-' are default filters; the apostrophe is not, so
  // "it's" survives; runs of separators leave no empty words.
  CHECK(text_to_word_sequence("Hello,world! It's tab\tsep\nnew-line  x") ==
        Words{"hello", "world", "it's", "tab", "sep", "new", "line", "x"});
  // Only the split string separates words: '\r' (not a filter) and U+0085
  // (Python's str.split(' ') does not split on it) stay inside words.
  CHECK(text_to_word_sequence("end\r\nnext a\xC2\x85"
                              "b") == Words{"end\r", "next",
                                            "a\xC2\x85"
                                            "b"});
  // Python's str.lower is Unicode-aware; U+0130 lowers to "i" + U+0307.
  CHECK(text_to_word_sequence("\xC3\x89"
                              "COLE \xC3\x9C"
                              "ber \xC4\xB0") == Words{"\xC3\xA9"
                                                       "cole",
                                                       "\xC3\xBC"
                                                       "ber",
                                                       "i\xCC\x87"});
  CHECK(text_to_word_sequence("The Cat", text_options(false, " ")) == Words{"The", "Cat"});
  // A custom split: filters turn into '|', and spaces no longer separate.
  CHECK(text_to_word_sequence("a b|c,d", text_options(true, "|")) == Words{"a b", "c", "d"});
  CHECK(text_to_word_sequence("") == Words{});
  CHECK(text_to_word_sequence(" ,.; ") == Words{});
}

TEST_CASE("strip_html: <br /> becomes a space, other tags vanish, stray '<' stays") {
  CHECK(strip_html("Great.<br /><br />Loved it") == "Great.  Loved it");
  CHECK(strip_html("a<BR>b<br/>c") == "a b c");
  CHECK(strip_html("<i>so</i> <SPOILER>good</SPOILER>") == "so good");
  CHECK(strip_html("I <3 it, 1 < 2 > 0") == "I <3 it, 1 < 2 > 0");
  CHECK(strip_html("<bravo>x") == "x");  // "bravo" is not a br tag
  CHECK(strip_html("unclosed <b") == "unclosed <b");
  // Without it Keras tokenizing keeps "br" as a word (the Keras IMDB index ranks it 7th).
  CHECK(text_to_word_sequence("Good.<br />Bad") == Words{"good", "br", "bad"});
  CHECK(text_to_word_sequence(strip_html("Good.<br />Bad")) == Words{"good", "bad"});
}

TEST_CASE("Tokenizer: index by descending count, ties in first-appearance order") {
  Tokenizer tok;
  tok.fit_on_texts(kTexts);
  // the: 3, cat: 3 (tie: "the" appeared first), dog: 2, then the count-1
  // words in the order they first appeared.
  const Words expected = {"the", "cat", "dog", "sat", "on", "mat", "ate", "my", "homework"};
  REQUIRE(tok.word_index_size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(expected[i]);
    CHECK(tok.index_of(expected[i]) == static_cast<std::int64_t>(i + 1));
    CHECK(tok.word_at(static_cast<std::int64_t>(i + 1)) == expected[i]);
  }
  CHECK_FALSE(tok.word_at(0).has_value());  // 0 is reserved for padding
  CHECK(tok.document_count() == 3);
  CHECK(tok.document_frequency("cat") == 2);  // word_docs counts documents, not occurrences
  CHECK(tok.word_counts().front() == std::pair<std::string, std::size_t>{"the", 3});
  // Unknown words are dropped without an oov_token.
  CHECK(tok.texts_to_sequences({"the cat ate a fish"}) == std::vector<Ids>{{1, 2, 7}});
}

TEST_CASE("Tokenizer: num_words keeps ids below num_words in sequences only") {
  Tokenizer tok(config(4));
  tok.fit_on_texts(kTexts);
  CHECK(tok.text_to_sequence("the dog sat on the mat") == Ids{1, 3, 1});
  CHECK(tok.word_index_size() == 9);  // the index itself keeps every word
  Tokenizer unlimited(config(0));     // 0 means no limit, as in Keras
  unlimited.fit_on_texts(kTexts);
  CHECK(unlimited.text_to_sequence("the homework") == Ids{1, 9});
}

TEST_CASE("Tokenizer: oov_token takes index 1 and replaces unknown and cut words") {
  Tokenizer tok(config(4, "<OOV>"));
  tok.fit_on_texts(kTexts);
  CHECK(tok.index_of("<OOV>") == 1);
  CHECK(tok.index_of("the") == 2);  // every word shifts up by one
  CHECK(tok.index_of("homework") == 10);
  CHECK(tok.word_index_size() == 10);
  // dog (4) >= num_words -> 1; sat, on, mat cut -> 1; fish unknown -> 1.
  CHECK(tok.text_to_sequence("the dog sat on the mat fish") == Ids{2, 1, 1, 1, 2, 1, 1});
  // The inverse maps unknown and cut ids to the OOV word.
  CHECK(tok.sequences_to_texts({{2, 3, 99}, {2, 5}}) == Words{"the cat <OOV>", "the <OOV>"});
}

TEST_CASE("Tokenizer: an oov_token that is also a counted word keeps the word's index (Keras dict overwrite)") {
  // Keras builds dict(zip(["cat", "the", "cat", ...], 1..)): the second "cat"
  // overwrites the first, so cat -> 3 and no word has index 1.
  Tokenizer tok(config(std::nullopt, "cat"));
  tok.fit_on_texts(kTexts);
  CHECK(tok.index_of("cat") == 3);
  CHECK(tok.index_of("the") == 2);
  CHECK_FALSE(tok.word_at(1).has_value());
  CHECK(tok.word_index_size() == 9);
  CHECK(tok.text_to_sequence("the fish cat") == Ids{2, 3, 3});
}

TEST_CASE("Tokenizer: fitting twice accumulates counts") {
  Tokenizer tok;
  tok.fit_on_texts({"b a"});
  CHECK(tok.index_of("b") == 1);  // tie, b first
  tok.fit_on_texts({"a"});
  CHECK(tok.index_of("a") == 1);
  CHECK(tok.index_of("b") == 2);
  CHECK(tok.document_count() == 2);
}

TEST_CASE("pad_sequences: Keras defaults pad and truncate at the front; maxlen defaults to the longest") {
  const std::vector<Ids> seqs = {{1, 2, 3}, {4, 5}, {6, 7, 8, 9, 10}, {}};
  const auto rows = [](const xt::xarray<std::int64_t>& a) {
    std::vector<Ids> out;
    for (std::size_t i = 0; i < a.shape(0); ++i)
      out.emplace_back(a.data() + i * a.shape(1), a.data() + (i + 1) * a.shape(1));
    return out;
  };
  const auto longest = pad_sequences(seqs);
  CHECK(longest.shape(1) == 5);
  CHECK(rows(longest) == std::vector<Ids>{{0, 0, 1, 2, 3}, {0, 0, 0, 4, 5}, {6, 7, 8, 9, 10}, {0, 0, 0, 0, 0}});
  // truncating pre keeps the last maxlen ids.
  CHECK(rows(pad_sequences(seqs, 3)) == std::vector<Ids>{{1, 2, 3}, {0, 4, 5}, {8, 9, 10}, {0, 0, 0}});
  // post/post: pad after, keep the first maxlen.
  CHECK(rows(pad_sequences(seqs, 3, PadSide::post, PadSide::post)) ==
        std::vector<Ids>{{1, 2, 3}, {4, 5, 0}, {6, 7, 8}, {0, 0, 0}});
  // A custom padding value.
  CHECK(rows(pad_sequences(seqs, 4, PadSide::post, PadSide::pre, -1)) ==
        std::vector<Ids>{{1, 2, 3, -1}, {4, 5, -1, -1}, {7, 8, 9, 10}, {-1, -1, -1, -1}});
  // Lab L5: padding pre, truncating post.
  CHECK(rows(pad_sequences(seqs, PadOptions{4, PadSide::pre, PadSide::post, 0})) ==
        std::vector<Ids>{{0, 1, 2, 3}, {0, 0, 4, 5}, {6, 7, 8, 9}, {0, 0, 0, 0}});
  // A subset pads to its own longest row.
  const std::vector<std::size_t> subset = {1, 0};
  CHECK(rows(pad_sequences(seqs, subset)) == std::vector<Ids>{{0, 4, 5}, {1, 2, 3}});
  CHECK(pad_sequences(std::vector<Ids>{}).shape(0) == 0);
  CHECK_THROWS_AS(pad_sequences(seqs, std::vector<std::size_t>{7}), std::out_of_range);
}

TEST_CASE("Tokenizer state: Keras to_json format, round trip, and a file written by Keras") {
  xgrad::data::testing::ScratchDir dir;
  Tokenizer tok(config(4, "<OOV>"));
  tok.fit_on_texts(kTexts);
  const auto path = dir / "tokenizer.json";
  tok.save(path);
  const Tokenizer back = Tokenizer::load(path);
  CHECK(back.config().num_words == 4u);
  CHECK(back.config().oov_token == std::string("<OOV>"));
  CHECK(back.config().text.filters == keras_default_filters);
  CHECK(back.document_count() == 3);
  CHECK(back.word_counts() == tok.word_counts());
  CHECK(back.document_frequency("cat") == 2);
  CHECK(back.text_to_sequence("the dog sat on the mat fish") == Ids{2, 1, 1, 1, 2, 1, 1});
  CHECK(back.to_json() == tok.to_json());

  // The exact text Python's tokenizer.to_json() gives for fit_on_texts(["b a", "a"]).
  const std::string keras_json =
      R"({"class_name": "Tokenizer", "config": {"num_words": null, "filters": "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n", )"
      R"("lower": true, "split": " ", "char_level": false, "oov_token": null, "document_count": 2, )"
      R"("word_counts": "{\"b\": 1, \"a\": 2}", "word_docs": "{\"b\": 1, \"a\": 2}", "index_docs": "{\"2\": 1, \"1\": 2}", )"
      R"("index_word": "{\"1\": \"a\", \"2\": \"b\"}", "word_index": "{\"a\": 1, \"b\": 2}"}})";
  const Tokenizer from_keras = Tokenizer::from_json(keras_json);
  CHECK(from_keras.index_of("a") == 1);
  CHECK(from_keras.index_of("b") == 2);
  CHECK(from_keras.text_to_sequence("A b c") == Ids{1, 2});
  Tokenizer same;
  same.fit_on_texts({"b a", "a"});
  CHECK(Tokenizer::from_json(same.to_json()).word_counts() == from_keras.word_counts());
}

TEST_CASE("Tokenizer state: malformed files throw naming the file and the problem") {
  xgrad::data::testing::ScratchDir dir;
  const auto write = [&](const std::string& name, const std::string& text) {
    write_file_bytes(dir / name, text, "test file");
    return dir / name;
  };
  const auto message = [](const std::filesystem::path& p) { return error_of([&] { Tokenizer::load(p); }); };
  CHECK(contains(error_of([&] { Tokenizer::load(dir / "absent.json"); }), "absent.json"));
  const auto broken = write("broken.json", "{\"class_name\": \"Tokenizer\", \"config\": {");
  CHECK(contains(message(broken), "broken.json"));
  CHECK(contains(message(broken), "not a valid tokenizer file"));
  CHECK(contains(message(write("noconfig.json", "{\"class_name\": \"Tokenizer\"}")), "no \"config\""));
  Tokenizer tok;
  tok.fit_on_texts({"b a", "a"});
  std::string json = tok.to_json();
  const auto swap_in = [&](const std::string& from, const std::string& to) {
    std::string s = json;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  CHECK(contains(message(write("counts.json", swap_in(R"("word_counts":"{\"b\":1,\"a\":2}")", R"("word_counts":7)"))),
                 "\"word_counts\" must be a JSON string"));
  CHECK(contains(message(write("index.json", swap_in(R"(\"a\":1,\"b\":2)", R"(\"a\":2,\"b\":1)"))), "disagrees"));
  CHECK(contains(message(write("char.json", swap_in(R"("char_level":false)", R"("char_level":true)"))), "char_level"));
  CHECK(contains(message(write("array.json", "[1, 2]")), "not a JSON object"));
}
