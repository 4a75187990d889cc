#ifndef CIRCUIT_CLIENT_LIB_LIVE_SESSION_H_
#define CIRCUIT_CLIENT_LIB_LIVE_SESSION_H_

// Live sessions: one per role (instructor, participant, kiosk). A session
// keeps one stream open on a thread of its own, mirrors the class, and when
// the stream drops it reconnects with backoff and resumes from the last
// event seq it applied, so the mirror misses nothing. A participant session
// also queues reports while disconnected and resends them with the same ids
// until each is acknowledged; the server counts a retried id once.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "circuit/v1/service.grpc.pb.h"
#include "client/lib/class_mirror.h"
#include "client/lib/connection.h"
#include "google/protobuf/message.h"

namespace circuit::client {

// The state of a session's link to the server.
enum class LinkState {
  kConnecting,    // opening the first stream
  kLive,          // a stream is open and the mirror is current
  kReconnecting,  // the stream dropped; waiting to retry, then resuming
  kClosed,        // stopped, left the class, or the server ended the stream
  kFailed,        // the server refused for good (see SessionStatus.error)
};

const char* LinkStateName(LinkState state);

struct SessionStatus {
  LinkState link = LinkState::kConnecting;
  // Why the last stream ended; OK while the first one is open.
  absl::Status error;
  // Streams opened after the first.
  int reconnects = 0;
  // Snapshots received after resuming (resumes outside the retention
  // window); 0 when every resume replayed the missed events.
  int resume_snapshots = 0;
  // What to add to this machine's clock to get the server's.
  int64_t clock_offset_ms = 0;
};

struct SessionOptions {
  // Backoff between reconnects: doubles from `initial` up to `max`, with
  // jitter. A GoingAway's reconnect_after_ms is honoured.
  absl::Duration backoff_initial = absl::Milliseconds(250);
  absl::Duration backoff_max = absl::Seconds(5);
  // Clock samples taken when a stream opens.
  int clock_samples = 5;
  // Participant: reports kept while disconnected; Submit refuses more.
  int max_queued_reports = 256;
  // Participant: join with a kept profile (its credential), or ask for one
  // to be kept (JoinRequest.keep_profile); Joined() then has it.
  std::string profile_credential;
  bool keep_profile = false;
};

// A new JoinRequest.client_join_id: 32 lowercase hex characters, 128 bits
// from std::random_device.
std::string NewClientJoinId();

// The loop shared by the three roles. Thread-safe.
class LiveSession {
 public:
  // Called on the session's thread after every message is applied (with
  // the message) and after the link changes (with nullptr). Keep it short:
  // the next message waits for it. Never call Stop from it.
  using Listener = std::function<void(const google::protobuf::Message*)>;

  virtual ~LiveSession();
  LiveSession(const LiveSession&) = delete;
  LiveSession& operator=(const LiveSession&) = delete;

  // Starts the session's thread. Call once, after SetListener.
  void Start();
  // Closes the stream and joins the thread. Idempotent.
  void Stop();

  void SetListener(Listener listener);

  // A copy of the mirror and the status.
  ClassMirror Mirror() const;
  SessionStatus Status() const;
  // The server's clock now, from this machine's clock and the offset.
  int64_t ServerNowMs() const;

  // Waits until `predicate` holds over the mirror; false at the deadline or
  // when the session fails or closes first.
  bool WaitFor(const std::function<bool(const ClassMirror&)>& predicate,
               absl::Duration timeout);
  // Waits until the link is `state`; false at the deadline.
  bool WaitForLink(LinkState state, absl::Duration timeout);

  // Cancels the open stream as a network drop would; the session reconnects
  // and resumes. For tests and the demo's flaky participant.
  void DropConnection();
  // Holds off reconnecting until the matching Resume..., as a phone out of
  // coverage would; DropConnection first to go offline.
  void PauseReconnecting();
  void ResumeReconnecting();

