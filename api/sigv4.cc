#include "api/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

namespace meridian::api {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Trims and collapses runs of spaces into one, as the canonical headers require.
std::string CanonicalHeaderValue(std::string_view v) {
  v = Trim(v);
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

bool Unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (Unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string UriDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() &&
        std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string k = UriDecode(part.substr(0, eq));
    std::string v = eq == std::string_view::npos ? "" : UriDecode(part.substr(eq + 1));
    params.emplace_back(UriEncode(k, false), UriEncode(v, false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += k + "=" + v;
  }
  return out;
}

std::string SigningKey(std::string_view secret, std::string_view date, std::string_view region,
                       std::string_view service) {
  std::string k = HmacSha256("AWS4" + std::string(secret), date);
  k = HmacSha256(k, region);
  k = HmacSha256(k, service);
  return HmacSha256(k, "aws4_request");
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string s(kAlgorithm);
  s += "\n";
  s += amz_date;
  s += "\n";
  s += scope;
  s += "\n";
  s += Sha256Hex(canonical_request);
  return s;
}

Status Invalid(std::string message) { return Status(ErrorCode::kInvalidSignature, std::move(message)); }
// A malformed or incomplete Authorization header: DynamoDB's IncompleteSignatureException.
Status Incomplete(std::string message) { return Status(ErrorCode::kIncompleteSignature, std::move(message)); }

// All values of a header (by lower-case name), in order.
std::vector<std::string_view> HeaderValues(const SignableRequest& r, std::string_view lower_name) {
  std::vector<std::string_view> out;
  for (const auto& [name, value] : r.headers) {
    if (name.size() == lower_name.size() && Lower(name) == lower_name) out.push_back(value);
  }
  return out;
}

}  // namespace

std::string HexEncode(std::string_view bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::optional<int64_t> ParseAmzDate(std::string_view d) {
  if (d.size() != 16 || d[8] != 'T' || d[15] != 'Z') return std::nullopt;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !std::isdigit(static_cast<unsigned char>(d[i]))) return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len) { return std::stoi(std::string(d.substr(pos, len))); };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&tm));
}

std::string FormatAmzDate(int64_t epoch_seconds) {
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Result<std::string> CanonicalRequest(const SignableRequest& r,
                                     const std::vector<std::string>& signed_headers) {
  std::string_view target = r.target;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (path.empty()) path = "/";

  std::string out = r.method + "\n" + UriEncode(path, true) + "\n" + CanonicalQuery(query) + "\n";
  for (const std::string& name : signed_headers) {
    std::vector<std::string_view> values = HeaderValues(r, name);
    if (values.empty()) return Invalid("The request signature we calculated does not match the signature you provided. Signed header '" + name + "' is not in the request.");
    out += name + ":";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) out += ",";
      out += CanonicalHeaderValue(values[i]);
    }
    out += "\n";
  }
  out += "\n";
  for (size_t i = 0; i < signed_headers.size(); ++i) {
    if (i) out += ";";
    out += signed_headers[i];
  }
  out += "\n" + Sha256Hex(r.body);
  return out;
}

