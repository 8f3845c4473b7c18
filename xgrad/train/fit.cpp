#include "xgrad/train/fit.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>

#include "xgrad/autograd/tape.hpp"
#include "xgrad/nn/clip.hpp"

namespace xgrad::train {

namespace {

// Set by SIGINT/SIGTERM while fit runs with stop_on_interrupt.
std::atomic<bool> stop_requested{false};
extern "C" void request_stop(int) { stop_requested.store(true); }

// Installs the stop handlers for the duration of fit, restoring the
// previous ones after.
class InterruptGuard {
 public:
  explicit InterruptGuard(bool enabled) : enabled_(enabled) {
    stop_requested.store(false);
    if (!enabled_) return;
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~InterruptGuard() {
    if (!enabled_) return;
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  bool enabled_;
  struct sigaction old_int_ {
  }, old_term_{};
};

// One pass over a loader: training steps (optimizer given) or evaluation.
// Returns "loss" and the metrics; sets `interrupted` if a stop was asked
// for mid-epoch (training only).
template <class Loader, class Batch>
Logs run_pass(nn::Module<float>& model, const Task<Batch>& task, Loader& loader,
              const std::vector<std::shared_ptr<Metric>>& metrics, nn::Optimizer<float>* optimizer,
              double clip_grad_norm, std::size_t epoch, bool& interrupted) {
  for (const auto& m : metrics) m->reset();
  double loss_sum = 0;
  std::size_t samples = 0, batch_index = 0;
  for (const Batch& b : loader) {
    const std::size_t n = b.indices.size();
    // Built only for an error message, not once per batch.
    auto where = [&] {
      return "fit: epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(batch_index + 1);
    };
    Tensor predictions, loss;
    try {
      std::optional<NoGradGuard> no_grad;
      if (!optimizer) no_grad.emplace();
      predictions = task.predict(b);
      loss = task.loss(predictions, b);
    } catch (const std::domain_error& e) {  // a loss that refused NaN input: say where
      throw std::domain_error(where() + ": " + e.what());
    }
    if (loss.size() != 1) {
      throw std::invalid_argument("fit: the task's loss must be a scalar, got shape " + shape_to_string(loss.shape()));
    }
    const double value = loss.item();
    if (!std::isfinite(value)) {
      throw std::domain_error(where() + ": the loss is " + std::string(std::isnan(value) ? "NaN" : "inf") +
                              " (diverging? try a lower learning rate or clip_grad_norm)");
    }
    if (optimizer) {
      optimizer->zero_grad();
      loss.backward();
      if (clip_grad_norm > 0) nn::clip_grad_norm(optimizer->parameters(), clip_grad_norm);
      optimizer->step();
    }
    loss_sum += value * static_cast<double>(n);
    samples += n;
    for (const auto& m : metrics) m->update(predictions, b.targets, b.labels);
    ++batch_index;
    if (optimizer && stop_requested.load()) {
      interrupted = true;
      break;
    }
  }
  Logs logs;
  logs["loss"] = samples ? loss_sum / static_cast<double>(samples) : std::nan("");
  for (const auto& m : metrics) logs[m->name()] = m->result();
  return logs;
}

void print_epoch(std::size_t epoch, std::size_t epochs, double seconds, const Logs& logs) {
  std::string line = "Epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, " - %.1fs", seconds);
  line += buffer;
  auto add = [&](const std::string& key, double v) {
    std::snprintf(buffer, sizeof buffer, " - %s: %.4g", key.c_str(), v);
    line += buffer;
  };
  // Training figures, then validation ones, then the learning rate.
  for (const auto& [k, v] : logs)
    if (k.rfind("val_", 0) != 0 && k != "lr") add(k, v);
  for (const auto& [k, v] : logs)
    if (k.rfind("val_", 0) == 0) add(k, v);
  if (logs.count("lr")) add("lr", logs.at("lr"));
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

template <class Loader, class Batch>
History fit_impl(nn::Module<float>& model, nn::Optimizer<float>& optimizer, const Task<Batch>& task, Loader& train,
                 const FitOptions& options, Loader* validation) {
  if (!task.predict || !task.loss) throw std::invalid_argument("fit: the task needs both predict and loss");
  if (options.initial_epoch > options.epochs) {
    throw std::invalid_argument("fit: initial_epoch " + std::to_string(options.initial_epoch) + " is past epochs " +
                                std::to_string(options.epochs));
  }
  auto history = std::make_shared<History>();
  std::vector<std::shared_ptr<Callback>> callbacks{history};
  for (const auto& c : options.callbacks) {
    if (!c) throw std::invalid_argument("fit: a callback is null");
    callbacks.push_back(c);
  }
  InterruptGuard interrupts(options.stop_on_interrupt);
  TrainState state{model, optimizer};
  for (auto& c : callbacks) c->on_train_begin(state);
  if (options.initial_epoch) train.skip_epochs(options.initial_epoch);  // the same shuffles as an unbroken run
  for (std::size_t epoch = options.initial_epoch; epoch < options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    Logs logs;
    logs["lr"] = optimizer.lr();
    model.train();
    bool interrupted = false;
    for (auto& [k, v] : run_pass<Loader, Batch>(model, task, train, options.metrics, &optimizer, options.clip_grad_norm,
                                                epoch, interrupted))
      logs[k] = v;
    if (interrupted) {
      if (options.verbose) std::printf("Epoch %zu interrupted: stopping\n", epoch + 1);
      break;
    }
    if (validation) {
      model.eval();
      bool unused = false;
      for (auto& [k, v] : run_pass<Loader, Batch>(model, task, *validation, options.metrics, nullptr, 0, epoch, unused))
        logs["val_" + k] = v;
      model.train();
    }
    state.epoch = epoch;
    for (auto& c : callbacks) c->on_epoch_end(logs, state);
    if (options.verbose) {
      print_epoch(epoch, options.epochs,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), logs);
    }
    if (state.stop_training) break;
  }
  for (auto& c : callbacks) c->on_train_end(state);
  return *history;
}

template <class Loader, class Batch>
Logs evaluate_impl(nn::Module<float>& model, const Task<Batch>& task, Loader& loader,
                   const std::vector<std::shared_ptr<Metric>>& metrics) {
  const bool was_training = model.is_training();
  model.eval();
  bool unused = false;
  Logs logs = run_pass<Loader, Batch>(model, task, loader, metrics, nullptr, 0, 0, unused);
  model.train(was_training);
  return logs;
}

}  // namespace

Task<data::Batch> task(nn::Module<float>& model, std::function<Tensor(const Tensor&, const Tensor&)> loss) {
  return {[&model](const data::Batch& b) { return model.forward(b.inputs); },
          [loss = std::move(loss)](const Tensor& predictions, const data::Batch& b) {
            if (!b.targets.defined()) throw std::invalid_argument("fit: the loader has no float targets for this loss");
            return loss(predictions, b.targets);
          }};
}

Task<data::Batch> task_with_labels(nn::Module<float>& model,
                                   std::function<Tensor(const Tensor&, const xt::xarray<std::int64_t>&)> loss) {
  return {[&model](const data::Batch& b) { return model.forward(b.inputs); },
          [loss = std::move(loss)](const Tensor& predictions, const data::Batch& b) {
            if (b.labels.size() == 0) throw std::invalid_argument("fit: the loader has no int64 labels for this loss");
            return loss(predictions, b.labels);
          }};
}

History fit(nn::Module<float>& model, nn::Optimizer<float>& optimizer, const Task<data::Batch>& task,
            data::DataLoader& train, const FitOptions& options, data::DataLoader* validation) {
  return fit_impl<data::DataLoader, data::Batch>(model, optimizer, task, train, options, validation);
}
History fit(nn::Module<float>& model, nn::Optimizer<float>& optimizer, const Task<data::TokenBatch>& task,
            data::TokenDataLoader& train, const FitOptions& options, data::TokenDataLoader* validation) {
  return fit_impl<data::TokenDataLoader, data::TokenBatch>(model, optimizer, task, train, options, validation);
}
Logs evaluate(nn::Module<float>& model, const Task<data::Batch>& task, data::DataLoader& loader,
              const std::vector<std::shared_ptr<Metric>>& metrics) {
  return evaluate_impl<data::DataLoader, data::Batch>(model, task, loader, metrics);
}
Logs evaluate(nn::Module<float>& model, const Task<data::TokenBatch>& task, data::TokenDataLoader& loader,
              const std::vector<std::shared_ptr<Metric>>& metrics) {
  return evaluate_impl<data::TokenDataLoader, data::TokenBatch>(model, task, loader, metrics);
}

}  // namespace xgrad::train
