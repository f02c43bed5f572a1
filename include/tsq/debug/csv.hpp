// SPDX-License-Identifier: Apache-2.0
// CSV tables (RFC 4180 quoting) for per-layer error reports and metrics, read back by pandas,
// numpy or a spreadsheet. Host only.
//
//   tsq::debug::CsvWriter csv({"layer", "name", "rmse/scale", "flag"});
//   csv.add_row({3, "conv1, relu", 0.42f, "ok"});   // -> 3,"conv1, relu",0.42,ok
//   tsq::Status s = csv.write_file("layers.csv");
//
// Cells are text or numbers. Text is quoted when it holds a comma, a double quote, a line break
// or leading/trailing blanks (quotes inside are doubled); numbers are never quoted: integers
// exactly, floats and doubles in the shortest form that reads back to the same value
// (std::to_chars), NaN and infinities as nan, inf, -inf (which pandas and numpy read). Lines end
// with "\n".
#pragma once

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tsq/core/status.hpp"
#include "tsq/debug/text_file.hpp"

namespace tsq {
namespace debug {

// A field as it appears in the file: quoted if it needs to be.
inline std::string csv_field(std::string_view text) {
  bool quote = !text.empty() && (text.front() == ' ' || text.front() == '\t' ||
                                 text.back() == ' ' || text.back() == '\t');
  for (const char c : text) {
    if (c == ',' || c == '"' || c == '\n' || c == '\r') quote = true;
  }
  if (!quote) return std::string(text);
  std::string field = "\"";
  for (const char c : text) {
    if (c == '"') field += '"';
    field += c;
  }
  field += '"';
  return field;
}

class CsvCell {
 public:
  CsvCell(const char* text)  // NOLINT(google-explicit-constructor): cells are built from lists
      : field_(csv_field(text == nullptr ? std::string_view() : std::string_view(text))) {}
  CsvCell(const std::string& text) : field_(csv_field(text)) {}      // NOLINT
  CsvCell(std::string_view text) : field_(csv_field(text)) {}        // NOLINT
  CsvCell(float value) : field_(shortest(value)), number_(true) {}   // NOLINT
  CsvCell(double value) : field_(shortest(value)), number_(true) {}  // NOLINT
  CsvCell(bool value) : field_(value ? "true" : "false") {}          // NOLINT
  template <typename Integer, typename = std::enable_if_t<std::is_integral<Integer>::value &&
                                                          !std::is_same<Integer, bool>::value>>
  CsvCell(Integer value) : field_(std::to_string(value)), number_(true) {}  // NOLINT

  const std::string& field() const { return field_; }  // as written, quoted if needed
  bool is_number() const { return number_; }

 private:
  template <typename Float>
  static std::string shortest(Float value) {
    char buffer[64];
    const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
  }

  std::string field_;
  bool number_ = false;
};

// Builds the text of a table: the header row, then rows of exactly as many cells.
class CsvWriter {
 public:
  explicit CsvWriter(const std::vector<std::string>& header) : column_count_(header.size()) {
    std::vector<CsvCell> cells;
    cells.reserve(header.size());
    for (const std::string& name : header) cells.emplace_back(name);
    append_line(cells);
  }

  // shape_mismatch (and nothing written) if the row does not have one cell per column.
  Status add_row(const std::vector<CsvCell>& cells) {
    if (cells.size() != column_count_) {
      return Status::error(ErrorCode::shape_mismatch, "csv: row ")
          .append(row_count_ + 1)
          .append(" has ")
          .append(cells.size())
          .append(" cells, the header ")
          .append(column_count_);
    }
    append_line(cells);
    ++row_count_;
    return Status::ok();
  }

  std::size_t column_count() const { return column_count_; }
  std::size_t row_count() const { return row_count_; }  // header not counted
  const std::string& text() const { return text_; }
  Status write_file(const std::string& path) const { return write_text_file(path, text_); }

 private:
  void append_line(const std::vector<CsvCell>& cells) {
    // A line with one empty field would read as an empty line, which readers skip.
    if (cells.size() == 1 && cells[0].field().empty()) {
      text_ += "\"\"\n";
      return;
    }
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) text_ += ',';
      text_ += cells[i].field();
    }
    text_ += '\n';
  }

  std::size_t column_count_ = 0;
  std::size_t row_count_ = 0;
  std::string text_;
};

}  // namespace debug
}  // namespace tsq
