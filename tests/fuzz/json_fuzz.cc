// Fuzzes the DynamoDB JSON request decoder: the first byte picks one of DynamoDB's operations
// (Meridian's internal ones have no JSON form and are refused by name before any body is read;
// api/json_codec_test.cc checks that), the rest is the body. Any input must give a request or a DynamoDB-shaped error, never a crash, hang or
// sanitizer report; a decoded request must encode back to JSON that decodes again.
#include <cstdint>
#include <cstdlib>

#include "api/json_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  auto op = static_cast<meridian::Operation>(1 + data[0] % meridian::kDynamoOperationCount);
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto r = meridian::api::DecodeRequest(meridian::OperationName(op), body);
  if (r.ok()) {
    nlohmann::json again = meridian::api::EncodeRequest(r.value());
    auto r2 = meridian::api::DecodeRequest(op, again);
    if (!r2.ok()) std::abort();
  } else {
    (void)meridian::api::EncodeError(r.status()).dump();
  }
  return 0;
}
