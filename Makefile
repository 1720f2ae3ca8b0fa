# SPDX-License-Identifier: MIT
# Makefile: the front door.
#
#   make run     install missing packages, build, create a demo key store,
#                serve on 127.0.0.1:9999 in the foreground
#   make check   the same set-up, then every test layer (unit and regress
#                tests, again on an ASan+UBSan build, and every fuzz
#                harness); ends with "N passed, M failed"
#   make bench   benchmarks (t/bench), writes t/bench/results.md
#   make fuzz    libFuzzer harnesses (t/fuzz), FUZZ_BUDGET seconds shared
#   make install DESTDIR=... prefix=...
#   make screenshot  doc/status.png: the status page with busy workers
#                (t/regress/statuspage.sh in headless chromium)
#
# The autotools build lives out of tree in build/ (build-asan/ for the
# sanitizer build); configure is never run here, so nothing overwrites
# this file.

BUILD ?= build
ASAN_BUILD ?= build-asan
PREFIX ?= /usr/local
# The fuzz layer of make check shares one budget (seconds) among the
# harnesses; FUZZ_SECONDS sets one harness's time instead.
FUZZ_BUDGET ?= 780
FUZZ_SECONDS ?= $(shell n=$$(ls t/fuzz/fuzz_*.c | wc -l); echo $$(( $(FUZZ_BUDGET) / (n > 0 ? n : 1) )))
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
RUN_DIR ?= /tmp/digsigserver-demo

.PHONY: all deps build run check check-quick check-asan check-valgrind bench fuzz install distcheck clean demo

all: build

deps:
	@sh tools/deps.sh build

configure: configure.ac Makefile.am
	autoreconf -fi

$(BUILD)/Makefile: configure
	mkdir -p $(BUILD)
	cd $(BUILD) && ../configure --prefix=$(PREFIX) --sysconfdir=/etc --localstatedir=/var \
		--enable-werror

build: deps $(BUILD)/Makefile
	$(MAKE) -C $(BUILD) -j$(JOBS)

demo: build
	@sh tools/demo-keys.sh $(RUN_DIR)

run: demo
	@sh tools/run-demo.sh $(BUILD)/digsigserver $(RUN_DIR)

$(ASAN_BUILD)/Makefile: configure
	mkdir -p $(ASAN_BUILD)
	cd $(ASAN_BUILD) && ../configure --enable-sanitizers --enable-werror

# check: every layer, one closing line.  The sanitizer build runs the
# same unit and regress tests; each fuzz harness runs FUZZ_SECONDS.
check: build $(ASAN_BUILD)/Makefile
	@sh tools/deps.sh test
	$(MAKE) -C $(BUILD) -j$(JOBS) check TESTS= >/dev/null
	$(MAKE) -C $(ASAN_BUILD) -j$(JOBS) >/dev/null
	$(MAKE) -C $(ASAN_BUILD) -j$(JOBS) check TESTS= >/dev/null
	@FUZZ_JOBS=$(JOBS) sh t/run-tests unit:$(BUILD) regress:$(BUILD) \
		unit:$(ASAN_BUILD) regress-asan:$(ASAN_BUILD) fuzz:$(FUZZ_SECONDS)

# check-quick: unit and regress tests of the normal build only.
check-quick: build
	@sh tools/deps.sh test
	$(MAKE) -C $(BUILD) -j$(JOBS) check TESTS= >/dev/null
	@sh t/run-tests unit:$(BUILD) regress:$(BUILD)

check-asan: deps $(ASAN_BUILD)/Makefile
	@sh tools/deps.sh test
	$(MAKE) -C $(ASAN_BUILD) -j$(JOBS) >/dev/null
	$(MAKE) -C $(ASAN_BUILD) -j$(JOBS) check TESTS= >/dev/null
	@sh t/run-tests unit:$(ASAN_BUILD) regress-asan:$(ASAN_BUILD)

# check-valgrind: the regress tests with the daemon and every worker under
# valgrind memcheck (slow; run before a release).
check-valgrind: build
	@sh tools/deps.sh test
	@sh t/run-tests regress-valgrind:$(BUILD)

bench: build
	@sh tools/deps.sh test
	@sh t/bench/run-all $(BUILD)

fuzz: deps
	@sh t/fuzz/run $(FUZZ_SECONDS)

install: build
	$(MAKE) -C $(BUILD) install

# screenshot: the README's picture of the operators' page
.PHONY: screenshot
screenshot: build
	@sh tools/deps.sh test
	mkdir -p doc
	STATUS_SCREENSHOT=$(CURDIR)/doc/status.png BUILD=$(CURDIR)/$(BUILD) bash t/regress/statuspage.sh

distcheck: build
	$(MAKE) -C $(BUILD) distcheck

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) t/fuzz/bin
