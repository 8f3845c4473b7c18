// A character-level language model: a 2-layer LSTM reads a text file of your
// choice (default: the GPL-3 text every Debian system ships) as bytes and
// learns to predict the next byte.
//
// Training is truncated backpropagation through time, as in PyTorch's
// word_language_model example: the text is cut into `batch` parallel
// streams; each step reads the next `seq-len` bytes of every stream, starts
// from the state the previous step ended in (detached, so gradients stop
// at the chunk boundary), clips the gradient norm and takes an Adam step.
// Then it samples new text with a temperature.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <xgrad/nn.hpp>

using namespace xgrad;

namespace {

struct Settings {
  std::string text = "/usr/share/common-licenses/GPL-3";
  std::size_t steps = 300, batch = 32, seq_len = 64, hidden = 256, sample = 400;
  float lr = 2e-3f, temperature = 0.8f;
  std::uint32_t seed = 1;
};

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help") {
      std::printf(
          "usage: char_lm [--text FILE] [--steps N] [--batch N] [--seq-len N] [--hidden N] [--lr X]\n"
          "               [--sample N] [--temperature X] [--seed N]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
    const std::string v = argv[++i];
    if (flag == "--text")
      s.text = v;
    else if (flag == "--steps")
      s.steps = std::stoul(v);
    else if (flag == "--batch")
      s.batch = std::stoul(v);
    else if (flag == "--seq-len")
      s.seq_len = std::stoul(v);
    else if (flag == "--hidden")
      s.hidden = std::stoul(v);
    else if (flag == "--sample")
      s.sample = std::stoul(v);
    else if (flag == "--lr")
      s.lr = std::stof(v);
    else if (flag == "--temperature")
      s.temperature = std::stof(v);
    else if (flag == "--seed")
      s.seed = static_cast<std::uint32_t>(std::stoul(v));
    else
      throw std::invalid_argument("unknown option " + flag);
  }
  if (s.batch == 0 || s.seq_len == 0 || s.hidden == 0)
    throw std::invalid_argument("--batch, --seq-len and --hidden must be positive");
  if (!(s.temperature > 0)) throw std::invalid_argument("--temperature must be positive");
  return s;
}

// Embedding (256 bytes -> 64) -> LSTM (2 layers) -> Linear (-> 256 logits).
struct CharModel : nn::Module<> {
  static constexpr std::size_t kVocab = 256, kEmbed = 64;
  std::shared_ptr<nn::Embedding<>> embed;
  std::shared_ptr<nn::LSTM<>> lstm;
  std::shared_ptr<nn::Linear<>> head;
  explicit CharModel(std::size_t hidden)
      : embed(register_module("embed", std::make_shared<nn::Embedding<>>(kVocab, kEmbed))),
        lstm(register_module("lstm",
                             std::make_shared<nn::LSTM<>>(nn::LSTMOptions{
                                 .input_size = kEmbed, .hidden_size = hidden, .num_layers = 2, .batch_first = true}))),
        head(register_module("head", std::make_shared<nn::Linear<>>(hidden, kVocab))) {}

  // ids (B, T) -> logits (B * T, 256), and the LSTM's final state.
  nn::RecurrentOutput<float> forward(const xt::xarray<std::int64_t>& ids, const Tensor& h0, const Tensor& c0,
                                     Tensor& logits) {
    nn::RecurrentOutput<float> r = lstm->forward(embed->forward(ids), h0, c0);
    const std::size_t hidden = r.output.size(2);
    logits = head->forward(reshape(r.output, {-1, static_cast<std::ptrdiff_t>(hidden)}));
    return r;
  }
};

// Draws a byte from softmax(logits / temperature).
std::size_t sample_byte(const Tensor& logits, float temperature, Generator& gen) {
  const Tensor probs = softmax(logits / temperature, -1);
  double u = gen.uniform(), total = 0;
  for (std::size_t k = 0; k < probs.size(); ++k) {
    total += probs.data()[k];
    if (u < total) return k;
  }
  return probs.size() - 1;
}

}  // namespace

