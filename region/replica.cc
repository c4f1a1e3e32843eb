#include "region/replica.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <unordered_map>
#include <variant>
#include <vector>

#include <msgpack.hpp>
#include <zmq.hpp>

#include <meridian/client.h>

#include "proto/socket_options.h"
#include "region/raft_codec.h"
#include "region/raft_storage.h"
#include "region/snapshot_transfer.h"

namespace meridian::region {
namespace {

using Clock = std::chrono::steady_clock;
using raft::LogIndex;
using raft::NodeId;

constexpr raft::GroupId kRegionGroup{1};

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

// The payload of a normal entry: [1, key, now_ms, request frame].
std::string PackWrite(const std::string& key, int64_t now_ms, const Request& request) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_array(4);
  pk.pack(1);
  pk.pack(key);
  pk.pack(now_ms);
  std::string frame = proto::EncodeRequest("", request);
  pk.pack_bin(static_cast<uint32_t>(frame.size()));
  pk.pack_bin_body(frame.data(), static_cast<uint32_t>(frame.size()));
  return std::string(buf.data(), buf.size());
}

struct UnpackedWrite {
  std::string key;
  int64_t now_ms = 0;
  Result<Request> request = Status::Serialization("empty");
};

UnpackedWrite UnpackWrite(std::string_view data) {
  UnpackedWrite out;
  try {
    msgpack::object_handle h = msgpack::unpack(data.data(), data.size());
    const msgpack::object& o = h.get();
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 4 || o.via.array.ptr[0].as<int>() != 1) {
      out.request = Status::Internal("unknown log entry format");
      return out;
    }
    const msgpack::object* f = o.via.array.ptr;
    out.key = f[1].as<std::string>();
    out.now_ms = f[2].as<int64_t>();
    if (f[3].type != msgpack::type::BIN) throw msgpack::type_error();
    out.request = proto::DecodeRequest(std::string_view(f[3].via.bin.ptr, f[3].via.bin.size)).request;
  } catch (const std::exception& e) {
    out.request = Status::Internal(std::string("log entry does not decode: ") + e.what());
  }
  return out;
}

Status Unavailable(const std::string& message) { return Status(ErrorCode::kServiceUnavailable, message); }

// The answer an item write gets under the planted bug ack-before-commit: success with nothing in
// it, since the real answer exists only once the entry is applied. nullopt for the other writes
// (tables, replication), which keep the honest path so that a harness can still set itself up.
std::optional<Response> EarlyAnswer(Operation op) {
  switch (op) {
    case Operation::kPutItem: return PutItemResponse{};
    case Operation::kUpdateItem: return UpdateItemResponse{};
    case Operation::kDeleteItem: return DeleteItemResponse{};
    case Operation::kBatchWriteItem: return BatchWriteItemResponse{};
    default: return std::nullopt;
  }
}

const char* RoleString(raft::Role role) {
  switch (role) {
    case raft::Role::kLeader: return "leader";
    case raft::Role::kFollower: return "follower";
    case raft::Role::kCandidate: return "candidate";
    case raft::Role::kPreCandidate: return "pre-candidate";
  }
  return "unknown";
}

}  // namespace

struct Replica::Impl {
  Engine* engine;
  ReplicaOptions options;
  uint64_t node_id = 0;
  std::unique_ptr<RaftStorage> storage;
  std::unique_ptr<RequestLog> request_log;
  std::unique_ptr<raft::Raft> raft;

  // ---- shared with callers, under mu ----
  struct Proposal {
    std::string payload;
    std::shared_ptr<std::promise<Result<Response>>> done;
    std::optional<Response> early_answer;  // the planted bug ack-before-commit only
  };
  struct ConfRequest {
    raft::ConfChange change;
    std::shared_ptr<std::promise<Status>> done;
  };
  struct TransferRequest {
    NodeId target;
    std::shared_ptr<std::promise<Status>> done;
  };
  using ReadWaiter = std::shared_ptr<std::promise<Status>>;
  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;
  std::deque<std::string> peer_frames;
  std::deque<Proposal> proposals;
  std::deque<ReadWaiter> reads;
  std::deque<ConfRequest> conf_requests;
  std::deque<TransferRequest> transfers;
  proto::NodeStatus status;  // published by the loop after every turn
  uint64_t leader = 0;
  bool is_leader = false;

  // ---- owned by the loop thread ----
  zmq::context_t context{1};
  std::map<uint64_t, zmq::socket_t> peers;
  struct PendingWrite {
    raft::Term term;
    std::shared_ptr<std::promise<Result<Response>>> done;
    std::shared_ptr<std::promise<Status>> conf_done;
    std::optional<Response> early_answer;  // the planted bug ack-before-commit only
  };
  std::map<uint64_t, PendingWrite> pending;  // by log index
  uint64_t next_read_context = 0;
  std::map<uint64_t, std::vector<ReadWaiter>> reads_in_flight;  // by context
  std::multimap<uint64_t, ReadWaiter> reads_waiting_apply;      // by read index
  std::vector<ReadWaiter> reads_deferred;  // the leader has no commit of its term yet
  LogIndex state_applied;  // the index the RocksDB state reflects
  uint64_t bytes_since_compaction = 0;
  // The state at held_index, for followers far behind; shared with the transfers reading it.
  std::shared_ptr<const rocksdb::Snapshot> held;
  LogIndex held_index;
  // Snapshot transfers (region/snapshot_transfer.h): the leader's, by follower node id, and the
  // one this node is receiving.
  std::map<uint64_t, std::unique_ptr<OutgoingSnapshot>> outgoing;
  std::unique_ptr<IncomingSnapshot> incoming;
  uint64_t next_transfer_id = 0;
  std::thread loop;

