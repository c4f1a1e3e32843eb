#include "region/raft_codec.h"

#include <msgpack.hpp>

namespace meridian::region {
namespace {

using raft::Entry;
using raft::Message;

void PackBin(msgpack::packer<msgpack::sbuffer>& pk, const std::string& data) {
  pk.pack_bin(static_cast<uint32_t>(data.size()));
  pk.pack_bin_body(data.data(), static_cast<uint32_t>(data.size()));
}

void PackEntry(msgpack::packer<msgpack::sbuffer>& pk, const Entry& e) {
  pk.pack_array(4);
  pk.pack(e.term.value);
  pk.pack(e.index.value);
  pk.pack(static_cast<uint8_t>(e.type));
  PackBin(pk, e.data);
}

const msgpack::object* Array(const msgpack::object& o, uint32_t size) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size != size) throw msgpack::type_error();
  return o.via.array.ptr;
}

std::string Bin(const msgpack::object& o) {
  if (o.type == msgpack::type::BIN) return std::string(o.via.bin.ptr, o.via.bin.size);
  if (o.type == msgpack::type::STR) return std::string(o.via.str.ptr, o.via.str.size);
  throw msgpack::type_error();
}

Entry UnpackEntry(const msgpack::object& o) {
  const msgpack::object* f = Array(o, 4);
  Entry e;
  e.term = raft::Term{f[0].as<uint64_t>()};
  e.index = raft::LogIndex{f[1].as<uint64_t>()};
  uint8_t type = f[2].as<uint8_t>();
  if (type > static_cast<uint8_t>(raft::EntryType::kConfChange)) throw msgpack::type_error();
  e.type = static_cast<raft::EntryType>(type);
  e.data = Bin(f[3]);
  return e;
}

}  // namespace

std::string PackRaftMessages(const std::vector<Message>& messages) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_array(static_cast<uint32_t>(messages.size()));
  for (const Message& m : messages) {
    pk.pack_array(14);
    pk.pack(m.group.value);
    pk.pack(static_cast<uint8_t>(m.type));
    pk.pack(m.from.value);
    pk.pack(m.to.value);
    pk.pack(m.term.value);
    pk.pack(m.index.value);
    pk.pack(m.log_term.value);
    pk.pack_array(static_cast<uint32_t>(m.entries.size()));
    for (const Entry& e : m.entries) PackEntry(pk, e);
    pk.pack(m.commit.value);
    pk.pack(m.reject);
    pk.pack(m.reject_hint.value);
    pk.pack(m.force);
    if (m.snapshot) {
      pk.pack_array(4);
      pk.pack(m.snapshot->index.value);
      pk.pack(m.snapshot->term.value);
      pk.pack_array(static_cast<uint32_t>(m.snapshot->voters.size()));
      for (raft::NodeId v : m.snapshot->voters) pk.pack(v.value);
      PackBin(pk, m.snapshot->data);
    } else {
      pk.pack_nil();
    }
    pk.pack(m.context);
  }
  return std::string(buf.data(), buf.size());
}

Result<std::vector<Message>> UnpackRaftMessages(const msgpack::object& body) {
  try {
    if (body.type != msgpack::type::ARRAY) throw msgpack::type_error();
    std::vector<Message> out;
    out.reserve(body.via.array.size);
    for (uint32_t i = 0; i < body.via.array.size; ++i) {
      const msgpack::object* f = Array(body.via.array.ptr[i], 14);
      Message m;
      m.group = raft::GroupId{f[0].as<uint64_t>()};
      uint8_t type = f[1].as<uint8_t>();
      if (type > static_cast<uint8_t>(raft::MessageType::kTimeoutNow)) throw msgpack::type_error();
      m.type = static_cast<raft::MessageType>(type);
      m.from = raft::NodeId{f[2].as<uint64_t>()};
      m.to = raft::NodeId{f[3].as<uint64_t>()};
      m.term = raft::Term{f[4].as<uint64_t>()};
      m.index = raft::LogIndex{f[5].as<uint64_t>()};
      m.log_term = raft::Term{f[6].as<uint64_t>()};
      if (f[7].type != msgpack::type::ARRAY) throw msgpack::type_error();
      for (uint32_t j = 0; j < f[7].via.array.size; ++j) m.entries.push_back(UnpackEntry(f[7].via.array.ptr[j]));
      m.commit = raft::LogIndex{f[8].as<uint64_t>()};
      m.reject = f[9].as<bool>();
      m.reject_hint = raft::LogIndex{f[10].as<uint64_t>()};
      m.force = f[11].as<bool>();
      if (f[12].type != msgpack::type::NIL) {
        const msgpack::object* s = Array(f[12], 4);
        raft::Snapshot snap;
        snap.index = raft::LogIndex{s[0].as<uint64_t>()};
        snap.term = raft::Term{s[1].as<uint64_t>()};
        if (s[2].type != msgpack::type::ARRAY) throw msgpack::type_error();
        for (uint32_t j = 0; j < s[2].via.array.size; ++j) {
          snap.voters.push_back(raft::NodeId{s[2].via.array.ptr[j].as<uint64_t>()});
        }
        snap.data = Bin(s[3]);
        m.snapshot = std::move(snap);
      } else if (m.type == raft::MessageType::kSnapshot) {
        throw msgpack::type_error();  // the core requires a snapshot in kSnapshot
      }
      m.context = f[13].as<uint64_t>();
      out.push_back(std::move(m));
    }
    return out;
  } catch (const std::exception& e) {
    return Status::Serialization(std::string("raft messages do not decode: ") + e.what());
  }
}

std::string EncodePeerFrame(const std::vector<Message>& messages,
                            const proto::FrameCredentials* credentials) {
  return proto::EncodeFrame(proto::FrameKind::kPeer, 0, "", PackRaftMessages(messages), credentials);
}

}  // namespace meridian::region
