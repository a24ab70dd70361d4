#include "mpi/mpi_collective.h"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>

#include "core/error.h"

namespace lmforge {

namespace {

constexpr const char* kWhere = "<mpi>";

// MPI counts are ints: longer buffers go in pieces of this many elements.
constexpr size_t kPiece = size_t{1} << 28;

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail(kWhere, std::string(what) + " failed: " + std::string(text, static_cast<size_t>(std::max(length, 0))));
}

}  // namespace

MpiCollective::MpiCollective() {
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as codes (and become lmforge::Error) instead of MPI's default abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    fail(kWhere, "this MPI library does not allow threads beside the one that calls it (MPI_THREAD_FUNNELED)");
  }
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

MpiCollective::~MpiCollective() { MPI_Finalize(); }

// A sum to rank 0, then rank 0's result sent to all, rather than MPI_Allreduce: the standard
// does not promise every rank the same bits from an all-reduce of floats, and identical
// adapters on every rank rest on it.
void MpiCollective::allreduce_sum(std::span<float> values) {
  for (size_t at = 0; at < values.size(); at += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, values.size() - at));
    float* piece = values.data() + at;
    if (rank_ == 0)
      check(MPI_Reduce(MPI_IN_PLACE, piece, n, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD), "MPI_Reduce");
    else
      check(MPI_Reduce(piece, nullptr, n, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD), "MPI_Reduce");
    check(MPI_Bcast(piece, n, MPI_FLOAT, 0, MPI_COMM_WORLD), "MPI_Bcast");
  }
}

double MpiCollective::allreduce_sum(double value) {
  double sum = 0;
  check(MPI_Reduce(&value, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD), "MPI_Reduce");
  check(MPI_Bcast(&sum, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  return sum;
}

void MpiCollective::broadcast(std::vector<uint8_t>& bytes) {
  unsigned long long length = bytes.size();
  check(MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Bcast");
  if (length > std::numeric_limits<size_t>::max() / 2) fail(kWhere, "a broadcast of " + std::to_string(length) + " bytes");
  bytes.resize(static_cast<size_t>(length));
  for (size_t at = 0; at < bytes.size(); at += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, bytes.size() - at));
    check(MPI_Bcast(bytes.data() + at, n, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  }
}

void MpiCollective::abort_all(int status) {
  MPI_Abort(MPI_COMM_WORLD, status);
  std::_Exit(status);  // MPI_Abort does not return; should it, this process still ends
}

}  // namespace lmforge
