# Makefile: the front door.
#
#   make run     install missing packages, build, create a demo key store,
#                serve on 127.0.0.1:9999 in the foreground
#   make check   the same set-up, then every test layer; ends with
#                "N passed, M failed"
#   make bench   benchmarks (t/bench), writes t/bench/results.md
#   make fuzz    libFuzzer harnesses (t/fuzz), FUZZ_SECONDS each
#   make install DESTDIR=... prefix=...
#
# The autotools build lives out of tree in build/ (build-asan/ for the
# sanitizer build); configure is never run here, so nothing overwrites
# this file.

BUILD ?= build
ASAN_BUILD ?= build-asan
PREFIX ?= /usr/local
FUZZ_SECONDS ?= 60
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
RUN_DIR ?= /tmp/digsigserver-demo

.PHONY: all deps build run check check-unit check-asan check-valgrind bench fuzz install distcheck clean demo

all: build

deps:
	@sh t/deps.sh build

configure: configure.ac Makefile.am
	autoreconf -fi

$(BUILD)/Makefile: configure
	mkdir -p $(BUILD)
	cd $(BUILD) && ../configure --prefix=$(PREFIX) --sysconfdir=/etc --localstatedir=/var \
		--enable-werror

build: deps $(BUILD)/Makefile
	$(MAKE) -C $(BUILD) -j$(JOBS)

demo: build
	@sh t/demo-keys.sh $(RUN_DIR)

run: demo
	@sh t/run-demo.sh $(BUILD)/digsigserver $(RUN_DIR)

$(ASAN_BUILD)/Makefile: configure
	mkdir -p $(ASAN_BUILD)
	cd $(ASAN_BUILD) && ../configure --enable-sanitizers --enable-werror CC=gcc

check: build
	@sh t/deps.sh test
	$(MAKE) -C $(BUILD) -j$(JOBS) check TESTS= >/dev/null
	@sh t/run-tests $(BUILD)

check-asan: deps $(ASAN_BUILD)/Makefile
	$(MAKE) -C $(ASAN_BUILD) -j$(JOBS)
	$(MAKE) -C $(ASAN_BUILD) -j$(JOBS) check TESTS= >/dev/null
	@DSS_SANITIZED=1 sh t/run-tests $(ASAN_BUILD)

check-valgrind: build
	@sh t/deps.sh test
	@DSS_VALGRIND=1 sh t/run-tests $(BUILD) regress

bench: build
	@sh t/deps.sh test
	@sh t/bench/run-all $(BUILD)

fuzz: deps
	@sh t/fuzz/run $(FUZZ_SECONDS)

install: build
	$(MAKE) -C $(BUILD) install

distcheck: build
	$(MAKE) -C $(BUILD) distcheck

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) t/fuzz/bin
