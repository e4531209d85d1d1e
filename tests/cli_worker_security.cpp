// Integration tests of the worker links' security (issue 11, Security):
// mutual TLS through CAF's OpenSSL module with certificates made at run time
// by the `openssl` command, the loopback-only rule for plain text, the
// worker's own policy and the TLS configuration checks. Every process runs
// on 127.0.0.1 with ports chosen at run time and is killed by its destructor.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "test_support.hpp"
#include "worker_cluster.hpp"

using namespace llmmr::test;
using namespace llmmr::test::cluster;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

/// Returns the path of the `openssl` command (empty when not installed).
std::string openssl_binary() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    auto dir = dirs.substr(start, end == std::string::npos ? std::string::npos
                                                           : end - start);
    auto candidate = fs::path{dir.empty() ? "." : dir} / "openssl";
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate.string();
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  return {};
}

/// A test cluster's PKI, made with the command lines of docs/distributed.md
/// in a temporary directory: CA `ca` with certificates `worker` and `coord`,
/// and an unrelated CA `rogue` with certificate `evil`.
struct test_pki {
  temp_dir dir;
  std::string openssl = openssl_binary();

  test_pki() {
    REQUIRE_MESSAGE(!openssl.empty(), "the openssl command is not installed "
                                      "(scripts/setup.sh installs it)");
    dir.write("node.ext", "basicConstraints = CA:FALSE\n"
                          "keyUsage = digitalSignature, keyEncipherment\n"
                          "extendedKeyUsage = serverAuth, clientAuth\n");
    make_ca("ca");
    make_ca("rogue");
    make_node("worker", "ca");
    make_node("coord", "ca");
    make_node("evil", "rogue");
    // The worker's key once more, encrypted with `passphrase`.
    run({"pkey", "-in", file("worker.key"), "-aes256", "-passout",
         "pass:" + passphrase, "-out", file("worker.enc.key")});
  }

  /// The passphrase of worker.enc.key.
  std::string passphrase = "correct horse";

  std::string file(const std::string& name) const {
    return (dir.path() / name).string();
  }

  /// `--set` flags giving `node`'s certificate and key and trusting `ca`.
  std::vector<std::string> tls_set(const std::string& node,
                                   const std::string& ca) const {
    return {"--set", "workers.tls.certificate=" + file(node + ".pem"),
            "--set", "workers.tls.key=" + file(node + ".key"),
            "--set", "workers.tls.ca_file=" + file(ca + ".pem")};
  }

