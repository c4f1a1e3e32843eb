#include "api/json_codec.h"

#include <openssl/evp.h>

#include <array>
#include <climits>
#include <cmath>
#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

namespace meridian::api {
namespace {

using json = nlohmann::json;

// --- Messages ------------------------------------------------------------------------------------

// A user-supplied string as it may appear inside an error message: bounded, and printable ASCII
// only, so that the message itself always dumps as valid UTF-8.
std::string Echo(std::string_view s) {
  constexpr size_t kMaxEcho = 128;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxEcho; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (s.size() > kMaxEcho) out += "...";
  return out;
}

// The name of a JSON token as Jackson (which DynamoDB's front end uses) prints it in errors.
const char* TokenName(const json& j) {
  switch (j.type()) {
    case json::value_t::string: return "STRING_VALUE";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "NUMBER_VALUE";
    case json::value_t::boolean: return j.get<bool>() ? "VALUE_TRUE" : "VALUE_FALSE";
    case json::value_t::null: return "VALUE_NULL";
    case json::value_t::object: return "START_OBJECT";
    case json::value_t::array: return "START_ARRAY";
    default: return "VALUE_EMBEDDED_OBJECT";
  }
}

// SerializationException for a JSON value of the wrong type, in DynamoDB's words.
Status WrongType(const json& j, const char* expected) {
  if (j.is_object()) return Status::Serialization("Start of structure or map found where not expected");
  if (j.is_array()) return Status::Serialization("Start of list found where not expected");
  return Status::Serialization(std::string(TokenName(j)) + " cannot be converted to " + expected);
}

Status MissingMember(std::string_view path) {
  return Status::Validation("1 validation error detected: Value null at '" + std::string(path) +
                            "' failed to satisfy constraint: Member must not be null");
}

// The request and response types of Meridian's internal operations (the replicator's view of its
// own region): the encoders give {} for them, the decoders refuse them.
template <typename T>
constexpr bool kIsInternal =
    std::is_same_v<T, ReplicationReadChangesRequest> || std::is_same_v<T, ReplicationApplyRequest> ||
    std::is_same_v<T, ReplicationReadTableRequest> || std::is_same_v<T, ReplicationBackfillDoneRequest> ||
    std::is_same_v<T, ReplicationStatusRequest> || std::is_same_v<T, ReplicationReadChangesResponse> ||
    std::is_same_v<T, ReplicationApplyResponse> || std::is_same_v<T, ReplicationReadTableResponse> ||
    std::is_same_v<T, ReplicationBackfillDoneResponse> || std::is_same_v<T, ReplicationStatusResponse>;

// Meridian's internal operations have no JSON form: to a JSON caller they do not exist, so the
// answer is word for word the one an unknown operation name gets.
Status UnknownOperation(std::string_view name) {
  return Status(ErrorCode::kUnknownOperation, "Operation " + Echo(name) + " is not served by Meridian");
}

Status InternalOperation(Operation op) { return UnknownOperation(OperationName(op)); }

// --- Reading members -----------------------------------------------------------------------------

// The member `name` of `obj`, or nullptr when it is absent or null (Jackson reads null as absent).
const json* Member(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Status ReadString(const json& j, std::string* out) {
  if (!j.is_string()) return WrongType(j, "String");
  *out = j.get_ref<const std::string&>();
  return Status::Ok();
}

Status ReadBool(const json& j, bool* out) {
  if (!j.is_boolean()) return WrongType(j, "Boolean");
  *out = j.get<bool>();
  return Status::Ok();
}

Status ReadLong(const json& j, int64_t* out) {
  if (j.is_number_unsigned()) {
    uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) {
      return Status::Serialization("Numeric value (" + std::to_string(u) + ") out of range of long");
    }
    *out = static_cast<int64_t>(u);
    return Status::Ok();
  }
  if (j.is_number_integer()) {
    *out = j.get<int64_t>();
    return Status::Ok();
  }
  if (j.is_number_float()) {
    // An integral double (e.g. 5.0) is accepted; a fraction would have to be silently truncated.
    double d = j.get<double>();
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.0e18) {
      *out = static_cast<int64_t>(d);
      return Status::Ok();
    }
    return Status::Serialization("NUMBER_VALUE cannot be converted to Long: not an integer in range");
  }
  return WrongType(j, "Long");
}

Status ReadDouble(const json& j, double* out) {
  if (!j.is_number()) return WrongType(j, "Double");
  *out = j.get<double>();
  return Status::Ok();
}

Status CheckObject(const json& j, const char* expected = "Structure") {
  if (j.is_object()) return Status::Ok();
  if (j.is_array()) return Status::Serialization("Start of list found where not expected");
  return Status::Serialization(std::string(TokenName(j)) + " cannot be converted to " + expected);
}

Status CheckArray(const json& j) {
  if (j.is_array()) return Status::Ok();
  return WrongType(j, "List");
}

Status OptString(const json& obj, const char* name, std::string* out) {
  if (const json* m = Member(obj, name)) return ReadString(*m, out);
  return Status::Ok();
}

Status OptString(const json& obj, const char* name, std::optional<std::string>* out) {
  if (const json* m = Member(obj, name)) {
    std::string s;
    MERIDIAN_RETURN_IF_ERROR(ReadString(*m, &s));
    *out = std::move(s);
  }
  return Status::Ok();
}

Status ReqString(const json& obj, const char* name, std::string_view path, std::string* out) {
  const json* m = Member(obj, name);
  if (m == nullptr) return MissingMember(path);
  return ReadString(*m, out);
}

Status OptBool(const json& obj, const char* name, bool* out) {
  if (const json* m = Member(obj, name)) return ReadBool(*m, out);
  return Status::Ok();
}

Status OptLong(const json& obj, const char* name, std::optional<int64_t>* out) {
  if (const json* m = Member(obj, name)) {
    int64_t v = 0;
    MERIDIAN_RETURN_IF_ERROR(ReadLong(*m, &v));
    *out = v;
  }
  return Status::Ok();
}

Status ReqLong(const json& obj, const char* name, std::string_view path, int64_t* out) {
  const json* m = Member(obj, name);
  if (m == nullptr) return MissingMember(path);
  return ReadLong(*m, out);
}

// --- Enums ---------------------------------------------------------------------------------------

template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};

// An enum with DynamoDB's spelling of its values and of the value set in its error message (the
// order DynamoDB prints them in, which is not declaration order).
template <typename E, size_t N>
struct EnumSpec {
  std::array<EnumName<E>, N> names;
  std::string_view value_set;
};

constexpr EnumSpec<ReturnValue, 5> kReturnValues{
    {{{"NONE", ReturnValue::kNone},
      {"ALL_OLD", ReturnValue::kAllOld},
      {"UPDATED_OLD", ReturnValue::kUpdatedOld},
      {"ALL_NEW", ReturnValue::kAllNew},
      {"UPDATED_NEW", ReturnValue::kUpdatedNew}}},
    "[ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]"};
constexpr EnumSpec<ReturnConsumedCapacity, 3> kReturnConsumedCapacity{
    {{{"NONE", ReturnConsumedCapacity::kNone},
      {"TOTAL", ReturnConsumedCapacity::kTotal},
      {"INDEXES", ReturnConsumedCapacity::kIndexes}}},
    "[INDEXES, TOTAL, NONE]"};
constexpr EnumSpec<Select, 4> kSelect{
    {{{"ALL_ATTRIBUTES", Select::kAllAttributes},
      {"ALL_PROJECTED_ATTRIBUTES", Select::kAllProjectedAttributes},
      {"SPECIFIC_ATTRIBUTES", Select::kSpecificAttributes},
      {"COUNT", Select::kCount}}},
    "[SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"};
constexpr EnumSpec<BillingMode, 2> kBillingMode{
    {{{"PROVISIONED", BillingMode::kProvisioned}, {"PAY_PER_REQUEST", BillingMode::kPayPerRequest}}},
    "[PROVISIONED, PAY_PER_REQUEST]"};
constexpr EnumSpec<KeyType, 2> kKeyType{
    {{{"HASH", KeyType::kHash}, {"RANGE", KeyType::kRange}}}, "[HASH, RANGE]"};
constexpr EnumSpec<AttributeType, 3> kScalarAttributeType{
    {{{"S", AttributeType::kS}, {"N", AttributeType::kN}, {"B", AttributeType::kB}}}, "[B, N, S]"};
constexpr EnumSpec<TableStatus, 4> kTableStatus{
    {{{"CREATING", TableStatus::kCreating},
      {"ACTIVE", TableStatus::kActive},
      {"DELETING", TableStatus::kDeleting},
      {"UPDATING", TableStatus::kUpdating}}},
    "[CREATING, UPDATING, DELETING, ACTIVE]"};
constexpr EnumSpec<ReplicaStatus, 5> kReplicaStatus{
    {{{"CREATING", ReplicaStatus::kCreating},
      {"CREATION_FAILED", ReplicaStatus::kCreationFailed},
      {"UPDATING", ReplicaStatus::kUpdating},
      {"DELETING", ReplicaStatus::kDeleting},
      {"ACTIVE", ReplicaStatus::kActive}}},
    "[CREATING, CREATION_FAILED, UPDATING, DELETING, ACTIVE]"};

template <typename E, size_t N>
std::string_view NameOf(const EnumSpec<E, N>& spec, E value) {
  for (const auto& n : spec.names)
    if (n.value == value) return n.name;
  return spec.names[0].name;  // unreachable for values of the enum
}

template <typename E, size_t N>
Status ReadEnum(const json& j, const EnumSpec<E, N>& spec, std::string_view path, E* out) {
  std::string s;
  MERIDIAN_RETURN_IF_ERROR(ReadString(j, &s));
  for (const auto& n : spec.names) {
    if (n.name == s) {
      *out = n.value;
      return Status::Ok();
    }
  }
  return Status::Validation("1 validation error detected: Value '" + Echo(s) + "' at '" +
                            std::string(path) +
                            "' failed to satisfy constraint: Member must satisfy enum value set: " +
                            std::string(spec.value_set));
}

