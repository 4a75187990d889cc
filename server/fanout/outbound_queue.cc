#include "server/fanout/outbound_queue.h"

#include <utility>

namespace circuit {

namespace {

// A reference to `bytes`' one slice (what ToByteBuffer makes); a copy into
// one slice otherwise.
grpc::Slice OneSlice(const grpc::ByteBuffer& bytes) {
  grpc::Slice slice;
  if (!bytes.TrySingleSlice(&slice).ok()) {
    grpc::Status dumped = bytes.DumpToSingleSlice(&slice);
    (void)dumped;  // fails only for an empty buffer: the slice stays empty
  }
  return slice;
}

}  // namespace

bool OutboundQueue::Push(const grpc::ByteBuffer& bytes, Delivery delivery) {
  if (delivery == Delivery::kLatestProgress) {
    for (Entry& e : entries_) {
      if (e.delivery == Delivery::kLatestProgress) {
        e.bytes =
            OneSlice(bytes);  // the reader gets the latest, not the backlog
        return true;
      }
    }
  }
  if (entries_.size() >= max_messages_) return false;
  entries_.push_back(Entry{OneSlice(bytes), delivery});
  return true;
}

grpc::Slice OutboundQueue::Pop() {
  grpc::Slice bytes = std::move(entries_.front().bytes);
  entries_.pop_front();
  return bytes;
}

}  // namespace circuit
