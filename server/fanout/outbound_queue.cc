#include "server/fanout/outbound_queue.h"

#include <utility>

namespace circuit {

bool OutboundQueue::Push(const grpc::ByteBuffer& bytes, Delivery delivery) {
  if (delivery == Delivery::kLatestProgress) {
    for (Entry& e : entries_) {
      if (e.delivery == Delivery::kLatestProgress) {
        e.bytes = bytes;  // the reader gets the latest, not the backlog
        return true;
      }
    }
  }
  if (entries_.size() >= max_messages_) return false;
  entries_.push_back(Entry{bytes, delivery});
  return true;
}

grpc::ByteBuffer OutboundQueue::Pop() {
  grpc::ByteBuffer bytes = std::move(entries_.front().bytes);
  entries_.pop_front();
  return bytes;
}

}  // namespace circuit