 protected:
  LiveSession(std::shared_ptr<Connection> connection, SessionOptions options);

  // Opens one stream in `context`, reads it to the end and returns how it
  // ended. Called on the session's thread, again after each drop.
  virtual grpc::Status RunStream(grpc::ClientContext* context) = 0;
  // Credentials for the next stream.
  virtual std::string Secret() const = 0;
  // Codes that end the session instead of reconnecting.
  virtual bool IsPermanent(const grpc::Status& status) const;

  // For RunStream: the parts every response shares.
  template <typename Response>
  void ApplyCommon(const Response& response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks the link live after the first response of a stream.
  void MarkLive() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls the listener with `message`; call without mu_ held.
  void Notify(const google::protobuf::Message* message)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the session after this stream instead of reconnecting.
  void CloseAfterStream() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<Connection> connection_;
  const SessionOptions options_;
  mutable absl::Mutex mu_;
  ClassMirror mirror_ ABSL_GUARDED_BY(mu_);
  SessionStatus status_ ABSL_GUARDED_BY(mu_);
  // Set by Stop.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

 private:
  void Loop();
  absl::Duration NextBackoff() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Listener listener_;
  std::thread thread_;
  bool close_after_stream_ ABSL_GUARDED_BY(mu_) = false;
  bool reconnect_paused_ ABSL_GUARDED_BY(mu_) = false;
  int failed_attempts_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t going_away_after_ms_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
};

// The instructor's console: RunClass on one class.
class InstructorSession : public LiveSession {
 public:
  InstructorSession(std::shared_ptr<Connection> connection,
                    std::string instructor_key, std::string class_id,
                    SessionOptions options = {});
  ~InstructorSession() override;

  // Sends `command` (its command_id is filled in when empty) and returns its
  // id; UNAVAILABLE while not connected: commands are not queued, since a
  // late "next" would surprise the room.
  absl::StatusOr<std::string> Send(v1::InstructorCommand command);
  // Sends and waits for the result; its code as a status.
  absl::StatusOr<v1::CommandResult> SendAndWait(v1::InstructorCommand command,
                                                absl::Duration timeout);
  // The latest results, by command id.
  absl::optional<v1::CommandResult> Result(const std::string& id) const;

 private:
  grpc::Status RunStream(grpc::ClientContext* context) override;
  std::string Secret() const override { return key_; }

  using Stream =
      grpc::ClientReaderWriter<v1::RunClassRequest, v1::RunClassResponse>;
  const std::string key_;
  const std::string class_id_;
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  Stream* stream_ ABSL_GUARDED_BY(write_mu_) = nullptr;
  const std::string id_prefix_;
  int next_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, v1::CommandResult> results_ ABSL_GUARDED_BY(mu_);
};

// A participant: JoinClass with a join code, then resume with the token.
class ParticipantSession : public LiveSession {
 public:
  ParticipantSession(std::shared_ptr<Connection> connection,
                     std::string join_code, v1::CheckIn check_in,
                     SessionOptions options = {});
  ~ParticipantSession() override;

  // Queues a report (a JoinClassRequest with completion, effort or symptom;
  // its report_id is filled in when empty) and sends it now when connected;
  // it is resent with the same id after each reconnect until acknowledged.
  // When connected, the pending reports whose latest ack was UNAVAILABLE
  // (not recorded, retry later) are sent again first, or after
  // `backoff_initial` when nothing is submitted meanwhile.
  // Returns the id; RESOURCE_EXHAUSTED when the queue is full,
  // INVALID_ARGUMENT when `report` is not a report.
  absl::StatusOr<std::string> Submit(v1::JoinClassRequest report);
  // Shortcuts that fill the block, set and side from the latest work
  // interval; FAILED_PRECONDITION before the class's state has arrived.
  absl::StatusOr<std::string> ReportReps(int reps);
  // A combination set (the 8-8-8 hip thrust) part by part: `amounts` in the
  // exercise's part order; reps is the first part's (proto/README.md).
  // FAILED_PRECONDITION when the exercise has no parts, INVALID_ARGUMENT
  // when the count does not match.
  absl::StatusOr<std::string> ReportParts(const std::vector<int>& amounts);
  absl::StatusOr<std::string> ReportEffort(v1::EffortFeel feel);
  absl::StatusOr<std::string> ReportCr10(int cr10);
  absl::StatusOr<std::string> ReportSymptom(v1::Symptom symptom,
                                            const std::string& text = "");
  // Leaves the class for good and closes the session.
  void Leave();

