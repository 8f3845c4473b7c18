#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <numeric>

#include <archive.h>
#include <archive_entry.h>
#include <xtensor/xarray.hpp>

#include "helpers.hpp"
#include "xgrad/datasets/file_io.hpp"
#include "xgrad/datasets/imdb.hpp"
#include "xgrad/datasets/split.hpp"
#include "xgrad/datasets/tokenizer.hpp"

using namespace xgrad::data;
using xgrad::data::testing::contains;
using xgrad::data::testing::error_of;
using xgrad::data::testing::ScratchDir;
using Files = std::vector<std::pair<std::string, std::string>>;
using Ids = std::vector<std::int64_t>;
namespace fs = std::filesystem;

namespace {

// Incompressible filler, so that cutting the .tar.gz in half cuts real data.
std::string noise_text(std::size_t n) {
  std::string s(n, ' ');
  std::uint32_t state = 12345;
  for (char& c : s) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>('a' + (state >> 24) % 26);
  }
  return s;
}

// A small aclImdb-layout data set: reviews out of id order, files that are
// not reviews, a newline and U+0085 inside reviews.
Files tiny_acl_imdb() {
  return {
      {"aclImdb/README", "not a review"},
      {"aclImdb/train/urls_pos.txt", "http://example.invalid/\n"},
      {"aclImdb/train/pos/10_9.txt", "Loved it.<br /><br />Great \xC2\x85 film"},
      {"aclImdb/train/pos/2_8.txt", "Fine\nacting"},
      {"aclImdb/train/neg/0_1.txt", "Awful. Truly bad. " + noise_text(200000)},
      {"aclImdb/train/unsup/0_0.txt", "unlabelled, ignored"},
      {"aclImdb/test/pos/0_10.txt", "A masterpiece"},
      {"aclImdb/test/neg/3_2.txt", "Boring"},
      {"aclImdb/test/neg/1_4.txt", "\"Meh\", said I\tand left"},
  };
}

Files without(Files files, const std::string& folder) {
  std::erase_if(files, [&](const auto& f) { return f.first.find(folder) != std::string::npos; });
  return files;
}

// Writes `files` as a gzip-compressed tar with libarchive (plus one directory entry).
void write_tar_gz(const fs::path& path, const Files& files) {
  archive* a = archive_write_new();
  REQUIRE(archive_write_add_filter_gzip(a) == ARCHIVE_OK);
  REQUIRE(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
  REQUIRE(archive_write_open_filename(a, path.string().c_str()) == ARCHIVE_OK);
  archive_entry* dir = archive_entry_new();
  archive_entry_set_pathname(dir, "aclImdb/");
  archive_entry_set_filetype(dir, AE_IFDIR);
  archive_entry_set_perm(dir, 0755);
  REQUIRE(archive_write_header(a, dir) == ARCHIVE_OK);
  archive_entry_free(dir);
  for (const auto& [name, content] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
    REQUIRE(archive_write_data(a, content.data(), content.size()) == static_cast<la_ssize_t>(content.size()));
    archive_entry_free(e);
  }
  REQUIRE(archive_write_close(a) == ARCHIVE_OK);
  archive_write_free(a);
}

void write_folder(const fs::path& root, const Files& files) {
  for (const auto& [name, content] : files) {
    fs::create_directories((root / name).parent_path());
    write_file_bytes(root / name, content, "test file");
  }
}

// The expected order: split (train first), label (neg first), numeric id.
void check_tiny(const ImdbReviews& r) {
  REQUIRE(r.size() == 6);
  CHECK(r.ids == Ids{0, 2, 10, 1, 3, 0});
  CHECK(r.labels == Ids{0, 1, 1, 0, 0, 1});
  CHECK(r.ratings == Ids{1, 8, 9, 4, 2, 10});
  CHECK(r.splits == std::vector<ImdbSplit>{ImdbSplit::train, ImdbSplit::train, ImdbSplit::train, ImdbSplit::test,
                                           ImdbSplit::test, ImdbSplit::test});
  CHECK(r.texts[1] == "Fine\nacting");  // read whole, newline kept
  CHECK(r.texts[2] == "Loved it.<br /><br />Great \xC2\x85 film");
  CHECK(r.texts[0].size() == 18 + 200000);
  CHECK(r.texts[3] == "\"Meh\", said I\tand left");
}

}  // namespace

