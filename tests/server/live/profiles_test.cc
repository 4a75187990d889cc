// The profile book takes what another node of a cluster keeps: a profile
// made there opens here with its credential; one erased there, or whose
// credential was replaced, no longer does.
#include "server/live/profiles.h"

#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "server/common/clock.h"
#include "server/common/secrets.h"
#include "server/journal/journal.h"

namespace circuit {
namespace {

StoredProfileHistory Stored(const std::string& id, const std::string& token,
                            int classes) {
  StoredProfileHistory stored;
  stored.profile.mutable_profile()->set_profile_id(id);
  stored.profile.mutable_profile()->set_display_name("Dana");
  stored.profile.set_credential_sha256(Sha256(token));
  for (int i = 1; i <= classes; ++i) {
    stored.recent.emplace_back().set_class_id("c" + std::to_string(i));
  }
  stored.class_count = classes;
  return stored;
}

TEST(ProfileBookTest, TakesWhatAnotherNodeKeeps) {
  InMemoryJournal journal;
  FakeClock clock;
  ProfileBook book(&journal, &clock);
  ASSERT_TRUE(book.Load().ok());
  const std::string first = "cp_" + std::string(48, 'a');
  const std::string second = "cp_" + std::string(48, 'b');
  EXPECT_TRUE(absl::IsUnauthenticated(book.Authenticate(first).status()));

  book.Refresh("pf-dana", Stored("pf-dana", first, 1));
  absl::StatusOr<v1::Profile> opened = book.Authenticate(first);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->profile_id(), "pf-dana");
  EXPECT_EQ(book.Recent("pf-dana")->size(), 1u);

  // Her credential reissued there, and a class ended: the old one opens
  // nothing here, the new one her profile with both classes.
  book.Refresh("pf-dana", Stored("pf-dana", second, 2));
  EXPECT_TRUE(absl::IsUnauthenticated(book.Authenticate(first).status()));
  ASSERT_TRUE(book.Authenticate(second).ok());
  EXPECT_EQ(book.Recent("pf-dana")->size(), 2u);

  // Erased there: gone here.
  book.Refresh("pf-dana", std::nullopt);
  EXPECT_TRUE(absl::IsUnauthenticated(book.Authenticate(second).status()));
  EXPECT_FALSE(book.Get("pf-dana").has_value());
  EXPECT_TRUE(book.Recent("pf-dana")->empty());
}

}  // namespace
}  // namespace circuit
