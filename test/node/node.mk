# The emulated PMEM node: system tests, a debug shell and the demo.
# Included from the top-level Makefile (`include test/node/node.mk`); all
# recipes run from the repo root. See docs/testing.md.

NODE_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

# Limit for one boot of the system tests, in seconds.
NODE_TIMEOUT ?= 1800
# Limit for one system test inside the node, in seconds.
NODE_TEST_TIMEOUT ?= 300
# System tests to run: names under test/node/tests (e.g. "30 40") or paths;
# empty = all.
NODE_TESTS ?=
# What `make node-check` and `make demo` build first.
NODE_SYSTEM_TEST_DEPS ?= pmemd
NODE_DEMO_DEPS ?= pmemd
# Host port of the demo's REST API (127.0.0.1 only).
PMEMD_DEMO_PORT ?= 8080
# DETACH=1: `make demo` returns once pmemd is ready; stop with `make demo-stop`.
DETACH ?=
# More options for test/node/demo (e.g. --fake: a stand-in server, no pmemd).
DEMO_ARGS ?=

.PHONY: node-deps node-image node-check node-shell demo demo-stop node-clean

# Install the Debian packages the node needs (only the missing ones).
node-deps:
	$(NODE_MK_DIR)/deps --install

# Fetch the Debian kernel and build the initramfs (cached in build/node-cache).
node-image:
	$(NODE_MK_DIR)/build-node

# Boot the node once and run the system tests; ends with "N passed, N failed".
# (The top-level `make check-system` runs them through test/check.)
node-check: $(NODE_SYSTEM_TEST_DEPS)
	$(NODE_MK_DIR)/run-system-tests --timeout $(NODE_TIMEOUT) \
		--test-timeout $(NODE_TEST_TIMEOUT) $(NODE_TESTS)

# An interactive root shell in the node (exit powers it off; Ctrl-A X kills QEMU).
node-shell:
	$(NODE_MK_DIR)/run-node --shell

# pmemd in the node, REST API on 127.0.0.1:$(PMEMD_DEMO_PORT).
demo: $(NODE_DEMO_DEPS)
	PMEMD_DEMO_PORT=$(PMEMD_DEMO_PORT) $(NODE_MK_DIR)/demo \
		$(if $(filter 1 yes true,$(DETACH)),--detach) $(DEMO_ARGS)

demo-stop:
	$(NODE_MK_DIR)/demo --stop

# Remove the node's kernel/initramfs cache and console logs.
node-clean:
	rm -rf build/node-cache build/node-logs build/demo.out build/demo.pid
