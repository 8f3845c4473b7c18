#pragma once
// One include for building and training models: the autograd layer
// (tensors, ops, the gradient checker) and every layer, loss, optimizer,
// scheduler, initializer and checkpoint function of xgrad::nn.
#include "xgrad/autograd/autograd.hpp"
#include "xgrad/nn/checkpoint.hpp"
#include "xgrad/nn/clip.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/init.hpp"
#include "xgrad/nn/layer_gradcheck.hpp"
#include "xgrad/nn/layer_init.hpp"
#include "xgrad/nn/layer_norm.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/optimizer.hpp"
#include "xgrad/nn/recurrent.hpp"
#include "xgrad/nn/scheduler.hpp"
#include "xgrad/nn/sequential.hpp"
