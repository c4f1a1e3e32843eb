#include "api/tls.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>

namespace meridian::api {
namespace {

struct FileCloser {
  void operator()(FILE* f) const { if (f) std::fclose(f); }
};

Status WritePem(const std::filesystem::path& path, bool private_key, EVP_PKEY* key, X509* cert) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  // 0600 before any byte is written.
  std::FILE* raw = std::fopen(tmp.c_str(), "wb");
  if (!raw) return Status::Internal("cannot write " + tmp.string());
  std::unique_ptr<FILE, FileCloser> f(raw);
  ::chmod(tmp.c_str(), 0600);
  int ok = private_key ? PEM_write_PrivateKey(f.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                       : PEM_write_X509(f.get(), cert);
  if (ok != 1 || std::fflush(f.get()) != 0) return Status::Internal("cannot write " + tmp.string());
  f.reset();
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::Internal("cannot write " + path.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

Result<TlsFiles> EnsureSelfSignedCertificate(const std::filesystem::path& dir) {
  TlsFiles files{dir / "tls" / "cert.pem", dir / "tls" / "key.pem"};
  std::error_code ec;
  if (std::filesystem::exists(files.cert, ec) && std::filesystem::exists(files.key, ec)) return files;
  std::filesystem::create_directories(dir / "tls", ec);
  if (ec) return Status::Internal("cannot create " + (dir / "tls").string() + ": " + ec.message());

  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return Status::Internal("cannot generate an EC key");
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return Status::Internal("no randomness for a serial");
  serial[0] &= 0x7f;
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(serial, sizeof serial, nullptr), BN_free);
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Meridian (self-signed)"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
                            std::pair{NID_basic_constraints, "critical,CA:FALSE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) return Status::Internal("cannot build a certificate extension");
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return Status::Internal("cannot sign the certificate");
  MERIDIAN_RETURN_IF_ERROR(WritePem(files.key, true, key.get(), nullptr));
  MERIDIAN_RETURN_IF_ERROR(WritePem(files.cert, false, nullptr, cert.get()));
  return files;
}

}  // namespace meridian::api
