#pragma once
// NumPy's array formats, so that NumPy and PyTorch can read what xgrad
// writes and the other way round: .npy (one array: a magic string, a header
// dict with dtype, order and shape, then the raw little-endian data) and
// .npz (a zip of name.npy members, as numpy.savez writes). Supported dtypes:
// float32 '<f4', float64 '<f8', int64 '<i8', int32 '<i4'; C order (a
// Fortran-order array is transposed on read).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::io {

struct NpyArray {
  std::string dtype{};  // '<f4', '<f8', '<i8' or '<i4'
  Shape shape{};
  std::vector<unsigned char> data{};  // C-order little-endian bytes
  std::size_t size() const;           // element count
  // The values converted to T (float32 <-> float64 and integers allowed;
  // converting a non-integral float to an integer type throws).
  template <class T>
  xt::xarray<T> to_array() const;
};

// Encodes an array as .npy bytes.
template <class T>
std::string encode_npy(const xt::xarray<T>& array);
// Decodes .npy bytes; `what` names the source in error messages.
NpyArray decode_npy(const std::string& bytes, const std::string& what);

// One array as a .npy file (numpy.save / numpy.load): written atomically,
// like write_npz_atomic; read with the checks of decode_npy and converted to
// T as NpyArray::to_array does. Errors name the path.
template <class T>
void save_npy(const std::string& path, const xt::xarray<T>& array);
template <class T>
xt::xarray<T> load_npy(const std::string& path);

// Reads every member of an .npz file, keyed by name without ".npy"
// (members that are not .npy are returned raw under "name" in `others`).
// Errors name the path and the member.
struct NpzContents {
  std::map<std::string, NpyArray> arrays{};
  std::map<std::string, std::string> others{};
  const NpyArray& at(const std::string& name) const;  // throws naming the missing array
};
NpzContents read_npz(const std::string& path);

// Writes an .npz atomically: the members go to a temporary file in the same
// folder, which is flushed to disk and then renamed over `path`. A failure
// (full disk, bad folder) leaves any previous file at `path` untouched and
// removes the temporary. Member names are used as given ("w.npy").
void write_npz_atomic(const std::string& path, const std::vector<std::pair<std::string, std::string>>& members);

}  // namespace xgrad::io
