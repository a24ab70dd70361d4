// core/collective.h: the one-process Collective leaves values alone, and the launcher's process
// counts are read from the environment variables Open MPI and MPICH set, refusing junk.
#include "core/collective.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

namespace lmforge {
namespace {

TEST(SingleProcess, SumsAndBroadcastsAreTheIdentity) {
  SingleProcess one;
  EXPECT_EQ(one.rank(), 0);
  EXPECT_EQ(one.size(), 1);
  EXPECT_TRUE(one.is_root());
  std::vector<float> v{1.5f, -2.0f};
  one.allreduce_sum(v);
  EXPECT_EQ(v, (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(one.allreduce_sum(0.25), 0.25);
  EXPECT_EQ(broadcast_string(one, "abc"), "abc");
}

class LauncherEnvironment : public ::testing::Test {
 protected:
  void SetUp() override { clear(); }
  void TearDown() override { clear(); }
  static void clear() {
    for (const char* n : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}) ::unsetenv(n);
  }
};

TEST_F(LauncherEnvironment, NotLaunched) {
  EXPECT_EQ(mpi_launcher_world_size(), 0);
  EXPECT_EQ(mpi_launcher_local_size(), 1);
}

TEST_F(LauncherEnvironment, OpenMpiAndMpich) {
  ::setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  ::setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
  EXPECT_EQ(mpi_launcher_world_size(), 4);
  EXPECT_EQ(mpi_launcher_local_size(), 2);
  clear();
  ::setenv("PMI_SIZE", "3", 1);
  ::setenv("MPI_LOCALNRANKS", "3", 1);
  EXPECT_EQ(mpi_launcher_world_size(), 3);
  EXPECT_EQ(mpi_launcher_local_size(), 3);
}

TEST_F(LauncherEnvironment, JunkIsIgnored) {
  for (const char* junk : {"", "0", "-2", "2x", "99999999999999999999"}) {
    ::setenv("OMPI_COMM_WORLD_SIZE", junk, 1);
    ::setenv("OMPI_COMM_WORLD_LOCAL_SIZE", junk, 1);
    EXPECT_EQ(mpi_launcher_world_size(), 0) << junk;
    EXPECT_EQ(mpi_launcher_local_size(), 1) << junk;
  }
}

}  // namespace
}  // namespace lmforge
