#!/usr/bin/python3
"""Uses circuitd through server reflection alone: no circuit.v1 stubs.

Run with Debian's Python and the standard stubs generated at build time:

  PYTHONPATH=build/tests/interop/python_gen /usr/bin/python3 \\
      tests/interop/python/reflection_check.py --address=127.0.0.1:50051

Over grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo it
  1. lists the services (circuit.v1.CircuitService, grpc.health.v1.Health
     and the reflection service itself must be there);
  2. asks for the file containing the symbol circuit.v1.CircuitService and
     then, by file name, for every dependency not sent yet, until every file
     is present (circuit/v1/*.proto among them); checks that each circuit/v1
     file is also served by name on its own and that an unknown symbol is
     NOT_FOUND;
  3. builds the files into a fresh DescriptorPool, makes message classes from
     it and calls CircuitService through generic unary calls: ListCircuits
     (the library must include "kickback-trio"), GetCircuit("kickback-trio")
     and GetClock (sane timestamps).
It prints a summary, "reflection check OK" last, and exits 0; on any failure
it prints "reflection check FAILED: <why>" to stderr and exits 1.
"""

import argparse
import queue
import sys
import time

import grpc
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory

from grpc_std.reflection.v1alpha import reflection_pb2
from grpc_std.reflection.v1alpha import reflection_pb2_grpc

CIRCUIT_SERVICE = "circuit.v1.CircuitService"
REQUIRED_SERVICES = (CIRCUIT_SERVICE, "grpc.health.v1.Health",
                     "grpc.reflection.v1alpha.ServerReflection")
# How far the server's clock may be from ours: they share the machine.
MAX_CLOCK_SKEW_MS = 60_000


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


class ReflectionStream:
    """One ServerReflectionInfo stream, used in lockstep: each request is
    answered by exactly one response."""

    _DONE = object()

    def __init__(self, channel, timeout):
        self._requests = queue.Queue()
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        self._call = stub.ServerReflectionInfo(self._request_iterator(),
                                               timeout=timeout)

    def _request_iterator(self):
        while True:
            request = self._requests.get()
            if request is self._DONE:
                return
            yield request

    def ask(self, **fields):
        request = reflection_pb2.ServerReflectionRequest(**fields)
        self._requests.put(request)
        try:
            response = next(self._call)
        except StopIteration:
            raise CheckFailed("the reflection stream ended early")
        except grpc.RpcError as error:
            raise CheckFailed("ServerReflectionInfo failed: %s %s" %
                              (error.code().name, error.details()))
        expect(response.original_request == request,
               "a reflection response answers another request")
        return response

    def close(self):
        self._requests.put(self._DONE)
        try:
            for _ in self._call:
                pass
        except grpc.RpcError as error:
            raise CheckFailed("ServerReflectionInfo ended with %s %s" %
                              (error.code().name, error.details()))


def parse_files(response, what):
    expect(not response.HasField("error_response"),
           "%s: error %d %s" % (what, response.error_response.error_code,
                                response.error_response.error_message))
    expect(response.HasField("file_descriptor_response"),
           "%s: no file_descriptor_response" % what)
    files = []
    for serialized in response.file_descriptor_response.file_descriptor_proto:
        proto = descriptor_pb2.FileDescriptorProto()
        proto.ParseFromString(serialized)
        files.append(proto)
    return files


def fetch_files(stream):
    """The file defining CircuitService and all it depends on, by name, and
    how many file_by_filename requests that took."""
    files = {}
    for proto in parse_files(
            stream.ask(file_containing_symbol=CIRCUIT_SERVICE),
            "file_containing_symbol %s" % CIRCUIT_SERVICE):
        files[proto.name] = proto
    expect(any(CIRCUIT_SERVICE.split(".")[-1] in
               [s.name for s in f.service] for f in files.values()),
           "file_containing_symbol did not send the file defining %s" %
           CIRCUIT_SERVICE)
    by_name = 0
    while True:
        missing = sorted({dep for f in files.values() for dep in f.dependency
                          if dep not in files})
        if not missing:
            return files, by_name
        name = missing[0]
        by_name += 1
        received = parse_files(stream.ask(file_by_filename=name),
                               "file_by_filename %s" % name)
        expect(name in [f.name for f in received],
               "file_by_filename %s did not send that file" % name)
        for proto in received:
            files.setdefault(proto.name, proto)


def build_pool(files):
    """Adds the files to a fresh pool, dependencies first."""
    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(name, path):
        if name in added:
            return
        expect(name not in path, "import cycle through %s" % name)
        for dep in files[name].dependency:
            add(dep, path + [name])
        pool.Add(files[name])
        added.add(name)

    for name in sorted(files):
        add(name, [])
    return pool


def message_classes(pool):
    """A function from a message descriptor in `pool` to its class."""
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return message_factory.GetMessageClass
    return message_factory.MessageFactory(pool).GetPrototype


class DynamicService:
    """Unary calls to a service known only from its descriptors."""

    def __init__(self, channel, pool, files, service_name, timeout):
        self._channel = channel
        self._message_class = message_classes(pool)
        self._timeout = timeout
        self._service = pool.FindServiceByName(service_name)
        self._streaming = {}
        package, _, short = service_name.rpartition(".")
        for f in files.values():
            if f.package != package:
                continue
            for s in f.service:
                if s.name == short:
                    for m in s.method:
                        self._streaming[m.name] = (m.client_streaming,
                                                   m.server_streaming)

    def describe(self):
        kinds = {(False, False): "", (False, True): " (server stream)",
                 (True, False): " (client stream)", (True, True): " (bidi)"}
        return ", ".join(m.name + kinds[self._streaming[m.name]]
                         for m in self._service.methods)

    def request(self, method, **fields):
        descriptor = self._service.methods_by_name[method]
        return self._message_class(descriptor.input_type)(**fields)

    def call(self, method, request):
        expect(method in self._service.methods_by_name,
               "reflection shows no method %s" % method)
        expect(self._streaming[method] == (False, False),
               "%s is not a unary method" % method)
        descriptor = self._service.methods_by_name[method]
        response_class = self._message_class(descriptor.output_type)
        call = self._channel.unary_unary(
            "/%s/%s" % (self._service.full_name, method),
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=response_class.FromString)
        try:
            return call(request, timeout=self._timeout)
        except grpc.RpcError as error:
            raise CheckFailed("%s failed: %s %s" %
                              (method, error.code().name, error.details()))


def check(channel, timeout):
    stream = ReflectionStream(channel, timeout)
    listed = stream.ask(list_services="")
    services = sorted(s.name for s in listed.list_services_response.service)
    print("services: " + " ".join(services))
    for name in REQUIRED_SERVICES:
        expect(name in services, "list_services lacks %s" % name)

    files, by_name = fetch_files(stream)
    unknown = stream.ask(file_containing_symbol="circuit.v1.NoSuchSymbol")
    expect(unknown.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0],
           "an unknown symbol gave %s, want NOT_FOUND" % unknown)
    stream.close()
    print("unknown symbol: NOT_FOUND")
    circuit_files = sorted(n for n in files if n.startswith("circuit/v1/"))
    print("files: %s (%d fetched by file name)" % (" ".join(sorted(files)),
                                                  by_name))
    for name in ("circuit/v1/circuits.proto", "circuit/v1/live.proto",
                 "circuit/v1/service.proto"):
        expect(name in circuit_files, "no descriptor for %s" % name)
    # Each circuit/v1 file is also served by name, on a fresh stream: the
    # spec lets a stream skip files it has already sent, and gRPC C++ 1.51
    # instead repeats on each response the files of the earlier ones
    # (grpc/grpc#18009), so answers are matched by file name.
    for name in circuit_files:
        single = ReflectionStream(channel, timeout)
        received = {f.name: f for f in parse_files(
            single.ask(file_by_filename=name), "file_by_filename %s" % name)}
        single.close()
        expect(received.get(name) == files[name],
               "file_by_filename %s differs from the file sent before" % name)

    pool = build_pool(files)
    service = DynamicService(channel, pool, files, CIRCUIT_SERVICE, timeout)
    print("methods: " + service.describe())

    library = service.call("ListCircuits",
                           service.request("ListCircuits"))
    ids = sorted(c.id for c in library.circuits)
    print("ListCircuits: %s; %d exercises" % (" ".join(ids),
                                              len(library.exercises)))
    expect("kickback-trio" in ids, "ListCircuits lacks kickback-trio")
    expect(len(library.exercises) > 0, "ListCircuits sent no exercises")

    circuit = service.call("GetCircuit",
                           service.request("GetCircuit",
                                           circuit_id="kickback-trio"))
    print("GetCircuit kickback-trio: %s, %d blocks, %d exercises" %
          (circuit.circuit.name, len(circuit.circuit.blocks),
           len(circuit.exercises)))
    expect(circuit.circuit.id == "kickback-trio",
           "GetCircuit returned circuit %r" % circuit.circuit.id)
    expect(len(circuit.circuit.blocks) > 0, "kickback-trio has no blocks")

    t0 = int(time.time() * 1000)
    clock = service.call("GetClock",
                         service.request("GetClock", client_send_unix_ms=t0))
    t3 = int(time.time() * 1000)
    t1 = clock.server_receive_unix_ms
    t2 = clock.server_send_unix_ms
    offset = ((t1 - t0) + (t2 - t3)) / 2
    print("GetClock: echo %s, receive %d, send %d, offset %.1f ms, "
          "round trip %d ms" % ("ok" if clock.client_send_unix_ms == t0
                                else "WRONG", t1, t2, offset,
                                (t3 - t0) - (t2 - t1)))
    expect(clock.client_send_unix_ms == t0,
           "GetClock echoed %d, sent %d" % (clock.client_send_unix_ms, t0))
    expect(t1 > 0 and t2 >= t1, "GetClock times out of order: %d %d" % (t1, t2))
    expect(abs(t1 - t0) <= MAX_CLOCK_SKEW_MS and
           abs(t2 - t3) <= MAX_CLOCK_SKEW_MS,
           "the server's clock is %d ms from ours" % offset)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", default="127.0.0.1:50051",
                        help="circuitd's HOST:PORT")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="deadline in seconds for each call")
    args = parser.parse_args()
    try:
        with grpc.insecure_channel(args.address) as channel:
            check(channel, args.timeout)
    except CheckFailed as failure:
        print("reflection check FAILED: %s" % failure, file=sys.stderr)
        return 1
    print("reflection check OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
