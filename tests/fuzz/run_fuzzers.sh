#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each, PARALLEL at a time, from the seeds
# in tests/fuzz/corpus/<target>/ (new inputs go to <build>/fuzz/corpus/, the
# repository's seeds are never written), and prints each one's executions
# and findings. Exits non-zero when any target found something: its input
# is in <build>/fuzz/findings/.
#   tests/fuzz/run_fuzzers.sh BUILD_DIR [SECONDS] [PARALLEL]
set -uo pipefail

build="${1:?usage: run_fuzzers.sh BUILD_DIR [SECONDS] [PARALLEL]}"
seconds="${2:-60}"
parallel="${3:-2}"
src="$(cd "$(dirname "$0")" && pwd)"
out="$build/fuzz"
targets=(class_session_fuzzer circuit_library_fuzzer http_api_fuzzer journal_replay_fuzzer)

# Largest input per target: a few hundred steps, a circuit library, a few
# requests, a small journal file.
declare -A max_len=(
  [class_session_fuzzer]=4096
  [circuit_library_fuzzer]=65536
  [http_api_fuzzer]=4096
  [journal_replay_fuzzer]=131072
)

mkdir -p "$out/findings" "$out/logs"
run_one() {
  local t="$1"
  local dict=()
  [ -f "$src/$t.dict" ] && dict=(-dict="$src/$t.dict")
  mkdir -p "$out/corpus/$t"
  # -timeout: one input taking 25 s is a hang, a finding of its own.
  "$out/$t" "$out/corpus/$t" "$src/corpus/$t" "${dict[@]}" \
    -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=25 \
    -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$out/findings/$t-" \
    >"$out/logs/$t.log" 2>&1
  echo $? >"$out/logs/$t.rc"
}

for t in "${targets[@]}"; do
  if [ ! -x "$out/$t" ]; then
    echo "fuzz: $out/$t is missing (configure with -DCIRCUIT_FUZZ=ON and build the fuzzers target)" >&2
    exit 2
  fi
  rm -f "$out/logs/$t.rc"
done

echo "fuzz: ${#targets[@]} targets, ${seconds} s each, ${parallel} at a time"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=0
for t in "${targets[@]}"; do
  rc="$(cat "$out/logs/$t.rc" 2>/dev/null || echo 1)"
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/logs/$t.log" | tail -1)"
  per_second="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/logs/$t.log" | tail -1)"
  corpus="$(find "$out/corpus/$t" "$src/corpus/$t" -type f | wc -l)"
  if [ "$rc" -eq 0 ]; then
    printf 'fuzz: %-24s %10s executions (%s/s), corpus %s, no findings\n' \
      "$t" "${runs:-?}" "${per_second:-?}" "$corpus"
  else
    failed=1
    printf 'fuzz: %-24s FINDING after %s executions (exit %s); log %s\n' \
      "$t" "${runs:-?}" "$rc" "$out/logs/$t.log"
    grep -E 'ERROR:|invariant broken|runtime error|Test unit written' "$out/logs/$t.log" | head -5 | sed 's/^/      /'
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: reproduce one with: $out/TARGET $out/findings/TARGET-crash-..." >&2
  exit 1
fi
