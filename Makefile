# pmemd — persistent memory as a schedulable, self-resizing Kubernetes node resource.
# Plain make, no autotools. `make` builds ./pmemd; `make check` runs every test suite.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
MANDIR     ?= $(PREFIX)/share/man

CC         ?= cc
CXX        ?= g++
# simdjson (the extender's hot-path parser, sched/sched-extender-parse.cc) ships a .pc file on
# Debian; without one, link it by name so a missing .pc does not empty the whole list.
SIMDJSON_PC := $(shell pkg-config --exists simdjson 2>/dev/null && echo simdjson)
PKGS       := libmicrohttpd jansson libndctl libdaxctl numa yaml-0.1 libsystemd libcurl gnutls blkid mount \
	      $(SIMDJSON_PC)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(if $(SIMDJSON_PC),,-lsimdjson) \
	      -lstdc++ -lpthread -lm

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	    -Wformat=2 -Wundef -Wwrite-strings -Wimplicit-fallthrough -Wno-format-nonliteral
BASE_CFLAGS := -std=gnu11 -g $(WARNINGS) -fno-common -fstack-protector-strong \
	       -D_GNU_SOURCE -I. -Ibuild -MMD -MP $(PKG_CFLAGS)
OPT_CFLAGS  := -O2 -D_FORTIFY_SOURCE=2
SAN_CFLAGS  := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
CFLAGS      ?=
LDFLAGS     ?=
# C++ is confined to single files that wrap a C++ library behind a C header.
CXX_WARNINGS := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wundef -Wimplicit-fallthrough \
		-Wno-format-nonliteral
BASE_CXXFLAGS := -std=c++17 -g $(CXX_WARNINGS) -fno-common -fstack-protector-strong \
		 -D_GNU_SOURCE -I. -Ibuild -MMD -MP $(PKG_CFLAGS)
CXXFLAGS    ?=

