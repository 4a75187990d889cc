// Web origins as circuitd --cluster_http_urls takes them and browsers send
// them (the Origin header).

#include "server/http/origins.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace circuit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(WebOriginTest, IsWhatABrowserSendsAsOrigin) {
  EXPECT_EQ(WebOrigin("http://127.0.0.1:8080").value(),
            "http://127.0.0.1:8080");
  EXPECT_EQ(WebOrigin("HTTPS://Studio.Example:8443/").value(),
            "https://studio.example:8443");
  // Browsers leave out the scheme's default port.
  EXPECT_EQ(WebOrigin("https://studio.example:443").value(),
            "https://studio.example");
  EXPECT_EQ(WebOrigin("http://studio.example:80").value(),
            "http://studio.example");
  EXPECT_EQ(WebOrigin("http://studio.example:443").value(),
            "http://studio.example:443");
  EXPECT_EQ(WebOrigin(" http://[::1]:8080 ").value(), "http://[::1]:8080");
  EXPECT_EQ(WebOrigin("http://[::1]").value(), "http://[::1]");
}

TEST(WebOriginTest, RefusesWhatIsNotAnOriginSayingWhy) {
  struct Case {
    std::string url;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"studio.example:8080", "http:// or https://"},
      {"ftp://studio.example", "http:// or https://"},
      {"http://", "host"},
      {"http://studio.example/console", "path"},
      {"http://studio.example?x=1", "path, query"},
      {"http://user@studio.example", "user name"},
      {"http://studio.example:", "port"},
      {"http://studio.example:0", "port"},
      {"http://studio.example:65536", "port"},
      {"http://studio.example:+80", "port"},
      {"http://studio example", "host"},
      {"http://<script>", "host"},
      {"http://[::1", "closing ]"},
      {"http://[::1]x", "follows"},
      {"http://[zz]:80", "IPv6"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> origin = WebOrigin(c.url);
    ASSERT_FALSE(origin.ok()) << c.url << " gave " << *origin;
    EXPECT_EQ(origin.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(origin.status().message(), HasSubstr(c.why)) << c.url;
  }
}

TEST(WebOriginsTest, ListsEachOnceInOrder) {
  EXPECT_THAT(WebOrigins("http://a:1, http://b:2,,HTTP://A:1/").value(),
              ElementsAre("http://a:1", "http://b:2"));
  EXPECT_THAT(WebOrigins("").value(), ElementsAre());
  EXPECT_EQ(WebOrigins("http://a:1,b:2").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace circuit
