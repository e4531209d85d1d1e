#include "llmmr/actors/node_handshake.hpp"

#include <algorithm>
#include <cstdio>
#include <string_view>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "llmmr/actors/worker_actor.hpp"

namespace llmmr {

namespace {

void fnv1a(uint64_t& h, std::string_view text) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= 0xff; // separator: "ab","c" differs from "a","bc"
  h *= 1099511628211ull;
}

std::string hex(uint64_t x) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(x));
  return buf;
}

} // namespace

uint64_t node_types_fingerprint(caf::actor_system& sys) {
  // Only llmmr's own types: CAF modules loaded on one side only (such as the
  // OpenSSL manager) must not change it.
  std::vector<std::string> names;
  for (const auto& kv : sys.config().value_factories_by_name)
    if (kv.first.find("llmmr::") != std::string::npos)
      names.push_back(kv.first);
  std::sort(names.begin(), names.end());
  uint64_t h = 14695981039346656037ull;
  for (const auto& name : names)
    fnv1a(h, name);
  for (const auto& sig : sys.message_types<worker_node_actor>())
    fnv1a(h, sig);
  return h;
}

std::string handshake_problem(caf::actor_system& sys, const std::string& peer,
                              uint32_t peer_version, uint64_t peer_types) {
  auto own_types = node_types_fingerprint(sys);
  if (peer_version == node_protocol_version && peer_types == own_types)
    return {};
  return "protocol mismatch with " + peer + ": it speaks llmmr node protocol "
         + std::to_string(peer_version) + " (message types " + hex(peer_types)
         + "), this node " + std::to_string(node_protocol_version)
         + " (message types " + hex(own_types)
         + "); run the same llmmr version on every node";
}

} // namespace llmmr
