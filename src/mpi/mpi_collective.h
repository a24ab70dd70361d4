// The Collective of a run started by mpirun: MPI_COMM_WORLD's processes, one per rank, on one
// machine or several. Built only where CMake finds MPI (find_package(MPI COMPONENTS C)); the
// CLI uses it when the environment says an MPI launcher started it (core/collective.h,
// mpi_launcher_world_size), so the same binary runs alone or under mpirun.
//
// Only the thread that made the object calls MPI (MPI_THREAD_FUNNELED): worker threads of the
// thread pool never do.
#pragma once

#include "core/collective.h"

namespace lmforge {

class MpiCollective final : public Collective {
 public:
  // MPI_Init_thread; throws lmforge::Error when MPI cannot start or gives less than
  // MPI_THREAD_FUNNELED. One per process.
  MpiCollective();
  ~MpiCollective() override;  // MPI_Finalize
  MpiCollective(const MpiCollective&) = delete;
  MpiCollective& operator=(const MpiCollective&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(std::span<float> values) override;
  double allreduce_sum(double value) override;
  void broadcast(std::vector<uint8_t>& bytes) override;
  [[noreturn]] void abort_all(int status) override;

 private:
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace lmforge
