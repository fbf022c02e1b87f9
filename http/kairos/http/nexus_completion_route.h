// Nexus's completion route on the HTTP API port, as Temporal's frontend
// serves it: the handler of an asynchronous operation started by one of
// Kairos's workflows posts the operation's outcome to the callback URL it
// was given,
//   POST /namespaces/{ns}/nexus/callback   (or /nexus/callback)
// with the callback's headers (Temporal-Callback-Token naming the caller's
// run and operation), Nexus-Operation-State (succeeded, failed, canceled),
// Nexus-Operation-Token, Nexus-Operation-Start-Time, Nexus-Link, and the
// result as content or the failure as JSON. The caller's history records
// NexusOperationCompleted, Failed or Canceled; refusals are answered with
// Temporal's statuses and messages.
#pragma once

#include <string>

#include "kairos/http/nexus_endpoint.h"

namespace kairos::http {

// Whether the request's path is the completion route's.
bool IsNexusCompletionPath(const std::string& raw_path);

// Serves one request of IsNexusCompletionPath. Authorization (when on) is
// the API CompleteNexusOperation on the token's namespace.
HttpReply ServeNexusCompletion(NexusDispatcher& dispatcher, const ApiRequest& request);

}  // namespace kairos::http
