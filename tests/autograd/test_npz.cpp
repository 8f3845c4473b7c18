// Hostile .npy/.npz bytes: every malformed header, overflowing shape,
// duplicate member or unrepresentable value is an error naming the problem,
// never a crash or a silently different array. (The fuzz target
// fuzz/fuzz_npz.cpp explores the same reader at random; crashes it found
// are pinned here.)
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/npz.hpp"
#include "xgrad/autograd/printable.hpp"

using namespace xgrad;
namespace fs = std::filesystem;

namespace {

// A version-1.0 .npy with `header` (padded as NumPy pads it) and `data`.
std::string npy(const std::string& header, const std::string& data) {
  std::string h = header;
  const std::size_t unpadded = 10 + h.size() + 1;
  h.append((64 - unpadded % 64) % 64, ' ');
  h += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xFF);
  out += static_cast<char>((h.size() >> 8) & 0xFF);
  return out + h + data;
}

std::string f4_header(const std::string& shape, bool fortran = false) {
  return std::string("{'descr': '<f4', 'fortran_order': ") + (fortran ? "True" : "False") + ", 'shape': " + shape +
         ", }";
}

std::string scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("xgrad-npz-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

TEST_CASE("npy: a shape whose element count overflows is refused before anything is sized from it") {
  // (2**62 + 25,) * 4 bytes wraps to 100 bytes: the old check passed and
  // convert() read 2**62 floats from a 100-byte buffer.
  const std::string data(100, '\0');
  CHECK_THROWS_WITH_AS(io::decode_npy(npy(f4_header("(4611686018427387929,)"), data), "wrap1d"),
                       doctest::Contains("does not match shape"), std::runtime_error);
  // 2-D: 2**32 x 2**32 wraps to 0 elements.
  CHECK_THROWS_WITH_AS(io::decode_npy(npy(f4_header("(4294967296, 4294967296)"), ""), "wrap2d"),
                       doctest::Contains("overflows"), std::runtime_error);
  // The Fortran-order branch used the wrapped count for its memcpy.
  CHECK_THROWS_AS(io::decode_npy(npy(f4_header("(4611686018427387929, 1)", true), data), "fortran"),
                  std::runtime_error);
  // A zero extent does not excuse the others: xtensor's strides multiply them.
  CHECK_THROWS_AS(io::decode_npy(npy(f4_header("(0, 4294967296, 4294967296, 4294967296)"), ""), "zero"),
                  std::runtime_error);
  // A dimension beyond 64 bits names the problem instead of "stoul".
  CHECK_THROWS_WITH_AS(io::decode_npy(npy(f4_header("(99999999999999999999999,)"), ""), "huge"),
                       doctest::Contains("too large"), std::runtime_error);
  // A hand-built NpyArray whose bytes do not hold its shape is refused too.
  io::NpyArray forged{"<f4", {4611686018427387929ull}, std::vector<unsigned char>(100)};
  CHECK_THROWS_AS(forged.to_array<float>(), std::exception);
}

TEST_CASE("npy: malformed headers get a message that says what was wrong") {
  const std::string four(16, '\0');
  CHECK_THROWS_WITH_AS(io::decode_npy(npy("{'descr': '<f4', 'shape': (4,), }", four), "x"),
                       doctest::Contains("fortran_order"), std::runtime_error);
  CHECK_THROWS_WITH_AS(io::decode_npy(npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (4,), }", four), "x"),
                       doctest::Contains("True or False"), std::runtime_error);
  CHECK_THROWS_WITH_AS(io::decode_npy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, -1), }", four), "x"),
                       doctest::Contains("non-negative integer"), std::runtime_error);
  CHECK_THROWS_WITH_AS(io::decode_npy(npy("{'descr': '<u2', 'fortran_order': False, 'shape': (4,), }", four), "x"),
                       doctest::Contains("unsupported dtype"), std::runtime_error);
  CHECK_THROWS_WITH_AS(
      io::decode_npy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'evil': 1}", four), "x"),
      doctest::Contains("unknown key"), std::runtime_error);
  std::string nul = npy(f4_header("(4,)"), four);
  nul[20] = '\0';
  CHECK_THROWS_WITH_AS(io::decode_npy(nul, "x"), doctest::Contains("NUL"), std::runtime_error);
  // A version-2 header claiming 4 GiB is refused by its length, not read.
  std::string v2("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
  CHECK_THROWS_WITH_AS(io::decode_npy(v2, "x"), doctest::Contains("the limit is"), std::runtime_error);
  // Rank 33 exceeds NumPy's own limit.
  std::string rank33 = "(";
  for (int i = 0; i < 33; ++i) rank33 += "1, ";
  rank33 += ")";
  CHECK_THROWS_WITH_AS(io::decode_npy(npy(f4_header(rank33), std::string(4, '\0')), "x"),
                       doctest::Contains("dimensions"), std::runtime_error);
}