Result<VerifiedIdentity> VerifySigV4(const SignableRequest& r, const SecretLookup& secrets,
                                     int64_t now, const SigV4Options& options) {
  std::vector<std::string_view> auth = HeaderValues(r, "authorization");
  if (auth.empty()) {
    return Status(ErrorCode::kMissingAuthenticationToken, "Request is missing Authentication Token");
  }
  if (auth.size() > 1) return Incomplete("Only one Authorization header is allowed.");
  std::string_view header = Trim(auth[0]);
  if (header.substr(0, kAlgorithm.size()) != kAlgorithm ||
      (header.size() > kAlgorithm.size() && header[kAlgorithm.size()] != ' ')) {
    return Incomplete("Unsupported authorization type; only AWS4-HMAC-SHA256 is accepted.");
  }
  header.remove_prefix(kAlgorithm.size());
  std::map<std::string, std::string> parts;
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view part = Trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) return Incomplete("Malformed Authorization header: '" + std::string(part) + "'");
    parts[std::string(part.substr(0, eq))] = std::string(part.substr(eq + 1));
  }
  for (const char* required : {"Credential", "SignedHeaders", "Signature"}) {
    if (!parts.count(required)) {
      return Incomplete(std::string("Authorization header requires '") + required + "' parameter.");
    }
  }
  // Credential = KEY/DATE/REGION/SERVICE/aws4_request
  std::vector<std::string> cred;
  {
    std::string_view c = parts["Credential"];
    while (true) {
      size_t slash = c.find('/');
      cred.emplace_back(c.substr(0, slash));
      if (slash == std::string_view::npos) break;
      c.remove_prefix(slash + 1);
    }
  }
  if (cred.size() != 5 || cred[0].empty() || cred[4] != "aws4_request") {
    return Invalid("Credential should be scoped to a valid region, not '" + parts["Credential"] + "'.");
  }
  if (cred[3] != options.service) {
    return Invalid("Credential should be scoped to correct service: '" + options.service + "'.");
  }
  if (!options.region.empty() && cred[2] != options.region) {
    return Invalid("Credential should be scoped to a valid region, not '" + cred[2] + "'. This node serves '" + options.region + "'.");
  }

  std::vector<std::string_view> dates = HeaderValues(r, "x-amz-date");
  if (dates.size() != 1) {
    return Incomplete("Authorization header requires existence of exactly one X-Amz-Date header.");
  }
  std::string amz_date(Trim(dates[0]));
  std::optional<int64_t> signed_at = ParseAmzDate(amz_date);
  if (!signed_at) return Incomplete("X-Amz-Date must be in the ISO8601 basic format (YYYYMMDD'T'HHMMSS'Z'), not '" + amz_date + "'.");
  if (cred[1] != amz_date.substr(0, 8)) {
    return Invalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" + cred[1] + "' != '" + amz_date.substr(0, 8) + "'.");
  }
  if (*signed_at < now - options.max_skew_seconds) {
    return Invalid("Signature expired: " + amz_date + " is now earlier than " +
                   FormatAmzDate(now - options.max_skew_seconds) + " (" + FormatAmzDate(now) + " - " +
                   std::to_string(options.max_skew_seconds / 60) + " min.)");
  }
  if (*signed_at > now + options.max_skew_seconds) {
    return Invalid("Signature not yet current: " + amz_date + " is still later than " +
                   FormatAmzDate(now + options.max_skew_seconds) + " (" + FormatAmzDate(now) + " + " +
                   std::to_string(options.max_skew_seconds / 60) + " min.)");
  }

  std::vector<std::string> signed_headers;
  {
    std::string_view s = parts["SignedHeaders"];
    while (!s.empty()) {
      size_t semi = s.find(';');
      signed_headers.push_back(Lower(s.substr(0, semi)));
      s = semi == std::string_view::npos ? std::string_view() : s.substr(semi + 1);
    }
  }
  if (!std::is_sorted(signed_headers.begin(), signed_headers.end())) {
    return Invalid("SignedHeaders must be sorted.");
  }
  for (const char* required : {"host", "x-amz-date"}) {
    if (std::find(signed_headers.begin(), signed_headers.end(), required) == signed_headers.end()) {
      return Invalid(std::string("'") + required + "' must be a 'SignedHeader' in the AWS Authorization.");
    }
  }

  std::optional<std::string> secret = secrets(cred[0]);
  if (!secret) {
    return Status(ErrorCode::kUnrecognizedClient, "The security token included in the request is invalid.");
  }
  Result<std::string> canonical = CanonicalRequest(r, signed_headers);
  if (!canonical.ok()) return canonical.status();
  std::string scope = cred[1] + "/" + cred[2] + "/" + cred[3] + "/aws4_request";
  std::string expected =
      HexEncode(HmacSha256(SigningKey(*secret, cred[1], cred[2], cred[3]),
                           StringToSign(amz_date, scope, canonical.value())));
  const std::string& given = parts["Signature"];
  if (given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return Invalid(
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method. Consult the service documentation for "
        "details.");
  }
  return VerifiedIdentity{cred[0], cred[2]};
}

void SignSigV4(SignableRequest* r, std::string_view access_key_id, std::string_view secret,
               std::string_view region, std::string_view service, int64_t epoch_seconds) {
  std::string amz_date = FormatAmzDate(epoch_seconds);
  r->headers.emplace_back("X-Amz-Date", amz_date);
  std::vector<std::string> names;
  for (const auto& [name, value] : r->headers) names.push_back(Lower(name));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string date = amz_date.substr(0, 8);
  std::string scope = date + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  Result<std::string> canonical = CanonicalRequest(*r, names);
  assert(canonical.ok());
  std::string signature = HexEncode(HmacSha256(SigningKey(secret, date, region, service),
                                               StringToSign(amz_date, scope, canonical.value())));
  std::string signed_headers;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) signed_headers += ";";
    signed_headers += names[i];
  }
  r->headers.emplace_back("Authorization", std::string(kAlgorithm) + " Credential=" +
                                               std::string(access_key_id) + "/" + scope +
                                               ", SignedHeaders=" + signed_headers +
                                               ", Signature=" + signature);
}

}  // namespace meridian::api
