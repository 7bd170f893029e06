// core/launch_env.h: which process of a torchrun or srun job this is.
#include "medvlmbench/core/launch_env.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "medvlmbench/core/error.h"

namespace mvb {
namespace {

LaunchEnv parse(const std::map<std::string, std::string>& vars) {
  return parse_launch_env([&](const char* n) -> const char* {
    auto it = vars.find(n);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(LaunchEnv, NoLauncherIsOneProcess) {
  const LaunchEnv e = parse({});
  EXPECT_FALSE(e.distributed());
  EXPECT_TRUE(e.writes());
  EXPECT_EQ(e.describe(), "one process");
  // srun with one task (the single-GPU templates) is one process too.
  EXPECT_FALSE(parse({{"SLURM_NTASKS", "1"}, {"SLURM_PROCID", "0"}}).distributed());
}

TEST(LaunchEnv, TorchrunVariables) {
  const LaunchEnv e = parse({{"WORLD_SIZE", "4"},
                             {"RANK", "3"},
                             {"LOCAL_RANK", "1"},
                             {"MASTER_ADDR", "node7"},
                             {"MASTER_PORT", "29511"},
                             {"MVB_DIST_TIMEOUT", "30"}});
  EXPECT_TRUE(e.distributed());
  EXPECT_FALSE(e.writes());
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.master_addr, "node7");
  EXPECT_EQ(e.master_port, 29511);
  EXPECT_EQ(e.timeout_s, 30);
  EXPECT_EQ(e.source, "torchrun");
}

TEST(LaunchEnv, SlurmVariablesWithMasterFromTheNodeListAndPortFromTheJob) {
  const LaunchEnv e = parse({{"SLURM_NTASKS", "8"},
                             {"SLURM_PROCID", "5"},
                             {"SLURM_LOCALID", "1"},
                             {"SLURM_JOB_ID", "123456"},
                             {"SLURM_JOB_NODELIST", "gpu[003-004]"}});
  EXPECT_EQ(e.source, "slurm");
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.master_addr, "gpu003");
  EXPECT_EQ(e.master_port, 23456);
  // The job script's MASTER_ADDR/MASTER_PORT win; torchrun's variables win over Slurm's.
  EXPECT_EQ(parse({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "1"}, {"MASTER_ADDR", "10.0.0.1"}}).master_addr, "10.0.0.1");
  const LaunchEnv t =
      parse({{"SLURM_NTASKS", "8"}, {"SLURM_PROCID", "5"}, {"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}});
  EXPECT_EQ(t.source, "torchrun");
  EXPECT_EQ(t.world_size, 2);
  EXPECT_EQ(t.rank, 0);
}

TEST(LaunchEnv, FirstSlurmHost) {
  EXPECT_EQ(first_slurm_host("node1"), "node1");
  EXPECT_EQ(first_slurm_host("a1,b2"), "a1");
  EXPECT_EQ(first_slurm_host("gpu[003-004,010],cpu1"), "gpu003");
  EXPECT_EQ(first_slurm_host("gpu[7,9]"), "gpu7");
}

TEST(LaunchEnv, MalformedVariablesNameTheVariable) {
  auto message = [](const std::map<std::string, std::string>& v) {
    try {
      parse(v);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}}).find("RANK='2'"), std::string::npos);
  EXPECT_NE(message({{"WORLD_SIZE", "two"}}).find("WORLD_SIZE='two'"), std::string::npos);
  EXPECT_NE(message({{"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}).find("RANK is not"), std::string::npos);
  EXPECT_NE(message({{"WORLD_SIZE", "2"}, {"RANK", "0"}}).find("MASTER_ADDR"), std::string::npos);
  EXPECT_NE(message({{"SLURM_NTASKS", "2"}}).find("SLURM_PROCID"), std::string::npos);
  EXPECT_NE(message({{"MVB_DIST_TIMEOUT", "0"}}).find("MVB_DIST_TIMEOUT"), std::string::npos);
}

}  // namespace
}  // namespace mvb
