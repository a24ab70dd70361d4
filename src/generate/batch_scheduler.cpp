// BatchScheduler: the queue, the admission rules and the scheduler thread. The per-request
// state machine is SchedulerSlot (scheduler_slot.h), the batch of one step build_step
// (scheduler_step.h).
//
// One thread owns the engine, the KV cache and the slots: an engine step is one pass over the
// weights for all slots, so there is nothing to gain from several threads calling it, and a
// single owner needs no locks around the cache. Other threads only touch the queue, the
// cancel list and a published view of the slots, under `mu`.
#include "generate/batch_scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>
#include <utility>

#include "core/error.h"
#include "engine/kv_cache.h"
#include "engine/llama_engine.h"
#include "generate/scheduler_slot.h"
#include "generate/scheduler_step.h"

namespace lmforge {

namespace {

const char* state_name(SchedulerSlot::State s) {
  switch (s) {
    case SchedulerSlot::State::kIdle: return "idle";
    case SchedulerSlot::State::kPrompt: return "prompt";
    case SchedulerSlot::State::kGenerating: return "generating";
  }
  return "idle";
}

void report_cancelled(QueuedRequest& q) {
  if (!q.callbacks.on_done) return;
  ScheduledResult r;
  r.stop = StopReason::kCancelled;
  r.prompt_tokens = q.request.prompt.size();
  try {
    q.callbacks.on_done(r);
  } catch (...) {
    // The request is over either way.
  }
}

}  // namespace

struct BatchScheduler::Impl {
  Impl(const LlamaModel& m, const Tokenizer& t, const BatchSchedulerOptions& o);
  void run();
  bool wake_condition() const;           // under mu
  void release_idle_cells();             // scheduler thread
  void step(StepBatch& batch);           // scheduler thread: build, evaluate, hand out rows
  void publish(const StepBatch* done);   // scheduler thread: the view other threads read

  const LlamaModel& model;
  const Tokenizer& tok;
  BatchSchedulerOptions opt;
  uint32_t n_ctx = 0;
  size_t budget = 0;

  // The scheduler thread's own.
  std::unique_ptr<LlamaEngine> engine;
  std::unique_ptr<KvCache> cache;
  std::vector<std::unique_ptr<SchedulerSlot>> slots;
  std::vector<bool> holds_cells;  // per slot: some of its cells may be in the cache

  // Shared, under mu.
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<QueuedRequest> queue;
  std::vector<uint64_t> cancels;
  uint64_t next_id = 1;
  bool stopping = false, finish_queued = false;
  bool exited = false;  // the scheduler thread has ended: nothing reads `cancels` any more
  uint32_t busy = 0;  // slots given a request and not yet seen idle again
  SchedulerStats counters;
  std::vector<SlotInfo> view;

