// The class log and leases against a real 3-server JetStream cluster
// (Debian's nats-server 2.9.10) on 127.0.0.1.
#include "server/cluster/class_log.h"

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/cluster/lease.h"
#include "server/cluster/nats.h"
#include "tests/testing/nats_cluster.h"

namespace circuit::cluster {
namespace {

using ::testing::HasSubstr;

absl::Time Deadline() { return absl::Now() + absl::Seconds(60); }

// Each test starts its own cluster (ctest runs each test in a process of
// its own anyway). A cluster that does not start fails the test.
class ClassLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::NatsCluster>> cluster =
        testing::NatsCluster::Start(3, Deadline());
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    absl::StatusOr<std::unique_ptr<Nats>> nats = Connect("setup");
    ASSERT_TRUE(nats.ok()) << nats.status();
    absl::Status stream = EnsureClassStream(**nats, 3);
    ASSERT_TRUE(stream.ok()) << stream;
  }

  absl::StatusOr<std::unique_ptr<Nats>> Connect(std::string node) {
    NatsOptions options;
    options.servers = *ParseServers(cluster_->urls());
    options.name = std::move(node);
    return Nats::Connect(options);
  }

  // A class created in the log with a fresh id.
  std::string NewClass(Nats& nats) {
    static std::atomic<int> next{0};
    internal::ClassRecord record;
    const std::string id = absl::StrCat("c-test", next++, "-", getpid());
    record.mutable_info()->set_class_id(id);
    EXPECT_TRUE(CreateClassLog(nats, record, "a").ok());
    return id;
  }

  static absl::StatusOr<std::unique_ptr<OwnedLog>> Claim(
      Nats& nats, const std::string& class_id, int64_t term,
      OwnedLog::Claimed* claimed) {
    OwnedLog::Options options;
    options.class_id = class_id;
    options.term = term;
    options.node = absl::StrCat("node-of-", term);
    return OwnedLog::Claim(nats, options, claimed);
  }

  // Appends and waits for the answer.
  static absl::Status AppendAndWait(OwnedLog& log, const std::string& entry) {
    absl::Notification done;
    absl::Status result;
    log.Append(entry, [&](absl::Status s) {
      result = s;
      done.Notify();
    });
    if (!done.WaitForNotificationWithTimeout(absl::Seconds(60))) {
      return absl::DeadlineExceededError("no answer to an append");
    }
    return result;
  }

  static std::vector<std::string> EntriesOf(const OwnedLog::Claimed& claimed) {
    std::vector<std::string> entries;
    for (const auto& r : claimed.entries) entries.push_back(r.entry());
    return entries;
  }

  std::unique_ptr<testing::NatsCluster> cluster_;
};

TEST(ParseServersTest, TakesNatsUrlsAndSaysWhichIsWrong) {
  absl::StatusOr<std::vector<std::string>> servers =
      ParseServers("nats://a:4222, nats://10.0.0.2:5222");
  ASSERT_TRUE(servers.ok());
  EXPECT_THAT(*servers,
              ::testing::ElementsAre("nats://a:4222", "nats://10.0.0.2:5222"));
  for (const char* bad : {"", "a:4222", "nats://a", "nats://a:0",
                          "nats://:4222", "nats://a:4222,http://b:1"}) {
    absl::StatusOr<std::vector<std::string>> parsed = ParseServers(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(parsed.status())) << bad;
  }
  EXPECT_THAT(std::string(ParseServers("nats://a:4222,b:1").status().message()),
              HasSubstr("\"b:1\""));
}

TEST_F(ClassLogTest, AClassIsCreatedOnce) {
  absl::StatusOr<std::unique_ptr<Nats>> nats = Connect("a");
  ASSERT_TRUE(nats.ok()) << nats.status();
  const std::string id = NewClass(**nats);
  internal::ClassRecord again;
  again.mutable_info()->set_class_id(id);
  EXPECT_TRUE(absl::IsAlreadyExists(CreateClassLog(**nats, again, "b")));
  // The same create made again (a retry after no answer, which had
  // landed) is refused by the stream, read back, and found to be done.
  EXPECT_EQ(CreateClassLog(**nats, again, "a"), absl::OkStatus());
  OwnedLog::Claimed claimed;
  absl::StatusOr<std::unique_ptr<OwnedLog>> log =
      Claim(**nats, id, 1, &claimed);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE(claimed.entries.empty());
}

TEST_F(ClassLogTest, AClaimOfAClassNeverCreatedIsNotFound) {
  absl::StatusOr<std::unique_ptr<Nats>> nats = Connect("a");
  ASSERT_TRUE(nats.ok()) << nats.status();
  OwnedLog::Claimed claimed;
  absl::StatusOr<std::unique_ptr<OwnedLog>> log =
      Claim(**nats, absl::StrCat("c-never-", getpid()), 1, &claimed);
  EXPECT_TRUE(absl::IsNotFound(log.status())) << log.status();
}

