// SPDX-License-Identifier: Apache-2.0
// A small JSON reader for JSON Lines golden-vector files: objects, arrays, strings, booleans and
// integers (exact in int64). Nothing else is accepted (no null, no fractions or exponents: the
// golden files write every float32 as a hex string and its bit pattern), so a file that strays
// from the format fails loudly instead of being read approximately.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tsq_test::json {

class Value {
 public:
  enum class Kind : std::uint8_t { boolean, integer, string, array, object };

  Kind kind() const { return kind_; }

  bool as_bool() const {
    expect(Kind::boolean, "a boolean");
    return boolean_;
  }
  std::int64_t as_int() const {
    expect(Kind::integer, "an integer");
    return integer_;
  }
  const std::string& as_string() const {
    expect(Kind::string, "a string");
    return string_;
  }
  // The elements of an array.
  const std::vector<Value>& items() const {
    expect(Kind::array, "an array");
    return items_;
  }

  // The member `key` of an object, or nullptr.
  const Value* find(const std::string& key) const {
    expect(Kind::object, "an object");
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i] == key) return &items_[i];
    }
    return nullptr;
  }
  // The member `key` of an object; a missing key throws (std::out_of_range, naming the key).
  const Value& operator[](const std::string& key) const {
    const Value* value = find(key);
    if (value == nullptr) throw std::out_of_range("missing key \"" + key + "\"");
    return *value;
  }

 private:
  friend class Parser;

  void expect(Kind kind, const char* what) const {
    if (kind_ != kind) throw std::runtime_error(std::string("JSON value is not ") + what);
  }

  Kind kind_ = Kind::object;
  bool boolean_ = false;
  std::int64_t integer_ = 0;
  std::string string_;
  std::vector<Value> items_;       // array elements, or object member values
  std::vector<std::string> keys_;  // object member names, parallel to items_
};

class Parser {
 public:
  explicit Parser(const std::string& text) : text_(text) {}

  // One JSON value filling the whole text (surrounding whitespace allowed). On failure returns
  // false and describes the first problem and its character offset in `error`.
  bool parse(Value& value, std::string& error) {
    bool ok = parse_value(value, 0);
    if (ok) {
      skip_whitespace();
      if (position_ != text_.size()) ok = fail("trailing characters");
    }
    if (!ok) error = error_ + " at offset " + std::to_string(position_);
    return ok;
  }

 private:
  // Deep enough for any golden case; bounds the recursion on malformed input.
  static constexpr int kMaxDepth = 32;

  bool fail(const char* message) {
    if (error_.empty()) error_ = message;
    return false;
  }

