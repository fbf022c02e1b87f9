// The --ui-port site: what Temporal's UI server answers itself (the UI's
// files, /api/v1/settings, the raw history download), and its other
// /api/v1/... calls served by the HTTP API in-process, as the UI server
// marshals them (no payload shorthand: the UI decodes payloads itself).
#pragma once

#include "kairos/http/api_handler.h"

namespace kairos::http {

HttpReply ServeUi(const ApiHandler& api, const ApiRequest& request);

// A message as Go's encoding/json writes Temporal's Go structs, which is what
// the UI server's raw history download streams: proto field names, enums and
// 64-bit integers as numbers, zero values left out, a oneof as an object named
// after it holding its set member.
std::string GoStructJson(const google::protobuf::Message& message);

}  // namespace kairos::http
