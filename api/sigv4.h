// AWS Signature Version 4: verifying the signed HTTP requests the AWS CLI, boto3 and the AWS SDKs
// send to DynamoDB, and signing requests the same way (the benchmark, tests and tools).
//
// Follows "Signature Version 4 signing process" of the AWS General Reference
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
//   canonical request = METHOD \n URI \n QUERY \n HEADERS \n SIGNED_HEADERS \n hex(SHA256(body))
//   string to sign    = "AWS4-HMAC-SHA256" \n X-Amz-Date \n SCOPE \n hex(SHA256(canonical request))
//   SCOPE             = DATE/REGION/SERVICE/aws4_request
//   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, DATE), REGION), SERVICE), "aws4_request")
// HMAC-SHA256 and SHA-256 come from OpenSSL. The signature comparison is constant time.
//
// Errors are DynamoDB's: no Authorization header is MissingAuthenticationTokenException; an
// unknown access key id UnrecognizedClientException; a malformed header, a wrong signature, a
// missing signed Host or X-Amz-Date, a wrong service, or a date outside the skew window
// InvalidSignatureException (with DynamoDB's "Signature expired: ..." wording for old dates).
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/status.h"

namespace meridian::api {

// The parts of an HTTP request that SigV4 covers. Header names as received (any case); a header
// that appears twice appears twice here.
struct SignableRequest {
  std::string method = "POST";
  std::string target = "/";  // path and query, as on the request line
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
};

struct SigV4Options {
  std::string service = "dynamodb";
  // Empty: any region name is accepted (a single node, as DynamoDB Local does). Otherwise the
  // credential scope must name this region.
  std::string region;
  // Largest accepted difference between X-Amz-Date and the server clock (AWS uses 15 minutes).
  int64_t max_skew_seconds = 15 * 60;
};

// Looks up the secret of an access key id; nullopt when the key is unknown.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

struct VerifiedIdentity {
  std::string access_key_id;
  std::string region;  // from the credential scope
};

// Verifies `request` at server time `now_epoch_seconds`. Returns who signed it, or the error
// DynamoDB would send.
Result<VerifiedIdentity> VerifySigV4(const SignableRequest& request, const SecretLookup& secrets,
                                     int64_t now_epoch_seconds, const SigV4Options& options = {});

// Adds X-Amz-Date and Authorization to `request->headers` (after any headers already there, all
// of which are signed; Host must be among them). `epoch_seconds` is the signing time.
void SignSigV4(SignableRequest* request, std::string_view access_key_id, std::string_view secret,
               std::string_view region, std::string_view service, int64_t epoch_seconds);

// Building blocks, exposed for tests.
std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string HexEncode(std::string_view bytes);
// "20150830T123600Z" <-> epoch seconds; nullopt if malformed.
std::optional<int64_t> ParseAmzDate(std::string_view amz_date);
std::string FormatAmzDate(int64_t epoch_seconds);
// The canonical request and string to sign, as the verifier computes them (for debugging and
// the AWS test-suite vectors).
Result<std::string> CanonicalRequest(const SignableRequest& request,
                                     const std::vector<std::string>& signed_headers);

}  // namespace meridian::api
