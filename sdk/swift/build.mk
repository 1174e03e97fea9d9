# build.mk: the Swift Proxy-Wasm SDK's build, for `include` from the root Makefile.
#
#   make middleware    every middleware/<name>/ into .build-wasm/<name>.wasm, and every
#                      sdk/swift/Examples/<name>/ into .build-wasm/sdk-examples/<name>.wasm
#   make sdk-test      the host unit tests (SDK core and middleware logic), `swift test` in
#                      sdk/swift, and a check that docs/sdk.md shows the examples as they are
#   make sdk-envoy-test  every module in a real Envoy on 127.0.0.1 (needs `make envoy` first)
#   make sdk-clean     remove the SDK's build products
#
# A module is built in three steps:
#   1. the SDK (sdk/swift/Sources/ProxyWasm) once, as the Embedded Swift module `ProxyWasm`,
#      and the C runtime (sdk/swift/Sources/ProxyWasmRuntime/runtime.c);
#   2. the middleware's own sources (every .swift under it, except Tests/) as one module that
#      imports ProxyWasm;
#   3. wasm-ld links the two objects, the runtime and Swift's Unicode tables.
# Exports come from `@_expose(wasm, …)` in the SDK. The link deliberately does not use
# --export-dynamic, which would also export ~70 internal Swift symbols and keep their code alive.

SDK_SWIFT_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
SDK_ROOT := $(abspath $(SDK_SWIFT_DIR)/../..)
SDK_WASM_DIR := $(SDK_ROOT)/.build-wasm
SDK_OBJ_DIR := $(SDK_WASM_DIR)/obj

SDK_SWIFTC ?= swiftc
SDK_TOOLCHAIN_BIN := $(patsubst %/,%,$(dir $(realpath $(shell command -v $(SDK_SWIFTC) 2>/dev/null))))
SDK_CLANG ?= $(SDK_TOOLCHAIN_BIN)/clang
SDK_WASM_LD ?= $(SDK_TOOLCHAIN_BIN)/wasm-ld
SDK_UNICODE_TABLES ?= $(SDK_TOOLCHAIN_BIN)/../lib/swift/embedded/wasm32-unknown-none-wasm/libswiftUnicodeDataTables.a

SDK_SWIFT_FLAGS := -target wasm32-unknown-none-wasm \
	-enable-experimental-feature Embedded -enable-experimental-feature Extern \
	-wmo -Osize -parse-as-library -swift-version 6
SDK_CLANG_FLAGS := --target=wasm32-unknown-unknown -Os -ffreestanding -fno-builtin -nostdlib -Wall -Wextra
SDK_LD_FLAGS := --no-entry --gc-sections --strip-debug -z stack-size=131072

SDK_SOURCES := $(shell find $(SDK_SWIFT_DIR)/Sources/ProxyWasm -name '*.swift' 2>/dev/null | sort)
SDK_RUNTIME_SOURCE := $(SDK_SWIFT_DIR)/Sources/ProxyWasmRuntime/runtime.c
SDK_MODULE := $(SDK_OBJ_DIR)/ProxyWasm.swiftmodule
SDK_OBJECT := $(SDK_OBJ_DIR)/ProxyWasm.o
SDK_RUNTIME_OBJECT := $(SDK_OBJ_DIR)/runtime.o

SDK_MIDDLEWARE_NAMES := $(notdir $(patsubst %/,%,$(wildcard $(SDK_ROOT)/middleware/*/)))
SDK_EXAMPLE_NAMES := $(notdir $(patsubst %/,%,$(wildcard $(SDK_SWIFT_DIR)/Examples/*/)))
SDK_MIDDLEWARE_WASM := $(foreach name,$(SDK_MIDDLEWARE_NAMES),$(SDK_WASM_DIR)/$(name).wasm)
SDK_EXAMPLE_WASM := $(foreach name,$(SDK_EXAMPLE_NAMES),$(SDK_WASM_DIR)/sdk-examples/$(name).wasm)

.PHONY: middleware sdk-test sdk-envoy-test sdk-clean

middleware: $(SDK_MIDDLEWARE_WASM) $(SDK_EXAMPLE_WASM)

$(SDK_OBJECT): $(SDK_SOURCES)
	@mkdir -p $(SDK_OBJ_DIR)
	$(SDK_SWIFTC) $(SDK_SWIFT_FLAGS) -module-name ProxyWasm \
		-emit-module -emit-module-path $(SDK_MODULE) -c $(SDK_SOURCES) -o $@

$(SDK_MODULE): $(SDK_OBJECT)

$(SDK_RUNTIME_OBJECT): $(SDK_RUNTIME_SOURCE)
	@mkdir -p $(SDK_OBJ_DIR)
	$(SDK_CLANG) $(SDK_CLANG_FLAGS) -c $< -o $@

# sdk_wasm_module(output, source directory, module name)
define sdk_wasm_module
$(1): $$(shell find $(2) -name '*.swift' -not -path '*/Tests/*' 2>/dev/null) $$(SDK_OBJECT) $$(SDK_RUNTIME_OBJECT)
	@mkdir -p $$(dir $(1)) $$(SDK_OBJ_DIR)
	$$(SDK_SWIFTC) $$(SDK_SWIFT_FLAGS) -module-name $(3) -I $$(SDK_OBJ_DIR) \
		-c $$(shell find $(2) -name '*.swift' -not -path '*/Tests/*' | sort) -o $$(SDK_OBJ_DIR)/$(3).o
	$$(SDK_WASM_LD) $$(SDK_LD_FLAGS) -o $(1) \
		$$(SDK_OBJ_DIR)/$(3).o $$(SDK_OBJECT) $$(SDK_RUNTIME_OBJECT) $$(SDK_UNICODE_TABLES)
	@$$(SDK_SWIFT_DIR)/scripts/check-module $(1)
endef

$(foreach name,$(SDK_MIDDLEWARE_NAMES),$(eval $(call sdk_wasm_module,$(SDK_WASM_DIR)/$(name).wasm,$(SDK_ROOT)/middleware/$(name),$(subst -,_,$(name)))))
$(foreach name,$(SDK_EXAMPLE_NAMES),$(eval $(call sdk_wasm_module,$(SDK_WASM_DIR)/sdk-examples/$(name).wasm,$(SDK_SWIFT_DIR)/Examples/$(name),example_$(subst -,_,$(name)))))

sdk-test:
	cd $(SDK_SWIFT_DIR) && swift test
	$(SDK_SWIFT_DIR)/scripts/check-doc-samples $(SDK_ROOT)/docs/sdk.md

sdk-envoy-test: middleware
	python3 $(SDK_SWIFT_DIR)/Tests/Envoy/scenarios.py

sdk-clean:
	rm -rf $(SDK_OBJ_DIR) $(SDK_MIDDLEWARE_WASM) $(SDK_WASM_DIR)/sdk-examples
