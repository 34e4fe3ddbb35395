# The two commands of the README. Each installs what is missing, configures,
# builds, then runs.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test fuzz bench clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/sluice serve

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Coverage-guided fuzzing with clang's libFuzzer, in a build of its own.
fuzz: deps
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
	  -DSLUICE_FUZZ=ON -DSLUICE_SANITIZER_TESTS=OFF -DSLUICE_BENCH=OFF
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	@scripts/run-fuzzers build-fuzz $(or $(FUZZ_SECONDS),60)

bench: build
	@bench/run-micro.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) build-fuzz