template <typename E, size_t N>
Status OptEnum(const json& obj, const char* name, const EnumSpec<E, N>& spec, std::string_view path,
               E* out) {
  if (const json* m = Member(obj, name)) return ReadEnum(*m, spec, path, out);
  return Status::Ok();
}

template <typename E, size_t N>
Status OptEnum(const json& obj, const char* name, const EnumSpec<E, N>& spec, std::string_view path,
               std::optional<E>* out) {
  if (const json* m = Member(obj, name)) {
    E v{};
    MERIDIAN_RETURN_IF_ERROR(ReadEnum(*m, spec, path, &v));
    *out = v;
  }
  return Status::Ok();
}

// --- Unsupported features ------------------------------------------------------------------------

// Members of features Meridian does not have yet. Ignoring them, as DynamoDB ignores unknown
// members, would be wrong data (a condition silently not checked), so they are refused on every
// operation.
constexpr std::array<const char*, 5> kUnsupportedMembers = {
    "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "GlobalSecondaryIndexUpdates",
    "StreamSpecification", "SSESpecification"};

Status NotSupported(std::string_view member) {
  return Status::Validation(std::string(member) + " is not supported by Meridian yet");
}

Status RefuseUnsupported(const json& body) {
  for (const char* name : kUnsupportedMembers)
    if (Member(body, name) != nullptr) return NotSupported(name);
  if (const json* m = Member(body, "ReturnItemCollectionMetrics")) {
    std::string s;
    MERIDIAN_RETURN_IF_ERROR(ReadString(*m, &s));
    if (s == "NONE") return Status::Ok();
    if (s == "SIZE") return NotSupported("ReturnItemCollectionMetrics");
    return Status::Validation(
        "1 validation error detected: Value '" + Echo(s) +
        "' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum "
        "value set: [SIZE, NONE]");
  }
  return Status::Ok();
}

// --- Base64 --------------------------------------------------------------------------------------

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Strict standard base64 with padding: OpenSSL's EVP_DecodeBlock does the decoding, but it
// tolerates surrounding whitespace and counts padding as zero bytes, so the text is checked here
// first and the padding subtracted after.
Result<std::string> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) {
    return Status::Serialization("Base64 encoded length is expected a multiple of 4 bytes but found: " +
                                 std::to_string(text.size()));
  }
  if (text.size() > static_cast<size_t>(INT_MAX)) {
    return Status::Serialization("Base64 encoded value is too long");
  }
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (IsBase64Char(c) && padding == 0) continue;
    if (c == '=' && i + 2 >= text.size()) {
      ++padding;
      continue;
    }
    return Status::Serialization("Invalid Base64 character at position " + std::to_string(i));
  }
  if (text.empty()) return std::string();
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) < padding) {
    return Status::Serialization("Invalid Base64 encoded value");
  }
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

std::string EncodeBase64(std::string_view bytes) {
  // Bounded by the item size limit long before int overflows; asserted because the cast would
  // otherwise corrupt silently.
  assert(bytes.size() < static_cast<size_t>(INT_MAX) / 2);
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// --- AttributeValue ------------------------------------------------------------------------------

Status CheckStringArray(const json& j) {
  MERIDIAN_RETURN_IF_ERROR(CheckArray(j));
  for (const auto& m : j)
    if (!m.is_string()) return WrongType(m, "String");
  return Status::Ok();
}

// The JSON type each tag's payload must have; checked for every tag present before anything is
// built, as DynamoDB deserializes before it validates.
Status CheckPayloadType(AttributeType t, const json& payload) {
  switch (t) {
    case AttributeType::kS:
    case AttributeType::kN:
    case AttributeType::kB:
      return payload.is_string() ? Status::Ok() : WrongType(payload, "String");
    case AttributeType::kBool:
    case AttributeType::kNull:
      return payload.is_boolean() ? Status::Ok() : WrongType(payload, "Boolean");
    case AttributeType::kM: return CheckObject(payload, "Map");
    case AttributeType::kL: return CheckArray(payload);
    case AttributeType::kSS:
    case AttributeType::kNS:
    case AttributeType::kBS: return CheckStringArray(payload);
  }
  return Status::Serialization("Unknown AttributeValue type");
}

Result<AttributeValue> ValueFromJson(const json& j, int depth);

Result<AttributeMap> MapFromJson(const json& j, int depth) {
  MERIDIAN_RETURN_IF_ERROR(CheckObject(j, "Map"));
  AttributeMap out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    MERIDIAN_ASSIGN_OR_RETURN(AttributeValue v, ValueFromJson(*it, depth));
    out.emplace(it.key(), std::move(v));
  }
  return out;
}

