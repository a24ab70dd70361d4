// The processes a command runs as: this one alone, or the ranks mpirun started (the MPI
// Collective of src/mpi/, in builds that found MPI). Training commands take one of these; the
// same binary runs either way, chosen by the environment an MPI launcher sets, so there is no
// flag to forget.
#pragma once

#include <functional>
#include <memory>

#include "core/collective.h"

namespace lmforge::cli {

// MPI's Collective when an MPI launcher started this process (even with one rank), else one
// process. Throws UsageError naming `command` when a launcher started several processes but this
// build has no MPI: each would otherwise train alone and write the same files.
std::unique_ptr<Collective> join_process_group(const char* command);

// Runs `body` on this rank. With several ranks, an exception on one rank is printed (with the
// rank) and ends them all with main()'s exit status for it (2 for usage errors, else 1): the
// others would otherwise wait for it forever in the next collective operation.
int run_on_every_rank(Collective& ranks, const std::function<int()>& body);

}  // namespace lmforge::cli
