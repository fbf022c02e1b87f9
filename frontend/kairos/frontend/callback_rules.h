// Temporal's checks of the completion callbacks a request attaches to a run
// (a Nexus operation's handler run, an update): how many, how long a URL,
// how large the headers, and which addresses a callback may go to. Only
// Temporal's own "temporal://system" and the addresses of the dynamic config
// value callback.allowedAddresses (a JSON list of {"Pattern": "host:port
// with * wildcards", "AllowInsecure": bool}; none by default, as on
// Temporal) are allowed.
#pragma once

#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/repeated_ptr_field.h>
#include <grpcpp/support/status.h>

#include "temporal/api/common/v1/message.pb.h"

namespace kairos::frontend {

class CallbackRules {
 public:
  // Reads callback.allowedAddresses (the last value given; an unreadable
  // value or pattern is skipped, as Temporal skips it) and the limits
  // frontend.callbackURLMaxLength, frontend.callbackHeaderMaxLength and
  // system.maxCallbacksPerWorkflow.
  static CallbackRules FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values);

  // INVALID_ARGUMENT with Temporal's message when a callback is refused.
  // Header names are lower-cased in place, as Temporal stores them.
  grpc::Status Validate(google::protobuf::RepeatedPtrField<temporal::api::common::v1::Callback>* callbacks) const;

 private:
  struct Rule {
    std::regex host;
    bool allow_insecure = false;
  };
  grpc::Status ValidateUrl(const std::string& url) const;

  std::vector<Rule> rules_;
  int max_callbacks_ = 32;
  size_t url_max_length_ = 1000;
  size_t header_max_size_ = 8 * 1024;
};

}  // namespace kairos::frontend
