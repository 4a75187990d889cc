#ifndef CIRCUIT_SERVER_FANOUT_OUTBOUND_QUEUE_H_
#define CIRCUIT_SERVER_FANOUT_OUTBOUND_QUEUE_H_

#include <cstddef>
#include <deque>

#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"

namespace circuit {

// How a queued message may be treated when the reader falls behind.
enum class Delivery {
  // Events, acks, snapshots, command results, roster changes: never dropped.
  kReliable,
  // Class-wide progress: a newer one replaces a queued older one.
  kLatestProgress,
};

// The messages waiting behind a stream's one write in flight. Bounded:
// superseded progress is replaced in place, and a reader that lets more than
// `max_messages` pile up is too slow (Push returns false; the stream is then
// closed). Messages are shared serialized bytes: the queue keeps a reference
// to the one slice a broadcast was serialized into, so queueing a message for
// a stream allocates nothing. Not thread-safe; the owning Stream locks.
class OutboundQueue {
 public:
  explicit OutboundQueue(size_t max_messages) : max_messages_(max_messages) {}

  // Queues `bytes`. False when the queue is full: nothing was queued.
  bool Push(const grpc::ByteBuffer& bytes, Delivery delivery);

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }

  // Removes and returns the oldest message. Requires !empty().
  grpc::Slice Pop();

  void Clear() { entries_.clear(); }

 private:
  struct Entry {
    grpc::Slice bytes;
    Delivery delivery;
  };
  size_t max_messages_;
  std::deque<Entry> entries_;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_FANOUT_OUTBOUND_QUEUE_H_
