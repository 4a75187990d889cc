// circuit: the command-line client of circuitd.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "circuit/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051", "circuitd's host:port");
ABSL_FLAG(int, timeout_seconds, 5, "deadline for each call");
ABSL_FLAG(std::string, key, "",
          "the instructor or kiosk key; default: env CIRCUIT_INSTRUCTOR_KEY or "
          "CIRCUIT_KIOSK_KEY, else <data_dir>/instructor.key or kiosk.key");
ABSL_FLAG(std::string, data_dir, "var",
          "circuitd's data directory, where it keeps generated keys");
ABSL_FLAG(std::string, title, "", "class create: a title for the class");
ABSL_FLAG(std::string, command, "",
          "instruct: one command to send, then exit: start, pause, resume, "
          "next, previous, plus30, minus30, end, cue (with --text)");
ABSL_FLAG(std::string, text, "", "instruct --command cue: the cue text");
ABSL_FLAG(std::string, name, "", "join: your display name");
ABSL_FLAG(bool, show_name, false,
          "join: show your name on the studio's kiosk screens");
ABSL_FLAG(bool, all, false, "classes: include classes that have ended");

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct Subcommand {
  const char* name;
  const char* args;
  const char* summary;
  std::function<int(const std::vector<char*>& args)> run;
};

std::unique_ptr<circuit::v1::CircuitService::Stub> Connect() {
  return circuit::v1::CircuitService::NewStub(grpc::CreateChannel(
      absl::GetFlag(FLAGS_address), grpc::InsecureChannelCredentials()));
}

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::seconds(absl::GetFlag(FLAGS_timeout_seconds)));
}

int Fail(const grpc::Status& status) {
  std::fprintf(stderr, "circuit: %s (%s)\n", status.error_message().c_str(),
               absl::GetFlag(FLAGS_address).c_str());
  return kExitFailure;
}

int ListCircuits(const std::vector<char*>&) {
  auto stub = Connect();
  grpc::ClientContext context;
  SetDeadline(&context);
  circuit::v1::ListCircuitsResponse response;
  grpc::Status status = stub->ListCircuits(
      &context, circuit::v1::ListCircuitsRequest(), &response);
  if (!status.ok()) return Fail(status);
  for (const auto& c : response.circuits()) {
    std::printf("%-20s %2d blocks  ~%2d min  %s\n", c.id().c_str(),
                c.blocks_size(), (c.estimated_seconds() + 59) / 60,
                c.name().c_str());
  }
  return kExitOk;
}

int ShowClock(const std::vector<char*>&) {
  auto stub = Connect();
  grpc::ClientContext context;
  SetDeadline(&context);
  circuit::v1::GetClockRequest request;
  request.set_client_send_unix_ms(absl::ToUnixMillis(absl::Now()));
  circuit::v1::GetClockResponse response;
  grpc::Status status = stub->GetClock(&context, request, &response);
  int64_t t3 = absl::ToUnixMillis(absl::Now());
  if (!status.ok()) return Fail(status);
  int64_t t0 = response.client_send_unix_ms();
  int64_t t1 = response.server_receive_unix_ms();
  int64_t t2 = response.server_send_unix_ms();
  std::printf("offset %+lld ms, round trip %lld ms\n",
              static_cast<long long>(((t1 - t0) + (t2 - t3)) / 2),
              static_cast<long long>((t3 - t0) - (t2 - t1)));
  return kExitOk;
}

// The key for `role` ("instructor" or "kiosk"): the flag, the environment,
// then the file circuitd generated in its data directory.
std::string Key(const std::string& role) {
  if (!absl::GetFlag(FLAGS_key).empty()) return absl::GetFlag(FLAGS_key);
  std::string env_name =
      role == "kiosk" ? "CIRCUIT_KIOSK_KEY" : "CIRCUIT_INSTRUCTOR_KEY";
  if (const char* env = std::getenv(env_name.c_str()); env && *env) return env;
  std::ifstream in(absl::GetFlag(FLAGS_data_dir) + "/" + role + ".key");
  std::string key;
  std::getline(in, key);
  return key;
}

void Authorize(grpc::ClientContext* context, const std::string& role) {
  std::string key = Key(role);
  if (!key.empty()) context->AddMetadata("authorization", "Bearer " + key);
}