  Impl(Engine* e, ReplicaOptions o) : engine(e), options(std::move(o)) {}

  ~Impl() {
    outgoing.clear();  // their iterators before the snapshot they read
    held.reset();
  }

  std::string EndpointOf(uint64_t id) const {
    uint64_t index = FacilityIndexOfNode(id);
    if (id == 0 || index >= options.region.facilities.size()) return "";
    return options.region.facilities[index].NativeEndpoint();
  }
  std::string FacilityOf(uint64_t id) const {
    uint64_t index = FacilityIndexOfNode(id);
    if (id == 0 || index >= options.region.facilities.size()) return "";
    return options.region.facilities[index].name;
  }

  // ---- transport ----
  void SendTo(uint64_t to, const std::vector<raft::Message>& msgs) {
    SendFrame(to, EncodePeerFrame(msgs, options.credentials ? &*options.credentials : nullptr));
  }

  void SendFrame(uint64_t to, const std::string& frame) {
    auto it = peers.find(to);
    if (it == peers.end()) {
      std::string endpoint = EndpointOf(to);
      if (endpoint.empty()) return;
      zmq::socket_t s(context, zmq::socket_type::dealer);
      s.set(zmq::sockopt::linger, 0);
      s.set(zmq::sockopt::sndhwm, options.socket_hwm);
      s.set(zmq::sockopt::immediate, 1);  // nothing queues for a peer that is down
      proto::SetConnectionLiveness(s);
      s.connect(endpoint);
      it = peers.emplace(to, std::move(s)).first;
    }
    if (frame.size() > proto::kMaxFrameBytes) {
      std::fprintf(stderr, "replica: a message batch of %zu bytes for node %llu exceeds the frame limit; dropped\n",
                   frame.size(), static_cast<unsigned long long>(to));
      return;
    }
    try {
      (void)it->second.send(zmq::buffer(frame), zmq::send_flags::dontwait);  // full: dropped
    } catch (const zmq::error_t&) {
    }
  }

  std::vector<raft::Message> DecodePeer(const std::string& bytes) {
    proto::RawFrame frame;
    if (!proto::DecodeFrame(bytes, &frame).ok() || frame.kind != proto::FrameKind::kPeer) return {};
    if (options.access) {
      if (!frame.auth) return {};
      std::optional<std::string> secret = options.access->Secret(frame.auth->key_id);
      if (!secret || !proto::VerifyFrameAuth(*frame.auth, *secret, WallMs() / 1000).ok()) return {};
    }
    if (frame.op == kChunkOp || frame.op == kAckOp) {
      HandleTransferFrame(frame);
      return {};
    }
    Result<std::vector<raft::Message>> msgs = UnpackRaftMessages(*frame.body);
    if (!msgs.ok()) return {};
    std::vector<raft::Message> out;
    for (raft::Message& m : msgs.value()) {
      if (m.group == kRegionGroup && m.to == NodeId{node_id} && m.from != NodeId{node_id}) {
        out.push_back(std::move(m));
      }
    }
    return out;
  }

  // ---- snapshots ----
  void HoldSnapshotAt(LogIndex index) {
    rocksdb::DB* db = engine->db();
    held = std::shared_ptr<const rocksdb::Snapshot>(db->GetSnapshot(),
                                                    [db](const rocksdb::Snapshot* s) { db->ReleaseSnapshot(s); });
    held_index = index;
  }

  void MaybeCompact() {
    LogIndex applied = raft->applied();
    if (applied != state_applied || applied <= raft->snapshot().index) return;
    uint64_t entries = applied.value - raft->snapshot().index.value;
    if (entries < options.snapshot_entries && bytes_since_compaction < options.snapshot_bytes) return;
    // The log is held longer for a follower that would otherwise need a snapshot; it is in memory,
    // so only up to twice the usual.
    // - One being sent a snapshot needs the log from that snapshot on to catch up, and a newer
    //   snapshot would start its transfer again (forever, under steady load): bounded by bytes only.
    if (!outgoing.empty() && bytes_since_compaction < 2 * options.snapshot_bytes) return;
    // - One behind (slow, just restarted, or just past a snapshot install) catches up from the log
    //   rather than from a whole copy of the state, which at 10^7 items costs far more than the
    //   entries it misses (a slow follower otherwise got a 1.5 GB snapshot at every compaction).
    if (entries < 2 * options.snapshot_entries && bytes_since_compaction < 2 * options.snapshot_bytes &&
        AFollowerNeedsTheLogUpTo(applied)) {
      return;
    }
    CompactNow();
  }

