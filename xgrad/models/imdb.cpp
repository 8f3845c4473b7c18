// Labs L4 (IMDB, Keras recipe) and L5 (IMDB, PyTorch recipe): Embedding ->
// LSTM(128) -> (Dropout) -> Linear(128 -> 1) -> sigmoid, binary
// cross-entropy (on logits, the numerically stable form of sigmoid + BCE),
// Adam lr 1e-3, batch 64.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/datasets/imdb.hpp"
#include "xgrad/datasets/loader.hpp"
#include "xgrad/datasets/padding.hpp"
#include "xgrad/datasets/split.hpp"
#include "xgrad/datasets/tokenizer.hpp"
#include "xgrad/models/experiment_support.hpp"
#include "xgrad/models/zoo_run.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/layer_init.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/optimizer.hpp"
#include "xgrad/nn/recurrent.hpp"

namespace xgrad::zoo {

namespace {

const char* kImdbHowTo =
    "The IMDB reviews are the Large Movie Review Dataset v1.0 (Maas et al., ACL 2011): download aclImdb_v1.tar.gz "
    "from https://ai.stanford.edu/~amaas/data/sentiment/ (the archive, or its extracted aclImdb/ folder, both work).";
const char* kWordIndexHowTo =
    "imdb-keras also needs the Keras word index imdb_word_index.json (keras.datasets.imdb.get_word_index(), from "
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json).";

std::filesystem::path find_reviews(const RunOptions& options) {
  return require_data(options, {"imdb/aclImdb_v1_labelled.tar.gz", "imdb/aclImdb_v1.tar.gz", "imdb/aclImdb", "aclImdb"},
                      kImdbHowTo);
}

struct ImdbModel : nn::Module<> {
  std::shared_ptr<nn::Embedding<>> embedding;
  std::shared_ptr<nn::LSTM<>> lstm;
  std::shared_ptr<nn::Dropout<>> dropout;
  std::shared_ptr<nn::Linear<>> fc;
  ImdbModel(std::size_t vocab, std::size_t embed, std::size_t hidden, double lstm_dropout, double output_dropout)
      : embedding(register_module("embedding", std::make_shared<nn::Embedding<>>(vocab, embed))),
        lstm(register_module("lstm", std::make_shared<nn::LSTM<>>(nn::LSTMOptions{.input_size = embed,
                                                                                  .hidden_size = hidden,
                                                                                  .batch_first = true,
                                                                                  .recurrent_dropout = lstm_dropout,
                                                                                  .input_dropout = lstm_dropout}))),
        dropout(register_module("dropout", std::make_shared<nn::Dropout<>>(output_dropout))),
        fc(register_module("fc", std::make_shared<nn::Linear<>>(hidden, 1))) {}
  // tokens (B, T) -> logits (B, 1)
  Tensor logits(const data::TokenArray& tokens) {
    const Tensor h_last = select(lstm->forward(embedding->forward(tokens), {}, {}).h_n, 0, 0);
    return fc->forward(dropout->forward(h_last));
  }
};

struct Split {
  data::TokenArray tokens;  // (N, T)
  std::vector<std::int64_t> labels;
};

Tensor label_column(const std::vector<std::int64_t>& labels) {
  xt::xarray<float> t = xt::xarray<float>::from_shape({labels.size(), 1});
  for (std::size_t i = 0; i < labels.size(); ++i) t(i, 0) = static_cast<float>(labels[i]);
  return Tensor(std::move(t));
}

Split take(const Split& s, std::span<const std::size_t> rows) {
  return {data::take_rows(s.tokens, rows), data::take(s.labels, rows)};
}

struct ImdbRecipe {
  std::string name, lab;
  std::size_t epochs, vocab, max_len, embed;
  double lstm_dropout, output_dropout;
  bool keep_best;  // L5: keep the best-validation checkpoint
  // L4: Keras's defaults: its initializers (nn/layer_init.hpp) and Adam's
  // epsilon 1e-7. (Keras's binary cross-entropy on a sigmoid output layer
  // uses the sigmoid's logits, as binary_cross_entropy_with_logits does.)
  bool keras_defaults;
};

// Trains on `train`, validates on `val` after every epoch, and reports (with
// the test split's figures when there is one).
RunSummary train_imdb(ZooRun& run, const ImdbRecipe& recipe, const Split& train, const Split& val, const Split* test) {
  const std::size_t batch = run.options().batch_size.value_or(64);
  ImdbModel model(recipe.vocab, recipe.embed, 128, recipe.lstm_dropout, recipe.output_dropout);
  if (recipe.keras_defaults) {
    nn::init::keras_(*model.embedding);
    nn::init::keras_(*model.lstm);
    nn::init::keras_(*model.fc);
  }
  nn::Adam<> opt(model.parameters(),
                 {.lr = run.options().lr.value_or(1e-3), .eps = recipe.keras_defaults ? 1e-7 : 1e-8});
  data::TokenDataLoader train_loader(train.tokens, label_column(train.labels),
                                     {.batch_size = batch, .shuffle = true, .seed = run.options().seed});
  data::TokenDataLoader val_loader(val.tokens, label_column(val.labels), {.batch_size = 256});
  const train::Task<data::TokenBatch> task{[&model](const data::TokenBatch& b) { return model.logits(b.inputs); },
                                           [](const Tensor& logits, const data::TokenBatch& b) {
                                             return nn::binary_cross_entropy_with_logits(logits, b.targets);
                                           }};
  FitSettings settings{.epochs = recipe.epochs, .metrics = {train::binary_accuracy(0.5, /*from_logits=*/true)}};
  if (recipe.keep_best) {  // the best validation accuracy so far, resumed epochs included
    const auto seen = run.column("val_accuracy");
    settings.callbacks.push_back(std::make_shared<train::ModelCheckpoint>(
        run.path("best.npz"),
        train::ModelCheckpointOptions{.monitor = "val_accuracy",
                                      .mode = train::Mode::max,
                                      .initial_value_threshold = seen.empty()
                                                                     ? std::optional<double>()
                                                                     : *std::max_element(seen.begin(), seen.end())}));
  }
  run.fit(model, opt, task, train_loader, settings, &val_loader);
  run.print_epochs({"train_accuracy", "val_loss", "val_accuracy"});

  nlohmann::json final = nlohmann::json::object();
  for (const char* key : {"train_loss", "train_accuracy", "val_loss", "val_accuracy"})
    if (const auto values = run.column(key); !values.empty()) final[key] = values.back();
  const auto val_accuracy = run.column("val_accuracy");
  if (recipe.keep_best && !val_accuracy.empty()) {
    const auto best = std::max_element(val_accuracy.begin(), val_accuracy.end());
    final["best_val_accuracy"] = *best;
    final["best_epoch"] = best - val_accuracy.begin() + 1;
  }
  if (test && !val_accuracy.empty()) {
    data::TokenDataLoader test_loader(test->tokens, label_column(test->labels), {.batch_size = 256});
    const train::Logs t = train::evaluate(model, task, test_loader, {train::binary_accuracy(0.5, true)});
    final["test_loss"] = t.at("loss");
    final["test_accuracy"] = t.at("accuracy");
  }
  run.print_finals(final, {"test_accuracy", "test_loss", "best_val_accuracy", "best_epoch"});
  if (!run.quiet() && final.contains("best_epoch"))
    std::printf("best validation accuracy %.4f at epoch %d (checkpoint %s)\n", final["best_val_accuracy"].get<double>(),
                final["best_epoch"].get<int>(), run.path("best.npz").c_str());
  const std::string title = recipe.name + " (" + recipe.lab + "): ";
  return run.finish(final,
                    {{"loss",
                      title + "loss per epoch",
                      "epoch",
                      "binary cross-entropy",
                      {run.curve("train_loss", "train loss"), run.curve("val_loss", "validation loss")}},
                     {"accuracy",
                      title + "accuracy per epoch",
                      "epoch",
                      "accuracy",
                      {run.curve("train_accuracy", "train accuracy"), run.curve("val_accuracy", "validation accuracy"),
                       run.lab_curve("val_accuracy", "lab validation accuracy")}}});
}

// --quick: at most this many reviews per split, for smoke tests.
std::vector<std::size_t> quick_rows(std::size_t n, std::size_t limit) {
  std::vector<std::size_t> rows;
  const std::size_t step = std::max<std::size_t>(1, n / limit);
  for (std::size_t i = 0; i < n && rows.size() < limit; i += step) rows.push_back(i);
  return rows;
}

RunSummary run_imdb_keras(const RunOptions& options) {
  const ImdbRecipe recipe{"imdb-keras",
                          "L4",
                          options.epochs.value_or(options.quick ? 3 : 5),
                          options.vocab.value_or(options.quick ? 2000 : 10000),
                          options.max_len.value_or(options.quick ? 64 : 200),
                          128,
                          0.2,
                          0.0,
                          false,
                          true};
  const auto reviews_path = find_reviews(options);
  const auto index_path = require_data(options, {"imdb/imdb_word_index.json", "imdb_word_index.json"}, kWordIndexHowTo);
  nlohmann::json config = {
      {"data", reviews_path.string()},
      {"word_index", index_path.string()},
      {"vocab", recipe.vocab},
      {"max_len", recipe.max_len},
      {"embedding", recipe.embed},
      {"hidden", 128},
      {"dropout", 0.2},
      {"recurrent_dropout", 0.2},
      {"init", "keras (glorot_uniform, orthogonal, unit_forget_bias, uniform(-0.05, 0.05) embeddings)"},
      {"adam_epsilon", 1e-7},
      {"batch_size", options.batch_size.value_or(64)},
      {"lr", options.lr.value_or(1e-3)},
      {"epochs", recipe.epochs},
      {"validation_split", 0.2},
      {"seed", options.seed},
      {"threads", options.threads},
      {"quick", options.quick}};
  ZooRun run(options, recipe.name, recipe.lab, config);
  if (!options.quiet) std::printf("loading %s ...\n", reviews_path.string().c_str());
  const data::ImdbReviews reviews = data::load_imdb(reviews_path);
  const data::KerasWordIndex index = data::KerasWordIndex::load(index_path);
  const data::KerasImdbData kd = data::keras_imdb_load_data(reviews, index, {.num_words = recipe.vocab});
  const data::PadOptions pad{.maxlen = recipe.max_len};  // Keras defaults: pad and truncate at the front
  Split train_all{data::pad_sequences(kd.x_train, pad), kd.y_train};
  Split test{data::pad_sequences(kd.x_test, pad), kd.y_test};
  if (options.quick) {
    train_all = take(train_all, quick_rows(train_all.labels.size(), 2000));
    test = take(test, quick_rows(test.labels.size(), 1000));
  }
  const data::IndexSplit vs = data::validation_split(train_all.labels.size(), 0.2);  // the last 20%
  const Split train = take(train_all, vs.train), val = take(train_all, vs.held_out);
  if (!options.quiet) {
    std::printf("train %zu, validation %zu (the last 20%% of train), test %zu reviews; sequences of %zu ids\n\n",
                train.labels.size(), val.labels.size(), test.labels.size(), recipe.max_len);
  }
  return train_imdb(run, recipe, train, val, &test);
}

RunSummary run_imdb_torch(const RunOptions& options) {
  const ImdbRecipe recipe{"imdb-torch",
                          "L5",
                          options.epochs.value_or(options.quick ? 3 : 25),
                          options.vocab.value_or(options.quick ? 2000 : 10000),
                          options.max_len.value_or(options.quick ? 64 : 200),
                          64,
                          0.0,
                          0.5,
                          true,
                          false};
  const std::uint32_t split_seed = 42;
  const auto reviews_path = find_reviews(options);
  nlohmann::json config = {{"data", reviews_path.string()},
                           {"vocab", recipe.vocab},
                           {"oov_token", "<OOV>"},
                           {"max_len", recipe.max_len},
                           {"padding", "pre"},
                           {"truncating", "post"},
                           {"embedding", 64},
                           {"hidden", 128},
                           {"dropout", 0.5},
                           {"batch_size", options.batch_size.value_or(64)},
                           {"lr", options.lr.value_or(1e-3)},
                           {"epochs", recipe.epochs},
                           {"test_size", 0.2},
                           {"split_seed", split_seed},
                           {"seed", options.seed},
                           {"threads", options.threads},
                           {"quick", options.quick}};
  ZooRun run(options, recipe.name, recipe.lab, config);
  if (!options.quiet) std::printf("loading %s ...\n", reviews_path.string().c_str());
  data::ImdbReviews reviews = data::load_imdb(reviews_path);  // all 50,000, pooled
  if (options.quick) reviews = reviews.subset(quick_rows(reviews.size(), 3000));
  std::vector<std::string> texts;
  texts.reserve(reviews.size());
  for (const auto& t : reviews.texts) texts.push_back(data::strip_html(t));
  const data::IndexSplit split = data::shuffled_split(texts.size(), 0.2, split_seed);  // 80/20
  data::Tokenizer tokenizer({.num_words = recipe.vocab, .oov_token = "<OOV>"});
  tokenizer.fit_on_texts(data::take(texts, split.train));  // fit on the training part only
  const data::PadOptions pad{
      .maxlen = recipe.max_len, .padding = data::PadSide::pre, .truncating = data::PadSide::post};
  const auto sequences = tokenizer.texts_to_sequences(texts);
  const Split all{data::pad_sequences(sequences, pad), reviews.labels};
  const Split train = take(all, split.train), val = take(all, split.held_out);
  if (writes_run_folder())
    tokenizer.save(run.path("tokenizer.json"));  // to classify new text with the checkpoint later
  if (!options.quiet) {
    std::printf("train %zu, validation %zu reviews (80/20, seed %u); vocabulary %zu words seen, %zu kept\n\n",
                train.labels.size(), val.labels.size(), split_seed, tokenizer.word_index_size(), recipe.vocab);
  }
  return train_imdb(run, recipe, train, val, nullptr);
}

// Classifies reviews with a finished run's model, encoding them as the run
// did: imdb-torch through its tokenizer.json with its padding, imdb-keras
// through the Keras word index with Keras's (pre, pre).
std::string predict_imdb(const std::string& run_dir, const PredictOptions& request, const std::string& name) {
  const RunFolder folder = open_run_folder(run_dir, name);
  const nlohmann::json& c = folder.config;
  if (request.texts.empty()) throw std::invalid_argument("predict " + run_dir + ": no review text given");
  const bool keras = name == "imdb-keras";
  ImdbModel model(c.at("vocab").get<std::size_t>(), c.at("embedding").get<std::size_t>(),
                  c.at("hidden").get<std::size_t>(), 0.0, 0.0);
  folder.load_into(model);
  std::vector<std::vector<std::int64_t>> ids;
  if (keras) {
    const data::KerasWordIndex index = data::KerasWordIndex::load(c.at("word_index").get<std::string>());
    for (const auto& text : request.texts)
      ids.push_back(data::keras_imdb_encode(text, index, {.num_words = c.at("vocab").get<std::size_t>()}));
  } else {
    const data::Tokenizer tokenizer = data::Tokenizer::load(std::filesystem::path(run_dir) / "tokenizer.json");
    for (const auto& text : request.texts) ids.push_back(tokenizer.text_to_sequence(data::strip_html(text)));
  }
  const auto side = [&](const char* key) {
    return c.value(key, std::string("pre")) == "post" ? data::PadSide::post : data::PadSide::pre;
  };
  const data::TokenArray tokens = data::pad_sequences(
      ids,
      {.maxlen = c.at("max_len").get<std::size_t>(), .padding = side("padding"), .truncating = side("truncating")});
  NoGradGuard no_grad;
  model.eval();
  const Tensor p = sigmoid(model.logits(tokens));  // (N, 1)
  std::string out;
  for (std::size_t i = 0; i < request.texts.size(); ++i) {
    const float prob = p.value()(i, 0);
    char line[64];
    std::snprintf(line, sizeof line, "%s %.3f  ", prob >= 0.5f ? "positive" : "negative", prob);
    out += line + request.texts[i].substr(0, 70) + (request.texts[i].size() > 70 ? "..." : "") + "\n";
  }
  return out;
}

}  // namespace

Experiment imdb_keras_experiment() {
  return {"imdb-keras",
          "L4",
          "IMDB sentiment, Keras recipe: 25k/25k, vocab 10k, Embedding 128, LSTM 128 with dropouts",
          "IMDB reviews and the Keras word index (imdb/ in the data folder)",
          run_imdb_keras,
          [](const std::string& dir, const PredictOptions& p) { return predict_imdb(dir, p, "imdb-keras"); }};
}

Experiment imdb_torch_experiment() {
  return {"imdb-torch",
          "L5",
          "IMDB sentiment, PyTorch recipe: 50k pooled, 80/20, tokenizer with OOV, keeps the best epoch",
          "IMDB reviews (imdb/ in the data folder)",
          run_imdb_torch,
          [](const std::string& dir, const PredictOptions& p) { return predict_imdb(dir, p, "imdb-torch"); }};
}

}  // namespace xgrad::zoo
