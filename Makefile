# Two commands on a fresh Debian machine (as root or with sudo):
#   make run    install what the daemon needs, build it, start it with hotline.yaml
#   make test   install what the tests need, build, run unit and interop tests
# and `make bench` for the load benchmark (release build, SIPp).

SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Codec, DSP and sound-file libraries the daemon links (found through pkg-config).
BUILD_PACKAGES := pkg-config libsqlite3-dev libopus-dev libspandsp-dev libsndfile1-dev
RUN_PACKAGES := espeak-ng sox $(BUILD_PACKAGES)
TEST_PACKAGES := sip-tester espeak-ng sox tshark python3-venv baresip-core openssl kamailio $(BUILD_PACKAGES)
BENCH_PACKAGES := sip-tester sox tshark baresip-core kamailio kamailio-extra-modules rtpengine-daemon $(BUILD_PACKAGES)
VENV := .venv
PYTHON := $(VENV)/bin/python

.PHONY: run test unit-test interop-test fuzz bench build release deps-run deps-test deps-bench prompts venv clean

run: deps-run build
	.build/debug/hotline serve --config hotline.yaml

build:
	swift build

release:
	swift build -c release

deps-run:
	@missing=$$(for p in $(RUN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; fi

deps-test:
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; fi

deps-bench:
	@missing=$$(for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; fi

venv: $(VENV)/.installed

$(VENV)/.installed: Tests/interop/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r Tests/interop/requirements.txt
	touch $@

# Regenerates prompts whose text changed (the WAV files are committed).
prompts: deps-run
	scripts/make-prompts.sh

test: deps-test venv build unit-test interop-test

unit-test:
	swift test
	# The fuzz seed corpus replayed through the parser (no sanitizer): a cheap regression check.
	swift run SIPParserFuzzer Fuzz/corpus

interop-test: build
	HOTLINE_BIN=$(CURDIR)/.build/debug/hotline $(PYTHON) -m pytest -v Tests/interop

fuzz:
	nice -n 10 Fuzz/run.sh

bench: deps-bench venv release
	bench/run.sh

clean:
	rm -rf .build $(VENV)