  // Whether some follower's next entry is at or before `index` (a compaction there would cut it off).
  bool AFollowerNeedsTheLogUpTo(LogIndex index) const {
    for (NodeId v : raft->voters()) {
      if (v.value == node_id) continue;
      const raft::Progress* p = raft->progress(v);
      if (p != nullptr && p->next <= index) return true;
    }
    return false;
  }

  void CompactNow() {
    LogIndex applied = raft->applied();
    if (applied > raft->LastStableIndex()) return;
    std::optional<raft::Term> term = raft->TermAt(applied);
    if (!term) return;
    HoldSnapshotAt(applied);
    raft->Compact(applied, "");
    Status st = storage->Compact(applied, *term, raft->voters());
    if (!st.ok()) Fatal("compacting the log", st);
    // The change stream is not trimmed here: the engine trims it by what every replica region has
    // acknowledged (and by its retention limits), on the apply path.
    bytes_since_compaction = 0;
  }

  // ---- snapshot transfers (region/snapshot_transfer.h) ----
  static constexpr size_t kChunkBytes = 1 << 20;
  static constexpr size_t kChunkWindow = 4;
  static constexpr auto kTransferStall = std::chrono::seconds(10);

  // An InstallSnapshot the core wants sent (data empty): true when it may go now, its data the
  // descriptor of a completed transfer; false while the state is still on its way (a transfer is
  // started when none is running for this follower and index).
  bool RouteSnapshot(raft::Message* m) {
    uint64_t to = m->to.value;
    LogIndex want = m->snapshot->index;
    auto it = outgoing.find(to);
    if (it != outgoing.end()) {
      OutgoingSnapshot& o = *it->second;
      if (!o.failed() && o.meta().index == want && o.meta().term == m->snapshot->term) {
        if (!o.complete()) return false;
        m->snapshot->data = StagedDescriptor(o.id());
        return true;
      }
      outgoing.erase(it);
    }
    if (!held || held_index != want) {
      if (raft->applied() == want && state_applied == want) {
        HoldSnapshotAt(want);
      } else {
        // After a restart: no RocksDB snapshot at the compaction point. Compact again at what is
        // applied now; the core asks for that snapshot on its next attempt.
        if (raft->applied() == state_applied) CompactNow();
        return false;
      }
    }
    uint64_t id = (node_id << 40) ^ (++next_transfer_id) ^
                  static_cast<uint64_t>(Clock::now().time_since_epoch().count() & 0xffffffffff);
    outgoing[to] = std::make_unique<OutgoingSnapshot>(engine, id, node_id, *m->snapshot, held, Clock::now());
    std::fprintf(stderr, "replica: sending a snapshot at index %llu to node %llu (transfer %llu)\n",
                 static_cast<unsigned long long>(want.value), static_cast<unsigned long long>(to),
                 static_cast<unsigned long long>(id));
    return false;
  }

  // Each turn: the leader's transfers send what their windows allow; finished or hopeless ones go.
  void PumpTransfers() {
    auto now = Clock::now();
    if (incoming && incoming->DiscardIfStale(state_applied.value, std::chrono::seconds(60), now)) {
      std::fprintf(stderr, "replica: dropped a staged snapshot this node no longer needs\n");
    }
    if (raft->role() != raft::Role::kLeader) {
      outgoing.clear();
      return;
    }
    for (auto it = outgoing.begin(); it != outgoing.end();) {
      OutgoingSnapshot& o = *it->second;
      const raft::Progress* p = raft->progress(NodeId{it->first});
      const char* end = nullptr;
      if (p == nullptr) end = "the node left the group";
      else if (p->match >= o.meta().index) end = nullptr;
      else if (o.failed()) end = "the follower refused a chunk";
      else if (o.Stalled(now, kTransferStall)) end = "no answer from the follower";
      if (p != nullptr && p->match >= o.meta().index) {
        std::fprintf(stderr, "replica: node %llu installed the snapshot at index %llu (%llu keys, %llu chunks, %.1f s)\n",
                     static_cast<unsigned long long>(it->first), static_cast<unsigned long long>(o.meta().index.value),
                     static_cast<unsigned long long>(o.keys()), static_cast<unsigned long long>(o.chunks_sent()),
                     std::chrono::duration<double>(now - o.started()).count());
        it = outgoing.erase(it);
        continue;
      }
      if (end != nullptr) {
        std::fprintf(stderr, "replica: snapshot transfer %llu to node %llu given up: %s; it starts again\n",
                     static_cast<unsigned long long>(o.id()), static_cast<unsigned long long>(it->first), end);
        it = outgoing.erase(it);
        continue;
      }
      Result<std::vector<SnapshotChunk>> chunks = o.Pump(kChunkWindow, kChunkBytes, now);
      if (!chunks.ok()) {
        std::fprintf(stderr, "replica: cannot read the state for a snapshot: %s\n", chunks.status().ToString().c_str());
        it = outgoing.erase(it);
        continue;
      }
      for (const SnapshotChunk& c : *chunks) SendTransferFrame(it->first, kChunkOp, PackChunk(c));
      ++it;
    }
  }

