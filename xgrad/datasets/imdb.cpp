#include "xgrad/datasets/imdb.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <limits>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <tuple>

#include <nlohmann/json.hpp>

#ifdef XGRAD_HAVE_LIBARCHIVE
#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>
#endif

#include "xgrad/autograd/printable.hpp"
#include "xgrad/autograd/random.hpp"
#include "xgrad/datasets/csv.hpp"
#include "xgrad/datasets/file_io.hpp"
#include "xgrad/datasets/split.hpp"
#include "xgrad/datasets/tokenizer.hpp"

namespace xgrad::data {

namespace fs = std::filesystem;

namespace {

struct Review {
  ImdbSplit split;
  std::int32_t label;
  std::int32_t id;
  std::int32_t rating;
  std::string text;
};

const char* split_name(ImdbSplit s) {
  switch (s) {
    case ImdbSplit::train:
      return "train";
    case ImdbSplit::test:
      return "test";
    default:
      return "unspecified";
  }
}

bool wanted(ImdbSplit split, const ImdbLoadOptions& options) {
  return split == ImdbSplit::train ? options.train : options.test;
}

std::optional<std::int32_t> parse_int(std::string_view s) {
  std::int32_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// Where a review file sits: .../<train|test>/<pos|neg>/<id>_<rating>.txt.
struct ReviewLocation {
  ImdbSplit split;
  std::int32_t label;
  std::int32_t id;
  std::int32_t rating;
};

// Parses the last three components of `path` ('/'-separated); nullopt for any
// other file (README, urls_pos.txt, train/unsup/..., stray files).
std::optional<ReviewLocation> locate_review(std::string_view path) {
  std::array<std::string_view, 3> last{};
  for (int k = 2; k >= 0; --k) {
    const std::size_t slash = path.rfind('/');
    if (slash == std::string_view::npos) {
      if (k != 0) return std::nullopt;
      last[0] = path;
      break;
    }
    last[static_cast<std::size_t>(k)] = path.substr(slash + 1);
    path = path.substr(0, slash);
  }
  ReviewLocation loc{};
  if (last[0] == "train")
    loc.split = ImdbSplit::train;
  else if (last[0] == "test")
    loc.split = ImdbSplit::test;
  else
    return std::nullopt;
  if (last[1] == "pos")
    loc.label = 1;
  else if (last[1] == "neg")
    loc.label = 0;
  else
    return std::nullopt;
  std::string_view name = last[2];
  if (name.size() < 4 || name.substr(name.size() - 4) != ".txt") return std::nullopt;
  name.remove_suffix(4);
  const std::size_t underscore = name.find('_');
  if (underscore == std::string_view::npos) return std::nullopt;
  const auto id = parse_int(name.substr(0, underscore));
  const auto rating = parse_int(name.substr(underscore + 1));
  if (!id || !rating) return std::nullopt;
  loc.id = *id;
  loc.rating = *rating;
  return loc;
}

// Throws unless every wanted split has reviews under both pos/ and neg/, so
// that a damaged source never yields a silently one-sided data set.
void check_label_folders(const std::vector<Review>& reviews, const ImdbLoadOptions& options,
                         const std::string& source) {
  if (!options.train && !options.test) {
    throw std::invalid_argument(source + ": ImdbLoadOptions selects neither train nor test");
  }
  for (const ImdbSplit split : {ImdbSplit::train, ImdbSplit::test}) {
    if (!wanted(split, options)) continue;
    for (const std::int32_t label : {0, 1}) {
      const bool found = std::any_of(reviews.begin(), reviews.end(),
                                     [&](const Review& r) { return r.split == split && r.label == label; });
      if (!found) {
        throw std::runtime_error(source + ": no reviews under " + split_name(split) + "/" + (label ? "pos" : "neg") +
                                 "/ (the label folder is missing or empty; is this the aclImdb data set?)");
      }
    }
  }
}

// Two entries for one review (a tar with an appended copy, or 12_7.txt beside
// 12_8.txt) would weigh it twice, or keep whichever came last.
void check_unique_reviews(const std::vector<Review>& reviews, const std::string& source) {
  std::vector<std::tuple<ImdbSplit, std::int32_t, std::int32_t>> keys;
  keys.reserve(reviews.size());
  for (const Review& r : reviews) keys.emplace_back(r.split, r.label, r.id);
  std::sort(keys.begin(), keys.end());
  const auto dup = std::adjacent_find(keys.begin(), keys.end());
  if (dup != keys.end()) {
    const auto& [split, label, id] = *dup;
    throw std::runtime_error(source + ": review " + split_name(split) + "/" + (label ? "pos" : "neg") + "/" +
                             std::to_string(id) + "_*.txt appears more than once");
  }
}

ImdbReviews to_columns(std::vector<Review>&& reviews, bool sort) {
  if (sort) {
    std::sort(reviews.begin(), reviews.end(), [](const Review& a, const Review& b) {
      return std::tie(a.split, a.label, a.id) < std::tie(b.split, b.label, b.id);
    });
  }
  ImdbReviews out;
  out.texts.reserve(reviews.size());
  out.labels.reserve(reviews.size());
  out.ratings.reserve(reviews.size());
  out.splits.reserve(reviews.size());
  out.ids.reserve(reviews.size());
  for (Review& r : reviews) {
    out.texts.push_back(std::move(r.text));
    out.labels.push_back(r.label);
    out.ratings.push_back(r.rating);
    out.splits.push_back(r.split);
    out.ids.push_back(r.id);
  }
  return out;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return out;
}

bool has_extension(const fs::path& path, std::string_view extension) {
  return lower_ascii(path.extension().string()) == extension;
}

}  // namespace

// ---- ImdbReviews ----

std::vector<std::size_t> ImdbReviews::indices_of(ImdbSplit split) const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < splits.size(); ++i)
    if (splits[i] == split) out.push_back(i);
  return out;
}