TEST_CASE("IMDB archive written here: read in place, sorted, non-review files ignored") {
  ScratchDir dir;
  const fs::path archive_path = dir / "tiny.tar.gz";
  write_tar_gz(archive_path, tiny_acl_imdb());
  check_tiny(load_imdb_archive(archive_path));
  check_tiny(load_imdb(archive_path));  // picks the archive reader
  ImdbLoadOptions test_only;
  test_only.train = false;
  const ImdbReviews test = load_imdb(archive_path, test_only);
  CHECK(test.ids == Ids{1, 3, 0});
  CHECK(test.indices_of(ImdbSplit::train).empty());
}

TEST_CASE("IMDB folder: same reviews as the archive, from aclImdb or its parent") {
  ScratchDir dir;
  write_folder(dir.path(), tiny_acl_imdb());
  check_tiny(load_imdb(dir.path()));
  check_tiny(load_imdb_folder(dir / "aclImdb"));
  const ImdbReviews r = load_imdb(dir.path());
  const std::vector<std::size_t> train = r.indices_of(ImdbSplit::train);
  CHECK(train == std::vector<std::size_t>{0, 1, 2});
  CHECK(r.subset(std::vector<std::size_t>{5, 0}).ids == Ids{0, 0});
  CHECK(r.subset(std::vector<std::size_t>{5, 0}).labels == Ids{1, 0});
}

TEST_CASE("IMDB: missing paths, empty and truncated archives, missing label folders") {
  ScratchDir dir;
  CHECK(contains(error_of([&] { load_imdb(dir / "nowhere.tar.gz"); }), "IMDB data not found"));
  CHECK(contains(error_of([&] { load_imdb_archive(dir / "nowhere.tar.gz"); }), "nowhere.tar.gz"));
  CHECK(contains(error_of([&] { load_imdb_folder(dir / "nowhere"); }), "IMDB folder not found"));

  write_file_bytes(dir / "empty.tar.gz", "", "test file");
  CHECK(contains(error_of([&] { load_imdb(dir / "empty.tar.gz"); }), "empty"));
  write_file_bytes(dir / "junk.tar.gz", "this is not an archive at all", "test file");
  CHECK_THROWS_AS(load_imdb(dir / "junk.tar.gz"), std::runtime_error);

  write_tar_gz(dir / "full.tar.gz", tiny_acl_imdb());
  const std::string bytes = read_file_bytes(dir / "full.tar.gz", "test archive");
  write_file_bytes(dir / "truncated.tar.gz", bytes.substr(0, bytes.size() / 2), "test file");
  const std::string truncated = error_of([&] { load_imdb(dir / "truncated.tar.gz"); });
  CHECK(contains(truncated, "truncated.tar.gz"));
  CHECK(contains(truncated, "truncated"));

  write_tar_gz(dir / "no_neg.tar.gz", without(tiny_acl_imdb(), "train/neg/"));
  const std::string no_neg = error_of([&] { load_imdb(dir / "no_neg.tar.gz"); });
  CHECK(contains(no_neg, "no_neg.tar.gz"));
  CHECK(contains(no_neg, "no reviews under train/neg/"));
  write_tar_gz(dir / "readme_only.tar.gz", Files{{"aclImdb/README", "x"}});
  CHECK(contains(error_of([&] { load_imdb(dir / "readme_only.tar.gz"); }), "no reviews under train/neg/"));

  write_folder(dir / "partial", without(tiny_acl_imdb(), "test/pos/"));
  const std::string no_pos = error_of([&] { load_imdb(dir / "partial"); });
  CHECK(contains(no_pos, "has no test/pos/ folder"));
  ImdbLoadOptions train_only;
  train_only.test = false;
  CHECK(load_imdb(dir / "partial", train_only).size() == 3);  // test/ is not needed then
  fs::create_directories(dir / "partial/aclImdb/test/pos");
  CHECK(contains(error_of([&] { load_imdb(dir / "partial"); }), "no reviews under test/pos/"));
}

