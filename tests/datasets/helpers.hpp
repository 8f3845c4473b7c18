#pragma once
// Shared helpers of the datasets tests: the real-data folder, scratch
// folders, and exception-message checks.

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <random>
#include <string>

#include <doctest/doctest.h>

namespace xgrad::data::testing {

// $XGRAD_DATA (e.g. /work/shared/data) when set and present; otherwise the
// caller skips, and this reports why with a visible MESSAGE.
inline std::optional<std::filesystem::path> real_data_dir(const char* needed) {
  const char* env = std::getenv("XGRAD_DATA");
  if (!env || !*env) {
    MESSAGE("skipped: set XGRAD_DATA to the shared data folder to test " << std::string(needed));
    return std::nullopt;
  }
  const std::filesystem::path dir(env);
  if (!std::filesystem::exists(dir / needed)) {
    MESSAGE("skipped: " << (dir / needed).string() << " does not exist");
    return std::nullopt;
  }
  return dir;
}

// A fresh folder under the system temp dir, removed with its contents.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("xgrad_datasets_test_" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The what() of the exception `f` throws, or "<no exception>".
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace xgrad::data::testing
