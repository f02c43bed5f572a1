// SPDX-License-Identifier: Apache-2.0
// CSV quoting, number formatting, and tables read back by an RFC 4180 parser.
#include "tsq/debug/csv.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tsq/debug/text_file.hpp"

using tsq::ErrorCode;
using tsq::debug::csv_field;
using tsq::debug::CsvCell;
using tsq::debug::CsvWriter;

namespace {

// RFC 4180 reader: rows of fields, quotes removed and doubled quotes undone.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\n') {
      row.push_back(field);
      field.clear();
      rows.push_back(row);
      row.clear();
    } else {
      field += c;
    }
  }
  REQUIRE_FALSE(quoted);
  REQUIRE(field.empty());  // the text ends with a line break
  return rows;
}

std::string temp_path(const char* name) { return std::string(P_tmpdir) + "/tsq_csv_test_" + name; }

std::string read_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  REQUIRE(file != nullptr);
  std::string text;
  char buffer[256];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, got);
  std::fclose(file);
  return text;
}

}  // namespace

TEST_CASE("csv fields are quoted only when needed", "[debug][csv]") {
  CHECK(csv_field("conv1") == "conv1");
  CHECK(csv_field("") == "");
  CHECK(csv_field("rmse/scale") == "rmse/scale");
  CHECK(csv_field("conv1, relu") == "\"conv1, relu\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("\"") == "\"\"\"\"");
  CHECK(csv_field("two\nlines") == "\"two\nlines\"");
  CHECK(csv_field("cr\r") == "\"cr\r\"");
  CHECK(csv_field(" padded") == "\" padded\"");
  CHECK(csv_field("padded\t") == "\"padded\t\"");
  CHECK(csv_field("in ner") == "in ner");
  CHECK(csv_field("µV") == "µV");  // UTF-8 passes through
}

TEST_CASE("csv cells: numbers in their shortest exact form", "[debug][csv]") {
  CHECK(CsvCell(0.1f).field() == "0.1");
  CHECK(CsvCell(0.1).field() == "0.1");
  CHECK(CsvCell(1.0f / 3.0f).field() == "0.33333334");
  CHECK(CsvCell(2.5e-7f).field() == "2.5e-07");
  CHECK(CsvCell(-0.0f).field() == "-0");
  CHECK(CsvCell(100.0).field() == "100");
  CHECK(CsvCell(std::nan("")).field() == "nan");
  CHECK(CsvCell(INFINITY).field() == "inf");
  CHECK(CsvCell(-INFINITY).field() == "-inf");
  CHECK(CsvCell(-3).field() == "-3");
  CHECK(CsvCell(std::size_t{18282}).field() == "18282");
  CHECK(CsvCell(std::int64_t{-9007199254740993}).field() == "-9007199254740993");
  CHECK(CsvCell(true).field() == "true");
  CHECK(CsvCell("a,b").field() == "\"a,b\"");
  CHECK(CsvCell(std::string("x")).field() == "x");
  CHECK(CsvCell(1.5f).is_number());
  CHECK_FALSE(CsvCell("1.5").is_number());
  // Every float reads back exactly.
  for (const float v : {0.7f, 1e-30f, 3.4028235e38f, 123456.79f, 0.0078125f}) {
    CHECK(std::stof(CsvCell(v).field()) == v);
  }
}

TEST_CASE("csv writer: header, mixed rows, round trip", "[debug][csv]") {
  CsvWriter csv({"layer", "name", "rmse/scale", "flag", "note"});
  CHECK(csv.column_count() == 5);
  REQUIRE(csv.add_row({0, "quantize", 0.29f, false, ""}).is_ok());
  REQUIRE(csv.add_row({1, "conv1, relu", 0.74f, true, "he said \"clip\"\nthen left"}).is_ok());
  REQUIRE(csv.add_row({2, "dense", std::nan(""), false, " x "}).is_ok());
  CHECK(csv.row_count() == 3);
  CHECK(csv.text() ==
        "layer,name,rmse/scale,flag,note\n"
        "0,quantize,0.29,false,\n"
        "1,\"conv1, relu\",0.74,true,\"he said \"\"clip\"\"\nthen left\"\n"
        "2,dense,nan,false,\" x \"\n");
  const auto rows = parse_csv(csv.text());
  REQUIRE(rows.size() == 4);
  for (const auto& row : rows) CHECK(row.size() == 5);
  CHECK(rows[2][1] == "conv1, relu");
  CHECK(rows[2][4] == "he said \"clip\"\nthen left");
  CHECK(rows[3][4] == " x ");

  // A wrong cell count is an error and writes nothing.
  const tsq::Status s = csv.add_row({3, "extra"});
  CHECK(s.code() == ErrorCode::shape_mismatch);
  CHECK(std::string(s.message()) == "csv: row 4 has 2 cells, the header 5");
  CHECK(csv.row_count() == 3);

  // One column with an empty value: written as "" so that it is not an empty line.
  CsvWriter single({"value"});
  REQUIRE(single.add_row({""}).is_ok());
  REQUIRE(single.add_row({7}).is_ok());
  CHECK(single.text() == "value\n\"\"\n7\n");
  CHECK(parse_csv(single.text())[1][0].empty());
}

TEST_CASE("csv writer: files", "[debug][csv]") {
  CsvWriter csv({"a", "b"});
  REQUIRE(csv.add_row({1, 2.5}).is_ok());
  const std::string path = temp_path("table.csv");
  REQUIRE(csv.write_file(path).is_ok());
  CHECK(read_file(path) == "a,b\n1,2.5\n");
  std::remove(path.c_str());

  const tsq::Status missing = csv.write_file("/nonexistent-tsq-dir/table.csv");
  CHECK(missing.code() == ErrorCode::io_error);
  CHECK_THAT(missing.message(), Catch::Contains("cannot create /nonexistent-tsq-dir/table.csv"));
  CHECK(tsq::debug::write_text_file(P_tmpdir, "x").code() == ErrorCode::io_error);  // a directory
}
