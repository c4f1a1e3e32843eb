// The sending half of a region's replicator for ONE peer region, as a pure state machine: no IO,
// no clock, no threads (../shared/DESIGN.md, "replicator/"; the etcd/raft shape: inputs in,
// actions out). The ZeroMQ shell (replicator/replicator.h) and the simulator (tests/sim/
// replicator_sim.h) drive it the same way:
//
//   loop:
//     for (Action& a : shipper.Poll(now_ms)) perform a:
//       kReadStream   -> ReplicationReadChanges on the own region, then OnStreamRead or
//                        OnStreamReadFailed (exactly one of them, even after a Reset);
//       kReadTable    -> ReplicationReadTable on the own region, then OnTableRead or
//                        OnTableReadFailed (exactly one of them, even after a Reset);
//       kSend         -> send `batch` to the peer's replicator, tagged with `batch_id`; the peer
//                        submits it to its region (ReplicationApply) and answers with the
//                        response once committed: OnAck(batch_id, response);
//       kBackfillDone -> ReplicationBackfillDone{table, peer} on the own region, then
//                        OnBackfillDoneRecorded(table, ok);
//     on connection loss or a peer restart: Reset(now_ms).
//
// Protocol (the region's side is in storage/operations.h, "Global tables"):
//   - The peer's cursor for this region (how far of our stream it has applied) is unknown at the
//     start and after Reset. A probe (an empty batch covering (0, 0]) learns it: applying it
//     changes nothing and its ack carries the cursor. This relies on the region never moving a
//     cursor back: a batch whose last_seq is below the cursor (a probe, a late duplicate) leaves
//     it where it is ("the cursor becomes last_seq" means max(cursor, last_seq)).
//   - From the acked cursor the shipper reads the stream, pipelined: each read starts where the
//     previous answer ended, and each answer becomes one batch covering (read's after_seq,
//     answer's last_seq]. Credits bound what is unacknowledged: at most max_batches_in_flight
//     batches and max_bytes_in_flight bytes (an estimate of the wire size); a read is issued only
//     while a credit is free, and an answer that finds no credit waits (at most one per kind).
//   - Idle at the head: an empty batch (after_seq = last_seq = the position) at most every
//     heartbeat_ms, and only with no stream batch in flight (it would find a gap), carries the
//     source cursors and shows liveness.
//   - Acks move the acked cursor (the maximum seen). A gap answer, or no ack for the oldest batch
//     in flight within ack_timeout_ms, sends the shipper back to the acked cursor (go-back-N):
//     everything in flight is forgotten and read again. Acks for forgotten batch ids change
//     nothing in flight (late, duplicated or reordered acks are harmless); only their cursor is
//     taken, as a maximum, so acks slower than the timeout still move the shipper on. Delivery
//     is at-least-once; the receiving region's cursor makes the effect exactly-once.
//   - Backfills (a new replica region): read answers list the PendingBackfills owed to the
//     peer. One at a time, once the acked cursor has reached its after_seq, the shipper pages
//     through the table; each page is a backfill batch (backfill = true, after_seq = last_seq = 0)
//     sharing the stream's credits. When every page is acked it asks the region to record the
//     backfill done (kBackfillDone) and drops it once recorded. A failed record is retried; a
//     Reset restarts the backfill from its first page (backfills are idempotent merges).
//
// Batch ids increase for the lifetime of one PeerShipper (Reset does not reuse them). A new
// PeerShipper starts again at 1, so the shell must not hand it acks for batches an earlier
// instance sent (tag frames with a session id).
//
// Bounds: in flight max_batches_in_flight batches and max_bytes_in_flight bytes; at most one
// stream read and one table read outstanding; at most one stream batch and one backfill page
// waiting for credit; backfills are kept per table (as many as the region lists).
//
// Thread-safety: none; one thread drives a PeerShipper.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "storage/operations.h"

