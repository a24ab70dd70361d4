// BatchScheduler on the committed demo model (models/demo): concurrent greedy requests give
// exactly the tokens and text each gives alone through GenerationSession::complete, stop strings
// never leak, cancel and shutdown free slots and KV cells, admission limits, logprobs against
// top_probabilities, seeded sampling per request, and a bounded stress run.
#include "generate/batch_scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "engine/model_loader.h"
#include "generate/token_probs.h"

namespace lmforge {
namespace {

// What one request's callbacks saw, for the test thread to wait on.
struct Outcome {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int32_t> tokens;  // drawn, the one ending the text included
  std::string text;
  std::vector<ScheduledToken> seen;  // with `top` copied below
  std::vector<std::vector<TokenLogprob>> tops;
  int first_token_calls = 0;
  int done_calls = 0;
  ScheduledResult result;
  bool end_of_text_seen = false;

  RequestCallbacks callbacks() {
    RequestCallbacks c;
    c.on_token = [this](const ScheduledToken& t) {
      std::lock_guard lk(mu);
      tokens.push_back(t.id);
      text += t.text;
      ScheduledToken copy = t;
      copy.text = {};
      copy.top = {};
      seen.push_back(copy);
      tops.emplace_back(t.top.begin(), t.top.end());
      end_of_text_seen |= t.end_of_text;
    };
    c.on_first_token = [this] {
      std::lock_guard lk(mu);
      ++first_token_calls;
    };
    c.on_done = [this](const ScheduledResult& r) {
      std::lock_guard lk(mu);
      result = r;
      ++done_calls;
      cv.notify_all();
    };
    return c;
  }
  // Bounded: a scheduler that never answers fails the test instead of hanging it.
  bool wait(std::chrono::seconds limit = std::chrono::seconds(120)) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, limit, [&] { return done_calls > 0; });
  }
  std::vector<int32_t> generated() {
    std::lock_guard lk(mu);
    std::vector<int32_t> g = tokens;
    if (end_of_text_seen && !g.empty()) g.pop_back();
    return g;
  }
};

class BatchSchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      loaded_ = std::make_unique<LoadedModel>(load_model_for_inference(std::string(LMFORGE_SOURCE_DIR) + "/models/demo"));
      SessionOptions o;
      o.n_ctx = 128;
      o.n_threads = 2;
      o.sampling.temperature = 0.0f;
      session_ = std::make_unique<GenerationSession>(*loaded_->model, loaded_->tokenizer, o);
    } catch (const std::exception& e) {
      load_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    session_.reset();
    loaded_.reset();
  }
  void SetUp() override { ASSERT_TRUE(loaded_ && session_) << "cannot load models/demo: " << load_error_; }

  static const Tokenizer& tok() { return session_->tokenizer(); }
  static BatchSchedulerOptions options(uint32_t n_slots, uint32_t max_queue = 64) {
    BatchSchedulerOptions o;
    o.n_slots = n_slots;
    o.n_ctx = 128;
    o.n_threads = 2;
    o.max_queue = max_queue;
    return o;
  }
  static ScheduledRequest greedy(const std::string& prompt, int64_t n_predict) {
    ScheduledRequest r;
    r.prompt = session_->tokenize_prompt(prompt);
    r.generation.n_predict = n_predict;
    r.sampling.temperature = 0.0f;
    return r;
  }
  // The continuation GenerationSession gives alone, with its released text.
  static GenerationResult alone(const ScheduledRequest& r) {
    return session_->complete(r.prompt, r.generation, GenerationCallbacks{.on_text = [](std::string_view) {}});
  }

  static inline std::unique_ptr<LoadedModel> loaded_;
  static inline std::unique_ptr<GenerationSession> session_;
  static inline std::string load_error_;
};

// Waits (bounded) until `pred` holds for the scheduler's published state.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 24000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

void expect_all_idle(const BatchScheduler& sched) {
  // The view is published after each step: wait for the step that freed the last slot.
  EXPECT_TRUE(eventually([&] { return sched.stats().slots_busy == 0; }));
  const SchedulerStats st = sched.stats();
  EXPECT_EQ(st.slots_busy, 0u);
  EXPECT_EQ(st.queued, 0u);
  EXPECT_EQ(st.kv_cells_free, st.kv_cells_total) << "KV cells of finished requests were not freed";
  for (const SlotInfo& s : sched.slots()) {
    EXPECT_EQ(s.state, "idle") << "slot " << s.id;
    EXPECT_EQ(s.n_past, 0u);
  }
}

