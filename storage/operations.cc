#include "storage/operations.h"

#include <array>

namespace meridian {
namespace {

constexpr std::array<const char*, kOperationCount> kNames = {
    "CreateTable", "DescribeTable", "ListTables", "DeleteTable", "PutItem", "GetItem",
    "DeleteItem",  "Query",         "Scan",       "BatchGetItem", "BatchWriteItem",
    "UpdateItem",  "UpdateTable",
    "ReplicationReadChanges", "ReplicationApply", "ReplicationReadTable",
    "ReplicationBackfillDone", "ReplicationStatus"};

}  // namespace

const char* OperationName(Operation op) {
  auto i = static_cast<size_t>(op);
  return (i >= 1 && i <= kNames.size()) ? kNames[i - 1] : "Unknown";
}

bool ParseOperationName(std::string_view name, Operation* out) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (name == kNames[i]) {
      *out = static_cast<Operation>(i + 1);
      return true;
    }
  }
  return false;
}

bool IsWriteOperation(Operation op) {
  switch (op) {
    case Operation::kCreateTable:
    case Operation::kDeleteTable:
    case Operation::kPutItem:
    case Operation::kDeleteItem:
    case Operation::kBatchWriteItem:
    case Operation::kUpdateItem:
    case Operation::kUpdateTable:
    case Operation::kReplicationApply:
    case Operation::kReplicationBackfillDone:
      return true;
    default:
      return false;
  }
}

bool IsConsistentRead(const Request& request) {
  if (const auto* r = std::get_if<GetItemRequest>(&request)) return r->consistent_read;
  if (const auto* r = std::get_if<QueryRequest>(&request)) return r->consistent_read;
  if (const auto* r = std::get_if<ScanRequest>(&request)) return r->consistent_read;
  if (const auto* r = std::get_if<BatchGetItemRequest>(&request)) {
    for (const auto& [table, keys] : r->request_items) {
      if (keys.consistent_read) return true;
    }
    return false;
  }
  return std::holds_alternative<ReplicationReadChangesRequest>(request) ||
         std::holds_alternative<ReplicationReadTableRequest>(request);
}

}  // namespace meridian
