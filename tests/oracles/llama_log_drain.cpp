// LD_PRELOAD helper for running llama.cpp's tools in the oracles (check_kl_divergence.py).
//
// llama.cpp's common logger prints from a worker thread and, by design, is never flushed at
// exit (common/log.cpp, common_log_main: "this design may cause logs to be lost if not flushed
// before the program exits", upstream issue 22142). llama-perplexity returns from main without
// flushing it, so on a loaded machine its last lines, i.e. the --kl-divergence statistics the
// oracle reads, are often lost (measured here: 4 runs of 5 at load 12). This library's
// destructor runs during exit(), while that thread is still alive, and waits long enough for
// it to write out its queue. It changes nothing else.
#include <time.h>

__attribute__((destructor)) static void give_the_log_thread_time_to_drain() {
  timespec wait{0, 500'000'000};
  nanosleep(&wait, nullptr);
}
