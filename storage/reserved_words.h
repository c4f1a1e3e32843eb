// DynamoDB's reserved words: names that cannot appear bare in an expression
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ReservedWords.html).
//
// "This list isn't case-sensitive": IsReservedWord compares without regard to ASCII case.
// An expression that needs one of these names uses an ExpressionAttributeNames placeholder.
//
// Thread-safety: a constant table and a pure function.
#pragma once

#include <cstddef>
#include <string_view>

namespace meridian {

// The 573 words of the list, upper case, sorted.
inline constexpr size_t kReservedWordCount = 573;
extern const std::string_view kReservedWords[kReservedWordCount];

// True when `word` is on the list, in any case.
bool IsReservedWord(std::string_view word);

}  // namespace meridian