namespace meridian::replicator {

struct ShipperOptions {
  // Credits: batches sent and not yet acknowledged. They bound the peer's work queue and our
  // memory; 8 batches of 1000 records keep a link of 100 ms round trip busy at ~80k records/s.
  uint32_t max_batches_in_flight = 8;
  uint64_t max_bytes_in_flight = 8 << 20;
  // One read answer (one batch): the region's ReplicationReadChanges limits.
  uint32_t max_records_per_batch = 1000;
  uint32_t max_bytes_per_batch = 1 << 20;
  // No ack for the oldest batch in flight within this: it or its ack was lost; go back.
  int64_t ack_timeout_ms = 3000;
  // Idle at the head: an empty batch this often (liveness, lag and the source cursors).
  int64_t heartbeat_ms = 1000;
  // Items per ReplicationReadTable page of a backfill (one page = one batch).
  uint32_t table_page = 500;
  // After a failed read or record, or an empty read at the head: wait this long before asking
  // the region again, so an idle or leaderless region is not asked in a busy loop.
  int64_t retry_ms = 50;
};

struct Action {
  enum class Kind { kReadStream, kReadTable, kSend, kBackfillDone } kind = Kind::kReadStream;
  ReplicationReadChangesRequest read;        // kReadStream
  ReplicationReadTableRequest table_read;    // kReadTable
  uint64_t batch_id = 0;                     // kSend
  ReplicationApplyRequest batch;             // kSend
  std::string table;                         // kBackfillDone (and kReadTable: table_read.table)
};

// How much has happened; monotonic for the lifetime of the PeerShipper.
struct ShipperCounters {
  uint64_t batches_sent = 0;      // every kSend: stream batches, backfill pages, probes, heartbeats
  uint64_t batches_resent = 0;    // sends that cover again what an earlier send covered
  uint64_t batches_acked = 0;     // acks (not gaps) matched to a batch in flight
  uint64_t probes_sent = 0;
  uint64_t heartbeats_sent = 0;
  uint64_t backfill_pages_sent = 0;
  uint64_t go_backs = 0;          // gaps + timeouts
  uint64_t gaps = 0;
  uint64_t timeouts = 0;
  uint64_t ignored_acks = 0;      // for forgotten or unknown batch ids
  uint64_t failed_reads = 0;      // stream and table reads the region did not answer
  uint64_t backfills_done = 0;    // recorded by the region
};

class PeerShipper {
 public:
  PeerShipper(std::string self_region, std::string peer_region, ShipperOptions options);

  // What the shell must do now, in order. Empty when there is nothing to do until an answer
  // arrives or time passes. `now_ms` must not go backwards between calls.
  std::vector<Action> Poll(int64_t now_ms);

  // The answer to the outstanding kReadStream. Answers to reads issued before a go-back or a
  // Reset are dropped (the stream is read again from the acked cursor).
  void OnStreamRead(const ReplicationReadChangesResponse& response, int64_t now_ms);
  void OnStreamReadFailed(int64_t now_ms);
  // The answer to the outstanding kReadTable of `table`.
  void OnTableRead(const std::string& table, const ReplicationReadTableResponse& response,
                   int64_t now_ms);
  void OnTableReadFailed(const std::string& table, int64_t now_ms);
  // The peer's region committed batch `batch_id` (or refused it: response.gap).
  void OnAck(uint64_t batch_id, const ReplicationApplyResponse& response, int64_t now_ms);
  // The answer to kBackfillDone{table}: ok when the region recorded it.
  void OnBackfillDoneRecorded(const std::string& table, bool ok, int64_t now_ms);
  // The connection was lost or the peer restarted: forget what is in flight; the peer's cursor is
  // unknown again (a probe learns it); a backfill in progress restarts from its first page.
  void Reset(int64_t now_ms);

  const std::string& self() const { return self_; }
  const std::string& peer() const { return peer_; }
  // The peer's cursor for this region, as its acks report it; nullopt until a probe is acked.
  std::optional<uint64_t> acked_cursor() const { return acked_; }
  // Where the next stream read starts (the end of what has been read and not forgotten).
  uint64_t read_position() const { return read_pos_; }
  uint32_t batches_in_flight() const { return static_cast<uint32_t>(in_flight_.size()); }
  uint64_t bytes_in_flight() const { return bytes_in_flight_; }
  // The table being backfilled to the peer, if any.
  std::optional<std::string> backfill_in_progress() const;
  // Backfills owed to the peer and not yet recorded done (including the one in progress).
  size_t backfills_pending() const { return backfills_.size(); }
  const ShipperCounters& counters() const { return counters_; }