// `depth` is the depth of `j` itself: a top-level attribute is 1. Recursion stops at
// kMaxNestingDepth + 1, so the C++ stack depth is bounded whatever the input.
Result<AttributeValue> ValueFromJson(const json& j, int depth) {
  if (depth > kMaxNestingDepth) {
    return Status::Validation("Nesting Levels have exceeded supported limits");
  }
  if (!j.is_object()) return WrongType(j, "AttributeValue");
  const json* payload = nullptr;
  AttributeType type = AttributeType::kNull;
  int tags = 0;
  for (auto it = j.begin(); it != j.end(); ++it) {
    AttributeType t;
    if (!ParseAttributeType(it.key(), &t)) {
      return Status::Serialization("Unrecognized AttributeValue member '" + Echo(it.key()) +
                                   "'; expected one of S, N, B, BOOL, NULL, M, L, SS, NS, BS");
    }
    if (it->is_null()) continue;
    MERIDIAN_RETURN_IF_ERROR(CheckPayloadType(t, *it));
    payload = &*it;
    type = t;
    ++tags;
  }
  if (tags == 0) {
    return Status::Validation(
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
  }
  if (tags > 1) {
    return Status::Validation(
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the "
        "supported datatypes");
  }
  const json& p = *payload;
  switch (type) {
    case AttributeType::kS: return AttributeValue::S(p.get<std::string>());
    case AttributeType::kN: return AttributeValue::ParseN(p.get_ref<const std::string&>());
    case AttributeType::kB: {
      MERIDIAN_ASSIGN_OR_RETURN(std::string bytes, DecodeBase64(p.get_ref<const std::string&>()));
      return AttributeValue::B(std::move(bytes));
    }
    case AttributeType::kBool: return AttributeValue::Bool(p.get<bool>());
    case AttributeType::kNull:
      if (!p.get<bool>()) {
        return Status::Validation(
            "One or more parameter values were invalid: Null attribute value types must have the "
            "true value");
      }
      return AttributeValue::NullValue();
    case AttributeType::kM: {
      MERIDIAN_ASSIGN_OR_RETURN(AttributeMap m, MapFromJson(p, depth + 1));
      return AttributeValue::M(std::move(m));
    }
    case AttributeType::kL: {
      AttributeList l;
      l.reserve(p.size());
      for (const auto& child : p) {
        MERIDIAN_ASSIGN_OR_RETURN(AttributeValue v, ValueFromJson(child, depth + 1));
        l.push_back(std::move(v));
      }
      return AttributeValue::L(std::move(l));
    }
    case AttributeType::kSS: {
      std::vector<std::string> members;
      members.reserve(p.size());
      for (const auto& m : p) members.push_back(m.get<std::string>());
      return AttributeValue::SS(std::move(members));
    }
    case AttributeType::kNS: {
      std::vector<Decimal> members;
      members.reserve(p.size());
      for (const auto& m : p) {
        MERIDIAN_ASSIGN_OR_RETURN(Decimal d, Decimal::Parse(m.get_ref<const std::string&>()));
        members.push_back(std::move(d));
      }
      return AttributeValue::NS(std::move(members));
    }
    case AttributeType::kBS: {
      std::vector<std::string> members;
      members.reserve(p.size());
      for (const auto& m : p) {
        MERIDIAN_ASSIGN_OR_RETURN(std::string bytes, DecodeBase64(m.get_ref<const std::string&>()));
        members.push_back(std::move(bytes));
      }
      return AttributeValue::BS(std::move(members));
    }
  }
  return Status::Serialization("Unknown AttributeValue type");
}

json ValueToJson(const AttributeValue& v) {
  switch (v.type()) {
    case AttributeType::kS: return {{"S", v.s()}};
    case AttributeType::kN: return {{"N", v.n().ToString()}};
    case AttributeType::kB: return {{"B", EncodeBase64(v.b())}};
    case AttributeType::kBool: return {{"BOOL", v.boolean()}};
    case AttributeType::kNull: return {{"NULL", true}};
    case AttributeType::kM: {
      json m = json::object();
      for (const auto& [name, child] : v.m()) m[name] = ValueToJson(child);
      return {{"M", std::move(m)}};
    }
    case AttributeType::kL: {
      json l = json::array();
      for (const auto& child : v.l()) l.push_back(ValueToJson(child));
      return {{"L", std::move(l)}};
    }
    case AttributeType::kSS: return {{"SS", v.ss()}};
    case AttributeType::kNS: {
      json a = json::array();
      for (const auto& d : v.ns()) a.push_back(d.ToString());
      return {{"NS", std::move(a)}};
    }
    case AttributeType::kBS: {
      json a = json::array();
      for (const auto& b : v.bs()) a.push_back(EncodeBase64(b.bytes));
      return {{"BS", std::move(a)}};
    }
  }
  return {{"NULL", true}};
}

// --- Shared request pieces -----------------------------------------------------------------------

Status OptItem(const json& obj, const char* name, std::optional<Item>* out) {
  if (const json* m = Member(obj, name)) {
    MERIDIAN_ASSIGN_OR_RETURN(Item item, ItemFromJson(*m));
    *out = std::move(item);
  }
  return Status::Ok();
}

Status ReqItem(const json& obj, const char* name, std::string_view path, Item* out) {
  const json* m = Member(obj, name);
  if (m == nullptr) return MissingMember(path);
  MERIDIAN_ASSIGN_OR_RETURN(*out, ItemFromJson(*m));
  return Status::Ok();
}

Status ReadItemList(const json& j, std::vector<Item>* out) {
  MERIDIAN_RETURN_IF_ERROR(CheckArray(j));
  out->clear();
  out->reserve(j.size());
  for (const auto& e : j) {
    MERIDIAN_ASSIGN_OR_RETURN(Item item, ItemFromJson(e));
    out->push_back(std::move(item));
  }
  return Status::Ok();
}

Status OptRcc(const json& obj, ReturnConsumedCapacity* out) {
  return OptEnum(obj, "ReturnConsumedCapacity", kReturnConsumedCapacity, "returnConsumedCapacity",
                 out);
}

json ItemsToJson(const std::vector<Item>& items) {
  json a = json::array();
  for (const auto& item : items) a.push_back(ItemToJson(item));
  return a;
}

void PutRcc(json& j, ReturnConsumedCapacity rcc) {
  if (rcc != ReturnConsumedCapacity::kNone)
    j["ReturnConsumedCapacity"] = NameOf(kReturnConsumedCapacity, rcc);
}

// --- Table descriptions --------------------------------------------------------------------------

// The global tables version Meridian's replicas follow (DynamoDB's current one; the legacy
// 2017.11.29 API, CreateGlobalTable and friends, is not offered).
constexpr char kGlobalTableVersion[] = "2019.11.21";

Status ReadKeySchema(const json& j, std::vector<KeySchemaElement>* out) {
  MERIDIAN_RETURN_IF_ERROR(CheckArray(j));
  for (size_t i = 0; i < j.size(); ++i) {
    const json& e = j[i];
    MERIDIAN_RETURN_IF_ERROR(CheckObject(e));
    std::string base = "keySchema." + std::to_string(i + 1) + ".member.";
    KeySchemaElement k;
    MERIDIAN_RETURN_IF_ERROR(ReqString(e, "AttributeName", base + "attributeName", &k.attribute_name));
    const json* kt = Member(e, "KeyType");
    if (kt == nullptr) return MissingMember(base + "keyType");
    MERIDIAN_RETURN_IF_ERROR(ReadEnum(*kt, kKeyType, base + "keyType", &k.key_type));
    out->push_back(std::move(k));
  }
  return Status::Ok();
}

Status ReadAttributeDefinitions(const json& j, std::vector<AttributeDefinition>* out) {
  MERIDIAN_RETURN_IF_ERROR(CheckArray(j));
  for (size_t i = 0; i < j.size(); ++i) {
    const json& e = j[i];
    MERIDIAN_RETURN_IF_ERROR(CheckObject(e));
    std::string base = "attributeDefinitions." + std::to_string(i + 1) + ".member.";
    AttributeDefinition d;
    MERIDIAN_RETURN_IF_ERROR(ReqString(e, "AttributeName", base + "attributeName", &d.attribute_name));
    const json* t = Member(e, "AttributeType");
    if (t == nullptr) return MissingMember(base + "attributeType");
    MERIDIAN_RETURN_IF_ERROR(ReadEnum(*t, kScalarAttributeType, base + "attributeType", &d.attribute_type));
    out->push_back(std::move(d));
  }
  return Status::Ok();
}

Status ReadProvisionedThroughput(const json& j, ProvisionedThroughput* out) {
  MERIDIAN_RETURN_IF_ERROR(CheckObject(j));
  MERIDIAN_RETURN_IF_ERROR(ReqLong(j, "ReadCapacityUnits", "provisionedThroughput.readCapacityUnits",
                                   &out->read_capacity_units));
  return ReqLong(j, "WriteCapacityUnits", "provisionedThroughput.writeCapacityUnits",
                 &out->write_capacity_units);
}

json KeySchemaToJson(const std::vector<KeySchemaElement>& ks) {
  json a = json::array();
  for (const auto& k : ks)
    a.push_back({{"AttributeName", k.attribute_name}, {"KeyType", NameOf(kKeyType, k.key_type)}});
  return a;
}

json AttributeDefinitionsToJson(const std::vector<AttributeDefinition>& ds) {
  json a = json::array();
  for (const auto& d : ds) {
    a.push_back({{"AttributeName", d.attribute_name},
                 {"AttributeType", NameOf(kScalarAttributeType, d.attribute_type)}});
  }
  return a;
}

json TableDescriptionToJson(const TableDescription& t) {
  json j = json::object();
  j["AttributeDefinitions"] = AttributeDefinitionsToJson(t.attribute_definitions);
  j["TableName"] = t.table_name;
  j["KeySchema"] = KeySchemaToJson(t.key_schema);
  j["TableStatus"] = NameOf(kTableStatus, t.table_status);
  // Epoch seconds with a millisecond fraction, as DynamoDB's JSON protocol sends timestamps.
  j["CreationDateTime"] = static_cast<double>(t.creation_date_time_ms) / 1000.0;
  j["ProvisionedThroughput"] = {{"NumberOfDecreasesToday", 0},
                                {"ReadCapacityUnits", t.provisioned_throughput.read_capacity_units},
                                {"WriteCapacityUnits", t.provisioned_throughput.write_capacity_units}};
  j["TableSizeBytes"] = t.table_size_bytes;
  j["ItemCount"] = t.item_count;
  j["TableArn"] = t.table_arn;
  j["TableId"] = t.table_id;
  j["BillingModeSummary"] = {{"BillingMode", NameOf(kBillingMode, t.billing_mode)}};
  // A global table (version 2019.11.21, the only one Meridian has) lists every replica region,
  // this one included; a table with no replica elsewhere has neither member, as in DynamoDB.
  if (!t.replicas.empty()) {
    json replicas = json::array();
    for (const auto& r : t.replicas) {
      replicas.push_back(
          {{"RegionName", r.region_name}, {"ReplicaStatus", NameOf(kReplicaStatus, r.replica_status)}});
    }
    j["Replicas"] = std::move(replicas);
    j["GlobalTableVersion"] = kGlobalTableVersion;
  }
  return j;
}

Status ReadReplicas(const json& j, std::vector<ReplicaDescription>* out) {
  MERIDIAN_RETURN_IF_ERROR(CheckArray(j));
  for (const auto& e : j) {
    MERIDIAN_RETURN_IF_ERROR(CheckObject(e));
    ReplicaDescription r;
    MERIDIAN_RETURN_IF_ERROR(OptString(e, "RegionName", &r.region_name));
    MERIDIAN_RETURN_IF_ERROR(OptEnum(e, "ReplicaStatus", kReplicaStatus, "replicaStatus", &r.replica_status));
    out->push_back(std::move(r));
  }
  return Status::Ok();
}

Status ReadTableDescription(const json& j, TableDescription* t) {
  MERIDIAN_RETURN_IF_ERROR(CheckObject(j));
  MERIDIAN_RETURN_IF_ERROR(OptString(j, "TableName", &t->table_name));
  MERIDIAN_RETURN_IF_ERROR(OptString(j, "TableArn", &t->table_arn));
  MERIDIAN_RETURN_IF_ERROR(OptString(j, "TableId", &t->table_id));
  MERIDIAN_RETURN_IF_ERROR(OptEnum(j, "TableStatus", kTableStatus, "tableStatus", &t->table_status));
  if (const json* m = Member(j, "KeySchema")) MERIDIAN_RETURN_IF_ERROR(ReadKeySchema(*m, &t->key_schema));
  if (const json* m = Member(j, "AttributeDefinitions"))
    MERIDIAN_RETURN_IF_ERROR(ReadAttributeDefinitions(*m, &t->attribute_definitions));
  std::optional<int64_t> v;
  MERIDIAN_RETURN_IF_ERROR(OptLong(j, "ItemCount", &v));
  t->item_count = v.value_or(0);
  v.reset();
  MERIDIAN_RETURN_IF_ERROR(OptLong(j, "TableSizeBytes", &v));
  t->table_size_bytes = v.value_or(0);
  if (const json* m = Member(j, "CreationDateTime")) {
    double seconds = 0;
    MERIDIAN_RETURN_IF_ERROR(ReadDouble(*m, &seconds));
    if (!std::isfinite(seconds) || std::fabs(seconds) > 9.0e12) {
      return Status::Serialization("CreationDateTime out of range");
    }
    t->creation_date_time_ms = std::llround(seconds * 1000.0);
  }
  if (const json* m = Member(j, "ProvisionedThroughput")) {
    MERIDIAN_RETURN_IF_ERROR(CheckObject(*m));
    std::optional<int64_t> r, w;
    MERIDIAN_RETURN_IF_ERROR(OptLong(*m, "ReadCapacityUnits", &r));
    MERIDIAN_RETURN_IF_ERROR(OptLong(*m, "WriteCapacityUnits", &w));
    t->provisioned_throughput = {r.value_or(0), w.value_or(0)};
  }
  if (const json* m = Member(j, "BillingModeSummary")) {
    MERIDIAN_RETURN_IF_ERROR(CheckObject(*m));
    MERIDIAN_RETURN_IF_ERROR(OptEnum(*m, "BillingMode", kBillingMode, "billingMode", &t->billing_mode));
  }
  if (const json* m = Member(j, "Replicas")) MERIDIAN_RETURN_IF_ERROR(ReadReplicas(*m, &t->replicas));
  return Status::Ok();
}

// --- Consumed capacity ---------------------------------------------------------------------------

json CapacityToJson(const ConsumedCapacity& c, bool write) {
  const char* side = write ? "WriteCapacityUnits" : "ReadCapacityUnits";
  double side_units = write ? c.write_capacity_units : c.read_capacity_units;
  json j = {{"TableName", c.table_name}, {"CapacityUnits", c.capacity_units}, {side, side_units}};
  if (c.indexes) j["Table"] = {{"CapacityUnits", c.capacity_units}, {side, side_units}};
  return j;
}

Status ReadCapacity(const json& j, ConsumedCapacity* c) {
  MERIDIAN_RETURN_IF_ERROR(CheckObject(j));
  MERIDIAN_RETURN_IF_ERROR(OptString(j, "TableName", &c->table_name));
  if (const json* m = Member(j, "CapacityUnits")) MERIDIAN_RETURN_IF_ERROR(ReadDouble(*m, &c->capacity_units));
  if (const json* m = Member(j, "ReadCapacityUnits")) MERIDIAN_RETURN_IF_ERROR(ReadDouble(*m, &c->read_capacity_units));
  if (const json* m = Member(j, "WriteCapacityUnits")) MERIDIAN_RETURN_IF_ERROR(ReadDouble(*m, &c->write_capacity_units));
  if (const json* m = Member(j, "Table")) {
    MERIDIAN_RETURN_IF_ERROR(CheckObject(*m));
    c->indexes = true;
  }
  return Status::Ok();
}

Status OptCapacity(const json& obj, std::optional<ConsumedCapacity>* out) {
  if (const json* m = Member(obj, "ConsumedCapacity")) {
    ConsumedCapacity c;
    MERIDIAN_RETURN_IF_ERROR(ReadCapacity(*m, &c));
    *out = std::move(c);
  }
  return Status::Ok();
}

Status OptCapacityList(const json& obj, std::vector<ConsumedCapacity>* out) {
  if (const json* m = Member(obj, "ConsumedCapacity")) {
    MERIDIAN_RETURN_IF_ERROR(CheckArray(*m));
    for (const auto& e : *m) {
      ConsumedCapacity c;
      MERIDIAN_RETURN_IF_ERROR(ReadCapacity(e, &c));
      out->push_back(std::move(c));
    }
  }
  return Status::Ok();
}

// --- Expressions and legacy parameters -----------------------------------------------------------

Status OptNames(const json& obj, ExpressionAttributeNames* out) {
  const json* names = Member(obj, "ExpressionAttributeNames");
  if (names == nullptr) return Status::Ok();
  MERIDIAN_RETURN_IF_ERROR(CheckObject(*names, "Map"));
  for (auto it = names->begin(); it != names->end(); ++it) {
    std::string v;
    MERIDIAN_RETURN_IF_ERROR(ReadString(*it, &v));
    (*out)[it.key()] = std::move(v);
  }
  return Status::Ok();
}

Status OptValues(const json& obj, ExpressionAttributeValues* out) {
  const json* values = Member(obj, "ExpressionAttributeValues");
  if (values == nullptr) return Status::Ok();
  MERIDIAN_ASSIGN_OR_RETURN(*out, ItemFromJson(*values));
  return Status::Ok();
}

Status OptStringList(const json& obj, const char* name, std::optional<std::vector<std::string>>* out) {
  const json* m = Member(obj, name);
  if (m == nullptr) return Status::Ok();
  MERIDIAN_RETURN_IF_ERROR(CheckArray(*m));
  std::vector<std::string> list;
  for (const auto& e : *m) {
    std::string v;
    MERIDIAN_RETURN_IF_ERROR(ReadString(e, &v));
    list.push_back(std::move(v));
  }
  *out = std::move(list);
  return Status::Ok();
}

// Expected / QueryFilter / ScanFilter / KeyConditions: {"attr": {ComparisonOperator,
// AttributeValueList, Value, Exists}}.
Status OptLegacyConditions(const json& obj, const char* name, std::optional<LegacyConditions>* out) {
  const json* m = Member(obj, name);
  if (m == nullptr) return Status::Ok();
  MERIDIAN_RETURN_IF_ERROR(CheckObject(*m, "Map"));
  LegacyConditions conditions;
  for (auto it = m->begin(); it != m->end(); ++it) {
    MERIDIAN_RETURN_IF_ERROR(CheckObject(*it));
    LegacyCondition c;
    MERIDIAN_RETURN_IF_ERROR(OptString(*it, "ComparisonOperator", &c.comparison_operator));
    if (const json* list = Member(*it, "AttributeValueList")) {
      MERIDIAN_RETURN_IF_ERROR(CheckArray(*list));
      for (const auto& v : *list) {
        MERIDIAN_ASSIGN_OR_RETURN(AttributeValue value, AttributeValueFromJson(v));
        c.attribute_value_list.push_back(std::move(value));
      }
    }
    if (const json* v = Member(*it, "Value")) {
      MERIDIAN_ASSIGN_OR_RETURN(AttributeValue value, AttributeValueFromJson(*v));
      c.value = std::move(value);
    }
    if (const json* e = Member(*it, "Exists")) {
      bool exists = false;
      MERIDIAN_RETURN_IF_ERROR(ReadBool(*e, &exists));
      c.exists = exists;
    }
    conditions[it.key()] = std::move(c);
  }
  *out = std::move(conditions);
  return Status::Ok();
}

json LegacyConditionsToJson(const LegacyConditions& conditions) {
  json j = json::object();
  for (const auto& [name, c] : conditions) {
    json e = json::object();
    if (c.comparison_operator) e["ComparisonOperator"] = *c.comparison_operator;
    if (!c.attribute_value_list.empty()) {
      json list = json::array();
      for (const auto& v : c.attribute_value_list) list.push_back(AttributeValueToJson(v));
      e["AttributeValueList"] = std::move(list);
    }
    if (c.value) e["Value"] = AttributeValueToJson(*c.value);
    if (c.exists) e["Exists"] = *c.exists;
    j[name] = std::move(e);
  }
  return j;
}

Status OptAttributeUpdates(const json& obj, std::optional<LegacyAttributeUpdates>* out) {
  const json* m = Member(obj, "AttributeUpdates");
  if (m == nullptr) return Status::Ok();
  MERIDIAN_RETURN_IF_ERROR(CheckObject(*m, "Map"));
  LegacyAttributeUpdates updates;
  for (auto it = m->begin(); it != m->end(); ++it) {
    MERIDIAN_RETURN_IF_ERROR(CheckObject(*it));
    LegacyAttributeUpdate u;
    MERIDIAN_RETURN_IF_ERROR(OptString(*it, "Action", &u.action));
    if (const json* v = Member(*it, "Value")) {
      MERIDIAN_ASSIGN_OR_RETURN(AttributeValue value, AttributeValueFromJson(*v));
      u.value = std::move(value);
    }
    updates[it.key()] = std::move(u);
  }
  *out = std::move(updates);
  return Status::Ok();
}

constexpr EnumSpec<ReturnValuesOnConditionCheckFailure, 2> kReturnValuesOnConditionCheckFailure{
    {{{"NONE", ReturnValuesOnConditionCheckFailure::kNone},
      {"ALL_OLD", ReturnValuesOnConditionCheckFailure::kAllOld}}},
    "[ALL_OLD, NONE]"};

// ConditionExpression / Expected / ConditionalOperator / ReturnValuesOnConditionCheckFailure and
// the placeholder maps: what PutItem, DeleteItem and UpdateItem share.
Status ReadWriteCondition(const json& b, WriteCondition* c, ExpressionAttributeNames* names,
                          ExpressionAttributeValues* values) {
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "ConditionExpression", &c->condition_expression));
  MERIDIAN_RETURN_IF_ERROR(OptLegacyConditions(b, "Expected", &c->expected));
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "ConditionalOperator", &c->conditional_operator));
  MERIDIAN_RETURN_IF_ERROR(OptEnum(b, "ReturnValuesOnConditionCheckFailure", kReturnValuesOnConditionCheckFailure,
                                   "returnValuesOnConditionCheckFailure",
                                   &c->return_values_on_condition_check_failure));
  MERIDIAN_RETURN_IF_ERROR(OptNames(b, names));
  return OptValues(b, values);
}

