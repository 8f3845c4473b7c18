#pragma once
// All of xgrad's public API in one include: xgrad/nn.hpp (tensors, ops,
// layers, optimizers, checkpoints) and the data utilities of
// xgrad::data (sequences, scalers, splits, loaders, CSV series, IMDB, the
// tokenizer and pad_sequences), xgrad::dist (data-parallel training on
// MPI) and xgrad::train (fit, callbacks, metrics),
// with the xtensor headers a program indexes arrays with (views, adapt,
// reshape/flatten). Including the headers you use instead compiles faster
// (README, "Use xgrad in your project").
#include <xtensor/xadapt.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xview.hpp>

#include "xgrad/datasets/csv.hpp"
#include "xgrad/datasets/file_io.hpp"
#include "xgrad/datasets/imdb.hpp"
#include "xgrad/datasets/loader.hpp"
#include "xgrad/datasets/padding.hpp"
#include "xgrad/datasets/scaler.hpp"
#include "xgrad/datasets/sequence.hpp"
#include "xgrad/datasets/split.hpp"
#include "xgrad/datasets/synthetic.hpp"
#include "xgrad/datasets/tokenizer.hpp"
#include "xgrad/dist/comm.hpp"
#include "xgrad/dist/ddp.hpp"
#include "xgrad/dist/sampler.hpp"
#include "xgrad/nn.hpp"
#include "xgrad/train/callbacks.hpp"
#include "xgrad/train/fit.hpp"
#include "xgrad/train/metrics.hpp"