 private:
  enum class BatchKind { kProbe, kStream, kHeartbeat, kBackfillPage };

  // A batch sent and not yet acknowledged.
  struct InFlight {
    BatchKind kind = BatchKind::kStream;
    uint64_t last_seq = 0;
    uint64_t bytes = 0;
    int64_t sent_ms = 0;
    // kBackfillPage: which page of which backfill run, and where the next page starts.
    uint64_t backfill_run = 0;
    uint32_t page = 0;
    std::optional<std::string> page_end;  // nullopt: the table's last page
  };

  // A batch read and waiting for a credit.
  struct Ready {
    BatchKind kind = BatchKind::kStream;
    ReplicationApplyRequest batch;
    uint64_t bytes = 0;
    uint32_t page = 0;
    std::optional<std::string> page_end;
  };

  struct Backfill {
    std::string table;
    uint64_t after_seq = 0;
    bool active = false;
    uint64_t run = 0;  // identifies one pass over the table: pages of older runs are ignored
    // Reading: the next page to read and where it starts; read_done after the last page.
    uint32_t next_page = 0;
    std::optional<std::string> next_start;
    bool read_done = false;
    // Acknowledged: the pages 0..acked_pages-1, so a go-back resumes at acked_start.
    uint32_t acked_pages = 0;
    std::optional<std::string> acked_start;
    bool last_page_acked = false;
    std::map<uint32_t, std::optional<std::string>> acked_ahead;  // page -> its end, out of order
    uint32_t highest_page_sent = 0;
    bool any_page_sent = false;
    // kBackfillDone: asked and waiting for the answer; or retry no sooner than retry_at_ms.
    bool done_asked = false;
    int64_t retry_at_ms = 0;
  };

  void CheckTimeout(int64_t now_ms);
  void GoBack();
  bool CanSend(uint64_t bytes) const;
  bool HasCredit() const;
  Action Send(Ready ready, uint64_t backfill_run, int64_t now_ms);
  void UpdateBackfills(const std::vector<PendingBackfill>& listed, uint64_t read_number);
  Backfill* ActiveBackfill();
  void RestartBackfillRun(Backfill& b);
  void AckBackfillPage(const InFlight& f);
  void DropCoveredBatches();
  static uint64_t EstimateBytes(const ReplicationApplyRequest& batch);

  std::string self_;
  std::string peer_;
  ShipperOptions options_;

  std::optional<uint64_t> acked_;
  uint64_t read_pos_ = 0;
  uint64_t highest_sent_seq_ = 0;  // the highest last_seq ever sent (for the resent counter)

  uint64_t next_batch_id_ = 1;
  std::map<uint64_t, InFlight> in_flight_;  // by batch id = send order
  uint64_t bytes_in_flight_ = 0;
  int64_t last_send_ms_ = 0;
  bool probe_in_flight_ = false;

  // The stream read outstanding (at most one); stale: issued before a go-back, answer dropped.
  bool stream_read_outstanding_ = false;
  bool stream_read_stale_ = false;
  uint64_t stream_read_after_ = 0;
  uint64_t stream_reads_issued_ = 0;
  int64_t next_stream_read_ms_ = 0;
  std::optional<Ready> ready_stream_;

  // The table read outstanding (at most one).
  bool table_read_outstanding_ = false;
  bool table_read_stale_ = false;
  std::string table_read_table_;
  uint64_t table_read_run_ = 0;
  int64_t next_table_read_ms_ = 0;
  std::optional<Ready> ready_page_;
  uint64_t ready_page_run_ = 0;  // the backfill run ready_page_ belongs to

  std::map<std::string, Backfill> backfills_;  // by table
  uint64_t next_backfill_run_ = 1;
  // Backfills recorded done -> the number of stream reads issued by then: an answer to one of
  // those reads may still list the backfill, and must not start it again.
  std::map<std::string, uint64_t> recorded_done_;
  uint64_t last_head_ = 0;  // the stream head the last answer reported

  ShipperCounters counters_;
};

}  // namespace meridian::replicator
