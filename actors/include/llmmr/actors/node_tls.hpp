#pragma once

#include <caf/fwd.hpp>

#include "llmmr/config/settings.hpp"
#include "llmmr/messages/error.hpp"

namespace llmmr {

/// Checks the files of `tls` with OpenSSL before CAF's OpenSSL module uses
/// them (it aborts the process on a file it cannot load): the certificate
/// parses, the key parses (with `tls.passphrase` when set) and matches the
/// certificate, and the CA file holds at least one certificate. Fails with
/// `error_kind::config` naming the key (`workers.tls.*`), the file and
/// OpenSSL's reason. Does nothing when TLS is off.
error check_node_tls(const node_tls_settings& tls);

/// Checks `tls` (see `check_node_tls`) and, when it is on, makes `cfg` load
/// CAF's OpenSSL module with its certificate, key, passphrase and CA file,
/// so that peers must present a certificate chaining to that CA and are
/// refused otherwise. Call before the actor system starts.
error configure_node_tls(caf::actor_system_config& cfg,
                         const node_tls_settings& tls);

/// Returns whether the links to other nodes of `sys` use TLS (CAF's OpenSSL
/// module is loaded).
bool uses_node_tls(caf::actor_system& sys);

} // namespace llmmr