TEST_CASE("npy: Fortran order, empty arrays and scalars decode as NumPy wrote them") {
  // np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)) stores 0 3 1 4 2 5.
  std::string data;
  for (float v : {0.f, 3.f, 1.f, 4.f, 2.f, 5.f}) data.append(reinterpret_cast<const char*>(&v), 4);
  const auto f = io::decode_npy(npy(f4_header("(2, 3)", true), data), "f").to_array<float>();
  CHECK(f == xt::xarray<float>({{0.f, 1.f, 2.f}, {3.f, 4.f, 5.f}}));
  CHECK(io::decode_npy(npy(f4_header("(0, 3)"), ""), "e").to_array<float>().size() == 0);
  CHECK(io::decode_npy(npy(f4_header("()"), std::string(4, '\0')), "s").to_array<float>().size() == 1);
}

TEST_CASE("npy: values that do not fit the requested type are refused, not wrapped") {
  const xt::xarray<double> big = {1e300};
  CHECK_THROWS_WITH_AS(io::decode_npy(io::encode_npy(big), "x").to_array<float>(),
                       doctest::Contains("overflows float32"), std::runtime_error);
  const xt::xarray<double> inf = {std::numeric_limits<double>::infinity()};
  CHECK(std::isinf(io::decode_npy(io::encode_npy(inf), "x").to_array<float>()(0)));  // inf stays inf
  CHECK_THROWS_AS(io::decode_npy(io::encode_npy(inf), "x").to_array<std::int64_t>(), std::runtime_error);
  const xt::xarray<double> frac = {0.5};
  CHECK_THROWS_AS(io::decode_npy(io::encode_npy(frac), "x").to_array<std::int64_t>(), std::runtime_error);
  const xt::xarray<std::int64_t> wide = {std::int64_t{1} << 40};
  CHECK_THROWS_WITH_AS(io::decode_npy(io::encode_npy(wide), "x").to_array<std::int32_t>(),
                       doctest::Contains("does not fit"), std::runtime_error);
  const xt::xarray<double> edge = {-9223372036854775808.0};
  CHECK(io::decode_npy(io::encode_npy(edge), "x").to_array<std::int64_t>()(0) ==
        std::numeric_limits<std::int64_t>::min());
  const xt::xarray<double> over = {9223372036854775808.0};
  CHECK_THROWS_AS(io::decode_npy(io::encode_npy(over), "x").to_array<std::int64_t>(), std::runtime_error);
}

TEST_CASE("npz: duplicate members, folders and non-zip files are errors that name the file") {
  const std::string path = scratch("dup.npz");
  const std::string a = io::encode_npy(xt::xarray<float>({1.f})), b = io::encode_npy(xt::xarray<float>({2.f}));
  io::write_npz_atomic(path, {{"w.npy", a}, {"w.npy", b}});
  CHECK_THROWS_WITH_AS(io::read_npz(path), doctest::Contains("'w.npy' appears more than once"), std::runtime_error);
  io::write_npz_atomic(path, {{"w.npy", a}, {"v.npy", b}});
  CHECK(io::read_npz(path).at("v").to_array<float>()(0) == 2.f);
  CHECK_THROWS_WITH_AS(io::read_npz(fs::path(path).parent_path().string()), doctest::Contains("is a folder"),
                       std::runtime_error);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "PK\x03\x04 truncated";
  CHECK_THROWS_WITH_AS(io::read_npz(path), doctest::Contains(path.c_str()), std::runtime_error);
  fs::remove_all(fs::path(path).parent_path());
}

TEST_CASE("save_npy/load_npy: NumPy's bytes in, the same array out, errors name the path") {
  const std::string path = scratch("a.npy");
  // A file as numpy.save writes it: (2, 3) float32 0..5.
  std::string data;
  for (int i = 0; i < 6; ++i) {
    const float v = static_cast<float>(i);
    data.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << npy(f4_header("(2, 3)"), data);
  const xt::xarray<double> read = io::load_npy<double>(path);
  REQUIRE(read.shape() == std::vector<std::size_t>{2, 3});
  CHECK(read(1, 2) == 5.0);
  // Round trips keep dtype, shape and every bit.
  const xt::xarray<float> w = {{0.1f, -2.5f}, {3e-8f, 7.f}, {1e30f, -0.f}};
  io::save_npy(path, w);
  CHECK(io::load_npy<float>(path) == w);
  const xt::xarray<std::int64_t> ids = {3, -1, 9000000000LL};
  io::save_npy(path, ids);
  CHECK(io::load_npy<std::int64_t>(path) == ids);
  CHECK_THROWS_WITH_AS(io::load_npy<float>(scratch("missing.npy")), doctest::Contains("missing.npy: no such file"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(io::load_npy<float>(fs::path(path).parent_path().string()), doctest::Contains("is a folder"),
                       std::runtime_error);
  // A failed save (no such folder) leaves the previous file as it was.
  CHECK_THROWS_AS(io::save_npy(scratch("no/such/folder.npy"), w), std::runtime_error);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "not an npy file";
  CHECK_THROWS_WITH_AS(io::load_npy<float>(path), doctest::Contains(path.c_str()), std::runtime_error);
  fs::remove_all(fs::path(path).parent_path());
}

TEST_CASE("printable escapes NUL and control bytes and cuts long text") {
  CHECK(printable(std::string("a\0b\n\x7f", 5)) == "a\\x00b\\n\\x7f");
  CHECK(printable(std::string(100, 'x'), 10) == "xxxxxxxxxx...(100 bytes)");
  CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");
}