  void SendTransferFrame(uint64_t to, uint16_t op, const std::string& body) {
    SendFrame(to, proto::EncodeFrame(proto::FrameKind::kPeer, op, "", body,
                                     options.credentials ? &*options.credentials : nullptr));
  }

  // A chunk (follower) or a chunk's acknowledgement (leader), from an authenticated peer frame.
  void HandleTransferFrame(const proto::RawFrame& frame) {
    if (frame.op == kChunkOp) {
      Result<SnapshotChunk> c = UnpackChunk(*frame.body);
      if (!c.ok() || c->from == 0 || c->from == node_id || raft->role() == raft::Role::kLeader) return;
      if (!incoming) incoming = std::make_unique<IncomingSnapshot>(engine, engine->db()->GetName() + ".incoming-snapshot");
      SendTransferFrame(c->from, kAckOp, PackAck(incoming->OnChunk(*c)));
    } else {
      Result<ChunkAck> a = UnpackAck(*frame.body);
      if (!a.ok()) return;
      for (auto& [to, o] : outgoing) o->OnAck(*a, Clock::now());
    }
  }

  // An InstallSnapshot for this node: it goes to the core only when its state is staged here.
  bool AcceptSnapshot(const raft::Message& m) {
    std::optional<uint64_t> id = ParseStagedDescriptor(m.snapshot->data);
    if (!id) return true;  // a whole-state dump (an older leader): installed as it is
    if (incoming && incoming->Ready(*id, m.snapshot->index.value, m.snapshot->term.value)) return true;
    // Not staged here (this node restarted, or the transfer was replaced): the leader starts again.
    SendTransferFrame(m.from.value, kAckOp, PackAck(ChunkAck{*id, 0, false, false}));
    return false;
  }

  void InstallSnapshot(const raft::Snapshot& snap, const std::optional<raft::HardState>& hs) {
    rocksdb::WriteBatch extra;
    storage->AddInstallSnapshot(snap, hs, &extra);
    storage->SetApplied(snap.index, &extra);
    Status st;
    if (ParseStagedDescriptor(snap.data)) {
      // AcceptSnapshot let the message through only with the transfer staged in `incoming`.
      st = incoming ? engine->InstallStagedState(incoming->dir(), &extra)
                    : Status::Internal("no staged state for the snapshot");
      if (incoming) incoming->Reset();
    } else {
      st = engine->InstallState(snap.data, &extra);
    }
    if (!st.ok()) Fatal("installing a snapshot", st);
    // The node's engine writes unsynced (the log is the durable copy); a snapshot replaces the log,
    // so it must be on disk before the acknowledgement leaves.
    rocksdb::Status synced = engine->db()->FlushWAL(/*sync=*/true);
    if (!synced.ok()) Fatal("syncing an installed snapshot", Status::Internal(synced.ToString()));
    state_applied = snap.index;
    held.reset();
    FailAllPending("this node installed a snapshot; the write's outcome is unknown, retry it");
    std::fprintf(stderr, "replica: installed a snapshot at index %llu (term %llu)\n",
                 static_cast<unsigned long long>(snap.index.value),
                 static_cast<unsigned long long>(snap.term.value));
  }

  [[noreturn]] void Fatal(const char* what, const Status& st) {
    // A node that cannot write its disk must stop rather than acknowledge anything more: the
    // facility is lost, and the region goes on with the other two. Never retry a failed fsync
    // (PostgreSQL's "fsyncgate"): the kernel may have dropped the dirty pages it could not write
    // and report the next fsync as a success. Nothing the failed write held was acknowledged
    // (messages and answers leave only after the write); a restart recovers from what the Raft
    // log really holds, and the leader sends the rest. _exit: no destructor may run (or block)
    // on state that can no longer be written.
    std::fprintf(stderr,
                 "meridian: fatal: %s: %s\n"
                 "meridian: this node stops (exit %d) rather than acknowledge anything more: a write, sync or read "
                 "of its state failed, and a failed sync is never retried. Nothing it had not made durable was "
                 "acknowledged; restart it once the disk is healthy and it recovers from its Raft log.\n",
                 what, st.ToString().c_str(), kExitDiskFailed);
    std::fflush(stderr);
    ::_exit(kExitDiskFailed);
  }