# The product library: every room but pmemd.c, so tests and fuzzers drive the same code.
LIB_SRCS := $(sort $(wildcard util/*.c config/*.c api/*.c topology/*.c quota/*.c sched/*.c \
			      resize/*.c kube/*.c cluster/*.c))
LIB_ASM  := $(wildcard api/*.S)
LIB_CXX_SRCS := $(sort $(wildcard util/*.cc config/*.cc api/*.cc topology/*.cc quota/*.cc \
				  sched/*.cc resize/*.cc kube/*.cc cluster/*.cc))
TEST_SRCS := $(sort $(wildcard test/unit/test-*.c))
TEST_HELPERS := $(filter-out $(TEST_SRCS),$(sort $(wildcard test/unit/*.c)))

OBJ_DIR  := build/obj
SAN_DIR  := build/san
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ_DIR)/%.o) $(LIB_ASM:%.S=$(OBJ_DIR)/%.o) \
	    $(LIB_CXX_SRCS:%.cc=$(OBJ_DIR)/%.o)
SAN_OBJS := $(LIB_SRCS:%.c=$(SAN_DIR)/%.o) $(LIB_ASM:%.S=$(SAN_DIR)/%.o) \
	    $(LIB_CXX_SRCS:%.cc=$(SAN_DIR)/%.o)
TESTS     := $(TEST_SRCS:test/unit/%.c=build/test/%)
# Small drivers that system tests run inside the emulated node (test/node/bin/*.c).
NODE_BIN_SRCS := $(sort $(wildcard test/node/bin/*.c))
NODE_BINS := $(NODE_BIN_SRCS:test/node/bin/%.c=build/node-bin/%)
SAN_TESTS := $(TEST_SRCS:test/unit/%.c=build/test-san/%)
# A test build of pmemd with fault-injection points (PMEMD_FAULT=volume_create:3 aborts
# after step 3; test/node/tests/92-volumes-crash.sh). Every C file is compiled again into
# its own folder, so the release objects in $(OBJ_DIR) never hold fault code.
FAULT_DIR  := build/fault
FAULT_OBJS := $(LIB_SRCS:%.c=$(FAULT_DIR)/%.o) $(LIB_ASM:%.S=$(FAULT_DIR)/%.o) \
	      $(LIB_CXX_SRCS:%.cc=$(FAULT_DIR)/%.o)
FAULT_BIN  := build/pmemd-fault
# The CSI shim (csi/): gRPC core + protobuf-c, with C bindings generated at build time from
# csi/proto/csi.proto and the google/protobuf protos of Debian's libprotobuf-dev.
CSI_PROTO_INC := /usr/include
CSI_GEN_DIR   := build/csi-gen
CSI_GEN_STAMP := $(CSI_GEN_DIR)/.stamp
CSI_GEN_PROTOS := google/protobuf/descriptor google/protobuf/wrappers google/protobuf/timestamp
CSI_GEN_SRCS  := $(CSI_GEN_DIR)/csi.pb-c.c $(CSI_GEN_PROTOS:%=$(CSI_GEN_DIR)/%.pb-c.c)
CSI_SRCS      := $(sort $(wildcard csi/*.c))
CSI_LIB_SRCS  := $(filter-out csi/csi-main.c,$(CSI_SRCS))
CSI_CFLAGS    := $(shell pkg-config --cflags grpc libprotobuf-c 2>/dev/null) -I$(CSI_GEN_DIR)
CSI_LIBS      := $(shell pkg-config --libs grpc libprotobuf-c 2>/dev/null)
# Generated code gets the house flags too: Debian 12's protoc-c 1.4.1 output builds clean with
# them (if a later generator's does not, relax them here, for these files only).
CSI_GEN_CFLAGS := -std=gnu11 -g $(WARNINGS) -fno-common -fstack-protector-strong -D_GNU_SOURCE \
		  -MMD -MP -I$(CSI_GEN_DIR) $(CSI_CFLAGS)
CSI_GEN_OBJS  := $(CSI_GEN_SRCS:%.c=%.o)
CSI_GEN_SAN_OBJS := $(CSI_GEN_SRCS:%.c=%.san.o)
CSI_LIB_OBJS  := $(CSI_LIB_SRCS:%.c=$(OBJ_DIR)/%.o) $(CSI_GEN_OBJS)
CSI_SAN_OBJS  := $(CSI_LIB_SRCS:%.c=$(SAN_DIR)/%.o) $(CSI_GEN_SAN_OBJS)
TEST_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
GIT_DIRTY  := $(shell test -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" && echo -dirty)

.PHONY: all deps check check-unit check-asan check-cli check-system install clean format format-check bench

all: pmemd pmem-csi

# build/version.h changes only when the version, commit or flags change, so a
# new commit rebuilds one object, not the tree.
build/version.h: FORCE
	@mkdir -p build
	@printf '#define PMEMD_VERSION "%s"\n#define PMEMD_GIT_COMMIT "%s"\n#define PMEMD_BUILD_FLAGS "%s"\n' \
		'$(VERSION)' '$(GIT_COMMIT)$(GIT_DIRTY)' '$(strip $(OPT_CFLAGS) $(CFLAGS))' > $@.tmp
	@printf '#define PMEMD_LIBNDCTL_VERSION "%s"\n#define PMEMD_LIBDAXCTL_VERSION "%s"\n#define PMEMD_LIBNUMA_VERSION "%s"\n' \
		'$(shell pkg-config --modversion libndctl 2>/dev/null)' \
		'$(shell pkg-config --modversion libdaxctl 2>/dev/null)' \
		'$(shell pkg-config --modversion numa 2>/dev/null)' >> $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:

$(OBJ_DIR)/%.o: %.c | build/version.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) $(CFLAGS) -c $< -o $@

$(OBJ_DIR)/%.o: %.S docs/openapi.json
	@mkdir -p $(dir $@)
	$(CC) -I. -c $< -o $@

$(OBJ_DIR)/%.o: %.cc | build/version.h
	@mkdir -p $(dir $@)
	$(CXX) $(BASE_CXXFLAGS) $(OPT_CFLAGS) $(CXXFLAGS) -c $< -o $@

$(SAN_DIR)/%.o: %.c | build/version.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_CFLAGS) $(CFLAGS) -c $< -o $@

$(SAN_DIR)/%.o: %.S docs/openapi.json
	@mkdir -p $(dir $@)
	$(CC) -I. -c $< -o $@

$(SAN_DIR)/%.o: %.cc | build/version.h
	@mkdir -p $(dir $@)
	$(CXX) $(BASE_CXXFLAGS) $(SAN_CFLAGS) $(CXXFLAGS) -c $< -o $@

$(FAULT_DIR)/%.o: %.c | build/version.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) -DPMEMD_FAULT_INJECTION $(CFLAGS) -c $< -o $@

$(FAULT_DIR)/%.o: %.S docs/openapi.json
	@mkdir -p $(dir $@)
	$(CC) -I. -c $< -o $@

$(FAULT_DIR)/%.o: %.cc | build/version.h
	@mkdir -p $(dir $@)
	$(CXX) $(BASE_CXXFLAGS) $(OPT_CFLAGS) -DPMEMD_FAULT_INJECTION $(CXXFLAGS) -c $< -o $@

$(CSI_GEN_STAMP): csi/proto/csi.proto
	@mkdir -p $(CSI_GEN_DIR)
	protoc-c -Icsi/proto -I$(CSI_PROTO_INC) --c_out=$(CSI_GEN_DIR) csi/proto/csi.proto \
		$(CSI_GEN_PROTOS:%=$(CSI_PROTO_INC)/%.proto)
	@touch $@

$(CSI_GEN_SRCS): $(CSI_GEN_STAMP)
	@test -f $@

$(CSI_GEN_OBJS): %.o: %.c $(CSI_GEN_STAMP)
	$(CC) $(CSI_GEN_CFLAGS) $(OPT_CFLAGS) -c $< -o $@

$(CSI_GEN_SAN_OBJS): %.san.o: %.c $(CSI_GEN_STAMP)
	$(CC) $(CSI_GEN_CFLAGS) $(SAN_CFLAGS) -c $< -o $@

# Static pattern rules: the objects are named, so make never falls back to the generic rules.
$(CSI_SRCS:%.c=$(OBJ_DIR)/%.o): $(OBJ_DIR)/%.o: %.c $(CSI_GEN_STAMP) | build/version.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CSI_CFLAGS) $(OPT_CFLAGS) $(CFLAGS) -c $< -o $@

$(CSI_SRCS:%.c=$(SAN_DIR)/%.o): $(SAN_DIR)/%.o: %.c $(CSI_GEN_STAMP) | build/version.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CSI_CFLAGS) $(SAN_CFLAGS) $(CFLAGS) -c $< -o $@

pmem-csi: $(OBJ_DIR)/csi/csi-main.o $(CSI_LIB_OBJS) build/libpmemd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CSI_LIBS) $(PKG_LIBS)

build/libpmemd.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

build/libpmemd-san.a: $(SAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

pmemd: $(OBJ_DIR)/pmemd.o build/libpmemd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

build/libpmemd-fault.a: $(FAULT_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FAULT_BIN): $(FAULT_DIR)/pmemd.o build/libpmemd-fault.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The shim's unit tests link its objects and the generated bindings as well.
CSI_TESTS := $(filter build/test/test-csi%,$(TESTS))
CSI_SAN_TESTS := $(filter build/test-san/test-csi%,$(SAN_TESTS))
$(CSI_TESTS): build/test/%: test/unit/%.c $(TEST_HELPERS) $(CSI_LIB_OBJS) build/libpmemd.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CSI_CFLAGS) $(OPT_CFLAGS) $(CFLAGS) -Itest/unit -o $@ $< \
		$(TEST_HELPERS) $(CSI_LIB_OBJS) build/libpmemd.a $(CSI_LIBS) $(PKG_LIBS) $(TEST_LIBS)

$(CSI_SAN_TESTS): build/test-san/%: test/unit/%.c $(TEST_HELPERS) $(CSI_SAN_OBJS) build/libpmemd-san.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CSI_CFLAGS) $(SAN_CFLAGS) $(CFLAGS) -Itest/unit -o $@ $< \
		$(TEST_HELPERS) $(CSI_SAN_OBJS) build/libpmemd-san.a $(CSI_LIBS) $(PKG_LIBS) $(TEST_LIBS)

build/test/%: test/unit/%.c $(TEST_HELPERS) build/libpmemd.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) $(CFLAGS) -Itest/unit -o $@ $< $(TEST_HELPERS) \
		build/libpmemd.a $(PKG_LIBS) $(TEST_LIBS)

build/test-san/%: test/unit/%.c $(TEST_HELPERS) build/libpmemd-san.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_CFLAGS) $(CFLAGS) -Itest/unit -o $@ $< $(TEST_HELPERS) \
		build/libpmemd-san.a $(PKG_LIBS) $(TEST_LIBS)

build/node-bin/%: test/node/bin/%.c build/libpmemd.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) $(CFLAGS) -o $@ $< build/libpmemd.a $(PKG_LIBS)

# ---- fuzz: libFuzzer targets (test/fuzz/; docs/testing.md, "Fuzzing") -------------------------
# Every library file is compiled again with clang into build/fuzz/ (coverage for libFuzzer plus
# ASan and UBSan), so the release, sanitizer and fault objects never see fuzzer flags.
#   make fuzz                 each target for FUZZ_SECONDS (default 300), corpus kept in build/
#   make check-fuzz           each target 15 s, then its regressions (test/check fuzz)
FUZZ_CC      ?= clang-14
FUZZ_CXX     ?= clang++-14
FUZZ_SECONDS ?= 300
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# The house warnings, less two where clang differs from gcc: it reads positional initializers
# of partly filled table rows ({"key", T_INT, off}, the config tables' style) as missing
# fields, and does not know gcc's __attribute__((optimize)) (sched-engine.c).
FUZZ_WARNINGS := $(WARNINGS) -Wno-missing-field-initializers -Wno-unknown-attributes
FUZZ_CFLAGS  := -std=gnu11 -g -O1 $(FUZZ_WARNINGS) -fno-common -D_GNU_SOURCE -I. -Ibuild -MMD -MP \
		$(PKG_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -DPMEMD_FUZZING
FUZZ_CXXFLAGS := -std=c++17 -g -O1 $(CXX_WARNINGS) -Wno-missing-field-initializers -fno-common -D_GNU_SOURCE -I. -Ibuild -MMD \
		 -MP $(PKG_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -DPMEMD_FUZZING
FUZZ_SRCS    := $(sort $(wildcard test/fuzz/fuzz-*.c))
FUZZ_BINS    := $(FUZZ_SRCS:test/fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o) $(LIB_ASM:%.S=$(FUZZ_DIR)/obj/%.o) \
		 $(LIB_CXX_SRCS:%.cc=$(FUZZ_DIR)/obj/%.o)
# The CSI mapping and its generated bindings, and the unit tests' in-memory kernel fake.
FUZZ_CSI_OBJS := $(FUZZ_DIR)/obj/csi/csi-map.o $(CSI_GEN_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_FAKE_OBJS := $(FUZZ_DIR)/obj/test/unit/fake-quota.o

.PHONY: fuzz check-fuzz

$(FUZZ_DIR)/obj/%.o: %.c | build/version.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/%.o: %.S docs/openapi.json
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -I. -c $< -o $@

$(FUZZ_DIR)/obj/%.o: %.cc | build/version.h
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/csi/csi-map.o: csi/csi-map.c $(CSI_GEN_STAMP) | build/version.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(CSI_CFLAGS) -c $< -o $@

$(CSI_GEN_SRCS:%.c=$(FUZZ_DIR)/obj/%.o): $(FUZZ_DIR)/obj/%.o: %.c $(CSI_GEN_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -Werror,$(CSI_GEN_CFLAGS)) -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		-c $< -o $@

$(FUZZ_DIR)/obj/test/fuzz/%.o: test/fuzz/%.c $(CSI_GEN_STAMP) | build/version.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(CSI_CFLAGS) -Itest/unit -c $< -o $@

$(FUZZ_DIR)/libpmemd-fuzz.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BINS): $(FUZZ_DIR)/%: $(FUZZ_DIR)/obj/test/fuzz/%.o $(FUZZ_CSI_OBJS) $(FUZZ_FAKE_OBJS) \
			     $(FUZZ_DIR)/libpmemd-fuzz.a
	$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_CSI_OBJS) $(FUZZ_FAKE_OBJS) \
		$(FUZZ_DIR)/libpmemd-fuzz.a $(CSI_LIBS) $(PKG_LIBS) $(TEST_LIBS)

fuzz: $(FUZZ_BINS)
	bash test/fuzz/run --seconds $(FUZZ_SECONDS) --keep

check-fuzz: $(FUZZ_BINS)
	bash test/check fuzz

# make check builds the fuzzers too: test/check all runs them briefly.
check: $(FUZZ_BINS)
# ---- end of fuzz ------------------------------------------------------------------------------

# Installs every Debian package the build, the tests, the demo and the benchmarks need,
# only when missing.
deps:
	bash scripts/deps

# Every suite (unit, unit under ASan+UBSan, system tests on the emulated PMEM node),
# one closing line "N passed, N failed".
check: pmemd pmem-csi $(TESTS) $(SAN_TESTS) $(NODE_BINS) $(FAULT_BIN)
	bash test/check all

check-unit: $(TESTS)
	bash test/check unit

check-asan: $(SAN_TESTS)
	bash test/check asan

check-cli: pmemd
	bash test/check cli

# --- valgrind ---
# The plain unit tests under valgrind memcheck: 0 errors, 0 leaks (test/check valgrind).
.PHONY: check-valgrind
check-valgrind: $(TESTS)
	bash test/check valgrind
# --- end valgrind ---

check-system: pmemd pmem-csi $(NODE_BINS) $(FAULT_BIN)
	bash test/check system

# The host-only benchmarks; bench/volumes, bench/resize and bench/load boot the emulated node.
bench: pmemd
	bash bench/http
	bash bench/hostile
	bash bench/sched-latency
	bash bench/sched-quality

install: pmemd pmem-csi
	install -D -m 0755 pmemd $(DESTDIR)$(BINDIR)/pmemd
	install -D -m 0755 pmem-csi $(DESTDIR)$(BINDIR)/pmem-csi
	install -D -m 0644 deploy/pmemd.service $(DESTDIR)$(UNITDIR)/pmemd.service
	sed -i 's|/usr/local/bin/pmemd|$(BINDIR)/pmemd|g' $(DESTDIR)$(UNITDIR)/pmemd.service
	install -D -m 0644 deploy/pmemd.example.yaml $(DESTDIR)$(SYSCONFDIR)/pmemd/pmemd.example.yaml
	install -D -m 0644 docs/pmemd.8 $(DESTDIR)$(MANDIR)/man8/pmemd.8

C_FILES = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null)

format:
	clang-format -i $(sort $(C_FILES))

format-check:
	clang-format --dry-run --Werror $(sort $(C_FILES))

clean:
	rm -rf build pmemd pmem-csi

# What `make node-check` builds before booting the node (node.mk's default is pmemd only).
NODE_SYSTEM_TEST_DEPS ?= pmemd pmem-csi $(NODE_BINS) $(FAULT_BIN)
-include test/node/node.mk
-include $(shell find build -name '*.d' 2>/dev/null)