const std::vector<std::string> kPrompts = {
    "Once upon a time", "The little dog", "One day, a girl named Lily", "Tom had a red ball and",
    "The sun was", "Mom said", "In the park there was a big tree", "Sam",
};

TEST_F(BatchSchedulerTest, ConcurrentGreedyRequestsMatchEachAlone) {
  BatchScheduler sched(*loaded_->model, tok(), options(4));
  std::vector<std::unique_ptr<Outcome>> outcomes;
  std::vector<ScheduledRequest> requests;
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    requests.push_back(greedy(kPrompts[i], 20 + static_cast<int64_t>(i) * 3));
    outcomes.push_back(std::make_unique<Outcome>());
    const auto s = sched.submit(requests.back(), outcomes.back()->callbacks());
    ASSERT_EQ(s.admission, BatchScheduler::Admission::kAccepted);
  }
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    Outcome& o = *outcomes[i];
    ASSERT_TRUE(o.wait()) << "request " << i << " never ended";
    const GenerationResult expected = alone(requests[i]);
    EXPECT_EQ(o.generated(), expected.tokens) << "prompt: " << kPrompts[i];
    EXPECT_EQ(o.text, expected.text) << "prompt: " << kPrompts[i];
    EXPECT_EQ(o.result.stop, expected.stop);
    EXPECT_EQ(o.result.completion_tokens, expected.tokens.size());
    EXPECT_EQ(o.result.prompt_tokens, requests[i].prompt.size());
    EXPECT_EQ(o.done_calls, 1);
    EXPECT_EQ(o.first_token_calls, 1);
    EXPECT_TRUE(o.result.error.empty()) << o.result.error;
  }
  expect_all_idle(sched);
  const SchedulerStats st = sched.stats();
  uint64_t drawn = 0, prompt = 0;
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    drawn += outcomes[i]->tokens.size();
    prompt += requests[i].prompt.size();
  }
  EXPECT_EQ(st.generated_tokens, drawn);
  EXPECT_EQ(st.prompt_tokens, prompt);
  EXPECT_EQ(st.slots_total, 4u);
  // Every step but the prompts' advances each generating slot once: far fewer steps than tokens.
  EXPECT_GT(st.steps, 0u);
  EXPECT_LT(st.steps, drawn);
}


// Steps of 5 tokens for 4 slots: prompts are fed in chunks across several steps, beside the
// slots already generating (generating slots first), and still give each request's own tokens.
TEST_F(BatchSchedulerTest, PromptChunksAcrossStepsStillMatchEachAlone) {
  BatchSchedulerOptions o = options(4);
  o.n_batch = 5;
  BatchScheduler sched(*loaded_->model, tok(), o);
  std::vector<std::unique_ptr<Outcome>> outcomes;
  std::vector<ScheduledRequest> requests;
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    requests.push_back(greedy(kPrompts[kPrompts.size() - 1 - i] + " and then, one day,", 10 + static_cast<int64_t>(i)));
    outcomes.push_back(std::make_unique<Outcome>());
    ASSERT_EQ(sched.submit(requests.back(), outcomes.back()->callbacks()).admission, BatchScheduler::Admission::kAccepted);
  }
  size_t prompt_tokens = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(outcomes[i]->wait());
    const GenerationResult expected = alone(requests[i]);
    EXPECT_EQ(outcomes[i]->generated(), expected.tokens) << "request " << i;
    EXPECT_EQ(outcomes[i]->text, expected.text) << "request " << i;
    prompt_tokens += requests[i].prompt.size();
  }
  expect_all_idle(sched);
  // At most 5 tokens a step: the prompts alone needed this many steps.
  EXPECT_GE(sched.stats().steps, (prompt_tokens + 4) / 5);
}