void PutNamesAndValues(json& j, const ExpressionAttributeNames& names, const ExpressionAttributeValues& values) {
  if (!names.empty()) j["ExpressionAttributeNames"] = names;
  if (!values.empty()) j["ExpressionAttributeValues"] = ItemToJson(values);
}

void PutWriteCondition(json& j, const WriteCondition& c) {
  if (c.condition_expression) j["ConditionExpression"] = *c.condition_expression;
  if (c.expected) j["Expected"] = LegacyConditionsToJson(*c.expected);
  if (c.conditional_operator) j["ConditionalOperator"] = *c.conditional_operator;
  if (c.return_values_on_condition_check_failure != ReturnValuesOnConditionCheckFailure::kNone) {
    j["ReturnValuesOnConditionCheckFailure"] =
        NameOf(kReturnValuesOnConditionCheckFailure, c.return_values_on_condition_check_failure);
  }
}

// --- Batches -------------------------------------------------------------------------------------

Status ReadKeysAndAttributes(const json& j, KeysAndAttributes* out) {
  MERIDIAN_RETURN_IF_ERROR(CheckObject(j));
  const json* keys = Member(j, "Keys");
  if (keys == nullptr) return MissingMember("requestItems.member.keys");
  MERIDIAN_RETURN_IF_ERROR(ReadItemList(*keys, &out->keys));
  MERIDIAN_RETURN_IF_ERROR(OptString(j, "ProjectionExpression", &out->projection_expression));
  MERIDIAN_RETURN_IF_ERROR(OptNames(j, &out->expression_attribute_names));
  MERIDIAN_RETURN_IF_ERROR(OptStringList(j, "AttributesToGet", &out->attributes_to_get));
  return OptBool(j, "ConsistentRead", &out->consistent_read);
}

