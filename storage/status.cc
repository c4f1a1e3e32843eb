#include "storage/status.h"

#include <array>

namespace meridian {
namespace {

struct ErrorInfo {
  ErrorCode code;
  std::string_view name;
  std::string_view prefix;
  int http_status;
};

constexpr std::string_view kValidate = "com.amazon.coral.validate#";
constexpr std::string_view kService = "com.amazon.coral.service#";
constexpr std::string_view kDynamo = "com.amazonaws.dynamodb.v20120810#";

constexpr std::array<ErrorInfo, 21> kErrors = {{
    {ErrorCode::kOk, "OK", "", 200},
    {ErrorCode::kValidation, "ValidationException", kValidate, 400},
    {ErrorCode::kSerialization, "SerializationException", kService, 400},
    {ErrorCode::kUnknownOperation, "UnknownOperationException", kService, 400},
    {ErrorCode::kMissingAuthenticationToken, "MissingAuthenticationTokenException", kService, 400},
    {ErrorCode::kInvalidSignature, "InvalidSignatureException", kService, 400},
    {ErrorCode::kIncompleteSignature, "IncompleteSignatureException", kService, 400},
    {ErrorCode::kUnrecognizedClient, "UnrecognizedClientException", kService, 400},
    {ErrorCode::kAccessDenied, "AccessDeniedException", kService, 400},
    {ErrorCode::kResourceNotFound, "ResourceNotFoundException", kDynamo, 400},
    {ErrorCode::kResourceInUse, "ResourceInUseException", kDynamo, 400},
    {ErrorCode::kConditionalCheckFailed, "ConditionalCheckFailedException", kDynamo, 400},
    {ErrorCode::kItemCollectionSizeLimitExceeded, "ItemCollectionSizeLimitExceededException", kDynamo, 400},
    {ErrorCode::kProvisionedThroughputExceeded, "ProvisionedThroughputExceededException", kDynamo, 400},
    {ErrorCode::kRequestLimitExceeded, "RequestLimitExceeded", kDynamo, 400},
    {ErrorCode::kLimitExceeded, "LimitExceededException", kDynamo, 400},
    {ErrorCode::kTransactionConflict, "TransactionConflictException", kDynamo, 400},
    {ErrorCode::kInternalServerError, "InternalServerError", kDynamo, 500},
    {ErrorCode::kServiceUnavailable, "ServiceUnavailable", kDynamo, 503},
    {ErrorCode::kUnreachable, "UnreachableError", "meridian#", 503},
    {ErrorCode::kTimeout, "TimeoutError", "meridian#", 504},
}};

const ErrorInfo& Info(ErrorCode code) {
  for (const auto& e : kErrors)
    if (e.code == code) return e;
  for (const auto& e : kErrors)
    if (e.code == ErrorCode::kInternalServerError) return e;
  return kErrors[0];  // unreachable: the table holds every code
}

}  // namespace

std::string_view ErrorName(ErrorCode code) { return Info(code).name; }

std::string ErrorTypeString(ErrorCode code) {
  const ErrorInfo& e = Info(code);
  return std::string(e.prefix) + std::string(e.name);
}

ErrorCode ErrorCodeFromName(std::string_view name) {
  auto hash = name.rfind('#');
  if (hash != std::string_view::npos) name = name.substr(hash + 1);
  for (const auto& e : kErrors)
    if (e.name == name) return e.code;
  return ErrorCode::kInternalServerError;
}

int ErrorHttpStatus(ErrorCode code) { return Info(code).http_status; }

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(ErrorName(code_)) + ": " + message_;
}

}  // namespace meridian
