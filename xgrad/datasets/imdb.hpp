#pragma once
// The IMDB Large Movie Review Dataset (Maas et al., 2011) from its original
// files, plus the conventions of keras.datasets.imdb.load_data.
//
// Sources (load_imdb picks by path):
//  - the aclImdb archive (.tar.gz, .tar, ... anything libarchive reads), read
//    in place without extracting;
//  - the extracted folder (the aclImdb folder itself or the folder holding it);
//  - the 50k-review CSV (header review,sentiment; sentiment positive/negative).
// Archive and folder: reviews are train|test/pos|neg/<id>_<rating>.txt; each
// file is read whole (never split into lines: reviews contain U+0085, which
// some tools treat as a line break). Other files (README, urls_*.txt,
// train/unsup/...) are ignored. Labels: pos = 1, neg = 0.
//
// Errors are std::runtime_error naming the path: a missing path; an empty,
// truncated or unreadable archive; a split without a pos or neg folder (or
// with no reviews in it); a CSV without the columns or with another sentiment.
// A load never returns an empty data set.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace xgrad::data {

enum class ImdbSplit : std::uint8_t {
  train,
  test,
  unspecified,  // the CSV form has no split
};

// Reviews as parallel arrays: entry i of each vector describes review i.
struct ImdbReviews {
  std::vector<std::string> texts{};     // raw review text (UTF-8, HTML as in the files)
  std::vector<std::int64_t> labels{};   // 1 positive, 0 negative
  std::vector<std::int64_t> ratings{};  // stars 1..10 from the file name; 0 when unknown (CSV)
  std::vector<ImdbSplit> splits{};
  std::vector<std::int64_t> ids{};  // <id> of the file name; the data row (0-based) for the CSV

  std::size_t size() const { return texts.size(); }
  // Positions of the reviews of one split, in order.
  std::vector<std::size_t> indices_of(ImdbSplit split) const;
  // The reviews at `rows`, in that order (e.g. the result of a split function).
  ImdbReviews subset(std::span<const std::size_t> rows) const;
};

// Which splits of the archive or folder to read.
struct ImdbLoadOptions {
  bool train = true;
  bool test = true;
};

// Reads the aclImdb archive or folder, or the CSV (by extension .csv).
// Archive and folder results are sorted by split (train first), label
// (negative first), then id; CSV results keep the file's row order.
ImdbReviews load_imdb(const std::filesystem::path& path, const ImdbLoadOptions& options = {});
ImdbReviews load_imdb_archive(const std::filesystem::path& archive, const ImdbLoadOptions& options = {});
ImdbReviews load_imdb_folder(const std::filesystem::path& folder, const ImdbLoadOptions& options = {});
// The Kaggle-style CSV: columns "review" and "sentiment" (positive/negative),
// RFC 4180 quoting (reviews span lines and contain doubled quotes).
ImdbReviews load_imdb_csv(const std::filesystem::path& csv);

// ---- keras.datasets.imdb conventions ----

// imdb_word_index.json: word -> frequency rank (1 = most frequent).
class KerasWordIndex {
 public:
  // Throws std::runtime_error naming the path for a missing file, malformed
  // JSON, or a value that is not a positive integer.
  static KerasWordIndex load(const std::filesystem::path& path);
  static KerasWordIndex from_json(std::string_view json, const std::string& source = "<word index>");

  std::size_t size() const { return rank_of_.size(); }
  std::optional<std::int32_t> rank(std::string_view word) const;
  std::optional<std::string> word(std::int32_t rank) const;

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>> rank_of_;
  std::vector<std::string> word_of_rank_;  // index = rank ("" where no word)
};

// The arguments of keras.datasets.imdb.load_data, same defaults.
struct KerasImdbOptions {
  std::optional<std::size_t> num_words{};           // ids >= num_words become oov_char (none: no cut)
  std::size_t skip_top = 0;                         // ids < skip_top become oov_char (start_char too, as in Keras)
  std::optional<std::size_t> maxlen{};              // keep only sequences shorter than maxlen (Keras: len < maxlen,
                                                    // start_char counted)
  std::optional<std::int64_t> start_char = 1;       // prepended to every sequence
  std::optional<std::int64_t> oov_char = 2;         // nullopt: drop the words instead
  std::int64_t index_from = 3;                      // id = rank + index_from
  std::optional<std::uint32_t> shuffle_seed = 113;  // shuffles train, then test; nullopt keeps file order
};

// One review as Keras ids: strip_html, Keras text_to_word_sequence (default
// filters, lower-case), each word -> rank + index_from (a word missing from
// the index counts as out-of-vocabulary), then the start/skip_top/num_words rules.
std::vector<std::int64_t> keras_imdb_encode(std::string_view review, const KerasWordIndex& index,
                                            const KerasImdbOptions& options = {});

// Ragged id sequences and 0/1 labels, as load_data returns them.
struct KerasImdbData {
  std::vector<std::vector<std::int64_t>> x_train{}, x_test{};
  std::vector<std::int64_t> y_train{}, y_test{};
};

// keras.datasets.imdb.load_data from raw reviews: the train and test splits
// of `reviews` encoded with keras_imdb_encode, each shuffled with a
// permutation from Generator(shuffle_seed) (train first, as Keras does; the
// order is not that of Keras's imdb.npz, whose source order is unknown).
// Shuffling matters: validation_split takes the LAST 20%, and the files are
// sorted by label. Throws std::invalid_argument if reviews lack a split.
KerasImdbData keras_imdb_load_data(const ImdbReviews& reviews, const KerasWordIndex& index,
                                   const KerasImdbOptions& options = {});

// Ids back to words for inspection, as in the Keras tutorial: reserved ids
// (0 .. index_from-1) and unknown ranks become "?".
std::string keras_imdb_decode(std::span<const std::int64_t> ids, const KerasWordIndex& index,
                              const KerasImdbOptions& options = {});

}  // namespace xgrad::data
