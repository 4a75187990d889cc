// The contract guard. The snapshot tests/contract/circuit_v1.txtpb records
// circuit.v1 as landed; apps are built against it. Adding fields, messages,
// enum values and RPCs is fine (then refresh the snapshot: `make
// contract-snapshot`); changing or removing what landed is not.

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/contract/contract_check.h"

namespace circuit::contract {
namespace {

using google::protobuf::FileDescriptorSet;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const char kSnapshotPath[] =
    CIRCUIT_SOURCE_DIR "/tests/contract/circuit_v1.txtpb";

FileDescriptorSet LoadSnapshot() {
  std::ifstream in(kSnapshotPath);
  std::stringstream text;
  text << in.rdbuf();
  FileDescriptorSet set;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text.str(), &set))
      << "cannot read " << kSnapshotPath;
  return set;
}

// `make contract-snapshot` runs this binary with CIRCUIT_WRITE_CONTRACT=1.
class Environment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (std::getenv("CIRCUIT_WRITE_CONTRACT") == nullptr) return;
    std::string text;
    google::protobuf::TextFormat::PrintToString(CurrentContract(), &text);
    std::ofstream out(kSnapshotPath);
    out << "# The circuit.v1 contract as landed (FileDescriptorSet, text "
           "format).\n"
           "# Written by `make contract-snapshot`; checked by contract_test.\n"
        << text;
  }
};
const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new Environment);

TEST(ContractTest, NothingLandedIsChangedOrRemoved) {
  EXPECT_THAT(BreakingChanges(LoadSnapshot(), CurrentContract()), IsEmpty())
      << "apps built against the landed contract would break; add new fields "
         "with new numbers instead";
}

TEST(ContractTest, SnapshotRecordsTheCurrentContract) {
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(LoadSnapshot(), CurrentContract()))
      << "the protos changed compatibly; record them with `make "
         "contract-snapshot` and commit tests/contract/circuit_v1.txtpb:\n"
      << diff;
}

// The checker itself, on edits of the real contract.
class BreakingChangeTest : public ::testing::Test {
 protected:
  void SetUp() override { edited_ = LoadSnapshot(); }

  google::protobuf::DescriptorProto* Message(const std::string& name) {
    for (auto& file : *edited_.mutable_file()) {
      for (auto& m : *file.mutable_message_type()) {
        if (m.name() == name) return &m;
      }
    }
    ADD_FAILURE() << "no message " << name;
    return &missing_message_;
  }

  google::protobuf::FieldDescriptorProto* Field(const std::string& message,
                                                const std::string& field) {
    for (auto& f : *Message(message)->mutable_field()) {
      if (f.name() == field) return &f;
    }
    ADD_FAILURE() << "no field " << field;
    return &missing_field_;
  }

  google::protobuf::ServiceDescriptorProto* Service() {
    for (auto& file : *edited_.mutable_file()) {
      if (file.service_size() > 0) return file.mutable_service(0);
    }
    ADD_FAILURE() << "no service";
    return &missing_service_;
  }

  std::vector<std::string> Breaks() {
    return BreakingChanges(LoadSnapshot(), edited_);
  }

  FileDescriptorSet edited_;
  // What a lookup of something missing edits, after failing the test.
  google::protobuf::DescriptorProto missing_message_;
  google::protobuf::FieldDescriptorProto missing_field_;
  google::protobuf::ServiceDescriptorProto missing_service_;
};

TEST_F(BreakingChangeTest, RenumberedFieldIsARemoval) {
  Field("CompletionReport", "reps")->set_number(99);
  EXPECT_THAT(Breaks(),
              ElementsAre(HasSubstr(
                  "circuit.v1.CompletionReport.reps (field 5): removed")));
}

TEST_F(BreakingChangeTest, RenamedField) {
  Field("CompletionReport", "reps")->set_name("repetitions");
  EXPECT_THAT(Breaks(), ElementsAre(HasSubstr("renamed to repetitions")));
}

TEST_F(BreakingChangeTest, RetypedField) {
  Field("CompletionReport", "reps")
      ->set_type(google::protobuf::FieldDescriptorProto::TYPE_INT64);
  EXPECT_THAT(Breaks(), ElementsAre(HasSubstr("type changed from TYPE_INT32")));
}

TEST_F(BreakingChangeTest, RepeatedBecomesSingular) {
  Field("ClassProgress", "wall")
      ->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
  EXPECT_THAT(Breaks(), ElementsAre(HasSubstr("cardinality changed")));
}

TEST_F(BreakingChangeTest, RemovedField) {
  Message("Joined")->mutable_field()->RemoveLast();
  EXPECT_THAT(Breaks(),
              ElementsAre(HasSubstr("circuit.v1.Joined.profile_credential")));
}

TEST_F(BreakingChangeTest, RemovedMessage) {
  for (auto& file : *edited_.mutable_file()) {
    auto* messages = file.mutable_message_type();
    for (int i = 0; i < messages->size(); ++i) {
      if (messages->Get(i).name() == "LeaveRequest") {
        messages->DeleteSubrange(i, 1);
        break;
      }
    }
  }
  EXPECT_THAT(Breaks(),
              ElementsAre("circuit.v1.LeaveRequest: message removed"));
}

TEST_F(BreakingChangeTest, RemovedRpcAndChangedStreaming) {
  auto* methods = Service()->mutable_method();
  for (int i = 0; i < methods->size(); ++i) {
    if (methods->Get(i).name() == "GetClock") {
      methods->DeleteSubrange(i, 1);
      break;
    }
  }
  for (auto& m : *methods) {
    if (m.name() == "WatchClass") m.set_client_streaming(true);
  }
  EXPECT_THAT(Breaks(),
              ElementsAre("circuit.v1.CircuitService/GetClock: RPC removed",
                          "circuit.v1.CircuitService/WatchClass: streaming "
                          "changed"));
}

TEST_F(BreakingChangeTest, RenumberedEnumValue) {
  for (auto& file : *edited_.mutable_file()) {
    for (auto& e : *file.mutable_enum_type()) {
      if (e.name() != "Symptom") continue;
      for (auto& v : *e.mutable_value()) {
        if (v.name() == "SYMPTOM_LEAKING") v.set_number(40);
      }
    }
  }
  EXPECT_THAT(
      Breaks(),
      ElementsAre(HasSubstr("SYMPTOM_LEAKING: renumbered from 2 to 40")));
}

TEST_F(BreakingChangeTest, AdditionsBreakNothing) {
  auto* added = Message("CompletionReport")->add_field();
  added->set_name("tempo_note");
  added->set_number(99);  // a number no field has
  added->set_type(google::protobuf::FieldDescriptorProto::TYPE_STRING);
  added->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
  auto* rpc = Service()->add_method();
  rpc->set_name("ExportClass");
  rpc->set_input_type(".circuit.v1.GetClassRequest");
  rpc->set_output_type(".circuit.v1.GetClassResponse");
  EXPECT_THAT(Breaks(), IsEmpty());
}

}  // namespace
}  // namespace circuit::contract