  // Reports sent or queued and not yet acknowledged.
  int PendingReports() const;
  // Waits until every report is acknowledged; false at the deadline or when
  // the session closes or fails first.
  bool WaitForAllAcked(absl::Duration timeout);
  // Waits for the acknowledgement of report `id`; nullopt at the deadline.
  absl::optional<v1::ReportAck> WaitForAck(const std::string& id,
                                           absl::Duration timeout);
  // The acknowledgement of report `id`, once it came.
  absl::optional<v1::ReportAck> Ack(const std::string& id) const;
  // The latest acknowledgements, newest last (at most 32).
  std::deque<v1::ReportAck> RecentAcks() const;
  // The seat's resume token once joined; keep it secret.
  std::string ResumeToken() const;
  // The latest Joined (its profile id, and the profile credential when the
  // join made her profile).
  v1::Joined Joined() const;

 private:
  grpc::Status RunStream(grpc::ClientContext* context) override;
  std::string Secret() const override;
  bool IsPermanent(const grpc::Status& status) const override;
  // A completion about the latest work interval (block, set and side);
  // FAILED_PRECONDITION before the first snapshot.
  absl::StatusOr<v1::JoinClassRequest> AboutLastWork() const;
  absl::StatusOr<int> LastWorkBlock() const;
  static std::string ReportId(const v1::JoinClassRequest& report);

  using Stream =
      grpc::ClientReaderWriter<v1::JoinClassRequest, v1::JoinClassResponse>;
  const std::string join_code_;
  const v1::CheckIn check_in_;
  const std::string id_prefix_;
  // Sent with every join of this session, so a join retried after its
  // Joined was lost gets the same seat back.
  const std::string client_join_id_;
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  Stream* stream_ ABSL_GUARDED_BY(write_mu_) = nullptr;
  std::string resume_token_ ABSL_GUARDED_BY(mu_);
  v1::Joined joined_ ABSL_GUARDED_BY(mu_);
  const std::string profile_credential_;
  const bool keep_profile_;
  int next_report_ ABSL_GUARDED_BY(mu_) = 0;
  // Unacknowledged reports in the order submitted.
  std::deque<v1::JoinClassRequest> pending_ ABSL_GUARDED_BY(mu_);
  // Ids of pending reports whose latest ack was UNAVAILABLE: the next Submit
  // sends them again before its own report.
  std::set<std::string> retry_on_submit_ ABSL_GUARDED_BY(mu_);
  // Sends those again after a pause, when no Submit came meanwhile (the
  // last reports of a class, say): started at the first such answer.
  void RetryLoop();
  absl::Time retry_due_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::thread retrier_ ABSL_GUARDED_BY(mu_);
  // Final acknowledgements by report id.
  std::map<std::string, v1::ReportAck> acks_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::ReportAck> recent_acks_ ABSL_GUARDED_BY(mu_);
};

// A studio kiosk: WatchClass on one class.
class KioskSession : public LiveSession {
 public:
  KioskSession(std::shared_ptr<Connection> connection, std::string kiosk_key,
               std::string class_id, SessionOptions options = {});
  ~KioskSession() override;

 private:
  grpc::Status RunStream(grpc::ClientContext* context) override;
  std::string Secret() const override { return key_; }

  const std::string key_;
  const std::string class_id_;
};

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_LIB_LIVE_SESSION_H_
