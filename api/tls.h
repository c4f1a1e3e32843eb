// TLS material for the HTTP front end: a self-signed certificate for local use
// (`--tls-self-signed`), made with OpenSSL's APIs (no shelling out to the openssl tool).
//
// Thread-safety: stateless functions.
#pragma once

#include <filesystem>

#include "storage/status.h"

namespace meridian::api {

struct TlsFiles {
  std::filesystem::path cert;  // PEM certificate (chain)
  std::filesystem::path key;   // PEM private key
};

// Writes DIR/tls/cert.pem and DIR/tls/key.pem (0600): an EC P-256 key and a certificate valid for
// 365 days for CN=localhost with subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1. Reuses the
// pair when both files already exist.
Result<TlsFiles> EnsureSelfSignedCertificate(const std::filesystem::path& dir);

}  // namespace meridian::api
