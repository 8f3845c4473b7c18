// Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/:
// valid files of each format as xgrad and NumPy/Keras write them, so that
// the fuzzers start from deep inside each parser. Usage:
//   build-fuzz/fuzz/fuzz_make_seeds fuzz/corpus
#include <archive.h>
#include <archive_entry.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/npz.hpp"
#include "xgrad/datasets/tokenizer.hpp"
#include "xgrad/nn/checkpoint.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/optimizer.hpp"
#include "xgrad/nn/recurrent.hpp"

namespace fs = std::filesystem;
using namespace xgrad;

namespace {

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The same model as fuzz_checkpoint.cpp, so a seed loads all the way.
struct TinyModel : nn::Module<> {
  std::shared_ptr<nn::LSTM<>> lstm = register_module(
      "lstm", std::make_shared<nn::LSTM<>>(nn::LSTMOptions{.input_size = 1, .hidden_size = 2, .batch_first = true}));
  std::shared_ptr<nn::Linear<>> fc = register_module("fc", std::make_shared<nn::Linear<>>(2, 1));
  Tensor forward(const Tensor& x) override { return fc->forward(x); }
};

void write_tar_gz(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& files) {
  fs::create_directories(path.parent_path());
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  archive_write_open_filename(a, path.string().c_str());
  for (const auto& [name, content] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  // .npy: each dtype, rank 0..3, Fortran order, empty.
  write(root / "fuzz_npy/f4_2x3.npy", io::encode_npy(xt::xarray<float>({{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}})));
  write(root / "fuzz_npy/f8_scalar.npy", io::encode_npy(xt::xarray<double>(2.5)));
  write(root / "fuzz_npy/i8_3.npy", io::encode_npy(xt::xarray<std::int64_t>({1, -2, 3})));
  write(root / "fuzz_npy/i4_2x1x2.npy", io::encode_npy(xt::xarray<std::int32_t>({{{1, 2}}, {{3, 4}}})));
  write(root / "fuzz_npy/f4_empty.npy", io::encode_npy(xt::xarray<float>(xt::zeros<float>({0, 3}))));
  std::string fortran = io::encode_npy(xt::xarray<float>({{0.f, 3.f}, {1.f, 4.f}, {2.f, 5.f}}));
  fortran.replace(fortran.find("False"), 5, "True ");
  write(root / "fuzz_npy/f4_fortran.npy", fortran);
  // A checkpoint with Adam state, and one without.
  fs::create_directories(root / "fuzz_checkpoint");
  TinyModel model;
  nn::Adam<> opt(model.parameters());
  Tensor loss = sum(model.fc->forward(Tensor::ones({3, 2})));
  loss.backward();
  opt.step();
  nn::save_checkpoint((root / "fuzz_checkpoint/with_adam.npz").string(), model, &opt,
                      nn::CheckpointInfo{.epoch = 3, .rng_state = "", .extra_json = "{\"lr\": 0.01}"});
  nn::save_checkpoint((root / "fuzz_checkpoint/model_only.npz").string(), model,
                      static_cast<const nn::Optimizer<>*>(nullptr),
                      nn::CheckpointInfo{.epoch = 0, .rng_state = "", .extra_json = "{}"});
  // CSV: the shapes the time-series reader meets.
  write(root / "fuzz_csv/airline.csv", "\"Month\",\"Passengers\"\n\"1949-01\",112\n\"1949-02\",118\n\"1949-03\",132\n");
  write(root / "fuzz_csv/quoted.csv", "a,b,c\r\n1,\"x, \"\"y\"\"\nz\",3\r\n\r\n4,5,+6.5e-3");
  write(root / "fuzz_csv/bom.csv",
        "\xEF\xBB\xBF"
        "Date,Temp\n1981-01-01,20.7\n1981-01-02,17.9\n");
  // A Keras tokenizer JSON with an OOV token, and a word index.
  data::Tokenizer tokenizer({.num_words = 10, .text = {}, .oov_token = "<OOV>"});
  tokenizer.fit_on_texts({"the movie was great", "the movie was bad, really bad", "not great at all"});
  write(root / "fuzz_tokenizer_json/keras.json", tokenizer.to_json());
  write(root / "fuzz_word_index/small.json", R"({"the": 1, "and": 2, "a": 3, "movie": 4, "great": 5})");
  // An aclImdb-layout archive.
  write_tar_gz(root / "fuzz_imdb_archive/tiny.tar.gz", {{"aclImdb/train/pos/1_9.txt", "Loved it.<br />Great"},
                                                        {"aclImdb/train/neg/2_1.txt", "Awful"},
                                                        {"aclImdb/test/pos/3_8.txt", "Fine"},
                                                        {"aclImdb/test/neg/4_2.txt", "Boring"}});
  std::printf("seeds written under %s\n", root.string().c_str());
  return 0;
}