json KeysAndAttributesToJson(const KeysAndAttributes& k) {
  json j = {{"Keys", ItemsToJson(k.keys)}};
  if (k.consistent_read) j["ConsistentRead"] = true;
  if (k.projection_expression) j["ProjectionExpression"] = *k.projection_expression;
  if (!k.expression_attribute_names.empty()) j["ExpressionAttributeNames"] = k.expression_attribute_names;
  if (k.attributes_to_get) j["AttributesToGet"] = *k.attributes_to_get;
  return j;
}

Status ReadKeysAndAttributesMap(const json& j, std::map<std::string, KeysAndAttributes>* out) {
  MERIDIAN_RETURN_IF_ERROR(CheckObject(j, "Map"));
  for (auto it = j.begin(); it != j.end(); ++it) {
    KeysAndAttributes k;
    MERIDIAN_RETURN_IF_ERROR(ReadKeysAndAttributes(*it, &k));
    (*out)[it.key()] = std::move(k);
  }
  return Status::Ok();
}

json KeysAndAttributesMapToJson(const std::map<std::string, KeysAndAttributes>& m) {
  json j = json::object();
  for (const auto& [table, k] : m) j[table] = KeysAndAttributesToJson(k);
  return j;
}

Status ReadWriteRequest(const json& j, WriteRequest* out) {
  MERIDIAN_RETURN_IF_ERROR(CheckObject(j));
  const json* put = Member(j, "PutRequest");
  const json* del = Member(j, "DeleteRequest");
  if ((put == nullptr) == (del == nullptr)) {
    return Status::Validation(
        "Supplied WriteRequest must contain exactly one of PutRequest or DeleteRequest");
  }
  if (put != nullptr) {
    MERIDIAN_RETURN_IF_ERROR(CheckObject(*put));
    Item item;
    MERIDIAN_RETURN_IF_ERROR(ReqItem(*put, "Item", "requestItems.member.putRequest.item", &item));
    out->put_item = std::move(item);
  } else {
    MERIDIAN_RETURN_IF_ERROR(CheckObject(*del));
    Item key;
    MERIDIAN_RETURN_IF_ERROR(ReqItem(*del, "Key", "requestItems.member.deleteRequest.key", &key));
    out->delete_key = std::move(key);
  }
  return Status::Ok();
}

Status ReadWriteRequestMap(const json& j, std::map<std::string, std::vector<WriteRequest>>* out) {
  MERIDIAN_RETURN_IF_ERROR(CheckObject(j, "Map"));
  for (auto it = j.begin(); it != j.end(); ++it) {
    MERIDIAN_RETURN_IF_ERROR(CheckArray(*it));
    std::vector<WriteRequest> writes;
    writes.reserve(it->size());
    for (const auto& e : *it) {
      WriteRequest w;
      MERIDIAN_RETURN_IF_ERROR(ReadWriteRequest(e, &w));
      writes.push_back(std::move(w));
    }
    (*out)[it.key()] = std::move(writes);
  }
  return Status::Ok();
}

json WriteRequestMapToJson(const std::map<std::string, std::vector<WriteRequest>>& m) {
  json j = json::object();
  for (const auto& [table, writes] : m) {
    json a = json::array();
    for (const auto& w : writes) {
      if (w.put_item) {
        a.push_back({{"PutRequest", {{"Item", ItemToJson(*w.put_item)}}}});
      } else if (w.delete_key) {
        a.push_back({{"DeleteRequest", {{"Key", ItemToJson(*w.delete_key)}}}});
      }
    }
    j[table] = std::move(a);
  }
  return j;
}

// --- Requests ------------------------------------------------------------------------------------

Result<Request> DecodeCreateTable(const json& b) {
  CreateTableRequest r;
  MERIDIAN_RETURN_IF_ERROR(ReqString(b, "TableName", "tableName", &r.table_name));
  const json* ks = Member(b, "KeySchema");
  if (ks == nullptr) return MissingMember("keySchema");
  MERIDIAN_RETURN_IF_ERROR(ReadKeySchema(*ks, &r.key_schema));
  const json* ad = Member(b, "AttributeDefinitions");
  if (ad == nullptr) return MissingMember("attributeDefinitions");
  MERIDIAN_RETURN_IF_ERROR(ReadAttributeDefinitions(*ad, &r.attribute_definitions));
  MERIDIAN_RETURN_IF_ERROR(OptEnum(b, "BillingMode", kBillingMode, "billingMode", &r.billing_mode));
  if (const json* pt = Member(b, "ProvisionedThroughput")) {
    ProvisionedThroughput p;
    MERIDIAN_RETURN_IF_ERROR(ReadProvisionedThroughput(*pt, &p));
    r.provisioned_throughput = p;
  }
  return Request(std::move(r));
}

Result<Request> DecodeListTables(const json& b) {
  ListTablesRequest r;
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "ExclusiveStartTableName", &r.exclusive_start_table_name));
  MERIDIAN_RETURN_IF_ERROR(OptLong(b, "Limit", &r.limit));
  return Request(std::move(r));
}

Result<Request> DecodePutItem(const json& b) {
  PutItemRequest r;
  MERIDIAN_RETURN_IF_ERROR(ReqString(b, "TableName", "tableName", &r.table_name));
  MERIDIAN_RETURN_IF_ERROR(ReqItem(b, "Item", "item", &r.item));
  MERIDIAN_RETURN_IF_ERROR(OptEnum(b, "ReturnValues", kReturnValues, "returnValues", &r.return_values));
  MERIDIAN_RETURN_IF_ERROR(OptRcc(b, &r.return_consumed_capacity));
  MERIDIAN_RETURN_IF_ERROR(ReadWriteCondition(b, &r.condition, &r.expression_attribute_names,
                                              &r.expression_attribute_values));
  return Request(std::move(r));
}

Result<Request> DecodeGetItem(const json& b) {
  GetItemRequest r;
  MERIDIAN_RETURN_IF_ERROR(ReqString(b, "TableName", "tableName", &r.table_name));
  MERIDIAN_RETURN_IF_ERROR(ReqItem(b, "Key", "key", &r.key));
  MERIDIAN_RETURN_IF_ERROR(OptBool(b, "ConsistentRead", &r.consistent_read));
  MERIDIAN_RETURN_IF_ERROR(OptRcc(b, &r.return_consumed_capacity));
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "ProjectionExpression", &r.projection_expression));
  MERIDIAN_RETURN_IF_ERROR(OptNames(b, &r.expression_attribute_names));
  MERIDIAN_RETURN_IF_ERROR(OptStringList(b, "AttributesToGet", &r.attributes_to_get));
  return Request(std::move(r));
}

Result<Request> DecodeDeleteItem(const json& b) {
  DeleteItemRequest r;
  MERIDIAN_RETURN_IF_ERROR(ReqString(b, "TableName", "tableName", &r.table_name));
  MERIDIAN_RETURN_IF_ERROR(ReqItem(b, "Key", "key", &r.key));
  MERIDIAN_RETURN_IF_ERROR(OptEnum(b, "ReturnValues", kReturnValues, "returnValues", &r.return_values));
  MERIDIAN_RETURN_IF_ERROR(OptRcc(b, &r.return_consumed_capacity));
  MERIDIAN_RETURN_IF_ERROR(ReadWriteCondition(b, &r.condition, &r.expression_attribute_names,
                                              &r.expression_attribute_values));
  return Request(std::move(r));
}

Result<Request> DecodeUpdateItem(const json& b) {
  UpdateItemRequest r;
  MERIDIAN_RETURN_IF_ERROR(ReqString(b, "TableName", "tableName", &r.table_name));
  MERIDIAN_RETURN_IF_ERROR(ReqItem(b, "Key", "key", &r.key));
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "UpdateExpression", &r.update_expression));
  MERIDIAN_RETURN_IF_ERROR(OptAttributeUpdates(b, &r.attribute_updates));
  MERIDIAN_RETURN_IF_ERROR(OptEnum(b, "ReturnValues", kReturnValues, "returnValues", &r.return_values));
  MERIDIAN_RETURN_IF_ERROR(OptRcc(b, &r.return_consumed_capacity));
  MERIDIAN_RETURN_IF_ERROR(ReadWriteCondition(b, &r.condition, &r.expression_attribute_names,
                                              &r.expression_attribute_values));
  return Request(std::move(r));
}

Result<Request> DecodeQuery(const json& b) {
  QueryRequest r;
  MERIDIAN_RETURN_IF_ERROR(ReqString(b, "TableName", "tableName", &r.table_name));
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "IndexName", &r.index_name));
  const json* kce = Member(b, "KeyConditionExpression");
  MERIDIAN_RETURN_IF_ERROR(OptLegacyConditions(b, "KeyConditions", &r.key_conditions));
  if (kce == nullptr && !r.key_conditions) {
    return Status::Validation(
        "Either the KeyConditions or KeyConditionExpression parameter must be specified in the "
        "request.");
  }
  if (kce != nullptr) MERIDIAN_RETURN_IF_ERROR(ReadString(*kce, &r.key_condition_expression));
  MERIDIAN_RETURN_IF_ERROR(OptNames(b, &r.expression_attribute_names));
  MERIDIAN_RETURN_IF_ERROR(OptValues(b, &r.expression_attribute_values));
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "FilterExpression", &r.filter_expression));
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "ProjectionExpression", &r.projection_expression));
  MERIDIAN_RETURN_IF_ERROR(OptLegacyConditions(b, "QueryFilter", &r.query_filter));
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "ConditionalOperator", &r.conditional_operator));
  MERIDIAN_RETURN_IF_ERROR(OptStringList(b, "AttributesToGet", &r.attributes_to_get));
  MERIDIAN_RETURN_IF_ERROR(OptBool(b, "ScanIndexForward", &r.scan_index_forward));
  MERIDIAN_RETURN_IF_ERROR(OptLong(b, "Limit", &r.limit));
  MERIDIAN_RETURN_IF_ERROR(OptEnum(b, "Select", kSelect, "select", &r.select));
  MERIDIAN_RETURN_IF_ERROR(OptItem(b, "ExclusiveStartKey", &r.exclusive_start_key));
  MERIDIAN_RETURN_IF_ERROR(OptBool(b, "ConsistentRead", &r.consistent_read));
  MERIDIAN_RETURN_IF_ERROR(OptRcc(b, &r.return_consumed_capacity));
  return Request(std::move(r));
}

