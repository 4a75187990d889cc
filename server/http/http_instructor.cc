// The instructor's side of the HTTP API (the console, server/http/API.md):
// circuits, creating and running a class, its summary and export, erasing
// health data, the studio's TVs. Each call asks the same functions as its
// gRPC twin (server/live/class_access.h, server/auth/kiosk_admin.h) under
// the same access rules, so the two doors cannot drift apart.

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "circuit/v1/service.pb.h"
#include "client/lib/summary_format.h"
#include "server/auth/access.h"
#include "server/auth/kiosk_admin.h"
#include "server/fanout/wire.h"
#include "server/http/event_stream.h"
#include "server/http/http_api.h"
#include "server/live/class_access.h"

namespace circuit {
namespace {

HttpResponse NoLibrary() {
  return ErrorResponse(
      absl::UnavailableError("this server has no circuit library"));
}

// A StatusOr's message as the answer, or its refusal.
template <typename Message>
HttpResponse AnswerOf(const absl::StatusOr<Message>& answer) {
  return answer.ok() ? JsonResponse(*answer) : ErrorResponse(answer.status());
}

}  // namespace

void HttpApi::ListCircuits(Done done) {
  if (options_.library == nullptr) return done(NoLibrary());
  done(JsonResponse(circuit::ListCircuits(*options_.library)));
}

void HttpApi::GetCircuit(const std::string& circuit_id, Done done) {
  if (options_.library == nullptr) return done(NoLibrary());
  done(AnswerOf(circuit::GetCircuit(*options_.library, circuit_id)));
}

void HttpApi::CreateClass(const HttpRequest& request, Done done) {
  Principal who;
  if (!Authenticated(request, &done, &who)) return;
  v1::CreateClassRequest create;
  if (absl::Status parsed = ParseJson(request.body, &create); !parsed.ok()) {
    return done(ErrorResponse(parsed));
  }
  // Answered once the class is journaled.
  CreateClassAs(options_.registry, who, create,
                [done = std::move(done)](
                    absl::StatusOr<v1::CreateClassResponse> created) mutable {
                  done(AnswerOf(created));
                });
}

bool HttpApi::MayRun(const std::string& class_id, const HttpRequest& request,
                     Done* done) {
  Principal who;
  if (!Authenticated(request, done, &who)) return false;
  absl::StatusOr<v1::ClassInfo> info =
      AccessClass(*options_.registry, who, class_id, &MayRunClass);
  if (!info.ok()) {
    (*done)(ErrorResponse(info.status()));
    return false;
  }
  return true;
}

void HttpApi::Run(const std::string& class_id, const HttpRequest& request,
                  Done done) {
  Principal who;
  std::shared_ptr<ClassActor> actor =
      LiveClass(class_id, request, &MayRunClass, &done, &who);
  if (actor == nullptr) return;
  absl::StatusOr<int64_t> last_seq = ResumeFrom(request);
  if (!last_seq.ok()) return done(ErrorResponse(last_seq.status()));
  std::shared_ptr<EventStream> events = EventStream::Create(
      EventStream::Kind::kRun, options_.max_queued_per_console,
      /*open_count=*/nullptr);
  if (options_.credential_streams != nullptr) {
    // A revoke or reissue of its credential ends it: the console signs out.
    options_.credential_streams->Track(who, BearerOf(request.authorization),
                                       events->stream());
  }
  actor->AttachInstructor(events->stream(), *last_seq);
  done(EventsResponse(std::move(events)));
}

void HttpApi::Command(const std::string& class_id, const HttpRequest& request,
                      Done done) {
  Principal who;
  std::shared_ptr<ClassActor> actor =
      LiveClass(class_id, request, &MayRunClass, &done, &who);
  if (actor == nullptr) return;
  v1::InstructorCommand command;
  if (absl::Status parsed = ParseJson(request.body, &command); !parsed.ok()) {
    return done(ErrorResponse(parsed));
  }
  if (absl::Status checked = CheckCommandId(command); !checked.ok()) {
    return done(ErrorResponse(checked));
  }
  std::string id = command.command_id();
  // Answered once the command is journaled (or refused, changing nothing).
  actor->Command(
      command,
      ActorAnswer<absl::StatusOr<int64_t>>(
          "the command was not answered (the server is stopping); send it "
          "again with the same commandId",
          [id = std::move(id)](const absl::StatusOr<int64_t>& seq) {
            return seq.ok() ? JsonResponse(CommandResultFor(id, seq))
                            : ErrorResponse(seq.status());
          },
          std::move(done)));
}

void HttpApi::Summary(const std::string& class_id, const HttpRequest& request,
                      Done done) {
  if (!MayRun(class_id, request, &done)) return;
  options_.registry->Summary(
      class_id, [done = std::move(done)](
                    absl::StatusOr<v1::ClassSummary> summary) mutable {
        done(AnswerOf(summary));
      });
}

void HttpApi::Export(const std::string& class_id, const HttpRequest& request,
                     Done done) {
  if (!MayRun(class_id, request, &done)) return;
  // The choices of `circuit class export`, checked the same way.
  const std::string format = QueryValue(request.target, "format").value_or("");
  const std::optional<std::string> table_name =
      QueryValue(request.target, "table");
  if (format != "csv" && format != "json") {
    return done(ErrorResponse(
        absl::InvalidArgumentError("export needs format=csv or format=json")));
  }
  if (format == "json" && table_name.has_value()) {
    return done(ErrorResponse(absl::InvalidArgumentError(
        "table is for format=csv; JSON holds every table")));
  }
  const std::string table_text = table_name.value_or("sets");
  const absl::optional<client::CsvTable> table =
      client::ParseCsvTable(table_text);
  if (!table.has_value()) {
    return done(ErrorResponse(absl::InvalidArgumentError(
        "table is sets, totals, efforts or symptoms")));
  }
  const bool json = format == "json";
  options_.registry->Summary(
      class_id, [done = std::move(done), json, table = *table,
                 table_text](absl::StatusOr<v1::ClassSummary> summary) mutable {
        if (!summary.ok()) return done(ErrorResponse(summary.status()));
        HttpResponse response;
        response.content_type =
            json ? "application/json" : "text/csv; charset=utf-8";
        response.body = client::SummaryExport(*summary, json, table);
        // The class id is the server's own (the class was found by it).
        const std::string file =
            json ? absl::StrCat(summary->class_info().class_id(), ".json")
                 : absl::StrCat(summary->class_info().class_id(), "-",
                                table_text, ".csv");
        response.headers = {
            {"Content-Disposition",
             absl::StrCat("attachment; filename=\"", file, "\"")},
            // Health data: not to be kept by a shared cache.
            {"Cache-Control", "no-store"}};
        done(std::move(response));
      });
}

void HttpApi::EraseHealthData(const std::string& class_id,
                              const std::string& participant_id,
                              const HttpRequest& request, Done done) {
  if (!MayRun(class_id, request, &done)) return;
  v1::EraseHealthDataRequest erase;
  erase.set_class_id(class_id);
  erase.set_participant_id(participant_id);
  EraseHealthDataOf(options_.registry, erase,
                    [done = std::move(done)](absl::Status status) mutable {
                      done(status.ok()
                               ? JsonResponse(v1::EraseHealthDataResponse())
                               : ErrorResponse(status));
                    });
}

void HttpApi::ListKiosks(const HttpRequest& request, Done done) {
  Principal who;
  if (!Authenticated(request, &done, &who)) return;
  done(AnswerOf(ListKiosksAs(options_.keys.kiosks, who)));
}

void HttpApi::ApproveKiosk(const HttpRequest& request, Done done) {
  Principal who;
  if (!Authenticated(request, &done, &who)) return;
  v1::ApproveKioskPairingRequest approve;
  if (absl::Status parsed = ParseJson(request.body, &approve); !parsed.ok()) {
    return done(ErrorResponse(parsed));
  }
  done(AnswerOf(ApproveKioskAs(options_.keys.kiosks, who, approve)));
}

void HttpApi::RevokeKiosk(const std::string& kiosk_id,
                          const HttpRequest& request, Done done) {
  Principal who;
  if (!Authenticated(request, &done, &who)) return;
  done(AnswerOf(RevokeKioskAs(options_.keys.kiosks, who, kiosk_id)));
}

}  // namespace circuit
