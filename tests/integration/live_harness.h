#ifndef CIRCUIT_TESTS_INTEGRATION_LIVE_HARNESS_H_
#define CIRCUIT_TESTS_INTEGRATION_LIVE_HARNESS_H_

// A real in-process circuitd on port 0 and real gRPC clients for the
// instructor, participant and kiosk streams. Each stream has a reader thread
// that collects what arrives, and tests wait on what they expect with a
// deadline, never on time.

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "circuit/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "server/app/server.h"
#include "server/common/log.h"
#include "server/library/circuit_library.h"

namespace circuit::testing {

inline constexpr absl::Duration kWait = absl::Seconds(20);
inline constexpr char kInstructorKey[] = "test-instructor-key";
inline constexpr char kKioskKey[] = "test-kiosk-key";

// Collects every message of one client stream on a reader thread.
template <typename Response>
class Collector {
 public:
  Collector() = default;
  ~Collector() { Join(); }

  // Starts reading `stream` until it ends; `finish` then records the status.
  template <typename Stream>
  void Start(Stream* stream) {
    thread_ = std::thread([this, stream] {
      Response response;
      while (stream->Read(&response)) {
        absl::MutexLock lock(&mu_);
        messages_.push_back(response);
      }
      grpc::Status status = stream->Finish();
      absl::MutexLock lock(&mu_);
      status_ = status;
      done_ = true;
    });
  }

  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  // Waits until `predicate` holds over the messages so far; false at the
  // deadline.
  bool WaitFor(
      const std::function<bool(const std::vector<Response>&)>& predicate,
      absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return predicate(messages_) || done_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return predicate(messages_);
  }

  // Waits for the stream to end; its status.
  grpc::Status WaitDone(absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
    if (!done_) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          "stream did not end in time");
    }
    return status_;
  }

  std::vector<Response> messages() const {
    absl::MutexLock lock(&mu_);
    return messages_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Response> messages_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

inline std::unique_ptr<grpc::ClientContext> Context(
    const std::string& bearer = "") {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(120));
  if (!bearer.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", bearer));
  }
  return context;
}

// The instructor's stream.
struct InstructorClient {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::RunClassRequest, v1::RunClassResponse>>
      stream;
  Collector<v1::RunClassResponse> in;
  int next_command = 1;

  ~InstructorClient() {
    if (context != nullptr) context->TryCancel();
    in.Join();
  }

  // Sends a command and waits for its result.
  v1::CommandResult Send(v1::InstructorCommand command) {
    std::string id = absl::StrCat("cmd-", next_command++);
    command.set_command_id(id);
    v1::RunClassRequest request;
    *request.mutable_command() = command;
    EXPECT_TRUE(stream->Write(request));
    v1::CommandResult result;
    bool got = in.WaitFor([&](const std::vector<v1::RunClassResponse>& all) {
      for (const auto& m : all) {
        if (m.has_command_result() && m.command_result().command_id() == id) {
          result = m.command_result();
          return true;
        }
      }
      return false;
    });
    EXPECT_TRUE(got) << "no result for " << command.ShortDebugString();
    return result;
  }
  void Close() {
    stream->WritesDone();
    in.WaitDone();
  }
};

// One participant's stream.
struct ParticipantClient {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::JoinClassRequest, v1::JoinClassResponse>>
      stream;
  Collector<v1::JoinClassResponse> in;
  std::string participant_id;
  std::string resume_token;
  v1::Joined joined;
  // The stream's status when the join was refused (no Joined came).
  grpc::Status refused;

  ~ParticipantClient() {
    if (context != nullptr) context->TryCancel();
    in.Join();
  }

  // Sends a report and waits for its ack.
  v1::ReportAck Report(const v1::JoinClassRequest& request,
                       const std::string& report_id) {
    EXPECT_TRUE(stream->Write(request));
    v1::ReportAck ack;
    bool got = in.WaitFor([&](const std::vector<v1::JoinClassResponse>& all) {
      for (auto it = all.rbegin(); it != all.rend(); ++it) {
        if (it->has_ack() && it->ack().report_id() == report_id) {
          ack = it->ack();
          return true;
        }
      }
      return false;
    });
    EXPECT_TRUE(got) << "no ack for " << report_id;
    return ack;
  }

