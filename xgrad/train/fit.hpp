#pragma once
// The training loop people do not rewrite (Keras's model.fit, a small
// PyTorch Lightning): epochs over a loader, the optimizer step, gradient
// clipping, metrics, validation, callbacks (History, EarlyStopping,
// ModelCheckpoint, schedulers through LambdaCallback), and a clean stop on
// Ctrl-C.
//
//   nn::Adam<> opt(model.parameters(), {.lr = 1e-3});
//   train::FitOptions options;
//   options.epochs = 10;
//   options.metrics = {train::accuracy()};
//   train::History h = train::fit(model, opt, nn_loss, train_loader, options, &val_loader);
//
// where nn_loss is a Task: how a batch becomes predictions, and predictions
// a loss. For a DataLoader whose model maps inputs to predictions,
// train::task(model, loss) builds it.

#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#include "xgrad/datasets/loader.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/optimizer.hpp"
#include "xgrad/train/callbacks.hpp"
#include "xgrad/train/metrics.hpp"

namespace xgrad::train {

// How one batch is trained on: predict(batch) runs the model (predictions
// (B, ...)); loss(predictions, batch) is the scalar to minimize.
template <class Batch>
struct Task {
  std::function<Tensor(const Batch&)> predict;
  std::function<Tensor(const Tensor& predictions, const Batch& batch)> loss;
};

// model(batch.inputs) as predictions; loss(predictions, batch.targets), or
// loss_labels(predictions, batch.labels) for class labels.
Task<data::Batch> task(nn::Module<float>& model, std::function<Tensor(const Tensor&, const Tensor&)> loss);
Task<data::Batch> task_with_labels(nn::Module<float>& model,
                                   std::function<Tensor(const Tensor&, const xt::xarray<std::int64_t>&)> loss);
// The library's losses by name, with their default (mean) reduction:
// train::task(model, nn::mse_loss), train::task(model, nn::cross_entropy).
using TargetLoss = Tensor (*)(const Tensor&, const Tensor&, nn::Reduction);
using LabelLoss = Tensor (*)(const Tensor&, const xt::xarray<std::int64_t>&, nn::Reduction);
Task<data::Batch> task(nn::Module<float>& model, TargetLoss loss);
Task<data::Batch> task(nn::Module<float>& model, LabelLoss loss);

struct FitOptions {
  std::size_t epochs = 1;
  std::size_t initial_epoch = 0;  // resume: the first epoch to run (0-based); the loader skips the ones before
  std::vector<std::shared_ptr<Metric>> metrics{};
  std::vector<std::shared_ptr<Callback>> callbacks{};
  double clip_grad_norm = 0.0;  // > 0: clip the gradients' total 2-norm to this before each step
  // Keras's progress: a live bar per epoch on a terminal, one line per epoch
  // in a log; print_every > 1 shows only every that many epochs (and the last).
  bool verbose = true;
  std::size_t print_every = 1;
  // Ctrl-C (SIGINT) and SIGTERM end training after the current batch
  // (train::InterruptScope); the epoch in progress is not logged, and
  // on_train_end still runs (so EarlyStopping restores and callbacks can
  // save). The previous handlers are restored when fit returns.
  bool stop_on_interrupt = true;
};

// Training diverged: a NaN or inf loss or gradient norm (checked every
// step, before the optimizer uses it) or weight (checked every epoch,
// before callbacks see it). Thrown after every callback's on_train_end saw
// StopReason::diverged, so the last good epoch's checkpoint stays the last
// one written. The message names the epoch, the batch and the learning rate.
struct Diverged : std::domain_error {
  using std::domain_error::domain_error;
};

// Trains and returns every epoch's logs: "loss" (the mean of the batch
// losses, weighted by batch size), each metric by its name, and with a
// validation loader "val_loss" and "val_<metric>" (computed under no_grad
// in eval mode); "lr" is the optimizer's rate during the epoch. Divergence
// throws Diverged (above); a loss that refuses its input (NaN data) throws
// its std::domain_error prefixed with the epoch and batch. The model is in
// train mode during training epochs.
History fit(nn::Module<float>& model, nn::Optimizer<float>& optimizer, const Task<data::Batch>& task,
            data::DataLoader& train, const FitOptions& options = {}, data::DataLoader* validation = nullptr);
History fit(nn::Module<float>& model, nn::Optimizer<float>& optimizer, const Task<data::TokenBatch>& task,
            data::TokenDataLoader& train, const FitOptions& options = {}, data::TokenDataLoader* validation = nullptr);

// The loss and metrics of a task over one pass of a loader, under no_grad
// in eval mode (Keras's model.evaluate). Keys as fit's (without "val_").
Logs evaluate(nn::Module<float>& model, const Task<data::Batch>& task, data::DataLoader& loader,
              const std::vector<std::shared_ptr<Metric>>& metrics = {});
Logs evaluate(nn::Module<float>& model, const Task<data::TokenBatch>& task, data::TokenDataLoader& loader,
              const std::vector<std::shared_ptr<Metric>>& metrics = {});

// The model's output for `inputs` under no_grad in eval mode (Keras's
// model.predict), its train/eval mode restored after. inputs: what the
// model's forward takes, e.g. (N, T, F); the result has no tape history.
Tensor predict(nn::Module<float>& model, const Tensor& inputs);

}  // namespace xgrad::train
