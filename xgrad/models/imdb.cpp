// Labs L4 (IMDB, Keras recipe) and L5 (IMDB, PyTorch recipe): Embedding ->
// LSTM(128) -> (Dropout) -> Linear(128 -> 1) -> sigmoid, binary
// cross-entropy (on logits, the numerically stable form of sigmoid + BCE),
// Adam lr 1e-3, batch 64.
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
#include "xgrad/models/progress.hpp"
#include "xgrad/models/run_record.hpp"
#include "xgrad/models/training_session.hpp"
#include "xgrad/nn/checkpoint.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/embedding.hpp"
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

// Correct sign predictions of logits (B, 1) against 0/1 targets (B, 1).
std::size_t count_correct(const Tensor& logits, const Tensor& targets) {
  std::size_t correct = 0;
  for (std::size_t i = 0; i < logits.size(0); ++i)
    correct += (logits.value()(i, 0) > 0) == (targets.value()(i, 0) > 0.5f);
  return correct;
}

struct Evaluation {
  double loss = 0, accuracy = 0;
};

Evaluation evaluate(ImdbModel& model, const Split& split) {
  NoGradGuard no_grad;
  model.eval();
  data::TokenDataLoader loader(split.tokens, label_column(split.labels), {.batch_size = 256});
  double loss = 0;
  std::size_t correct = 0;
  for (const auto& b : loader) {
    Tensor logits = model.logits(b.inputs);
    loss += nn::binary_cross_entropy_with_logits(logits, b.targets, nn::Reduction::Sum).item();
    correct += count_correct(logits, b.targets);
  }
  const double n = static_cast<double>(split.labels.size());
  return {loss / n, static_cast<double>(correct) / n};
}

Split take(const Split& s, std::span<const std::size_t> rows) {
  return {data::take_rows(s.tokens, rows), data::take(s.labels, rows)};
}

struct ImdbRecipe {
  std::string name, lab;
  std::size_t epochs, vocab, max_len, embed;
  double lstm_dropout, output_dropout;
  bool keep_best;  // L5: keep the best-validation checkpoint
};

