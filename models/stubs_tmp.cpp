#include "models/experiment_support.hpp"
namespace xgrad::zoo {
namespace { RunSummary todo(const RunOptions&) { throw std::runtime_error("not implemented yet"); } }
Experiment imdb_keras_experiment() { return {"imdb-keras", "L4", "todo", "todo", todo}; }
Experiment imdb_torch_experiment() { return {"imdb-torch", "L5", "todo", "todo", todo}; }
Experiment rnn_vs_lstm_experiment() { return {"rnn-vs-lstm", "L5", "todo", "todo", todo}; }
}