TEST_CASE("IMDB: damaged compressed data and duplicate reviews are errors, never a partial load") {
  ScratchDir dir;
  write_tar_gz(dir / "full.tar.gz", tiny_acl_imdb());
  const std::string bytes = read_file_bytes(dir / "full.tar.gz", "test archive");
  REQUIRE(load_imdb(dir / "full.tar.gz").size() == 6);
  // 64 flipped bytes anywhere past the gzip header: a deflate data error, a
  // damaged tar header (libarchive's ARCHIVE_RETRY) or a CRC mismatch.
  int refused = 0, tried = 0;
  for (std::size_t at = 32; at + 64 < bytes.size(); at += bytes.size() / 23) {
    std::string damaged = bytes;
    for (std::size_t i = at; i < at + 64; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0x5A);
    write_file_bytes(dir / "damaged.tar.gz", damaged, "test file");
    ++tried;
    try {
      load_imdb(dir / "damaged.tar.gz");
      MESSAGE("loaded despite damage at byte " << at << " of " << bytes.size());
    } catch (const std::runtime_error& e) {
      ++refused;
      CHECK(contains(e.what(), "damaged.tar.gz"));
    }
  }
  CHECK(tried >= 20);
  CHECK(refused == tried);

  Files twice = tiny_acl_imdb();
  twice.push_back({"aclImdb/train/pos/2_8.txt", "a second copy"});
  write_tar_gz(dir / "twice.tar.gz", twice);
  CHECK(contains(error_of([&] { load_imdb(dir / "twice.tar.gz"); }), "train/pos/2_*.txt appears more than once"));
  Files rerated = tiny_acl_imdb();
  rerated.push_back({"aclImdb/test/neg/3_1.txt", "same id, other rating"});
  write_folder(dir / "rerated", rerated);
  CHECK(contains(error_of([&] { load_imdb(dir / "rerated"); }), "test/neg/3_*.txt appears more than once"));
}

TEST_CASE("IMDB real archive with 64 bytes flipped late or early is refused (the issue's two cases)") {
  const auto data = xgrad::data::testing::real_data_dir("imdb/aclImdb_v1_labelled.tar.gz");
  if (!data) return;
  ScratchDir dir;
  const std::string bytes = read_file_bytes(*data / "imdb/aclImdb_v1_labelled.tar.gz", "IMDB archive");
  for (const std::size_t at : {std::size_t{27'500'000}, std::size_t{20'000'000}}) {
    CAPTURE(at);
    std::string damaged = bytes;
    for (std::size_t i = at; i < at + 64; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0xFF);
    write_file_bytes(dir / "damaged.tar.gz", damaged, "test file");
    const std::string error = error_of([&] { load_imdb(dir / "damaged.tar.gz"); });
    CHECK(contains(error, "damaged"));
    CHECK(!contains(error, "no reviews under"));  // not blamed on a missing folder
  }
}

TEST_CASE("IMDB CSV form: review,sentiment with quoted multi-line reviews") {
  ScratchDir dir;
  write_file_bytes(dir / "imdb.csv",
                   "review,sentiment\r\n\"Great, \"\"really\"\"\r\nfun<br />\",positive\r\nBad,negative\r\n"
                   "\"Loved \xC2\x85 it\",positive",
                   "test csv");
  const ImdbReviews r = load_imdb(dir / "imdb.csv");
  REQUIRE(r.size() == 3);
  CHECK(r.texts[0] == "Great, \"really\"\r\nfun<br />");
  CHECK(r.labels == Ids{1, 0, 1});
  CHECK(r.ids == Ids{0, 1, 2});
  CHECK(r.ratings == Ids{0, 0, 0});
  CHECK(r.splits[2] == ImdbSplit::unspecified);
  write_file_bytes(dir / "neutral.csv", "review,sentiment\nOk,neutral\n", "test csv");
  CHECK(contains(error_of([&] { load_imdb_csv(dir / "neutral.csv"); }),
                 "line 2, column 2 (\"sentiment\"): \"neutral\" is neither positive nor negative"));
  write_file_bytes(dir / "nolabel.csv", "review,score\nOk,1\n", "test csv");
  CHECK(contains(error_of([&] { load_imdb_csv(dir / "nolabel.csv"); }), "no column named \"sentiment\""));
  CHECK_THROWS_AS(keras_imdb_load_data(r, KerasWordIndex::from_json(R"({"a": 1})")), std::invalid_argument);
}

