#pragma once
// Whole-file reads and writes shared by the data loaders (CSV, tokenizer state,
// word index, review folders). Files are read in binary mode: no newline
// translation, so CRLF and U+0085 reach the parsers untouched.

#include <filesystem>
#include <string>
#include <string_view>

namespace xgrad::data {

// The bytes of `path`. Throws std::runtime_error naming `what` (e.g. "CSV
// file") and the path when the file is missing, is a directory or cannot be read.
std::string read_file_bytes(const std::filesystem::path& path, std::string_view what);

// Replaces `path` with `bytes` atomically (a temporary in the same folder,
// flushed and renamed over it). Throws std::runtime_error naming the path on
// failure, leaving any previous file unchanged.
void write_file_bytes(const std::filesystem::path& path, std::string_view bytes, std::string_view what);

}  // namespace xgrad::data
