// Classifies movie reviews with a model trained by `xgrad zoo run imdb-torch`:
//   sentiment RUN_DIR "review text" ["another review" ...]
//   sentiment RUN_DIR < reviews.txt          (one review per line)
// The run folder holds what inference needs: best.npz (the weights of the
// best validation epoch), tokenizer.json (the vocabulary the model was
// trained with) and metrics.json (the run's settings: max_len, padding).
// The text goes through the same steps as in training: HTML stripped,
// tokenized with the run's tokenizer, padded or cut to max_len.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <xgrad/datasets/padding.hpp>
#include <xgrad/datasets/tokenizer.hpp>
#include <xgrad/nn.hpp>

using namespace xgrad;

namespace {

// The zoo's L5 model: Embedding -> LSTM -> (Dropout) -> Linear -> one logit.
struct ImdbModel : nn::Module<> {
  std::shared_ptr<nn::Embedding<>> embedding;
  std::shared_ptr<nn::LSTM<>> lstm;
  std::shared_ptr<nn::Linear<>> fc;
  ImdbModel(std::size_t vocab, std::size_t embed, std::size_t hidden)
      : embedding(register_module("embedding", std::make_shared<nn::Embedding<>>(vocab, embed))),
        lstm(register_module("lstm", std::make_shared<nn::LSTM<>>(nn::LSTMOptions{
                                         .input_size = embed, .hidden_size = hidden, .batch_first = true}))),
        fc(register_module("fc", std::make_shared<nn::Linear<>>(hidden, 1))) {}
  // ids (B, T) -> P(positive) (B, 1)
  Tensor probability(const xt::xarray<std::int64_t>& ids) {
    return sigmoid(fc->forward(select(lstm->forward(embedding->forward(ids), {}, {}).h_n, 0, 0)));
  }
};

data::PadSide side(const nlohmann::json& config, const char* key) {
  const std::string s = config.value(key, std::string("pre"));
  if (s != "pre" && s != "post")
    throw std::runtime_error(std::string("metrics.json: config.") + key + " is '" + s + "'");
  return s == "pre" ? data::PadSide::pre : data::PadSide::post;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sentiment RUN_DIR [REVIEW ...]   (no REVIEW: one per line on stdin)\n");
    return 2;
  }
  const std::string run = argv[1];
  std::ifstream metrics_file(run + "/metrics.json");
  if (!metrics_file)
    throw std::runtime_error("no metrics.json in " + run + " (a folder written by `xgrad zoo run imdb-torch`)");
  const nlohmann::json config = nlohmann::json::parse(metrics_file).at("config");
  const data::Tokenizer tokenizer = data::Tokenizer::load(run + "/tokenizer.json");
  const data::PadOptions pad{.maxlen = config.at("max_len").get<std::size_t>(),
                             .padding = side(config, "padding"),
                             .truncating = side(config, "truncating")};

  ImdbModel model(config.at("vocab").get<std::size_t>(), config.at("embedding").get<std::size_t>(),
                  config.at("hidden").get<std::size_t>());
  nn::load_checkpoint(run + "/best.npz", model);  // weights only; the generator is left alone
  model.eval();
  NoGradGuard no_grad;

  std::vector<std::string> reviews(argv + 2, argv + argc);
  if (reviews.empty())
    for (std::string line; std::getline(std::cin, line);)
      if (!line.empty()) reviews.push_back(line);
  for (const std::string& review : reviews) {
    const auto ids = data::pad_sequences({tokenizer.text_to_sequence(data::strip_html(review))}, pad);
    const float p = model.probability(ids).item();
    std::printf("%s %.3f  %s\n", p >= 0.5f ? "positive" : "negative", p, review.substr(0, 70).c_str());
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "sentiment: %s\n", e.what());
  return 1;
}