TEST_F(BatchSchedulerTest, StopStringsNeverLeakFromConcurrentRequests) {
  // Stop strings taken from each prompt's greedy continuation (they may span tokens).
  BatchScheduler sched(*loaded_->model, tok(), options(4));
  std::vector<ScheduledRequest> requests;
  std::vector<std::string> expected;
  for (size_t i = 0; i < 4; ++i) {
    ScheduledRequest r = greedy(kPrompts[i], 40);
    const GenerationResult full = alone(r);
    ASSERT_GT(full.text.size(), 24u);
    const std::string stop = full.text.substr(full.text.size() / 2 + i, 3 + i);
    r.generation.stop_strings = {"never appears \x01", stop};
    expected.push_back(full.text.substr(0, full.text.find(stop)));
    requests.push_back(r);
  }
  // And one whose stop string begins at the very end of the text: held back while it might
  // still match, then shown when the limit ends the request.
  {
    ScheduledRequest r = greedy(kPrompts[4], 30);
    const GenerationResult full = alone(r);
    ASSERT_GT(full.text.size(), 4u);
    r.generation.stop_strings = {full.text.substr(full.text.size() - 2) + "\x01"};
    expected.push_back(full.text);
    requests.push_back(r);
  }
  std::vector<std::unique_ptr<Outcome>> outcomes;
  for (const ScheduledRequest& r : requests) {
    outcomes.push_back(std::make_unique<Outcome>());
    ASSERT_EQ(sched.submit(r, outcomes.back()->callbacks()).admission, BatchScheduler::Admission::kAccepted);
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(outcomes[i]->wait());
    EXPECT_EQ(outcomes[i]->text, expected[i]) << "request " << i;
    EXPECT_EQ(outcomes[i]->result.stop, i < 4 ? StopReason::kStopString : StopReason::kLimit) << "request " << i;
  }
  expect_all_idle(sched);
}

TEST_F(BatchSchedulerTest, CancelFreesTheSlotAndItsCells) {
  BatchScheduler sched(*loaded_->model, tok(), options(2));
  ScheduledRequest endless = greedy(kPrompts[0], -1);  // until the context ends
  endless.generation.ignore_eos = true;
  Outcome running, waiting, neighbour;
  const auto a = sched.submit(endless, running.callbacks());
  const auto b = sched.submit(greedy(kPrompts[1], 16), neighbour.callbacks());
  ASSERT_EQ(a.admission, BatchScheduler::Admission::kAccepted);
  ASSERT_EQ(b.admission, BatchScheduler::Admission::kAccepted);
  // Both slots busy: this one waits in the queue and is cancelled there.
  ScheduledRequest queued = endless;
  const auto c = sched.submit(queued, waiting.callbacks());
  ASSERT_EQ(c.admission, BatchScheduler::Admission::kAccepted);
  sched.cancel(c.id);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(running.mu);
    return running.tokens.size() >= 3;
  }));
  sched.cancel(a.id);
  sched.cancel(a.id);     // twice: ignored
  sched.cancel(999999);   // unknown: ignored
  ASSERT_TRUE(running.wait());
  ASSERT_TRUE(waiting.wait());
  ASSERT_TRUE(neighbour.wait());
  EXPECT_EQ(running.result.stop, StopReason::kCancelled);
  EXPECT_EQ(running.done_calls, 1);
  EXPECT_LT(running.tokens.size(), 100u);
  EXPECT_EQ(waiting.result.stop, StopReason::kCancelled);
  EXPECT_EQ(waiting.first_token_calls, 0);
  EXPECT_TRUE(waiting.tokens.empty());
  // The neighbour is untouched by the cancel next to it.
  EXPECT_EQ(neighbour.result.stop, StopReason::kLimit);
  EXPECT_EQ(neighbour.generated(), alone(greedy(kPrompts[1], 16)).tokens);
  expect_all_idle(sched);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(running.done_calls, 1);
  EXPECT_EQ(waiting.done_calls, 1);
}

