# The two commands of the README. Each installs what is missing, configures,
# builds, then runs.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run demo bench-streams test test-asan fuzz bench bench-set bench-partitions bench-groups bench-connect bench-quorum bench-replication bench-txn soak-storage soak-faults soak-replication soak-raft soak-partitions soak-eos clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/sluice serve

# The website activity demo (examples/clickstream/README.md): a broker with its
# data under a temp dir, Connect's datagen writing clicks and users, the
# clickstream Streams application; prints the page's URL; Ctrl-C stops it all.
demo: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target sluice streams-clickstream
	@examples/clickstream/run-demo.sh $(BUILD_DIR)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Every layer's unit tests under ASan+UBSan, in a build of its own (`make test`
# builds the twins of the layers that parse bytes only: SLUICE_SANITIZER_LAYERS).
test-asan: deps
	@cmake -S . -B build-asan -G Ninja -DSLUICE_SANITIZER_LAYERS=all -DSLUICE_BENCH=OFF
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS) -R '_asan$$'

# Coverage-guided fuzzing with clang's libFuzzer, in a build of its own, then
# mutated real-client sessions against a live broker (tests/fuzz/live_broker_fuzz.py).
fuzz: build
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
	  -DSLUICE_FUZZ=ON -DSLUICE_SANITIZER_TESTS=OFF -DSLUICE_BENCH=OFF
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	@scripts/run-fuzzers build-fuzz $(or $(FUZZ_SECONDS),60) $(BUILD_DIR)/sluice

bench: build
	@bench/run-micro.sh $(BUILD_DIR)

# The standard `sluice bench` set (issue 6) against a fresh broker, with the
# machine's ceilings; writes the '## sluice bench' section of bench/RESULTS.md.
# BENCH_ARGS passes options to bench/run.sh (e.g. --runs 5, --cold, --no-write).
bench-set: build
	@bench/run.sh --build $(BUILD_DIR) $(BENCH_ARGS)

# Issue 13, point 4's target (bench/partition_scaling.sh): produce throughput
# with 9,999 partitions against 10, 100 raw connections (bench/produce_fanout.py),
# alternated. PARTITIONS_BENCH_ARGS passes options (default: 5 rounds, the page
# cache dropped before each run, which needs root).
PARTITIONS_BENCH_ARGS ?= --rounds 5 --drop-caches
bench-partitions: build
	@bench/partition_scaling.sh --build $(BUILD_DIR) $(PARTITIONS_BENCH_ARGS)

# sluice-streams throughput (bench/streams_bench.py): word count and the clickstream
# demo's windowed page views through a fresh broker, at_least_once and exactly_once_v2.
# STREAMS_BENCH_ARGS passes options (e.g. --lines 50000, --runs 3, --only pageviews).
bench-streams: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target sluice streams-wordcount streams-clickstream
	@/usr/bin/python3 bench/streams_bench.py --build $(BUILD_DIR) $(STREAMS_BENCH_ARGS)

# Consumer-group figures (bench/group_bench.py): rebalance time, commits/s, memory per group.
bench-groups: build
	@/usr/bin/python3 bench/group_bench.py --sluice $(BUILD_DIR)/sluice

# Connect throughput (bench/connect_bench.py): file -> topic, topic -> file and
# topic -> HTTP (HttpSink to a local receiver) through a standalone worker and
# a fresh broker, then topic -> mirrored topic (MirrorSourceConnector) onto a
# second fresh broker.
bench-connect: build
	@/usr/bin/python3 bench/connect_bench.py --sluice $(BUILD_DIR)/sluice

# KRaft quorum figures (bench/quorum_failover.py): kill -9 failover of the active
# controller (20 kills), metadata commit latency (3 nodes and a lone node),
# 1,000 partitions on 3 nodes. QUORUM_BENCH_ARGS passes options (e.g. --kills 5).
bench-quorum: build
	@/usr/bin/python3 bench/quorum_failover.py --sluice $(BUILD_DIR)/sluice $(QUORUM_BENCH_ARGS)

# Replication figures (bench/failover.py): kill -9 of a partition leader -> the new
# leader acknowledging writes (20 kills per broker.session.timeout.ms /
# broker.heartbeat.interval.ms setting), and sluice bench produce acks=all with
# replication factor 3 against 1 on 3 brokers. REPLICATION_BENCH_ARGS passes
# options (e.g. --kills 5, --only failover, --rate 5000).
bench-replication: build
	@/usr/bin/python3 bench/failover.py --sluice $(BUILD_DIR)/sluice $(REPLICATION_BENCH_ARGS)