RunSummary train_imdb(const RunOptions& options, const ImdbRecipe& recipe, RunRecorder& recorder,
                      const nlohmann::json& config, const Split& train, const Split& val, const Split* test,
                      nlohmann::json reported, const std::vector<std::vector<std::string>>& reported_rows_header) {
  const std::size_t batch = options.batch_size.value_or(64);
  const double lr = options.lr.value_or(1e-3);
  ImdbModel model(recipe.vocab, recipe.embed, 128, recipe.lstm_dropout, recipe.output_dropout);
  nn::Adam<> opt(model.parameters(), {.lr = lr});
  data::TokenDataLoader loader(train.tokens, label_column(train.labels),
                               {.batch_size = batch, .shuffle = true, .seed = options.seed});

  InterruptScope interrupt_scope;
  TrainingSession session(options, recorder, model, opt, config);
  const nlohmann::json state = session.resume();
  loader.skip_epochs(session.epochs_done());
  std::vector<double> train_loss, train_acc, val_loss, val_acc;
  for (const auto& row : recorder.epochs()) {
    train_loss.push_back(row["train_loss"].get<double>());
    train_acc.push_back(row["train_accuracy"].get<double>());
    val_loss.push_back(row["val_loss"].get<double>());
    val_acc.push_back(row["val_accuracy"].get<double>());
  }
  double best_val = state.value("best_val_accuracy", -1.0);
  std::size_t best_epoch = state.value("best_epoch", std::size_t{0}), done = session.epochs_done();
  for (std::size_t epoch = session.epochs_done() + 1; epoch <= recipe.epochs && !interrupted(); ++epoch) {
    model.train();
    EpochProgress progress(epoch, recipe.epochs, loader.num_batches(), options.quiet);
    double loss_sum = 0;
    std::size_t seen = 0, correct = 0, step = 0;
    for (const auto& b : loader) {
      opt.zero_grad();
      Tensor logits = model.logits(b.inputs);
      Tensor loss = nn::binary_cross_entropy_with_logits(logits, b.targets);
      loss.backward();
      session.check_step(loss.item(), epoch, step + 1);
      opt.step();
      const std::size_t n = b.targets.size(0);
      loss_sum += loss.item() * static_cast<double>(n);
      correct += count_correct(logits, b.targets);
      seen += n;
      progress.update(++step, {{"loss", loss_sum / static_cast<double>(seen)},
                               {"accuracy", static_cast<double>(correct) / static_cast<double>(seen)}});
      if (interrupted()) break;
    }
    if (seen == 0 || interrupted())
      break;  // a partial epoch is not recorded: the checkpoint stays at the last whole one
    const Evaluation v = evaluate(model, val);
    train_loss.push_back(loss_sum / static_cast<double>(seen));
    train_acc.push_back(static_cast<double>(correct) / static_cast<double>(seen));
    val_loss.push_back(v.loss);
    val_acc.push_back(v.accuracy);
    const double seconds = progress.finish({{"loss", train_loss.back()},
                                            {"accuracy", train_acc.back()},
                                            {"val_loss", v.loss},
                                            {"val_accuracy", v.accuracy}});
    recorder.add_epoch({{"epoch", epoch},
                        {"train_loss", train_loss.back()},
                        {"train_accuracy", train_acc.back()},
                        {"val_loss", v.loss},
                        {"val_accuracy", v.accuracy},
                        {"seconds", seconds}});
    done = epoch;
    if (recipe.keep_best && v.accuracy > best_val) {
      best_val = v.accuracy;
      best_epoch = epoch;
      nn::save_checkpoint(recorder.path("best.npz"), model, &opt,
                          nn::CheckpointInfo{.epoch = epoch, .rng_state = "", .extra_json = config.dump()});
    }
    session.end_epoch(epoch, {{"best_val_accuracy", best_val}, {"best_epoch", best_epoch}});
  }

  nlohmann::json final = nlohmann::json::object();
  if (!train_loss.empty()) {
    final["train_loss"] = train_loss.back();
    final["train_accuracy"] = train_acc.back();
    final["val_loss"] = val_loss.back();
    final["val_accuracy"] = val_acc.back();
  }
  if (recipe.keep_best && best_epoch) {
    final["best_val_accuracy"] = best_val;
    final["best_epoch"] = best_epoch;
  }
  if (test && done) {
    const Evaluation t = evaluate(model, *test);
    final["test_loss"] = t.loss;
    final["test_accuracy"] = t.accuracy;
  }
  // Per-epoch figures beside the lab's.
  std::vector<std::vector<std::string>> rows = reported_rows_header;
  const auto& lab_val =
      reported.contains("val_accuracy_per_epoch") ? reported["val_accuracy_per_epoch"] : nlohmann::json::array();
  for (std::size_t e = 0; e < std::max<std::size_t>(train_loss.size(), lab_val.size()); ++e) {
    const bool ours = e < train_loss.size();
    rows.push_back({std::to_string(e + 1), ours ? fixed(train_acc[e]) : "-", ours ? fixed(val_loss[e]) : "-",
                    ours ? fixed(val_acc[e]) : "-", e < lab_val.size() ? fixed(lab_val[e].get<double>()) : "-"});
  }
  print_comparison(rows, options.quiet);
  std::vector<std::vector<std::string>> finals{{"figure", "xgrad", "lab"}};
  for (const char* key : {"test_accuracy", "test_loss", "best_val_accuracy", "best_epoch"}) {
    if (!final.contains(key) && !reported.contains(key)) continue;
    finals.push_back({key, final.contains(key) ? fixed(final[key].get<double>()) : "-",
                      reported.contains(key) ? fixed(reported[key].get<double>()) : "-"});
  }
  print_comparison(finals, options.quiet);
  recorder.set_final(final);
  recorder.set_reported(reported);
  recorder.add_plot({"loss",
                     recipe.name + " (" + recipe.lab + "): loss per epoch",
                     "epoch",
                     "binary cross-entropy",
                     {epoch_series("train loss", train_loss), epoch_series("validation loss", val_loss)}});
  recorder.add_plot({"accuracy",
                     recipe.name + " (" + recipe.lab + "): accuracy per epoch",
                     "epoch",
                     "accuracy",
                     {epoch_series("train accuracy", train_acc), epoch_series("validation accuracy", val_acc),
                      epoch_series("lab validation accuracy", lab_val.get<std::vector<double>>(), "linespoints")}});
  if (!options.quiet && recipe.keep_best && best_epoch)
    std::printf("best validation accuracy %.4f at epoch %zu (checkpoint %s)\n", best_val, best_epoch,
                recorder.path("best.npz").c_str());
  return session.finish(options.quiet);
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
                          false};
  const auto reviews_path = find_reviews(options);
  const auto index_path = require_data(options, {"imdb/imdb_word_index.json", "imdb_word_index.json"}, kWordIndexHowTo);
  nlohmann::json config = {{"data", reviews_path.string()},
                           {"word_index", index_path.string()},
                           {"vocab", recipe.vocab},
                           {"max_len", recipe.max_len},
                           {"embedding", recipe.embed},
                           {"hidden", 128},
                           {"dropout", 0.2},
                           {"recurrent_dropout", 0.2},
                           {"batch_size", options.batch_size.value_or(64)},
                           {"lr", options.lr.value_or(1e-3)},
                           {"epochs", recipe.epochs},
                           {"validation_split", 0.2},
                           {"seed", options.seed},
                           {"threads", options.threads},
                           {"quick", options.quick}};
  start_run(options, recipe.name, recipe.lab, config);
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
  nlohmann::json reported = {{"val_accuracy_per_epoch", {0.8452, 0.8556, 0.8488, 0.8410, 0.8434}},
                             {"train_accuracy_per_epoch", {0.6963, 0.8551, 0.8921, 0.9095, 0.9335}},
                             {"val_loss_per_epoch", {0.3865, 0.3618, 0.3664, 0.3953, 0.3769}},
                             {"test_accuracy", 0.8469},
                             {"test_loss", 0.3827},
                             {"run2_val_accuracy_per_epoch", {0.8122, 0.8358, 0.8328, 0.8528, 0.8338}},
                             {"run2_test_accuracy", 0.8348},
                             {"run2_test_loss", 0.3946}};
  RunRecorder recorder(output_dir(options, recipe.name), recipe.name, recipe.lab, config);
  return train_imdb(options, recipe, recorder, config, train, val, &test, reported,
                    {{"epoch", "train acc", "val loss", "val acc", "lab val acc (run 1)"}});
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
                          true};
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
  start_run(options, recipe.name, recipe.lab, config);
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
  RunRecorder recorder(output_dir(options, recipe.name), recipe.name, recipe.lab, config);
  tokenizer.save(recorder.path("tokenizer.json"));  // to classify new text with the checkpoint later
  if (!options.quiet) {
    std::printf("train %zu, validation %zu reviews (80/20, seed %u); vocabulary %zu words seen, %zu kept\n\n",
                train.labels.size(), val.labels.size(), split_seed, tokenizer.word_index_size(), recipe.vocab);
  }
  nlohmann::json reported = {{"val_accuracy_per_epoch", {0.6964, 0.6812, 0.7817, 0.8433, 0.8617}},
                             {"best_val_accuracy", 0.8784},
                             {"best_epoch", 10},
                             {"train_loss_epoch_25", 0.0245},
                             {"val_accuracy_settles_near", 0.865}};
  return train_imdb(options, recipe, recorder, config, train, val, nullptr, reported,
                    {{"epoch", "train acc", "val loss", "val acc", "lab val acc (5-epoch run)"}});
}

}  // namespace

Experiment imdb_keras_experiment() {
  return {"imdb-keras", "L4", "IMDB sentiment, Keras recipe: 25k/25k, vocab 10k, Embedding 128, LSTM 128 with dropouts",
          "IMDB reviews and the Keras word index (imdb/ in the data folder)", run_imdb_keras};
}

Experiment imdb_torch_experiment() {
  return {"imdb-torch", "L5",
          "IMDB sentiment, PyTorch recipe: 50k pooled, 80/20, tokenizer with OOV, keeps the best epoch",
          "IMDB reviews (imdb/ in the data folder)", run_imdb_torch};
}

}  // namespace xgrad::zoo
