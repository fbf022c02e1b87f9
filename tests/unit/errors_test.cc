// Tests of the Temporal-shaped gRPC errors: codes, messages, and the binary
// google.rpc.Status detail carrying the typed errordetails failure.
#include <string>

#include <catch2/catch.hpp>

#include "kairos/errors.h"
#include "kairos/rpc_status.pb.h"
#include "temporal/api/errordetails/v1/message.pb.h"

namespace errors = kairos::errors;
namespace ed = temporal::api::errordetails::v1;

namespace {

// Parses the status's binary details; checks they mirror its code/message.
kairos::records::RpcStatus Details(const grpc::Status& st) {
  kairos::records::RpcStatus rpc;
  REQUIRE_FALSE(st.error_details().empty());
  REQUIRE(rpc.ParseFromString(st.error_details()));
  CHECK(rpc.code() == static_cast<int>(st.error_code()));
  CHECK(rpc.message() == st.error_message());
  return rpc;
}

}  // namespace

TEST_CASE("errors: WorkflowAlreadyStarted carries run id and start request id", "[errors]") {
  grpc::Status st = errors::WorkflowAlreadyStarted("Workflow execution is already running", "req-123", "run-456");
  CHECK(st.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(st.error_message() == "Workflow execution is already running");
  auto rpc = Details(st);
  REQUIRE(rpc.details_size() == 1);
  CHECK(rpc.details(0).type_url() ==
        "type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure");
  ed::WorkflowExecutionAlreadyStartedFailure d;
  REQUIRE(rpc.details(0).UnpackTo(&d));
  CHECK(d.start_request_id() == "req-123");
  CHECK(d.run_id() == "run-456");
}

TEST_CASE("errors: Unimplemented names the RPC", "[errors]") {
  grpc::Status st = errors::Unimplemented("ResetWorkflowExecution");
  CHECK(st.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK_THAT(st.error_message(), Catch::Contains("ResetWorkflowExecution"));
}

TEST_CASE("errors: NamespaceNotFound and NamespaceAlreadyExists details", "[errors]") {
  grpc::Status nf = errors::NamespaceNotFound("missing-ns");
  CHECK(nf.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(nf.error_message(), Catch::Contains("missing-ns"));
  auto rpc = Details(nf);
  REQUIRE(rpc.details_size() == 1);
  ed::NamespaceNotFoundFailure d;
  REQUIRE(rpc.details(0).UnpackTo(&d));
  CHECK(d.namespace_() == "missing-ns");

  grpc::Status ae = errors::NamespaceAlreadyExists("dup");
  CHECK(ae.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  auto rpc2 = Details(ae);
  REQUIRE(rpc2.details_size() == 1);
  CHECK(rpc2.details(0).Is<ed::NamespaceAlreadyExistsFailure>());
}

TEST_CASE("errors: typed details of the other errors", "[errors]") {
  {
    grpc::Status st = errors::NotFound("workflow not found");
    CHECK(st.error_code() == grpc::StatusCode::NOT_FOUND);
    auto rpc = Details(st);
    REQUIRE(rpc.details_size() == 1);
    CHECK(rpc.details(0).Is<ed::NotFoundFailure>());
  }
  {
    grpc::Status st = errors::QueryFailed("query broke");
    CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    auto rpc = Details(st);
    REQUIRE(rpc.details_size() == 1);
    CHECK(rpc.details(0).Is<ed::QueryFailedFailure>());
  }
  {
    grpc::Status st = errors::ResourceExhausted("slow down");
    CHECK(st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    auto rpc = Details(st);
    REQUIRE(rpc.details_size() == 1);
    CHECK(rpc.details(0).Is<ed::ResourceExhaustedFailure>());
  }
}

TEST_CASE("errors: plain errors keep code and message", "[errors]") {
  CHECK(errors::InvalidArgument("m").error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(errors::Internal("m").error_code() == grpc::StatusCode::INTERNAL);
  CHECK(errors::Unavailable("m").error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(errors::FailedPrecondition("m").error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(errors::Canceled("m").error_code() == grpc::StatusCode::CANCELLED);
  CHECK(errors::DeadlineExceeded("m").error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(errors::InvalidArgument("exact message").error_message() == "exact message");
}
