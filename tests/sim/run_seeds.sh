#!/bin/sh
# Runs a simulator over any range of seeds: run_seeds.sh [COUNT] [FIRST] [BUILD_DIR] [raft|replicator].
# raft (the default): the Raft simulator; replicator: the global-table replication simulator.
# A failure prints its seed; replay it with MERIDIAN_SEED=N (and MERIDIAN_SIM_BUG for planted bugs).
set -eu
count=${1:-10000}
first=${2:-1}
build=${3:-build}
sim=${4:-raft}
case "$sim" in
  raft) binary=raft_sim_test filter='RaftSim.SafetyAndLivenessOverManySeeds' ;;
  replicator) binary=replicator_sim_test filter='ReplicatorSim.ConvergenceExactlyOnceNoLossAndLivenessOverManySeeds' ;;
  *) echo "usage: $0 [COUNT] [FIRST] [BUILD_DIR] [raft|replicator]" >&2; exit 2 ;;
esac
MERIDIAN_SIM_SEEDS=$count MERIDIAN_SIM_FIRST=$first \
  exec "$build/tests/sim/$binary" --gtest_filter="$filter"
