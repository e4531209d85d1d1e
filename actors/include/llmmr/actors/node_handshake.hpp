#pragma once

#include <cstdint>
#include <string>

#include <caf/fwd.hpp>

namespace llmmr {

/// The version of the protocol between a coordinator and its worker nodes.
/// Bump it with every change of what the nodes exchange that the type names
/// do not show: a field added to, removed from or reordered in a message
/// type (CAF 0.17 serializes fields by position), or a changed meaning.
constexpr uint32_t node_protocol_version = 3;

/// Returns a fingerprint (64-bit FNV-1a) of the message types llmmr
/// registered in `sys` (see `register_types`) and of the worker node's
/// interface, so that nodes built with a different set of messages tell
/// each other apart on connect.
uint64_t node_types_fingerprint(caf::actor_system& sys);

/// Returns the problem with a peer that speaks `peer_version` with types
/// `peer_types`, naming `peer` and both sides' versions, or an empty string
/// when it matches this node.
std::string handshake_problem(caf::actor_system& sys, const std::string& peer,
                              uint32_t peer_version, uint64_t peer_types);

} // namespace llmmr
