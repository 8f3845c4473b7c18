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
#include "xgrad/models/zoo_run.hpp"
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
  ZooRun run(options, "timeseries", "L3", config);
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

  data::DataLoader test_loader(x_test, y_test, {.batch_size = x_test.size(0)});
  run.fit(model, opt, train::task(model, nn::mse_loss), loader, {.epochs = epochs}, &test_loader);
  run.print_epochs({"train_loss", "val_loss"});

  // De-normalized predictions against the actual test values, and the naive
  // forecast (each value predicted by the one before it).
  xt::xarray<float> predicted = scaler.inverse_transform(train::predict(model, x_test).value());  // (N_test, 1)
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
  if (const auto losses = run.column("train_loss"); !losses.empty()) {
    final["train_loss"] = losses.back();
    final["val_loss"] = run.column("val_loss").back();
  }
  print_comparison({{"test figure (original units)", "LSTM", "naive last value"},
                    {"MSE", fixed(mse, 3), fixed(naive_mse, 3)},
                    {"RMSE", fixed(std::sqrt(mse), 3), fixed(std::sqrt(naive_mse), 3)}},
                   options.quiet);
  if (!options.quiet) {
    std::printf("%s\n\n", mse < naive_mse ? "The LSTM beats the naive last-value forecast on the test range."
                                          : "The LSTM does NOT beat the naive last-value forecast on the test range.");
  }
  Series s_actual{"actual", {}, actual}, s_pred{"LSTM", {}, forecast}, s_naive{"naive (last value)", {}, naive};
  for (std::size_t i = n_train; i < n; ++i)
    for (Series* s : {&s_actual, &s_pred, &s_naive}) s->x.push_back(static_cast<double>(i));
  return run.finish(final, {{"predictions",
                             "timeseries (L3): test range, actual vs predicted (" + series.value_name + ")",
                             "time step",
                             series.value_name,
                             {s_actual, s_pred, s_naive}},
                            {"loss",
                             "timeseries (L3): loss (MSE on scaled values)",
                             "epoch",
                             "loss",
                             {run.curve("train_loss", "train loss"), run.curve("val_loss", "validation loss")},
                             true}});
}

}  // namespace

Experiment timeseries_experiment() {
  return {"timeseries", "L3", "forecast a univariate CSV series; test RMSE in original units vs the naive forecast",
          "a CSV (--csv); by default timeseries/airline-passengers.csv in the data folder", run_timeseries};
}

}  // namespace xgrad::zoo