std::string Describe(const circuit::v1::ClassState& state) {
  using circuit::v1::ClassPhase_Name;
  if (!state.has_current()) {
    return absl::StrCat("[", ClassPhase_Name(state.phase()).substr(12), "]");
  }
  const auto& i = state.current();
  std::string side = i.side() == circuit::v1::SIDE_LEFT    ? " left"
                     : i.side() == circuit::v1::SIDE_RIGHT ? " right"
                                                           : "";
  std::string what =
      i.kind() == circuit::v1::INTERVAL_KIND_REST
          ? "rest"
          : absl::StrCat(
                i.exercise_name(), " set ", i.set(), "/", i.set_count(), side,
                i.has_target_reps()
                    ? absl::StrCat(", ", i.target_reps().min_reps(), "-",
                                   i.target_reps().max_reps(), " reps")
                    : "");
  return absl::StrCat(
      "[", ClassPhase_Name(state.phase()).substr(12), "] #", i.index() + 1, "/",
      state.interval_count(), " ", what,
      state.timer().deadline_unix_ms() > 0
          ? absl::StrCat(" (", state.timer().remaining_ms() / 1000, " s)")
          : "");
}

int CreateClass(const std::vector<char*>& args) {
  if (args.size() != 1) {
    std::fprintf(stderr, "usage: circuit class create CIRCUIT [--title=T]\n");
    return kExitUsage;
  }
  auto stub = Connect();
  grpc::ClientContext context;
  SetDeadline(&context);
  Authorize(&context, "instructor");
  circuit::v1::CreateClassRequest request;
  request.set_circuit_id(args[0]);
  request.set_title(absl::GetFlag(FLAGS_title));
  circuit::v1::CreateClassResponse response;
  grpc::Status status = stub->CreateClass(&context, request, &response);
  if (!status.ok()) return Fail(status);
  std::printf("class %s  join code %s  (%s)\n",
              response.class_info().class_id().c_str(),
              response.class_info().join_code().c_str(),
              response.class_info().title().c_str());
  return kExitOk;
}

int ClassSubcommand(const std::vector<char*>& args) {
  if (!args.empty() && std::strcmp(args[0], "create") == 0) {
    return CreateClass(std::vector<char*>(args.begin() + 1, args.end()));
  }
  std::fprintf(stderr, "usage: circuit class create CIRCUIT [--title=T]\n");
  return kExitUsage;
}

int ListClasses(const std::vector<char*>&) {
  auto stub = Connect();
  grpc::ClientContext context;
  SetDeadline(&context);
  Authorize(&context, "instructor");
  circuit::v1::ListClassesRequest request;
  request.set_include_ended(absl::GetFlag(FLAGS_all));
  circuit::v1::ListClassesResponse response;
  grpc::Status status = stub->ListClasses(&context, request, &response);
  if (!status.ok()) return Fail(status);
  for (const auto& c : response.classes()) {
    std::printf("%s  %s  %-8s %3d in  %s\n", c.class_id().c_str(),
                c.join_code().c_str(),
                circuit::v1::ClassPhase_Name(c.phase()).substr(12).c_str(),
                c.participant_count(), c.title().c_str());
  }
  return kExitOk;
}

// Non-interactive instructor: attach, send one command, print its result.
int Instruct(const std::vector<char*>& args) {
  std::string command_name = absl::GetFlag(FLAGS_command);
  if (args.size() != 1 || command_name.empty()) {
    std::fprintf(stderr,
                 "usage: circuit instruct CLASS --command=start|pause|resume|"
                 "next|previous|plus30|minus30|end|cue [--text=T]\n");
    return kExitUsage;
  }
  circuit::v1::InstructorCommand command;
  command.set_command_id("cli-1");
  if (command_name == "start") {
    command.mutable_start();
  } else if (command_name == "pause") {
    command.mutable_pause();
  } else if (command_name == "resume") {
    command.mutable_resume();
  } else if (command_name == "next") {
    command.mutable_next();
  } else if (command_name == "previous") {
    command.mutable_previous();
  } else if (command_name == "plus30" || command_name == "minus30") {
    command.mutable_adjust_time()->set_delta_ms(
        command_name == "plus30" ? 30000 : -30000);
  } else if (command_name == "end") {
    command.mutable_end();
  } else if (command_name == "cue" && !absl::GetFlag(FLAGS_text).empty()) {
    command.mutable_cue()->set_text(absl::GetFlag(FLAGS_text));
  } else {
    std::fprintf(stderr, "circuit: unknown command \"%s\"\n",
                 command_name.c_str());
    return kExitUsage;
  }
  auto stub = Connect();
  grpc::ClientContext context;
  SetDeadline(&context);
  Authorize(&context, "instructor");
  auto stream = stub->RunClass(&context);
  circuit::v1::RunClassRequest attach;
  attach.mutable_attach()->set_class_id(args[0]);
  circuit::v1::RunClassRequest request;
  *request.mutable_command() = command;
  if (!stream->Write(attach) || !stream->Write(request)) {
    return Fail(stream->Finish());
  }
  circuit::v1::RunClassResponse response;
  circuit::v1::ClassState state;
  while (stream->Read(&response)) {
    if (response.has_snapshot()) state = response.snapshot().state();
    if (response.has_event() && response.event().has_state()) {
      state = response.event().state();
    }
    if (!response.has_command_result()) continue;
    const auto& result = response.command_result();
    context.TryCancel();
    if (result.code() != 0) {
      std::fprintf(stderr, "circuit: %s\n", result.message().c_str());
      return kExitFailure;
    }
    // The state the command produced arrives right before its result.
    std::printf("%s: ok  %s\n", command_name.c_str(), Describe(state).c_str());
    return kExitOk;
  }
  return Fail(stream->Finish());
}

