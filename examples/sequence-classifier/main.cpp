// A bidirectional GRU classifies variable-length sequences, then saves a
// checkpoint that PyTorch loads (load_in_pytorch.py beside this file;
// pytorch_equivalent.py is this program written in PyTorch).
//
// The task: each sequence has 4..24 values in [-1, 1]; its class is whether
// its last value is greater than its first. The batches are padded to 24
// steps with the value 5. Passing the lengths makes the GRU stop each
// sequence at its own end, and the backward direction start there: it reads
// the last value first, the forward direction the first value, and the
// padding is never seen.
#include <cstdio>

#include <xgrad/xgrad.hpp>

using namespace xgrad;

constexpr std::size_t kMaxLen = 24, kHidden = 32;

struct Batch {
  Tensor inputs;                      // (B, 24, 1), padded with 5
  std::vector<std::size_t> lengths;   // (B) 4..24
  xt::xarray<std::int64_t> labels{};  // (B) 0 or 1
};

Batch make_batch(std::size_t size, Generator& gen) {
  Batch b{Tensor::full({size, kMaxLen, 1}, 5.0f), std::vector<std::size_t>(size), xt::zeros<std::int64_t>({size})};
  for (std::size_t i = 0; i < size; ++i) {
    b.lengths[i] = 4 + gen.below(kMaxLen - 3);
    for (std::size_t t = 0; t < b.lengths[i]; ++t) b.inputs.mutable_data()[i * kMaxLen + t] = 2 * gen.uniform() - 1;
    b.labels(i) = b.inputs.value()(i, b.lengths[i] - 1, 0) > b.inputs.value()(i, 0, 0);
  }
  return b;
}

// GRU (bidirectional) -> [h_forward, h_backward] -> Linear -> 2 logits.
struct Classifier : nn::Module<> {
  std::shared_ptr<nn::GRU<>> gru = register_module<nn::GRU<>>(
      "gru", nn::RecurrentOptions{.input_size = 1, .hidden_size = kHidden, .batch_first = true, .bidirectional = true});
  std::shared_ptr<nn::Linear<>> fc = register_module<nn::Linear<>>("fc", 2 * kHidden, 2);
  Tensor forward(const Batch& b) {
    const Tensor h_n = gru->forward(b.inputs, {}, b.lengths).h_n;  // (2, B, H): each direction's last state
    return fc->forward(concat<float>({select(h_n, 0, 0), select(h_n, 0, 1)}, 1));
  }
};

int main(int argc, char** argv) {
  const std::size_t steps = argc > 1 ? std::stoul(argv[1]) : 400;
  const std::string checkpoint = argc > 2 ? argv[2] : "sequence_classifier.npz";
  manual_seed(0);
  Generator data_gen(1);
  Classifier model;
  nn::Adam<> opt(model.parameters(), {.lr = 3e-3});
  for (std::size_t step = 1; step <= steps; ++step) {
    const Batch b = make_batch(64, data_gen);
    opt.zero_grad();
    Tensor loss = nn::cross_entropy(model.forward(b), b.labels);
    loss.backward();
    opt.step();
    if (step % 100 == 0) std::printf("step %4zu  loss %.4f\n", step, loss.item());
  }
  model.eval();
  NoGradGuard no_grad;
  const Batch test = make_batch(2000, data_gen);
  const double accuracy = xt::mean(xt::equal(argmax(model.forward(test), 1), test.labels))();
  std::printf("test accuracy on 2000 new sequences: %.3f\n", accuracy);
  // Parameter names and layouts are PyTorch's (gru.weight_ih_l0_reverse, ...).
  nn::save_checkpoint(checkpoint, model);
  std::printf("saved %s:", checkpoint.c_str());
  for (const auto& [name, p] : model.named_parameters()) std::printf(" %s", name.c_str());
  std::printf("\n");
  return accuracy > 0.9 ? 0 : 1;
}