ImdbReviews ImdbReviews::subset(std::span<const std::size_t> rows) const {
  return ImdbReviews{take(texts, rows), take(labels, rows), take(ratings, rows), take(splits, rows), take(ids, rows)};
}

// ---- loading ----

ImdbReviews load_imdb(const fs::path& path, const ImdbLoadOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error("IMDB data not found: " + path.string());
  if (fs::is_directory(path, ec)) return load_imdb_folder(path, options);
  if (has_extension(path, ".csv")) return load_imdb_csv(path);
  return load_imdb_archive(path, options);
}

#ifdef XGRAD_HAVE_LIBARCHIVE
namespace {
// Note [gzip checksums]: libarchive's gzip reader never checks the CRC-32
// in a member's trailer, and damage inside a deflate block can decode to
// wrong bytes that still parse as tar (a review silently changed). zlib's
// gzread does check it, so a .gz archive is decompressed once more, to its
// end, by zlib (about 0.2 s for the 28 MB IMDB archive). xz and bzip2 carry
// their own checks, which their libraries verify inside libarchive.
void verify_gzip_checksums(const fs::path& archive_path) {
  const std::string source = archive_path.string();
  unsigned char magic[2] = {0, 0};
  if (std::FILE* f = std::fopen(source.c_str(), "rb")) {
    const std::size_t got = std::fread(magic, 1, 2, f);
    std::fclose(f);
    if (got != 2) return;
  }
  if (magic[0] != 0x1f || magic[1] != 0x8b) return;  // not gzip
  const std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(source.c_str(), "rb"), gzclose);
  if (!gz) throw std::runtime_error(source + ": cannot open to verify its gzip checksum");
  static thread_local char chunk[1 << 16];
  int n;
  while ((n = gzread(gz.get(), chunk, sizeof chunk)) > 0) {
  }
  if (n < 0) {
    int code = 0;
    const char* why = gzerror(gz.get(), &code);
    throw std::runtime_error(source +
                             ": the archive is damaged: its gzip data fails to decompress or its checksum "
                             "does not match (" +
                             std::string(why ? why : "gzip error") + "); get a fresh copy");
  }
}
}  // namespace
#endif