// Kiosk view as plain lines: state changes, cues and progress.
int Kiosk(const std::vector<char*>& args) {
  if (args.size() != 1) {
    std::fprintf(stderr, "usage: circuit kiosk CLASS\n");
    return kExitUsage;
  }
  auto stub = Connect();
  grpc::ClientContext context;
  Authorize(&context, "kiosk");
  circuit::v1::WatchClassRequest request;
  request.set_class_id(args[0]);
  auto stream = stub->WatchClass(&context, request);
  circuit::v1::WatchClassResponse response;
  int last_done = -1;
  while (stream->Read(&response)) {
    if (response.has_snapshot()) {
      std::printf("%s\n", Describe(response.snapshot().state()).c_str());
    } else if (response.has_event() && response.event().has_state()) {
      std::printf("%s\n", Describe(response.event().state()).c_str());
    } else if (response.has_event() && response.event().has_cue()) {
      std::printf("cue: %s\n", response.event().cue().text().c_str());
    } else if (response.has_progress()) {
      const auto& p = response.progress();
      if (p.done_current_count() == last_done) continue;
      last_done = p.done_current_count();
      std::string wall;
      for (const auto& w : p.wall()) {
        absl::StrAppend(&wall, " ", w.display_name(), ":", w.total_reps());
      }
      std::printf("progress: %d/%d done, %d reps |%s\n", p.done_current_count(),
                  p.participant_count(), p.total_reps(), wall.c_str());
    } else if (response.has_going_away()) {
      std::printf("server going away: %s\n",
                  response.going_away().reason().c_str());
    }
    std::fflush(stdout);
  }
  grpc::Status status = stream->Finish();
  return status.ok() ? kExitOk : Fail(status);
}

