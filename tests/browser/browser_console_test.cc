// The instructor's console in a real browser: Debian's chromium, headless,
// driven by puppeteer-core (tests/browser/console_test.mjs, run with node).
// circuitd runs in this process with its HTTP listener. An instructor account
// is added (gRPC AddAccount with the bootstrap key) and given a one-time
// sign-in code; the console page signs in with the link /console#code=...,
// creates a class from the library, pairs a studio TV page by its code,
// starts the class while two phone pages join, sees their sets, effort, a
// priority alert (a phone reports leaking) and a suggestion, accepts the
// suggestion (the phone shows it accepted), sends a cue, moves the timer,
// is closed and opened again (it comes back to the class), revokes the TV (the
// TV goes back to pairing), ends the class, reads the summary and downloads the
// CSV. Then the account is revoked here, and the open console shows "Signed
// out"; the same sign-in code is refused on a fresh page.
//
// Checked here, on the server's side: the class was created by the account
// with the title typed; the TV the console paired is the one listed; the
// class ran and ended; the downloaded CSV is byte for byte what `circuit
// class export --format=csv` makes of the same summary. Screenshots of the
// console (1280x800 and 1440x900, running and summary) end up in
// build/browser-screenshots/; the script reports, as problems, sideways
// scrolling, touch targets under 44 px, page errors, CSP violations and
// dialogs.
//
// The script's line protocol is described at the top of console_test.mjs.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/lib/accounts.h"
#include "client/lib/connection.h"
#include "client/lib/history.h"
#include "client/lib/kiosks.h"
#include "client/lib/live_session.h"
#include "client/lib/summary_format.h"
#include "gtest/gtest.h"
#include "server/app/server.h"
#include "server/common/clock.h"
#include "server/common/log.h"
#include "server/library/circuit_library.h"
#include "tests/browser/browser_script.h"
#include "tests/testing/class_commands.h"
#include "tests/testing/subprocess.h"

namespace circuit {
namespace {

using client::Connection;
using client::ConnectOptions;
using client::InstructorSession;
using client::SessionOptions;
using testing::BrowserScript;
using testing::Words;

// How long one step may take. The script bounds each of its own waits at
// 15 s (30 s for the TV's class stream).
constexpr absl::Duration kStep = absl::Seconds(40);
constexpr char kBootstrapKey[] = "console-bootstrap-key";
constexpr char kCircuit[] = "kickback-trio";
constexpr char kTitle[] = "Tuesday <b>kickbacks</b>";
constexpr char kTvName[] = "Front wall";
constexpr char kCue[] = "Squeeze at the top";
constexpr int kRepsA = 9;
constexpr int kRepsB = 8;

class BrowserConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogQuiet(true);
    auto library = CircuitLibrary::LoadEmbedded();
    ASSERT_TRUE(library.ok()) << library.status();
    library_ = std::make_unique<CircuitLibrary>(std::move(*library));

    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    // CIRCUIT_HTTP_STATIC_DIR=server/http/static serves the pages being
    // edited without a rebuild (as --http_static_dir).
    if (const char* dir = getenv("CIRCUIT_HTTP_STATIC_DIR"); dir != nullptr) {
      options.http_static_dir = dir;
    }
    options.service.keys.instructor_key = kBootstrapKey;
    auto server = CircuitServer::Start(options, library_.get(), Clock::Real());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_GT(server_->http_port(), 0);

    ConnectOptions connect;
    connect.address = absl::StrCat("127.0.0.1:", server_->port());
    connection_ = std::make_shared<Connection>(connect);

    // The instructor, added as an admin of the studio would add her.
    v1::AddAccountRequest add;
    add.set_name("Maya (console test)");
    add.set_role(v1::ACCOUNT_ROLE_INSTRUCTOR);
    auto account = client::AddAccount(*connection_, kBootstrapKey, add);
    ASSERT_TRUE(account.ok()) << account.status();
    account_ = *account;
  }

  void TearDown() override {
    if (instructor_ != nullptr) instructor_->Stop();
    if (HasFailure()) {
      ADD_FAILURE() << "console_test.mjs, " << script_.Dump();
    }
  }