  // The highest event seq this client has seen.
  int64_t LastSeq() const {
    int64_t seq = 0;
    for (const auto& m : in.messages()) {
      if (m.has_snapshot()) seq = std::max(seq, m.snapshot().seq());
      if (m.has_event()) seq = std::max(seq, m.event().seq());
    }
    return seq;
  }
};

struct KioskClient {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<v1::WatchClassResponse>> stream;
  Collector<v1::WatchClassResponse> in;

  ~KioskClient() {
    if (context != nullptr) context->TryCancel();
    in.Join();
  }
};

// A circuitd in this process with the built-in library.
class LiveServer {
 public:
  explicit LiveServer(ServerOptions options = DefaultOptions(),
                      const Clock* clock = Clock::Real())
      : options_(std::move(options)), clock_(clock) {
    SetLogQuiet(true);
    auto library = CircuitLibrary::LoadEmbedded();
    EXPECT_TRUE(library.ok()) << library.status();
    library_ = std::make_unique<CircuitLibrary>(std::move(*library));
    Start();
  }

  // Stops the server (as a drain does) and starts it again with the same
  // options: with a SQLite journal, on the same data directory.
  void Restart() {
    stub_.reset();
    channel_.reset();
    server_.reset();
    Start();
  }

  // Options for a server journaling to SQLite in `data_dir`.
  static ServerOptions SqliteOptions(const std::string& data_dir) {
    ServerOptions options = DefaultOptions();
    options.journal = "sqlite";
    options.data_dir = data_dir;
    return options;
  }

  // DefaultOptions with the HTTP listener on too, on port 0.
  static ServerOptions HttpOptions() {
    ServerOptions options = DefaultOptions();
    options.http_listen = "127.0.0.1:0";
    return options;
  }

  static ServerOptions DefaultOptions() {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.service.keys.instructor_key = kInstructorKey;
    options.service.keys.kiosk_key = kKioskKey;
    return options;
  }

