// A character-level language model: a 2-layer LSTM reads a text file
// (argv[1]; default: the GPL-3 text every Debian system ships) as bytes for
// argv[2] steps (default 300) and
// learns to predict the next byte, then samples new text with a temperature.
//
// Training is truncated backpropagation through time, as in PyTorch's
// word_language_model example: the text is cut into `batch` parallel
// streams; each step reads the next `seq_len` bytes of every stream, starts
// from the state the previous step ended in (detached, so gradients stop at
// the chunk boundary), clips the gradient norm and takes an Adam step.
// pytorch_equivalent.py beside this file is the same program in PyTorch.
#include <cmath>
#include <cstdio>

#include <xgrad/xgrad.hpp>

using namespace xgrad;

// Embedding (256 bytes -> 64) -> LSTM (2 layers) -> Linear (-> 256 logits).
struct CharModel : nn::Module<> {
  std::shared_ptr<nn::Embedding<>> embed = register_module<nn::Embedding<>>("embed", 256, 64);
  std::shared_ptr<nn::LSTM<>> lstm;
  std::shared_ptr<nn::Linear<>> head;
  explicit CharModel(std::size_t hidden)
      : lstm(register_module<nn::LSTM<>>(
            "lstm", nn::LSTMOptions{.input_size = 64, .hidden_size = hidden, .num_layers = 2, .batch_first = true})),
        head(register_module<nn::Linear<>>("head", hidden, 256)) {}
  // ids (B, T) -> logits (B * T, 256); the state (h, c) goes in and comes out.
  Tensor forward(const xt::xarray<std::int64_t>& ids, Tensor& h, Tensor& c) {
    const nn::RecurrentOutput<float> r = lstm->forward(embed->forward(ids), h, c);
    h = r.h_n, c = r.c_n;
    return head->forward(flatten(r.output, 0, 1));
  }
};

// The bytes of `text` as ids of the given shape.
xt::xarray<std::int64_t> ids_of(const std::string& text, const std::vector<std::size_t>& shape) {
  const std::vector<unsigned char> bytes(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(shape[0] * shape[1]));
  return xt::cast<std::int64_t>(xt::adapt(bytes, shape));
}

int main(int argc, char** argv) try {
  const std::string path = argc > 1 ? argv[1] : "/usr/share/common-licenses/GPL-3";
  const std::size_t steps = argc > 2 ? std::stoul(argv[2]) : 300, batch = 32, seq_len = 64, hidden = 256;
  const float lr = 2e-3f, temperature = 0.8f;
  manual_seed(1);
  const std::string text = data::read_file_bytes(path, "the text");
  const std::size_t stream_len = text.size() / batch;
  const data::TokenArray streams = ids_of(text, {batch, stream_len});
  CharModel model(hidden);
  nn::Adam<> opt(model.parameters(), {.lr = lr});
  Tensor h, c;  // carried across steps; undefined means zeros
  std::size_t pos = 0;
  double first = 0, recent = 0;
  for (std::size_t step = 1; step <= steps; ++step) {
    if (pos + seq_len + 1 > stream_len || step == 1) pos = 0, h = c = Tensor();
    const data::TokenArray ids = xt::view(streams, xt::all(), xt::range(pos, pos + seq_len));
    const data::TokenArray next = xt::flatten(xt::view(streams, xt::all(), xt::range(pos + 1, pos + seq_len + 1)));
    pos += seq_len;
    opt.zero_grad();
    Tensor loss = nn::cross_entropy(model.forward(ids, h, c), next);
    loss.backward();
    nn::clip_grad_norm(model.parameters(), 1.0);
    opt.step();
    h = h.detach(), c = c.detach();  // truncated BPTT: the state goes on, its history does not
    if (step == 1) first = loss.item();
    recent = step == 1 ? loss.item() : 0.9 * recent + 0.1 * loss.item();
    if (step == 1 || step % 50 == 0 || step == steps)
      std::printf("step %4zu  loss %.3f (%.2f bits per byte)\n", step, recent, recent / std::log(2.0));
  }
  model.eval();
  NoGradGuard no_grad;
  std::string out = "The ";
  Tensor sh, sc, logits = model.forward(ids_of(out, {1, out.size()}), sh, sc);
  for (std::size_t i = 0, sample_len = 400; i < sample_len; ++i) {
    const std::int64_t byte = multinomial(softmax(select(logits, 0, -1) / temperature, -1), 1)(0);
    out.push_back(static_cast<char>(byte));
    logits = model.forward(ids_of(out.substr(out.size() - 1), {1, 1}), sh, sc);
  }
  std::printf("\nsample (temperature %.2f):\n%s\n", temperature, out.c_str());
  return recent < 0.8 * first ? 0 : 1;  // learning happened: well below ln(256) = 5.55 nats
} catch (const std::exception& e) {
  std::fprintf(stderr, "char_lm: %s\n", e.what());
  return 1;
}
