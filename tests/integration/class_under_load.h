#ifndef CIRCUIT_TESTS_INTEGRATION_CLASS_UNDER_LOAD_H_
#define CIRCUIT_TESTS_INTEGRATION_CLASS_UNDER_LOAD_H_

// A class under load, for the tests that take its server away (a crash and
// restart, a node lost in a cluster): an instructor, a kiosk and
// participants, each on its own connection through the client library, the
// participants reporting without pause with a few reports in flight. What
// the tests check afterwards is what users are promised: nothing
// acknowledged is lost or counted twice, no client sees a seq go backwards,
// and the kiosk never receives health data.

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/lib/connection.h"
#include "client/lib/live_session.h"

namespace circuit::testing {

// Checks, for one stream, that seqs never go backwards.
class SeqWatch {
 public:
  // `seq` of an event (strictly after what came before) or of a snapshot
  // (not before it).
  void Event(int64_t seq);
  void Snapshot(int64_t seq);
  int backwards() const;

 private:
  mutable absl::Mutex mu_;
  int64_t last_ ABSL_GUARDED_BY(mu_) = 0;
  int backwards_ ABSL_GUARDED_BY(mu_) = 0;
};

// Counts acknowledgements across every participant, so a test can act
// after some progress rather than after some time.
class AckCounter {
 public:
  void Add();
  int64_t count() const;
  bool WaitForAtLeast(int64_t n, absl::Duration timeout) const;

 private:
  mutable absl::Mutex mu_;
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

struct LoadOptions {
  // Where every client connects (a TcpProxy, so the test can move them).
  std::string address;
  // When set, where participants connect instead, in turn (participant i
  // to the i-th modulo its size), and the kiosk (to the last): other
  // nodes of a cluster.
  std::vector<std::string> spread;
  std::string instructor_key;
  std::string kiosk_key;
  int participants = 20;
  // Reports each participant keeps unacked.
  int in_flight = 6;
  absl::Duration wait = absl::Seconds(30);
};

class ClassUnderLoad {
 public:
  explicit ClassUnderLoad(LoadOptions options);
  ~ClassUnderLoad();

  // Creates the class (kickback-trio), moves it to its last block so every
  // set can be reported and pauses there (the class never ends), attaches
  // the kiosk, joins the participants and starts their reporting. Fails the
  // test (fatally) when any of it fails; call in ASSERT_NO_FATAL_FAILURE.
  void Start();

  const v1::ClassInfo& info() const { return info_; }
  // A seat the test made itself (another door, say): StopAndCheck expects
  // it on the roster with these totals besides the load's participants.
  void ExpectSeat(const std::string& participant_id, int total_reps,
                  int symptoms);
  const AckCounter& acks() const { return acks_; }
  int kiosk_reconnects() const;

  // Stops reporting, waits until every report is acknowledged, and checks
  // the promises: the roster (of the live console and of a fresh one)
  // counts every submitted report once, no seq went backwards anywhere,
  // the kiosk got no health data. Returns how many reports were submitted.
  int StopAndCheck();

 private:
  struct Reporter;
  std::shared_ptr<client::Connection> NewConnection(
      const std::string& address) const;
  std::shared_ptr<client::Connection> NewConnection() const {
    return NewConnection(options_.address);
  }
  void StopSessions();

  const LoadOptions options_;
  client::SessionOptions session_options_;
  v1::ClassInfo info_;
  std::unique_ptr<client::InstructorSession> instructor_;
  SeqWatch instructor_seqs_;
  std::unique_ptr<client::KioskSession> kiosk_;
  SeqWatch kiosk_seqs_;
  std::atomic<int> kiosk_health_{0};
  AckCounter acks_;
  std::vector<std::unique_ptr<Reporter>> reporters_;
  std::atomic<bool> stop_{false};
  struct Expected {
    int reps = 0;
    int symptoms = 0;
  };
  std::map<std::string, Expected> other_seats_;
};

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_INTEGRATION_CLASS_UNDER_LOAD_H_
