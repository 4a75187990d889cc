#!/usr/bin/python3
"""Checks circuitd's standard health service (grpc.health.v1.Health) from
outside, the way a load balancer or orchestrator would.

Run with Debian's Python and the stubs generated at build time:

  PYTHONPATH=build/tests/interop/python_gen /usr/bin/python3 \\
      tests/interop/python/health_check.py --address=127.0.0.1:50051

Default mode: Health/Check for the whole server (""), for
circuit.v1.CircuitService and for a service the server does not have, one
line each:

  check "" SERVING
  check "circuit.v1.CircuitService" SERVING
  check "circuit.v1.NoSuchService" NOT_FOUND

Exit 0 when the first two are SERVING and the unknown one is NOT_FOUND,
1 otherwise (with the reason on stderr).

--watch: opens Health/Watch on "" (or --service) and prints each status it
receives on a line of its own (SERVING, NOT_SERVING, ...), flushed at once,
until the stream ends; then prints "ended <STATUS CODE>". Exit 0 when at
least one status arrived before the stream ended, 1 otherwise.
"""

import argparse
import sys

import grpc

from grpc_std.health.v1 import health_pb2
from grpc_std.health.v1 import health_pb2_grpc

CIRCUIT_SERVICE = "circuit.v1.CircuitService"


def status_name(status):
    return health_pb2.HealthCheckResponse.ServingStatus.Name(status)


def check(stub, service, timeout):
    """Returns the serving status name, or the gRPC status code name."""
    try:
        response = stub.Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    except grpc.RpcError as error:
        return error.code().name
    return status_name(response.status)


def run_checks(stub, args):
    expected = [("", "SERVING"), (CIRCUIT_SERVICE, "SERVING"),
                (args.unknown, "NOT_FOUND")]
    failures = []
    for service, want in expected:
        got = check(stub, service, args.timeout)
        print('check "%s" %s' % (service, got), flush=True)
        if got != want:
            failures.append('"%s" is %s, want %s' % (service, got, want))
    if failures:
        print("health_check: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


def run_watch(stub, args):
    responses = stub.Watch(
        health_pb2.HealthCheckRequest(service=args.service),
        timeout=args.timeout)
    seen = 0
    code = grpc.StatusCode.OK
    try:
        for response in responses:
            print(status_name(response.status), flush=True)
            seen += 1
    except grpc.RpcError as error:
        code = error.code()
    print("ended %s" % code.name, flush=True)
    if seen == 0:
        print("health_check: the watch ended (%s) before any status" %
              code.name, file=sys.stderr)
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", default="127.0.0.1:50051",
                        help="circuitd's HOST:PORT")
    parser.add_argument("--watch", action="store_true",
                        help="stream Health/Watch instead of calling Check")
    parser.add_argument("--service", default="",
                        help="the service to watch (default: the server)")
    parser.add_argument("--unknown", default="circuit.v1.NoSuchService",
                        help="a service name that must be NOT_FOUND")
    parser.add_argument("--timeout", type=float, default=None,
                        help="deadline in seconds for each call (default: "
                        "10 for Check, none for Watch)")
    args = parser.parse_args()
    with grpc.insecure_channel(args.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        if args.watch:
            return run_watch(stub, args)
        if args.timeout is None:
            args.timeout = 10.0
        return run_checks(stub, args)


if __name__ == "__main__":
    sys.exit(main())
