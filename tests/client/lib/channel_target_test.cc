#include "client/lib/connection.h"
#include "gtest/gtest.h"

namespace circuit::client {
namespace {

TEST(ChannelTargetTest, OneAddressIsItself) {
  EXPECT_EQ(ChannelTarget("127.0.0.1:50051"), "127.0.0.1:50051");
  EXPECT_EQ(ChannelTarget("circuit.example:443"), "circuit.example:443");
  EXPECT_EQ(ChannelTarget("dns:///circuit.example:443"),
            "dns:///circuit.example:443");
}

TEST(ChannelTargetTest, SeveralIpAddressesAreOneTargetToPickFrom) {
  EXPECT_EQ(ChannelTarget("127.0.0.1:50051,127.0.0.1:50052"),
            "ipv4:127.0.0.1:50051,127.0.0.1:50052");
  EXPECT_EQ(ChannelTarget(" 10.0.0.1:1 , 10.0.0.2:2 ,"),
            "ipv4:10.0.0.1:1,10.0.0.2:2");
  EXPECT_EQ(ChannelTarget("[::1]:50051,[fe80::1]:50052"),
            "ipv6:[::1]:50051,[fe80::1]:50052");
}

TEST(ChannelTargetTest, SeveralNamesFallBackToTheFirst) {
  EXPECT_EQ(ChannelTarget("a.example:1,b.example:2"), "a.example:1");
  // Mixed families are not one gRPC target either.
  EXPECT_EQ(ChannelTarget("10.0.0.1:1,[::1]:2"), "10.0.0.1:1");
}

}  // namespace
}  // namespace circuit::client
