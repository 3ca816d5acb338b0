# fieldrx: the two commands of the README, and their parts.
#   make demo   install what is missing, build, run the main job on the bundled sample
#   make test   install what is missing, build, run every test (also under ASan+UBSan)
BUILD ?= build
JOBS ?= $(shell nproc)
# A skipped test (CTest SKIP_RETURN_CODE) says why on one line starting "SKIPPED: "; print those.
show_skipped = @grep -h '^SKIPPED: ' $(1)/Testing/Temporary/LastTest.log || true

.PHONY: deps build demo test test-fast test-sanitize test-slurm clean

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)/fieldrx

test-fast: build
	@scripts/test-deps.sh $(BUILD)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(call show_skipped,$(BUILD))

test-sanitize: deps
	@cmake -S . -B $(BUILD)-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DFIELDRX_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	@scripts/test-deps.sh $(BUILD)-asan
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS) -LE slurm

test: test-fast test-sanitize

clean:
	rm -rf $(BUILD) $(BUILD)-asan

# Only the farm batch on a real single-node Slurm (scripts/slurm-test.sh, CTest label `slurm`; root,
# slurm-wlm + munge): the 4-shard array of deploy/slurm, merged, == the single-process batch.
# `make test` runs it too, once (in test-fast; the sanitizer run leaves it out with -LE slurm).
test-slurm: build
	cd $(BUILD) && ctest --output-on-failure -L slurm
	$(call show_skipped,$(BUILD))
