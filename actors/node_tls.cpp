// Mutual TLS between nodes with CAF's OpenSSL module. CAF loads the files
// itself when it makes a session's context and raises an exception on a file
// it cannot use, inside the multiplexer: the files are checked here first so
// that a bad file is a configuration error naming it, not a crash.

#include "llmmr/actors/node_tls.hpp"

#include <cstdio>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/openssl/manager.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

/// OpenSSL's queued errors as text; "unknown reason" when there are none.
std::string ssl_reason() {
  std::string out;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    out += (out.empty() ? "" : "; ") + std::string{buf};
  }
  return out.empty() ? "unknown reason" : out;
}

struct file_closer {
  void operator()(FILE* f) const noexcept { std::fclose(f); }
};

using file_ptr = std::unique_ptr<FILE, file_closer>;

error bad(const char* key, const std::string& path, const std::string& what) {
  return make_error(error_kind::config,
                    std::string{key} + ": \"" + path + "\" " + what);
}

file_ptr open_file(const std::string& path) {
  return file_ptr{std::fopen(path.c_str(), "r")};
}

/// Hands the passphrase to OpenSSL; an empty one fails the read of an
/// encrypted key instead of prompting on the terminal.
int passphrase_cb(char* buf, int size, int, void* user) {
  const auto& pass = *static_cast<const std::string*>(user);
  if (pass.empty() || static_cast<int>(pass.size()) >= size)
    return 0;
  pass.copy(buf, pass.size());
  return static_cast<int>(pass.size());
}

} // namespace

error check_node_tls(const node_tls_settings& tls) {
  if (!tls.enabled())
    return {};
  ERR_clear_error();
  auto cf = open_file(tls.certificate);
  if (!cf)
    return bad("workers.tls.certificate", tls.certificate, "cannot be read");
  std::unique_ptr<X509, decltype(&X509_free)> cert{
    PEM_read_X509(cf.get(), nullptr, nullptr, nullptr), X509_free};
  if (!cert)
    return bad("workers.tls.certificate", tls.certificate,
               "holds no PEM certificate: " + ssl_reason());
  auto kf = open_file(tls.key);
  if (!kf)
    return bad("workers.tls.key", tls.key, "cannot be read");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{
    PEM_read_PrivateKey(kf.get(), nullptr, passphrase_cb,
                        const_cast<std::string*>(&tls.passphrase)),
    EVP_PKEY_free};
  if (!key)
    return bad("workers.tls.key", tls.key,
               std::string{"holds no usable PEM private key"}
                 + (tls.passphrase.empty()
                      ? " (if it is encrypted, set workers.tls.passphrase_env)"
                      : " (or the passphrase is wrong)")
                 + ": " + ssl_reason());
  if (X509_check_private_key(cert.get(), key.get()) != 1)
    return bad("workers.tls.key", tls.key,
               "does not match the certificate \"" + tls.certificate
                 + "\": " + ssl_reason());
  auto af = open_file(tls.ca_file);
  if (!af)
    return bad("workers.tls.ca_file", tls.ca_file, "cannot be read");
  size_t cas = 0;
  while (auto ca = PEM_read_X509(af.get(), nullptr, nullptr, nullptr)) {
    X509_free(ca);
    ++cas;
  }
  ERR_clear_error(); // the end of the file reads as an error
  if (cas == 0)
    return bad("workers.tls.ca_file", tls.ca_file,
               "holds no PEM CA certificate");
  return {};
}

error configure_node_tls(caf::actor_system_config& cfg,
                         const node_tls_settings& tls) {
  if (auto err = check_node_tls(tls))
    return err;
  if (!tls.enabled())
    return {};
  // Any of these options turns on CAF's authenticated mode: every session
  // asks for the peer's certificate (SSL_VERIFY_PEER and
  // SSL_VERIFY_FAIL_IF_NO_PEER_CERT) and checks it against the CA file.
  cfg.openssl_certificate = tls.certificate;
  cfg.openssl_key = tls.key;
  cfg.openssl_passphrase = tls.passphrase;
  cfg.openssl_cafile = tls.ca_file;
  cfg.openssl_capath.clear();
  cfg.load<caf::openssl::manager>();
  return {};
}

bool uses_node_tls(caf::actor_system& sys) {
  return sys.has_openssl_manager();
}

} // namespace llmmr