  CircuitServer* server() { return server_.get(); }
  const CircuitLibrary* library() const { return library_.get(); }
  v1::CircuitService::Stub* stub() { return stub_.get(); }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }

  // A new channel, so a cut connection affects one client only.
  std::unique_ptr<v1::CircuitService::Stub> NewStub() {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    return v1::CircuitService::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                  grpc::InsecureChannelCredentials(), args));
  }

  v1::ClassInfo CreateClass(const std::string& circuit_id) {
    v1::CreateClassRequest request;
    request.set_circuit_id(circuit_id);
    v1::CreateClassResponse response;
    grpc::Status status =
        stub_->CreateClass(Context(kInstructorKey).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.class_info();
  }

  std::unique_ptr<InstructorClient> Instruct(const std::string& class_id,
                                             int64_t last_seq = 0) {
    auto client = std::make_unique<InstructorClient>();
    client->context = Context(kInstructorKey);
    client->stream = stub_->RunClass(client->context.get());
    v1::RunClassRequest attach;
    attach.mutable_attach()->set_class_id(class_id);
    attach.mutable_attach()->set_last_seq(last_seq);
    EXPECT_TRUE(client->stream->Write(attach));
    client->in.Start(client->stream.get());
    return client;
  }

  std::unique_ptr<KioskClient> Watch(const std::string& class_id,
                                     int64_t last_seq = 0) {
    auto client = std::make_unique<KioskClient>();
    client->context = Context(kKioskKey);
    v1::WatchClassRequest request;
    request.set_class_id(class_id);
    request.set_last_seq(last_seq);
    client->stream = stub_->WatchClass(client->context.get(), request);
    client->in.Start(client->stream.get());
    return client;
  }

  // Joins and waits for `joined`.
  std::unique_ptr<ParticipantClient> Join(
      const std::string& join_code, const std::string& name,
      bool show_name = true, v1::CircuitService::Stub* stub = nullptr) {
    v1::JoinRequest join;
    join.set_join_code(join_code);
    join.mutable_check_in()->set_display_name(name);
    join.mutable_check_in()->set_show_name_on_kiosk(show_name);
    auto client = JoinWith(join, stub);
    EXPECT_FALSE(client->participant_id.empty()) << "no joined for " << name;
    return client;
  }

  // Sends `join` and waits for `joined` or the end of the stream (a refusal:
  // `refused` says why, participant_id stays empty).
  std::unique_ptr<ParticipantClient> JoinWith(
      const v1::JoinRequest& join, v1::CircuitService::Stub* stub = nullptr) {
    auto client = std::make_unique<ParticipantClient>();
    client->context = Context();
    client->stream =
        (stub ? stub : stub_.get())->JoinClass(client->context.get());
    v1::JoinClassRequest request;
    *request.mutable_join() = join;
    EXPECT_TRUE(client->stream->Write(request));
    client->in.Start(client->stream.get());
    client->in.WaitFor([](const std::vector<v1::JoinClassResponse>& all) {
      for (const auto& m : all) {
        if (m.has_joined()) return true;
      }
      return false;
    });
    for (const auto& m : client->in.messages()) {
      if (m.has_joined()) {
        client->joined = m.joined();
        client->participant_id = m.joined().participant_id();
        client->resume_token = m.joined().resume_token();
      }
    }
    if (client->participant_id.empty()) client->refused = client->in.WaitDone();
    return client;
  }

  // Resumes a seat on a new stream.
  std::unique_ptr<ParticipantClient> Resume(const std::string& token,
                                            int64_t last_seq) {
    auto client = std::make_unique<ParticipantClient>();
    client->context = Context(token);
    client->stream = stub_->JoinClass(client->context.get());
    client->resume_token = token;
    v1::JoinClassRequest resume;
    resume.mutable_resume()->set_last_seq(last_seq);
    EXPECT_TRUE(client->stream->Write(resume));
    client->in.Start(client->stream.get());
    return client;
  }

 private:
  void Start() {
    auto server = CircuitServer::Start(options_, library_.get(), clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::CircuitService::NewStub(channel_);
  }

  const ServerOptions options_;
  const Clock* const clock_;
  std::unique_ptr<CircuitLibrary> library_;
  std::unique_ptr<CircuitServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CircuitService::Stub> stub_;
};

inline v1::InstructorCommand Cmd(
    const std::function<void(v1::InstructorCommand*)>& fill) {
  v1::InstructorCommand command;
  fill(&command);
  return command;
}

inline v1::JoinClassRequest Completion(const std::string& id, int block,
                                       int set, v1::Side side, int reps) {
  v1::JoinClassRequest request;
  auto* c = request.mutable_completion();
  c->set_report_id(id);
  c->set_block_index(block);
  c->set_set(set);
  c->set_side(side);
  c->set_reps(reps);
  return request;
}

// Waits until the instructor has seen the event `seq`; the latest state it
// has then.
inline v1::ClassState StateAfter(InstructorClient& instructor, int64_t seq) {
  v1::ClassState state;
  bool seen =
      instructor.in.WaitFor([&](const std::vector<v1::RunClassResponse>& all) {
        bool reached = false;
        for (const auto& m : all) {
          if (m.has_snapshot()) {
            state = m.snapshot().state();
            reached = reached || m.snapshot().seq() >= seq;
          }
          if (m.has_event()) {
            if (m.event().has_state()) state = m.event().state();
            reached = reached || m.event().seq() >= seq;
          }
        }
        return reached;
      });
  EXPECT_TRUE(seen) << "the instructor never saw seq " << seq;
  return state;
}

// A fresh instructor view of the class, from a second console.
inline v1::InstructorSnapshot FreshSnapshot(LiveServer& server,
                                            const std::string& class_id) {
  auto observer = server.Instruct(class_id);
  v1::InstructorSnapshot snapshot;
  EXPECT_TRUE(
      observer->in.WaitFor([&](const std::vector<v1::RunClassResponse>& all) {
        for (const auto& m : all) {
          if (m.has_snapshot()) {
            snapshot = m.snapshot();
            return true;
          }
        }
        return false;
      }));
  observer->Close();
  return snapshot;
}

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_INTEGRATION_LIVE_HARNESS_H_
