// The YCSB store (bench/ycsb.h) on a Meridian region, through the region-aware client library.
//
// Key schema, chosen so that workload E's range scans mean something: the partition key `bucket`
// (S, "b000042") holds kRecordsPerBucket consecutive records, the sort key `id` (N) is the record
// number; a scan is a Query `bucket = :b AND id >= :first` with Limit n, so it reads one
// partition's records in sort-key order, as YCSB's scan(startkey, n) reads a range. Each item also
// has `v` (the value, S, --value-bytes long) and `ver` (N, its version, for F's conditional write).
//
// Reads are eventually consistent unless `consistent_reads` (DynamoDB's default; workload F's read
// before its write is always strongly consistent, since its condition is checked at the leader).
//
// Thread-safety: one MeridianStore per client thread (it owns a RegionClient).
#pragma once

#include <memory>
#include <string>

#include "bench/ycsb.h"
#include "meridian/region_client.h"
#include "storage/operations.h"

namespace meridian::bench {

inline constexpr int64_t kRecordsPerBucket = 1000;

// The table's CreateTableRequest (on demand billing).
CreateTableRequest BenchTableRequest(const std::string& table);
// The primary key of a record.
Item RecordKey(int64_t record);
// The same as one string ("b000042/42042"): raw RocksDB's key in the limit measurement.
std::string RecordKeyText(int64_t record);

class MeridianStore final : public Store {
 public:
  MeridianStore(RegionClientOptions options, std::string table, bool consistent_reads);

  Outcome Read(int64_t record) override;
  Outcome Update(int64_t record, const std::string& value) override;
  Outcome Insert(int64_t record, const std::string& value) override;
  Outcome Scan(int64_t record, int count) override;
  Outcome ReadModifyWrite(int64_t record, const std::string& value) override;
  Outcome InsertBatch(int64_t first, int count, const std::string& value) override;
  std::string last_error() const override { return last_error_; }

 private:
  Outcome Classify(const Status& status);
  Result<GetItemResponse> Get(int64_t record, bool consistent);

  RegionClient client_;
  std::string table_;
  bool consistent_reads_;
  std::string last_error_;
};

}  // namespace meridian::bench
