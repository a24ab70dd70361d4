#include "core/collective.h"

#include <cstdlib>
#include <initializer_list>

namespace lmforge {

void SingleProcess::abort_all(int status) { std::exit(status); }

std::string broadcast_string(Collective& ranks, const std::string& text) {
  std::vector<uint8_t> bytes(text.begin(), text.end());
  ranks.broadcast(bytes);
  return std::string(bytes.begin(), bytes.end());
}

namespace {

// The first of `names` set to a whole number in 1 .. 2^20, else 0.
int count_from_environment(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    char* end = nullptr;
    const long n = std::strtol(value, &end, 10);
    if (*end == '\0' && n >= 1 && n <= 1 << 20) return static_cast<int>(n);
  }
  return 0;
}

}  // namespace

// Open MPI's mpirun sets the OMPI_ names, MPICH's and Intel MPI's hydra the others.
int mpi_launcher_world_size() { return count_from_environment({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}); }

int mpi_launcher_local_size() {
  const int n = count_from_environment({"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"});
  return n > 0 ? n : 1;
}

}  // namespace lmforge
