// SPDX-License-Identifier: Apache-2.0
// Writing a whole text (a CSV table, an SVG plot, a report) to a file. Host only.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "tsq/core/status.hpp"

namespace tsq {
namespace debug {

// Creates or truncates `path` and writes `text` to it, bytes as they are. io_error with the path
// and the system's reason if the file cannot be opened, written or closed (a full disk shows up
// at the close, when the buffer is flushed).
inline Status write_text_file(const std::string& path, const std::string& text) {
  const auto failure = [&path](const char* what, int error_number) {
    Status status = Status::error(ErrorCode::io_error, what);
    status.append(path.c_str());
    if (error_number != 0) status.append(": ").append(std::strerror(error_number));
    return status;
  };
  errno = 0;
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return failure("cannot create ", errno);
  errno = 0;
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  const int write_errno = errno;
  errno = 0;
  const bool closed = std::fclose(file) == 0;
  if (!written) return failure("cannot write ", write_errno);
  if (!closed) return failure("cannot write ", errno);
  return Status::ok();
}

}  // namespace debug
}  // namespace tsq
