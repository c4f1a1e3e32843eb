#!/bin/sh
# Runs the Raft simulator over any range of seeds: run_seeds.sh [COUNT] [FIRST] [BUILD_DIR].
# A failure prints its seed; replay it with MERIDIAN_SEED=N (and MERIDIAN_SIM_BUG for planted bugs).
set -eu
count=${1:-10000}
first=${2:-1}
build=${3:-build}
MERIDIAN_SIM_SEEDS=$count MERIDIAN_SIM_FIRST=$first \
  exec "$build/tests/sim/raft_sim_test" --gtest_filter='RaftSim.SafetyAndLivenessOverManySeeds'
