// Status and Result<T>: how every module reports an expected failure.
//
// A Status is OK or carries an ErrorCode and a message. The codes are DynamoDB's error names, so
// that an error raised deep in storage reaches a client (native, CLI or HTTP) with the exact
// `__type` DynamoDB would send (see ErrorTypeString). Cheap when OK: no allocation.
//
// Thread-safety: values, no shared state.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace meridian {

enum class ErrorCode : int {
  kOk = 0,
  // com.amazon.coral.validate#
  kValidation,
  // com.amazon.coral.service#
  kSerialization,
  kUnknownOperation,
  kMissingAuthenticationToken,
  kInvalidSignature,
  kIncompleteSignature,
  kUnrecognizedClient,
  kAccessDenied,
  // com.amazonaws.dynamodb.v20120810#
  kResourceNotFound,
  kResourceInUse,
  kConditionalCheckFailed,
  kItemCollectionSizeLimitExceeded,
  kProvisionedThroughputExceeded,
  kRequestLimitExceeded,
  kLimitExceeded,
  kTransactionConflict,
  kInternalServerError,
  // The region has no leader it can reach (a quorum of facilities is down or cut off), or the
  // node is shutting down. HTTP 503, which the AWS SDKs retry.
  kServiceUnavailable,
  // Client-side conditions (never sent by a server): the node could not be reached or did not
  // answer within the deadline.
  kUnreachable,
  kTimeout,
};

// DynamoDB's short name, e.g. "ValidationException".
std::string_view ErrorName(ErrorCode code);
// The `__type` string DynamoDB sends, e.g. "com.amazon.coral.validate#ValidationException".
std::string ErrorTypeString(ErrorCode code);
// The code for a short name or a full `__type`; kInternalServerError when unknown.
ErrorCode ErrorCodeFromName(std::string_view name);
// HTTP status DynamoDB uses: 400 for client errors, 500 for ours.
int ErrorHttpStatus(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status Validation(std::string m) { return {ErrorCode::kValidation, std::move(m)}; }
  static Status Serialization(std::string m) { return {ErrorCode::kSerialization, std::move(m)}; }
  static Status NotFound(std::string m) { return {ErrorCode::kResourceNotFound, std::move(m)}; }
  static Status InUse(std::string m) { return {ErrorCode::kResourceInUse, std::move(m)}; }
  static Status Internal(std::string m) { return {ErrorCode::kInternalServerError, std::move(m)}; }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ValidationException: message"
  std::string ToString() const;

  // An item that goes with the error, msgpack-encoded (storage/item_codec.h): the old item of a
  // ConditionalCheckFailedException when ReturnValuesOnConditionCheckFailure is ALL_OLD. Empty
  // when none.
  const std::string& item_payload() const { return item_payload_; }
  Status WithItemPayload(std::string encoded_item) && {
    item_payload_ = std::move(encoded_item);
    return std::move(*this);
  }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::string item_payload_;
};

// A value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace meridian

// Propagates a non-OK Status from an expression returning Status.
#define MERIDIAN_RETURN_IF_ERROR(expr)          \
  do {                                          \
    ::meridian::Status _st = (expr);            \
    if (!_st.ok()) return _st;                  \
  } while (0)

#define MERIDIAN_CONCAT_INNER(a, b) a##b
#define MERIDIAN_CONCAT(a, b) MERIDIAN_CONCAT_INNER(a, b)
// `MERIDIAN_ASSIGN_OR_RETURN(auto x, Foo());` declares x from a Result or returns its Status.
#define MERIDIAN_ASSIGN_OR_RETURN(decl, expr)                                  \
  auto MERIDIAN_CONCAT(_res_, __LINE__) = (expr);                              \
  if (!MERIDIAN_CONCAT(_res_, __LINE__).ok())                                  \
    return MERIDIAN_CONCAT(_res_, __LINE__).status();                          \
  decl = std::move(MERIDIAN_CONCAT(_res_, __LINE__)).value()