TEST_F(BatchSchedulerTest, QueueFullAndTooLongAreRefused) {
  BatchScheduler sched(*loaded_->model, tok(), options(1, 1));
  EXPECT_EQ(sched.n_ctx(), 128u);
  ScheduledRequest endless = greedy(kPrompts[0], -1);
  endless.generation.ignore_eos = true;
  Outcome a, b, never;
  const auto sa = sched.submit(endless, a.callbacks());
  ASSERT_EQ(sa.admission, BatchScheduler::Admission::kAccepted);
  ASSERT_TRUE(eventually([&] { return sched.stats().slots_busy == 1; }));
  const auto sb = sched.submit(endless, b.callbacks());  // the one place in the queue
  ASSERT_EQ(sb.admission, BatchScheduler::Admission::kAccepted);
  EXPECT_EQ(sched.submit(endless, never.callbacks()).admission, BatchScheduler::Admission::kQueueFull);
  EXPECT_EQ(sched.stats().queued, 1u);

  // Too long for one slot's context (128): prompt + n_predict, or a prompt with no room left.
  ScheduledRequest big;
  big.prompt.assign(100, 5);
  big.generation.n_predict = 29;
  EXPECT_EQ(sched.submit(big, never.callbacks()).admission, BatchScheduler::Admission::kTooLong);
  big.prompt.assign(128, 5);
  big.generation.n_predict = -1;
  EXPECT_EQ(sched.submit(big, never.callbacks()).admission, BatchScheduler::Admission::kTooLong);
  big.prompt.assign(129, 5);
  big.generation.n_predict = 0;
  EXPECT_EQ(sched.submit(big, never.callbacks()).admission, BatchScheduler::Admission::kTooLong);
  // Invalid requests throw before anything is queued.
  ScheduledRequest bad;
  EXPECT_THROW(sched.submit(bad, never.callbacks()), UsageError);
  bad.prompt = {1, static_cast<int32_t>(loaded_->model->n_vocab())};
  EXPECT_THROW(sched.submit(bad, never.callbacks()), UsageError);
  bad.prompt = {1, -1};
  EXPECT_THROW(sched.submit(bad, never.callbacks()), UsageError);
  bad.prompt = {1, 2};
  bad.top_logprobs = 21;
  EXPECT_THROW(sched.submit(bad, never.callbacks()), UsageError);

  sched.cancel(sb.id);
  sched.cancel(sa.id);
  ASSERT_TRUE(a.wait());
  ASSERT_TRUE(b.wait());
  EXPECT_EQ(never.done_calls, 0);
  EXPECT_TRUE(never.tokens.empty());
  expect_all_idle(sched);
}

TEST_F(BatchSchedulerTest, FillsTheContextExactlyAsASessionDoes) {
  BatchScheduler sched(*loaded_->model, tok(), options(2));
  // A prompt of 120 tokens in a 128-position slot, generating until the context ends.
  ScheduledRequest r = greedy(kPrompts[0], -1);
  r.generation.ignore_eos = true;
  while (r.prompt.size() < 120) r.prompt.push_back(r.prompt[1 + r.prompt.size() % 4]);
  // Exactly full: prompt + n_predict == n_ctx is accepted and ends by the limit.
  ScheduledRequest exact = greedy(kPrompts[1], 0);
  exact.generation.ignore_eos = true;
  exact.generation.n_predict = 128 - static_cast<int64_t>(exact.prompt.size());
  Outcome o, e;
  ASSERT_EQ(sched.submit(r, o.callbacks()).admission, BatchScheduler::Admission::kAccepted);
  ASSERT_EQ(sched.submit(exact, e.callbacks()).admission, BatchScheduler::Admission::kAccepted);
  ASSERT_TRUE(o.wait());
  ASSERT_TRUE(e.wait());
  const GenerationResult want = alone(r);
  EXPECT_EQ(want.stop, StopReason::kContextFull);
  EXPECT_EQ(o.result.stop, StopReason::kContextFull);
  EXPECT_EQ(o.generated(), want.tokens);
  EXPECT_EQ(o.text, want.text);
  EXPECT_EQ(o.result.completion_tokens, 128u - 120u + 1u);  // the last one is never evaluated
  const GenerationResult want_exact = alone(exact);
  EXPECT_EQ(e.result.stop, StopReason::kLimit);
  EXPECT_EQ(e.generated(), want_exact.tokens);
  expect_all_idle(sched);
}

TEST_F(BatchSchedulerTest, NPredictZeroEvaluatesThePromptOnly) {
  BatchScheduler sched(*loaded_->model, tok(), options(1));
  Outcome o;
  ASSERT_EQ(sched.submit(greedy(kPrompts[2], 0), o.callbacks()).admission, BatchScheduler::Admission::kAccepted);
  ASSERT_TRUE(o.wait());
  EXPECT_EQ(o.result.stop, StopReason::kLimit);
  EXPECT_EQ(o.result.completion_tokens, 0u);
  EXPECT_EQ(o.first_token_calls, 1);
  EXPECT_TRUE(o.tokens.empty());
  expect_all_idle(sched);
}

