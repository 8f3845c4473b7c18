#include "xgrad/train/fit.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>

#include "xgrad/autograd/anomaly.hpp"
#include "xgrad/autograd/tape.hpp"
#include "xgrad/dist/comm.hpp"
#include "xgrad/nn/clip.hpp"
#include "xgrad/train/interrupt.hpp"
#include "xgrad/train/progress.hpp"

namespace xgrad::train {

namespace {

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

std::string divergence_advice(const nn::Optimizer<float>& optimizer) {
  return ": training diverged (learning rate " + number(optimizer.lr()) +
         "); try a lower learning rate or clip_grad_norm";
}

// The squared 2-norm of every gradient, in double (inf or NaN if any is).
double gradient_squares(const nn::Optimizer<float>& optimizer) {
  double squares = 0;
  for (const auto& p : optimizer.parameters()) {
    if (!p.has_grad()) continue;
    for (const float g : p.grad()) squares += static_cast<double>(g) * g;
  }
  return squares;
}

bool parameters_finite(const nn::Optimizer<float>& optimizer) {
  for (const auto& p : optimizer.parameters())
    if (!all_finite(p.value())) return false;
  return true;
}

// The figures of an epoch in the order they are shown: training ones, then
// validation ones ("lr" is logged, not shown).
ProgressMetrics shown(const Logs& logs) {
  ProgressMetrics out;
  for (const auto& [k, v] : logs)
    if (k.rfind("val_", 0) != 0 && k != "lr") out.emplace_back(k, v);
  for (const auto& [k, v] : logs)
    if (k.rfind("val_", 0) == 0) out.emplace_back(k, v);
  return out;
}

// Data-parallel training: the epoch's loss and metrics over every rank's
// shard, so that every rank logs (and callbacks decide on) the figures of
// the whole data set.
// Returns whether any rank reported `failed` (an evaluation batch with a
// NaN or inf loss).
bool reduce_over_ranks(double& loss_sum, std::size_t& samples, const std::vector<std::shared_ptr<Metric>>& metrics,
                       bool failed) {
  std::vector<double> sums{loss_sum, static_cast<double>(samples), failed ? 1.0 : 0.0};
  std::vector<std::size_t> sizes;
  for (const auto& m : metrics) {
    const std::vector<double> t = m->totals();
    sizes.push_back(t.size());
    sums.insert(sums.end(), t.begin(), t.end());
  }
  dist::all_reduce(std::span<double>(sums), dist::ReduceOp::sum);
  loss_sum = sums[0];
  samples = static_cast<std::size_t>(sums[1]);
  std::size_t at = 3;
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    metrics[i]->set_totals(std::vector<double>(sums.begin() + at, sums.begin() + at + sizes[i]));
    at += sizes[i];
  }
  return sums[2] > 0;
}

// One pass over a loader: training steps (optimizer given) or evaluation.
// Returns "loss" and the metrics; sets `interrupted` if a stop was asked
// for mid-epoch (training only). Throws Diverged on a non-finite loss or
// gradient norm, before the optimizer steps with it.
template <class Loader, class Batch>
Logs run_pass(nn::Module<float>& model, const Task<Batch>& task, Loader& loader,
              const std::vector<std::shared_ptr<Metric>>& metrics, nn::Optimizer<float>* optimizer,
              double clip_grad_norm, std::size_t epoch, bool& interrupted, EpochProgress* progress = nullptr) {
  for (const auto& m : metrics) m->reset();
  double loss_sum = 0;
  std::size_t samples = 0, batch_index = 0;
  std::optional<std::domain_error> evaluation_failure;
  for (const Batch& b : loader) {
    const std::size_t n = b.indices.size();
    // Built only for an error message, not once per batch.
    auto where = [&] {
      return "fit: epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(batch_index + 1);
    };
    Tensor predictions, loss;
    std::optional<std::domain_error> refused;  // a loss that refused NaN input, with where
    try {
      std::optional<NoGradGuard> no_grad;
      if (!optimizer) no_grad.emplace();
      predictions = task.predict(b);
      loss = task.loss(predictions, b);
    } catch (const std::domain_error& e) {
      refused.emplace(where() + ": " + e.what());
    }
    if (!refused && loss.size() != 1) {
      throw std::invalid_argument("fit: the task's loss must be a scalar, got shape " + shape_to_string(loss.shape()));
    }
    const double value = refused ? std::nan("") : loss.item();
    // Data-parallel: a rank that stopped alone would leave the others
    // waiting in a collective. Training shards are even (the same steps on
    // every rank): the ranks agree on a bad batch at every step. Evaluation
    // shards may differ by a batch: a bad batch ends this rank's pass, and
    // the ranks agree with the figures at its end.
    bool bad = !std::isfinite(value);
    if (dist::is_distributed() && !optimizer && bad) {
      evaluation_failure.emplace(
          refused ? *refused
                  : std::domain_error(where() + ": the evaluation loss is " + (std::isnan(value) ? "NaN" : "inf")));
      break;
    }
    if (dist::is_distributed() && optimizer) bad = dist::any(bad);
    if (bad) {
      if (refused) throw *refused;
      if (std::isfinite(value)) {
        const std::string message =
            where() + ": another rank's batch gave a NaN or inf loss (its message is in its output)";
        if (!optimizer) throw std::domain_error(message);
        throw Diverged(message + divergence_advice(*optimizer));
      }
      const std::string what = std::isnan(value) ? "NaN" : "inf";
      if (!optimizer) throw std::domain_error(where() + ": the evaluation loss is " + what);
      throw Diverged(where() + ": the loss is " + what + divergence_advice(*optimizer));
    }
    if (optimizer) {
      optimizer->zero_grad();
      loss.backward();
      if (const double squares = gradient_squares(*optimizer); !std::isfinite(squares)) {
        throw Diverged(where() + ": the gradient norm is " + number(std::sqrt(squares)) +
                       divergence_advice(*optimizer));
      }
      if (clip_grad_norm > 0) nn::clip_grad_norm(optimizer->parameters(), clip_grad_norm);
      optimizer->step();
    }
    loss_sum += value * static_cast<double>(n);
    samples += n;
    for (const auto& m : metrics) m->update(predictions, b.targets, b.labels);
    ++batch_index;
    if (progress) {
      ProgressMetrics running{{"loss", loss_sum / static_cast<double>(samples)}};
      for (const auto& m : metrics) running.emplace_back(m->name(), m->result());
      progress->update(batch_index, running);
    }
    // A signal may reach one rank only: all stop after the same batch.
    if (optimizer && (dist::is_distributed() ? dist::any(train::interrupted()) : train::interrupted())) {
      interrupted = true;
      break;
    }
  }
  if (dist::is_distributed() && reduce_over_ranks(loss_sum, samples, metrics, evaluation_failure.has_value())) {
    if (evaluation_failure) throw *evaluation_failure;
    throw std::domain_error("fit: epoch " + std::to_string(epoch + 1) +
                            ": another rank's evaluation batch gave a NaN or inf loss (its message is in its output)");
  }
  Logs logs;
  logs["loss"] = samples ? loss_sum / static_cast<double>(samples) : std::nan("");
  for (const auto& m : metrics) logs[m->name()] = m->result();
  return logs;
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
  std::optional<InterruptScope> interrupts;
  if (options.stop_on_interrupt) interrupts.emplace();
  TrainState state{model, optimizer};
  const auto end_training = [&](StopReason reason, std::string message = {}) {
    state.stop_reason = reason;
    state.stop_message = std::move(message);
    for (auto& c : callbacks) c->on_train_end(state);
  };
  for (auto& c : callbacks) c->on_train_begin(state);
  if (options.initial_epoch) train.skip_epochs(options.initial_epoch);  // the same shuffles as an unbroken run
  StopReason reason = StopReason::completed;
  try {
    for (std::size_t epoch = options.initial_epoch; epoch < options.epochs; ++epoch) {
      const bool shown_epoch =
          options.verbose && dist::rank() == 0 &&
          (options.print_every <= 1 || (epoch + 1) % options.print_every == 0 || epoch + 1 == options.epochs);
      state.epoch = epoch;
      for (auto& c : callbacks) c->on_epoch_begin(state);
      EpochProgress progress(epoch + 1, options.epochs, train.num_batches(), !shown_epoch);
      Logs logs;
      logs["lr"] = optimizer.lr();
      model.train();
      bool interrupted = false;
      for (auto& [k, v] : run_pass<Loader, Batch>(model, task, train, options.metrics, &optimizer,
                                                  options.clip_grad_norm, epoch, interrupted, &progress))
        logs[k] = v;
      if (interrupted) {
        if (options.verbose && dist::rank() == 0) std::printf("\nEpoch %zu interrupted: stopping\n", epoch + 1);
        reason = StopReason::interrupted;
        break;
      }
      if (!parameters_finite(optimizer)) {  // finite gradients times a huge rate can still overflow
        throw Diverged("fit: epoch " + std::to_string(epoch + 1) + ": the weights overflowed to inf or NaN" +
                       divergence_advice(optimizer));
      }
      if (validation) {
        model.eval();
        bool unused = false;
        for (auto& [k, v] :
             run_pass<Loader, Batch>(model, task, *validation, options.metrics, nullptr, 0, epoch, unused))
          logs["val_" + k] = v;
        model.train();
      }
      progress.finish(shown(logs));
      state.epoch = epoch;
      for (auto& c : callbacks) c->on_epoch_end(logs, state);
      if (state.stop_training) {
        reason = StopReason::stopped;
        break;
      }
    }
  } catch (const Diverged& e) {
    end_training(StopReason::diverged, e.what());
    throw;
  }
  end_training(reason);
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

Task<data::Batch> task(nn::Module<float>& model, TargetLoss loss) {
  if (!loss) throw std::invalid_argument("train::task: the loss is null");
  return task(model, [loss](const Tensor& p, const Tensor& t) { return loss(p, t, nn::Reduction::Mean); });
}

Task<data::Batch> task(nn::Module<float>& model, LabelLoss loss) {
  if (!loss) throw std::invalid_argument("train::task: the loss is null");
  return task_with_labels(
      model, [loss](const Tensor& p, const xt::xarray<std::int64_t>& l) { return loss(p, l, nn::Reduction::Mean); });
}

Tensor predict(nn::Module<float>& model, const Tensor& inputs) {
  const bool was_training = model.is_training();
  NoGradGuard no_grad;
  model.eval();
  Tensor out = model.forward(inputs);
  model.train(was_training);
  return out;
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
