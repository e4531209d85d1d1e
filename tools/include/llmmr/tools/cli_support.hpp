#pragma once

// Everything the job-running subcommands share, one header per concern:
// backend set-up, pipeline options, settings layers, logging, streamed jobs
// and result reports.

#include "llmmr/tools/args.hpp"
#include "llmmr/tools/backend_setup.hpp"
#include "llmmr/tools/command_settings.hpp"
#include "llmmr/tools/human_format.hpp"
#include "llmmr/tools/job_report.hpp"
#include "llmmr/tools/logging_setup.hpp"
#include "llmmr/tools/pipeline_settings.hpp"
#include "llmmr/tools/streamed_job.hpp"
