// The HTTP API's answers to hostile requests, found by tests/fuzz/
// http_api_fuzzer (its inputs are in tests/fuzz/corpus/http_api_fuzzer/).

#include "server/http/http_api.h"

#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/common/json.h"

namespace circuit {
namespace {

using ::testing::HasSubstr;

// The JSON error body's message; nullopt when the body is not JSON.
std::optional<std::string> ErrorMessage(const std::string& body) {
  google::protobuf::Struct error;
  if (!google::protobuf::util::JsonStringToMessage(body, &error).ok()) {
    return std::nullopt;
  }
  return error.fields().at("message").string_value();
}

HttpResponse Answer(HttpApi& api, const std::string& target) {
  HttpRequest request;
  request.peer = "ipv4:10.0.0.1:41234";
  request.method = "GET";
  request.target = target;
  std::optional<HttpResponse> answer;
  api.Handle(request, [&](HttpResponse response) { answer = response; });
  EXPECT_TRUE(answer.has_value()) << "answered inline: no class is involved";
  return answer.value_or(HttpResponse{});
}

// A path that is not UTF-8 ("part\xca" in the fuzzer's finding) was echoed
// byte for byte into the error's JSON, which then did not parse.
TEST(HttpApiTest, NoSuchPathWithBytesThatAreNotUtf8AnswersValidJson) {
  HttpApi api(HttpApiOptions{});
  const HttpResponse response = Answer(api,
                                       "/v1/classes/c-1/part\xca"
                                       "cipants/p1:report");
  EXPECT_EQ(response.status, 404);
  std::optional<std::string> message = ErrorMessage(response.body);
  ASSERT_TRUE(message.has_value()) << response.body;
  EXPECT_THAT(*message, HasSubstr("part\xEF\xBF\xBD"
                                  "cipants"));
}

// The 64-byte cut of a quoted path can fall inside a character.
TEST(HttpApiTest, LongPathCutInsideACharacterAnswersValidJson) {
  HttpApi api(HttpApiOptions{});
  std::string target = "/" + std::string(62, 'a');
  for (int i = 0; i < 8; ++i) target += "\xC3\xA9";  // é
  const HttpResponse response = Answer(api, target);
  EXPECT_EQ(response.status, 404);
  EXPECT_TRUE(ErrorMessage(response.body).has_value()) << response.body;
}

// The pages learn the cluster's nodes from GET /v1/servers, and their CSP
// lets them call there; a single node lists none and lets them call only
// home.
TEST(HttpApiTest, PagesLearnTheClustersNodesAndMayCallThem) {
  HttpApiOptions options;
  options.cluster_http_urls = {"http://127.0.0.1:8081",
                               "https://b.studio.example"};
  HttpApi cluster(options);
  const HttpResponse servers = Answer(cluster, "/v1/servers");
  EXPECT_EQ(servers.status, 200);
  EXPECT_EQ(servers.body,
            "{\"httpUrls\":[\"http://127.0.0.1:8081\","
            "\"https://b.studio.example\"]}");
  const HttpResponse page = Answer(cluster, "/");
  ASSERT_EQ(page.status, 200) << page.body;
  std::string policy;
  for (const auto& [name, value] : page.headers) {
    if (name == "Content-Security-Policy") policy = value;
  }
  EXPECT_THAT(policy, HasSubstr("connect-src 'self' http://127.0.0.1:8081 "
                                "https://b.studio.example; "));
  EXPECT_THAT(policy, HasSubstr("script-src 'self';"));

  HttpApi single(HttpApiOptions{});
  EXPECT_EQ(Answer(single, "/v1/servers").body, "{}");
  const HttpResponse home = Answer(single, "/kiosk");
  ASSERT_EQ(home.status, 200);
  for (const auto& [name, value] : home.headers) {
    if (name == "Content-Security-Policy") policy = value;
  }
  EXPECT_THAT(policy, HasSubstr("connect-src 'self'; "));
}

TEST(JsonStringTest, KeepsValidUtf8AndReplacesEveryInvalidByte) {
  EXPECT_EQ(JsonString("caf\xC3\xA9 \xF0\x9F\x92\xAA"),
            "\"caf\xC3\xA9 \xF0\x9F\x92\xAA\"");
  // A stray continuation byte, a lead byte cut short, an overlong "/", a
  // surrogate, and past U+10FFFF: one U+FFFD per byte.
  EXPECT_EQ(JsonString("a\x80"
                       "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(JsonString("a\xE2\x82"), "\"a\\ufffd\\ufffd\"");
  EXPECT_EQ(JsonString("\xC0\xAF"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(JsonString("\xED\xA0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(JsonString("\xF4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

TEST(JsonStringTest, EscapesQuotesControlsAndMarkup) {
  EXPECT_EQ(JsonString("\"\\\n\x01<>&"),
            "\"\\\"\\\\\\n\\u0001\\u003c\\u003e\\u0026\"");
}

}  // namespace
}  // namespace circuit
