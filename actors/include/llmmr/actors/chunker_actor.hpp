#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/core/chunker.hpp"
#include "llmmr/core/tokenizer.hpp"
#include "llmmr/messages/chunk_batch.hpp"

namespace llmmr {

/// Chunker to its sink: `(chunks_atom, chunk_batch)`.
using chunks_atom = caf::atom_constant<caf::atom("chunks")>;

/// Sink to chunker: chunk `(chunk_credit_atom, index)` left the window (a
/// mapper started it, or it ended before one did).
using chunk_credit_atom = caf::atom_constant<caf::atom("credit")>;

/// Where a chunker actor sends its chunks (the job coordinator).
using chunk_sink_actor
  = caf::typed_actor<caf::reacts_to<chunks_atom, chunk_batch>>;

/// The chunker of one job: the actor shell around the core `chunker` that
/// applies the chunk window.
///
/// Credit: the chunker keeps the chunks it sent and that no
/// `chunk_credit_atom` returned yet (the *outstanding* chunks, at most about
/// twice the window). It feeds held input to the core chunker only while
/// fewer than `window` chunks are outstanding, in slices sized to yield about
/// as many chunks as there is room for.
///
/// - `job_piece_atom, text`: appends `text` to the document; the answer (total
///   bytes received) is **held back** until all of the piece went into the
///   core chunker, i.e. until the window had room for it. A piece after the
///   end of the document is an `error_kind::usage` error.
/// - `job_doc_atom, text`: the whole document (or its last piece) followed by
///   its end, with nobody waiting for acks.
/// - `job_end_atom`: the document is complete; answers the number of chunks
///   once every held piece went through.
/// - `chunk_credit_atom, index`: returns the credit of chunk `index`.
///
/// Output: `(chunks_atom, chunk_batch)` to the sink whenever chunks were cut
/// or the statistics changed; the last batch has `complete` set.
///
/// Errors: when the core chunker fails (e.g. `error_kind::invalid_utf8`), the
/// actor answers every held ack and the end request with that error and
/// exits with it as its reason, so the linked coordinator learns it. An exit
/// message with a non-normal reason does the same with that reason: the
/// coordinator cancels a job by sending one.
using chunker_actor = caf::typed_actor<
  caf::replies_to<job_piece_atom, std::string>::with<uint64_t>,
  caf::reacts_to<job_doc_atom, std::string>,
  caf::replies_to<job_end_atom>::with<uint32_t>,
  caf::reacts_to<chunk_credit_atom, uint32_t>>;

/// Spawns a chunker that splits with `opts` (`opts.budget` is `B_chunk`),
/// counts with `tok`, keeps at most `window` chunks outstanding and sends its
/// batches to `sink`.
chunker_actor spawn_chunker(caf::actor_system& sys,
                            std::shared_ptr<const tokenizer> tok,
                            chunker_options opts, uint32_t window,
                            chunk_sink_actor sink);

} // namespace llmmr
