// Nexus operations on the caller's side, as state changes of one run: the
// ScheduleNexusOperation and RequestCancelNexusOperation commands and the
// events of an operation's outcome, shaped as Temporal records them. The
// engine (engine_nexus.cc) sends the requests and calls these with the answers.
#pragma once

#include <optional>
#include <string>

#include "kairos/history/commands.h"
#include "kairos/history/mutable_state.h"
#include "temporal/api/command/v1/message.pb.h"
#include "temporal/api/failure/v1/message.pb.h"

namespace kairos::history {

// The callback URL Temporal gives operations whose completion goes back
// through the server itself; the callback token travels in this header.
inline constexpr char kNexusSystemCallbackUrl[] = "temporal://system";
inline constexpr char kNexusCallbackTokenHeader[] = "Temporal-Callback-Token";
// How long one start or cancel request may wait for the handler (Temporal's
// default request timeout).
inline constexpr int64_t kNexusRequestTimeoutMs = 10'000;

// A standalone Nexus operation (StartNexusOperationExecution) is carried by
// a hidden run keyed by the operation id under its namespace's id with this
// suffix: workflow lists and ids never meet it, and the operation's steps
// are those of a workflow's operation (its scheduled event id is 1).
inline constexpr char kStandaloneNexusSuffix[] = "/nexus-operations";
inline std::string StandaloneNexusNamespaceId(const std::string& namespace_id) {
  return namespace_id + kStandaloneNexusSuffix;
}
inline bool IsStandaloneNexusNamespaceId(const std::string& id) {
  const std::string suffix = kStandaloneNexusSuffix;
  return id.size() > suffix.size() && id.compare(id.size() - suffix.size(), suffix.size(), suffix) == 0;
}
// The link to a standalone operation that its start request carries.
std::string NexusOperationLinkUrl(const std::string& ns, const std::string& operation_id, const std::string& run_id);

std::optional<CommandError> ScheduleNexusOperation(MutableState& ms,
                                                   const temporal::api::command::v1::ScheduleNexusOperationCommandAttributes& a);
std::optional<CommandError> RequestCancelNexusOperation(
    MutableState& ms, const temporal::api::command::v1::RequestCancelNexusOperationCommandAttributes& a);

// The failure Temporal puts on the Failed/Canceled/TimedOut events: "nexus
// operation completed unsuccessfully" with the operation named, `cause` inside.
temporal::api::failure::v1::Failure NexusOperationFailure(const records::NexusOperationInfo& op,
                                                          temporal::api::failure::v1::Failure cause);
// Whether a handler error (NexusHandlerFailureInfo) may be retried.
// Sets an operation's token on a message that also carries it under its
// deprecated name, operation_id, which older SDKs still read.
template <class Message>
void SetOperationToken(Message* m, const std::string& token) {
  m->set_operation_token(token);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  m->set_operation_id(token);
#pragma GCC diagnostic pop
}

bool NexusHandlerErrorRetryable(const temporal::api::failure::v1::Failure& handler_failure);

// Outcomes; each ends the operation (but Started) and schedules a workflow task.
void RecordNexusStarted(MutableState& ms, records::NexusOperationInfo& op, const std::string& token,
                        const google::protobuf::RepeatedPtrField<temporal::api::common::v1::Link>& links);
void RecordNexusCompleted(MutableState& ms, int64_t scheduled_event_id, const temporal::api::common::v1::Payload* result,
                          const google::protobuf::RepeatedPtrField<temporal::api::common::v1::Link>* links = nullptr);
enum class NexusEnd { kFailed, kCanceled, kTimedOut };
void RecordNexusEnded(MutableState& ms, int64_t scheduled_event_id, NexusEnd end,
                      temporal::api::failure::v1::Failure cause);
// RecordNexusEnded with Temporal's "operation timed out" of that type.
void RecordNexusTimedOut(MutableState& ms, int64_t scheduled_event_id, temporal::api::enums::v1::TimeoutType type);
// Ends a standalone operation now (terminate, delete): its carrier closes
// with a terminated failure (message: the reason) as the outcome; the
// handler is not told.
void TerminateStandaloneNexus(MutableState& ms, const std::string& reason);
// A start request failed in a way worth retrying: the next attempt after a backoff.
void RetryNexusStart(MutableState& ms, records::NexusOperationInfo& op, temporal::api::failure::v1::Failure failure);
// An operation rebuilt from history (a reset run's): its start request
// again (same request id) or, once started, its pending cancel request; its
// timeouts at their first deadlines (start-to-close from `started_time_nanos`).
void RearmNexusSteps(MutableState& ms, records::NexusOperationInfo& op, int64_t started_time_nanos);
// The cancel request of a started operation goes to the handler now (a
// NEXUS_CANCEL step); a retryable failure of it backs off as the start does.
void ScheduleNexusCancel(MutableState& ms, records::NexusOperationInfo& op);
void RetryNexusCancel(MutableState& ms, records::NexusOperationInfo& op, temporal::api::failure::v1::Failure failure);
void RecordNexusCancelRequestOutcome(MutableState& ms, records::NexusOperationInfo& op,
                                     const temporal::api::failure::v1::Failure* failure);

// The Nexus link (URL) to a workflow event named by the request that made it.
std::string NexusRequestIdLinkUrl(const std::string& ns, const std::string& workflow_id, const std::string& run_id,
                                  const std::string& request_id, const std::string& event_type);
// The link (Nexus form) from a caller's operation to its scheduled event, and
// back from a Nexus link to a workflow event link (empty when not one).
std::string NexusWorkflowEventLinkUrl(const std::string& ns, const std::string& workflow_id, const std::string& run_id,
                                      int64_t event_id, const std::string& event_type);
std::optional<temporal::api::common::v1::Link> WorkflowEventLinkFromUrl(const std::string& url);

// The links Temporal answers a start or a signal with (a Nexus handler hands
// them back to the caller): to a run's started event (always event 1), or to
// the event a request id made, whose id is not known yet (a buffered signal).
temporal::api::common::v1::Link StartedEventLink(const std::string& ns, const std::string& workflow_id,
                                                 const std::string& run_id);
temporal::api::common::v1::Link RequestIdLink(const std::string& ns, const std::string& workflow_id,
                                              const std::string& run_id, const std::string& request_id,
                                              temporal::api::enums::v1::EventType event_type);

std::string HexEncode(const std::string& bytes);
std::string HexDecode(const std::string& hex);

}  // namespace kairos::history
