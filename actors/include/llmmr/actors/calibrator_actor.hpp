#pragma once

#include <memory>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmmr/core/prompt_library.hpp"
#include "llmmr/messages/calibration_request.hpp"
#include "llmmr/messages/record.hpp"
#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

/// Calibrates one parsed record:
/// `(calibrate_atom, calibration_request) -> calibration_verdict`.
using calibrate_atom = caf::atom_constant<caf::atom("calibrate")>;

/// Selects the records that go on to a collapse round or the reducer:
/// `(select_atom, task_profile, std::vector<record>) -> std::vector<record>`.
using select_atom = caf::atom_constant<caf::atom("select")>;

/// Asks for the rubric a profile's prompts embed:
/// `(rubric_atom, task_profile) -> std::string`.
using rubric_atom = caf::atom_constant<caf::atom("rubric")>;

/// The calibrator: the actor shell around the pure `calibrator`
/// (`core/calibration.hpp`) that owns the confidence rubric of every profile.
///
/// - `calibrate_atom, calibration_request`: normalises the score to 0-5 in
///   steps of 0.5; a truncated (`finish_reason "length"`) or unparsable output
///   gets confidence 0 with its status kept; for retrieval, an answer that
///   does not occur literally in the request's source text (and every
///   no-information record) is capped at 4.5. The verdict's `reask` is true
///   when the output is unparsable or truncated and `reasks_left > 0`.
/// - `select_atom, profile, records`: drops no-information records (judged by
///   the parsed answer field) and unparsable records; for retrieval keeps only
///   the 5-point records when any exist. Order preserved.
/// - `rubric_atom, profile`: the rubric text of the pipeline's prompt library
///   (the same text the map, collapse and reduce prompts carry as
///   `{rubric}`); empty for `summary`.
///
/// One calibrator serves a whole pipeline: it holds no per-job state (the
/// request names the profile), its work is microseconds of CPU against LLM
/// calls of seconds, and the mappers it serves are shared by every job too.
using calibrator_actor = caf::typed_actor<
  caf::replies_to<calibrate_atom,
                  calibration_request>::with<calibration_verdict>,
  caf::replies_to<select_atom, task_profile,
                  std::vector<record>>::with<std::vector<record>>,
  caf::replies_to<rubric_atom, task_profile>::with<std::string>>;

/// Spawns a calibrator whose rubrics come from `prompts`.
calibrator_actor
spawn_calibrator(caf::actor_system& sys,
                 std::shared_ptr<const prompt_library> prompts);

} // namespace llmmr
