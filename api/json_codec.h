// The one mapping between DynamoDB's JSON protocol (the bodies of `X-Amz-Target:
// DynamoDB_20120810.<Operation>` requests and their answers) and Meridian's internal request and
// response types (storage/operations.h). Used by `meridian call OPERATION 'JSON'` and by the HTTP
// front end, so every shape here is DynamoDB's own
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/).
//
// JSON library: nlohmann-json. It is header-only and packaged in Debian (no vendored code), it
// refuses ill-formed UTF-8 both when parsing and when dumping (so a bad string never leaves the
// process silently altered), and `nlohmann::json` is a plain value type that is easy to build and
// compare in tests. Its parser is iterative and its destructor too, so deep input cannot overflow
// the stack before the depth checks below see it. Its number handling (doubles) never touches
// item data: DynamoDB sends N values as JSON strings, which go straight to Decimal::Parse.
//
// Errors follow DynamoDB: a member of the wrong JSON type, malformed JSON, an unknown
// AttributeValue tag or bad base64 is a SerializationException; a value outside an enum, a bad
// number, an empty or multi-typed AttributeValue, nesting past kMaxNestingDepth, a missing required
// member or a member of a feature Meridian does not have yet (ConditionExpression, ...) is a
// ValidationException. Unknown members are ignored, as DynamoDB ignores them, and a JSON null is
// taken as an absent member. Checks that the native protocol needs as well (table name syntax,
// Limit ranges, set emptiness and duplicates, key shapes) are the engine's, not repeated here.
//
// Global tables (version 2019.11.21): UpdateTable carries ReplicaUpdates, each entry exactly one
// of {"Create":{"RegionName":..}} and {"Delete":{"RegionName":..}}; DynamoDB's third action,
// Update (per-replica settings), is refused with a ValidationException, as is any other member
// of an entry, and so are per-replica options inside Create (KMSMasterKeyId, overrides). Every
// TableDescription of a table with replicas lists them ("Replicas": [{"RegionName",
// "ReplicaStatus"}], this region included) with "GlobalTableVersion": "2019.11.21".
//
// Meridian's internal operations (Operation::kReplication*: the replicator's view of its own
// region) have no JSON form. They travel only over the native protocol (msgpack), so a JSON
// caller cannot tell them from an operation that does not exist: DecodeRequest and
// DecodeResponse answer them with the UnknownOperationException an unknown name gets, and
// EncodeRequest / EncodeResponse give {} for them.
//
// Every Decode* function is total: it returns a Status on any input and throws nothing.
// The Encode* functions return JSON values; dumping one throws nlohmann::json::type_error if an S
// value holds ill-formed UTF-8 (possible only for values that came in over the native protocol),
// so a caller that dumps must either catch it or dump with error_handler_t::replace.
//
// Thread-safety: stateless functions.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "storage/attribute_value.h"
#include "storage/operations.h"
#include "storage/status.h"

namespace meridian::api {

// Whether `op` is one of DynamoDB's operations, which have a JSON form (the first
// kDynamoOperationCount); false for Meridian's internal ones and for numbers outside the enum.
bool IsDynamoOperation(Operation op);

// Parses `body_json` as the body of `operation_name` ("PutItem", ...). UnknownOperationException
// for an operation Meridian does not serve over JSON (an internal one included);
// SerializationException for malformed JSON or a body that is not a JSON object; otherwise as the
// overload below.
Result<Request> DecodeRequest(std::string_view operation_name, std::string_view body_json);
Result<Request> DecodeRequest(Operation op, const nlohmann::json& body);

// The body DynamoDB sends for a successful call.
nlohmann::json EncodeResponse(const Response& response);

// {"__type": ErrorTypeString(code), "message": "..."}. DynamoDB itself spells the key "Message"
// for a few errors; clients accept both, and one spelling keeps ours predictable.
nlohmann::json EncodeError(const Status& status);
// The reverse: a Status from an error body (`__type` and `message` or `Message`).
Status ErrorFromJson(const nlohmann::json& body);

// The reverse directions, for the CLI's round trips and for tests. EncodeRequest omits members
// that hold their default; DecodeResponse is as strict about types as DecodeRequest.
nlohmann::json EncodeRequest(const Request& request);
Result<Response> DecodeResponse(Operation op, const nlohmann::json& body);

// One AttributeValue ({"S": "x"}, {"N": "1.5"}, ...). Values nested deeper than kMaxNestingDepth
// (a top-level attribute is depth 1) are refused without descending further.
Result<AttributeValue> AttributeValueFromJson(const nlohmann::json& j);
nlohmann::json AttributeValueToJson(const AttributeValue& v);
// An item: {"name": AttributeValue, ...}.
Result<Item> ItemFromJson(const nlohmann::json& j);
nlohmann::json ItemToJson(const Item& item);

}  // namespace meridian::api