TEST_CASE("keras.datasets.imdb conventions: 1 start, 2 OOV, rank + 3, num_words, skip_top") {
  const KerasWordIndex index = KerasWordIndex::from_json(R"({"the": 1, "movie": 2, "great": 3, "bad": 4})");
  CHECK(index.size() == 4);
  CHECK(index.rank("great") == 3);
  CHECK(index.word(4) == "bad");
  const std::string review = "The movie was GREAT<br />great!";
  // the -> 4, movie -> 5, "was" is not in the index -> 2, great -> 6; <br /> is stripped.
  CHECK(keras_imdb_encode(review, index) == Ids{1, 4, 5, 2, 6, 6});
  KerasImdbOptions cut;
  cut.num_words = 6;  // ids >= 6 become 2
  CHECK(keras_imdb_encode(review, index, cut) == Ids{1, 4, 5, 2, 2, 2});
  KerasImdbOptions skip;
  skip.skip_top = 5;  // ids < 5 become 2, the start mark included (as in Keras)
  CHECK(keras_imdb_encode(review, index, skip) == Ids{2, 2, 5, 2, 6, 6});
  KerasImdbOptions drop;
  drop.oov_char = std::nullopt;
  CHECK(keras_imdb_encode(review, index, drop) == Ids{1, 4, 5, 6, 6});
  CHECK(keras_imdb_decode(Ids{1, 4, 5, 2, 6}, index) == "? the movie ? great");
  CHECK(contains(error_of([] { KerasWordIndex::from_json(R"({"a": 0})", "wi.json"); }), "wi.json"));
  CHECK(contains(error_of([] { KerasWordIndex::from_json("{", "wi.json"); }), "malformed"));
  // Hostile ranks: int overflow (2147483647 + 1) and a 32 GB table (1e9)
  // are refused by the range 1..N, duplicates and fractions by name.
  CHECK(contains(error_of([] { KerasWordIndex::from_json(R"({"a": 2147483647})", "wi.json"); }), "from 1 to 1"));
  CHECK(contains(error_of([] { KerasWordIndex::from_json(R"({"a": 1, "b": 1000000000})", "wi.json"); }),
                 "\"b\" is 1000000000"));
  CHECK(contains(error_of([] { KerasWordIndex::from_json(R"({"a": 1, "b": 1})", "wi.json"); }),
                 "rank 1 is given to both"));
  CHECK(contains(error_of([] { KerasWordIndex::from_json(R"({"a": 1.5})", "wi.json"); }), "expected an integer"));
  CHECK(contains(error_of([] { KerasWordIndex::from_json("{\"a\\u0000b\": 9}", "wi.json"); }), "a\\x00b"));
}

TEST_CASE("keras_imdb_load_data on the tiny archive: splits kept, seeded shuffle") {
  ScratchDir dir;
  write_folder(dir.path(), tiny_acl_imdb());
  const ImdbReviews reviews = load_imdb(dir.path());
  const KerasWordIndex index = KerasWordIndex::from_json(R"({"a": 1, "masterpiece": 2, "boring": 3})");
  const KerasImdbData d = keras_imdb_load_data(reviews, index);
  REQUIRE(d.x_train.size() == 3);
  REQUIRE(d.x_test.size() == 3);
  CHECK(std::count(d.y_train.begin(), d.y_train.end(), 1) == 2);
  CHECK(std::count(d.y_test.begin(), d.y_test.end(), 1) == 1);
  for (std::size_t i = 0; i < 3; ++i) {
    // Each test review's label goes with its own text.
    if (d.x_test[i] == Ids{1, 4, 5}) CHECK(d.y_test[i] == 1);  // "A masterpiece"
    if (d.x_test[i] == Ids{1, 6}) CHECK(d.y_test[i] == 0);     // "Boring"
  }
  const KerasImdbData again = keras_imdb_load_data(reviews, index);
  CHECK(again.x_train == d.x_train);
  KerasImdbOptions in_order;
  in_order.shuffle_seed = std::nullopt;
  CHECK(keras_imdb_load_data(reviews, index, in_order).y_train == Ids{0, 1, 1});
  KerasImdbOptions short_only;
  short_only.maxlen = 4;  // Keras keeps len < maxlen: [1, a, masterpiece] and [1, boring] stay
  CHECK(keras_imdb_load_data(reviews, index, short_only).x_test.size() == 2);  // the 6-id "Meh" review goes
  short_only.maxlen = 3;
  CHECK(keras_imdb_load_data(reviews, index, short_only).x_test.size() == 1);
}