int main(int argc, char** argv) try {
  const Settings s = parse(argc, argv);
  std::ifstream file(s.text, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open the text file " + s.text);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // The streams: text[k * L .. (k + 1) * L) for k < batch; inputs and targets are offset by one.
  const std::size_t stream_len = text.size() / s.batch;
  if (stream_len < s.seq_len + 1) throw std::runtime_error(s.text + " is too short for --batch and --seq-len");
  std::printf("%s: %zu bytes, %zu streams of %zu\n", s.text.c_str(), text.size(), s.batch, stream_len);

  manual_seed(s.seed);
  CharModel model(s.hidden);
  nn::Adam<> opt(model.parameters(), {.lr = s.lr});
  Tensor h, c;  // carried across steps
  std::size_t pos = 0;
  double first_loss = 0, recent = 0;
  for (std::size_t step = 1; step <= s.steps; ++step) {
    if (pos + s.seq_len + 1 > stream_len || step == 1) {  // back to the start, from a zero state
      pos = 0;
      h = Tensor::zeros({2, s.batch, s.hidden});
      c = Tensor::zeros({2, s.batch, s.hidden});
    }
    xt::xarray<std::int64_t> ids = xt::xarray<std::int64_t>::from_shape({s.batch, s.seq_len});
    xt::xarray<std::int64_t> next = xt::xarray<std::int64_t>::from_shape({s.batch * s.seq_len});
    for (std::size_t b = 0; b < s.batch; ++b)
      for (std::size_t t = 0; t < s.seq_len; ++t) {
        ids(b, t) = static_cast<unsigned char>(text[b * stream_len + pos + t]);
        next(b * s.seq_len + t) = static_cast<unsigned char>(text[b * stream_len + pos + t + 1]);
      }
    pos += s.seq_len;

    opt.zero_grad();
    Tensor logits;
    const nn::RecurrentOutput<float> r = model.forward(ids, h, c, logits);
    Tensor loss = nn::cross_entropy(logits, next);
    loss.backward();
    nn::clip_grad_norm(model.parameters(), 1.0);
    opt.step();
    h = r.h_n.detach();  // truncated BPTT: the state goes on, its history does not
    c = r.c_n.detach();

    if (step == 1) first_loss = loss.item();
    recent = step == 1 ? loss.item() : 0.9 * recent + 0.1 * loss.item();
    if (step == 1 || step % 50 == 0 || step == s.steps)
      std::printf("step %4zu  loss %.3f (%.2f bits per byte)\n", step, recent, recent / std::log(2.0));
  }

  // Sampling: the prompt first, then one drawn byte at a time, carrying the state.
  model.eval();
  NoGradGuard no_grad;
  Generator gen(s.seed);
  Tensor sh = Tensor::zeros({2, 1, s.hidden}), sc = sh, logits;
  auto feed = [&](unsigned char byte) {
    xt::xarray<std::int64_t> id = xt::xarray<std::int64_t>::from_shape({1, 1});
    id(0, 0) = byte;
    const nn::RecurrentOutput<float> r = model.forward(id, sh, sc, logits);
    sh = r.h_n;
    sc = r.c_n;
  };
  std::string out = "The ";
  for (const char ch : out) feed(static_cast<unsigned char>(ch));
  for (std::size_t i = 0; i < s.sample; ++i) {
    const auto byte = static_cast<unsigned char>(sample_byte(logits, s.temperature, gen));
    out.push_back(static_cast<char>(byte));
    feed(byte);
  }
  std::printf("\nsample (temperature %.2f):\n%s\n", s.temperature, out.c_str());
  // Learning happened: the loss fell well below ln(256) = 5.55 nats.
  return recent < 0.8 * first_loss ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "char_lm: %s\n", e.what());
  return 1;
}