ImdbReviews load_imdb_archive(const fs::path& archive_path, const ImdbLoadOptions& options) {
  const std::string source = archive_path.string();
#ifndef XGRAD_HAVE_LIBARCHIVE
  (void)options;
  throw std::runtime_error(source +
                           ": xgrad was built without libarchive; extract the archive and "
                           "load the folder instead");
#else
  std::error_code ec;
  if (!fs::exists(archive_path, ec)) throw std::runtime_error("IMDB archive not found: " + source);
  if (fs::is_directory(archive_path, ec)) {
    throw std::runtime_error("IMDB archive is a directory, use load_imdb_folder: " + source);
  }
  if (fs::file_size(archive_path, ec) == 0 && !ec) {
    throw std::runtime_error("IMDB archive is empty (0 bytes): " + source);
  }
  const std::unique_ptr<archive, int (*)(archive*)> reader(archive_read_new(), archive_read_free);
  if (!reader) throw std::runtime_error(source + ": libarchive could not allocate a reader");
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_all(reader.get());
  const auto fail = [&](const std::string& what) {
    const char* detail = archive_error_string(reader.get());
    return std::runtime_error(source + ": " + what + (detail ? std::string(": ") + detail : std::string()));
  };
  if (archive_read_open_filename(reader.get(), source.c_str(), 1 << 16) != ARCHIVE_OK) {
    throw fail("cannot open the archive");
  }
  std::vector<Review> reviews;
  reviews.reserve(50000);
  std::size_t entries = 0;
  archive_entry* entry = nullptr;
  while (true) {
    const int status = archive_read_next_header(reader.get(), &entry);
    if (status == ARCHIVE_EOF) break;
    // ARCHIVE_RETRY is libarchive's "Damaged tar archive": it skips ahead to
    // the next header it can find, losing reviews on the way. A partial
    // corpus is a silently different data set, so anything but OK is an
    // error (WARN included: it reports unreadable metadata).
    if (status != ARCHIVE_OK) {
      throw fail("the archive is damaged or truncated after " + std::to_string(entries) + " entries");
    }
    ++entries;
    const char* name = archive_entry_pathname(entry);
    if (!name || archive_entry_filetype(entry) != AE_IFREG) continue;
    const auto loc = locate_review(name);
    if (!loc || !wanted(loc->split, options)) continue;  // libarchive skips the data itself
    Review r{loc->split, loc->label, loc->id, loc->rating, {}};
    // The size in a tar header is the file's word, not a fact: it may only
    // hint a reservation up to the limit, and the text read is what counts.
    constexpr std::size_t kMaxReviewBytes = std::size_t{16} << 20;  // the longest IMDB review is 14 KB
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0)
      r.text.reserve(std::min(static_cast<std::size_t>(archive_entry_size(entry)), kMaxReviewBytes));
    char chunk[16384];
    while (true) {
      const la_ssize_t n = archive_read_data(reader.get(), chunk, sizeof chunk);
      if (n < 0) throw fail(std::string("cannot read ") + printable(name) + " (damaged or truncated archive)");
      if (n == 0) break;
      if (r.text.size() + static_cast<std::size_t>(n) > kMaxReviewBytes) {
        throw fail(std::string("review ") + printable(name) + " is larger than 16 MiB; this is not the IMDB data set");
      }
      r.text.append(chunk, static_cast<std::size_t>(n));
    }
    reviews.push_back(std::move(r));
  }
  if (entries == 0) throw fail("the archive has no entries");
  verify_gzip_checksums(archive_path);
  check_unique_reviews(reviews, source);
  check_label_folders(reviews, options, source);
  return to_columns(std::move(reviews), true);
#endif
}

ImdbReviews load_imdb_folder(const fs::path& folder, const ImdbLoadOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw std::runtime_error("IMDB folder not found: " + folder.string());
  // Accept the aclImdb folder itself or the folder it was extracted into.
  const fs::path root =
      fs::is_directory(folder / "aclImdb", ec) && !fs::is_directory(folder / "train", ec) ? folder / "aclImdb" : folder;
  std::vector<Review> reviews;
  for (const ImdbSplit split : {ImdbSplit::train, ImdbSplit::test}) {
    if (!wanted(split, options)) continue;
    for (const char* label_dir : {"neg", "pos"}) {
      const fs::path dir = root / split_name(split) / label_dir;
      if (!fs::is_directory(dir, ec)) {
        throw std::runtime_error("IMDB folder " + root.string() + " has no " + split_name(split) + "/" + label_dir +
                                 "/ folder (expected " + dir.string() + ")");
      }
      for (const fs::directory_entry& file : fs::directory_iterator(dir)) {
        if (!file.is_regular_file()) continue;
        const std::string relative =
            std::string(split_name(split)) + "/" + label_dir + "/" + file.path().filename().string();
        const auto loc = locate_review(relative);
        if (!loc) continue;
        reviews.push_back(
            Review{loc->split, loc->label, loc->id, loc->rating, read_file_bytes(file.path(), "IMDB review")});
      }
    }
  }
  check_unique_reviews(reviews, root.string());
  check_label_folders(reviews, options, root.string());
  return to_columns(std::move(reviews), true);
}