  void skip_whitespace() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\t' ||
                                        text_[position_] == '\n' || text_[position_] == '\r')) {
      ++position_;
    }
  }

  bool consume(char c) {
    skip_whitespace();
    if (position_ < text_.size() && text_[position_] == c) {
      ++position_;
      return true;
    }
    return false;
  }

  bool consume_word(const char* word) {
    const std::string w(word);
    if (text_.compare(position_, w.size(), w) != 0) return fail("unknown literal");
    position_ += w.size();
    return true;
  }

  bool parse_value(Value& value, int depth) {
    if (depth > kMaxDepth) return fail("nesting too deep");
    skip_whitespace();
    if (position_ >= text_.size()) return fail("unexpected end of text");
    const char c = text_[position_];
    if (c == '{') return parse_object(value, depth);
    if (c == '[') return parse_array(value, depth);
    if (c == '"') {
      value.kind_ = Value::Kind::string;
      return parse_string(value.string_);
    }
    if (c == 't' || c == 'f') {
      value.kind_ = Value::Kind::boolean;
      value.boolean_ = c == 't';
      return consume_word(c == 't' ? "true" : "false");
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_integer(value);
    return fail("unexpected character");
  }

  bool parse_object(Value& value, int depth) {
    value.kind_ = Value::Kind::object;
    ++position_;  // '{'
    if (consume('}')) return true;
    do {
      skip_whitespace();
      if (position_ >= text_.size() || text_[position_] != '"') return fail("expected a key");
      std::string key;
      if (!parse_string(key)) return false;
      if (!consume(':')) return fail("expected ':'");
      value.keys_.push_back(std::move(key));
      value.items_.emplace_back();
      if (!parse_value(value.items_.back(), depth + 1)) return false;
    } while (consume(','));
    return consume('}') || fail("expected ',' or '}'");
  }

  bool parse_array(Value& value, int depth) {
    value.kind_ = Value::Kind::array;
    ++position_;  // '['
    if (consume(']')) return true;
    do {
      value.items_.emplace_back();
      if (!parse_value(value.items_.back(), depth + 1)) return false;
    } while (consume(','));
    return consume(']') || fail("expected ',' or ']'");
  }

  // An optional '-' and decimal digits without leading zeros, exact in int64.
  bool parse_integer(Value& value) {
    const bool negative = text_[position_] == '-';
    if (negative) ++position_;
    const std::size_t first = position_;
    // Accumulate the magnitude as unsigned so that INT64_MIN is representable.
    std::uint64_t magnitude = 0;
    const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
    while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') {
      const auto digit = static_cast<std::uint64_t>(text_[position_] - '0');
      if (magnitude > (limit - digit) / 10) return fail("integer out of int64 range");
      magnitude = magnitude * 10 + digit;
      ++position_;
    }
    if (position_ == first) return fail("expected a digit");
    if (text_[first] == '0' && position_ - first > 1) return fail("leading zero");
    if (position_ < text_.size() &&
        (text_[position_] == '.' || text_[position_] == 'e' || text_[position_] == 'E')) {
      return fail("only integer numbers are supported");
    }
    value.kind_ = Value::Kind::integer;
    value.integer_ =
        negative ? static_cast<std::int64_t>(~magnitude + 1) : static_cast<std::int64_t>(magnitude);
    return true;
  }

  static void append_utf8(std::string& out, std::uint32_t code_point) {
    if (code_point < 0x80) {
      out += static_cast<char>(code_point);
    } else if (code_point < 0x800) {
      out += static_cast<char>(0xC0 | (code_point >> 6));
      out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else if (code_point < 0x10000) {
      out += static_cast<char>(0xE0 | (code_point >> 12));
      out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code_point >> 18));
      out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code_point & 0x3F));
    }
  }

  bool parse_hex4(std::uint32_t& value) {
    if (text_.size() - position_ < 4) return fail("truncated \\u escape");
    value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[position_++];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return fail("bad \\u escape");
      }
    }
    return true;
  }

  bool parse_string(std::string& out) {
    ++position_;  // opening quote
    while (position_ < text_.size()) {
      const char c = text_[position_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (position_ >= text_.size()) break;
      const char escape = text_[position_++];
      switch (escape) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t code_point = 0;
          if (!parse_hex4(code_point)) return false;
          if (code_point >= 0xD800 && code_point < 0xDC00) {  // high surrogate: a pair follows
            std::uint32_t low = 0;
            if (text_.compare(position_, 2, "\\u") != 0) return fail("unpaired surrogate");
            position_ += 2;
            if (!parse_hex4(low)) return false;
            if (low < 0xDC00 || low >= 0xE000) return fail("unpaired surrogate");
            code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
          } else if (code_point >= 0xDC00 && code_point < 0xE000) {
            return fail("unpaired surrogate");
          }
          append_utf8(out, code_point);
          break;
        }
        default: return fail("unknown escape");
      }
    }
    return fail("unterminated string");
  }

  const std::string& text_;
  std::size_t position_ = 0;
  std::string error_;
};

// Parses one line of a JSON Lines file.
inline bool parse(const std::string& text, Value& value, std::string& error) {
  return Parser(text).parse(value, error);
}

}  // namespace tsq_test::json
