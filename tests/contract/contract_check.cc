#include "tests/contract/contract_check.h"

#include <functional>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "circuit/v1/service.pb.h"
#include "google/protobuf/descriptor.h"

namespace circuit::contract {
namespace {

using google::protobuf::DescriptorProto;
using google::protobuf::EnumDescriptorProto;
using google::protobuf::FieldDescriptorProto;
using google::protobuf::FileDescriptorProto;
using google::protobuf::FileDescriptorSet;
using google::protobuf::ServiceDescriptorProto;

// Everything a file set declares, by full name.
struct Index {
  std::map<std::string, const DescriptorProto*> messages;
  std::map<std::string, const EnumDescriptorProto*> enums;
  std::map<std::string, const ServiceDescriptorProto*> services;
};

void AddEnum(const std::string& scope, const EnumDescriptorProto& e,
             Index* index) {
  index->enums[absl::StrCat(scope, ".", e.name())] = &e;
}

void AddMessage(const std::string& scope, const DescriptorProto& m,
                Index* index) {
  const std::string name = absl::StrCat(scope, ".", m.name());
  index->messages[name] = &m;
  for (const DescriptorProto& nested : m.nested_type()) {
    AddMessage(name, nested, index);
  }
  for (const EnumDescriptorProto& e : m.enum_type()) AddEnum(name, e, index);
}

Index IndexOf(const FileDescriptorSet& set) {
  Index index;
  for (const FileDescriptorProto& file : set.file()) {
    const std::string scope = file.package();
    for (const DescriptorProto& m : file.message_type()) {
      AddMessage(scope, m, &index);
    }
    for (const EnumDescriptorProto& e : file.enum_type()) {
      AddEnum(scope, e, &index);
    }
    for (const ServiceDescriptorProto& s : file.service()) {
      index.services[absl::StrCat(scope, ".", s.name())] = &s;
    }
  }
  return index;
}

// The oneof a field belongs to, by name; empty when none. proto3 `optional`
// fields sit in a synthetic oneof: that is cardinality, checked separately.
std::string OneofOf(const DescriptorProto& m, const FieldDescriptorProto& f) {
  if (!f.has_oneof_index() || f.proto3_optional()) return "";
  return m.oneof_decl(f.oneof_index()).name();
}

void CompareMessage(const std::string& name, const DescriptorProto& landed,
                    const DescriptorProto& current,
                    std::vector<std::string>* out) {
  std::map<int, const FieldDescriptorProto*> by_number;
  for (const FieldDescriptorProto& f : current.field()) {
    by_number[f.number()] = &f;
  }
  for (const FieldDescriptorProto& was : landed.field()) {
    const std::string where =
        absl::StrCat(name, ".", was.name(), " (field ", was.number(), ")");
    auto it = by_number.find(was.number());
    if (it == by_number.end()) {
      out->push_back(absl::StrCat(where, ": removed"));
      continue;
    }
    const FieldDescriptorProto& now = *it->second;
    if (now.name() != was.name()) {
      out->push_back(absl::StrCat(where, ": renamed to ", now.name()));
    }
    if (now.type() != was.type() || now.type_name() != was.type_name()) {
      out->push_back(absl::StrCat(where, ": type changed from ",
                                  FieldDescriptorProto::Type_Name(was.type()),
                                  " ", was.type_name(), " to ",
                                  FieldDescriptorProto::Type_Name(now.type()),
                                  " ", now.type_name()));
    }
    if (now.label() != was.label() ||
        now.proto3_optional() != was.proto3_optional()) {
      out->push_back(absl::StrCat(where, ": cardinality changed"));
    }
    if (OneofOf(current, now) != OneofOf(landed, was)) {
      out->push_back(absl::StrCat(where, ": moved from oneof \"",
                                  OneofOf(landed, was), "\" to \"",
                                  OneofOf(current, now), "\""));
    }
  }
}

void CompareEnum(const std::string& name, const EnumDescriptorProto& landed,
                 const EnumDescriptorProto& current,
                 std::vector<std::string>* out) {
  std::map<std::string, int> by_name;
  for (const auto& v : current.value()) by_name[v.name()] = v.number();
  for (const auto& was : landed.value()) {
    auto it = by_name.find(was.name());
    if (it == by_name.end()) {
      out->push_back(absl::StrCat(name, ".", was.name(), ": removed"));
    } else if (it->second != was.number()) {
      out->push_back(absl::StrCat(name, ".", was.name(), ": renumbered from ",
                                  was.number(), " to ", it->second));
    }
  }
}

void CompareService(const std::string& name,
                    const ServiceDescriptorProto& landed,
                    const ServiceDescriptorProto& current,
                    std::vector<std::string>* out) {
  std::map<std::string, const google::protobuf::MethodDescriptorProto*> methods;
  for (const auto& m : current.method()) methods[m.name()] = &m;
  for (const auto& was : landed.method()) {
    const std::string where = absl::StrCat(name, "/", was.name());
    auto it = methods.find(was.name());
    if (it == methods.end()) {
      out->push_back(absl::StrCat(where, ": RPC removed"));
      continue;
    }
    const auto& now = *it->second;
    if (now.input_type() != was.input_type()) {
      out->push_back(absl::StrCat(where, ": request changed from ",
                                  was.input_type(), " to ", now.input_type()));
    }
    if (now.output_type() != was.output_type()) {
      out->push_back(absl::StrCat(where, ": response changed from ",
                                  was.output_type(), " to ",
                                  now.output_type()));
    }
    if (now.client_streaming() != was.client_streaming() ||
        now.server_streaming() != was.server_streaming()) {
      out->push_back(absl::StrCat(where, ": streaming changed"));
    }
  }
}

}  // namespace

std::vector<std::string> BreakingChanges(const FileDescriptorSet& landed,
                                         const FileDescriptorSet& current) {
  std::vector<std::string> out;
  const Index was = IndexOf(landed);
  const Index now = IndexOf(current);
  for (const auto& [name, message] : was.messages) {
    auto it = now.messages.find(name);
    if (it == now.messages.end()) {
      out.push_back(absl::StrCat(name, ": message removed"));
    } else {
      CompareMessage(name, *message, *it->second, &out);
    }
  }
  for (const auto& [name, e] : was.enums) {
    auto it = now.enums.find(name);
    if (it == now.enums.end()) {
      out.push_back(absl::StrCat(name, ": enum removed"));
    } else {
      CompareEnum(name, *e, *it->second, &out);
    }
  }
  for (const auto& [name, service] : was.services) {
    auto it = now.services.find(name);
    if (it == now.services.end()) {
      out.push_back(absl::StrCat(name, ": service removed"));
    } else {
      CompareService(name, *service, *it->second, &out);
    }
  }
  return out;
}

FileDescriptorSet CurrentContract() {
  FileDescriptorSet set;
  std::set<std::string> seen;
  // Dependencies first, so the set loads into a pool in order.
  std::function<void(const google::protobuf::FileDescriptor*)> add =
      [&](const google::protobuf::FileDescriptor* file) {
        if (!seen.insert(file->name()).second) return;
        for (int i = 0; i < file->dependency_count(); ++i) {
          add(file->dependency(i));
        }
        file->CopyTo(set.add_file());
      };
  add(v1::ListCircuitsRequest::descriptor()->file());
  return set;
}

}  // namespace circuit::contract
