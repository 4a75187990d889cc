#include "server/live/class_actor.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/auth/principal.h"
#include "server/common/log.h"
#include "server/common/stats.h"
#include "server/engine/adaptation.h"
#include "server/engine/carry_over.h"
#include "server/engine/summary.h"
#include "server/fanout/wire.h"

namespace circuit {
namespace {

// The programme a new profile follows and the stage it starts at: the
// library's first programme, at its first stage (the coach moves her on).
void StartingStage(const CircuitLibrary* library, std::string* programme_id,
                   std::string* stage_id, std::string* stage_name) {
  programme_id->clear();
  stage_id->clear();
  stage_name->clear();
  if (library == nullptr || library->programmes().empty() ||
      library->programmes().front().stages().empty()) {
    return;
  }
  const v1::Programme& programme = library->programmes().front();
  *programme_id = programme.id();
  *stage_id = programme.stages(0).id();
  *stage_name = programme.stages(0).name();
}

constexpr int64_t kMinClientJoinId = 16;
constexpr int64_t kMaxClientJoinId = 64;

absl::Status NotRecorded(const absl::Status& why) {
  return absl::UnavailableError(
      absl::StrCat("not recorded: ", why.message(),
                   "; nothing changed, send it again (reports with the same "
                   "report_id)"));
}

absl::Status SeatReleased() {
  return absl::NotFoundError(
      "this seat was released (the participant left, or was away longer "
      "than the hold); join again with the class's join code");
}

}  // namespace

absl::StatusOr<std::shared_ptr<ClassActor>> ClassActor::Create(
    const internal::ClassRecord& record, const ActorDeps& deps) {
  return Make(record, deps, /*follower=*/false);
}

absl::StatusOr<std::shared_ptr<ClassActor>> ClassActor::CreateFollower(
    const internal::ClassRecord& record, const ActorDeps& deps) {
  if (deps.cluster == nullptr) {
    return absl::FailedPreconditionError("a follower needs a cluster");
  }
  return Make(record, deps, /*follower=*/true);
}

absl::StatusOr<std::shared_ptr<ClassActor>> ClassActor::Make(
    const internal::ClassRecord& record, const ActorDeps& deps, bool follower) {
  std::vector<v1::Exercise> exercises(record.exercises().begin(),
                                      record.exercises().end());
  absl::StatusOr<CircuitLibrary> library = CircuitLibrary::FromParts(
      absl::StrCat("class ", record.info().class_id()), record.circuit(),
      exercises, record.rules());
  if (!library.ok()) return library.status();
  return std::shared_ptr<ClassActor>(
      new ClassActor(record, std::move(*library), deps, follower));
}

ClassActor::ClassActor(const internal::ClassRecord& record,
                       CircuitLibrary library, const ActorDeps& deps,
                       bool follower)
    : class_id_(record.info().class_id()),
      join_code_(record.info().join_code()),
      library_(std::move(library)),
      journal_(deps.journal),
      clock_(deps.clock),
      seats_(deps.seats),
      profiles_(deps.profiles),
      server_library_(deps.library),
      hold_ms_(absl::ToInt64Milliseconds(deps.session.hold)),
      strand_(Strand::Create(deps.executor)),
      follower_(follower),
      cluster_(deps.cluster),
      session_(record.info(), library_.circuits().front(), &library_,
               deps.session),
      info_(session_.info()) {}

v1::ClassInfo ClassActor::Info() const {
  absl::MutexLock lock(&info_mu_);
  return info_;
}

// --- Journal, then apply -----------------------------------------------------

void ClassActor::Commit(internal::Entry entry, Applied applied) {
  if (follower_) {
    // Never reached: a follower forwards its inputs to the owner.
    applied(engine::EntryOutcome{absl::FailedPreconditionError(
        "this node follows the class; its owner records its inputs")});
    return;
  }
  if (closed_) {
    applied(engine::EntryOutcome{
        NotRecorded(absl::UnavailableError("the server is shutting down"))});
    return;
  }
  last_at_ms_ = std::max(last_at_ms_, clock_->NowUnixMs());
  entry.set_at_unix_ms(last_at_ms_);
  // The journal answers on its own thread; the answer comes back to the
  // strand in the order the appends were made, so the session applies
  // inputs in journal order.
  auto self = shared_from_this();
  auto entry_copy = std::make_shared<internal::Entry>(entry);
  journal_->Append(
      class_id_, std::move(entry),
      [self, entry_copy,
       applied = std::move(applied)](absl::Status committed) mutable {
        self->strand_->Post([self, entry_copy, committed = std::move(committed),
                             applied = std::move(applied)]() mutable {
          self->ApplyCommitted(*entry_copy, committed, std::move(applied));
        });
      });
}

void ClassActor::ApplyCommitted(const internal::Entry& entry,
                                absl::Status committed, Applied applied) {
  if (!committed.ok()) {
    LogWarning("class %s: journal write failed: %s", class_id_,
               std::string(committed.message()));
    applied(engine::EntryOutcome{NotRecorded(committed)});
    return;
  }
  engine::EntryOutcome outcome = session_.ApplyEntry(entry);
  ++position_;
  if (outcome.status.ok()) RegisterSeat(entry);
  AfterApply();
  applied(outcome);
}

void ClassActor::AfterApply() {
  std::vector<engine::Event> events = session_.DrainEvents();
  if (!events.empty()) broadcaster_.Publish(events, clock_->NowUnixMs());
  {
    absl::MutexLock lock(&info_mu_);
    info_ = session_.info();
  }
  RecordEndIfNeeded();
}

void ClassActor::RecordEndIfNeeded() {
  if (follower_ || end_recorded_ || closed_ ||
      session_.phase() != v1::CLASS_PHASE_ENDED) {
    return;
  }
  end_recorded_ = true;
  auto self = shared_from_this();
  auto retry = [self](absl::Status status) {
    if (status.ok()) return;
    LogError("class %s: cannot record its end: %s", self->class_id_,
             std::string(status.message()));
    // Tried again on the next tick.
    self->strand_->Post([self] { self->end_recorded_ = false; });
  };
  v1::ClassSummary summary = session_.Summary(clock_->Now());
  if (profiles_ == nullptr) {
    journal_->EndClass(summary, std::move(retry));
    return;
  }
  internal::ClassRecord record;
  *record.mutable_info() = summary.class_info();
  *record.mutable_circuit() = library_.circuits().front();
  for (const v1::Exercise& exercise : library_.exercises()) {
    *record.add_exercises() = exercise;
  }
  profiles_->EndClass(
      summary,
      [record = std::move(record)](const v1::ParticipantSummary& participant,
                                   const std::string& stage_id) {
        return engine::MakePastClass(record, participant, stage_id);
      },
      std::move(retry));
}

void ClassActor::RegisterSeat(const internal::Entry& entry) {
  if (entry.has_join()) {
    const internal::JoinInput& join = entry.join();
    seats_->Add(join.resume_token_sha256(), join.client_join_id_sha256(),
                SeatRef{class_id_, join.participant_id()});
    if (profiles_ != nullptr && !join.profile_id().empty() &&
        session_.phase() != v1::CLASS_PHASE_ENDED) {
      profiles_->SeatOpened(join.profile_id(), class_id_,
                            join.participant_id());
    }
    NoteParticipantId(join.participant_id());
  } else if (entry.has_token()) {
    seats_->ReplaceToken(class_id_, entry.token().participant_id(),
                         entry.token().resume_token_sha256());
  }
}

void ClassActor::NoteParticipantId(const std::string& participant_id) {
  int64_t n = 0;
  // Ids this actor gave are small; a huge one is a damaged journal's, and
  // n + 1 (or the ids after it) must not overflow.
  constexpr int64_t kLargestNoted = std::numeric_limits<int64_t>::max() / 2;
  if (participant_id.size() > 1 && participant_id[0] == 'p' &&
      absl::SimpleAtoi(participant_id.substr(1), &n) && n < kLargestNoted) {
    next_participant_ = std::max(next_participant_, n + 1);
  }
}

// --- Following and forwarding
// ----------------------------------------------------------

void ClassActor::FollowEntry(internal::Entry entry) {
  strand_->Post([self = shared_from_this(), entry = std::move(entry)] {
    self->ApplyFollowed(entry);
  });
}

void ClassActor::ApplyFollowed(const internal::Entry& entry) {
  if (entry.has_join()) NoteParticipantId(entry.join().participant_id());
  engine::EntryOutcome outcome = session_.ApplyEntry(entry);
  ++position_;
  if (outcome.status.ok()) {
    last_at_ms_ = std::max(last_at_ms_, entry.at_unix_ms());
    RegisterSeat(entry);
  }
  AfterApply();
  while (!waiting_.empty() && waiting_.begin()->first <= position_) {
    auto done = std::move(waiting_.begin()->second);
    waiting_.erase(waiting_.begin());
    done(true);
  }
  behind_since_ns_.store(waiting_.empty() ? 0 : MonotonicNanos(),
                         std::memory_order_relaxed);
  if (entry.has_restart() && !closed_) {
    // A new owner took the class over and marked every seat dropped: the
    // participants whose streams are here are connected again.
    for (const auto& [participant_id, attach_id] : attach_ids_) {
      internal::Forwarded connect;
      connect.set_attach_id(attach_id);
      connect.set_connect(participant_id);
      Forward(std::move(connect),
              [this, participant_id = participant_id](
                  absl::StatusOr<internal::ForwardedReply> reply) {
                if (reply.ok()) return;
                // She resumes, and the resume connects her.
                std::shared_ptr<Stream> stream =
                    broadcaster_.RemoveParticipant(participant_id);
                attach_ids_.erase(participant_id);
                if (stream != nullptr) {
                  stream->Close(absl::UnavailableError(absl::StrCat(
                                    "the class moved to another node: ",
                                    reply.status().message(), "; resume")),
                                /*after_queued=*/true);
                }
              });
    }
  }
}

void ClassActor::WhenApplied(int64_t position,
                             absl::AnyInvocable<void(bool)> done) {
  strand_->Post(
      [self = shared_from_this(), position, done = std::move(done)]() mutable {
        if (self->position_ >= position) {
          done(true);
        } else if (self->closed_) {
          done(false);
        } else {
          self->Await(position, std::move(done));
        }
      });
}

void ClassActor::Await(int64_t position, absl::AnyInvocable<void(bool)> done) {
  if (waiting_.empty()) {
    behind_since_ns_.store(MonotonicNanos(), std::memory_order_relaxed);
  }
  waiting_.emplace(position, std::move(done));
}

absl::Duration ClassActor::Behind() const {
  const int64_t since = behind_since_ns_.load(std::memory_order_relaxed);
  if (since == 0) return absl::ZeroDuration();
  return absl::Nanoseconds(MonotonicNanos() - since);
}

std::string ClassActor::NextAttachId() {
  return absl::StrCat(cluster_ == nullptr ? "" : cluster_->node(), "/",
                      next_attach_++);
}

void ClassActor::Forward(
    internal::Forwarded request,
    absl::AnyInvocable<void(absl::StatusOr<internal::ForwardedReply>)> done) {
  request.set_class_id(class_id_);
  cluster_->Forward(
      std::move(request),
      [self = shared_from_this(), done = std::move(done)](
          absl::StatusOr<internal::ForwardedReply> reply) mutable {
        self->strand_->Post(
            [self, reply = std::move(reply), done = std::move(done)]() mutable {
              self->Answered(std::move(reply), std::move(done));
            });
      });
}

void ClassActor::Answered(
    absl::StatusOr<internal::ForwardedReply> reply,
    absl::AnyInvocable<void(absl::StatusOr<internal::ForwardedReply>)> done) {
  if (!reply.ok()) {
    done(reply.status());
    return;
  }
  if (reply->code() != 0) {
    done(absl::Status(static_cast<absl::StatusCode>(reply->code()),
                      reply->message()));
    return;
  }
  // The owner's answer shows the input applied: so must whatever this node
  // sends its client next.
  const int64_t position = reply->position();
  auto answer = [reply = *std::move(reply),
                 done = std::move(done)](bool applied) mutable {
    if (applied) {
      done(std::move(reply));
    } else {
      done(absl::UnavailableError(
          "recorded by the class's owner, but this node stopped following "
          "the class; resume on any node"));
    }
  };
  if (position_ >= position) {
    answer(true);
  } else if (closed_) {
    answer(false);
  } else {
    Await(position, std::move(answer));
  }
}

void ClassActor::ForwardReport(internal::ReportInput report, ReportDone done) {
  const std::string participant_id = report.participant_id();
  ReportQueue& queue = report_queues_[participant_id];
  queue.waiting.emplace_back(std::move(report), std::move(done));
  if (!queue.busy) SendNextReport(participant_id);
}

void ClassActor::SendNextReport(const std::string& participant_id) {
  auto it = report_queues_.find(participant_id);
  if (it == report_queues_.end()) return;
  ReportQueue& queue = it->second;
  if (queue.waiting.empty()) {
    report_queues_.erase(it);
    return;
  }
  queue.busy = true;
  internal::Forwarded forwarded;
  forwarded.set_class_id(class_id_);
  *forwarded.mutable_report() = std::move(queue.waiting.front().first);
  ReportDone done = std::move(queue.waiting.front().second);
  queue.waiting.pop_front();
  auto answer = [done = std::move(done)](
                    absl::StatusOr<internal::ForwardedReply> reply) mutable {
    if (reply.ok()) {
      done(engine::ReportResult{reply->seq(), reply->duplicate()});
    } else {
      done(reply.status());
    }
  };
  cluster_->Forward(
      std::move(forwarded),
      [self = shared_from_this(), participant_id, answer = std::move(answer)](
          absl::StatusOr<internal::ForwardedReply> reply) mutable {
        self->strand_->Post([self, participant_id, reply = std::move(reply),
                             answer = std::move(answer)]() mutable {
          auto queue_it = self->report_queues_.find(participant_id);
          const bool unknown =
              !reply.ok() ||
              reply->code() == static_cast<int>(absl::StatusCode::kUnavailable);
          if (!unknown || queue_it == self->report_queues_.end()) {
            if (queue_it != self->report_queues_.end()) {
              queue_it->second.busy = false;
              self->SendNextReport(participant_id);
            }
            self->Answered(std::move(reply), std::move(answer));
            return;
          }
          // Not known to be recorded: nothing after it goes before it is
          // sent again (the client resends in order), or a later correction
          // of a set could be overtaken by an earlier count.
          const absl::Status why =
              reply.ok() ? absl::UnavailableError(reply->message())
                         : reply.status();
          std::deque<std::pair<internal::ReportInput, ReportDone>> failed;
          failed.swap(queue_it->second.waiting);
          self->report_queues_.erase(queue_it);
          self->Answered(std::move(reply), std::move(answer));
          for (auto& [unsent, refuse] : failed) refuse(why);
        });
      });
}

void ClassActor::Serve(
    internal::Forwarded request,
    absl::AnyInvocable<void(internal::ForwardedReply)> done) {
  strand_->Post([self = shared_from_this(), request = std::move(request),
                 done = std::move(done)]() mutable {
    // Every answer says how far the log was applied when it was made.
    auto reply = [self, done = std::move(done)](
                     absl::Status status,
                     internal::ForwardedReply out) mutable {
      out.set_code(static_cast<int>(status.code()));
      out.set_message(std::string(status.message()));
      out.set_position(self->position_);
      done(std::move(out));
    };
    if (self->follower_) {
      reply(absl::UnavailableError(absl::StrCat("this node does not own class ",
                                                self->class_id_,
                                                " (any more); retry")),
            {});
      return;
    }
    const std::string attach_id = request.attach_id();
    switch (request.input_case()) {
      case internal::Forwarded::kJoin:
        self->SeatOnStrand(
            request.join(), [self, attach_id, reply = std::move(reply)](
                                absl::StatusOr<Seated> seated) mutable {
              internal::ForwardedReply out;
              if (seated.ok()) {
                self->attach_ids_[seated->participant_id] = attach_id;
                out.set_participant_id(seated->participant_id);
                out.set_resume_token(seated->token);
                out.set_profile_id(seated->profile_id);
                out.set_profile_credential(seated->profile_credential);
              }
              reply(seated.status(), std::move(out));
            });
        return;
      case internal::Forwarded::kConnect: {
        const std::string participant_id = request.connect();
        self->Connect(participant_id, [self, participant_id, attach_id,
                                       reply = std::move(reply)](
                                          absl::Status connected) mutable {
          if (connected.ok()) {
            // Her stream is on the follower now: one here is superseded.
            std::shared_ptr<Stream> old =
                self->broadcaster_.RemoveParticipant(participant_id);
            if (old != nullptr) {
              old->Close(
                  absl::AbortedError(
                      "superseded by a newer stream for this participant"),
                  /*after_queued=*/false);
            }
            self->attach_ids_[participant_id] = attach_id;
          }
          reply(connected, {});
        });
        return;
      }
      case internal::Forwarded::kReport:
        self->ReportOnStrand(
            request.report(),
            [reply = std::move(reply)](
                absl::StatusOr<engine::ReportResult> result) mutable {
              internal::ForwardedReply out;
              if (result.ok()) {
                out.set_seq(result->seq);
                out.set_duplicate(result->duplicate);
              }
              reply(result.status(), std::move(out));
            });
        return;
      case internal::Forwarded::kCommand:
        self->CommandOnStrand(
            request.command(),
            [reply = std::move(reply)](absl::StatusOr<int64_t> seq) mutable {
              internal::ForwardedReply out;
              if (seq.ok()) out.set_seq(*seq);
              reply(seq.status(), std::move(out));
            });
        return;
      case internal::Forwarded::kLeave: {
        const std::string participant_id = request.leave();
        self->LeaveOnStrand(participant_id,
                            [self, participant_id, reply = std::move(reply)](
                                absl::Status status) mutable {
                              if (status.ok()) {
                                self->attach_ids_.erase(participant_id);
                              }
                              reply(status, {});
                            });
        return;
      }
      case internal::Forwarded::kDropped: {
        // Only the stream she is on now counts: a late drop of an older one
        // (she moved to another node) changes nothing.
        auto it = self->attach_ids_.find(request.dropped());
        if (it != self->attach_ids_.end() && it->second == attach_id) {
          self->attach_ids_.erase(it);
          self->Drop(request.dropped());
        }
        reply(absl::OkStatus(), {});
        return;
      }
      case internal::Forwarded::kPosition:
        reply(absl::OkStatus(), {});
        return;
      case internal::Forwarded::INPUT_NOT_SET:
        break;
    }
    reply(absl::InvalidArgumentError("a forwarded input with nothing in it"),
          {});
  });
}

// --- Recovery
// ------------------------------------------------------------------

void ClassActor::Replay(const std::vector<internal::Entry>& entries) {
  for (const internal::Entry& entry : entries) {
    if (entry.has_join()) NoteParticipantId(entry.join().participant_id());
    engine::EntryOutcome outcome = session_.ApplyEntry(entry);
    ++position_;
    if (!outcome.status.ok()) continue;
    // Only applied entries set the clock's floor: a damaged one's time (say
    // in the year 292277026) would otherwise become every later entry's.
    last_at_ms_ = std::max(last_at_ms_, entry.at_unix_ms());
    RegisterSeat(entry);
  }
  session_.DrainEvents();  // retained for resumes; nobody is subscribed yet
  session_.TakeRosterUpdate();
  session_.TakeProgressChanged();
  absl::MutexLock lock(&info_mu_);
  info_ = session_.info();
}

void ClassActor::Recover(absl::AnyInvocable<void(absl::Status)> done) {
  strand_->Post([self = shared_from_this(), done = std::move(done)]() mutable {
    if (self->session_.phase() == v1::CLASS_PHASE_ENDED) {
      self->RecordEndIfNeeded();
      done(absl::OkStatus());
      return;
    }
    internal::Entry entry;
    entry.mutable_restart();
    self->Commit(
        std::move(entry),
        [done = std::move(done)](const engine::EntryOutcome& outcome) mutable {
          done(outcome.status);
        });
  });
}

// --- Streams
// -------------------------------------------------------------------

void ClassActor::AttachInstructor(std::shared_ptr<Stream> stream,
                                  int64_t last_seq) {
  strand_->Post([self = shared_from_this(), stream = std::move(stream),
                 last_seq]() mutable {
    self->Attach(std::move(stream), Role::kInstructor, "", last_seq,
                 /*resume=*/false);
  });
}

void ClassActor::AttachKiosk(std::shared_ptr<Stream> stream, int64_t last_seq) {
  strand_->Post([self = shared_from_this(), stream = std::move(stream),
                 last_seq]() mutable {
    self->Attach(std::move(stream), Role::kKiosk, "", last_seq,
                 /*resume=*/false);
  });
}

void ClassActor::Join(std::shared_ptr<Stream> stream,
                      const v1::JoinRequest& request, SeatDone done) {
  strand_->Post([self = shared_from_this(), stream = std::move(stream), request,
                 done = std::move(done)]() mutable {
    if (self->follower_) {
      internal::Forwarded forwarded;
      const std::string attach_id = self->NextAttachId();
      forwarded.set_attach_id(attach_id);
      *forwarded.mutable_join() = request;
      self->Forward(
          std::move(forwarded),
          [self, stream = std::move(stream), attach_id, done = std::move(done)](
              absl::StatusOr<internal::ForwardedReply> reply) mutable {
            if (!reply.ok()) {
              done(reply.status());
              return;
            }
            Seated seated{reply->participant_id(), reply->resume_token(),
                          reply->profile_id(), reply->profile_credential()};
            self->SendJoined(stream.get(), seated);
            self->Attach(std::move(stream), Role::kParticipant,
                         seated.participant_id, 0, /*resume=*/false);
            self->attach_ids_[seated.participant_id] = attach_id;
            done(seated.participant_id);
          });
      return;
    }
    self->SeatOnStrand(
        request, [self, stream = std::move(stream), done = std::move(done)](
                     absl::StatusOr<Seated> seated) mutable {
          if (!seated.ok()) {
            done(seated.status());
            return;
          }
          self->SendJoined(stream.get(), *seated);
          self->Attach(std::move(stream), Role::kParticipant,
                       seated->participant_id, 0, /*resume=*/false);
          done(seated->participant_id);
        });
  });
}

void ClassActor::SeatOnStrand(const v1::JoinRequest& request, SeatedDone done) {
  const std::string& join_id = request.client_join_id();
  std::string join_hash;
  if (!join_id.empty()) {
    const int64_t length = engine::CharCount(join_id);
    if (length < kMinClientJoinId || length > kMaxClientJoinId) {
      done(absl::InvalidArgumentError(absl::StrCat(
          "client_join_id must be ", kMinClientJoinId, " to ", kMaxClientJoinId,
          " characters (make it random), got ", length)));
      return;
    }
    join_hash = Sha256(absl::StrCat(class_id_, "|", join_id));
    if (std::optional<std::string> seat =
            seats_->FindByJoinHash(class_id_, join_hash)) {
      RetakeSeat(*seat, request, std::move(done));
      return;
    }
  }
  NewSeat(request, std::move(join_hash), std::move(done));
}

void ClassActor::NewSeat(const v1::JoinRequest& request, std::string join_hash,
                         SeatedDone done) {
  const std::string participant_id = absl::StrCat("p", next_participant_);
  v1::CheckIn check_in = request.check_in();
  std::optional<v1::Profile> profile;
  if (!request.profile_credential().empty()) {
    if (profiles_ == nullptr) {
      done(absl::UnimplementedError("this server keeps no profiles"));
      return;
    }
    absl::StatusOr<v1::Profile> known =
        profiles_->Authenticate(request.profile_credential());
    if (!known.ok()) {
      done(known.status());
      return;
    }
    const std::string& class_studio = session_.info().studio_id().empty()
                                          ? std::string(kDefaultStudio)
                                          : session_.info().studio_id();
    if (known->studio_id() != class_studio) {
      done(absl::PermissionDeniedError(
          "this profile is kept by another studio; join without it"));
      return;
    }
    // What the check-in leaves out comes from her profile.
    if (check_in.display_name().empty()) {
      check_in.set_display_name(known->display_name());
    }
    if (check_in.track() == v1::RECOVERY_TRACK_UNSPECIFIED) {
      check_in.set_track(known->track());
    }
    if (!check_in.has_weeks_postpartum() && known->has_weeks_postpartum()) {
      check_in.set_weeks_postpartum(known->weeks_postpartum());
    }
    if (check_in.equipment().empty()) {
      check_in.set_equipment(known->equipment());
    }
    profile = *std::move(known);
  }
  if (absl::Status check = session_.CheckJoin(participant_id, check_in);
      !check.ok()) {
    done(check);
    return;
  }
  ++next_participant_;
  if (profile.has_value() || !request.keep_profile()) {
    CommitJoin(participant_id, std::move(check_in), std::move(join_hash),
               profile.has_value() ? &*profile : nullptr, "", std::move(done));
    return;
  }
  if (profiles_ == nullptr) {
    done(absl::UnimplementedError("this server keeps no profiles"));
    return;
  }
  // keep_profile: her profile is durable before the join that links it.
  std::string programme_id, stage_id, stage_name;
  StartingStage(server_library_, &programme_id, &stage_id, &stage_name);
  const std::string studio = session_.info().studio_id().empty()
                                 ? std::string(kDefaultStudio)
                                 : session_.info().studio_id();
  profiles_->Create(
      check_in, studio, programme_id, stage_id, stage_name,
      [self = shared_from_this(), participant_id, check_in,
       join_hash = std::move(join_hash), done = std::move(done)](
          absl::StatusOr<ProfileBook::Created> created) mutable {
        self->strand_->Post(
            [self, participant_id, check_in = std::move(check_in),
             join_hash = std::move(join_hash), created = std::move(created),
             done = std::move(done)]() mutable {
              if (!created.ok()) {
                done(created.status());
                return;
              }
              self->CommitJoin(participant_id, std::move(check_in),
                               std::move(join_hash), &created->profile,
                               std::move(created->credential), std::move(done));
            });
      });
}

void ClassActor::CommitJoin(const std::string& participant_id,
                            v1::CheckIn check_in, std::string join_hash,
                            const v1::Profile* profile,
                            std::string profile_credential, SeatedDone done) {
  NewToken token = MakeToken(class_id_);
  internal::Entry entry;
  internal::JoinInput* join = entry.mutable_join();
  join->set_participant_id(participant_id);
  *join->mutable_check_in() = std::move(check_in);
  join->set_resume_token_sha256(token.hash);
  join->set_client_join_id_sha256(join_hash);
  std::string profile_id;
  if (profile != nullptr) {
    profile_id = profile->profile_id();
    join->set_profile_id(profile_id);
    for (engine::SuggestionToMake& item :
         PlanFor(*profile, *profiles_->Recent(profile_id))) {
      v1::Suggestion* out = join->add_plan();
      out->set_kind(item.kind);
      out->set_exercise_id(std::move(item.exercise_id));
      out->set_suggested_exercise_id(std::move(item.suggested_exercise_id));
      out->set_suggested_exercise_name(std::move(item.suggested_exercise_name));
      out->set_reason(std::move(item.reason));
      out->set_from_history(true);
      out->set_start_side(item.start_side);
      out->set_suggested_stage_id(std::move(item.suggested_stage_id));
      out->set_suggested_stage_name(std::move(item.suggested_stage_name));
    }
  }
  Commit(std::move(entry),
         [seated = Seated{participant_id, std::move(token.token),
                          std::move(profile_id), std::move(profile_credential)},
          done = std::move(done)](const engine::EntryOutcome& outcome) mutable {
           if (!outcome.status.ok()) {
             done(outcome.status);
             return;
           }
           done(std::move(seated));
         });
}

std::vector<engine::SuggestionToMake> ClassActor::PlanFor(
    const v1::Profile& profile,
    const std::vector<internal::PastClass>& history) const {
  engine::PlanInputs inputs;
  inputs.circuit = &library_.circuits().front();
  inputs.library = server_library_ != nullptr ? server_library_ : &library_;
  inputs.track = profile.track();
  if (profile.has_weeks_postpartum()) {
    inputs.weeks_postpartum = profile.weeks_postpartum();
  }
  inputs.programme_id = profile.programme_id();
  inputs.stage_id = profile.stage_id();
  return engine::DerivePlan(inputs, history);
}

void ClassActor::RetakeSeat(const std::string& participant_id,
                            const v1::JoinRequest& request, SeatedDone done) {
  std::optional<v1::ConnectionState> connection =
      session_.Connection(participant_id);
  if (!connection.has_value() || *connection == v1::CONNECTION_STATE_LEFT) {
    done(SeatReleased());
    return;
  }
  // The first Joined was lost with its token: the seat gets a new one.
  NewToken token = MakeToken(class_id_);
  internal::Entry entry;
  entry.mutable_token()->set_participant_id(participant_id);
  entry.mutable_token()->set_resume_token_sha256(token.hash);
  const std::string profile_id = session_.ProfileOf(participant_id);
  // The same request that made her profile: its credential went with the
  // lost answer too.
  const bool reissue = !profile_id.empty() && profiles_ != nullptr &&
                       request.keep_profile() &&
                       request.profile_credential().empty();
  Commit(std::move(entry), [this, participant_id, profile_id, reissue,
                            token = std::move(token.token),
                            done = std::move(done)](
                               const engine::EntryOutcome& outcome) mutable {
    if (!outcome.status.ok()) {
      done(outcome.status);
      return;
    }
    auto connect = [self = shared_from_this(),
                    done = std::move(done)](Seated seated) mutable {
      const std::string id = seated.participant_id;
      self->Connect(id, [seated = std::move(seated), done = std::move(done)](
                            absl::Status connected) mutable {
        if (!connected.ok()) {
          done(connected);
        } else {
          done(std::move(seated));
        }
      });
    };
    if (!reissue) {
      connect(Seated{participant_id, token, profile_id, ""});
      return;
    }
    profiles_->Reissue(
        profile_id, [self = shared_from_this(), participant_id, profile_id,
                     token = std::move(token), connect = std::move(connect)](
                        absl::StatusOr<ProfileBook::Created> created) mutable {
          self->strand_->Post([participant_id, profile_id,
                               token = std::move(token),
                               created = std::move(created),
                               connect = std::move(connect)]() mutable {
            // Without a new credential (revoked meanwhile, say) she
            // still gets her seat.
            connect(Seated{participant_id, token, profile_id,
                           created.ok() ? created->credential : ""});
          });
        });
  });
}

void ClassActor::SendJoined(Stream* stream, const Seated& seated) {
  v1::JoinClassResponse joined;
  joined.set_server_time_unix_ms(clock_->NowUnixMs());
  joined.mutable_joined()->set_class_id(class_id_);
  joined.mutable_joined()->set_participant_id(seated.participant_id);
  joined.mutable_joined()->set_resume_token(seated.token);
  joined.mutable_joined()->set_hold_ms(hold_ms_);
  joined.mutable_joined()->set_profile_id(seated.profile_id);
  joined.mutable_joined()->set_profile_credential(seated.profile_credential);
  stream->Send(ToByteBuffer(joined), Delivery::kReliable);
}

void ClassActor::Resume(std::shared_ptr<Stream> stream,
                        const std::string& participant_id, int64_t last_seq,
                        SeatDone done) {
  strand_->Post([self = shared_from_this(), stream = std::move(stream),
                 participant_id, last_seq, done = std::move(done)]() mutable {
    self->ResumeOnStrand(std::move(stream), participant_id, last_seq,
                         /*resume=*/true, std::move(done));
  });
}

void ClassActor::ResumeOnStrand(std::shared_ptr<Stream> stream,
                                const std::string& participant_id,
                                int64_t last_seq, bool resume, SeatDone done) {
  if (follower_) {
    internal::Forwarded forwarded;
    const std::string attach_id = NextAttachId();
    forwarded.set_attach_id(attach_id);
    forwarded.set_connect(participant_id);
    Forward(std::move(forwarded),
            [this, stream = std::move(stream), participant_id, last_seq, resume,
             attach_id, done = std::move(done)](
                absl::StatusOr<internal::ForwardedReply> reply) mutable {
              if (!reply.ok()) {
                done(reply.status());
                return;
              }
              Attach(std::move(stream), Role::kParticipant, participant_id,
                     last_seq, resume);
              attach_ids_[participant_id] = attach_id;
              done(participant_id);
            });
    return;
  }
  Connect(participant_id,
          [this, stream = std::move(stream), participant_id, last_seq, resume,
           done = std::move(done)](absl::Status connected) mutable {
            if (!connected.ok()) {
              done(connected);
              return;
            }
            Attach(std::move(stream), Role::kParticipant, participant_id,
                   last_seq, resume);
            done(participant_id);
          });
}

void ClassActor::Connect(const std::string& participant_id,
                         absl::AnyInvocable<void(absl::Status)> done) {
  std::optional<v1::ConnectionState> connection =
      session_.Connection(participant_id);
  if (!connection.has_value() || *connection == v1::CONNECTION_STATE_LEFT) {
    done(SeatReleased());
    return;
  }
  if (*connection == v1::CONNECTION_STATE_CONNECTED) {
    // Still connected on another stream (or its drop is not recorded yet):
    // the seat just moves to the new one.
    drops_to_retry_.erase(participant_id);
    done(absl::OkStatus());
    return;
  }
  CommitConnection(participant_id, v1::CONNECTION_STATE_CONNECTED,
                   std::move(done));
}

void ClassActor::CommitConnection(const std::string& participant_id,
                                  v1::ConnectionState state,
                                  absl::AnyInvocable<void(absl::Status)> done) {
  internal::Entry entry;
  entry.mutable_connection()->set_participant_id(participant_id);
  entry.mutable_connection()->set_state(state);
  Commit(std::move(entry),
         [done = std::move(done)](const engine::EntryOutcome& outcome) mutable {
           done(outcome.status);
         });
}

void ClassActor::Command(const v1::InstructorCommand& command,
                         CommandDone done) {
  strand_->Post(
      [self = shared_from_this(), command, done = std::move(done)]() mutable {
        self->CommandOnStrand(command, std::move(done));
      });
}

void ClassActor::CommandOnStrand(const v1::InstructorCommand& command,
                                 CommandDone done) {
  if (follower_) {
    internal::Forwarded forwarded;
    *forwarded.mutable_command() = command;
    Forward(
        std::move(forwarded),
        [done = std::move(done)](
            absl::StatusOr<internal::ForwardedReply> reply) mutable {
          ProcessStats().CountCommand(static_cast<int>(reply.status().code()));
          if (reply.ok()) {
            done(reply->seq());
          } else {
            done(reply.status());
          }
        });
    return;
  }
  internal::Entry entry;
  *entry.mutable_command() = command;
  Commit(std::move(entry),
         [done = std::move(done)](const engine::EntryOutcome& outcome) mutable {
           ProcessStats().CountCommand(static_cast<int>(outcome.status.code()));
           if (outcome.status.ok()) {
             done(outcome.seq);
           } else {
             done(outcome.status);
           }
         });
}

void ClassActor::Report(internal::ReportInput report, ReportDone done) {
  const int64_t received_ns = MonotonicNanos();
  strand_->Post([self = shared_from_this(), report = std::move(report),
                 done = std::move(done), received_ns]() mutable {
    self->ReportOnStrand(
        std::move(report),
        [received_ns, done = std::move(done)](
            absl::StatusOr<engine::ReportResult> outcome) mutable {
          ProcessStats().CountReport(static_cast<int>(outcome.status().code()));
          ProcessStats().ack_latency_ns.Observe(MonotonicNanos() - received_ns);
          done(std::move(outcome));
        });
  });
}

void ClassActor::ReportOnStrand(internal::ReportInput report, ReportDone done) {
  if (follower_) {
    ForwardReport(std::move(report), std::move(done));
    return;
  }
  // Refusals and retries of what is recorded are answered at once, from
  // durable state; only what the session would accept is journaled.
  std::optional<engine::ReportResult> duplicate;
  absl::Status check = session_.CheckReport(report, &duplicate);
  if (!check.ok()) {
    done(check);
    return;
  }
  if (duplicate.has_value()) {
    done(engine::ReportResult{duplicate->seq, /*duplicate=*/true});
    return;
  }
  internal::Entry entry;
  *entry.mutable_report() = std::move(report);
  Commit(std::move(entry),
         [done = std::move(done)](const engine::EntryOutcome& outcome) mutable {
           if (outcome.status.ok()) {
             done(engine::ReportResult{outcome.seq, outcome.duplicate});
           } else {
             done(outcome.status);
           }
         });
}

void ClassActor::Leave(const std::string& participant_id) {
  strand_->Post([self = shared_from_this(), participant_id] {
    self->LeaveOnStrand(
        participant_id, [self, participant_id](absl::Status status) {
          std::shared_ptr<Stream> stream =
              self->broadcaster_.RemoveParticipant(participant_id);
          self->attach_ids_.erase(participant_id);
          if (stream == nullptr) return;
          stream->Close(status, /*after_queued=*/true);
          // A leave that could not be recorded still ends this stream: the
          // seat is then held as after a drop.
          if (status.ok()) return;
          if (self->follower_) {
            internal::Forwarded dropped;
            dropped.set_dropped(participant_id);
            self->Forward(std::move(dropped),
                          [](absl::StatusOr<internal::ForwardedReply>) {});
          } else {
            self->Drop(participant_id);
          }
        });
  });
}

void ClassActor::LeaveOnStrand(const std::string& participant_id,
                               absl::AnyInvocable<void(absl::Status)> done) {
  if (follower_) {
    internal::Forwarded forwarded;
    forwarded.set_leave(participant_id);
    Forward(std::move(forwarded),
            [done = std::move(done)](
                absl::StatusOr<internal::ForwardedReply> reply) mutable {
              done(reply.status());
            });
    return;
  }
  CommitConnection(participant_id, v1::CONNECTION_STATE_LEFT, std::move(done));
}

void ClassActor::StreamEnded(const std::string& participant_id,
                             const Stream* stream) {
  strand_->Post([self = shared_from_this(), participant_id, stream] {
    // A superseded stream ending is not a drop: a newer one is connected.
    if (self->broadcaster_.RemoveParticipant(participant_id, stream) ==
        nullptr) {
      return;
    }
    if (!self->follower_) {
      self->Drop(participant_id);
      return;
    }
    auto it = self->attach_ids_.find(participant_id);
    if (it == self->attach_ids_.end()) return;
    internal::Forwarded dropped;
    dropped.set_attach_id(it->second);
    dropped.set_dropped(participant_id);
    self->attach_ids_.erase(it);
    // Not answered: a drop the owner misses leaves the seat connected until
    // she comes back (any node) or leaves.
    self->Forward(std::move(dropped),
                  [](absl::StatusOr<internal::ForwardedReply>) {});
  });
}

void ClassActor::Drop(const std::string& participant_id) {
  if (session_.Connection(participant_id) != v1::CONNECTION_STATE_CONNECTED ||
      broadcaster_.Participant(participant_id) != nullptr) {
    drops_to_retry_.erase(participant_id);
    return;
  }
  CommitConnection(participant_id, v1::CONNECTION_STATE_DROPPED,
                   [this, participant_id](absl::Status status) {
                     // Not recorded: the next tick tries again, so the seat
                     // does not stay "connected" with no stream.
                     if (absl::IsUnavailable(status)) {
                       drops_to_retry_.insert(participant_id);
                     } else {
                       drops_to_retry_.erase(participant_id);
                     }
                   });
}

void ClassActor::Tick(int64_t tick, const ProgressPace& pace) {
  if (tick_queued_.exchange(true)) return;
  strand_->Post([self = shared_from_this(), tick, pace] {
    self->tick_queued_.store(false);
    self->TickOnStrand(tick, pace);
  });
}

void ClassActor::TickOnStrand(int64_t tick, const ProgressPace& pace) {
  const absl::Time now = clock_->Now();
  if (!follower_ && !tick_in_flight_ && !closed_ && session_.TickDue(now)) {
    tick_in_flight_ = true;
    internal::Entry entry;
    entry.mutable_tick();
    Commit(std::move(entry),
           [this](const engine::EntryOutcome&) { tick_in_flight_ = false; });
  }
  if (!drops_to_retry_.empty()) {
    std::vector<std::string> retry(drops_to_retry_.begin(),
                                   drops_to_retry_.end());
    drops_to_retry_.clear();
    for (const std::string& id : retry) Drop(id);
  }
  if (!end_recorded_) RecordEndIfNeeded();
  broadcaster_.Prune();
  for (auto it = replays_.begin(); it != replays_.end();) {
    if (it->second.stream->dead()) {
      replays_.erase(it++);
    } else {
      ++it;
    }
  }

  const int64_t now_ms = absl::ToUnixMillis(now);
  std::optional<v1::RosterUpdate> roster = session_.TakeRosterUpdate();
  if (roster.has_value() && broadcaster_.has_instructors()) {
    v1::RunClassResponse response;
    response.set_server_time_unix_ms(now_ms);
    *response.mutable_roster() = std::move(*roster);
    broadcaster_.SendToInstructors(ToByteBuffer(response), Delivery::kReliable);
  }
  SendProgressOnTick(tick, pace, now_ms);
}

void ClassActor::SendProgressOnTick(int64_t tick, const ProgressPace& pace,
                                    int64_t now_ms) {
  // Enough slices that one holds at most participants_per_tick.
  const size_t per_tick =
      static_cast<size_t>(std::max(1, pace.participants_per_tick));
  const size_t slices =
      std::max(static_cast<size_t>(std::max(1, pace.participant_every)),
               (broadcaster_.participant_count() + per_tick - 1) / per_tick);
  if (session_.TakeProgressChanged()) {
    progress_due_.assign(slices, true);
    staff_progress_due_ = true;
  } else if (progress_due_.size() != slices) {
    // The class grew or shrank past a slice: the slices changed members.
    if (std::find(progress_due_.begin(), progress_due_.end(), true) !=
        progress_due_.end()) {
      progress_due_.assign(slices, true);
    } else {
      progress_due_.assign(slices, false);
    }
  }
  const bool staff =
      staff_progress_due_ && tick % std::max(1, pace.staff_every) == 0;
  const size_t slice = static_cast<size_t>(tick % static_cast<int64_t>(slices));
  const bool participants = progress_due_[slice];
  if (!staff && !participants) return;
  const grpc::ByteBuffer bytes = EncodeProgress(session_.Progress(), now_ms);
  if (staff) {
    staff_progress_due_ = false;
    broadcaster_.SendProgressToStaff(bytes);
  }
  if (participants) {
    progress_due_[slice] = false;
    broadcaster_.SendProgressToParticipants(bytes, static_cast<int>(slice),
                                            static_cast<int>(slices));
  }
}

void ClassActor::GoAway(const std::string& reason) {
  strand_->Post([self = shared_from_this(), reason] {
    v1::GoingAway going_away;
    going_away.set_reason(reason);
    going_away.set_reconnect_after_ms(1000);
    self->broadcaster_.CloseAll(
        EncodeGoingAway(going_away, self->clock_->NowUnixMs()),
        absl::UnavailableError(absl::StrCat("circuitd is going away: ", reason,
                                            "; reconnect and resume")));
  });
}

void ClassActor::Close() {
  strand_->Post([self = shared_from_this()] {
    self->closed_ = true;
    std::multimap<int64_t, absl::AnyInvocable<void(bool)>> waiting;
    waiting.swap(self->waiting_);
    self->behind_since_ns_.store(0, std::memory_order_relaxed);
    for (auto& [position, done] : waiting) done(false);
  });
}

// --- Catching up
// ---------------------------------------------------------------

void ClassActor::Attach(std::shared_ptr<Stream> stream, Role role,
                        const std::string& participant_id, int64_t last_seq,
                        bool resume) {
  // The client has seen nothing, asks for a seq this class never issued, or
  // missed events that are no longer kept: it gets a snapshot and is live.
  bool replay = false;
  if (last_seq <= 0) {
    // A resume that has seen nothing still had a view to replace.
    if (resume) {
      ProcessStats().resumes_with_snapshot.fetch_add(1,
                                                     std::memory_order_relaxed);
    }
    SendSnapshot(stream.get(), role, participant_id,
                 resume ? v1::SNAPSHOT_REASON_MISSED_EVENTS
                        : v1::SNAPSHOT_REASON_INITIAL);
  } else if (last_seq > session_.last_seq() ||
             !session_.EventsAfter(last_seq, 1).has_value()) {
    ProcessStats().resumes_with_snapshot.fetch_add(1,
                                                   std::memory_order_relaxed);
    SendSnapshot(stream.get(), role, participant_id,
                 v1::SNAPSHOT_REASON_MISSED_EVENTS);
  } else {
    ProcessStats().resumes_with_events.fetch_add(1, std::memory_order_relaxed);
    replay = true;
  }
  const uint64_t replay_id = next_replay_id_++;
  if (replay) {
    replays_.emplace(replay_id,
                     ReplayCursor{stream, role, participant_id, last_seq});
  }
  switch (role) {
    case Role::kInstructor:
      broadcaster_.AddInstructor(std::move(stream), /*live=*/!replay);
      break;
    case Role::kKiosk:
      broadcaster_.AddKiosk(std::move(stream), /*live=*/!replay);
      break;
    case Role::kParticipant: {
      // Her stream is here now, not on a follower (a follower sets her
      // stream's id after this).
      attach_ids_.erase(participant_id);
      std::shared_ptr<Stream> old = broadcaster_.SetParticipant(
          participant_id, std::move(stream), /*live=*/!replay);
      if (old != nullptr) {
        old->Close(absl::AbortedError(
                       "superseded by a newer stream for this participant"),
                   /*after_queued=*/false);
      }
      break;
    }
  }
  if (replay) FeedReplay(replay_id);
}

void ClassActor::FeedReplay(uint64_t replay_id) {
  auto it = replays_.find(replay_id);
  if (it == replays_.end()) return;
  ReplayCursor& replay = it->second;
  if (replay.stream->dead()) {
    replays_.erase(it);
    return;
  }
  // A quarter of the queue a slice, the next once an eighth is left: the
  // rest is room for what the stream gets meanwhile (acks, command results)
  // and, once caught up, for the roster, progress and live events.
  const size_t slice = std::max<size_t>(1, replay.stream->max_queued() / 4);
  const int64_t now_ms = clock_->NowUnixMs();
  size_t sent = 0;
  while (sent < slice && replay.after_seq < session_.last_seq()) {
    std::optional<std::vector<const engine::Event*>> events =
        session_.EventsAfter(replay.after_seq, slice);
    if (!events.has_value()) {
      // The class moved on by more than it keeps while this reader caught
      // up: what it still misses is gone, so it starts again from now.
      ProcessStats().resumes_with_snapshot.fetch_add(1,
                                                     std::memory_order_relaxed);
      SendSnapshot(replay.stream.get(), replay.role, replay.participant_id,
                   v1::SNAPSHOT_REASON_MISSED_EVENTS);
      broadcaster_.GoLive(replay.stream.get(), replay.role,
                          replay.participant_id);
      replays_.erase(it);
      return;
    }
    if (events->empty()) break;  // the rest was erased (health data)
    for (const engine::Event* e : *events) {
      replay.after_seq = e->event.seq();
      if (Visible(*e, replay.role, replay.participant_id)) {
        replay.stream->Send(EncodeEvent(e->event, now_ms), Delivery::kReliable);
        if (++sent == slice) break;
      }
    }
  }
  if (sent < slice || replay.after_seq >= session_.last_seq()) {
    FinishReplay(replay);
    replays_.erase(it);
    return;
  }
  replay.stream->WhenQueueAtMost(slice / 2, [weak = weak_from_this(),
                                             replay_id] {
    if (std::shared_ptr<ClassActor> self = weak.lock()) {
      self->strand_->Post([self, replay_id] { self->FeedReplay(replay_id); });
    }
  });
}

void ClassActor::FinishReplay(const ReplayCursor& replay) {
  Stream* stream = replay.stream.get();
  if (replay.role == Role::kInstructor) {
    const absl::Time now = clock_->Now();
    v1::InstructorSnapshot full = session_.InstructorSnapshot(now);
    v1::RunClassResponse response;
    response.set_server_time_unix_ms(absl::ToUnixMillis(now));
    *response.mutable_roster()->mutable_changed() =
        std::move(*full.mutable_roster());
    *response.mutable_roster()->mutable_aggregates() =
        std::move(*full.mutable_aggregates());
    stream->Send(ToByteBuffer(response), Delivery::kReliable);
  }
  SendProgress(stream);
  broadcaster_.GoLive(stream, replay.role, replay.participant_id);
}

void ClassActor::SendSnapshot(Stream* stream, Role role,
                              const std::string& participant_id,
                              v1::SnapshotReason reason) {
  const absl::Time now = clock_->Now();
  const int64_t now_ms = absl::ToUnixMillis(now);
  switch (role) {
    case Role::kInstructor: {
      v1::RunClassResponse response;
      response.set_server_time_unix_ms(now_ms);
      *response.mutable_snapshot() = session_.InstructorSnapshot(now);
      response.mutable_snapshot()->set_reason(reason);
      stream->Send(ToByteBuffer(response), Delivery::kReliable);
      return;
    }
    case Role::kParticipant: {
      absl::StatusOr<v1::ParticipantSnapshot> snapshot =
          session_.ParticipantSnapshot(participant_id, now);
      if (!snapshot.ok()) return;
      v1::JoinClassResponse response;
      response.set_server_time_unix_ms(now_ms);
      *response.mutable_snapshot() = std::move(*snapshot);
      response.mutable_snapshot()->set_reason(reason);
      stream->Send(ToByteBuffer(response), Delivery::kReliable);
      return;
    }
    case Role::kKiosk: {
      v1::WatchClassResponse response;
      response.set_server_time_unix_ms(now_ms);
      *response.mutable_snapshot() = session_.KioskSnapshot(now);
      response.mutable_snapshot()->set_reason(reason);
      stream->Send(ToByteBuffer(response), Delivery::kReliable);
      return;
    }
  }
}

void ClassActor::SendProgress(Stream* stream) {
  stream->Send(EncodeProgress(session_.Progress(), clock_->NowUnixMs()),
               Delivery::kLatestProgress);
}

// --- Reading
// -------------------------------------------------------------------

void ClassActor::Describe(absl::AnyInvocable<void(v1::GetClassResponse)> done) {
  strand_->Post([self = shared_from_this(), done = std::move(done)]() mutable {
    const absl::Time now = self->clock_->Now();
    v1::GetClassResponse response;
    *response.mutable_class_info() = self->session_.info();
    *response.mutable_state() = self->session_.State(now);
    response.set_server_time_unix_ms(absl::ToUnixMillis(now));
    done(std::move(response));
  });
}

void ClassActor::Summary(absl::AnyInvocable<void(v1::ClassSummary)> done) {
  strand_->Post([self = shared_from_this(), done = std::move(done)]() mutable {
    done(self->session_.Summary(self->clock_->Now()));
  });
}

void ClassActor::EraseHealthData(const std::string& participant_id,
                                 absl::AnyInvocable<void(absl::Status)> done) {
  strand_->Post([self = shared_from_this(), participant_id,
                 done = std::move(done)]() mutable {
    absl::Status erased = self->session_.EraseHealthData(participant_id);
    if (!erased.ok()) {
      done(erased);
      return;
    }
    self->journal_->EraseHealthData(self->session_.Summary(self->clock_->Now()),
                                    participant_id, std::move(done));
  });
}

void ClassActor::EraseSeat(const std::string& participant_id,
                           absl::AnyInvocable<void(absl::Status)> done) {
  strand_->Post([self = shared_from_this(), participant_id,
                 done = std::move(done)]() mutable {
    done(self->session_.EraseSeat(participant_id));
  });
}

void ClassActor::PurgeHealthData(absl::AnyInvocable<void(absl::Status)> done) {
  strand_->Post([self = shared_from_this(), done = std::move(done)]() mutable {
    if (self->session_.phase() != v1::CLASS_PHASE_ENDED) {
      done(absl::FailedPreconditionError("the class has not ended"));
      return;
    }
    const absl::Time now = self->clock_->Now();
    self->session_.EraseHealthData("").IgnoreError();
    self->journal_->EraseHealthData(self->session_.Summary(now), "",
                                    std::move(done));
  });
}

void ClassActor::CountStreams(absl::AnyInvocable<void(size_t)> done) {
  strand_->Post([self = shared_from_this(), done = std::move(done)]() mutable {
    done(self->broadcaster_.size());
  });
}

}  // namespace circuit
