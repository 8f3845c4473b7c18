#pragma once
// Everything a user of the autograd layer needs: tensors, the tape, the
// ops, random tensors, the gradient checker and .npy/.npz files. It also
// brings in xtensor's arrays and their printing, so that what the ops return
// (`w.grad()`, `t.value()`) can be used and printed at once.
#include <xtensor/xarray.hpp>
#include <xtensor/xio.hpp>

#include "xgrad/autograd/anomaly.hpp"
#include "xgrad/autograd/blas.hpp"
#include "xgrad/autograd/denormals.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/gradcheck.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/normalization.hpp"
#include "xgrad/autograd/npz.hpp"
#include "xgrad/autograd/packed_weights.hpp"
#include "xgrad/autograd/pointwise.hpp"
#include "xgrad/autograd/random.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape_ops.hpp"
#include "xgrad/autograd/tape.hpp"
#include "xgrad/autograd/tensor.hpp"
