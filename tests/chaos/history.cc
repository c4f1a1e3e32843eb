#include "tests/chaos/history.h"

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include <nlohmann/json.hpp>

namespace meridian::chaos {

namespace {

using nlohmann::json;

constexpr std::array<std::pair<OpType, const char*>, 6> kOpTypeNames = {{
    {OpType::kPut, "put"},
    {OpType::kAppend, "append"},
    {OpType::kCasAppend, "cas-append"},
    {OpType::kDelete, "delete"},
    {OpType::kStrongRead, "strong-read"},
    {OpType::kEventualRead, "eventual-read"},
}};

constexpr std::array<std::pair<Outcome, const char*>, 3> kOutcomeNames = {{
    {Outcome::kOk, "ok"},
    {Outcome::kFail, "fail"},
    {Outcome::kUnknown, "unknown"},
}};

// Field readers: each checks the JSON type first, so a bad line is a Status, never a
// nlohmann::json::type_error escaping the module.
Status Missing(const char* field) { return Status::Validation(std::string("missing field \"") + field + "\""); }
Status WrongType(const char* field, const char* want) {
  return Status::Validation(std::string("field \"") + field + "\" must be " + want);
}

Status ReadString(const json& j, const char* field, bool required, std::string* out) {
  auto it = j.find(field);
  if (it == j.end()) return required ? Missing(field) : Status::Ok();
  if (!it->is_string()) return WrongType(field, "a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadInt(const json& j, const char* field, bool required, int64_t* out) {
  auto it = j.find(field);
  if (it == j.end()) return required ? Missing(field) : Status::Ok();
  // An unsigned value above INT64_MAX is is_number_unsigned and not representable.
  if (!it->is_number_integer() || (it->is_number_unsigned() && it->get<uint64_t>() > INT64_MAX)) {
    return WrongType(field, "an integer");
  }
  *out = it->get<int64_t>();
  return Status::Ok();
}

}  // namespace

const char* OpTypeName(OpType type) {
  for (const auto& [t, name] : kOpTypeNames) {
    if (t == type) return name;
  }
  return "?";
}

const char* OutcomeName(Outcome outcome) {
  for (const auto& [o, name] : kOutcomeNames) {
    if (o == outcome) return name;
  }
  return "?";
}

bool IsWrite(OpType type) {
  return type == OpType::kPut || type == OpType::kAppend || type == OpType::kCasAppend || type == OpType::kDelete;
}

std::string OpToJson(const Op& op) {
  json j = {
      {"id", op.id},
      {"worker", op.worker},
      {"region", op.region},
      {"type", OpTypeName(op.type)},
      {"key", op.key},
      {"token", op.token},
      {"expected_len", op.expected_len},
      {"read", op.read ? json(*op.read) : json(nullptr)},
      {"outcome", OutcomeName(op.outcome)},
      {"error", op.error},
      {"invoke_ns", op.invoke_ns},
      {"complete_ns", op.complete_ns},
  };
  // Replace invalid UTF-8 (an error message quoting raw bytes) rather than throw.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Op> OpFromJson(const std::string& line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Validation("not valid JSON");
  if (!j.is_object()) return Status::Validation("not a JSON object");

  Op op;
  auto id = j.find("id");
  if (id == j.end()) return Missing("id");
  if (!id->is_number_unsigned()) return WrongType("id", "a non-negative integer");
  op.id = id->get<uint64_t>();

  int64_t worker = 0;
  MERIDIAN_RETURN_IF_ERROR(ReadInt(j, "worker", true, &worker));
  if (worker < INT32_MIN || worker > INT32_MAX) return WrongType("worker", "a 32-bit integer");
  op.worker = static_cast<int>(worker);
  MERIDIAN_RETURN_IF_ERROR(ReadString(j, "region", true, &op.region));

  std::string type;
  MERIDIAN_RETURN_IF_ERROR(ReadString(j, "type", true, &type));
  bool known_type = false;
  for (const auto& [t, name] : kOpTypeNames) {
    if (type == name) {
      op.type = t;
      known_type = true;
    }
  }
  if (!known_type) return Status::Validation("unknown op type \"" + type + "\"");

  MERIDIAN_RETURN_IF_ERROR(ReadString(j, "key", true, &op.key));
  MERIDIAN_RETURN_IF_ERROR(ReadString(j, "token", false, &op.token));
  MERIDIAN_RETURN_IF_ERROR(ReadInt(j, "expected_len", false, &op.expected_len));

  if (auto read = j.find("read"); read != j.end() && !read->is_null()) {
    if (!read->is_array()) return WrongType("read", "null or a list of strings");
    std::vector<std::string> tokens;
    tokens.reserve(read->size());
    for (const json& t : *read) {
      if (!t.is_string()) return WrongType("read", "null or a list of strings");
      tokens.push_back(t.get<std::string>());
    }
    op.read = std::move(tokens);
  }

  std::string outcome;
  MERIDIAN_RETURN_IF_ERROR(ReadString(j, "outcome", true, &outcome));
  bool known_outcome = false;
  for (const auto& [o, name] : kOutcomeNames) {
    if (outcome == name) {
      op.outcome = o;
      known_outcome = true;
    }
  }
  if (!known_outcome) return Status::Validation("unknown outcome \"" + outcome + "\"");

  MERIDIAN_RETURN_IF_ERROR(ReadString(j, "error", false, &op.error));
  MERIDIAN_RETURN_IF_ERROR(ReadInt(j, "invoke_ns", true, &op.invoke_ns));
  MERIDIAN_RETURN_IF_ERROR(ReadInt(j, "complete_ns", false, &op.complete_ns));
  return op;
}

Result<std::unique_ptr<HistoryWriter>> HistoryWriter::Open(const std::string& path) {
  auto writer = std::unique_ptr<HistoryWriter>(new HistoryWriter());
  writer->out_.open(path, std::ios::out | std::ios::trunc | std::ios::binary);
  if (!writer->out_) {
    return Status::Validation("cannot open history file " + path + ": " + std::strerror(errno));
  }
  return writer;
}

void HistoryWriter::Append(const Op& op) {
  std::string line = OpToJson(op);
  line += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  if (!status_.ok()) return;
  out_.write(line.data(), static_cast<std::streamsize>(line.size()));
  out_.flush();
  if (!out_) status_ = Status::Internal("writing the history failed at op " + std::to_string(op.id));
}

Status HistoryWriter::status() {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

Result<std::vector<Op>> ReadHistory(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Validation("cannot open history file " + path + ": " + std::strerror(errno));
  std::vector<Op> ops;
  std::string line;
  for (uint64_t number = 1; std::getline(in, line); ++number) {
    // getline sets eof when the last line had no newline: the shape of a write cut by a crash.
    const bool unterminated = in.eof();
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Result<Op> op = OpFromJson(line);
    if (!op.ok()) {
      if (unterminated) break;
      return Status::Validation(path + " line " + std::to_string(number) + ": " + op.status().message());
    }
    ops.push_back(std::move(op).value());
  }
  if (in.bad()) return Status::Validation("reading history file " + path + " failed");
  return ops;
}

}  // namespace meridian::chaos
