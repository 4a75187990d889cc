// The HTTP door of a cluster's node answers the other nodes' pages (CORS):
// a page loaded from node a whose node stops answering moves its calls to
// node b, which must let it read the answers. Other origins get nothing of
// the sort.

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/http_harness.h"
#include "tests/integration/live_harness.h"

namespace circuit {
namespace {

namespace http = boost::beast::http;
using testing::FetchWith;
using ::testing::HasSubstr;
using testing::LiveServer;
using testing::Reply;
using testing::SseReader;

constexpr char kNodeA[] = "http://127.0.0.1:18081";
constexpr char kElsewhere[] = "https://elsewhere.example";

class CrossOriginTest : public ::testing::Test {
 protected:
  static ServerOptions Options() {
    ServerOptions options = LiveServer::HttpOptions();
    // As an operator writes them: the listing is the browsers' spelling.
    options.cluster_http_urls = {"HTTP://127.0.0.1:18081/",
                                 "https://b.studio.example:443"};
    return options;
  }

  int port() { return server_.server()->http_port(); }

  LiveServer server_{Options()};
};

TEST_F(CrossOriginTest, TheNodesAreListedForThePages) {
  const Reply servers = FetchWith(port(), http::verb::get, "/v1/servers", {});
  EXPECT_EQ(servers.status, 200);
  EXPECT_EQ(servers.body,
            "{\"httpUrls\":[\"http://127.0.0.1:18081\","
            "\"https://b.studio.example\"]}");
  const Reply page = FetchWith(port(), http::verb::get, "/", {});
  EXPECT_THAT(page.content_security_policy,
              HasSubstr("connect-src 'self' http://127.0.0.1:18081 "
                        "https://b.studio.example;"));
}

TEST_F(CrossOriginTest, AnotherNodesPageIsToldWhatItMaySend) {
  const Reply preflight = FetchWith(
      port(), http::verb::options, "/v1/classes:join",
      {{"Origin", kNodeA},
       {"Access-Control-Request-Method", "POST"},
       {"Access-Control-Request-Headers", "authorization,content-type"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.headers.at("access-control-allow-origin"), kNodeA);
  EXPECT_EQ(preflight.headers.at("access-control-allow-methods"), "GET, POST");
  EXPECT_EQ(preflight.headers.at("access-control-allow-headers"),
            "Authorization, Content-Type, Last-Event-ID");
  EXPECT_EQ(preflight.headers.at("vary"), "Origin");
}

TEST_F(CrossOriginTest, APreflightFromAnywhereElseIsRefusedSayingWhy) {
  const Reply preflight = FetchWith(
      port(), http::verb::options, "/v1/classes:join",
      {{"Origin", kElsewhere}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(preflight.status, 403);
  EXPECT_THAT(preflight.body, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(preflight.body, HasSubstr(kElsewhere));
  EXPECT_THAT(preflight.body, HasSubstr("--cluster_http_urls"));
  EXPECT_EQ(preflight.headers.count("access-control-allow-origin"), 0u);
  // Origins match as browsers spell them, exactly.
  EXPECT_EQ(FetchWith(port(), http::verb::options, "/v1/classes",
                      {{"Origin", "http://127.0.0.1:18081/"},
                       {"Access-Control-Request-Method", "GET"}})
                .status,
            403);
}

TEST_F(CrossOriginTest, AnswersAndStreamsCarryTheOriginOnlyForTheNodes) {
  const v1::ClassInfo info = server_.CreateClass("kickback-trio");
  const std::string target = "/v1/classes/" + info.class_id();
  const Reply from_node =
      FetchWith(port(), http::verb::get, target, {{"Origin", kNodeA}});
  EXPECT_EQ(from_node.status, 200);
  EXPECT_EQ(from_node.headers.at("access-control-allow-origin"), kNodeA);
  EXPECT_EQ(from_node.headers.at("access-control-expose-headers"),
            "Content-Disposition");

  // Answered (a browser then hides it from the page), never marked as
  // readable elsewhere.
  const Reply from_elsewhere =
      FetchWith(port(), http::verb::get, target, {{"Origin", kElsewhere}});
  EXPECT_EQ(from_elsewhere.status, 200);
  EXPECT_EQ(from_elsewhere.headers.count("access-control-allow-origin"), 0u);
  const Reply same_origin = FetchWith(port(), http::verb::get, target, {});
  EXPECT_EQ(same_origin.headers.count("access-control-allow-origin"), 0u);

  // An event stream, as a moved kiosk page opens it.
  SseReader watch(port(), http::verb::get, target + ":watch",
                  testing::kKioskKey, "", "", {{"Origin", kNodeA}});
  ASSERT_TRUE(watch.WaitFor("data:"));
  const std::string head =
      watch.text().substr(0, watch.text().find("\r\n\r\n"));
  EXPECT_THAT(head, HasSubstr("text/event-stream"));
  EXPECT_THAT(head,
              HasSubstr(absl::StrCat("Access-Control-Allow-Origin: ", kNodeA)));
}

TEST(CrossOriginStartTest, AnAddressThatIsNotAnOriginStopsTheStart) {
  ServerOptions options = LiveServer::HttpOptions();
  options.cluster_http_urls = {"http://127.0.0.1:18081",
                               "http://b.example/console"};
  auto library = CircuitLibrary::LoadEmbedded();
  ASSERT_TRUE(library.ok());
  absl::StatusOr<std::unique_ptr<CircuitServer>> server =
      CircuitServer::Start(options, &*library, Clock::Real());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(),
              HasSubstr("--cluster_http_urls: \"http://b.example/console\""));
  EXPECT_THAT(server.status().message(), HasSubstr("path"));
}

}  // namespace
}  // namespace circuit