  // ---- apply ----
  void Apply(const raft::Entry& e) {
    if (e.index <= state_applied) return;  // already in the state (a restart replays the log)
    rocksdb::WriteBatch batch;
    std::optional<Result<Response>> result;
    if (e.type == raft::EntryType::kNormal && !e.data.empty()) {
      UnpackedWrite w = UnpackWrite(e.data);
      if (!w.request.ok()) {
        result = w.request.status();
      } else {
        std::optional<std::string> answer;
        if (!w.key.empty()) {
          Result<std::optional<std::string>> found = request_log->Lookup(w.key);
          if (!found.ok()) Fatal("reading the request log", found.status());
          answer = std::move(found).value();
        }
        if (answer) {
          proto::DecodedReply reply = proto::DecodeReply(*answer);
          result = std::move(reply.response);
        } else {
          ApplyOptions apply;
          apply.now_ms = w.now_ms;
          apply.batch = &batch;
          apply.change_seq = e.index.value;
          result = engine->Execute(w.request.value(), apply);
          if (!w.key.empty()) {
            std::string encoded = result->ok() ? proto::EncodeResponse("", result->value())
                                               : proto::EncodeError("", OperationOf(w.request.value()),
                                                                    result->status());
            Status st = request_log->Remember(w.key, w.now_ms, encoded, &batch);
            if (!st.ok()) Fatal("writing the request log", st);
          }
        }
      }
      bytes_since_compaction += e.data.size();
    }
    storage->SetApplied(e.index, &batch);
    rocksdb::WriteOptions wo;
    wo.sync = false;
    rocksdb::Status rs = engine->db()->Write(wo, &batch);
    if (!rs.ok()) Fatal("applying a committed entry", Status::Internal(rs.ToString()));
    state_applied = e.index;

    auto it = pending.find(e.index.value);
    if (it != pending.end()) {
      PendingWrite p = std::move(it->second);
      pending.erase(it);
      if (p.term != e.term) {
        Fail(p, "not the leader any more: leadership changed before the write committed; retry it with the same request id");
      } else if (p.done) {
        p.done->set_value(result ? std::move(*result) : Result<Response>(Status::Internal("no result")));
      } else if (p.conf_done) {
        p.conf_done->set_value(Status::Ok());
      }
    }
  }

  static void Fail(PendingWrite& p, const std::string& why) {
    if (p.done) p.done->set_value(Unavailable(why));
    if (p.conf_done) p.conf_done->set_value(Unavailable(why));
  }

  void FailAllPending(const std::string& why) {
    for (auto& [index, p] : pending) Fail(p, why);
    pending.clear();
  }

  // The planted bug ack-before-commit: the leader answers its item writes now that they are in its
  // own log, before a majority has them; Apply finds no caller waiting any more.
  void AnswerBeforeCommit(const raft::Ready& rd) {
    for (const raft::Entry& e : rd.entries) {
      auto it = pending.find(e.index.value);
      if (it == pending.end() || !it->second.done || !it->second.early_answer) continue;
      it->second.done->set_value(std::move(*it->second.early_answer));
      it->second.done = nullptr;
    }
  }

  void ReleaseReads() {
    while (!reads_waiting_apply.empty() && reads_waiting_apply.begin()->first <= state_applied.value) {
      reads_waiting_apply.begin()->second->set_value(Status::Ok());
      reads_waiting_apply.erase(reads_waiting_apply.begin());
    }
  }

  // ---- the loop ----
  void HandleReady() {
    raft::Ready rd = raft->GetReady();
    if (rd.snapshot) InstallSnapshot(*rd.snapshot, rd.hard_state);
    if (!rd.entries.empty() || rd.hard_state) {
      Status st = storage->Persist(rd);
      if (!st.ok()) Fatal("persisting the Raft log", st);
    }
    if (options.plant_ack_before_commit) AnswerBeforeCommit(rd);
    // Only now, with the log and the vote durable, may messages leave (thesis §3.8).
    std::map<uint64_t, std::vector<raft::Message>> by_peer;
    for (raft::Message& m : rd.messages) {
      if (m.type == raft::MessageType::kSnapshot && m.snapshot && m.snapshot->data.empty()) {
        if (!RouteSnapshot(&m)) continue;
      }
      by_peer[m.to.value].push_back(std::move(m));
    }
    for (auto& [to, msgs] : by_peer) SendTo(to, msgs);
    for (const raft::Entry& e : rd.committed_entries) Apply(e);
    for (const raft::ReadState& rs : rd.read_states) {
      auto it = reads_in_flight.find(rs.context);
      if (it == reads_in_flight.end()) continue;
      for (ReadWaiter& w : it->second) {
        if (rs.index.value == 0) {
          w->set_value(Unavailable("not the leader any more: leadership changed during a consistent read; retry it"));
        } else {
          reads_waiting_apply.emplace(rs.index.value, std::move(w));
        }
      }
      reads_in_flight.erase(it);
    }
    raft->Advance(rd);
    ReleaseReads();
    MaybeCompact();
  }

