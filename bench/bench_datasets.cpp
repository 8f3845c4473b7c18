// Data-pipeline timings on the real IMDB archive ($XGRAD_DATA/imdb/...):
// reading all 50,000 reviews straight from the .tar.gz, and the two lab
// pipelines on top of it (L5: Keras Tokenizer fit + sequences + padding; L4:
// keras.datasets.imdb conventions with the published word index). Each runs
// once: the point is the wall time of a real load, not a micro-benchmark.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <xtensor/xarray.hpp>

#include "xgrad/datasets/imdb.hpp"
#include "xgrad/datasets/tokenizer.hpp"

namespace {

namespace fs = std::filesystem;
using namespace xgrad::data;

std::optional<fs::path> imdb_file(benchmark::State& state, const char* name) {
  const char* env = std::getenv("XGRAD_DATA");
  const fs::path path = fs::path(env ? env : "") / "imdb" / name;
  if (!env || !fs::exists(path)) {
    state.SkipWithError(("set XGRAD_DATA to the shared data folder (needs imdb/" + std::string(name) + ")").c_str());
    return std::nullopt;
  }
  return path;
}

void BM_ImdbLoadArchive(benchmark::State& state) {
  const auto archive = imdb_file(state, "aclImdb_v1_labelled.tar.gz");
  if (!archive) return;
  std::size_t reviews = 0;
  for (auto _ : state) {
    const ImdbReviews r = load_imdb(*archive);
    reviews = r.size();
    benchmark::DoNotOptimize(r.texts.data());
  }
  state.counters["reviews"] = static_cast<double>(reviews);
}

// Lab L5: Tokenizer(num_words=10000, oov_token="<OOV>") on all 50k cleaned
// reviews, texts_to_sequences, pad to 200 (pre padding, post truncation).
void BM_ImdbLoadTokenizePad(benchmark::State& state) {
  const auto archive = imdb_file(state, "aclImdb_v1_labelled.tar.gz");
  if (!archive) return;
  std::size_t vocabulary = 0, words = 0;
  for (auto _ : state) {
    ImdbReviews r = load_imdb(*archive);
    for (std::string& text : r.texts) text = strip_html(text);
    TokenizerConfig config;
    config.num_words = 10000;
    config.oov_token = "<OOV>";
    Tokenizer tokenizer(config);
    tokenizer.fit_on_texts(r.texts);
    const auto sequences = tokenizer.texts_to_sequences(r.texts);
    const xt::xarray<std::int64_t> padded = pad_sequences(sequences, PadOptions{200, PadSide::pre, PadSide::post, 0});
    benchmark::DoNotOptimize(padded.data());
    vocabulary = tokenizer.word_index_size();
    words = 0;
    for (const auto& s : sequences) words += s.size();
  }
  state.counters["vocabulary"] = static_cast<double>(vocabulary);
  state.counters["words"] = static_cast<double>(words);
}

// Lab L4: keras.datasets.imdb.load_data(num_words=10000) from the raw reviews.
void BM_ImdbKerasLoadData(benchmark::State& state) {
  const auto archive = imdb_file(state, "aclImdb_v1_labelled.tar.gz");
  const auto index_path = archive ? imdb_file(state, "imdb_word_index.json") : std::nullopt;
  if (!index_path) return;
  std::size_t train = 0;
  for (auto _ : state) {
    const ImdbReviews r = load_imdb(*archive);
    const KerasWordIndex index = KerasWordIndex::load(*index_path);
    KerasImdbOptions options;
    options.num_words = 10000;
    const KerasImdbData d = keras_imdb_load_data(r, index, options);
    train = d.x_train.size();
    benchmark::DoNotOptimize(d.x_test.data());
  }
  state.counters["train"] = static_cast<double>(train);
}

}  // namespace

BENCHMARK(BM_ImdbLoadArchive)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ImdbLoadTokenizePad)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ImdbKerasLoadData)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