TEST_F(ClassLogTest, ANewOwnerReplaysWhatWasAckedAndFencesTheOldOne) {
  absl::StatusOr<std::unique_ptr<Nats>> a = Connect("a");
  absl::StatusOr<std::unique_ptr<Nats>> b = Connect("b");
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string id = NewClass(**a);

  OwnedLog::Claimed first;
  absl::StatusOr<std::unique_ptr<OwnedLog>> old_owner =
      Claim(**a, id, 10, &first);
  ASSERT_TRUE(old_owner.ok()) << old_owner.status();
  EXPECT_EQ(first.record.info().class_id(), id);
  EXPECT_TRUE(first.entries.empty());
  absl::Notification lost;
  (*old_owner)->OnLost([&](absl::Status) { lost.Notify(); });
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(AppendAndWait(**old_owner, absl::StrCat("a", i)).ok());
  }

  OwnedLog::Claimed second;
  absl::StatusOr<std::unique_ptr<OwnedLog>> new_owner =
      Claim(**b, id, 20, &second);
  ASSERT_TRUE(new_owner.ok()) << new_owner.status();
  EXPECT_THAT(EntriesOf(second),
              ::testing::ElementsAre("a1", "a2", "a3", "a4", "a5"));
  ASSERT_TRUE(AppendAndWait(**new_owner, "b1").ok());

  // The old owner reads the newer takeover and steps down: nothing more of
  // its term is acked.
  ASSERT_TRUE(lost.WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_FALSE((*old_owner)->owned());
  absl::Status stale = AppendAndWait(**old_owner, "a6");
  EXPECT_TRUE(absl::IsUnavailable(stale)) << stale;
  EXPECT_THAT(std::string(stale.message()), HasSubstr("no longer owns"));

  // A claim with a term below the current one fails.
  OwnedLog::Claimed stale_claim;
  absl::StatusOr<std::unique_ptr<OwnedLog>> late =
      Claim(**a, id, 15, &stale_claim);
  EXPECT_TRUE(absl::IsFailedPrecondition(late.status())) << late.status();

  OwnedLog::Claimed third;
  absl::StatusOr<std::unique_ptr<OwnedLog>> next = Claim(**a, id, 30, &third);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_THAT(EntriesOf(third),
              ::testing::ElementsAre("a1", "a2", "a3", "a4", "a5", "b1"));
}

// Two owners forced to append at once (the old one does not know yet that
// a newer term took the class): whatever either was told "recorded" is in
// the next owner's replay, once, in the order it was acked; nothing the old
// owner appended after the takeover is.
TEST_F(ClassLogTest,
       TwoOwnersAppendingConcurrentlyAckOnlyWhatEveryReaderTakes) {
  absl::StatusOr<std::unique_ptr<Nats>> a = Connect("a");
  absl::StatusOr<std::unique_ptr<Nats>> b = Connect("b");
  absl::StatusOr<std::unique_ptr<Nats>> c = Connect("c");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const std::string id = NewClass(**a);
  OwnedLog::Claimed ignored;
  absl::StatusOr<std::unique_ptr<OwnedLog>> old_owner =
      Claim(**a, id, 100, &ignored);
  ASSERT_TRUE(old_owner.ok()) << old_owner.status();

  absl::Mutex mu;
  std::vector<std::string> acked;  // in the order their acks came
  int answered = 0;                // guarded by mu
  std::atomic<bool> stop{false};
  auto append = [&](OwnedLog& log, const std::string& entry) {
    log.Append(entry, [&, entry](absl::Status s) {
      absl::MutexLock lock(&mu);
      if (s.ok()) acked.push_back(entry);
      ++answered;
    });
  };
  // The old owner appends until told to stop, up to 64 in flight, so it
  // is still appending when the new owner takes over and after.
  int old_sent = 0;
  std::thread old_writer([&] {
    while (!stop.load() && old_sent < 100000) {
      {
        absl::MutexLock lock(&mu);
        auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
          return old_sent - answered < 64;
        };
        mu.AwaitWithTimeout(absl::Condition(&room), absl::Milliseconds(100));
        if (!room()) continue;
      }
      append(**old_owner, absl::StrCat("old", ++old_sent));
    }
  });
  // Once the old owner has some acked, the new one takes over and appends
  // concurrently.
  {
    absl::MutexLock lock(&mu);
    auto some_acked = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return acked.size() >= 20;
    };
    ASSERT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(&some_acked), absl::Seconds(60)));
  }
  OwnedLog::Claimed taken_over;
  absl::StatusOr<std::unique_ptr<OwnedLog>> new_owner =
      Claim(**b, id, 200, &taken_over);
  ASSERT_TRUE(new_owner.ok()) << new_owner.status();
  int new_sent = 0;
  for (; new_sent < 200; ++new_sent) {
    append(**new_owner, absl::StrCat("new", new_sent + 1));
  }
  stop = true;
  old_writer.join();
  const int sent = old_sent + new_sent;
  {
    absl::MutexLock lock(&mu);
    auto all_answered = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return answered == sent;
    };
    ASSERT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(&all_answered), absl::Seconds(90)))
        << answered << " of " << sent << " answered";
  }
  EXPECT_FALSE((*old_owner)->owned());

  OwnedLog::Claimed replay;
  absl::StatusOr<std::unique_ptr<OwnedLog>> next = Claim(**c, id, 300, &replay);
  ASSERT_TRUE(next.ok()) << next.status();
  const std::vector<std::string> replayed = EntriesOf(replay);
  std::set<std::string> replayed_set(replayed.begin(), replayed.end());
  EXPECT_EQ(replayed_set.size(), replayed.size()) << "an entry taken twice";
  absl::MutexLock lock(&mu);
  for (const std::string& entry : acked) {
    EXPECT_TRUE(replayed_set.count(entry)) << entry << " acked, not replayed";
  }
  // Every new-term entry is acked, and all of them come after every
  // old-term one in the replay.
  int new_acked = 0;
  for (const std::string& entry : acked)
    new_acked += entry.rfind("new", 0) == 0;
  EXPECT_EQ(new_acked, new_sent);
  bool seen_new = false;
  for (const std::string& entry : replayed) {
    const bool is_new = entry.rfind("new", 0) == 0;
    EXPECT_FALSE(seen_new && !is_new) << entry << " of the old term after "
                                      << "the takeover";
    seen_new = seen_new || is_new;
  }
  // The old owner's entries in the replay are a prefix 1..k of what it sent,
  // each one acked (acks after the takeover would break this).
  int k = 0;
  for (const std::string& entry : replayed) {
    if (entry.rfind("old", 0) == 0) {
      EXPECT_EQ(entry, absl::StrCat("old", ++k));
    }
  }
  EXPECT_GE(k, 20);
  EXPECT_LT(k, old_sent) << "the old owner was never fenced";
}

