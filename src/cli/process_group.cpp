#include "cli/process_group.h"

#include <cstdio>
#include <new>
#include <string>

#include "core/error.h"
#ifdef LMFORGE_HAVE_MPI
#include "mpi/mpi_collective.h"
#endif

namespace lmforge::cli {

std::unique_ptr<Collective> join_process_group([[maybe_unused]] const char* command) {
  const int launched = mpi_launcher_world_size();
#ifdef LMFORGE_HAVE_MPI
  if (launched > 0) return std::make_unique<MpiCollective>();
#else
  if (launched > 1)
    throw UsageError(std::string(command) + ": started by mpirun as one of " + std::to_string(launched) +
                     " processes, but this lmforge was built without MPI (install libopenmpi-dev and rebuild)");
#endif
  return std::make_unique<SingleProcess>();
}

int run_on_every_rank(Collective& ranks, const std::function<int()>& body) {
  if (ranks.size() == 1) return body();
  int status = 1;
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "lmforge: error (rank %d): %s\n", ranks.rank(), e.what());
    status = 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "lmforge: error (rank %d): out of memory\n", ranks.rank());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lmforge: error (rank %d): %s\n", ranks.rank(), e.what());
  }
  std::fflush(stderr);
  ranks.abort_all(status);
  return status;  // not reached: abort_all ends this process too
}

}  // namespace lmforge::cli