  void Publish() {
    proto::NodeStatus s;
    s.region = options.region.name;
    s.facility = options.region.facilities[options.facility_index].name;
    s.node_id = node_id;
    const auto& voters = raft->voters();
    bool member = std::find(voters.begin(), voters.end(), NodeId{node_id}) != voters.end();
    s.role = member ? RoleString(raft->role()) : "joining";
    s.term = raft->term().value;
    s.commit_index = raft->commit().value;
    s.applied_index = state_applied.value;
    s.last_index = raft->LastIndex().value;
    s.snapshot_index = raft->snapshot().index.value;
    s.leader_id = raft->leader().value;
    s.leader_facility = FacilityOf(s.leader_id);
    s.native_endpoint = options.region.facilities[options.facility_index].NativeEndpoint();
    for (NodeId v : voters) {
      proto::MemberStatus m;
      m.node_id = v.value;
      m.facility = FacilityOf(v.value);
      if (const raft::Progress* p = raft->progress(v)) m.match_index = p->match.value;
      if (v.value == node_id && raft->role() == raft::Role::kLeader) m.match_index = raft->LastIndex().value;
      s.members.push_back(std::move(m));
    }
    std::lock_guard<std::mutex> lock(mu);
    s.http_endpoint = status.http_endpoint;
    status = std::move(s);
    leader = raft->leader().value;
    is_leader = raft->role() == raft::Role::kLeader;
  }

  void Loop() {
    auto next_tick = Clock::now() + std::chrono::milliseconds(options.tick_ms);
    bool was_leader = false;
    for (;;) {
      std::deque<std::string> frames;
      std::deque<Proposal> props;
      std::deque<ReadWaiter> rds;
      std::deque<ConfRequest> confs;
      std::deque<TransferRequest> xfers;
      {
        std::unique_lock<std::mutex> lock(mu);
        wake.wait_until(lock, next_tick, [&] {
          return stopping || !peer_frames.empty() || !proposals.empty() || !reads.empty() ||
                 !conf_requests.empty() || !transfers.empty();
        });
        if (stopping) break;
        frames.swap(peer_frames);
        props.swap(proposals);
        rds.swap(reads);
        confs.swap(conf_requests);
        xfers.swap(transfers);
      }
      for (const std::string& f : frames) {
        for (const raft::Message& m : DecodePeer(f)) {
          if (m.type == raft::MessageType::kSnapshot && m.snapshot && !AcceptSnapshot(m)) continue;
          raft->Step(m);
        }
      }
      auto now = Clock::now();
      if (now >= next_tick) {
        raft->Tick();
        next_tick += std::chrono::milliseconds(options.tick_ms);
        // After a stall (a paused process), skip the missed ticks rather than firing them at once.
        if (next_tick < now) next_tick = now + std::chrono::milliseconds(options.tick_ms);
      }
      for (Proposal& p : props) {
        raft::ProposeStatus st = raft->Propose(std::move(p.payload));
        if (st.ok()) {
          pending[st.index().value] = PendingWrite{st.term(), std::move(p.done), nullptr, std::move(p.early_answer)};
        } else {
          p.done->set_value(ProposeError(st));
        }
      }
      for (ConfRequest& c : confs) {
        raft::ProposeStatus st = raft->ProposeConfChange(c.change);
        if (st.ok()) {
          pending[st.index().value] = PendingWrite{st.term(), nullptr, std::move(c.done), std::nullopt};
        } else {
          c.done->set_value(ProposeError(st));
        }
      }
      for (TransferRequest& t : xfers) {
        raft::ProposeStatus st = raft->TransferLeadership(t.target);
        t.done->set_value(st.ok() ? Status::Ok() : ProposeError(st));
      }
      for (ReadWaiter& r : rds) reads_deferred.push_back(std::move(r));
      if (!reads_deferred.empty()) {
        uint64_t ctx = ++next_read_context;
        raft::ProposeStatus st = raft->ReadIndex(ctx);
        if (st.ok()) {
          reads_in_flight[ctx] = std::move(reads_deferred);
          reads_deferred.clear();
        } else if (st.code() != raft::ProposeCode::kConfChangePending) {
          for (ReadWaiter& w : reads_deferred) w->set_value(ProposeError(st));
          reads_deferred.clear();
        }  // else: a new leader without a commit of its term; try again next turn
      }
      while (raft->HasReady()) HandleReady();
      PumpTransfers();
      bool lead = raft->role() == raft::Role::kLeader;
      if (was_leader && !lead) {
        // Entries proposed here may still commit under the new leader, or be overwritten: the
        // outcome is unknown. The callers retry at the new leader with the same request id, which
        // the replicated request log answers at most once. Reads in flight are failed by the core
        // (ReadState index 0).
        FailAllPending("not the leader any more: leadership was lost before the write was applied; retry it with the same request id");
        for (ReadWaiter& w : reads_deferred) w->set_value(Unavailable("not the leader any more; retry the read"));
        reads_deferred.clear();
      }
      was_leader = lead;
      Publish();
    }
    FailAllPending("the node is shutting down");
    for (auto& [ctx, ws] : reads_in_flight)
      for (ReadWaiter& w : ws) w->set_value(Unavailable("the node is shutting down"));
    for (auto& [idx, w] : reads_waiting_apply) w->set_value(Unavailable("the node is shutting down"));
    for (ReadWaiter& w : reads_deferred) w->set_value(Unavailable("the node is shutting down"));
    reads_in_flight.clear();
    reads_waiting_apply.clear();
    reads_deferred.clear();
    peers.clear();
  }