  // Starts console_test.mjs.
  void StartScript(const std::string& code) {
    script_.Start(
        absl::StrCat(CIRCUIT_BROWSER_DIR, "/console_test.mjs"),
        {"--base", absl::StrCat("http://127.0.0.1:", server_->http_port()),
         "--code", code});
  }

  void Send(const std::string& command) { script_.Send(command); }

  // Sends `command`; the rest of the answer that starts with `answer`.
  std::string Ask(const std::string& command, const std::string& answer) {
    return script_.Ask(command, answer, kStep);
  }

  absl::StatusOr<v1::ClassInfo> FindClass(const std::string& class_id) {
    auto response = connection_->GetClass(class_id);
    if (!response.ok()) return response.status();
    return response->class_info();
  }

  std::unique_ptr<CircuitLibrary> library_;
  std::unique_ptr<CircuitServer> server_;
  std::shared_ptr<Connection> connection_;
  v1::AccountCredential account_;
  std::unique_ptr<InstructorSession> instructor_;
  BrowserScript script_;
};

TEST_F(BrowserConsoleTest, AnInstructorRunsAWholeClassFromTheConsole) {
  ASSERT_NO_FATAL_FAILURE(testing::CheckBrowserInstalled(CIRCUIT_BROWSER_DIR));

  // Signing in by the link: the fragment leaves the address bar, the
  // credential stays on the device.
  absl::StatusOr<v1::SignInCode> code = client::IssueSignInCode(
      *connection_, kBootstrapKey, account_.account().account_id(), 0);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_TRUE(absl::EndsWith(
      code->console_url(),
      absl::StrCat("/console#code=",
                   absl::StrReplaceAll(code->code(), {{"-", ""}}))))
      << code->console_url();
  ASSERT_NO_FATAL_FAILURE(StartScript(code->code()));
  absl::StatusOr<std::string> signed_in = script_.Await("signed-in ", kStep);
  ASSERT_TRUE(signed_in.ok()) << signed_in.status();
  EXPECT_EQ(*signed_in, "0 1") << "fragment left, credential stored";

  // A class from the library, created by the account.
  const std::vector<std::string> created =
      Words(Ask(absl::StrCat("create ", kCircuit, " ", kTitle), "created "));
  ASSERT_EQ(created.size(), 2u);
  const std::string class_id = created[0];
  absl::StatusOr<v1::ClassInfo> info = FindClass(class_id);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->title(), kTitle);
  EXPECT_EQ(info->circuit_id(), kCircuit);
  EXPECT_EQ(info->owner_id(), account_.account().account_id());
  EXPECT_EQ(info->join_code(), created[1]);
  EXPECT_EQ(info->phase(), v1::CLASS_PHASE_LOBBY);

  // The studio TV, paired from the console.
  const std::string kiosk_id = Ask(absl::StrCat("pair-tv ", kTvName), "tv ");
  auto kiosks = client::ListKiosks(*connection_, kBootstrapKey);
  ASSERT_TRUE(kiosks.ok()) << kiosks.status();
  ASSERT_EQ(kiosks->size(), 1u);
  EXPECT_EQ((*kiosks)[0].kiosk_id(), kiosk_id);
  EXPECT_EQ((*kiosks)[0].name(), kTvName);

  // Two phones join; the class starts from the console.
  EXPECT_FALSE(Ask("join A", "joined A ").empty());
  EXPECT_FALSE(Ask("join B", "joined B ").empty());
  EXPECT_EQ(Ask("start", "started"), "");

  // The first interval is 45 s: another instructor screen (the bootstrap
  // key's) lengthens it by ten minutes so the steps below happen in it
  // however slow the machine is, and the console follows a command it did
  // not send.
  SessionOptions session;
  session.backoff_initial = absl::Milliseconds(20);
  session.backoff_max = absl::Milliseconds(200);
  session.clock_samples = 1;
  instructor_ = std::make_unique<InstructorSession>(connection_, kBootstrapKey,
                                                    class_id, session);
  instructor_->Start();
  ASSERT_TRUE(instructor_->WaitFor(
      [](const client::ClassMirror& m) { return m.has_snapshot(); }, kStep));
  auto lengthened =
      instructor_->SendAndWait(testing::AdjustTimeCommand(600'000), kStep);
  ASSERT_TRUE(lengthened.ok()) << lengthened.status();
  ASSERT_EQ(lengthened->code(), 0) << lengthened->message();

  EXPECT_EQ(Ask(absl::StrCat("log A ", kRepsA), "logged A "),
            absl::StrCat(kRepsA));
  EXPECT_EQ(Ask(absl::StrCat("log B ", kRepsB), "logged B "),
            absl::StrCat(kRepsB));
  EXPECT_EQ(Ask("effort B", "effort B "), "Too hard");

  // Leaking: a priority alert about A, and a suggestion to accept.
  const std::vector<std::string> alert = Words(Ask("symptom A", "alert A "));
  ASSERT_EQ(alert.size(), 3u);
  EXPECT_EQ(alert[0], "ALERT_SEVERITY_PRIORITY");
  EXPECT_EQ(alert[1], "Leaking");
  EXPECT_EQ(Ask(absl::StrCat("accept ", alert[2]), "accepted "),
            "Your coach agrees: go ahead.");
  EXPECT_EQ(Ask(absl::StrCat("cue ", kCue), "cued"), "");
  EXPECT_FALSE(Ask("adjust", "adjusted ").empty());
  // The class never depends on the page: closing the tab and opening the
  // console again comes back to it, roster and alert included.
  EXPECT_EQ(Ask("reopen", "reopened "), "2 1");
  Ask(absl::StrCat("screenshots ", CIRCUIT_SCREENSHOT_DIR, " running"),
      "screenshots running");

  // Revoking the TV from the console sends it back to pairing.
  EXPECT_EQ(Ask("revoke-tv", "tv-revoked"), "");
  kiosks = client::ListKiosks(*connection_, kBootstrapKey);
  ASSERT_TRUE(kiosks.ok()) << kiosks.status();
  ASSERT_EQ(kiosks->size(), 1u);
  EXPECT_GT((*kiosks)[0].revoked_unix_ms(), 0);

  // The end, and what the console says after it.
  const std::vector<std::string> summary = Words(Ask("end", "summary "));
  ASSERT_EQ(summary.size(), 2u);
  EXPECT_EQ(summary[0], absl::StrCat(kRepsA + kRepsB));
  EXPECT_EQ(summary[1], "2");
  info = FindClass(class_id);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->phase(), v1::CLASS_PHASE_ENDED);
  Ask(absl::StrCat("screenshots ", CIRCUIT_SCREENSHOT_DIR, " summary"),
      "screenshots summary");

  // The CSV the page downloads is the one the CLI writes.
  const std::string downloads = testing::MakeTempDir();
  const std::string path = Ask(absl::StrCat("csv ", downloads), "csv ");
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "cannot read " << path;
  std::stringstream bytes;
  bytes << in.rdbuf();
  auto class_summary =
      client::GetClassSummary(*connection_, kBootstrapKey, class_id);
  ASSERT_TRUE(class_summary.ok()) << class_summary.status();
  EXPECT_EQ(bytes.str(), client::SummaryCsv(*class_summary));
  EXPECT_TRUE(absl::StrContains(bytes.str(), "Bea Strong")) << bytes.str();
  EXPECT_EQ(Ask(absl::StrCat("json ", downloads), "json "),
            absl::StrCat(class_id, " 2"));

  // Revoking the account signs the open console out.
  EXPECT_EQ(Ask("back", "classes"), "");
  auto revoked = client::RevokeAccount(*connection_, kBootstrapKey,
                                       account_.account().account_id());
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_FALSE(Ask("await-signed-out", "signed-out ").empty());

  // A sign-in code works once.
  const std::string refused = Ask("reuse", "refused ");
  EXPECT_TRUE(absl::StartsWith(refused, "0 ")) << refused;
  EXPECT_TRUE(absl::StrContains(refused, "already used")) << refused;

  Send("finish");
  absl::StatusOr<std::vector<std::string>> report =
      script_.Until("finished", kStep);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const std::string& line : *report) ADD_FAILURE() << line;

  Send("quit");
  absl::StatusOr<std::string> bye = script_.Await("bye", kStep);
  ASSERT_TRUE(bye.ok()) << bye.status();
  const absl::StatusOr<int> exit = script_.Finish(kStep);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(*exit, 0);
}

}  // namespace
}  // namespace circuit