Result<Request> DecodeScan(const json& b) {
  ScanRequest r;
  MERIDIAN_RETURN_IF_ERROR(ReqString(b, "TableName", "tableName", &r.table_name));
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "IndexName", &r.index_name));
  MERIDIAN_RETURN_IF_ERROR(OptLong(b, "Limit", &r.limit));
  MERIDIAN_RETURN_IF_ERROR(OptEnum(b, "Select", kSelect, "select", &r.select));
  MERIDIAN_RETURN_IF_ERROR(OptItem(b, "ExclusiveStartKey", &r.exclusive_start_key));
  MERIDIAN_RETURN_IF_ERROR(OptLong(b, "Segment", &r.segment));
  MERIDIAN_RETURN_IF_ERROR(OptLong(b, "TotalSegments", &r.total_segments));
  MERIDIAN_RETURN_IF_ERROR(OptBool(b, "ConsistentRead", &r.consistent_read));
  MERIDIAN_RETURN_IF_ERROR(OptRcc(b, &r.return_consumed_capacity));
  MERIDIAN_RETURN_IF_ERROR(OptNames(b, &r.expression_attribute_names));
  MERIDIAN_RETURN_IF_ERROR(OptValues(b, &r.expression_attribute_values));
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "FilterExpression", &r.filter_expression));
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "ProjectionExpression", &r.projection_expression));
  MERIDIAN_RETURN_IF_ERROR(OptLegacyConditions(b, "ScanFilter", &r.scan_filter));
  MERIDIAN_RETURN_IF_ERROR(OptString(b, "ConditionalOperator", &r.conditional_operator));
  MERIDIAN_RETURN_IF_ERROR(OptStringList(b, "AttributesToGet", &r.attributes_to_get));
  return Request(std::move(r));
}

Result<Request> DecodeBatchGetItem(const json& b) {
  BatchGetItemRequest r;
  const json* items = Member(b, "RequestItems");
  if (items == nullptr) return MissingMember("requestItems");
  MERIDIAN_RETURN_IF_ERROR(ReadKeysAndAttributesMap(*items, &r.request_items));
  MERIDIAN_RETURN_IF_ERROR(OptRcc(b, &r.return_consumed_capacity));
  return Request(std::move(r));
}

Result<Request> DecodeBatchWriteItem(const json& b) {
  BatchWriteItemRequest r;
  const json* items = Member(b, "RequestItems");
  if (items == nullptr) return MissingMember("requestItems");
  MERIDIAN_RETURN_IF_ERROR(ReadWriteRequestMap(*items, &r.request_items));
  MERIDIAN_RETURN_IF_ERROR(OptRcc(b, &r.return_consumed_capacity));
  return Request(std::move(r));
}

// Members of a ReplicaUpdates Create (CreateReplicationGroupMemberAction) that would set
// per-replica options Meridian does not have: refused rather than silently dropped.
constexpr std::array<const char*, 5> kUnsupportedReplicaCreateMembers = {
    "KMSMasterKeyId", "ProvisionedThroughputOverride", "OnDemandThroughputOverride",
    "GlobalSecondaryIndexes", "TableClassOverride"};

// The RegionName of a ReplicaUpdates Create or Delete; `path` is where it sits, for the message.
Status ReadReplicaRegion(const json& action, const std::string& path, std::string* region) {
  MERIDIAN_RETURN_IF_ERROR(CheckObject(action));
  return ReqString(action, "RegionName", path + ".regionName", region);
}

// One ReplicaUpdates entry (ReplicationGroupUpdate): exactly one of Create and Delete. DynamoDB's
// third action, Update (per-replica settings), and any other member are refused by name: a
// replica change silently ignored would leave the table in a state the caller did not ask for.
Status ReadReplicaUpdate(const json& e, size_t index, ReplicaUpdate* out) {
  MERIDIAN_RETURN_IF_ERROR(CheckObject(e));
  const std::string base = "replicaUpdates." + std::to_string(index + 1) + ".member";
  for (auto it = e.begin(); it != e.end(); ++it) {
    if (it.key() == "Create" || it.key() == "Delete" || it->is_null()) continue;
    if (it.key() == "Update") {
      return Status::Validation(
          "ReplicaUpdates Update (per-replica settings) is not supported by Meridian; use Create or "
          "Delete");
    }
    return Status::Validation("ReplicaUpdates member '" + Echo(it.key()) +
                              "' is not supported by Meridian; use Create or Delete");
  }
  const json* create = Member(e, "Create");
  const json* remove = Member(e, "Delete");
  if ((create == nullptr) == (remove == nullptr)) {
    return Status::Validation(
        "One or more parameter values were invalid: a ReplicaUpdates entry must contain exactly one "
        "of Create or Delete");
  }
  std::string region;
  if (create != nullptr) {
    MERIDIAN_RETURN_IF_ERROR(ReadReplicaRegion(*create, base + ".create", &region));
    for (const char* name : kUnsupportedReplicaCreateMembers) {
      if (Member(*create, name) != nullptr) return NotSupported(std::string("ReplicaUpdates Create ") + name);
    }
    out->create = std::move(region);
  } else {
    MERIDIAN_RETURN_IF_ERROR(ReadReplicaRegion(*remove, base + ".delete", &region));
    out->remove = std::move(region);
  }
  return Status::Ok();
}

Result<Request> DecodeUpdateTable(const json& b) {
  UpdateTableRequest r;
  MERIDIAN_RETURN_IF_ERROR(ReqString(b, "TableName", "tableName", &r.table_name));
  if (const json* ad = Member(b, "AttributeDefinitions")) {
    std::vector<AttributeDefinition> definitions;
    MERIDIAN_RETURN_IF_ERROR(ReadAttributeDefinitions(*ad, &definitions));
    r.attribute_definitions = std::move(definitions);
  }
  MERIDIAN_RETURN_IF_ERROR(OptEnum(b, "BillingMode", kBillingMode, "billingMode", &r.billing_mode));
  if (const json* pt = Member(b, "ProvisionedThroughput")) {
    ProvisionedThroughput p;
    MERIDIAN_RETURN_IF_ERROR(ReadProvisionedThroughput(*pt, &p));
    r.provisioned_throughput = p;
  }
  // Meridian's replicas are eventually consistent (contract 3); a request for DynamoDB's strongly
  // consistent multi-region tables must not be accepted as if it had been honoured.
  if (const json* mrc = Member(b, "MultiRegionConsistency")) {
    std::string s;
    MERIDIAN_RETURN_IF_ERROR(ReadString(*mrc, &s));
    if (s == "STRONG") return NotSupported("MultiRegionConsistency STRONG");
    if (s != "EVENTUAL") {
      return Status::Validation("1 validation error detected: Value '" + Echo(s) +
                                "' at 'multiRegionConsistency' failed to satisfy constraint: Member "
                                "must satisfy enum value set: [EVENTUAL, STRONG]");
    }
  }
  if (const json* updates = Member(b, "ReplicaUpdates")) {
    MERIDIAN_RETURN_IF_ERROR(CheckArray(*updates));
    r.replica_updates.reserve(updates->size());
    for (size_t i = 0; i < updates->size(); ++i) {
      ReplicaUpdate u;
      MERIDIAN_RETURN_IF_ERROR(ReadReplicaUpdate((*updates)[i], i, &u));
      r.replica_updates.push_back(std::move(u));
    }
  }
  return Request(std::move(r));
}

Result<Request> DecodeRequestUnchecked(Operation op, const json& body) {
  if (!IsDynamoOperation(op)) return InternalOperation(op);
  if (!body.is_object()) {
    return Status::Serialization("The request body must be a JSON object, found " +
                                 std::string(TokenName(body)));
  }
  MERIDIAN_RETURN_IF_ERROR(RefuseUnsupported(body));
  switch (op) {
    case Operation::kCreateTable: return DecodeCreateTable(body);
    case Operation::kDescribeTable: {
      DescribeTableRequest r;
      MERIDIAN_RETURN_IF_ERROR(ReqString(body, "TableName", "tableName", &r.table_name));
      return Request(std::move(r));
    }
    case Operation::kListTables: return DecodeListTables(body);
    case Operation::kDeleteTable: {
      DeleteTableRequest r;
      MERIDIAN_RETURN_IF_ERROR(ReqString(body, "TableName", "tableName", &r.table_name));
      return Request(std::move(r));
    }
    case Operation::kPutItem: return DecodePutItem(body);
    case Operation::kGetItem: return DecodeGetItem(body);
    case Operation::kDeleteItem: return DecodeDeleteItem(body);
    case Operation::kQuery: return DecodeQuery(body);
    case Operation::kScan: return DecodeScan(body);
    case Operation::kBatchGetItem: return DecodeBatchGetItem(body);
    case Operation::kBatchWriteItem: return DecodeBatchWriteItem(body);
    case Operation::kUpdateItem: return DecodeUpdateItem(body);
    case Operation::kUpdateTable: return DecodeUpdateTable(body);
    case Operation::kReplicationReadChanges:
    case Operation::kReplicationApply:
    case Operation::kReplicationReadTable:
    case Operation::kReplicationBackfillDone:
    case Operation::kReplicationStatus:
      return InternalOperation(op);
  }
  return Status(ErrorCode::kUnknownOperation, "Unknown operation");
}

// --- Responses -----------------------------------------------------------------------------------

