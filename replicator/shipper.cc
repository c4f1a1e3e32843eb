#include "replicator/shipper.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "storage/attribute_value.h"

namespace meridian::replicator {

namespace {

// What a probe or a heartbeat costs against the byte credit: its frame, roughly.
constexpr uint64_t kEmptyBatchBytes = 64;

}  // namespace

PeerShipper::PeerShipper(std::string self_region, std::string peer_region, ShipperOptions options)
    : self_(std::move(self_region)), peer_(std::move(peer_region)), options_(options) {
  // A zero bound would stop the shipper for good; the smallest useful value is 1.
  options_.max_batches_in_flight = std::max<uint32_t>(options_.max_batches_in_flight, 1);
  options_.max_bytes_in_flight = std::max<uint64_t>(options_.max_bytes_in_flight, 1);
  options_.max_records_per_batch = std::max<uint32_t>(options_.max_records_per_batch, 1);
  options_.max_bytes_per_batch = std::max<uint32_t>(options_.max_bytes_per_batch, 1);
  options_.table_page = std::max<uint32_t>(options_.table_page, 1);
  options_.ack_timeout_ms = std::max<int64_t>(options_.ack_timeout_ms, 1);
  options_.retry_ms = std::max<int64_t>(options_.retry_ms, 0);
}

std::optional<std::string> PeerShipper::backfill_in_progress() const {
  for (const auto& [table, b] : backfills_) {
    if (b.active) return table;
  }
  return std::nullopt;
}

uint64_t PeerShipper::EstimateBytes(const ReplicationApplyRequest& batch) {
  uint64_t bytes = kEmptyBatchBytes;
  for (const ReplicatedChange& c : batch.changes) {
    bytes += 32 + c.table.size() + ItemSize(c.key) + (c.image ? ItemSize(*c.image) : 0) +
             c.version.origin.size();
    for (const auto& [region, n] : c.version.vv) bytes += region.size() + 9;
    if (c.meta) bytes += 128 + c.meta->table_name.size();
  }
  if (batch.source_cursors) {
    for (const auto& [region, n] : *batch.source_cursors) bytes += region.size() + 9;
  }
  return bytes;
}

bool PeerShipper::HasCredit() const {
  return in_flight_.size() < options_.max_batches_in_flight &&
         bytes_in_flight_ < options_.max_bytes_in_flight;
}

bool PeerShipper::CanSend(uint64_t bytes) const {
  if (in_flight_.size() >= options_.max_batches_in_flight) return false;
  // A batch larger than the byte credit may still go alone, or it would never go.
  return bytes_in_flight_ == 0 || bytes_in_flight_ + bytes <= options_.max_bytes_in_flight;
}

PeerShipper::Backfill* PeerShipper::ActiveBackfill() {
  for (auto& [table, b] : backfills_) {
    if (b.active) return &b;
  }
  return nullptr;
}

void PeerShipper::RestartBackfillRun(Backfill& b) {
  b.run = next_backfill_run_++;
  b.next_page = 0;
  b.next_start.reset();
  b.read_done = false;
  b.acked_pages = 0;
  b.acked_start.reset();
  b.last_page_acked = false;
  b.acked_ahead.clear();
}

std::vector<Action> PeerShipper::Poll(int64_t now_ms) {
  std::vector<Action> out;
  CheckTimeout(now_ms);

  if (!acked_) {
    // The peer's cursor is unknown: nothing can be shipped before a probe learns it.
    if (!probe_in_flight_ && in_flight_.empty()) {
      Ready probe;
      probe.kind = BatchKind::kProbe;
      probe.batch.source = self_;
      probe.batch.source_time_ms = now_ms;
      probe.bytes = kEmptyBatchBytes;
      out.push_back(Send(std::move(probe), 0, now_ms));
    }
  } else {
    // Batches read earlier and waiting for a credit go first, stream before backfill.
    if (ready_stream_ && CanSend(ready_stream_->bytes)) {
      Ready r = std::move(*ready_stream_);
      ready_stream_.reset();
      out.push_back(Send(std::move(r), 0, now_ms));
    }
    if (ready_page_ && CanSend(ready_page_->bytes)) {
      Ready r = std::move(*ready_page_);
      ready_page_.reset();
      out.push_back(Send(std::move(r), ready_page_run_, now_ms));
    }

    if (!stream_read_outstanding_ && !ready_stream_ && HasCredit() &&
        now_ms >= next_stream_read_ms_) {
      Action a;
      a.kind = Action::Kind::kReadStream;
      a.read.peer = peer_;
      a.read.after_seq = read_pos_;
      a.read.max_records = options_.max_records_per_batch;
      a.read.max_bytes = options_.max_bytes_per_batch;
      stream_read_outstanding_ = true;
      stream_read_stale_ = false;
      stream_read_after_ = read_pos_;
      ++stream_reads_issued_;
      out.push_back(std::move(a));
    }

    Backfill* b = ActiveBackfill();
    if (!b) {
      // One backfill at a time, once the peer has applied the change that made it a replica
      // (which created the table there).
      for (auto& [table, candidate] : backfills_) {
        if (!candidate.last_page_acked && candidate.after_seq <= *acked_) {
          candidate.active = true;
          RestartBackfillRun(candidate);
          b = &candidate;
          break;
        }
      }
    }
    if (b && !b->read_done && !table_read_outstanding_ && !ready_page_ && HasCredit() &&
        now_ms >= next_table_read_ms_) {
      Action a;
      a.kind = Action::Kind::kReadTable;
      a.table = b->table;
      a.table_read.table = b->table;
      a.table_read.exclusive_start = b->next_start;
      a.table_read.limit = options_.table_page;
      table_read_outstanding_ = true;
      table_read_stale_ = false;
      table_read_table_ = b->table;
      table_read_run_ = b->run;
      out.push_back(std::move(a));
    }
  }

  // Recording a finished backfill involves only the own region: it goes on whatever the link.
  for (auto& [table, b] : backfills_) {
    if (b.active && b.last_page_acked && !b.done_asked && now_ms >= b.retry_at_ms) {
      Action a;
      a.kind = Action::Kind::kBackfillDone;
      a.table = table;
      b.done_asked = true;
      out.push_back(std::move(a));
    }
  }
  return out;
}

Action PeerShipper::Send(Ready ready, uint64_t backfill_run, int64_t now_ms) {
  const uint64_t id = next_batch_id_++;
  InFlight f;
  f.kind = ready.kind;
  f.last_seq = ready.batch.last_seq;
  f.bytes = ready.bytes;
  f.sent_ms = now_ms;
  f.backfill_run = backfill_run;
  f.page = ready.page;
  f.page_end = ready.page_end;

  ++counters_.batches_sent;
  switch (ready.kind) {
    case BatchKind::kProbe:
      if (counters_.probes_sent > 0) ++counters_.batches_resent;
      ++counters_.probes_sent;
      probe_in_flight_ = true;
      break;
    case BatchKind::kStream:
      if (ready.batch.after_seq < highest_sent_seq_) ++counters_.batches_resent;
      highest_sent_seq_ = std::max(highest_sent_seq_, ready.batch.last_seq);
      break;
    case BatchKind::kHeartbeat:
      ++counters_.heartbeats_sent;
      break;
    case BatchKind::kBackfillPage: {
      ++counters_.backfill_pages_sent;
      for (auto& [table, b] : backfills_) {
        if (b.active && b.run == backfill_run) {
          if (b.any_page_sent && ready.page <= b.highest_page_sent) ++counters_.batches_resent;
          b.highest_page_sent = b.any_page_sent ? std::max(b.highest_page_sent, ready.page) : ready.page;
          b.any_page_sent = true;
        }
      }
      break;
    }
  }
  in_flight_.emplace(id, std::move(f));
  bytes_in_flight_ += ready.bytes;
  last_send_ms_ = now_ms;

  Action a;
  a.kind = Action::Kind::kSend;
  a.batch_id = id;
  a.batch = std::move(ready.batch);
  return a;
}

void PeerShipper::CheckTimeout(int64_t now_ms) {
  if (in_flight_.empty()) return;
  // The oldest batch: ids increase with every send, so it is the first.
  if (now_ms - in_flight_.begin()->second.sent_ms >= options_.ack_timeout_ms) {
    ++counters_.timeouts;
    GoBack();
  }
}

void PeerShipper::GoBack() {
  ++counters_.go_backs;
  in_flight_.clear();
  bytes_in_flight_ = 0;
  probe_in_flight_ = false;
  ready_stream_.reset();
  ready_page_.reset();
  // A read issued from a position that is being abandoned: its answer is dropped.
  if (stream_read_outstanding_) stream_read_stale_ = true;
  if (table_read_outstanding_) table_read_stale_ = true;
  if (acked_) read_pos_ = *acked_;
  if (Backfill* b = ActiveBackfill()) {
    // Pages are renumbered from the acked prefix: a page read again may end elsewhere (pages need
    // not come from one snapshot), so acks beyond the prefix no longer say anything.
    b->next_page = b->acked_pages;
    b->next_start = b->acked_start;
    b->read_done = b->last_page_acked;
    b->acked_ahead.clear();
  }
}

void PeerShipper::OnStreamRead(const ReplicationReadChangesResponse& response, int64_t now_ms) {
  if (!stream_read_outstanding_) return;  // not asked for: nothing to match it to
  stream_read_outstanding_ = false;
  if (stream_read_stale_) {
    stream_read_stale_ = false;
    return;
  }
  const uint64_t after = stream_read_after_;
  assert(after == read_pos_);
  // The region's answer must cover (after, last_seq] and only that; anything else is a bug
  // there, and shipping it could skip changes: drop it and ask again.
  bool valid = response.last_seq >= after;
  for (const ReplicatedChange& c : response.changes) {
    if (c.seq <= after || c.seq > response.last_seq) valid = false;
  }
  if (!valid) {
    ++counters_.failed_reads;
    next_stream_read_ms_ = now_ms + options_.retry_ms;
    return;
  }
  last_head_ = response.head_seq;
  UpdateBackfills(response.backfills, stream_reads_issued_);

  if (response.changes.empty() && response.last_seq == after) {
    // Nothing new. Ask again a little later; a heartbeat when idle for heartbeat_ms. Only with no
    // stream batch in flight: a heartbeat at the read position would otherwise find a gap.
    next_stream_read_ms_ = now_ms + options_.retry_ms;
    bool stream_in_flight = std::any_of(in_flight_.begin(), in_flight_.end(), [](const auto& e) {
      return e.second.kind == BatchKind::kStream || e.second.kind == BatchKind::kHeartbeat;
    });
    if (response.at_head && !stream_in_flight && now_ms - last_send_ms_ >= options_.heartbeat_ms) {
      Ready hb;
      hb.kind = BatchKind::kHeartbeat;
      hb.batch.source = self_;
      hb.batch.after_seq = after;
      hb.batch.last_seq = after;
      hb.batch.source_head = response.head_seq;
      hb.batch.source_time_ms = now_ms;
      hb.batch.source_cursors = response.cursors;
      hb.bytes = EstimateBytes(hb.batch);
      ready_stream_ = std::move(hb);
    }
    return;
  }

  Ready r;
  r.kind = BatchKind::kStream;
  r.batch.source = self_;
  r.batch.after_seq = after;
  r.batch.last_seq = response.last_seq;
  r.batch.source_head = response.head_seq;
  r.batch.source_time_ms = now_ms;
  r.batch.changes = response.changes;
  if (response.at_head) r.batch.source_cursors = response.cursors;
  r.bytes = EstimateBytes(r.batch);
  ready_stream_ = std::move(r);
  read_pos_ = response.last_seq;
}

void PeerShipper::OnStreamReadFailed(int64_t now_ms) {
  if (!stream_read_outstanding_) return;
  stream_read_outstanding_ = false;
  stream_read_stale_ = false;
  ++counters_.failed_reads;
  next_stream_read_ms_ = now_ms + options_.retry_ms;
}

void PeerShipper::UpdateBackfills(const std::vector<PendingBackfill>& listed, uint64_t read_number) {
  // Records made after this read was issued are not in its answer: keep remembering them.
  for (auto it = recorded_done_.begin(); it != recorded_done_.end();) {
    it = read_number > it->second ? recorded_done_.erase(it) : std::next(it);
  }
  std::map<std::string, uint64_t> owed;
  for (const PendingBackfill& p : listed) {
    if (p.peer != peer_ || recorded_done_.count(p.table)) continue;
    owed[p.table] = p.after_seq;
  }
  // The answer lists everything still owed: one not listed and not started is no longer owed
  // (recorded by an earlier replicator, or the replica was removed). One started goes on; it is
  // idempotent.
  for (auto it = backfills_.begin(); it != backfills_.end();) {
    bool keep = it->second.active || owed.count(it->first);
    it = keep ? std::next(it) : backfills_.erase(it);
  }
  for (const auto& [table, after_seq] : owed) {
    auto [it, inserted] = backfills_.try_emplace(table);
    Backfill& b = it->second;
    if (inserted) b.table = table;
    if (!b.active) b.after_seq = after_seq;
  }
}

void PeerShipper::OnTableRead(const std::string& table, const ReplicationReadTableResponse& response,
                              int64_t now_ms) {
  if (!table_read_outstanding_ || table != table_read_table_) return;
  table_read_outstanding_ = false;
  if (table_read_stale_) {
    table_read_stale_ = false;
    return;
  }
  Backfill* b = ActiveBackfill();
  if (!b || b->run != table_read_run_ || b->table != table || b->read_done) return;
  Ready r;
  r.kind = BatchKind::kBackfillPage;
  r.batch.source = self_;
  r.batch.after_seq = 0;
  r.batch.last_seq = 0;
  r.batch.source_head = last_head_;
  r.batch.source_time_ms = now_ms;
  r.batch.backfill = true;
  r.batch.changes = response.items;
  r.bytes = EstimateBytes(r.batch);
  r.page = b->next_page;
  r.page_end = response.last_key;
  ready_page_ = std::move(r);
  ready_page_run_ = b->run;
  ++b->next_page;
  b->next_start = response.last_key;
  b->read_done = !response.last_key.has_value();
}

void PeerShipper::OnTableReadFailed(const std::string& table, int64_t now_ms) {
  if (!table_read_outstanding_ || table != table_read_table_) return;
  table_read_outstanding_ = false;
  table_read_stale_ = false;
  ++counters_.failed_reads;
  next_table_read_ms_ = now_ms + options_.retry_ms;
}

void PeerShipper::AckBackfillPage(const InFlight& f) {
  Backfill* b = ActiveBackfill();
  if (!b || b->run != f.backfill_run || f.page < b->acked_pages) return;
  b->acked_ahead[f.page] = f.page_end;
  // The acked prefix grows over consecutive pages; acks may arrive in any order.
  for (auto it = b->acked_ahead.find(b->acked_pages); it != b->acked_ahead.end();
       it = b->acked_ahead.find(b->acked_pages)) {
    b->acked_start = it->second;
    if (!it->second) b->last_page_acked = true;
    ++b->acked_pages;
    b->acked_ahead.erase(it);
  }
}

void PeerShipper::OnAck(uint64_t batch_id, const ReplicationApplyResponse& response, int64_t now_ms) {
  auto it = in_flight_.find(batch_id);
  if (it == in_flight_.end()) {
    // Forgotten by a go-back or a Reset, or a duplicate: it changes nothing in flight. Its cursor
    // is still the peer's committed one, and taking it keeps the shipper moving when acks come
    // back slower than ack_timeout_ms (each go-back then starts further on). Not while probing:
    // after a Reset only the probe's ack says where the peer is.
    ++counters_.ignored_acks;
    if (acked_ && response.cursor > *acked_) {
      acked_ = response.cursor;
      DropCoveredBatches();
    }
    return;
  }
  if (response.gap) {
    // The peer is missing what comes before this batch: resend from its cursor.
    ++counters_.gaps;
    acked_ = std::max(acked_.value_or(0), response.cursor);
    GoBack();
    return;
  }
  InFlight f = std::move(it->second);
  in_flight_.erase(it);
  bytes_in_flight_ -= f.bytes;
  ++counters_.batches_acked;

  const bool was_unknown = !acked_;
  acked_ = std::max(acked_.value_or(0), response.cursor);
  if (f.kind == BatchKind::kProbe) {
    probe_in_flight_ = false;
    if (was_unknown) read_pos_ = *acked_;
  }
  if (f.kind == BatchKind::kBackfillPage) AckBackfillPage(f);
  DropCoveredBatches();
}

void PeerShipper::DropCoveredBatches() {
  // Stream batches the cursor has passed are applied whatever became of them (their acks may be
  // lost or late): their credits are free.
  for (auto i = in_flight_.begin(); i != in_flight_.end();) {
    bool covered = (i->second.kind == BatchKind::kStream || i->second.kind == BatchKind::kHeartbeat) &&
                   i->second.last_seq <= *acked_;
    if (covered) {
      bytes_in_flight_ -= i->second.bytes;
      i = in_flight_.erase(i);
    } else {
      ++i;
    }
  }
}

void PeerShipper::OnBackfillDoneRecorded(const std::string& table, bool ok, int64_t now_ms) {
  auto it = backfills_.find(table);
  if (it == backfills_.end() || !it->second.done_asked) return;
  it->second.done_asked = false;
  if (!ok) {
    it->second.retry_at_ms = now_ms + options_.retry_ms;
    return;
  }
  backfills_.erase(it);
  ++counters_.backfills_done;
  recorded_done_[table] = stream_reads_issued_;
}

void PeerShipper::Reset(int64_t now_ms) {
  in_flight_.clear();
  bytes_in_flight_ = 0;
  probe_in_flight_ = false;
  acked_.reset();
  read_pos_ = 0;
  ready_stream_.reset();
  ready_page_.reset();
  // Reads of the own region are still answered (exactly once): their answers are dropped.
  if (stream_read_outstanding_) stream_read_stale_ = true;
  if (table_read_outstanding_) table_read_stale_ = true;
  for (auto& [table, b] : backfills_) {
    // Once every page is acked the peer's region has committed them all: only the record is left.
    if (b.active && !b.last_page_acked) b.active = false;
  }
}

}  // namespace meridian::replicator
