#!/bin/bash
# Cues fanned out over three circuitd nodes of a cluster, against one node, back to back (issue
# 24): the instructor is on node 1 (the class's owner); the participants are all on node 1 too
# ("owner"), all on node 2 ("remote": every cue goes from the owner through the class's log to
# the follower), or a third on each ("spread"); "single" is a single circuitd on SQLite with the
# same load. The servers (three nats-servers and three nodes, or the single node) run on core 0,
# the load tool on core 1. Prints one line per run: the round, the case, the load tool's JSON row,
# then the CPU seconds of each node and of each nats-server during the run. "single" runs twice a
# round (the second for the noise).
#
#   bench/cluster_spread.sh ROUNDS N [MSGS=100]     (from the project's root, after `make build`)
set -euo pipefail
rounds=${1:?ROUNDS}; n=${2:?N}; msgs=${3:-100}
main=$(pwd)
peers=${PEERS:-$main/../shared/peers}
[ -x "$main/build/bin/circuitd" ] || { echo "run from the project root after make build" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d)
cluster_pid=
cleanup() {
  [ -n "$cluster_pid" ] && kill -TERM "$cluster_pid" 2>/dev/null && wait "$cluster_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
# Ports apart from `make cluster`'s, so both may run.
DIR=$dir PORT_BASE=14222 GRPC_BASE=51051 HTTP_BASE=18080 BIN=$main/build/bin \
  CIRCUITD_FLAGS="--stream_messages_per_second=1000000" \
  taskset -c 0 "$main/deploy/local-cluster.sh" >"$dir/cluster.out" 2>&1 &
cluster_pid=$!
for _ in $(seq 1 600); do grep -q "cluster ready" "$dir/cluster.out" && break; sleep 0.1; done
grep -q "cluster ready" "$dir/cluster.out" || { cat "$dir/cluster.out" >&2; exit 1; }
key=$(cat "$dir/instructor.key")
pids=()
for i in 1 2 3; do pids+=("$(pgrep -f -- "--node_name=node-$i --lease" | head -1)"); done
for i in 1 2 3; do pids+=("$(pgrep -f -- "nats-server -c $dir/nats-$i/" | head -1)"); done
cpu() {  # utime + stime of each node, then of each nats-server, in seconds
  local out=""
  for pid in "${pids[@]}"; do
    out+="$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f ", ($14 + $15) / hz}' "/proc/$pid/stat")"
  done
  echo "$out"
}
run_cluster() {  # case participant_addresses
  local before after line
  before=$(cpu)
  line=$(taskset -c 1 "$main/build/bin/circuit-bench" --address=127.0.0.1:51051 --key="$key" \
    --server_pid="${pids[0]}" --participant_addresses="$2" --attack=none \
    --participants="$n" --messages="$msgs" --rate=20 --mode=cues --json 2>/dev/null | grep '^{' | tail -1 || true)
  after=$(cpu)
  echo "$round $1 $line cpu_s_nodes_then_nats: $(paste -d' ' <(tr ' ' '\n' <<<"$before") <(tr ' ' '\n' <<<"$after") \
    | awk 'NF==2 {printf "%.2f ", $2 - $1}')"
}
for round in $(seq 1 "$rounds"); do
  line=$(BENCH_FLAGS="--attack=none" "$peers/pinned/run.sh" circuitd "$n" "$msgs" 20 2>/dev/null \
    | grep '^{' | tail -1 || true)
  echo "$round single $line"
  # The same again, for the noise (an A/A pair).
  line=$(BENCH_FLAGS="--attack=none" "$peers/pinned/run.sh" circuitd "$n" "$msgs" 20 2>/dev/null \
    | grep '^{' | tail -1 || true)
  echo "$round single-again $line"
  run_cluster owner 127.0.0.1:51051
  run_cluster remote 127.0.0.1:51052
  run_cluster spread 127.0.0.1:51051,127.0.0.1:51052,127.0.0.1:51053
done
