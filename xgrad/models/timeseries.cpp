// Lab L3: a univariate series (any CSV; airline passengers by default):
// min-max scaling fit on the training part, chronological split, windows,
// LSTM, predictions de-normalized, test MSE and RMSE in original units, and
// the naive last-value forecast's figures beside them.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/datasets/csv.hpp"
#include "xgrad/datasets/loader.hpp"
#include "xgrad/datasets/scaler.hpp"
#include "xgrad/datasets/sequence.hpp"
#include "xgrad/models/experiment_support.hpp"
#include "xgrad/models/metrics.hpp"
#include "xgrad/models/progress.hpp"
#include "xgrad/models/run_record.hpp"
#include "xgrad/models/training_session.hpp"
#include "xgrad/nn/checkpoint.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/optimizer.hpp"
#include "xgrad/nn/recurrent.hpp"

namespace xgrad::zoo {

namespace {

// LSTM over the window, Linear head on the last hidden state. With
// `residual`, the head predicts the change from the window's last value
// (y = x_T + head(h_T)): a min-max scaler fit on a rising series' training
// part maps later values above 1, where a saturating LSTM output cannot
// follow, while a change can.
struct SeriesModel : nn::Module<> {
  std::shared_ptr<nn::LSTM<>> lstm;
  std::shared_ptr<nn::Linear<>> fc;
  bool residual;
  SeriesModel(std::size_t hidden, bool residual_)
      : lstm(register_module("lstm", std::make_shared<nn::LSTM<>>(nn::LSTMOptions{
                                         .input_size = 1, .hidden_size = hidden, .batch_first = true}))),
        fc(register_module("fc", std::make_shared<nn::Linear<>>(hidden, 1))),
        residual(residual_) {}
  Tensor forward(const Tensor& x) override {  // (B, T, 1) -> (B, 1)
    Tensor head = fc->forward(select(lstm->forward(x, {}, {}).h_n, 0, 0));
    return residual ? head + select(x, 1, x.size(1) - 1) : head;
  }
};

// The lab's per-epoch (step loss, validation loss).
const std::vector<std::pair<double, double>> kReported = {{0.2998, 0.1087},   {0.0705, 0.0050},   {0.0044, 0.0011},
                                                          {7.98e-4, 3.54e-4}, {3.93e-4, 3.02e-4}, {2.19e-4, 1.38e-4},
                                                          {1.63e-4, 1.05e-4}};

RunSummary run_timeseries(const RunOptions& options) {
  std::filesystem::path csv;
  data::CsvColumn column = 1;
  std::string column_label = "1";
  if (!options.csv.empty()) {
    csv = options.csv;
    if (!std::filesystem::exists(csv)) throw std::runtime_error("--csv " + options.csv + ": no such file");
  } else {
    csv = require_data(options, {"timeseries/airline-passengers.csv"},
                       "The default series is the monthly airline passengers (Box & Jenkins 'Series G', also R's "
                       "AirPassengers), e.g. airline-passengers.csv from github.com/jbrownlee/Datasets; or pass any "
                       "univariate CSV with --csv FILE --column NAME.");
    column = "Passengers";
    column_label = "Passengers";
  }
  if (!options.column.empty()) {
    column_label = options.column;
    const bool numeric = options.column.find_first_not_of("0123456789") == std::string::npos;
    std::size_t index = 0;
    if (numeric) {
      const auto [end, ec] =
          std::from_chars(options.column.data(), options.column.data() + options.column.size(), index);
      if (ec != std::errc() || end != options.column.data() + options.column.size()) {
        throw std::invalid_argument("--column " + options.column + ": a column index that large is out of range");
      }
    }
    column = numeric ? data::CsvColumn(index) : data::CsvColumn(options.column);
  }
  const data::TimeSeries series = data::read_time_series_csv(csv, column);
  bool positive = true;
  for (double v : series.values) positive = positive && v > 0;
  const bool log_space = positive;
  const std::size_t window = options.window.value_or(12);
  const std::size_t n = series.size(), n_train = static_cast<std::size_t>(static_cast<double>(n) * 0.67);
  if (n_train <= window + 1 || n - n_train < 2) {
    throw std::invalid_argument(csv.string() + ": " + std::to_string(n) + " values are too few for a window of " +
                                std::to_string(window) + " and a 67/33 split");
  }
  const std::size_t epochs = options.epochs.value_or(options.quick ? 30 : 100);
  const std::size_t batch = options.batch_size.value_or(8);
  const double lr = options.lr.value_or(0.005);
  const std::size_t hidden = 50;
  const bool residual = true;
  nlohmann::json config = {{"csv", csv.string()},
                           {"column", column_label},
                           {"values", n},
                           {"train_values", n_train},
                           {"window", window},
                           {"hidden", hidden},
                           {"residual", residual},
                           {"log_space", log_space},
                           {"epochs", epochs},
                           {"batch_size", batch},
                           {"lr", lr},
                           {"seed", options.seed},
                           {"threads", options.threads}};
  start_run(options, "timeseries", "L3", config);
  RunRecorder recorder(output_dir(options, "timeseries"), "timeseries", "L3", config);

  // Scale with the training part's min and max only.
  // Positive series with multiplicative seasonality (airline passengers)
  // are modelled in log space, where trend and season add up; predictions
  // are mapped back to original units for every reported figure.
  xt::xarray<float> raw = series.to_array();  // (T,)
  if (log_space) raw = xt::log(raw);
  data::MinMaxScaler scaler;
  scaler.fit(xt::xarray<float>(xt::view(raw, xt::range(0, n_train))));
  const xt::xarray<float> scaled = scaler.transform(raw);
  // Training windows lie in the training part; test windows predict each
  // test value from the `window` values before it.
  const xt::xarray<float> train_part = xt::view(scaled, xt::range(0, n_train));
  const xt::xarray<float> test_part = xt::view(scaled, xt::range(n_train - window, n));
  Tensor x_train(data::window_inputs(train_part, window)), y_train(data::window_targets(train_part, window));
  Tensor x_test(data::window_inputs(test_part, window)), y_test(data::window_targets(test_part, window));

  SeriesModel model(hidden, residual);
  nn::Adam<> opt(model.parameters(), {.lr = lr});
  data::DataLoader loader(x_train, y_train, {.batch_size = batch, .shuffle = true, .seed = options.seed});

  InterruptScope interrupt_scope;
  TrainingSession session(options, recorder, model, opt, config);
  session.resume();
  loader.skip_epochs(session.epochs_done());
  std::vector<double> train_losses, val_losses;
  for (const auto& row : recorder.epochs()) {
    train_losses.push_back(row["train_loss"].get<double>());
    val_losses.push_back(row["val_loss"].get<double>());
  }
  for (std::size_t epoch = session.epochs_done() + 1; epoch <= epochs && !interrupted(); ++epoch) {
    model.train();
    EpochProgress progress(epoch, epochs, loader.num_batches(), options.quiet);
    double total = 0;
    std::size_t seen = 0, step = 0;
    for (const auto& b : loader) {
      opt.zero_grad();
      Tensor loss = nn::mse_loss(model.forward(b.inputs), b.targets);
      loss.backward();
      session.check_step(loss.item(), epoch, step + 1);
      opt.step();
      total += loss.item() * static_cast<double>(b.inputs.size(0));
      seen += b.inputs.size(0);
      progress.update(++step, {{"loss", total / static_cast<double>(seen)}});
      if (interrupted()) break;
    }
    if (interrupted()) break;  // a partial epoch is not recorded: the checkpoint stays at the last whole one
    double val_loss;
    {
      NoGradGuard no_grad;
      model.eval();
      val_loss = nn::mse_loss(model.forward(x_test), y_test).item();
    }
    const double seconds = progress.finish({{"loss", total / static_cast<double>(seen)}, {"val_loss", val_loss}});
    train_losses.push_back(total / static_cast<double>(seen));
    val_losses.push_back(val_loss);
    recorder.add_epoch(
        {{"epoch", epoch}, {"train_loss", train_losses.back()}, {"val_loss", val_loss}, {"seconds", seconds}});
    session.end_epoch(epoch);
  }

  // De-normalized predictions against the actual test values, and the naive
  // forecast (each value predicted by the one before it).
  Tensor predicted_scaled;
  {
    NoGradGuard no_grad;
    model.eval();
    predicted_scaled = model.forward(x_test);
  }
  xt::xarray<float> predicted = scaler.inverse_transform(predicted_scaled.value());  // (N_test, 1)
  if (log_space) predicted = xt::exp(predicted);
  std::vector<double> actual, forecast, naive;
  for (std::size_t i = n_train; i < n; ++i) {
    actual.push_back(series.values[i]);
    naive.push_back(series.values[i - 1]);
    forecast.push_back(predicted(i - n_train, 0));
  }
  const double mse = mean_squared_error(actual, forecast), naive_mse = mean_squared_error(actual, naive);
  nlohmann::json final = {{"mse", mse},
                          {"rmse", std::sqrt(mse)},
                          {"naive_mse", naive_mse},
                          {"naive_rmse", std::sqrt(naive_mse)},
                          {"beats_naive", mse < naive_mse}};
  if (!train_losses.empty()) {
    final["train_loss"] = train_losses.back();
    final["val_loss"] = val_losses.back();
  }
  nlohmann::json reported = nlohmann::json::object();
  std::vector<std::vector<std::string>> rows{{"epoch", "xgrad loss", "xgrad val_loss", "lab loss", "lab val_loss"}};
  for (std::size_t e = 0; e < std::max(kReported.size(), std::min<std::size_t>(train_losses.size(), 10)); ++e) {
    const bool ours = e < train_losses.size(), lab = e < kReported.size();
    rows.push_back({std::to_string(e + 1), ours ? fixed(train_losses[e]) : "-", ours ? fixed(val_losses[e]) : "-",
                    lab ? fixed(kReported[e].first) : "-", lab ? fixed(kReported[e].second) : "-"});
    if (lab) {
      reported["train_loss_epoch_" + std::to_string(e + 1)] = kReported[e].first;
      reported["val_loss_epoch_" + std::to_string(e + 1)] = kReported[e].second;
    }
  }
  if (!train_losses.empty())
    rows.push_back({std::to_string(train_losses.size()), fixed(train_losses.back()), fixed(val_losses.back()), "", ""});
  print_comparison(rows, options.quiet);
  print_comparison({{"test figure (original units)", "LSTM", "naive last value"},
                    {"MSE", fixed(mse, 3), fixed(naive_mse, 3)},
                    {"RMSE", fixed(std::sqrt(mse), 3), fixed(std::sqrt(naive_mse), 3)}},
                   options.quiet);
  if (!options.quiet) {
    std::printf("%s\n\n", mse < naive_mse ? "The LSTM beats the naive last-value forecast on the test range."
                                          : "The LSTM does NOT beat the naive last-value forecast on the test range.");
  }
  recorder.set_final(final);
  recorder.set_reported(reported);
  Series s_actual{"actual", {}, actual}, s_pred{"LSTM", {}, forecast}, s_naive{"naive (last value)", {}, naive};
  for (std::size_t i = n_train; i < n; ++i)
    for (Series* s : {&s_actual, &s_pred, &s_naive}) s->x.push_back(static_cast<double>(i));
  recorder.add_plot({"predictions",
                     "timeseries (L3): test range, actual vs predicted (" + series.value_name + ")",
                     "time step",
                     series.value_name,
                     {s_actual, s_pred, s_naive}});
  recorder.add_plot({"loss",
                     "timeseries (L3): loss (MSE on scaled values)",
                     "epoch",
                     "loss",
                     {epoch_series("train loss", train_losses), epoch_series("validation loss", val_losses)},
                     true});
  return session.finish(options.quiet);
}

}  // namespace

Experiment timeseries_experiment() {
  return {"timeseries", "L3", "forecast a univariate CSV series; test RMSE in original units vs the naive forecast",
          "a CSV (--csv); by default timeseries/airline-passengers.csv in the data folder", run_timeseries};
}

}  // namespace xgrad::zoo
