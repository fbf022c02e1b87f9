#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <nlohmann/json.hpp>

#include <absl/strings/escaping.h>

#include "kairos/http/ui_site.h"

namespace kairos::http {
namespace {

namespace pb = google::protobuf;
using json = nlohmann::ordered_json;

// Go's name of a oneof's interface field: the oneof's name in CamelCase.
std::string GoName(const std::string& snake) {
  std::string out;
  bool upper = true;
  for (char c : snake) {
    if (c == '_') {
      upper = true;
    } else {
      out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
      upper = false;
    }
  }
  return out;
}

json ToJson(const pb::Message& m);

json Scalar(const pb::Message& m, const pb::FieldDescriptor* f, int index) {
  const auto* r = m.GetReflection();
  bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32: return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case pb::FieldDescriptor::CPPTYPE_INT64: return rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
    case pb::FieldDescriptor::CPPTYPE_UINT32: return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    case pb::FieldDescriptor::CPPTYPE_UINT64: return rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f);
    case pb::FieldDescriptor::CPPTYPE_DOUBLE: return rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f);
    case pb::FieldDescriptor::CPPTYPE_FLOAT: return rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f);
    case pb::FieldDescriptor::CPPTYPE_BOOL: return rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f);
    case pb::FieldDescriptor::CPPTYPE_ENUM: return rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      return f->type() == pb::FieldDescriptor::TYPE_BYTES ? absl::Base64Escape(s) : s;
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return ToJson(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
  }
  return nullptr;
}

json FieldValue(const pb::Message& m, const pb::FieldDescriptor* f) {
  const auto* r = m.GetReflection();
  if (f->is_map()) {
    json out = json::object();
    const auto* key = f->message_type()->FindFieldByName("key");
    const auto* value = f->message_type()->FindFieldByName("value");
    for (int i = 0; i < r->FieldSize(m, f); ++i) {
      const auto& entry = r->GetRepeatedMessage(m, f, i);
      json k = Scalar(entry, key, 0);
      out[k.is_string() ? k.get<std::string>() : k.dump()] = Scalar(entry, value, 0);
    }
    return out;
  }
  if (f->is_repeated()) {
    json out = json::array();
    for (int i = 0; i < r->FieldSize(m, f); ++i) out.push_back(Scalar(m, f, i));
    return out;
  }
  return Scalar(m, f, 0);
}

json ToJson(const pb::Message& m) {
  const auto* r = m.GetReflection();
  std::vector<const pb::FieldDescriptor*> set;
  r->ListFields(m, &set);  // Field-number order; proto3 zero values are absent.
  json out = json::object();
  for (const auto* f : set) {
    const auto* oneof = f->real_containing_oneof();
    if (oneof != nullptr) {
      out[GoName(oneof->name())] = json{{GoName(f->name()), FieldValue(m, f)}};
    } else {
      out[f->name()] = FieldValue(m, f);
    }
  }
  return out;
}

}  // namespace

std::string GoStructJson(const pb::Message& message) { return ToJson(message).dump(); }

}  // namespace kairos::http
