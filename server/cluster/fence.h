#ifndef CIRCUIT_SERVER_CLUSTER_FENCE_H_
#define CIRCUIT_SERVER_CLUSTER_FENCE_H_

// Fencing as a property of a class log's order. Every reader of the log (a
// new owner replaying it, the owner reading back its own appends, another
// node following the class) runs the same rules over the records in log
// order, so they all accept the same entries:
//
//  1. The first `created` record is the class; any later one is ignored.
//  2. A takeover of term T with T above every term seen so far starts T:
//     from here on only entries of term T count. A takeover of a term no
//     higher than the current one is a stale claimant's, and ignored.
//  3. An entry counts only when its term is the current one. Within a term
//     entries are taken in the order of their `n` (1, 2, ...): one that
//     landed early waits for the ones before it, a repeated n is ignored,
//     and whatever waits when a newer takeover arrives is dropped.
//
// An owner of term T acks an append only once its reader has taken it,
// which by (2) and (3) means no newer takeover came before it: a replay by
// anyone later takes it too. An owner whose reader meets a newer takeover
// steps down. This holds however many writers believe they own the class
// and whatever order their publishes land in, which is what nats-server
// 2.9.10's expected-sequence checks cannot promise under concurrency.

#include <cstdint>
#include <map>
#include <vector>

#include "circuit/internal/cluster.pb.h"

namespace circuit::cluster {

class FenceReader {
 public:
  // What reading one record did.
  enum class Read {
    kCreated,   // the class's record (rule 1)
    kTakeover,  // a newer term starts (rule 2)
    kTaken,     // entries taken (rule 3), appended to `taken`
    kWaiting,   // an entry of the current term waits for one before it
    kIgnored,   // anything else: stale, duplicate or fenced
  };

  // Reads the next record in log order. Entries it makes count are appended
  // to `*taken`, in the order they count (its own and any that waited for
  // it).
  Read Next(internal::LogRecord record,
            std::vector<internal::LogRecord>* taken);

  // At the end of an ended class's log: takes the current term's entries
  // still waiting, in the order of their n. In an ended class's log only an
  // erasure (of health data) leaves a gap; a live log's gap may yet be
  // filled, so live readers never flush.
  void Flush(std::vector<internal::LogRecord>* taken);

  // The current term (0 before any takeover) and the n of the last entry
  // taken in it.
  int64_t term() const { return term_; }
  int64_t last_n() const { return last_n_; }
  bool created() const { return created_; }

 private:
  bool created_ = false;
  int64_t term_ = 0;
  int64_t last_n_ = 0;
  // Entries of the current term that landed before one they follow.
  std::map<int64_t, internal::LogRecord> waiting_;
};

}  // namespace circuit::cluster

#endif  // CIRCUIT_SERVER_CLUSTER_FENCE_H_