json PageToJson(const ItemPage& p) {
  json j = json::object();
  if (!p.count_only) j["Items"] = ItemsToJson(p.items);
  j["Count"] = p.count;
  j["ScannedCount"] = p.scanned_count;
  if (p.last_evaluated_key) j["LastEvaluatedKey"] = ItemToJson(*p.last_evaluated_key);
  if (p.consumed_capacity) j["ConsumedCapacity"] = CapacityToJson(*p.consumed_capacity, false);
  return j;
}

Status ReadPage(const json& b, ItemPage* p) {
  if (const json* items = Member(b, "Items")) {
    MERIDIAN_RETURN_IF_ERROR(ReadItemList(*items, &p->items));
  } else {
    p->count_only = true;
  }
  std::optional<int64_t> v;
  MERIDIAN_RETURN_IF_ERROR(OptLong(b, "Count", &v));
  p->count = v.value_or(0);
  v.reset();
  MERIDIAN_RETURN_IF_ERROR(OptLong(b, "ScannedCount", &v));
  p->scanned_count = v.value_or(0);
  MERIDIAN_RETURN_IF_ERROR(OptItem(b, "LastEvaluatedKey", &p->last_evaluated_key));
  return OptCapacity(b, &p->consumed_capacity);
}

Result<Response> DecodeResponseUnchecked(Operation op, const json& b) {
  if (!IsDynamoOperation(op)) return InternalOperation(op);
  MERIDIAN_RETURN_IF_ERROR(CheckObject(b));
  switch (op) {
    case Operation::kCreateTable: {
      CreateTableResponse r;
      if (const json* t = Member(b, "TableDescription"))
        MERIDIAN_RETURN_IF_ERROR(ReadTableDescription(*t, &r.table_description));
      return Response(std::move(r));
    }
    case Operation::kDescribeTable: {
      DescribeTableResponse r;
      if (const json* t = Member(b, "Table")) MERIDIAN_RETURN_IF_ERROR(ReadTableDescription(*t, &r.table));
      return Response(std::move(r));
    }
    case Operation::kListTables: {
      ListTablesResponse r;
      if (const json* names = Member(b, "TableNames")) {
        MERIDIAN_RETURN_IF_ERROR(CheckArray(*names));
        for (const auto& n : *names) {
          std::string s;
          MERIDIAN_RETURN_IF_ERROR(ReadString(n, &s));
          r.table_names.push_back(std::move(s));
        }
      }
      MERIDIAN_RETURN_IF_ERROR(OptString(b, "LastEvaluatedTableName", &r.last_evaluated_table_name));
      return Response(std::move(r));
    }
    case Operation::kDeleteTable: {
      DeleteTableResponse r;
      if (const json* t = Member(b, "TableDescription"))
        MERIDIAN_RETURN_IF_ERROR(ReadTableDescription(*t, &r.table_description));
      return Response(std::move(r));
    }
    case Operation::kPutItem: {
      PutItemResponse r;
      MERIDIAN_RETURN_IF_ERROR(OptItem(b, "Attributes", &r.attributes));
      MERIDIAN_RETURN_IF_ERROR(OptCapacity(b, &r.consumed_capacity));
      return Response(std::move(r));
    }
    case Operation::kGetItem: {
      GetItemResponse r;
      MERIDIAN_RETURN_IF_ERROR(OptItem(b, "Item", &r.item));
      MERIDIAN_RETURN_IF_ERROR(OptCapacity(b, &r.consumed_capacity));
      return Response(std::move(r));
    }
    case Operation::kDeleteItem: {
      DeleteItemResponse r;
      MERIDIAN_RETURN_IF_ERROR(OptItem(b, "Attributes", &r.attributes));
      MERIDIAN_RETURN_IF_ERROR(OptCapacity(b, &r.consumed_capacity));
      return Response(std::move(r));
    }
    case Operation::kUpdateItem: {
      UpdateItemResponse r;
      MERIDIAN_RETURN_IF_ERROR(OptItem(b, "Attributes", &r.attributes));
      MERIDIAN_RETURN_IF_ERROR(OptCapacity(b, &r.consumed_capacity));
      return Response(std::move(r));
    }
    case Operation::kQuery: {
      QueryResponse r;
      MERIDIAN_RETURN_IF_ERROR(ReadPage(b, &r));
      return Response(std::move(r));
    }
    case Operation::kScan: {
      ScanResponse r;
      MERIDIAN_RETURN_IF_ERROR(ReadPage(b, &r));
      return Response(std::move(r));
    }
    case Operation::kBatchGetItem: {
      BatchGetItemResponse r;
      if (const json* resp = Member(b, "Responses")) {
        MERIDIAN_RETURN_IF_ERROR(CheckObject(*resp, "Map"));
        for (auto it = resp->begin(); it != resp->end(); ++it) {
          std::vector<Item> items;
          MERIDIAN_RETURN_IF_ERROR(ReadItemList(*it, &items));
          r.responses[it.key()] = std::move(items);
        }
      }
      if (const json* u = Member(b, "UnprocessedKeys"))
        MERIDIAN_RETURN_IF_ERROR(ReadKeysAndAttributesMap(*u, &r.unprocessed_keys));
      MERIDIAN_RETURN_IF_ERROR(OptCapacityList(b, &r.consumed_capacity));
      return Response(std::move(r));
    }
    case Operation::kBatchWriteItem: {
      BatchWriteItemResponse r;
      if (const json* u = Member(b, "UnprocessedItems"))
        MERIDIAN_RETURN_IF_ERROR(ReadWriteRequestMap(*u, &r.unprocessed_items));
      MERIDIAN_RETURN_IF_ERROR(OptCapacityList(b, &r.consumed_capacity));
      return Response(std::move(r));
    }
    case Operation::kUpdateTable: {
      UpdateTableResponse r;
      if (const json* t = Member(b, "TableDescription"))
        MERIDIAN_RETURN_IF_ERROR(ReadTableDescription(*t, &r.table_description));
      return Response(std::move(r));
    }
    case Operation::kReplicationReadChanges:
    case Operation::kReplicationApply:
    case Operation::kReplicationReadTable:
    case Operation::kReplicationBackfillDone:
    case Operation::kReplicationStatus:
      return InternalOperation(op);
  }
  return Status(ErrorCode::kUnknownOperation, "Unknown operation");
}

}  // namespace

// --- Public API ----------------------------------------------------------------------------------

bool IsDynamoOperation(Operation op) {
  auto n = static_cast<uint16_t>(op);
  return n >= 1 && n <= kDynamoOperationCount;
}

Result<Request> DecodeRequest(std::string_view operation_name, std::string_view body_json) {
  Operation op;
  if (!ParseOperationName(operation_name, &op) || !IsDynamoOperation(op)) {
    return UnknownOperation(operation_name);
  }
  try {
    // Parse errors come back as `discarded` rather than an exception; the catch is for
    // allocation failure only.
    json body = json::parse(body_json.begin(), body_json.end(), nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) return Status::Serialization("Malformed JSON in the request body");
    return DecodeRequest(op, body);
  } catch (const std::exception& e) {
    return Status::Serialization(std::string("Could not parse the request body: ") + e.what());
  }
}

Result<Request> DecodeRequest(Operation op, const nlohmann::json& body) {
  try {
    return DecodeRequestUnchecked(op, body);
  } catch (const std::exception& e) {
    // Every access above checks types first; this is a backstop so that no input can escape.
    return Status::Serialization(std::string("Could not decode the request: ") + e.what());
  }
}