// Participant as plain lines. Reads commands from stdin:
//   reps N | effort easy|right|hard|0-10 | symptom NAME [text] | leave
int Join(const std::vector<char*>& args) {
  if (args.size() != 1 || absl::GetFlag(FLAGS_name).empty()) {
    std::fprintf(stderr,
                 "usage: circuit join CODE --name=NAME [--show_name]\n");
    return kExitUsage;
  }
  auto stub = Connect();
  grpc::ClientContext context;
  auto stream = stub->JoinClass(&context);
  circuit::v1::JoinClassRequest join;
  join.mutable_join()->set_join_code(args[0]);
  join.mutable_join()->mutable_check_in()->set_display_name(
      absl::GetFlag(FLAGS_name));
  join.mutable_join()->mutable_check_in()->set_show_name_on_kiosk(
      absl::GetFlag(FLAGS_show_name));
  if (!stream->Write(join)) return Fail(stream->Finish());

  absl::Mutex mu;
  circuit::v1::ClassState state;  // guarded by mu
  std::thread reader([&] {
    circuit::v1::JoinClassResponse response;
    while (stream->Read(&response)) {
      std::string line;
      if (response.has_joined()) {
        line = absl::StrCat("joined as ", response.joined().participant_id());
      } else if (response.has_snapshot() || response.has_event()) {
        const circuit::v1::ClassEvent& e = response.event();
        if (response.has_snapshot() || e.has_state()) {
          absl::MutexLock lock(&mu);
          state =
              response.has_snapshot() ? response.snapshot().state() : e.state();
          line = Describe(state);
        } else if (e.has_cue()) {
          line = absl::StrCat("cue: ", e.cue().text());
        } else if (e.has_suggestion()) {
          line = absl::StrCat("suggestion: ", e.suggestion().reason());
        }
      } else if (response.has_ack()) {
        const auto& ack = response.ack();
        line = ack.code() == 0 ? absl::StrCat("recorded ", ack.report_id())
                               : absl::StrCat("not recorded: ", ack.message());
      }
      if (!line.empty()) std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }
  });

  std::string input;
  int next_id = 1;
  while (std::getline(std::cin, input)) {
    std::vector<std::string> words =
        absl::StrSplit(input, ' ', absl::SkipEmpty());
    if (words.empty()) continue;
    circuit::v1::JoinClassRequest request;
    std::string id =
        absl::StrCat("cli-", absl::ToUnixMillis(absl::Now()), "-", next_id++);
    int block = 0;
    circuit::v1::Interval current;
    {
      absl::MutexLock lock(&mu);
      current = state.current();
      block = current.block_index();
    }
    int number = 0;
    if (words[0] == "reps" && words.size() == 2 &&
        absl::SimpleAtoi(words[1], &number)) {
      auto* c = request.mutable_completion();
      c->set_report_id(id);
      c->set_block_index(block);
      c->set_set(current.set());
      c->set_side(current.side());
      c->set_reps(number);
    } else if (words[0] == "effort" && words.size() == 2) {
      auto* e = request.mutable_effort();
      e->set_report_id(id);
      e->set_block_index(block);
      if (words[1] == "easy") {
        e->set_feel(circuit::v1::EFFORT_FEEL_TOO_EASY);
      } else if (words[1] == "right") {
        e->set_feel(circuit::v1::EFFORT_FEEL_JUST_RIGHT);
      } else if (words[1] == "hard") {
        e->set_feel(circuit::v1::EFFORT_FEEL_TOO_HARD);
      } else if (absl::SimpleAtoi(words[1], &number)) {
        e->set_cr10(number);
      }
    } else if (words[0] == "symptom" && words.size() >= 2) {
      circuit::v1::Symptom symptom = circuit::v1::SYMPTOM_UNSPECIFIED;
      circuit::v1::Symptom_Parse("SYMPTOM_" + absl::AsciiStrToUpper(words[1]),
                                 &symptom);
      auto* s = request.mutable_symptom();
      s->set_report_id(id);
      s->set_block_index(block);
      s->set_symptom(symptom);
      if (words.size() > 2) {
        s->set_other_text(absl::StrJoin(words.begin() + 2, words.end(), " "));
      }
    } else if (words[0] == "leave") {
      request.mutable_leave();
    } else {
      std::printf(
          "commands: reps N | effort easy|right|hard|0-10 | symptom "
          "hip_pinch|leaking|pelvic_heaviness|low_back_pain|pelvic_pain|"
          "abdominal_doming|other TEXT | leave\n");
      continue;
    }
    if (!stream->Write(request)) break;
    if (request.has_leave()) break;
  }
  stream->WritesDone();
  reader.join();
  grpc::Status status = stream->Finish();
  return status.ok() ? kExitOk : Fail(status);
}

const std::vector<Subcommand>& Subcommands() {
  static const auto* const subcommands = new std::vector<Subcommand>{
      {"circuits", "", "list the circuit library", ListCircuits},
      {"clock", "", "show this machine's clock offset from circuitd's",
       ShowClock},
      {"class", "create CIRCUIT", "create a class; prints its id and join code",
       ClassSubcommand},
      {"classes", "", "list classes (--all includes ended ones)", ListClasses},
      {"instruct", "CLASS", "send one instructor command (--command)",
       Instruct},
      {"join", "CODE",
       "join as a participant (--name); reads reps, effort, "
       "symptom, leave from stdin",
       Join},
      {"kiosk", "CLASS", "follow a class as a kiosk, as plain lines", Kiosk},
  };
  return *subcommands;
}

std::string Usage() {
  std::string text =
      "circuit: the command-line client of circuitd.\n"
      "Usage: circuit SUBCOMMAND [ARGS] [--address=HOST:PORT]\n\n"
      "Subcommands:\n";
  for (const Subcommand& s : Subcommands()) {
    absl::StrAppend(&text, "  ", s.name, s.args[0] ? " " : "", s.args,
                    std::string(22 - std::strlen(s.name) - std::strlen(s.args) -
                                    (s.args[0] ? 1 : 0),
                                ' '),
                    s.summary, "\n");
  }
  absl::StrAppend(&text,
                  "\n`circuit SUBCOMMAND --help` shows a subcommand's flags.\n"
                  "Exit codes: 0 ok, 1 failure, 2 usage.");
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "client/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(Usage());

  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 ||
      std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "help") == 0) {
    std::printf("%s\n", Usage().c_str());
    return argc < 2 ? kExitUsage : kExitOk;
  }
  for (const Subcommand& s : Subcommands()) {
    if (std::strcmp(argv[1], s.name) != 0) continue;
    std::vector<char*> args = absl::ParseCommandLine(argc - 1, argv + 1);
    args.erase(args.begin());  // the subcommand's own name
    return s.run(args);
  }
  std::fprintf(stderr, "circuit: unknown subcommand \"%s\"\n\n%s\n", argv[1],
               Usage().c_str());
  return kExitUsage;
}
