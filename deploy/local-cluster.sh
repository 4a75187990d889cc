#!/usr/bin/env bash
# A Circuit cluster on this machine, to try it (`make cluster`): three
# nats-servers in one JetStream cluster and three circuitd nodes, all on
# 127.0.0.1, sharing one instructor key, one kiosk key and one data key.
# Ctrl-C (or SIGTERM) stops everything; the data stays in $DIR for the next
# run (delete it to start afresh).
#
#   BIN=build/bin DIR=var/cluster deploy/local-cluster.sh
#
# Ports (PORT_BASE=P, default 4222): NATS clients P..P+2, NATS routes
# P+2000..P+2002; circuitd gRPC 50051..50053 and HTTP 8080..8082 (GRPC_BASE,
# HTTP_BASE). When everything is up it prints "cluster ready".
# CIRCUITD_FLAGS adds flags to every node (e.g. lifted limits for a bench).
set -euo pipefail

BIN="${BIN:-build/bin}"
DIR="${DIR:-var/cluster}"
PORT_BASE="${PORT_BASE:-4222}"
GRPC_BASE="${GRPC_BASE:-50051}"
HTTP_BASE="${HTTP_BASE:-8080}"
LEASE_SECONDS="${LEASE_SECONDS:-10}"
NATS_SERVER="${NATS_SERVER:-/usr/sbin/nats-server}"

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
pids=()
stop() {
  trap - INT TERM EXIT
  # circuitd nodes first (they drain and give their classes up), then NATS.
  for pid in "${pids[@]:3}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]:3}"; do wait "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]:0:3}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Keys every node shares (owner-only files, made once).
umask 077
[ -s "$DIR/instructor.key" ] || openssl rand -hex 16 > "$DIR/instructor.key"
[ -s "$DIR/kiosk.key" ] || openssl rand -hex 16 > "$DIR/kiosk.key"
[ -s "$DIR/data.key" ] || echo "1:$(openssl rand -hex 32)" > "$DIR/data.key"
umask 022

urls=()
for i in 1 2 3; do urls+=("nats://127.0.0.1:$((PORT_BASE + i - 1))"); done
cluster="$(IFS=,; echo "${urls[*]}")"

for i in 1 2 3; do
  mkdir -p "$DIR/nats-$i"
  routes=""
  for j in 1 2 3; do
    routes+="    nats-route://127.0.0.1:$((PORT_BASE + 2000 + j - 1))"$'\n'
  done
  cat > "$DIR/nats-$i/nats.conf" <<CONF
server_name: nats-$i
listen: 127.0.0.1:$((PORT_BASE + i - 1))
jetstream {
  store_dir: "$DIR/nats-$i/jetstream"
}
cluster {
  name: circuit-local
  listen: 127.0.0.1:$((PORT_BASE + 2000 + i - 1))
  routes: [
$routes  ]
}
CONF
  "$NATS_SERVER" -c "$DIR/nats-$i/nats.conf" > "$DIR/nats-$i/nats.log" 2>&1 &
  pids+=($!)
done

# Every node's HTTP address: a page loaded from one node moves to the next
# when its node stops answering.
http_urls="http://127.0.0.1:$HTTP_BASE,http://127.0.0.1:$((HTTP_BASE + 1)),http://127.0.0.1:$((HTTP_BASE + 2))"

# The first node sets the cluster up (streams and buckets with three
# copies): it retries until JetStream has elected its leaders.
for i in 1 2 3; do
  node="node-$i"
  grpc=$((GRPC_BASE + i - 1))
  http=$((HTTP_BASE + i - 1))
  until "$BIN/circuitd" --cluster="$cluster" --node_name="$node" \
      --lease_seconds="$LEASE_SECONDS" --cluster_http_urls="$http_urls" \
      --listen="127.0.0.1:$grpc" --http_listen="127.0.0.1:$http" \
      --data_dir="$DIR/$node" --data_key_file="$DIR/data.key" \
      --instructor_key="$(cat "$DIR/instructor.key")" \
      --kiosk_key="$(cat "$DIR/kiosk.key")" ${CIRCUITD_FLAGS:-} \
      > "$DIR/$node.out" 2> "$DIR/$node.log" &
    pid=$!
    # Up when it says where it listens; retried when it exits first.
    while kill -0 "$pid" 2>/dev/null && ! grep -qs "circuitd http on" "$DIR/$node.out"; do
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null
  do
    sleep 1
  done
  pids+=($pid)
  echo "$node: gRPC 127.0.0.1:$grpc, http://127.0.0.1:$http (log $DIR/$node.log)"
done
echo "NATS: $cluster (logs $DIR/nats-*/nats.log)"
echo "instructor key: $DIR/instructor.key; kiosk key: $DIR/kiosk.key"
echo "cluster ready"
# Runs until stopped; a node killed to try failover leaves the others up
# (start it again by hand with the command line in "ps").
wait