# Exactly-once figures (bench/txn_bench.py): transactional producing (transactions of
# 100 and 10,000 records) against idempotent producing in the same run, read_committed
# consume against read_uncommitted. TXN_BENCH_ARGS passes options (e.g. --records
# 500000, --runs 5, produce or consume only). Says so and measures nothing while the
# broker does not serve transactions.
bench-txn: build
	@/usr/bin/python3 bench/txn_bench.py --sluice $(BUILD_DIR)/sluice $(TXN_BENCH_ARGS)

# The storage model test (ctest runs 100 cases on seed 1) with many random
# seeds: SOAK_ROUNDS rounds of 2,000 cases (default 10, i.e. 20,000 cases).
# A failure prints RapidCheck's RC_PARAMS="reproduce=..." string.
soak-storage: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target storage_model_test
	@for round in $$(seq 1 $(or $(SOAK_ROUNDS),10)); do \
	  seed=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); \
	  echo "soak-storage round $$round: RC_PARAMS=\"max_success=2000 seed=$$seed\""; \
	  RC_PARAMS="max_success=2000 seed=$$seed" $(BUILD_DIR)/tests/unit/storage/storage_model_test --gtest_brief=1 || exit 1; \
	done

# Faults under load (tests/integration/faults/): SOAK_ROUNDS rounds (default 40)
# of kill -9, SIGSTOP/SIGCONT, SIGSTOP + kill -9 and SIGTERM of a broker while
# an acks=all producer runs, every acknowledged write checked after each round.
soak-faults: build
	@SLUICE_BIN=$(BUILD_DIR)/sluice SLUICE_FAULT_ROUNDS=$(or $(SOAK_ROUNDS),40) \
	  /usr/bin/python3 -m pytest -q -x -s tests/integration/faults

# Replicated partitions under faults (tests/integration/cluster/test_replication_faults.py):
# 5 combined nodes, every link proxied, a seeded schedule of kill -9, SIGSTOP/SIGCONT
# and cut links for SOAK_SECONDS (default 300) while acks=all producers and a group
# run; the Jepsen-style checker must count nothing. SOAK_SEED replays a schedule.
soak-replication: build
	@SLUICE_BIN=$(BUILD_DIR)/sluice SLUICE_SOAK_SECONDS=$(or $(SOAK_SECONDS),300) SLUICE_FAULT_SEED=$(SOAK_SEED) \
	  /usr/bin/python3 -m pytest -q -x -s tests/integration/cluster/test_replication_faults.py

# The exactly-once pipeline (tests/integration/txn/test_eos_pipeline.py: consume-transform-
# produce through pipeline kills, broker kill -9 and aborts on purpose, one node and a
# cluster) over the issue's 100,000 input records (SOAK_RECORDS) instead of make test's 5,000.
soak-eos: build
	@SLUICE_BIN=$(BUILD_DIR)/sluice SLUICE_EOS_RECORDS=$(or $(SOAK_RECORDS),100000) \
	  /usr/bin/python3 -m pytest -q -x -s -rs tests/integration/txn/test_eos_pipeline.py

# The KRaft simulation (src/cluster/raft/README.md) over many more seeds than
# `make test` (SOAK_SEEDS, default a million, or SOAK_SECONDS, default an hour).
soak-raft: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target cluster_raft_test
	@RAFT_SEEDS=$(or $(SOAK_SEEDS),1000000) RAFT_BUDGET_S=$(or $(SOAK_SECONDS),3600) \
	  $(BUILD_DIR)/tests/unit/cluster/cluster_raft_test --gtest_filter=RaftSimulation.Seeds

# The replicated-partition simulation (tests/unit/cluster/partition_simulation.h)
# over many more seeds than `make test` (SEEDS or SOAK_SEEDS, default a
# million, from FIRST_SEED, default 1; SOAK_SECONDS, default an hour). A
# failing seed prints its replay.
soak-partitions: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target cluster_partition_sim_test
	@PARTITION_SEEDS=$(or $(SEEDS),$(SOAK_SEEDS),1000000) PARTITION_FIRST_SEED=$(or $(FIRST_SEED),1) \
	  PARTITION_BUDGET_S=$(or $(SOAK_SECONDS),3600) \
	  $(BUILD_DIR)/tests/unit/cluster/cluster_partition_sim_test \
	  --gtest_filter=PartitionSimulation.Seeds

clean:
	rm -rf $(BUILD_DIR) build-fuzz
