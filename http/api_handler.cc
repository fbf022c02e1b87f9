#include "kairos/http/api_handler.h"

#include <future>

#include <google/protobuf/dynamic_message.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/byte_buffer.h>

namespace kairos::http {
namespace {

namespace pb = google::protobuf;

std::unique_ptr<pb::Message> NewMessage(const pb::Descriptor* type) {
  const auto* prototype = pb::MessageFactory::generated_factory()->GetPrototype(type);
  return std::unique_ptr<pb::Message>(prototype->New());
}

HttpReply ErrorReply(const grpc::Status& status, const JsonOptions& options) {
  return {HttpStatusOf(status.error_code()), StatusToJson(status, options)};
}

}  // namespace

ApiHandler::ApiHandler(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)),
      stub_(std::make_unique<grpc::GenericStub>(channel_)),
      routes_(RouteTable::TemporalApi()) {}

grpc::Status ApiHandler::Call(const std::string& method, const pb::Message& request, pb::Message* response,
                              const std::multimap<std::string, std::string>& metadata) const {
  std::string bytes;
  if (!request.SerializeToString(&bytes)) return {grpc::StatusCode::INTERNAL, "cannot serialize the request"};
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::ClientContext context;
  for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
  std::promise<grpc::Status> done;
  stub_->UnaryCall(&context, method, grpc::StubOptions(), &request_buffer, &response_buffer,
                   [&done](grpc::Status st) { done.set_value(std::move(st)); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return status;
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return {grpc::StatusCode::INTERNAL, "cannot read the response"};
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  if (!response->ParseFromString(out)) return {grpc::StatusCode::INTERNAL, "cannot parse the response"};
  return grpc::Status::OK;
}

HttpReply ApiHandler::Handle(const ApiRequest& request, JsonOptions options) const {
  bool path_matched = false;
  auto match = routes_.Match(request.verb, request.raw_path, &path_matched);
  if (!match) {
    // As grpc-gateway answers an unknown route or a wrong verb.
    if (path_matched) return {501, StatusToJson({grpc::StatusCode::UNIMPLEMENTED, "Method Not Allowed"}, options)};
    return {404, StatusToJson({grpc::StatusCode::NOT_FOUND, "Not Found"}, options)};
  }
  const auto* method = match->route->method;
  auto input = NewMessage(method->input_type());
  if (auto st = BuildRequest(*match, request.body, request.query, options, input.get()); !st.ok())
    return ErrorReply(st, options);
  auto output = NewMessage(method->output_type());
  std::string name = "/" + method->service()->full_name() + "/" + method->name();
  if (auto st = Call(name, *input, output.get(), request.metadata); !st.ok()) return ErrorReply(st, options);
  return {200, MessageToJson(*output, options)};
}

JsonOptions OptionsFromQuery(const std::multimap<std::string, std::string>& query, bool shorthand_default) {
  JsonOptions options;
  options.payload_shorthand = shorthand_default;
  auto flag = [&](const char* name) {
    auto it = query.find(name);
    return it != query.end() && it->second != "false" && it->second != "0";
  };
  options.pretty = flag("pretty");
  if (flag("noPayloadShorthand")) options.payload_shorthand = false;
  return options;
}

HttpReply ServeApi(const ApiHandler& api, const ApiRequest& request) {
  return api.Handle(request, OptionsFromQuery(request.query, true));
}

}  // namespace kairos::http
