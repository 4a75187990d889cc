#!/usr/bin/env bash
# Installs every Debian 12 package Circuit needs to build, test and run.
# Idempotent: installs only what is missing. Runs as root, or through sudo.
set -euo pipefail

packages=(
  # Toolchain.
  build-essential cmake pkg-config clang clang-format
  # libFuzzer and the sanitizer runtimes of the fuzz build (make fuzz).
  libclang-rt-14-dev libfuzzer-14-dev
  # gRPC 1.51, protobuf 3.21, Abseil 20220623.
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  # Standard gRPC protos (health) for the foreign-language checks.
  grpc-proto
  # Storage.
  libsqlite3-dev sqlite3
  # Random tokens and constant-time key checks; signed credentials (JWT).
  libssl-dev libjwt-dev
  # The TLS tests make their CA and certificates with the openssl command.
  openssl
  # The HTTP listener (Boost.Beast) and /metrics (prometheus-cpp; promtool
  # checks the exposition in the tests).
  libboost1.81-dev prometheus-cpp-dev prometheus
  # Tests and benchmarks.
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # The cluster: NATS JetStream (nats-server for the cluster tests, nats.c
  # for circuitd).
  nats-server libnats-dev
  # pkill, for the check of the local cluster's script.
  procps
  # Terminal tests of the full-screen views.
  tmux
  # Python interop clients (Debian's python3 at /usr/bin/python3).
  python3-grpcio python3-protobuf
  # The offline checks of deploy/ (tests/deploy): YAML, and systemd-analyze
  # verify of the unit.
  python3-yaml systemd
  # The real-browser test (tests/browser): headless, at /usr/bin/chromium,
  # and a font for its screenshots.
  chromium fonts-dejavu-core
)

# Node.js with npm for the Node interop client; a machine may already carry a
# newer Node.js of its own, which ships npm.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages of the Node interop client (tests/interop/node) and of the
# browser test's driver (tests/browser: puppeteer-core, which uses Debian's
# chromium and downloads no browser), exactly as each package-lock.json pins
# them. Reinstalled only when node_modules is missing or older than the
# lock: the stamp is written after a successful `npm ci` (which starts by
# deleting node_modules, so a failed install leaves no stamp). Package
# install scripts are not run (none is needed). When this runs as root on a
# checkout owned by someone else, node_modules is handed to that owner so
# they can use and reinstall it without root.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for node_rel in tests/interop/node tests/browser; do
  node_dir="$repo_root/$node_rel"
  node_stamp="$node_dir/node_modules/.circuit-npm-ci"
  if [ ! -f "$node_dir/package-lock.json" ]; then
    continue
  fi
  if [ ! -f "$node_stamp" ] || [ "$node_dir/package-lock.json" -nt "$node_stamp" ]; then
    echo "install-deps: npm ci in $node_rel"
    (cd "$node_dir" && npm ci --no-audit --no-fund --ignore-scripts)
    touch "$node_stamp"
    owner="$(stat -c %u:%g "$node_dir")"
    if [ "$(id -u)" -eq 0 ] && [ "$owner" != "0:0" ]; then
      chown -R "$owner" "$node_dir/node_modules"
    fi
  else
    echo "install-deps: $node_rel/node_modules up to date"
  fi
done
