// The wire form of Raft messages between the facility nodes of a region: the body of a kPeer frame
// (proto/frame.h) is a msgpack array of messages, so one ZeroMQ message carries every message a
// Ready holds for one peer (batching). Entry and snapshot data travel as msgpack bin.
//
// Decoding is total: bytes that are not a well-formed batch give an error, never a crash; the
// values are checked (known message and entry types) but not trusted beyond that — Raft itself
// tolerates lost, duplicated and reordered messages, and peers are authenticated by the frame's
// signature.
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proto/frame.h"
#include "region/raft.h"
#include "storage/status.h"

namespace meridian::region {

// The packed msgpack body (not a whole frame).
std::string PackRaftMessages(const std::vector<raft::Message>& messages);
// Decodes the body of a kPeer frame.
Result<std::vector<raft::Message>> UnpackRaftMessages(const msgpack::object& body);

// A whole kPeer frame, signed when `credentials` is given.
std::string EncodePeerFrame(const std::vector<raft::Message>& messages,
                            const proto::FrameCredentials* credentials);

}  // namespace meridian::region