  std::mutex join_mu;
  std::thread thread;
};

BatchScheduler::Impl::Impl(const LlamaModel& m, const Tokenizer& t, const BatchSchedulerOptions& o)
    : model(m), tok(t), opt(o) {
  if (opt.n_slots == 0) throw UsageError("the scheduler needs at least one slot");
  n_ctx = opt.n_ctx ? opt.n_ctx : model.config().max_position_embeddings;
  if (n_ctx == 0) throw UsageError("the context length is 0");
  const uint64_t cells = uint64_t{opt.n_slots} * n_ctx;
  if (cells > std::numeric_limits<uint32_t>::max() || !llama_kv_cache_bytes(model.config(), static_cast<uint32_t>(cells)))
    throw UsageError(std::to_string(opt.n_slots) + " slots of " + std::to_string(n_ctx) + " positions are too many KV cells");
  // Every generating slot takes part in every step, so a step holds at least one token per slot.
  budget = std::max<size_t>(std::max(opt.n_batch, 1u), opt.n_slots);
  engine = LlamaEngine::create(model, LlamaEngineOptions{.n_threads = opt.n_threads, .n_batch = static_cast<uint32_t>(budget)});
  cache = std::make_unique<KvCache>(model, static_cast<uint32_t>(cells), opt.n_slots);
  for (uint32_t i = 0; i < opt.n_slots; ++i) slots.push_back(std::make_unique<SchedulerSlot>(i, n_ctx, tok));
  holds_cells.assign(opt.n_slots, false);
  counters.slots_total = opt.n_slots;
  counters.kv_cells_total = counters.kv_cells_free = cache->n_cells();
  view.resize(opt.n_slots);
  for (uint32_t i = 0; i < opt.n_slots; ++i) view[i] = SlotInfo{.id = i, .state = "idle"};
}

bool BatchScheduler::Impl::wake_condition() const {
  if (stopping || !cancels.empty()) return true;
  bool any_idle = false;
  for (const auto& s : slots) {
    if (!s->idle()) return true;
    any_idle = true;
  }
  return any_idle && !queue.empty();
}

void BatchScheduler::Impl::release_idle_cells() {
  for (size_t i = 0; i < slots.size(); ++i) {
    if (holds_cells[i] && slots[i]->idle()) {
      cache->remove(static_cast<int32_t>(i));
      holds_cells[i] = false;
    }
  }
}

void BatchScheduler::Impl::step(StepBatch& s) {
  build_step(slots, budget, s);
  if (s.batch.empty()) return;
  for (const StepBatch::Part& p : s.parts) holds_cells[p.slot->index()] = true;
  std::vector<float> rows;
  try {
    rows = engine->eval(*cache, s.batch);
  } catch (const std::exception& e) {
    // The cache is unchanged (eval's contract); the requests of this batch end, the others go on.
    for (const StepBatch::Part& p : s.parts) p.slot->finish(StopReason::kCancelled, std::string("the engine failed: ") + e.what());
    s.parts.clear();
    return;
  }
  const size_t n_vocab = model.n_vocab();
  size_t row = 0;
  for (const StepBatch::Part& p : s.parts) {
    std::span<const float> logits;
    if (p.wants_logits) logits = std::span<const float>(rows).subspan(row++ * n_vocab, n_vocab);
    if (p.prompt) {
      p.slot->prompt_evaluated(p.n_tokens, logits);
    } else {
      p.slot->token_evaluated(logits);
    }
  }
}

void BatchScheduler::Impl::publish(const StepBatch* done) {
  std::lock_guard lk(mu);
  uint32_t n_busy = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    const SchedulerSlot& s = *slots[i];
    SlotInfo& v = view[i];
    v.state = state_name(s.state());
    v.request = s.request_id();
    v.n_past = s.idle() ? 0 : s.n_past();
    v.n_prompt = s.n_prompt();
    v.n_generated = s.idle() ? 0 : s.n_generated();
    n_busy += !s.idle();
  }
  busy = n_busy;
  counters.kv_cells_free = cache->n_free();
  counters.generated_tokens = 0;
  for (const auto& s : slots) counters.generated_tokens += s->drawn_total();
  if (done && !done->parts.empty()) {
    ++counters.steps;
    counters.prompt_tokens += done->n_prompt_tokens;
  }
}

void BatchScheduler::Impl::run() {
  StepBatch batch;
  while (true) {
    std::vector<QueuedRequest> dropped;
    std::vector<uint64_t> cancel_ids;
    bool cancel_all = false, exit_after = false;
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return wake_condition(); });
      cancel_ids.swap(cancels);
      if (stopping && !finish_queued) {
        cancel_all = true;
        while (!queue.empty()) {
          dropped.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      for (uint64_t id : cancel_ids) {
        auto it = std::find_if(queue.begin(), queue.end(), [&](const QueuedRequest& q) { return q.id == id; });
        if (it == queue.end()) continue;
        dropped.push_back(std::move(*it));
        queue.erase(it);
      }
      if (!cancel_all) {
        for (auto& s : slots) {
          if (queue.empty()) break;
          if (!s->idle()) continue;
          s->start(std::move(queue.front()));
          queue.pop_front();
          ++busy;
        }
      }
      bool any_busy = false;
      for (const auto& s : slots) any_busy |= !s->idle();
      exit_after = stopping && (cancel_all || (queue.empty() && !any_busy));
    }
    // Callbacks outside the lock: they may take their own locks (a connection's queue).
    for (QueuedRequest& q : dropped) report_cancelled(q);
    for (auto& s : slots) {
      if (s->idle()) continue;
      if (cancel_all || std::find(cancel_ids.begin(), cancel_ids.end(), s->request_id()) != cancel_ids.end())
        s->finish(StopReason::kCancelled);
    }
    release_idle_cells();
    if (exit_after) {
      publish(nullptr);
      std::lock_guard lk(mu);
      exited = true;
      break;
    }
    try {
      step(batch);
    } catch (const std::exception& e) {
      // Not the engine (step() handles that) but the scheduler's own work (memory for a batch,
      // a sampler): the requests of this step end, the thread goes on.
      for (const StepBatch::Part& p : batch.parts) p.slot->finish(StopReason::kCancelled, std::string("the scheduler failed: ") + e.what());
      batch.parts.clear();
    }
    release_idle_cells();
    publish(&batch);
  }
}

