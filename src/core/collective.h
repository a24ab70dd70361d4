// The processes of one data-parallel run, and the few collective operations that training
// needs from them: sums of gradients and losses across processes, and one process's bytes
// sent to all (a checkpoint, fingerprints, an adapter hash).
//
// Training code talks to this interface only, so it runs the same in one process (the
// SingleProcess below: every operation is the identity) and under mpirun (src/mpi/, built
// only where CMake finds MPI). Every process must call the same operations in the same order
// with the same sizes; a process that cannot go on must end them all (abort_all), or the
// others wait forever inside the next operation.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lmforge {

class Collective {
 public:
  virtual ~Collective() = default;

  virtual int rank() const = 0;  // this process, 0 .. size() - 1
  virtual int size() const = 0;  // processes in the run
  bool is_root() const { return rank() == 0; }

  // Every process passes the same number of values; afterwards each holds the elementwise sum
  // over all processes, the same bits on every one.
  virtual void allreduce_sum(std::span<float> values) = 0;
  virtual double allreduce_sum(double value) = 0;
  // Rank 0's bytes replace every other process's (resized to rank 0's length).
  virtual void broadcast(std::vector<uint8_t>& bytes) = 0;

  // Ends every process of the run with `status` (after this process printed why).
  [[noreturn]] virtual void abort_all(int status) = 0;
};

// One process: sums and broadcasts leave the values as they are.
class SingleProcess final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(std::span<float>) override {}
  double allreduce_sum(double value) override { return value; }
  void broadcast(std::vector<uint8_t>&) override {}
  [[noreturn]] void abort_all(int status) override;
};

// Rank 0's string on every process.
std::string broadcast_string(Collective& ranks, const std::string& text);

// How many processes an MPI launcher (mpirun / mpiexec of Open MPI or MPICH) started for this run, read from the environment it sets; 0 when not started by one.
int mpi_launcher_world_size();
// How many of them run on this machine (to share its cores between them); 1 when not known.
int mpi_launcher_local_size();

}  // namespace lmforge
