// Aggregate generation speed of the continuous-batching scheduler (generate/batch_scheduler.h)
// with 1, 2, 4, 8 ... concurrent streams, no HTTP: S requests with different prompts are
// submitted at once to a scheduler of S slots, each generates `tokens` tokens (EOS ignored),
// and we time from the submission to the last token. Reports per stream count the median over
// `rounds` (stream counts alternate within a round, so that drift on a shared machine hits
// them alike): aggregate generated tokens/s, its ratio to one stream, the decode-only rate
// (after every stream's first token), and time to first token (median and worst over the
// requests of the median round).
// With --step-cost, instead: the CPU time of one engine step of n decode tokens (one per
// sequence, each after a 16-token prompt) for each n of --streams, on one thread (the whole
// process's CPU time, so other load on a shared machine counts little), median of 12 steps:
// what the weights' pass costs as rows are added, whatever the machine's load. Also its wall
// time; --step-threads N runs the steps on N threads (then the wall time is the measure: CPU
// time counts the pool's spinning), --steps N takes the median of N steps.
// Usage: lmforge_batch_scheduler_bench MODEL [--threads N] [--streams 1,2,4,8] [--tokens N]
//        [--rounds R] [--ctx N] [--step-cost [--step-threads N] [--steps N]]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/llama_engine.h"
#include "engine/model_loader.h"
#include "generate/batch_scheduler.h"
#include "tokenizer/spm_tokenizer.h"

using namespace lmforge;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kPrompts[] = {
    "Once upon a time, in a small village by the sea,",
    "The history of the printing press begins",
    "Here is a recipe for a simple tomato soup:",
    "The three laws of thermodynamics state that",
    "Dear diary, today I finally",
    "In computer science, a hash table is",
    "The old lighthouse keeper looked at the storm and",
    "Write a short poem about autumn leaves:",
    "The main causes of the French Revolution were",
    "A good way to learn a new language is",
    "The spaceship landed on the red planet and",
    "My favourite board game is chess because",
    "The river flowed quietly through the valley",
    "To install the package, first run",
    "Photosynthesis is the process by which",
    "The detective opened the door slowly and saw",
};

struct Run {
  double seconds = 0, decode_seconds = 0;
  size_t generated = 0, decode_generated = 0;
  std::vector<double> ttft_ms;
};

Run run_streams(const LoadedModel& m, const SpmTokenizer& tok, uint32_t streams, uint32_t threads, int64_t tokens,
                uint32_t ctx) {
  BatchSchedulerOptions o;
  o.n_slots = streams;
  o.n_threads = threads;
  o.n_ctx = ctx;
  BatchScheduler sched(*m.model, tok, o);

  std::mutex mu;
  std::condition_variable cv;
  size_t done = 0, generated = 0, generated_at_last_first = 0;
  std::vector<Clock::time_point> first(streams);
  Clock::time_point last_first{};
  uint32_t firsts = 0;
  const Clock::time_point t0 = Clock::now();
  for (uint32_t i = 0; i < streams; ++i) {
    ScheduledRequest r;
    r.prompt = tok.encode(kPrompts[i % std::size(kPrompts)], tok.vocab().add_bos, false);
    r.generation.n_predict = tokens;
    r.generation.ignore_eos = true;
    r.sampling.temperature = 0.0f;
    RequestCallbacks c;
    c.on_first_token = [&, i] {
      std::lock_guard lk(mu);
      first[i] = Clock::now();
      if (++firsts == streams) {
        last_first = first[i];
        generated_at_last_first = generated;
      }
    };
    c.on_token = [&](const ScheduledToken&) {
      std::lock_guard lk(mu);
      ++generated;
    };
    c.on_done = [&](const ScheduledResult&) {
      std::lock_guard lk(mu);
      ++done;
      cv.notify_all();
    };
    if (sched.submit(std::move(r), std::move(c)).admission != BatchScheduler::Admission::kAccepted) {
      std::fprintf(stderr, "request refused\n");
      std::exit(1);
    }
  }
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return done == streams; });
  const Clock::time_point t1 = Clock::now();
  Run r;
  r.seconds = std::chrono::duration<double>(t1 - t0).count();
  r.generated = generated;
  r.decode_seconds = std::chrono::duration<double>(t1 - last_first).count();
  r.decode_generated = generated - generated_at_last_first;
  for (const auto& f : first) r.ttft_ms.push_back(std::chrono::duration<double, std::milli>(f - t0).count());
  return r;
}

double process_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v);

