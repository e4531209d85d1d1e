#include "llmmr/actors/registration.hpp"
#include "llmmr/actors/caf_error.hpp"

#include <caf/actor_system_config.hpp>

#include "llmmr/messages/calibration_request.hpp"
#include "llmmr/messages/chain_notes.hpp"
#include "llmmr/messages/chunk.hpp"
#include "llmmr/messages/chunk_batch.hpp"
#include "llmmr/messages/collapse_progress.hpp"
#include "llmmr/messages/collapse_result.hpp"
#include "llmmr/messages/direct_text.hpp"
#include "llmmr/messages/evidence_loss.hpp"
#include "llmmr/messages/job_result.hpp"
#include "llmmr/messages/job_spec.hpp"
#include "llmmr/messages/job_stats.hpp"
#include "llmmr/messages/map_task.hpp"
#include "llmmr/messages/progress_event.hpp"
#include "llmmr/messages/record.hpp"
#include "llmmr/messages/reduce_result.hpp"
#include "llmmr/messages/strategy.hpp"
#include "llmmr/messages/structured_output.hpp"

namespace llmmr {

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<usage>("llmmr::usage");
  cfg.add_message_type<byte_range>("llmmr::byte_range");
  cfg.add_message_type<chunk>("llmmr::chunk");
  cfg.add_message_type<std::vector<chunk>>("std::vector<llmmr::chunk>");
  cfg.add_message_type<record>("llmmr::record");
  cfg.add_message_type<std::vector<record>>("std::vector<llmmr::record>");
  cfg.add_message_type<job_spec>("llmmr::job_spec");
  cfg.add_message_type<chunk_failure>("llmmr::chunk_failure");
  cfg.add_message_type<evidence>("llmmr::evidence");
  cfg.add_message_type<evidence_loss>("llmmr::evidence_loss");
  cfg.add_message_type<call_counts>("llmmr::call_counts");
  cfg.add_message_type<stage_timings>("llmmr::stage_timings");
  cfg.add_message_type<job_result>("llmmr::job_result");
  cfg.add_message_type<progress_event>("llmmr::progress_event");
  cfg.add_message_type<job_stats>("llmmr::job_stats");
  cfg.add_message_type<map_task>("llmmr::map_task");
  cfg.add_message_type<map_outcome>("llmmr::map_outcome");
  cfg.add_message_type<chunk_batch>("llmmr::chunk_batch");
  cfg.add_message_type<calibration_request>("llmmr::calibration_request");
  cfg.add_message_type<calibration_verdict>("llmmr::calibration_verdict");
  cfg.add_message_type<collapse_progress>("llmmr::collapse_progress");
  cfg.add_message_type<collapse_result>("llmmr::collapse_result");
  cfg.add_message_type<reduce_result>("llmmr::reduce_result");
  cfg.add_message_type<chain_notes>("llmmr::chain_notes");
  cfg.add_message_type<direct_text>("llmmr::direct_text");
  cfg.add_message_type<task_profile>("llmmr::task_profile");
  cfg.add_message_type<record_status>("llmmr::record_status");
  cfg.add_message_type<record_kind>("llmmr::record_kind");
  cfg.add_message_type<structured_output>("llmmr::structured_output");
  cfg.add_message_type<strategy>("llmmr::strategy");
  cfg.add_message_type<job_stage>("llmmr::job_stage");
  cfg.add_message_type<error_kind>("llmmr::error_kind");
  cfg.add_error_category(
    caf::atom("llmmr"),
    [](uint8_t code, caf::atom_value category, const caf::message& ctx) {
      return describe(caf::error{code, category, ctx});
    });
}

} // namespace llmmr
