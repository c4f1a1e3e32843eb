#include "storage/decimal.h"

#include <algorithm>

namespace meridian {
namespace {

constexpr char kBadNumber[] = "A value provided cannot be converted into a number";
constexpr char kOverflow[] =
    "Number overflow. Attempting to store a number with magnitude larger than supported range";
constexpr char kUnderflow[] =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";
constexpr char kTooPrecise[] = "Attempting to store more than 38 significant digits in a Number";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Compares two magnitudes given as digit strings of equal length.
int CompareSameLength(const std::string& a, const std::string& b) {
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// a + b for unsigned digit strings of equal length; the result may be one digit longer.
std::string AddDigits(const std::string& a, const std::string& b) {
  std::string out(a.size() + 1, '0');
  int carry = 0;
  for (size_t i = a.size(); i-- > 0;) {
    int d = (a[i] - '0') + (b[i] - '0') + carry;
    out[i + 1] = static_cast<char>('0' + d % 10);
    carry = d / 10;
  }
  out[0] = static_cast<char>('0' + carry);
  return out;
}

// a - b for unsigned digit strings of equal length, a >= b.
std::string SubtractDigits(const std::string& a, const std::string& b) {
  std::string out(a.size(), '0');
  int borrow = 0;
  for (size_t i = a.size(); i-- > 0;) {
    int d = (a[i] - '0') - (b[i] - '0') - borrow;
    borrow = d < 0 ? 1 : 0;
    out[i] = static_cast<char>('0' + (d + 10 * borrow));
  }
  return out;
}

}  // namespace

Result<Decimal> Decimal::Normalize(bool negative, std::string digits, int64_t exponent) {
  size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return Decimal();  // zero, whatever the sign or exponent
  size_t last = digits.find_last_not_of('0');
  exponent += static_cast<int64_t>(digits.size() - 1 - last);
  digits = digits.substr(first, last - first + 1);
  if (digits.size() > static_cast<size_t>(kMaxDigits)) return Status::Validation(kTooPrecise);
  int64_t adjusted = exponent + static_cast<int64_t>(digits.size()) - 1;
  if (adjusted > kMaxAdjustedExponent) return Status::Validation(kOverflow);
  if (adjusted < kMinAdjustedExponent) return Status::Validation(kUnderflow);
  Decimal d;
  d.negative_ = negative;
  d.digits_ = std::move(digits);
  d.exponent_ = static_cast<int>(exponent);
  return d;
}

Result<Decimal> Decimal::Parse(std::string_view text) {
  if (text.empty() || text.size() > kMaxTextLength) return Status::Validation(kBadNumber);
  size_t i = 0;
  bool negative = false;
  if (text[i] == '+' || text[i] == '-') negative = text[i++] == '-';
  std::string digits;
  int64_t fraction_digits = 0;
  bool seen_point = false;
  size_t mantissa_digits = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (IsDigit(c)) {
      digits.push_back(c);
      ++mantissa_digits;
      if (seen_point) ++fraction_digits;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (mantissa_digits == 0) return Status::Validation(kBadNumber);
  int64_t exponent = 0;
  if (i < text.size()) {
    if (text[i] != 'e' && text[i] != 'E') return Status::Validation(kBadNumber);
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    if (i >= text.size()) return Status::Validation(kBadNumber);
    for (; i < text.size(); ++i) {
      if (!IsDigit(text[i])) return Status::Validation(kBadNumber);
      // Clamp: anything this large is out of range anyway (unless the mantissa is zero), and the
      // clamp keeps the arithmetic below far from int64 overflow.
      exponent = std::min<int64_t>(exponent * 10 + (text[i] - '0'), 1'000'000'000);
    }
    if (exp_negative) exponent = -exponent;
  }
  return Normalize(negative, std::move(digits), exponent - fraction_digits);
}

Decimal Decimal::FromInt64(int64_t v) {
  bool negative = v < 0;
  // Through unsigned so that INT64_MIN negates cleanly.
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  Result<Decimal> r = Normalize(negative, std::to_string(magnitude), 0);
  return std::move(r).value();  // 20 digits at most: always in range
}

std::string Decimal::ToString() const {
  if (digits_.empty()) return "0";
  std::string out;
  if (negative_) out.push_back('-');
  if (exponent_ >= 0) {
    out += digits_;
    out.append(static_cast<size_t>(exponent_), '0');
  } else {
    int64_t point = static_cast<int64_t>(digits_.size()) + exponent_;  // digits before the point
    if (point > 0) {
      out.append(digits_, 0, static_cast<size_t>(point));
      out.push_back('.');
      out.append(digits_, static_cast<size_t>(point), std::string::npos);
    } else {
      out += "0.";
      out.append(static_cast<size_t>(-point), '0');
      out += digits_;
    }
  }
  return out;
}

Decimal Decimal::Negated() const {
  Decimal d = *this;
  if (!d.is_zero()) d.negative_ = !d.negative_;
  return d;
}

int Decimal::Compare(const Decimal& o) const {
  if (is_zero() || o.is_zero()) {
    if (is_zero() && o.is_zero()) return 0;
    if (is_zero()) return o.negative_ ? 1 : -1;
    return negative_ ? -1 : 1;
  }
  if (negative_ != o.negative_) return negative_ ? -1 : 1;
  int magnitude;
  if (adjusted_exponent() != o.adjusted_exponent()) {
    magnitude = adjusted_exponent() < o.adjusted_exponent() ? -1 : 1;
  } else {
    // Same leading power of ten: the digit strings compare as fractions 0.d1d2..., and a proper
    // prefix is smaller because trailing zeros are stripped.
    int c = digits_.compare(o.digits_);
    magnitude = c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return negative_ ? -magnitude : magnitude;
}

Result<Decimal> Decimal::Add(const Decimal& a, const Decimal& b) {
  if (a.is_zero()) return b;
  if (b.is_zero()) return a;
  // Align both coefficients on the smaller exponent, left-padded to one width. Exponents differ
  // by at most ~300 for in-range values, so the strings stay small.
  int exponent = std::min(a.exponent_, b.exponent_);
  std::string da = a.digits_ + std::string(static_cast<size_t>(a.exponent_ - exponent), '0');
  std::string db = b.digits_ + std::string(static_cast<size_t>(b.exponent_ - exponent), '0');
  size_t width = std::max(da.size(), db.size());
  da.insert(0, width - da.size(), '0');
  db.insert(0, width - db.size(), '0');
  if (a.negative_ == b.negative_) return Normalize(a.negative_, AddDigits(da, db), exponent);
  int c = CompareSameLength(da, db);
  if (c == 0) return Decimal();
  if (c > 0) return Normalize(a.negative_, SubtractDigits(da, db), exponent);
  return Normalize(b.negative_, SubtractDigits(db, da), exponent);
}

Result<Decimal> Decimal::Subtract(const Decimal& a, const Decimal& b) {
  return Add(a, b.Negated());
}

}  // namespace meridian
