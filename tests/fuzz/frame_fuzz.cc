// Fuzzes the native frame decoder: any bytes must decode to a request or an error, never crash,
// hang or trip a sanitizer; whatever decodes must survive a re-encode and decode unchanged.
#include <cstdint>
#include <cstdlib>

#include "proto/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  meridian::proto::DecodedRequest d = meridian::proto::DecodeRequest(bytes);
  if (d.request.ok()) {
    std::string again = meridian::proto::EncodeRequest(d.request_id, d.request.value());
    meridian::proto::DecodedRequest d2 = meridian::proto::DecodeRequest(again);
    if (!d2.request.ok() || meridian::proto::EncodeRequest(d2.request_id, d2.request.value()) != again) {
      std::abort();  // a decoded request must round-trip
    }
  }
  (void)meridian::proto::DecodeReply(bytes);
  return 0;
}
