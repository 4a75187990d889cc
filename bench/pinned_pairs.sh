#!/bin/bash
# Back-to-back pinned runs (server on core 0, load tool on core 1) of circuitd against Colyseus, and
# optionally against an earlier circuitd, in rounds, so that each pair ran seconds apart. Prints one
# line per run: the round, the case, the side, then the load tool's JSON row (circuitd) or
# Colyseus's RESULT line; `bench/pinned_pairs.py` turns the lines into medians.
#
#   bench/pinned_pairs.sh ROUNDS CASE...        (from the project's root, after `make build`)
#
# CASE is N:TRANSPORT (TRANSPORT grpc or sse: cues at 20/s, 100 of them, against Colyseus), aa:N
# (circuitd against itself, for the noise), reports:N:RATE (N participants each reporting RATE a
# second), class:N (the real class shape for 60 s), or idle:N (an idle class for 30 s).
# BEFORE=/path/to/an/older/checkout (built) adds that circuitd to every case as a third side.
# PEERS defaults to ../shared/peers.
set -euo pipefail
rounds=${1:?ROUNDS}
shift
main=$(pwd)
peers=${PEERS:-$main/../shared/peers}
pinned=$peers/pinned/run.sh
[ -x "$main/build/bin/circuitd" ] || { echo "run from the project root after make build" >&2; exit 2; }

run_circuitd() {  # side tree n msgs rate mode transport
  local side=$1 tree=$2 n=$3 msgs=$4 rate=$5 mode=$6 transport=$7 flags=""
  [ "$transport" = sse ] && flags="--transport=sse_participant"
  [ "$mode" = class ] && flags="$flags --seconds=60"
  [ "$mode" = idle ] && flags="$flags --seconds=30"
  # Each tree's own circuit-bench drives its circuitd (the load tool did not change between the
  # trees compared in BENCHMARKS.md; check before comparing others).
  local line
  line=$(MAIN=$tree MODE=$mode BENCH_FLAGS="$flags" "$pinned" circuitd "$n" "$msgs" "$rate" 2>/dev/null \
    | grep '^{' | tail -1 || true)
  echo "$round $case $side $line"
}

for round in $(seq 1 "$rounds"); do
  for case in "$@"; do
    IFS=: read -r kind a b <<<"$case"
    case $kind in
      aa)
        run_circuitd A "$main" "$a" 100 20 cues grpc
        run_circuitd A2 "$main" "$a" 100 20 cues grpc
        ;;
      reports)
        run_circuitd after "$main" "$a" 50 "$b" reports grpc
        [ -n "${BEFORE:-}" ] && run_circuitd before "$BEFORE" "$a" 50 "$b" reports grpc
        ;;
      class | idle)
        run_circuitd after "$main" "$a" 100 20 "$kind" grpc
        [ -n "${BEFORE:-}" ] && run_circuitd before "$BEFORE" "$a" 100 20 "$kind" grpc
        ;;
      *)
        run_circuitd after "$main" "$kind" 100 20 cues "$a"
        [ -n "${BEFORE:-}" ] && run_circuitd before "$BEFORE" "$kind" 100 20 cues "$a"
        echo "$round $case colyseus $("$pinned" colyseus "$kind" 100 20 2>/dev/null | tail -1)"
        ;;
    esac
  done
done