  Status ProposeError(const raft::ProposeStatus& st) const {
    switch (st.code()) {
      case raft::ProposeCode::kOk: return Status::Ok();
      case raft::ProposeCode::kNotLeader: {
        std::string leader_name = FacilityOf(st.leader_hint().value);
        return Unavailable(leader_name.empty() ? "no leader in region " + options.region.name
                                               : "not the leader; facility " + leader_name + " leads");
      }
      case raft::ProposeCode::kTransferring: return Unavailable("leadership is being transferred; retry");
      case raft::ProposeCode::kConfChangePending:
        return Unavailable("a membership change is in progress (or the new leader has not committed yet); retry");
      case raft::ProposeCode::kInvalid: return Status::Validation("invalid membership change");
      case raft::ProposeCode::kOverloaded: return Unavailable("too many uncommitted writes; retry later");
    }
    return Status::Internal("unknown proposal status");
  }
};

Replica::Replica(Engine* engine, ReplicaOptions options)
    : impl_(std::make_unique<Impl>(engine, std::move(options))) {}

Replica::~Replica() { Stop(); }

Status Replica::Start() {
  Impl& m = *impl_;
  if (m.options.facility_index >= m.options.region.facilities.size()) {
    return Status::Validation("facility index out of range");
  }
  m.storage = std::make_unique<RaftStorage>(m.engine);
  m.request_log = std::make_unique<RequestLog>(m.engine);
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t id, m.storage->LoadNodeId());
  uint64_t slot = m.options.facility_index + 1;
  if (id == 0) {
    if (m.options.join) {
      std::random_device rd;
      uint64_t generation = ((static_cast<uint64_t>(rd()) << 20) ^ rd()) & ((1ull << 40) - 1);
      if (generation == 0) generation = 1;
      id = (generation << 2) | slot;
    } else {
      id = slot;
    }
    MERIDIAN_RETURN_IF_ERROR(m.storage->SaveNodeId(id));
  }
  if (FacilityIndexOfNode(id) != m.options.facility_index) {
    return Status::Validation("this data folder belongs to facility " + m.FacilityOf(id) +
                              ", not " + m.options.region.facilities[m.options.facility_index].name);
  }
  m.node_id = node_id_ = id;
  MERIDIAN_ASSIGN_OR_RETURN(raft::PersistedState persisted, m.storage->Load());
  MERIDIAN_ASSIGN_OR_RETURN(m.state_applied, m.storage->LoadApplied());
  raft::Config config;
  config.id = NodeId{id};
  config.group = kRegionGroup;
  if (id <= 3) {
    for (size_t i = 0; i < m.options.region.facilities.size(); ++i) config.peers.push_back(NodeId{i + 1});
  }  // a new member has no voters of its own until the leader's log or snapshot tells it
  config.election_tick = m.options.election_tick;
  config.heartbeat_tick = m.options.heartbeat_tick;
  config.seed = m.options.seed ? m.options.seed
                               : static_cast<uint64_t>(Clock::now().time_since_epoch().count()) ^ (id * 7919);
  m.raft = std::make_unique<raft::Raft>(config, std::move(persisted));
  m.Publish();
  m.loop = std::thread([&m] { m.Loop(); });
  return Status::Ok();
}

void Replica::Stop() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.stopping) return;
    m.stopping = true;
  }
  m.wake.notify_all();
  if (m.loop.joinable()) m.loop.join();
}

void Replica::DeliverPeerFrame(std::string frame) {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.stopping || m.peer_frames.size() >= 10000) return;
    m.peer_frames.push_back(std::move(frame));
  }
  m.wake.notify_one();
}

namespace {
template <typename T>
Result<T> WaitFor(std::future<Result<T>>& f, Clock::time_point deadline, const char* what) {
  if (f.wait_until(deadline) != std::future_status::ready) {
    return Status(ErrorCode::kServiceUnavailable, std::string(what) + " timed out; its outcome is unknown, retry it");
  }
  return f.get();
}
}  // namespace

Result<Response> Replica::Write(const std::string& key, const Request& request, Clock::time_point deadline,
                                NotLeader* not_leader) {
  Impl& m = *impl_;
  auto done = std::make_shared<std::promise<Result<Response>>>();
  std::future<Result<Response>> f = done->get_future();
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.stopping) return Unavailable("the node is shutting down");
    if (!m.is_leader) {
      if (not_leader) not_leader->leader_id = m.leader;
      return Unavailable("not the leader");
    }
    if (m.proposals.size() >= m.options.max_queued_proposals) return Unavailable("too many queued writes; retry later");
    std::optional<Response> early_answer;
    if (m.options.plant_ack_before_commit) early_answer = EarlyAnswer(OperationOf(request));
    m.proposals.push_back({PackWrite(key, WallMs() + m.options.clock_offset_ms, request), done, std::move(early_answer)});
  }
  m.wake.notify_one();
  return WaitFor(f, deadline, "the write");
}

Status Replica::ReadBarrier(Clock::time_point deadline, NotLeader* not_leader) {
  Impl& m = *impl_;
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> f = done->get_future();
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.stopping) return Unavailable("the node is shutting down");
    if (!m.is_leader) {
      if (not_leader) not_leader->leader_id = m.leader;
      return Unavailable("not the leader");
    }
    m.reads.push_back(done);
  }
  m.wake.notify_one();
  if (f.wait_until(deadline) != std::future_status::ready) return Unavailable("the consistent read timed out");
  return f.get();
}