TEST_F(BatchSchedulerTest, LogprobsComeFromTheRawLogits) {
  BatchScheduler sched(*loaded_->model, tok(), options(2));
  ScheduledRequest r = greedy(kPrompts[3], 12);
  r.logprobs = true;
  r.top_logprobs = 5;
  // Sampling with penalties must not change the reported distribution: it is the model's own.
  r.sampling.repeat_penalty = 1.3f;
  Outcome o, other;
  ASSERT_EQ(sched.submit(r, o.callbacks()).admission, BatchScheduler::Admission::kAccepted);
  ASSERT_EQ(sched.submit(greedy(kPrompts[4], 12), other.callbacks()).admission, BatchScheduler::Admission::kAccepted);
  ASSERT_TRUE(o.wait());
  ASSERT_TRUE(other.wait());

  // The same request through a session, keeping each draw's raw logits.
  SessionOptions so;
  so.n_ctx = 128;
  so.n_threads = 2;
  so.sampling = r.sampling;
  GenerationSession s(*loaded_->model, loaded_->tokenizer, so);
  std::vector<std::vector<TokenProbability>> want;
  std::vector<int32_t> ids;
  const GenerationResult g = s.complete(r.prompt, r.generation, GenerationCallbacks{.on_token = [&](const TokenEvent& e) {
    want.push_back(top_probabilities(e.logits, 5));
    const auto all = top_probabilities(e.logits, e.logits.size());
    for (const TokenProbability& p : all)
      if (p.id == e.id) want.back().push_back(p);  // the drawn token's own, last
    ids.push_back(e.id);
  }});
  ASSERT_EQ(o.tokens, ids);
  ASSERT_EQ(o.seen.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(o.tops[i].size(), 5u);
    for (size_t k = 0; k < 5; ++k) {
      EXPECT_EQ(o.tops[i][k].id, want[i][k].id) << "token " << i << " alternative " << k;
      EXPECT_NEAR(o.tops[i][k].logprob, std::log(want[i][k].p), 1e-4) << "token " << i << " alternative " << k;
    }
    EXPECT_NEAR(o.seen[i].logprob, std::log(want[i].back().p), 1e-4) << "token " << i;
  }
  // Without logprobs nothing is computed.
  for (const auto& t : other.tops) EXPECT_TRUE(t.empty());
}

TEST_F(BatchSchedulerTest, SeededSamplingIsReproduciblePerRequest) {
  ScheduledRequest r = greedy(kPrompts[0], 24);
  r.sampling.temperature = 0.9f;
  r.sampling.seed = 1234;
  r.generation.ignore_eos = true;
  SessionOptions so;
  so.n_ctx = 128;
  so.n_threads = 2;
  so.sampling = r.sampling;
  GenerationSession s(*loaded_->model, loaded_->tokenizer, so);
  const GenerationResult want = s.complete(r.prompt, r.generation, {});

  BatchScheduler sched(*loaded_->model, tok(), options(3));
  Outcome a, b, c;
  ScheduledRequest other = r;
  other.sampling.seed = 99;
  ASSERT_EQ(sched.submit(r, a.callbacks()).admission, BatchScheduler::Admission::kAccepted);
  ASSERT_EQ(sched.submit(other, c.callbacks()).admission, BatchScheduler::Admission::kAccepted);
  ASSERT_EQ(sched.submit(r, b.callbacks()).admission, BatchScheduler::Admission::kAccepted);
  ASSERT_TRUE(a.wait());
  ASSERT_TRUE(b.wait());
  ASSERT_TRUE(c.wait());
  EXPECT_EQ(a.generated(), want.tokens);
  EXPECT_EQ(b.generated(), want.tokens);
  EXPECT_NE(c.generated(), want.tokens) << "another seed drew the same 24 tokens";
}

TEST_F(BatchSchedulerTest, ThrowingCallbackCancelsOnlyItsRequest) {
  BatchScheduler sched(*loaded_->model, tok(), options(2));
  Outcome thrower, fine;
  RequestCallbacks cb = thrower.callbacks();
  auto inner = cb.on_token;
  int calls = 0;
  cb.on_token = [&, inner](const ScheduledToken& t) {
    inner(t);
    if (++calls == 3) throw std::runtime_error("connection gone");
  };
  ASSERT_EQ(sched.submit(greedy(kPrompts[0], 20), cb).admission, BatchScheduler::Admission::kAccepted);
  ASSERT_EQ(sched.submit(greedy(kPrompts[1], 20), fine.callbacks()).admission, BatchScheduler::Admission::kAccepted);
  ASSERT_TRUE(thrower.wait());
  ASSERT_TRUE(fine.wait());
  EXPECT_EQ(thrower.result.stop, StopReason::kCancelled);
  EXPECT_NE(thrower.result.error.find("connection gone"), std::string::npos);
  EXPECT_EQ(thrower.tokens.size(), 3u);
  EXPECT_EQ(fine.generated(), alone(greedy(kPrompts[1], 20)).tokens);
  expect_all_idle(sched);
}

