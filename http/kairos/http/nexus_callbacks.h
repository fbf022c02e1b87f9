// Posts a Nexus completion to its caller's callback URL (http or https), as
// Temporal's history does for a handler run started with one.
#pragma once

#include "kairos/nexus/completion.h"

namespace kairos::http {

// Blocks for at most about 10 s. Answers as nexus::CompletionSender says:
// UNAVAILABLE for a network error, a 408, 429 or 5xx answer; FAILED_PRECONDITION
// for another refusal.
grpc::Status PostNexusCompletion(const nexus::Completion& completion);

}  // namespace kairos::http