BatchScheduler::BatchScheduler(const LlamaModel& model, const Tokenizer& tok, const BatchSchedulerOptions& options)
    : impl_(std::make_unique<Impl>(model, tok, options)) {
  impl_->thread = std::thread([this] { impl_->run(); });
}

BatchScheduler::~BatchScheduler() { shutdown(false); }

BatchScheduler::Submitted BatchScheduler::submit(ScheduledRequest request, RequestCallbacks callbacks) {
  Impl& m = *impl_;
  if (request.prompt.empty()) throw UsageError("the prompt has no tokens");
  for (int32_t t : request.prompt)
    if (t < 0 || static_cast<uint32_t>(t) >= m.model.n_vocab())
      throw UsageError("token id " + std::to_string(t) + " is outside the vocabulary of " + std::to_string(m.model.n_vocab()));
  if (request.top_logprobs > 20) throw UsageError("top_logprobs is at most 20");
  const int64_t n_predict = request.generation.n_predict;
  const uint64_t needed = request.prompt.size() + static_cast<uint64_t>(n_predict < 0 ? 1 : n_predict);
  if (needed > m.n_ctx || request.prompt.size() > m.n_ctx) return {Admission::kTooLong, 0};

  std::lock_guard lk(m.mu);
  if (m.stopping) return {Admission::kShuttingDown, 0};
  // Requests in the queue that idle slots will take at once are not waiting.
  const size_t idle = m.opt.n_slots - std::min(m.busy, m.opt.n_slots);
  if (m.queue.size() >= size_t{m.opt.max_queue} + idle) return {Admission::kQueueFull, 0};
  const uint64_t id = m.next_id++;
  m.queue.push_back(QueuedRequest{id, std::move(request), std::move(callbacks)});
  m.cv.notify_all();
  return {Admission::kAccepted, id};
}

void BatchScheduler::cancel(uint64_t id) {
  std::lock_guard lk(impl_->mu);
  // Everything is being cancelled, or nothing runs any more.
  if (impl_->exited || (impl_->stopping && !impl_->finish_queued)) return;
  impl_->cancels.push_back(id);
  impl_->cv.notify_all();
}

void BatchScheduler::shutdown(bool finish) {
  {
    std::lock_guard lk(impl_->mu);
    if (!impl_->stopping) {
      impl_->stopping = true;
      impl_->finish_queued = finish;
    } else if (!finish) {
      impl_->finish_queued = false;  // a later, harder shutdown wins
    }
    impl_->cv.notify_all();
  }
  std::lock_guard lk(impl_->join_mu);
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint32_t BatchScheduler::n_ctx() const { return impl_->n_ctx; }

SchedulerStats BatchScheduler::stats() const {
  std::lock_guard lk(impl_->mu);
  SchedulerStats s = impl_->counters;
  s.slots_busy = impl_->busy;
  s.queued = static_cast<uint32_t>(impl_->queue.size());
  return s;
}

std::vector<SlotInfo> BatchScheduler::slots() const {
  std::lock_guard lk(impl_->mu);
  return impl_->view;
}

}  // namespace lmforge
