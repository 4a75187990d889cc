#ifndef CIRCUIT_SERVER_RPC_CQ_CALL_H_
#define CIRCUIT_SERVER_RPC_CQ_CALL_H_

// circuitd's one thread model: gRPC's completion-queue API, one polling
// thread per shard. Every RPC (streams, unary calls, health) runs on the
// shards, every write of a stream is started on its shard's thread, and the
// class actors run on the same threads (CqShards is their Executor), so a
// report read on a shard is checked by its class on that shard.
//
// Why not gRPC's callback API: measured on this 2-core machine, a bare
// fan-out server on the completion-queue API with one polling thread spends
// about 45% less CPU per delivered message; the callback API's poller thread
// took 30-44% of circuitd's samples and handed every read to another thread;
// and it starts a write on whatever thread calls StartWrite, so a class actor
// broadcasting to thousands of streams made every socket write itself. Here a
// broadcast only queues bytes and kicks the shards; each shard's thread
// writes its own streams.

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/alarm.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"
#include "server/live/executor.h"

namespace circuit {

// What a completion-queue event runs when the operation it was started with
// completes.
class CqTag {
 public:
  virtual void Proceed(bool ok) = 0;

 protected:
  ~CqTag() = default;
};

// Things begun and not yet over: tasks posted to a set of shards and not
// run yet (CqShards::WaitIdle), or call objects alive. Thread-safe.
class Outstanding {
 public:
  void Add() ABSL_LOCKS_EXCLUDED(mu_);
  void Done(int64_t n = 1) ABSL_LOCKS_EXCLUDED(mu_);
  // Returns once everything added is done, including what those added.
  void WaitZero() ABSL_LOCKS_EXCLUDED(mu_);
  // WaitZero, but false when some are left at `deadline`.
  bool WaitZeroUntil(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

// One ServerCompletionQueue and the thread that polls it; an Executor whose
// tasks run on that thread. Thread-safe.
class CqShard final : public Executor {
 public:
  // Something that asks to run on the shard's thread.
  class Kickable {
   public:
    virtual void OnKick() = 0;
    // For KickAfter.
    virtual void OnDelayedKick() {}

   protected:
    ~Kickable() = default;
  };

  // `tasks` (may be null) counts the tasks posted here and not yet run;
  // it must outlive the shard.
  explicit CqShard(std::unique_ptr<grpc::ServerCompletionQueue> cq,
                   Outstanding* tasks = nullptr);
  CqShard(const CqShard&) = delete;
  CqShard& operator=(const CqShard&) = delete;
  // Shuts the queue down if Shutdown was not called.
  ~CqShard() override;

  grpc::ServerCompletionQueue* cq() { return cq_.get(); }

  // Starts the polling thread.
  void Start();

  // Runs `target->OnKick()` on the shard's thread soon: every kick made from
  // other threads while the shard is busy is run in one wake-up, in order.
  // `target` must stay alive until its OnKick ran. Any thread; kicks after
  // Shutdown are dropped.
  void Kick(Kickable* target) ABSL_LOCKS_EXCLUDED(mu_);

  // Runs `target->OnDelayedKick()` on the shard's thread after about
  // `delay`: targets asked for while a delayed wake-up is pending run with
  // it (perhaps sooner than their own delay). Same contract as Kick.
  void KickAfter(Kickable* target, absl::Duration delay)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Runs `task` on the shard's thread soon, with the kicks of the same
  // wake-up; tasks posted from one thread run in the order posted. Never
  // inline. Tasks posted after Shutdown are dropped (destroyed unrun).
  void Post(Task task) override ABSL_LOCKS_EXCLUDED(mu_);

  // True on this shard's polling thread.
  bool OnThread() const;
  // The shard whose thread this is, or null.
  static CqShard* Current();
  Outstanding* tasks() const { return tasks_; }

  // Once the server has shut down (grpc::Server::Shutdown returned): shuts
  // the queue down and returns when every event left in it has run.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Wake final : public CqTag {
   public:
    Wake(CqShard* shard, bool delayed) : shard_(shard), delayed_(delayed) {}
    void Proceed(bool ok) override;

   private:
    CqShard* const shard_;
    const bool delayed_;
  };

  void Poll();
  void RunKicks() ABSL_LOCKS_EXCLUDED(mu_);
  void RunDelayedKicks() ABSL_LOCKS_EXCLUDED(mu_);
  // Sets the wake-up alarm unless one is due.
  void WakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  Outstanding* const tasks_;
  std::thread thread_;
  Wake wake_{this, false};
  Wake delayed_wake_{this, true};
  absl::Mutex mu_;
  std::vector<Kickable*> kicked_ ABSL_GUARDED_BY(mu_);
  std::vector<Task> posted_ ABSL_GUARDED_BY(mu_);
  // The alarm that wakes the thread for kicks; set while one is due.
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
  std::vector<Kickable*> delayed_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::Alarm> delayed_alarm_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

// A server's shards, and the Executor the class actors run on: a task posted
// from one of these shards' threads runs on that shard, so a class that
// answers a read or a write does it on the thread that owns the stream,
// without a hop; a task posted from any other thread (the journal's, the
// ticker's, the HTTP door's) goes to the shards in turn. Thread-safe once
// started.
class CqShards final : public Executor {
 public:
  CqShards() = default;
  CqShards(const CqShards&) = delete;
  CqShards& operator=(const CqShards&) = delete;
  ~CqShards() override { Shutdown(); }

  // Before Start: a shard polling `cq`.
  void Add(std::unique_ptr<grpc::ServerCompletionQueue> cq);
  const std::vector<std::unique_ptr<CqShard>>& shards() const {
    return shards_;
  }

  // Starts every shard's thread. Tasks may be posted from then on; a
  // server's calls may be asked for before or after (grpc::Server must be
  // built by the time the first is).
  void Start();

  void Post(Task task) override;

  // Returns true once no task posted here is left to run (those that tasks
  // post included); false if some are left at `deadline`. For shutdown: once
  // nothing outside the shards posts any more.
  bool WaitIdle(absl::Time deadline) { return tasks_.WaitZeroUntil(deadline); }

  // Once the server has shut down and WaitIdle returned: shuts every shard
  // down. Idempotent.
  void Shutdown();

 private:
  Outstanding tasks_;
  std::vector<std::unique_ptr<CqShard>> shards_;
  std::atomic<size_t> next_{0};
};

// The server side of one streaming call on a CqShard, with the shape of
// gRPC's callback reactors (StartRead, StartWrite, Finish, and On...
// reactions), so the service's stream logic reads the same as it would on
// the callback API:
//  - every reaction runs on the shard's thread, one at a time;
//  - StartRead, StartWrite and Finish may be called from any thread (a class
//    actor's strand, say); a write or a finish asked for on another thread is
//    started on the shard's thread;
//  - one read and one write in flight at a time; a Finish asked for while a
//    write is in flight starts when that write is done;
//  - StartRead is not called once Finish was asked for;
//  - OnCancel runs once if the call was cancelled (the client went away, or
//    TryCancel); Finish must still be called after it;
//  - OnDone runs last, once: the call is over, Finish is done and nothing is
//    in flight. It may delete this.
// `Responder` is grpc::ServerAsyncReaderWriter<ByteBuffer, ByteBuffer>
// (bidirectional) or grpc::ServerAsyncWriter<ByteBuffer> (server streaming).
template <class Responder>
class CqStreamCall : public CqShard::Kickable {
 public:
  static constexpr bool kReads = std::is_same_v<
      Responder,
      grpc::ServerAsyncReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>>;

  explicit CqStreamCall(CqShard* shard)
      : shard_(shard), responder_(&context_) {}
  CqStreamCall(const CqStreamCall&) = delete;
  CqStreamCall& operator=(const CqStreamCall&) = delete;
  virtual ~CqStreamCall() = default;

  // Waits for the next call of a method on the shard. `request` is the
  // service's RequestX, bound to everything but these arguments:
  // request(context, responder, cq, tag).
  template <typename RequestFn>
  void Listen(RequestFn request) {
    context_.AsyncNotifyWhenDone(&done_op_);
    request(&context_, &responder_, shard_->cq(), &started_op_);
  }

 protected:
  // The call arrived (on the shard's thread).
  virtual void OnStarted() = 0;
  // The call never arrived (the server is shutting down): no other reaction
  // follows. The default deletes this.
  virtual void OnNotStarted() { delete this; }
  virtual void OnReadDone(bool /*ok*/) {}
  virtual void OnWriteDone(bool /*ok*/) {}
  virtual void OnCancel() {}
  virtual void OnDone() = 0;

  void StartRead(grpc::ByteBuffer* into) {
    static_assert(kReads, "a server-streaming call does not read");
    reads_in_flight_.fetch_add(1);
    responder_.Read(into, &read_op_);
  }

  // `bytes` stay valid until OnWriteDone.
  void StartWrite(const grpc::ByteBuffer* bytes) {
    if (shard_->OnThread()) {
      WriteHere(bytes);
      return;
    }
    Ask(bytes, nullptr);
  }

  void Finish(const grpc::Status& status) {
    if (shard_->OnThread()) {
      FinishHere(status);
      return;
    }
    Ask(nullptr, &status);
  }

  // Asks for OnFlush() on the shard's thread soon: with the writes and
  // finishes other threads asked for, in the shard's next wake-up. Any
  // thread.
  void FlushSoon() {
    bool kick = false;
    {
      absl::MutexLock lock(&asked_mu_);
      flush_asked_ = true;
      if (!kick_pending_) kick = kick_pending_ = true;
    }
    if (kick) shard_->Kick(this);
  }

  // Asks for OnFlush() on the shard's thread after `delay` (once, however
  // often asked before it runs). Any thread.
  void FlushAfter(absl::Duration delay) {
    {
      absl::MutexLock lock(&asked_mu_);
      if (flush_pending_) return;
      flush_pending_ = true;
    }
    shard_->KickAfter(this, delay);
  }
  virtual void OnFlush() {}

  grpc::ServerContext* context() { return &context_; }
  CqShard* shard() const { return shard_; }

 private:
  // A tag that calls one member function of the call.
  class Op final : public CqTag {
   public:
    Op(CqStreamCall* call, void (CqStreamCall::*fn)(bool))
        : call_(call), fn_(fn) {}
    void Proceed(bool ok) override { (call_->*fn_)(ok); }

   private:
    CqStreamCall* const call_;
    void (CqStreamCall::*const fn_)(bool);
  };

  // Hands a write or a finish to the shard's thread.
  void Ask(const grpc::ByteBuffer* write, const grpc::Status* finish) {
    bool kick = false;
    {
      absl::MutexLock lock(&asked_mu_);
      if (write != nullptr) write_asked_ = write;
      if (finish != nullptr) finish_asked_ = *finish;
      if (!kick_pending_) kick = kick_pending_ = true;
    }
    if (kick) shard_->Kick(this);
  }

  void OnKick() override {
    const grpc::ByteBuffer* write = nullptr;
    std::optional<grpc::Status> finish;
    bool flush = false;
    {
      absl::MutexLock lock(&asked_mu_);
      kick_pending_ = false;
      write = write_asked_;
      write_asked_ = nullptr;
      finish = std::move(finish_asked_);
      finish_asked_.reset();
      flush = flush_asked_;
      flush_asked_ = false;
    }
    if (write != nullptr) WriteHere(write);
    if (finish.has_value()) FinishHere(*finish);
    if (flush) OnFlush();
    MaybeDone();
  }

  void OnDelayedKick() override {
    {
      absl::MutexLock lock(&asked_mu_);
      flush_pending_ = false;
    }
    OnFlush();
    MaybeDone();
  }

  void WriteHere(const grpc::ByteBuffer* bytes) {
    writing_ = true;
    responder_.Write(*bytes, &write_op_);
  }

  void FinishHere(const grpc::Status& status) {
    if (finish_started_) return;
    if (writing_) {
      finish_deferred_ = status;
      return;
    }
    finish_started_ = true;
    responder_.Finish(status, &finish_op_);
  }

  void Started(bool ok) {
    if (!ok) {
      OnNotStarted();
      return;
    }
    started_ = true;
    OnStarted();
  }
  void ReadDone(bool ok) {
    reads_in_flight_.fetch_sub(1);
    OnReadDone(ok);
    MaybeDone();
  }
  void WriteDone(bool ok) {
    writing_ = false;
    OnWriteDone(ok);
    if (!writing_ && finish_deferred_.has_value()) {
      grpc::Status status = std::move(*finish_deferred_);
      finish_deferred_.reset();
      FinishHere(status);
    }
    MaybeDone();
  }
  void FinishDone(bool /*ok*/) {
    finished_ = true;
    MaybeDone();
  }
  void Done(bool /*ok*/) {
    over_ = true;
    if (context_.IsCancelled()) OnCancel();
    MaybeDone();
  }

  void MaybeDone() {
    if (!over_ || !finished_ || writing_ || done_called_ ||
        reads_in_flight_.load() != 0) {
      return;
    }
    {
      absl::MutexLock lock(&asked_mu_);
      // OnKick or OnDelayedKick comes, and checks again.
      if (kick_pending_ || flush_pending_) return;
    }
    done_called_ = true;
    OnDone();
  }

  CqShard* const shard_;
  grpc::ServerContext context_;
  Responder responder_;
  Op started_op_{this, &CqStreamCall::Started};
  Op read_op_{this, &CqStreamCall::ReadDone};
  Op write_op_{this, &CqStreamCall::WriteDone};
  Op finish_op_{this, &CqStreamCall::FinishDone};
  Op done_op_{this, &CqStreamCall::Done};

  // What other threads asked for, until the shard's thread takes it.
  absl::Mutex asked_mu_;
  const grpc::ByteBuffer* write_asked_ ABSL_GUARDED_BY(asked_mu_) = nullptr;
  std::optional<grpc::Status> finish_asked_ ABSL_GUARDED_BY(asked_mu_);
  bool flush_asked_ ABSL_GUARDED_BY(asked_mu_) = false;  // FlushSoon
  bool kick_pending_ ABSL_GUARDED_BY(asked_mu_) = false;
  bool flush_pending_ ABSL_GUARDED_BY(asked_mu_) = false;

  // StartRead may run on another thread (a class actor's answer).
  std::atomic<int> reads_in_flight_{0};
  // The shard's thread only.
  bool started_ = false;
  bool writing_ = false;
  bool finish_started_ = false;
  std::optional<grpc::Status> finish_deferred_;
  bool finished_ = false;  // Finish completed
  bool over_ = false;      // the done tag came
  bool done_called_ = false;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_CQ_CALL_H_