// One engine and one cache per row count; the counts' steps alternate (1, 4, 1, 4, ...) so that
// drift in the machine's load hits them alike.
void step_cost(const LoadedModel& m, const std::vector<uint32_t>& streams, uint32_t threads, int32_t steps) {
  auto engine = LlamaEngine::create(*m.model, LlamaEngineOptions{.n_threads = threads, .n_batch = 512});
  const int32_t n_vocab = static_cast<int32_t>(m.model->n_vocab());
  constexpr int32_t kPrompt = 16;
  std::vector<std::unique_ptr<KvCache>> caches;
  for (uint32_t n : streams) {
    caches.push_back(std::make_unique<KvCache>(*m.model, n * static_cast<uint32_t>(kPrompt + steps), n));
    LlamaBatch prompt;
    for (uint32_t s = 0; s < n; ++s)
      for (int32_t p = 0; p < kPrompt; ++p) prompt.add((100 + 7 * p + 13 * static_cast<int32_t>(s)) % n_vocab, p, static_cast<int32_t>(s), false);
    prompt.logits.back() = true;
    engine->eval(*caches.back(), prompt);
  }
  std::vector<std::vector<double>> cpu(streams.size()), wall(streams.size());
  for (int32_t step = 0; step < steps; ++step) {
    for (size_t i = 0; i < streams.size(); ++i) {
      LlamaBatch d;
      for (uint32_t s = 0; s < streams[i]; ++s) d.add((200 + static_cast<int32_t>(s) + step) % n_vocab, kPrompt + step, static_cast<int32_t>(s), true);
      const double c0 = process_seconds();
      const Clock::time_point w0 = Clock::now();
      engine->eval(*caches[i], d);
      wall[i].push_back(std::chrono::duration<double>(Clock::now() - w0).count());
      cpu[i].push_back(process_seconds() - c0);
    }
  }
  std::printf("%u threads, median of %d steps each\n", threads, steps);
  std::printf("%8s %14s %10s %14s %14s %10s\n", "rows", "step cpu ms", "x one", "rows/s (cpu)", "step wall ms", "x one");
  double one = 0, one_wall = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    const double ms = 1e3 * median(cpu[i]), wms = 1e3 * median(wall[i]);
    if (streams[i] == 1 && one == 0) {
      one = ms;
      one_wall = wms;
    }
    std::printf("%8u %14.1f %10.2f %14.2f %14.1f %10.2f\n", streams[i], ms, one > 0 ? ms / one : 0.0, 1e3 * streams[i] / ms, wms,
                one_wall > 0 ? wms / one_wall : 0.0);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL [--threads N] [--streams 1,2,4,8] [--tokens N] [--rounds R] [--ctx N] [--step-cost [--step-threads N] [--steps N]]\n", argv[0]);
    return 2;
  }
  uint32_t threads = 2, rounds = 3, ctx = 512;
  int64_t tokens = 64;
  std::vector<uint32_t> streams = {1, 2, 4, 8};
  bool steps_only = false;
  uint32_t step_threads = 1;
  int32_t step_count = 12;
  for (int i = 2; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--step-cost") {
      steps_only = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", a.c_str());
      return 2;
    }
    const std::string v = argv[i + 1];
    if (a == "--threads") threads = static_cast<uint32_t>(std::stoul(v));
    else if (a == "--tokens") tokens = std::stoll(v);
    else if (a == "--rounds") rounds = static_cast<uint32_t>(std::stoul(v));
    else if (a == "--ctx") ctx = static_cast<uint32_t>(std::stoul(v));
    else if (a == "--step-threads") step_threads = static_cast<uint32_t>(std::stoul(v));
    else if (a == "--steps") step_count = static_cast<int32_t>(std::stoi(v));
    else if (a == "--streams") {
      streams.clear();
      std::stringstream ss(v);
      for (std::string s; std::getline(ss, s, ',');) streams.push_back(static_cast<uint32_t>(std::stoul(s)));
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  try {
    const LoadedModel m = load_model_for_inference(argv[1]);
    if (steps_only) {
      step_cost(m, streams, step_threads, step_count);
      return 0;
    }
    const SpmTokenizer tok(m.vocab);
    std::vector<std::vector<Run>> runs(streams.size());
    for (uint32_t r = 0; r < rounds; ++r)
      for (size_t s = 0; s < streams.size(); ++s) runs[s].push_back(run_streams(m, tok, streams[s], threads, tokens, ctx));
    std::printf("threads %u, %lld tokens per stream, %u rounds (medians)\n", threads, static_cast<long long>(tokens), rounds);
    std::printf("%8s %12s %8s %14s %12s %12s\n", "streams", "agg tok/s", "x one", "decode tok/s", "ttft p50 ms", "ttft max ms");
    double one = 0;
    for (size_t s = 0; s < streams.size(); ++s) {
      std::vector<double> agg, dec;
      for (const Run& r : runs[s]) {
        agg.push_back(static_cast<double>(r.generated) / r.seconds);
        dec.push_back(r.decode_seconds > 0 ? static_cast<double>(r.decode_generated) / r.decode_seconds : 0);
      }
      const double a = median(agg);
      if (streams[s] == 1) one = a;
      // TTFT from the round whose aggregate is the median.
      size_t mid = 0;
      for (size_t i = 0; i < runs[s].size(); ++i)
        if (agg[i] == a) mid = i;
      const std::vector<double>& ttft = runs[s][mid].ttft_ms;
      std::printf("%8u %12.2f %8.2f %14.2f %12.1f %12.1f\n", streams[s], a, one > 0 ? a / one : 0.0, median(dec), median(ttft),
                  *std::max_element(ttft.begin(), ttft.end()));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