TEST_F(BatchSchedulerTest, ShutdownCancelsOrFinishesRequestsInFlight) {
  ScheduledRequest endless = greedy(kPrompts[0], -1);
  endless.generation.ignore_eos = true;
  {
    BatchScheduler sched(*loaded_->model, tok(), options(2));
    std::vector<std::unique_ptr<Outcome>> outcomes;
    for (int i = 0; i < 5; ++i) {
      outcomes.push_back(std::make_unique<Outcome>());
      ASSERT_EQ(sched.submit(endless, outcomes.back()->callbacks()).admission, BatchScheduler::Admission::kAccepted);
    }
    ASSERT_TRUE(eventually([&] { return sched.stats().steps >= 2; }));
    sched.shutdown(false);
    for (auto& o : outcomes) {
      EXPECT_EQ(o->done_calls, 1);  // shutdown returns after every on_done
      EXPECT_EQ(o->result.stop, StopReason::kCancelled);
    }
    Outcome late;
    EXPECT_EQ(sched.submit(endless, late.callbacks()).admission, BatchScheduler::Admission::kShuttingDown);
    sched.shutdown(true);  // again: nothing left to do
    EXPECT_EQ(late.done_calls, 0);
  }
  {
    BatchScheduler sched(*loaded_->model, tok(), options(2));
    std::vector<std::unique_ptr<Outcome>> outcomes;
    for (int i = 0; i < 5; ++i) {
      outcomes.push_back(std::make_unique<Outcome>());
      ASSERT_EQ(sched.submit(greedy(kPrompts[static_cast<size_t>(i)], 6), outcomes.back()->callbacks()).admission,
                BatchScheduler::Admission::kAccepted);
    }
    sched.shutdown(true);  // queued ones run too
    for (auto& o : outcomes) {
      EXPECT_EQ(o->done_calls, 1);
      EXPECT_EQ(o->result.stop, StopReason::kLimit);
      EXPECT_EQ(o->generated().size(), 6u);
    }
  }
  {
    // The destructor alone cancels what runs.
    Outcome o;
    {
      BatchScheduler sched(*loaded_->model, tok(), options(1));
      ASSERT_EQ(sched.submit(endless, o.callbacks()).admission, BatchScheduler::Admission::kAccepted);
    }
    EXPECT_EQ(o.done_calls, 1);
    EXPECT_EQ(o.result.stop, StopReason::kCancelled);
  }
}

// Many short requests, some cancelled at random moments (queued or running), through a small
// queue: every accepted request ends exactly once, refused ones never, and everything is free
// at the end.
TEST_F(BatchSchedulerTest, StressWithRandomCancelsEndsIdle) {
  BatchScheduler sched(*loaded_->model, tok(), options(3, 4));
  std::mt19937 rng(7);
  constexpr int kRequests = 60;
  std::vector<std::unique_ptr<Outcome>> outcomes;
  std::vector<uint64_t> accepted;
  int refused = 0;
  for (int i = 0; i < kRequests; ++i) {
    ScheduledRequest r = greedy(kPrompts[static_cast<size_t>(i) % kPrompts.size()], 1 + static_cast<int64_t>(rng() % 12));
    if (i % 3 == 0) r.sampling.temperature = 0.7f, r.sampling.seed = static_cast<uint32_t>(i);
    if (i % 5 == 0) r.generation.stop_strings = {"e", "the"};
    outcomes.push_back(std::make_unique<Outcome>());
    const auto s = sched.submit(r, outcomes.back()->callbacks());
    if (s.admission == BatchScheduler::Admission::kAccepted) {
      accepted.push_back(s.id);
    } else {
      ASSERT_EQ(s.admission, BatchScheduler::Admission::kQueueFull);
      ++refused;
      outcomes.back().reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
    }
    if (!accepted.empty() && rng() % 3 == 0) sched.cancel(accepted[rng() % accepted.size()]);
    if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 10));
  }
  size_t cancelled = 0;
  for (auto& o : outcomes) {
    if (!o) continue;
    ASSERT_TRUE(o->wait());
    cancelled += o->result.stop == StopReason::kCancelled;
  }
  expect_all_idle(sched);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (auto& o : outcomes) {
    if (!o) continue;
    EXPECT_EQ(o->done_calls, 1);
    EXPECT_LE(o->first_token_calls, 1);
    EXPECT_TRUE(o->result.error.empty()) << o->result.error;
  }
  EXPECT_EQ(accepted.size() + static_cast<size_t>(refused), static_cast<size_t>(kRequests));
  RecordProperty("cancelled", static_cast<int>(cancelled));
  RecordProperty("refused", refused);
}

}  // namespace
}  // namespace lmforge
