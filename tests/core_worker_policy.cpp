// The worker policy check and the loopback test behind `llmmr worker`'s
// refusal to listen beyond loopback without TLS.

#include <doctest/doctest.h>

#include "llmmr/core/network_address.hpp"
#include "llmmr/core/worker_policy.hpp"

using namespace llmmr;

TEST_SUITE("core") {
  TEST_CASE("worker policy: models and max_tokens") {
    worker_policy p;
    p.models = {"a", "b"};
    p.max_tokens = 500;
    job_spec spec;
    CHECK(policy_refusal(p, spec).empty()); // no model: the endpoint's own
    spec.model = "b";
    CHECK(policy_refusal(p, spec).empty());
    spec.model = "c";
    CHECK_EQ(policy_refusal(p, spec),
             "model \"c\" is not served here (this worker serves \"a\", "
             "\"b\")");
    spec.model = "a";
    spec.max_tokens = 501;
    CHECK_EQ(policy_refusal(p, spec),
             "max_tokens 501 is above this worker's cap of 500");
    spec.max_tokens = 0; // the profile's default: 300 for qa
    CHECK(policy_refusal(p, spec).empty());
    spec.profile = task_profile::summary; // 1500 by default
    CHECK(!policy_refusal(p, spec).empty());
    worker_policy none;
    spec = {};
    spec.model = "x";
    CHECK_EQ(policy_refusal(none, spec),
             "model \"x\" is not served here (this worker serves only its "
             "endpoints' model)");
  }

  TEST_CASE("loopback addresses are literal 127/8 and ::1 only") {
    for (auto x : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1"})
      CHECK_MESSAGE(is_loopback_address(x), x);
    for (auto x : {"", "0.0.0.0", "::", "192.0.2.1", "10.0.0.1", "localhost",
                   "128.0.0.1", "::2", "127.0.0.1.example", "[::1"})
      CHECK_MESSAGE(!is_loopback_address(x), x);
  }
}