ImdbReviews load_imdb_csv(const fs::path& csv) {
  const CsvTable table = read_csv(csv);
  const std::size_t review_col = table.column_index("review");
  const std::size_t sentiment_col = table.column_index("sentiment");
  if (table.rows.empty()) throw std::runtime_error(table.source + ": the CSV has a header but no reviews");
  std::vector<Review> reviews;
  reviews.reserve(table.rows.size());
  for (std::size_t i = 0; i < table.rows.size(); ++i) {
    const CsvRow& row = table.rows[i];
    const std::string sentiment = lower_ascii(row.fields[sentiment_col]);
    std::int32_t label;
    if (sentiment == "positive")
      label = 1;
    else if (sentiment == "negative")
      label = 0;
    else {
      throw std::runtime_error(table.source + ": line " + std::to_string(row.line) + ", column " +
                               std::to_string(sentiment_col + 1) + " (\"sentiment\"): \"" + row.fields[sentiment_col] +
                               "\" is neither positive nor negative");
    }
    reviews.push_back(Review{ImdbSplit::unspecified, label, static_cast<std::int32_t>(i), 0, row.fields[review_col]});
  }
  return to_columns(std::move(reviews), false);
}

// ---- Keras conventions ----

KerasWordIndex KerasWordIndex::from_json(std::string_view json, const std::string& source) {
  KerasWordIndex index;
  try {
    const nlohmann::json root = nlohmann::json::parse(json);
    if (!root.is_object() || root.empty()) {
      throw std::runtime_error(source + ": expected a non-empty JSON object of word -> rank");
    }
    // A word index ranks its N words 1..N by frequency, each rank once
    // (Keras's imdb_word_index.json: 88,584 words, ranks 1..88,584). Holding
    // ranks to that range sizes the rank -> word table by the file itself,
    // so a crafted rank can neither overflow nor ask for gigabytes.
    const std::size_t words = root.size();
    if (words > static_cast<std::size_t>(INT32_MAX) - 1) throw std::runtime_error(source + ": too many words");
    index.rank_of_.reserve(words);
    index.word_of_rank_.assign(words + 1, std::string());
    for (const auto& [word, rank] : root.items()) {
      if (!rank.is_number_integer() || rank.get<std::int64_t>() < 1 ||
          rank.get<std::int64_t>() > static_cast<std::int64_t>(words)) {
        throw std::runtime_error(source + ": the rank of \"" + printable(word) + "\" is " + rank.dump() +
                                 ", expected an integer from 1 to " + std::to_string(words) + " (the number of words)");
      }
      const auto r = static_cast<std::size_t>(rank.get<std::int64_t>());
      if (!index.word_of_rank_[r].empty() || word.empty()) {
        throw std::runtime_error(source + ": rank " + std::to_string(r) + " is given to both \"" +
                                 printable(index.word_of_rank_[r]) + "\" and \"" + printable(word) + "\"" +
                                 (word.empty() ? " (an empty word)" : ""));
      }
      index.rank_of_.emplace(word, static_cast<std::int32_t>(r));
      index.word_of_rank_[r] = word;
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(source + ": malformed word index JSON: " + e.what());
  }
  return index;
}

KerasWordIndex KerasWordIndex::load(const fs::path& path) {
  return from_json(read_file_bytes(path, "Keras word index"), path.string());
}

std::optional<std::int32_t> KerasWordIndex::rank(std::string_view word) const {
  const auto it = rank_of_.find(word);
  if (it == rank_of_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> KerasWordIndex::word(std::int32_t rank) const {
  if (rank < 1 || static_cast<std::size_t>(rank) >= word_of_rank_.size() ||
      word_of_rank_[static_cast<std::size_t>(rank)].empty()) {
    return std::nullopt;
  }
  return word_of_rank_[static_cast<std::size_t>(rank)];
}

namespace {

// Encodes with a caller-owned splitter (reused across reviews). `length`
// receives the sequence length before words are dropped (oov_char unset),
// which is the length Keras's maxlen filter looks at.
std::vector<std::int64_t> encode_review(std::string_view review, const KerasWordIndex& index, const KerasImdbOptions& o,
                                        WordSplitter& splitter, std::size_t& length) {
  std::vector<std::int64_t> raw;
  if (o.start_char) raw.push_back(*o.start_char);
  const std::string text = strip_html(review);
  // A word the index lacks gets an id no vocabulary reaches, so that the
  // rules below turn it into oov_char (or drop it) like any rare word.
  constexpr std::int64_t unknown = std::numeric_limits<std::int64_t>::max();
  splitter.for_each_word(text, [&](std::string_view w) {
    const auto r = index.rank(w);
    raw.push_back(r ? *r + o.index_from : unknown);
  });
  length = raw.size();
  // Keras: [w if skip_top <= w < num_words else oov_char for w in x]
  // (or drop w when oov_char is None), applied to start_char too.
  std::vector<std::int64_t> out;
  out.reserve(raw.size());
  for (const std::int64_t w : raw) {
    const bool kept = static_cast<std::size_t>(w) >= o.skip_top && w != unknown &&
                      (!o.num_words || static_cast<std::size_t>(w) < *o.num_words);
    if (kept)
      out.push_back(w);
    else if (o.oov_char)
      out.push_back(*o.oov_char);
  }
  return out;
}

}  // namespace

std::vector<std::int64_t> keras_imdb_encode(std::string_view review, const KerasWordIndex& index,
                                            const KerasImdbOptions& options) {
  WordSplitter splitter;
  std::size_t length = 0;
  return encode_review(review, index, options, splitter, length);
}

KerasImdbData keras_imdb_load_data(const ImdbReviews& reviews, const KerasWordIndex& index,
                                   const KerasImdbOptions& options) {
  std::vector<std::size_t> train = reviews.indices_of(ImdbSplit::train);
  std::vector<std::size_t> test = reviews.indices_of(ImdbSplit::test);
  if (train.empty() && test.empty()) {
    throw std::invalid_argument(
        "keras_imdb_load_data: the reviews have no train/test split "
        "(the CSV form has none; split it with shuffled_split first)");
  }
  if (options.shuffle_seed) {
    Generator gen(*options.shuffle_seed);
    const auto shuffle = [&](std::vector<std::size_t>& rows) {
      const std::vector<std::size_t> p = permutation(rows.size(), gen);
      rows = take(rows, p);
    };
    shuffle(train);
    shuffle(test);
  }
  WordSplitter splitter;
  const auto encode = [&](const std::vector<std::size_t>& rows, std::vector<std::vector<std::int64_t>>& x,
                          std::vector<std::int64_t>& y) {
    for (const std::size_t r : rows) {
      std::size_t length = 0;
      std::vector<std::int64_t> ids = encode_review(reviews.texts[r], index, options, splitter, length);
      // Keras's _remove_long_seq keeps len(x) < maxlen (before the num_words filter).
      if (options.maxlen && length >= *options.maxlen) continue;
      x.push_back(std::move(ids));
      y.push_back(reviews.labels[r]);
    }
  };
  KerasImdbData data;
  encode(train, data.x_train, data.y_train);
  encode(test, data.x_test, data.y_test);
  return data;
}

std::string keras_imdb_decode(std::span<const std::int64_t> ids, const KerasWordIndex& index,
                              const KerasImdbOptions& options) {
  std::string text;
  for (const std::int64_t id : ids) {
    if (!text.empty()) text.push_back(' ');
    // The rank, when it is one (no overflow, within a word index's int32 range).
    std::int64_t rank = 0;
    const bool in_range = id >= options.index_from && !__builtin_sub_overflow(id, options.index_from, &rank) &&
                          rank <= std::numeric_limits<std::int32_t>::max();
    const auto word = in_range ? index.word(static_cast<std::int32_t>(rank)) : std::nullopt;
    text += word ? *word : "?";
  }
  return text;
}

}  // namespace xgrad::data