TEST_CASE("IMDB real archive: 25k/25k, 12.5k per class, Keras L4 pipeline") {
  const auto data = xgrad::data::testing::real_data_dir("imdb/aclImdb_v1_labelled.tar.gz");
  if (!data) return;
  const ImdbReviews r = load_imdb(*data / "imdb/aclImdb_v1_labelled.tar.gz");
  REQUIRE(r.size() == 50000);
  std::map<std::pair<ImdbSplit, std::int64_t>, int> per_class;
  std::map<std::pair<ImdbSplit, std::int64_t>, int> per_rating;
  std::size_t bytes = 0, with_nel = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    ++per_class[{r.splits[i], r.labels[i]}];
    ++per_rating[{r.splits[i], r.ratings[i]}];
    bytes += r.texts[i].size();
    if (r.texts[i].find("\xC2\x85") != std::string::npos) ++with_nel;
    CHECK((r.labels[i] == 1 ? r.ratings[i] >= 7 : r.ratings[i] <= 4));
  }
  CHECK(r.indices_of(ImdbSplit::train).size() == 25000);
  CHECK(r.indices_of(ImdbSplit::test).size() == 25000);
  CHECK(per_class[{ImdbSplit::train, 0}] == 12500);
  CHECK(per_class[{ImdbSplit::train, 1}] == 12500);
  CHECK(per_class[{ImdbSplit::test, 0}] == 12500);
  CHECK(per_class[{ImdbSplit::test, 1}] == 12500);
  // Published aclImdb statistics (data README): 1-star and 10-star counts.
  CHECK(per_rating[{ImdbSplit::train, 1}] == 5100);
  CHECK(per_rating[{ImdbSplit::train, 10}] == 4732);
  CHECK(per_rating[{ImdbSplit::test, 1}] == 5022);
  CHECK(per_rating[{ImdbSplit::test, 10}] == 4999);
  CHECK(bytes == 65483508);  // every file read whole
  CHECK(with_nel > 0);       // U+0085 kept inside the texts
  CHECK(r.ids.front() == 0);
  CHECK(r.labels.front() == 0);

  const auto index_path = *data / "imdb/imdb_word_index.json";
  if (!fs::exists(index_path)) return;
  const KerasWordIndex index = KerasWordIndex::load(index_path);
  CHECK(index.size() == 88584);
  CHECK(index.rank("the") == 1);
  CHECK(index.rank("br") == 7);
  KerasImdbOptions o;
  o.num_words = 10000;
  const KerasImdbData d = keras_imdb_load_data(r, index, o);
  REQUIRE(d.x_train.size() == 25000);
  REQUIRE(d.x_test.size() == 25000);
  std::size_t oov = 0, total = 0;
  for (const auto& seq : d.x_train) {
    CHECK(seq.front() == 1);
    CHECK(*std::max_element(seq.begin(), seq.end()) < 10000);
    oov += static_cast<std::size_t>(std::count(seq.begin(), seq.end(), 2));
    total += seq.size();
  }
  // With HTML stripped and a 10k vocabulary, a few percent of words are OOV.
  CHECK(static_cast<double>(oov) / static_cast<double>(total) < 0.1);
  const xt::xarray<std::int64_t> x = pad_sequences(d.x_train, 200);
  CHECK(x.shape() == std::vector<std::size_t>{25000, 200});
  // validation_split(0.2) after the shuffle: both classes in the held-out part.
  const IndexSplit v = validation_split(d.y_train.size(), 0.2);
  const auto positives =
      std::count_if(v.held_out.begin(), v.held_out.end(), [&](std::size_t i) { return d.y_train[i] == 1; });
  CHECK(positives > 2250);
  CHECK(positives < 2750);
}
