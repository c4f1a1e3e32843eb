// Engine: executes the operations of storage/operations.h against one node's RocksDB.
//
// This is the single place where DynamoDB's semantics live for the item path: request validation
// (table names, key schemas, items against their table's key, sizes, limits), the table catalog,
// items, Query and Scan paging, batches and consumed capacity. Front ends (native wire, CLI, later
// HTTP) only decode and encode; the node runtime (region/) calls Execute. When the replica group
// arrives, committed log entries are applied through the same Execute on every replica, so
// execution must be deterministic given the same state and request (apart from timestamps passed
// in by the caller through EngineOptions::clock).
//
// Layout: one RocksDB with column families "catalog" (table descriptions and counters), "items"
// (keys from storage/key_codec.h, values from storage/item_codec.h), and reserved "raft_log" and
// "changes" for the region and global-table issues. A write to an item and its counters go in one
// WriteBatch.
//
// Thread-safety: Execute may be called from many threads at once. Writes to one item are
// serialized (a striped lock on the item key); reads run in parallel and see committed state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "storage/operations.h"
#include "storage/status.h"

namespace meridian {

struct EngineOptions {
  // fsync the write-ahead log before a write is acknowledged (RocksDB groups concurrent writers
  // into one fsync). Off only for bulk tests and benchmarks that say so.
  bool sync = true;
  // Bounded memory: RocksDB block cache and memtable budget.
  size_t block_cache_bytes = 64 << 20;
  size_t write_buffer_bytes = 32 << 20;
  // Wall clock in epoch milliseconds (CreationDateTime); injectable for tests.
  std::function<int64_t()> clock_ms;
  // Region name used in table ARNs.
  std::string region = "local";
};

class Engine {
 public:
  // Opens (creating if missing) the database under `path`. Stores nullptr and returns non-OK on
  // error (a RocksDB that cannot be opened or holds an unknown format).
  static Result<std::unique_ptr<Engine>> Open(const std::string& path, EngineOptions options);
  ~Engine();

  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Executes any request; the response alternative matches the request's. Errors carry
  // DynamoDB's error codes and messages and leave the data unchanged.
  Result<Response> Execute(const Request& request);

  Result<CreateTableResponse> CreateTable(const CreateTableRequest& r);
  Result<DescribeTableResponse> DescribeTable(const DescribeTableRequest& r);
  Result<ListTablesResponse> ListTables(const ListTablesRequest& r);
  Result<DeleteTableResponse> DeleteTable(const DeleteTableRequest& r);
  Result<PutItemResponse> PutItem(const PutItemRequest& r);
  Result<GetItemResponse> GetItem(const GetItemRequest& r);
  Result<DeleteItemResponse> DeleteItem(const DeleteItemRequest& r);
  Result<UpdateItemResponse> UpdateItem(const UpdateItemRequest& r);
  Result<QueryResponse> Query(const QueryRequest& r);
  Result<ScanResponse> Scan(const ScanRequest& r);
  Result<BatchGetItemResponse> BatchGetItem(const BatchGetItemRequest& r);
  Result<BatchWriteItemResponse> BatchWriteItem(const BatchWriteItemRequest& r);

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian
