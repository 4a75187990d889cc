# Circuit: the two commands a newcomer needs are `make run` and `make test`.
# Both install missing Debian packages first (deploy/install-deps.sh).

BUILD_DIR   ?= build
BUILD_TYPE  ?= RelWithDebInfo
LISTEN      ?= 127.0.0.1:50051
HTTP_LISTEN ?= 127.0.0.1:8080
# More circuitd flags for `make run`, e.g. TLS:
#   CIRCUITD_FLAGS="--tls_cert=cert.pem --tls_key=key.pem"
CIRCUITD_FLAGS ?=
DATA_DIR    ?= $(CURDIR)/var
JOBS        ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build run cluster demo test contract-snapshot bench clang-check fuzz asan format clean

all: build

deps:
	@bash deploy/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/CMakeCache.txt

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Builds and serves on $(LISTEN) with the built-in circuit library.
run: build
	@echo
	@echo "Starting circuitd on $(LISTEN) (gRPC) and http://$(HTTP_LISTEN), data in $(DATA_DIR)."
	@echo "  The instructor: http://$(HTTP_LISTEN)/console (sign in with the key in $(DATA_DIR)/instructor.key, or a"
	@echo "                  one-time code: $(BUILD_DIR)/bin/circuit admin sign-in ACCOUNT)"
	@echo "  The studio TV:  http://$(HTTP_LISTEN)/kiosk   (approve its code on the console, or: $(BUILD_DIR)/bin/circuit kiosk pair CODE)"
	@echo "  A phone:        http://$(HTTP_LISTEN)/        (type the class's join code)"
	@echo "  Prometheus:     http://$(HTTP_LISTEN)/metrics"
	@echo "  (Phones and TVs on the studio network: make run HTTP_LISTEN=0.0.0.0:8080 with"
	@echo "   CIRCUITD_FLAGS=\"--tls_cert=CERT.pem --tls_key=KEY.pem\", or --insecure for plain"
	@echo "   HTTP on a network you trust; README: Running circuitd with TLS)"
	@echo "Stop it with Ctrl-C."
	@echo "In another terminal, try:"
	@echo "  $(BUILD_DIR)/bin/circuit demo           # a whole simulated class on the kiosk view"
	@echo "  $(BUILD_DIR)/bin/circuit class create kickback-trio   # a class: its id and join code"
	@echo "  $(BUILD_DIR)/bin/circuit circuits       # the circuit library"
	@echo "  $(BUILD_DIR)/bin/circuit --help         # everything else"
	@echo
	$(BUILD_DIR)/bin/circuitd --listen=$(LISTEN) --http_listen=$(HTTP_LISTEN) --data_dir=$(DATA_DIR) $(CIRCUITD_FLAGS)

# A cluster on this machine to try: three nats-servers (JetStream) and three
# circuitd nodes on 127.0.0.1, data in $(DATA_DIR)/cluster (README: More
# than one machine).
cluster: build
	BIN=$(BUILD_DIR)/bin DIR=$(DATA_DIR)/cluster deploy/local-cluster.sh

# A whole simulated class on the kiosk view, on a circuitd of its own.
demo: build
	$(BUILD_DIR)/bin/circuit demo --spawn_server

# The whole suite; non-zero on any failure.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300

# Records the circuit.v1 contract as landed, after a compatible change to
# proto/ (contract_test fails on incompatible ones whatever the snapshot).
contract-snapshot: build
	CIRCUIT_WRITE_CONTRACT=1 $(BUILD_DIR)/tests/contract_test --gtest_filter=ContractTest.NothingLanded*

bench: build
	@for b in $(BUILD_DIR)/bench/*_bench; do [ -x "$$b" ] && "$$b"; done; true

# The clang build with -Wthread-safety must compile (warnings are errors).
# It is also the fuzz build (libFuzzer coverage, ASan, UBSan), so CI
# compiles everything once for both.
FUZZ_BUILD_DIR ?= $(BUILD_DIR)-clang
FUZZ_SECONDS   ?= 60
FUZZ_PARALLEL  ?= 2
clang-check: deps
	cmake -S . -B $(FUZZ_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_COMPILER=clang++ -DCIRCUIT_BUILD_BENCHMARKS=OFF -DCIRCUIT_FUZZ=ON
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS)

# Runs each fuzz target (tests/fuzz/) for FUZZ_SECONDS, FUZZ_PARALLEL at a
# time; non-zero on any finding (kept in $(FUZZ_BUILD_DIR)/fuzz/findings/).
fuzz: deps
	cmake -S . -B $(FUZZ_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_COMPILER=clang++ -DCIRCUIT_BUILD_BENCHMARKS=OFF -DCIRCUIT_FUZZ=ON
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzzers
	tests/fuzz/run_fuzzers.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS) $(FUZZ_PARALLEL)

# The suite under AddressSanitizer + UBSan. There is no ThreadSanitizer
# target: Debian's Abseil and gRPC are not built with it, so it reports every
# absl::Mutex handoff as a race; the clang build's -Wthread-safety
# (clang-check) is the race check (README, "Tests").
asan: deps
	cmake -S . -B $(BUILD_DIR)-asan -DCMAKE_BUILD_TYPE=Debug -DCIRCUIT_ASAN=ON
	cmake --build $(BUILD_DIR)-asan -j $(JOBS)
	cd $(BUILD_DIR)-asan && ctest --output-on-failure -j $(JOBS)

format:
	@git ls-files '*.cc' '*.h' | xargs -r clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(BUILD_DIR)-clang $(BUILD_DIR)-asan