TEST_F(ClassLogTest, ALeaseIsTakenOnceRenewedOnItsRevisionAndExpires) {
  absl::StatusOr<std::unique_ptr<Nats>> a = Connect("a");
  absl::StatusOr<std::unique_ptr<Nats>> b = Connect("b");
  ASSERT_TRUE(a.ok() && b.ok());
  // Its own bucket with a short lease (the TTL is per bucket).
  absl::StatusOr<std::unique_ptr<LeaseBucket>> leases_a =
      LeaseBucket::Open(**a, absl::Seconds(2), 3);
  ASSERT_TRUE(leases_a.ok()) << leases_a.status();
  absl::StatusOr<std::unique_ptr<LeaseBucket>> leases_b =
      LeaseBucket::Open(**b, absl::Seconds(2), 3);
  ASSERT_TRUE(leases_b.ok()) << leases_b.status();
  const std::string id = absl::StrCat("c-lease-", getpid());

  absl::StatusOr<Held> held = (*leases_a)->Take(id, "node-a");
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_GT(held->term, 0);
  EXPECT_LT(held->act_until, absl::Now() + absl::Seconds(2));
  absl::StatusOr<Held> second = (*leases_b)->Take(id, "node-b");
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("node-a"));
  EXPECT_EQ(*(*leases_b)->Holder(id), "node-a");

  absl::StatusOr<Held> renewed = (*leases_a)->Renew(id, "node-a", *held);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->term, held->term);
  EXPECT_GT(renewed->revision, held->revision);
  // A renewal on an old revision fails.
  EXPECT_TRUE(absl::IsFailedPrecondition(
      (*leases_a)->Renew(id, "node-a", *held).status()));

  // Not renewed, it expires, and the next taker's term is higher.
  absl::StatusOr<Held> taken;
  for (absl::Time until = Deadline(); absl::Now() < until;) {
    taken = (*leases_b)->Take(id, "node-b");
    if (taken.ok()) break;
    ASSERT_TRUE(absl::IsFailedPrecondition(taken.status())) << taken.status();
    // The bucket expires the key on its own time.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_GT(taken->term, renewed->revision);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      (*leases_a)->Renew(id, "node-a", *renewed).status()));

  // Released, it is free at once.
  (*leases_b)->Release(id, *taken);
  // A replica may answer a read before it has the release (the bucket
  // allows direct reads): wait for it.
  bool released = false;
  for (absl::Time until = Deadline(); !released && absl::Now() < until;) {
    released = absl::IsNotFound((*leases_a)->Holder(id).status());
    if (!released) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(released);
  absl::StatusOr<Held> again = (*leases_a)->Take(id, "node-a");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_GT(again->term, taken->term);
}

}  // namespace
}  // namespace circuit::cluster
