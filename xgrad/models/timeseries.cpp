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

// The column a --column value names: digits are a 0-based index, anything
// else a header name.
data::CsvColumn parse_column(const std::string& label) {
  if (label.empty() || label.find_first_not_of("0123456789") != std::string::npos) return label;
  std::size_t index = 0;
  const auto [end, ec] = std::from_chars(label.data(), label.data() + label.size(), index);
  if (ec != std::errc() || end != label.data() + label.size())
    throw std::invalid_argument("--column " + label + ": a column index that large is out of range");
  return index;
}

// The series as the model sees it. With --target change (the default),
// positive series with multiplicative seasonality (airline passengers) are
// modelled in log space, where trend and season add up; with --target level
// (the lab's method) the values are used as they are. Either way they are
// min-max scaled with the training part's (first 67%) range only. Every
// reported figure is in original units.
struct ScaledSeries {
  data::TimeSeries series;
  bool log_space = true;
  std::size_t n_train = 0;
  data::MinMaxScaler scaler;
  xt::xarray<float> scaled;  // (T,)

  ScaledSeries(const std::filesystem::path& csv, const std::string& column, std::size_t window, bool log_if_positive)
      : series(data::read_time_series_csv(csv, parse_column(column))), log_space(log_if_positive) {
    for (double v : series.values) log_space = log_space && v > 0;
    const std::size_t n = series.size();
    n_train = static_cast<std::size_t>(static_cast<double>(n) * 0.67);
    if (n_train <= window + 1 || n - n_train < 2) {
      throw std::invalid_argument(csv.string() + ": " + std::to_string(n) + " values are too few for a window of " +
                                  std::to_string(window) + " and a 67/33 split");
    }
    xt::xarray<float> raw = series.to_array();
    if (log_space) raw = xt::log(raw);
    scaler.fit(xt::xarray<float>(xt::view(raw, xt::range(0, n_train))));
    scaled = scaler.transform(raw);
  }
  // Scaled model outputs (N, 1) back to original units.
  xt::xarray<float> original(const xt::xarray<float>& values) const {
    xt::xarray<float> v = scaler.inverse_transform(values);
    return log_space ? xt::xarray<float>(xt::exp(v)) : v;
  }
};

// The CSV and column to read: --csv and --column (column 1 by default), or
// the airline passengers in the data folder.
std::pair<std::filesystem::path, std::string> series_source(const RunOptions& options) {
  if (!options.csv.empty()) {
    if (!std::filesystem::exists(options.csv)) throw std::runtime_error("--csv " + options.csv + ": no such file");
    return {options.csv, options.column.empty() ? "1" : options.column};
  }
  return {require_data(options, {"timeseries/airline-passengers.csv"},
                       "The default series is the monthly airline passengers (Box & Jenkins 'Series G', also R's "
                       "AirPassengers), e.g. airline-passengers.csv from github.com/jbrownlee/Datasets; or pass any "
                       "univariate CSV with --csv FILE --column NAME."),
          options.column.empty() ? "Passengers" : options.column};
}