  /// `llmmr worker` flags giving `node`'s certificate and key and trusting
  /// `ca`.
  std::vector<std::string> tls_flags(const std::string& node,
                                     const std::string& ca) const {
    return {"--tls-cert",        file(node + ".pem"), "--tls-key",
            file(node + ".key"), "--tls-ca",          file(ca + ".pem")};
  }

private:
  void run(std::vector<std::string> args) {
    args.insert(args.begin(), openssl);
    auto r = run_command(args, {}, std::chrono::seconds{60});
    INFO("openssl: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
  }

  void make_ca(const std::string& name) {
    run({"req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         file(name + ".key"), "-out", file(name + ".pem"), "-days", "2",
         "-subj", "/CN=llmmr test " + name});
  }

  void make_node(const std::string& name, const std::string& ca) {
    run({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", file(name + ".key"), "-out", file(name + ".csr"),
         "-subj", "/CN=" + name});
    run({"x509", "-req", "-in", file(name + ".csr"), "-CA", file(ca + ".pem"),
         "-CAkey", file(ca + ".key"), "-CAcreateserial", "-out",
         file(name + ".pem"), "-days", "2", "-extfile", file("node.ext")});
  }
};

std::vector<std::string> operator+(std::vector<std::string> xs,
                                   const std::vector<std::string>& ys) {
  xs.insert(xs.end(), ys.begin(), ys.end());
  return xs;
}

/// `ask` flags mapping on `node` only.
std::vector<std::string> remote_only(const worker_sim& sim,
                                     const std::string& node) {
  return {"--endpoint",         sim.url(), "--set",
          "pipeline.mappers=0", "--set",   "workers.nodes=" + node};
}

/// Checks that `ask` could not use worker `node` and made no call.
void check_refused(const command_result& r, const std::string& node) {
  INFO("stderr: ", r.err.substr(0, 4000));
  CHECK_EQ(r.exit_code, 4);
  CHECK(r.out.empty());
  CHECK(contains(r.err, "cannot use worker " + node));
  CHECK(contains(r.err, "no worker node can be used"));
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("worker TLS: a coordinator with a certificate of the worker's CA "
            "gets the local answer") {
    test_pki pki;
    worker_sim sim;
    // The worker's key is encrypted; its passphrase comes from a variable
    // the child inherits.
    ::setenv("TEST_WORKER_KEY_PASS", pki.passphrase.c_str(), 1);
    worker_process worker{sim.url(),
                          {"--tls-cert", pki.file("worker.pem"), "--tls-key",
                           pki.file("worker.enc.key"), "--tls-ca",
                           pki.file("ca.pem"), "--set",
                           "workers.tls.passphrase_env="
                           "TEST_WORKER_KEY_PASS"}};
    auto doc = document_with_fact(31, 30, fact);
    auto local = ask({"--endpoint", sim.url()}, doc);
    auto remote
      = ask(remote_only(sim, worker.node()) + pki.tls_set("coord", "ca"), doc);
    check_complete(remote);
    INFO("local stderr: ", local.err.substr(0, 2000));
    REQUIRE_EQ(local.exit_code, 0);
    auto a = json::parse(local.out, nullptr, false);
    auto b = json::parse(remote.out, nullptr, false);
    REQUIRE_FALSE(a.is_discarded());
    CHECK_EQ(a["answer"], b["answer"]);
    CHECK_EQ(a["chunks"], b["chunks"]);
    CHECK_EQ(a["calls"]["map"], b["calls"]["map"]);
    // The worker logged who connected, and that it was over TLS.
    auto log = worker.log();
    INFO("worker log: ", log);
    CHECK(contains(log, "(TLS, coordinators need a certificate"));
    CHECK(contains(log, "worker: coordinator 127.0.0.1:"));
    CHECK(contains(log, "connected (TLS; its certificate chains to"));
  }

  TEST_CASE("worker TLS: a coordinator without a valid certificate or "
            "without TLS is refused") {
    test_pki pki;
    worker_sim sim{{"--verbose"}};
    worker_process worker{sim.url(), pki.tls_flags("worker", "ca")};
    auto doc = document_with_fact(32, 20, fact);
    SUBCASE("certificate of another CA") {
      auto r
        = ask(remote_only(sim, worker.node()) + pki.tls_set("evil", "ca"), doc);
      check_refused(r, worker.node());
      CHECK(contains(r.err, "does not chain"));
    }
    SUBCASE("a TLS client without a certificate") {
      // CAF's authenticated mode must fail the handshake of a client that
      // presents no certificate (SSL_VERIFY_FAIL_IF_NO_PEER_CERT); with one
      // from the CA the same client gets through.
      auto s_client = [&](std::vector<std::string> extra) {
        std::vector<std::string> argv{pki.openssl, "s_client",
                                      "-connect",  worker.node(),
                                      "-CAfile",   pki.file("ca.pem")};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto r = run_command(argv, {}, std::chrono::seconds{30});
        return r.out + r.err;
      };
      // In TLS 1.3 the client's side of the handshake ends before the
      // server has checked the client: -ign_eof keeps s_client reading until
      // the worker's alert arrives and it closes the connection.
      auto without = s_client({"-ign_eof"});
      INFO("s_client without a certificate: ", without);
      CHECK((contains(without, "alert certificate required")
             || contains(without, "alert handshake failure")));
      auto with = s_client(
        {"-cert", pki.file("coord.pem"), "-key", pki.file("coord.key")});
      INFO("s_client with a certificate: ", with);
      CHECK(contains(with, "Verify return code: 0 (ok)"));
      CHECK_FALSE(contains(with, "alert"));
    }
    SUBCASE("plain text") {
      auto r = ask(remote_only(sim, worker.node()), doc);
      check_refused(r, worker.node());
      CHECK(contains(r.err, "the worker may require TLS"));
    }
    auto log = worker.log();
    INFO("worker log: ", log);
    CHECK_FALSE(contains(log, "connected ("));
    // Nothing reached the endpoint.
    CHECK_FALSE(contains(sim.log(), "POST /v1/chat/completions"));
  }

  TEST_CASE("worker TLS: the coordinator refuses a worker whose certificate "
            "is not from its CA") {
    test_pki pki;
    worker_sim sim;
    // The worker trusts the coordinator's CA, but its own certificate comes
    // from the rogue CA.
    worker_process worker{sim.url(), pki.tls_flags("evil", "ca")};
    auto r = ask(remote_only(sim, worker.node()) + pki.tls_set("coord", "ca"),
                 document_with_fact(33, 20, fact));
    check_refused(r, worker.node());
    CHECK_FALSE(contains(worker.log(), "connected ("));
  }

  TEST_CASE("a worker refuses a model or max_tokens outside its policy") {
    worker_sim sim{{"--verbose"}};
    worker_process worker{
      sim.url(), {"--serve-model", "served-model", "--max-tokens", "200"}};
    auto doc = document_with_fact(34, 30, fact);
    SUBCASE("inside the policy") {
      auto r
        = ask(remote_only(sim, worker.node())
                + std::vector<std::string>{"--set", "job.model=served-model",
                                           "--set", "job.max_tokens=200"},
              doc);
      check_complete(r);
      CHECK(contains(sim.log(), "POST /v1/chat/completions"));
    }
    SUBCASE("another model") {
      auto r
        = ask(remote_only(sim, worker.node())
                + std::vector<std::string>{"--set", "job.model=other-model"},
              doc);
      INFO("stderr: ", r.err.substr(0, 4000));
      CHECK_EQ(r.exit_code, 4); // policy: an endpoint-side refusal
      CHECK(contains(r.err, "policy"));
      CHECK(contains(r.err, "worker " + worker.node()));
      CHECK(contains(r.err, "model \"other-model\" is not served here"));
      CHECK(contains(r.err, "\"served-model\""));
      CHECK(contains(worker.log(), "refused job"));
      CHECK_FALSE(contains(sim.log(), "POST /v1/chat/completions"));
    }
    SUBCASE("more max_tokens") {
      auto r = ask(remote_only(sim, worker.node())
                     + std::vector<std::string>{"--set", "job.max_tokens=300"},
                   doc);
      INFO("stderr: ", r.err.substr(0, 4000));
      CHECK_EQ(r.exit_code, 4); // policy: an endpoint-side refusal
      CHECK(contains(r.err, "worker " + worker.node()));
      CHECK(
        contains(r.err, "max_tokens 300 is above this worker's cap of 200"));
      CHECK_FALSE(contains(sim.log(), "POST /v1/chat/completions"));
    }
  }

  TEST_CASE("a worker without TLS refuses a non-loopback address before "
            "listening") {
    temp_dir dir;
    auto port_file = dir.path() / "port";
    // 192.0.2.1 (TEST-NET-1) is not an address of this host: the check must
    // refuse it before any bind is tried.
    for (const std::string host : {"192.0.2.1", "localhost.example"}) {
      auto r = run_llmmr("worker", {"--host", host, "--port", "0",
                                    "--port-file", port_file.string(),
                                    "--endpoint", "http://127.0.0.1:1/v1"});
      INFO("stderr: ", r.err);
      CHECK_EQ(r.exit_code, 2);
      CHECK(
        contains(r.err, "refusing to listen on \"" + host + "\" without TLS"));
      CHECK(contains(r.err, "--insecure"));
      CHECK_FALSE(fs::exists(port_file));
      CHECK_FALSE(contains(r.out, "listening on"));
    }
  }

  TEST_CASE("TLS settings that do not fit together name the key and file") {
    test_pki pki;
    auto run = [](std::vector<std::string> args) {
      args = std::vector<std::string>{"--port", "0", "--endpoint",
                                      "http://127.0.0.1:1/v1"}
             + args;
      return run_llmmr("worker", args);
    };
    {
      auto r = run({"--tls-cert", pki.file("worker.pem")});
      INFO("stderr: ", r.err);
      CHECK_EQ(r.exit_code, 6);
      CHECK(contains(r.err, "workers.tls.key is empty but "
                            "workers.tls.certificate is set"));
    }
    {
      auto r
        = run(pki.tls_flags("worker", "ca")
              + std::vector<std::string>{"--tls-key", pki.file("coord.key")});
      INFO("stderr: ", r.err);
      CHECK_EQ(r.exit_code, 6);
      CHECK(contains(r.err, "workers.tls.key: \"" + pki.file("coord.key")
                              + "\" does not match the certificate"));
    }
    {
      auto missing = pki.file("missing.pem");
      auto r = run(pki.tls_flags("worker", "ca")
                   + std::vector<std::string>{"--tls-ca", missing});
      INFO("stderr: ", r.err);
      CHECK_EQ(r.exit_code, 6);
      CHECK(contains(r.err, "workers.tls.ca_file"));
      CHECK(contains(r.err, "cannot read \"" + missing + "\""));
    }
    {
      // A certificate where the key should be.
      auto r
        = run(pki.tls_flags("worker", "ca")
              + std::vector<std::string>{"--tls-key", pki.file("worker.pem")});
      INFO("stderr: ", r.err);
      CHECK_EQ(r.exit_code, 6);
      CHECK(contains(r.err, "holds no usable PEM private key"));
    }
    {
      // An encrypted key without its passphrase, and with a wrong one.
      auto enc
        = std::vector<std::string>{"--tls-key", pki.file("worker.enc.key")};
      auto r = run(pki.tls_flags("worker", "ca") + enc);
      INFO("stderr: ", r.err);
      CHECK_EQ(r.exit_code, 6);
      CHECK(contains(r.err, "set workers.tls.passphrase_env"));
      ::setenv("TEST_WORKER_WRONG_PASS", "wrong", 1);
      r = run(pki.tls_flags("worker", "ca") + enc
              + std::vector<std::string>{"--set", "workers.tls.passphrase_env="
                                                  "TEST_WORKER_WRONG_PASS"});
      INFO("stderr: ", r.err);
      CHECK_EQ(r.exit_code, 6);
      CHECK(contains(r.err, "or the passphrase is wrong"));
    }
    {
      auto r
        = run(pki.tls_flags("worker", "ca")
              + std::vector<std::string>{"--set", "workers.tls.passphrase_env="
                                                  "TEST_WORKER_NO_SUCH_VAR"});
      INFO("stderr: ", r.err);
      CHECK_EQ(r.exit_code, 6);
      CHECK(contains(r.err, "TEST_WORKER_NO_SUCH_VAR is not set"));
    }
  }
}
