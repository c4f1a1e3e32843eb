// Decimal: DynamoDB's Number type, an exact decimal.
//
// A value is sign × coefficient × 10^exponent, with the coefficient kept as its decimal digits
// without leading or trailing zeros (so each value has exactly one representation; zero has no
// digits). DynamoDB's limits hold for every Decimal that exists: at most 38 significant digits and
// a magnitude from 1E-130 up to 9.9999999999999999999999999999999999999E+125
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html).
// Parsing, printing, comparison, addition and subtraction are exact: no binary floating point
// anywhere. Out-of-range results are a ValidationException with DynamoDB's message.
//
// Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/status.h"

namespace meridian {

class Decimal {
 public:
  static constexpr int kMaxDigits = 38;
  // The adjusted (scientific) exponent of the first digit: 1E+125 is the largest power of ten
  // allowed, 1E-130 the smallest.
  static constexpr int kMaxAdjustedExponent = 125;
  static constexpr int kMinAdjustedExponent = -130;
  // Longest text Parse looks at; DynamoDB's own numbers never need more (38 digits, a sign,
  // a point, leading zeros and an exponent), so anything longer is refused before any work.
  static constexpr size_t kMaxTextLength = 1024;

  Decimal() = default;  // zero

  // Parses DynamoDB's number syntax: [+-]digits[.digits][(e|E)[+-]digits], with digits on at
  // least one side of the point. Returns a ValidationException for bad syntax, more than 38
  // significant digits, overflow or underflow.
  static Result<Decimal> Parse(std::string_view text);
  static Decimal FromInt64(int64_t v);

  // Canonical plain notation as DynamoDB returns it: no exponent, no leading or trailing zeros,
  // "-" for negatives, "0" for zero (e.g. "1E+2" -> "100", "0.50" -> "0.5").
  std::string ToString() const;

  // Exact sum and difference; ValidationException when the result leaves DynamoDB's range or
  // needs more than 38 significant digits.
  static Result<Decimal> Add(const Decimal& a, const Decimal& b);
  static Result<Decimal> Subtract(const Decimal& a, const Decimal& b);
  Decimal Negated() const;

  // -1, 0, +1.
  int Compare(const Decimal& other) const;
  bool operator==(const Decimal& o) const {
    return negative_ == o.negative_ && exponent_ == o.exponent_ && digits_ == o.digits_;
  }
  bool operator!=(const Decimal& o) const { return !(*this == o); }
  bool operator<(const Decimal& o) const { return Compare(o) < 0; }

  bool is_zero() const { return digits_.empty(); }
  bool is_negative() const { return negative_; }
  // The significant digits, '0'..'9', first and last nonzero; empty for zero.
  const std::string& digits() const { return digits_; }
  // value = ±digits × 10^exponent.
  int exponent() const { return exponent_; }
  // Exponent of the first digit in scientific notation (0 for zero).
  int adjusted_exponent() const {
    return digits_.empty() ? 0 : exponent_ + static_cast<int>(digits_.size()) - 1;
  }

 private:
  // Builds from raw parts: strips zeros, then checks DynamoDB's limits.
  static Result<Decimal> Normalize(bool negative, std::string digits, int64_t exponent);

  bool negative_ = false;
  std::string digits_;
  int exponent_ = 0;
};

}  // namespace meridian