RunSummary run_timeseries(const RunOptions& options) {
  const auto [csv, column] = series_source(options);
  const std::string target = options.target.empty() ? "change" : options.target;
  if (target != "change" && target != "level")
    throw std::invalid_argument("--target " + target + ": choose change (the default) or level (the lab's method)");
  // change: the model predicts the step from the window's last value (see
  // SeriesModel); level: the scaled value itself, as the lab did.
  const bool residual = target == "change";
  const std::size_t window = options.window.value_or(12);
  const ScaledSeries data(csv, column, window, residual);
  const std::size_t n = data.series.size(), n_train = data.n_train;
  const std::size_t epochs = options.epochs.value_or(options.quick ? 30 : 100);
  const std::size_t batch = options.batch_size.value_or(8);
  const double lr = options.lr.value_or(0.005);
  const std::size_t hidden = 50;
  nlohmann::json config = {{"csv", csv.string()},  {"target", target},          {"column", column},
                           {"values", n},          {"train_values", n_train},   {"window", window},
                           {"hidden", hidden},     {"residual", residual},      {"log_space", data.log_space},
                           {"epochs", epochs},     {"batch_size", batch},       {"lr", lr},
                           {"seed", options.seed}, {"threads", options.threads}};
  ZooRun run(options, "timeseries", "L3", config);
  const xt::xarray<float>& scaled = data.scaled;
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
  const xt::xarray<float> predicted = data.original(train::predict(model, x_test).value());  // (N_test, 1)
  std::vector<double> actual, forecast, naive;
  for (std::size_t i = n_train; i < n; ++i) {
    actual.push_back(data.series.values[i]);
    naive.push_back(data.series.values[i - 1]);
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
  std::vector<Plot> plots{{"predictions",
                           "timeseries (L3): test range, actual vs predicted (" + data.series.value_name + ")",
                           "time step",
                           data.series.value_name,
                           {s_actual, s_pred, s_naive}},
                          {"loss",
                           "timeseries (L3): loss (MSE on scaled values)",
                           "epoch",
                           "loss",
                           {run.curve("train_loss", "train loss"), run.curve("val_loss", "validation loss")},
                           true}};
  // On a long test range (the 1,200 days of temperatures) the whole-range
  // plot is a blur; its first steps, point by point, show whether the
  // predictions lag the series' sharp changes (the lab's observation).
  constexpr std::size_t kDetailSteps = 90;
  if (actual.size() > 2 * kDetailSteps) {
    std::vector<Series> detail{s_actual, s_pred, s_naive};
    for (Series& s : detail) {
      s.x.resize(kDetailSteps);
      s.y.resize(kDetailSteps);
      s.style = "linespoints";
    }
    plots.push_back({"predictions_detail",
                     "timeseries (L3): the test range's first " + std::to_string(kDetailSteps) + " steps (" +
                         data.series.value_name + ")",
                     "time step", data.series.value_name, detail});
  }
  return run.finish(final, plots);
}

// The `steps` values after the series' end, each predicted from the
// `window` before it: the series' own values first, then the predictions.
std::string predict_timeseries(const std::string& run_dir, const PredictOptions& request) {
  const RunFolder folder = open_run_folder(run_dir, "timeseries");
  const nlohmann::json& c = folder.config;
  const std::string csv = c.at("csv").get<std::string>();
  if (!std::filesystem::exists(csv))
    throw std::runtime_error(run_dir + ": the run's series " + csv + " is gone (the scaler is fit on it)");
  const std::size_t window = c.at("window").get<std::size_t>();
  const bool residual = c.at("residual").get<bool>();
  const ScaledSeries data(csv, c.at("column").get<std::string>(), window, residual);
  if (data.log_space != c.at("log_space").get<bool>())
    throw std::runtime_error(csv + " has changed since the run (its values' signs differ)");
  if (data.series.size() != c.at("values").get<std::size_t>())
    throw std::runtime_error(csv + " has changed since the run (" + std::to_string(data.series.size()) + " values, " +
                             "the run had " + c.at("values").dump() + ")");
  SeriesModel model(c.at("hidden").get<std::size_t>(), residual);
  folder.load_into(model);
  std::vector<float> recent(data.scaled.end() - static_cast<std::ptrdiff_t>(window), data.scaled.end());
  std::string out = "step  forecast (" + data.series.value_name + ")\n";
  for (std::size_t i = 0; i < request.steps; ++i) {
    xt::xarray<float> input = xt::xarray<float>::from_shape({1, window, 1});
    std::copy(recent.begin(), recent.end(), input.begin());
    const xt::xarray<float> next = train::predict(model, Tensor(std::move(input))).value();  // (1, 1)
    char line[64];
    std::snprintf(line, sizeof line, "%-5zu %.4f\n", data.series.size() + i, data.original(next)(0, 0));
    out += line;
    recent.erase(recent.begin());
    recent.push_back(next(0, 0));
  }
  return out;
}

}  // namespace

Experiment timeseries_experiment() {
  return {"timeseries",
          "L3",
          "forecast a univariate CSV series; test RMSE in original units vs the naive forecast",
          "a CSV (--csv); by default timeseries/airline-passengers.csv in the data folder",
          run_timeseries,
          predict_timeseries};
}

}  // namespace xgrad::zoo