nlohmann::json EncodeRequest(const Request& request) {
  json j = json::object();
  std::visit(
      [&j](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, CreateTableRequest>) {
          j["TableName"] = r.table_name;
          j["KeySchema"] = KeySchemaToJson(r.key_schema);
          j["AttributeDefinitions"] = AttributeDefinitionsToJson(r.attribute_definitions);
          if (r.billing_mode) j["BillingMode"] = NameOf(kBillingMode, *r.billing_mode);
          if (r.provisioned_throughput) {
            j["ProvisionedThroughput"] = {
                {"ReadCapacityUnits", r.provisioned_throughput->read_capacity_units},
                {"WriteCapacityUnits", r.provisioned_throughput->write_capacity_units}};
          }
        } else if constexpr (std::is_same_v<T, DescribeTableRequest> ||
                             std::is_same_v<T, DeleteTableRequest>) {
          j["TableName"] = r.table_name;
        } else if constexpr (std::is_same_v<T, ListTablesRequest>) {
          if (r.exclusive_start_table_name) j["ExclusiveStartTableName"] = *r.exclusive_start_table_name;
          if (r.limit) j["Limit"] = *r.limit;
        } else if constexpr (std::is_same_v<T, PutItemRequest>) {
          j["TableName"] = r.table_name;
          j["Item"] = ItemToJson(r.item);
          if (r.return_values != ReturnValue::kNone) j["ReturnValues"] = NameOf(kReturnValues, r.return_values);
          PutRcc(j, r.return_consumed_capacity);
          PutWriteCondition(j, r.condition);
          PutNamesAndValues(j, r.expression_attribute_names, r.expression_attribute_values);
        } else if constexpr (std::is_same_v<T, GetItemRequest>) {
          j["TableName"] = r.table_name;
          j["Key"] = ItemToJson(r.key);
          if (r.consistent_read) j["ConsistentRead"] = true;
          PutRcc(j, r.return_consumed_capacity);
          if (r.projection_expression) j["ProjectionExpression"] = *r.projection_expression;
          if (r.attributes_to_get) j["AttributesToGet"] = *r.attributes_to_get;
          PutNamesAndValues(j, r.expression_attribute_names, {});
        } else if constexpr (std::is_same_v<T, DeleteItemRequest> || std::is_same_v<T, UpdateItemRequest>) {
          j["TableName"] = r.table_name;
          j["Key"] = ItemToJson(r.key);
          if (r.return_values != ReturnValue::kNone) j["ReturnValues"] = NameOf(kReturnValues, r.return_values);
          PutRcc(j, r.return_consumed_capacity);
          PutWriteCondition(j, r.condition);
          PutNamesAndValues(j, r.expression_attribute_names, r.expression_attribute_values);
          if constexpr (std::is_same_v<T, UpdateItemRequest>) {
            if (r.update_expression) j["UpdateExpression"] = *r.update_expression;
            if (r.attribute_updates) {
              json u = json::object();
              for (const auto& [name, a] : *r.attribute_updates) {
                json e = json::object();
                if (a.action) e["Action"] = *a.action;
                if (a.value) e["Value"] = AttributeValueToJson(*a.value);
                u[name] = std::move(e);
              }
              j["AttributeUpdates"] = std::move(u);
            }
          }
        } else if constexpr (std::is_same_v<T, QueryRequest>) {
          j["TableName"] = r.table_name;
          if (r.index_name) j["IndexName"] = *r.index_name;
          if (!r.key_condition_expression.empty()) j["KeyConditionExpression"] = r.key_condition_expression;
          PutNamesAndValues(j, r.expression_attribute_names, r.expression_attribute_values);
          if (r.key_conditions) j["KeyConditions"] = LegacyConditionsToJson(*r.key_conditions);
          if (r.query_filter) j["QueryFilter"] = LegacyConditionsToJson(*r.query_filter);
          if (!r.scan_index_forward) j["ScanIndexForward"] = false;
          if (r.limit) j["Limit"] = *r.limit;
          if (r.select) j["Select"] = NameOf(kSelect, *r.select);
          if (r.exclusive_start_key) j["ExclusiveStartKey"] = ItemToJson(*r.exclusive_start_key);
          if (r.consistent_read) j["ConsistentRead"] = true;
          PutRcc(j, r.return_consumed_capacity);
        } else if constexpr (std::is_same_v<T, ScanRequest>) {
          j["TableName"] = r.table_name;
          if (r.index_name) j["IndexName"] = *r.index_name;
          if (r.limit) j["Limit"] = *r.limit;
          if (r.select) j["Select"] = NameOf(kSelect, *r.select);
          if (r.exclusive_start_key) j["ExclusiveStartKey"] = ItemToJson(*r.exclusive_start_key);
          if (r.segment) j["Segment"] = *r.segment;
          if (r.total_segments) j["TotalSegments"] = *r.total_segments;
          if (r.consistent_read) j["ConsistentRead"] = true;
          PutRcc(j, r.return_consumed_capacity);
          PutNamesAndValues(j, r.expression_attribute_names, r.expression_attribute_values);
          if (r.scan_filter) j["ScanFilter"] = LegacyConditionsToJson(*r.scan_filter);
        } else if constexpr (std::is_same_v<T, BatchGetItemRequest>) {
          j["RequestItems"] = KeysAndAttributesMapToJson(r.request_items);
          PutRcc(j, r.return_consumed_capacity);
        } else if constexpr (std::is_same_v<T, BatchWriteItemRequest>) {
          j["RequestItems"] = WriteRequestMapToJson(r.request_items);
          PutRcc(j, r.return_consumed_capacity);
        } else if constexpr (std::is_same_v<T, UpdateTableRequest>) {
          j["TableName"] = r.table_name;
          if (r.attribute_definitions) {
            j["AttributeDefinitions"] = AttributeDefinitionsToJson(*r.attribute_definitions);
          }
          if (r.billing_mode) j["BillingMode"] = NameOf(kBillingMode, *r.billing_mode);
          if (r.provisioned_throughput) {
            j["ProvisionedThroughput"] = {
                {"ReadCapacityUnits", r.provisioned_throughput->read_capacity_units},
                {"WriteCapacityUnits", r.provisioned_throughput->write_capacity_units}};
          }
          if (!r.replica_updates.empty()) {
            json updates = json::array();
            for (const auto& u : r.replica_updates) {
              // The native protocol could carry an entry with both or neither set; the JSON shows
              // what it holds, and decoding it back refuses it as DynamoDB would.
              json e = json::object();
              if (u.create) e["Create"] = {{"RegionName", *u.create}};
              if (u.remove) e["Delete"] = {{"RegionName", *u.remove}};
              updates.push_back(std::move(e));
            }
            j["ReplicaUpdates"] = std::move(updates);
          }
        } else {
          static_assert(kIsInternal<T>, "every DynamoDB request needs its JSON encoding here");
        }
        if constexpr (std::is_same_v<T, QueryRequest> || std::is_same_v<T, ScanRequest>) {
          if (r.filter_expression) j["FilterExpression"] = *r.filter_expression;
          if (r.projection_expression) j["ProjectionExpression"] = *r.projection_expression;
          if (r.conditional_operator) j["ConditionalOperator"] = *r.conditional_operator;
          if (r.attributes_to_get) j["AttributesToGet"] = *r.attributes_to_get;
        }
      },
      request);
  return j;
}

nlohmann::json EncodeResponse(const Response& response) {
  json j = json::object();
  std::visit(
      [&j](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, CreateTableResponse> || std::is_same_v<T, DeleteTableResponse> ||
                      std::is_same_v<T, UpdateTableResponse>) {
          j["TableDescription"] = TableDescriptionToJson(r.table_description);
        } else if constexpr (std::is_same_v<T, DescribeTableResponse>) {
          j["Table"] = TableDescriptionToJson(r.table);
        } else if constexpr (std::is_same_v<T, ListTablesResponse>) {
          j["TableNames"] = r.table_names;
          if (r.last_evaluated_table_name) j["LastEvaluatedTableName"] = *r.last_evaluated_table_name;
        } else if constexpr (std::is_same_v<T, PutItemResponse> || std::is_same_v<T, DeleteItemResponse> ||
                             std::is_same_v<T, UpdateItemResponse>) {
          if (r.attributes) j["Attributes"] = ItemToJson(*r.attributes);
          if (r.consumed_capacity) j["ConsumedCapacity"] = CapacityToJson(*r.consumed_capacity, true);
        } else if constexpr (std::is_same_v<T, GetItemResponse>) {
          if (r.item) j["Item"] = ItemToJson(*r.item);
          if (r.consumed_capacity) j["ConsumedCapacity"] = CapacityToJson(*r.consumed_capacity, false);
        } else if constexpr (std::is_same_v<T, QueryResponse> || std::is_same_v<T, ScanResponse>) {
          j = PageToJson(r);
        } else if constexpr (std::is_same_v<T, BatchGetItemResponse>) {
          json responses = json::object();
          for (const auto& [table, items] : r.responses) responses[table] = ItemsToJson(items);
          j["Responses"] = std::move(responses);
          j["UnprocessedKeys"] = KeysAndAttributesMapToJson(r.unprocessed_keys);
          if (!r.consumed_capacity.empty()) {
            json a = json::array();
            for (const auto& c : r.consumed_capacity) a.push_back(CapacityToJson(c, false));
            j["ConsumedCapacity"] = std::move(a);
          }
        } else if constexpr (std::is_same_v<T, BatchWriteItemResponse>) {
          j["UnprocessedItems"] = WriteRequestMapToJson(r.unprocessed_items);
          if (!r.consumed_capacity.empty()) {
            json a = json::array();
            for (const auto& c : r.consumed_capacity) a.push_back(CapacityToJson(c, true));
            j["ConsumedCapacity"] = std::move(a);
          }
        } else {
          static_assert(kIsInternal<T>, "every DynamoDB response needs its JSON encoding here");
        }
      },
      response);
  return j;
}

Result<Response> DecodeResponse(Operation op, const nlohmann::json& body) {
  try {
    return DecodeResponseUnchecked(op, body);
  } catch (const std::exception& e) {
    return Status::Serialization(std::string("Could not decode the response: ") + e.what());
  }
}

nlohmann::json EncodeError(const Status& status) {
  json j = {{"__type", ErrorTypeString(status.code())}, {"message", status.message()}};
  // ConditionalCheckFailedException with ReturnValuesOnConditionCheckFailure=ALL_OLD carries the
  // item as it was.
  if (!status.item_payload().empty()) {
    if (auto item = DecodeItem(status.item_payload()); item.ok()) j["Item"] = ItemToJson(item.value());
  }
  return j;
}

Status ErrorFromJson(const nlohmann::json& body) {
  if (!body.is_object()) return Status::Internal("error body is not a JSON object");
  const json* type = Member(body, "__type");
  if (type == nullptr || !type->is_string()) return Status::Internal("error body has no __type");
  ErrorCode code = ErrorCodeFromName(type->get_ref<const std::string&>());
  if (code == ErrorCode::kOk) code = ErrorCode::kInternalServerError;
  std::string message;
  for (const char* key : {"message", "Message"}) {
    const json* m = Member(body, key);
    if (m != nullptr && m->is_string()) {
      message = m->get<std::string>();
      break;
    }
  }
  Status error(code, std::move(message));
  if (const json* item = Member(body, "Item")) {
    if (auto decoded = ItemFromJson(*item); decoded.ok()) {
      error = std::move(error).WithItemPayload(EncodeItem(decoded.value()));
    }
  }
  return error;
}

Result<AttributeValue> AttributeValueFromJson(const nlohmann::json& j) {
  try {
    return ValueFromJson(j, 1);
  } catch (const std::exception& e) {
    return Status::Serialization(std::string("Could not decode the AttributeValue: ") + e.what());
  }
}

nlohmann::json AttributeValueToJson(const AttributeValue& v) { return ValueToJson(v); }

Result<Item> ItemFromJson(const nlohmann::json& j) {
  try {
    return MapFromJson(j, 1);
  } catch (const std::exception& e) {
    return Status::Serialization(std::string("Could not decode the item: ") + e.what());
  }
}

nlohmann::json ItemToJson(const Item& item) {
  json j = json::object();
  for (const auto& [name, value] : item) j[name] = ValueToJson(value);
  return j;
}

}  // namespace meridian::api
