#pragma once
// Everything a user of the autograd layer needs: tensors, the tape, the
// ops, random tensors and the gradient checker.
#include "autograd/anomaly.hpp"
#include "autograd/blas.hpp"
#include "autograd/elementwise.hpp"
#include "autograd/gradcheck.hpp"
#include "autograd/linalg.hpp"
#include "autograd/random.hpp"
#include "autograd/reduction.hpp"
#include "autograd/shape_ops.hpp"
#include "autograd/tape.hpp"
#include "autograd/tensor.hpp"