bool Replica::IsLeader() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->is_leader;
}

uint64_t Replica::leader_id() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->leader;
}

std::string Replica::EndpointOf(uint64_t node_id) const { return impl_->EndpointOf(node_id); }

proto::NodeStatus Replica::GetStatus() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->status;
}

void Replica::SetHttpEndpoint(const std::string& endpoint) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->status.http_endpoint = endpoint;
}

Result<std::string> Replica::TransferLeader(const std::string& facility, std::chrono::milliseconds wait) {
  Impl& m = *impl_;
  proto::NodeStatus s = GetStatus();
  if (s.role != "leader") {
    return Unavailable(s.leader_facility.empty() ? "no leader" : "not the leader; facility " + s.leader_facility + " leads");
  }
  uint64_t target = 0, best_match = 0;
  for (const proto::MemberStatus& member : s.members) {
    if (member.node_id == node_id_) continue;
    if (!facility.empty() ? member.facility == facility : (target == 0 || member.match_index > best_match)) {
      target = member.node_id;
      best_match = member.match_index;
    }
  }
  if (target == 0) {
    if (facility == s.facility) return std::string("facility " + facility + " already leads");
    return Status::Validation("no member at facility '" + facility + "' in region " + s.region);
  }
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> f = done->get_future();
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.transfers.push_back({NodeId{target}, done});
  }
  m.wake.notify_one();
  MERIDIAN_RETURN_IF_ERROR(f.get());
  auto deadline = Clock::now() + wait;
  while (Clock::now() < deadline) {
    proto::NodeStatus now = GetStatus();
    if (now.leader_id == target) return "leadership moved to facility " + m.FacilityOf(target) + " (term " + std::to_string(now.term) + ")";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Unavailable("leadership transfer to facility " + m.FacilityOf(target) + " did not finish in time");
}

Result<std::string> Replica::ReplaceFacility(const std::string& facility, std::chrono::milliseconds wait) {
  Impl& m = *impl_;
  proto::NodeStatus s = GetStatus();
  if (s.role != "leader") {
    return Unavailable(s.leader_facility.empty() ? "no leader" : "not the leader; facility " + s.leader_facility + " leads");
  }
  const topology::Facility* f = m.options.region.FindFacility(facility);
  if (!f) return Status::Validation("no facility '" + facility + "' in region " + s.region);
  if (facility == s.facility) return Status::Validation("facility " + facility + " leads; transfer leadership first");
  // Ask the node now running at the facility for its id.
  ClientOptions probe;
  probe.endpoint = f->NativeEndpoint();
  probe.timeout = std::chrono::milliseconds(2000);
  probe.fail_fast = true;
  if (m.options.credentials) {
    probe.credentials = Credentials{m.options.credentials->access_key_id, m.options.credentials->secret_access_key};
  }
  Result<proto::NodeStatus> theirs = Client(probe).NodeStatus();
  if (!theirs.ok()) return Unavailable("facility " + facility + " does not answer: " + theirs.status().message());
  uint64_t new_id = theirs.value().node_id;
  uint64_t old_id = 0;
  for (const proto::MemberStatus& member : s.members) {
    if (member.facility == facility) old_id = member.node_id;
  }
  if (new_id == old_id) {
    return Status::Validation("facility " + facility + " still runs member " + std::to_string(old_id) +
                              "; to replace it, start it with an empty data folder first");
  }
  auto change = [&](raft::ConfChange::Kind kind, uint64_t id) -> Status {
    auto deadline = Clock::now() + wait;
    for (;;) {
      auto done = std::make_shared<std::promise<Status>>();
      std::future<Status> fut = done->get_future();
      {
        std::lock_guard<std::mutex> lock(m.mu);
        raft::ConfChange c;
        c.kind = kind;
        c.node = NodeId{id};
        m.conf_requests.push_back({c, done});
      }
      m.wake.notify_one();
      if (fut.wait_until(deadline) != std::future_status::ready) return Unavailable("membership change timed out");
      Status st = fut.get();
      // Right after another change (or a new term) the core asks to wait for a commit.
      if (st.ok() || Clock::now() >= deadline || st.message().find("membership change is in progress") == std::string::npos) {
        return st;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  std::string done_text;
  if (old_id != 0) {
    MERIDIAN_RETURN_IF_ERROR(change(raft::ConfChange::Kind::kRemoveNode, old_id));
    done_text = "removed member " + std::to_string(old_id) + ", ";
  }
  MERIDIAN_RETURN_IF_ERROR(change(raft::ConfChange::Kind::kAddNode, new_id));
  return done_text + "added member " + std::to_string(new_id) + " at facility " + facility +
         "; it catches up from a snapshot";
}

void Replica::HandOver(std::chrono::milliseconds wait) {
  if (!IsLeader()) return;
  (void)TransferLeader("", wait);
}

}  // namespace meridian::region
