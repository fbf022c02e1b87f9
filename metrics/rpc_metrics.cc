#include "kairos/metrics/rpc_metrics.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message.h>
#include <google/protobuf/wire_format_lite.h>

namespace kairos::metrics {
namespace {

constexpr std::string_view kService = "frontend";
constexpr std::string_view kUnknownNamespace = "_unknown_";

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED: return "Canceled";
    case grpc::StatusCode::UNKNOWN: return "Unknown";
    case grpc::StatusCode::INVALID_ARGUMENT: return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DeadlineExceeded";
    case grpc::StatusCode::NOT_FOUND: return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS: return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED: return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FailedPrecondition";
    case grpc::StatusCode::ABORTED: return "Aborted";
    case grpc::StatusCode::OUT_OF_RANGE: return "OutOfRange";
    case grpc::StatusCode::UNIMPLEMENTED: return "Unimplemented";
    case grpc::StatusCode::INTERNAL: return "Internal";
    case grpc::StatusCode::UNAVAILABLE: return "Unavailable";
    case grpc::StatusCode::DATA_LOSS: return "DataLoss";
    case grpc::StatusCode::UNAUTHENTICATED: return "Unauthenticated";
    default: return "Unknown";
  }
}

// The type URL of the first detail of a serialized google.rpc.Status
// (field 3, repeated Any; Any's field 1 is the type URL). Read from the wire
// so that this library does not need the googleapis protos.
std::string FirstDetailType(const std::string& details) {
  namespace io = google::protobuf::io;
  io::CodedInputStream in(reinterpret_cast<const uint8_t*>(details.data()), static_cast<int>(details.size()));
  for (uint32_t tag; (tag = in.ReadTag()) != 0;) {
    if (tag == ((3 << 3) | 2)) {
      uint32_t len = 0;
      if (!in.ReadVarint32(&len)) return {};
      auto limit = in.PushLimit(static_cast<int>(len));
      for (uint32_t t; (t = in.ReadTag()) != 0;) {
        if (t == ((1 << 3) | 2)) {
          std::string url;
          uint32_t n = 0;
          if (!in.ReadVarint32(&n) || !in.ReadString(&url, static_cast<int>(n))) return {};
          return url;
        }
        if (!google::protobuf::internal::WireFormatLite::SkipField(&in, t)) return {};
      }
      in.PopLimit(limit);
      return {};
    }
    if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) return {};
  }
  return {};
}

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(const RpcMetricsFactory::Instruments* in, std::string_view operation)
      : in_(in), operation_(operation), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
    using grpc::experimental::InterceptionHookPoints;
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) && !counted_) {
      ReadNamespace(m->GetRecvMessage());
      Begin();
    }
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      if (!counted_) Begin();  // A call that failed before its message arrived.
      End(m->GetSendStatus());
    }
    m->Proceed();
  }

 private:
  void ReadNamespace(void* message) {
    if (message == nullptr) return;
    // The callback services hand the generated request message itself.
    auto* msg = static_cast<google::protobuf::Message*>(message);
    const auto* field = msg->GetDescriptor()->FindFieldByName("namespace");
    if (field == nullptr || field->type() != google::protobuf::FieldDescriptor::TYPE_STRING || field->is_repeated())
      return;
    namespace_ = msg->GetReflection()->GetString(*msg, field);
  }

  std::string_view Namespace() const { return namespace_.empty() ? kUnknownNamespace : std::string_view(namespace_); }

  void Begin() {
    counted_ = true;
    in_->requests->Get({Namespace(), operation_, kService})->Inc();
    pending_ = in_->pending->Get({Namespace(), operation_, kService});
    pending_->Add(1);
  }

  void End(const grpc::Status& status) {
    pending_->Add(-1);
    in_->latency->Get({Namespace(), operation_, kService})->ObserveDuration(std::chrono::steady_clock::now() - start_);
    if (status.ok()) return;
    std::string type = ErrorType(status);
    in_->errors_with_type->Get({type, Namespace(), operation_, kService})->Inc();
    if (IsServerError(status.error_code())) in_->errors->Get({Namespace(), operation_, kService})->Inc();
  }

  const RpcMetricsFactory::Instruments* in_;
  std::string_view operation_;
  std::chrono::steady_clock::time_point start_;
  std::string namespace_;
  Gauge* pending_ = nullptr;
  bool counted_ = false;
};

}  // namespace

std::string ErrorType(const grpc::Status& status) {
  std::string url = FirstDetailType(status.error_details());
  auto dot = url.rfind('.');
  if (dot != std::string::npos) {
    std::string name = url.substr(dot + 1);
    constexpr std::string_view kSuffix = "Failure";
    if (name.size() > kSuffix.size() && name.ends_with(kSuffix)) name.resize(name.size() - kSuffix.size());
    return "serviceerror_" + name;
  }
  return std::string("serviceerror_") + CodeName(status.error_code());
}

bool IsServerError(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return true;
    default:
      return false;
  }
}

RpcMetricsFactory::RpcMetricsFactory(Registry* r) {
  std::vector<std::string> labels = {"namespace", "operation", "service_name"};
  instruments_.requests = r->AddCounter("service_requests", "The number of gRPC requests received by the service", labels);
  instruments_.errors = r->AddCounter("service_errors", "Requests that failed through no fault of the caller", labels);
  instruments_.errors_with_type =
      r->AddCounter("service_error_with_type", "Failed requests by the type of their error",
                    {"error_type", "namespace", "operation", "service_name"});
  instruments_.latency = r->AddHistogram("service_latency", "Time to answer a request, long polls included, in seconds",
                                         labels, LatencyBuckets());
  instruments_.pending = r->AddGauge("service_pending_requests", "Requests in flight", labels);
}

grpc::experimental::Interceptor* RpcMetricsFactory::CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) {
  std::string_view method = info->method() != nullptr ? info->method() : "";
  auto slash = method.rfind('/');
  // gRPC owns and deletes the interceptor at the end of the call.
  return new RpcMetricsInterceptor(&instruments_, slash == std::string_view::npos ? method : method.substr(slash + 1));
}

}  // namespace kairos::metrics
