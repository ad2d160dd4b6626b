# klab - a teaching implementation of Kafka and its coordinator, in C.
#
#   make            every stage that exists (build/chN/klab; build/klab is the latest)
#   make ch1        stage 1 alone
#   make run        build the latest stage and start its REPL
#   make test       everything CI checks (sanitizers on)
#   make test-ch1   one stage's tests
#   make check      layering rule and formatting
#   make diagrams   regenerate diagrams/ from their scripts
#   make bench      benchmarks, with the machine's limits beside them
#   make grade LAB=1 [REF=1]   grade a lab (REF=1: the reference solution)
#   make grade LAB=1 LEVEL=open   grade the open level (labs/lab1-*/open/)
#   make grade LAB=1 EXTRA_TESTS=DIR   add an instructor's tests (labs/INSTRUCTORS.md)
#   make fuzz       run the libFuzzer targets for a while (FUZZ_SECONDS=60)
#   make labs       regenerate the lab skeletons from the reference code
#   make clean
#
# Objects go to build/<flavour>/obj: opt (-O2), san (ASan+UBSan), bench,
# fuzz, and labN (a learner's files in place of the reference ones).

STAGES  := 1 2 3
LATEST  := $(lastword $(STAGES))
# Stages being built: compiled and tested by `make test`, not yet the latest.
IN_PROGRESS := 4
CC      ?= cc
ifeq ($(origin CC),default)
CC      := cc
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes
CFLAGS_NODEP := -std=c17 -D_GNU_SOURCE -Isrc $(WARN)
CFLAGS_BASE := $(CFLAGS_NODEP) -MMD -MP
OPT     := -O2 -g
SAN     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LIBS    := -lreadline -ljansson -lzstd -llz4 -lsnappy -lz -lpthread
TEST_LIBS := -lcmocka $(LIBS)
FUZZ_CC := clang
FUZZ_SECONDS ?= 60

include chapters/01-log/stage.mk
include chapters/02-partitions/stage.mk
include chapters/03-brokers/stage.mk
include chapters/04-coordinator/stage.mk

.PHONY: all run test check diagrams bench grade fuzz labs clean deps-run deps-test \
        $(foreach n,$(STAGES) $(IN_PROGRESS),ch$(n) test-ch$(n)) test-unit test-walkthroughs \
        test-diagrams test-labs test-fuzz test-clang test-interop test-hostile
.DEFAULT_GOAL := all

all: $(foreach n,$(STAGES),ch$(n)) build/klab

deps-run:
	@tools/deps.sh run
deps-test:
	@tools/deps.sh test

# ---- objects -------------------------------------------------------------
build/opt/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(OPT) -c $< -o $@
build/san/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -c $< -o $@
build/bench/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O2 -g -DNDEBUG -c $< -o $@
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_BASE) -O1 -g -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

# ---- stages --------------------------------------------------------------
# build/<flavour>/chN/stage.c names the stage's REPL command tables.
define stage_rules
build/gen/ch$(1)/stage.c: chapters/*/stage.mk Makefile
	@mkdir -p $$(dir $$@)
	@tools/gen-stage.sh $(1) "$$(STAGE$(1)_NAME)" $$(STAGE$(1)_TABLES) > $$@.tmp && mv $$@.tmp $$@

build/opt/ch$(1)/klab: $$(patsubst %.c,build/opt/obj/%.o,$$(STAGE$(1)_SRCS) src/main/klab.c build/gen/ch$(1)/stage.c)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(OPT) $$^ -o $$@ $$(LIBS)
build/ch$(1)/klab: build/opt/ch$(1)/klab
	@mkdir -p $$(dir $$@)
	cp $$< $$@
ch$(1): deps-run build/ch$(1)/klab

build/san/ch$(1)/klab: $$(patsubst %.c,build/san/obj/%.o,$$(STAGE$(1)_SRCS) src/main/klab.c build/gen/ch$(1)/stage.c)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(SAN) $$^ -o $$@ $$(LIBS)
build/san/ch$(1)/libklab.a: $$(patsubst %.c,build/san/obj/%.o,$$(STAGE$(1)_SRCS) build/gen/ch$(1)/stage.c)
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
build/bench/ch$(1)/libklab.a: $$(patsubst %.c,build/bench/obj/%.o,$$(STAGE$(1)_SRCS) build/gen/ch$(1)/stage.c)
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
build/fuzz/ch$(1)/libklab.a: $$(patsubst %.c,build/fuzz/obj/%.o,$$(STAGE$(1)_SRCS) build/gen/ch$(1)/stage.c)
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^

# tests/chN/*.c: one cmocka program each, against stage N.
CH$(1)_TESTS := $$(patsubst tests/ch$(1)/%.c,build/san/tests/ch$(1)/%,$$(wildcard tests/ch$(1)/test_*.c))
build/san/tests/ch$(1)/%: tests/ch$(1)/%.c build/san/ch$(1)/libklab.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_BASE) $$(SAN) -Itests $$< build/san/ch$(1)/libklab.a -o $$@ $$(TEST_LIBS)

test-ch$(1): deps-test build/san/ch$(1)/klab $$(CH$(1)_TESTS)
	@tools/run-tests.sh $$(CH$(1)_TESTS)
	@tools/walkthrough.sh build/san/ch$(1)/klab chapters/0$(1)-* tests/ch$(1)
	@tools/check-excerpts.sh chapters/0$(1)-*
	@for t in tests/ch$(1)/*.sh; do [ -f "$$$$t" ] || continue; sh "$$$$t" build/san/ch$(1)/klab || exit 1; done
endef
$(foreach n,$(STAGES) $(IN_PROGRESS),$(eval $(call stage_rules,$(n))))

build/klab: build/ch$(LATEST)/klab
	cp $< $@

# ---- run -----------------------------------------------------------------
run: deps-run build/klab
	@mkdir -p data
	./build/klab repl -c chapters/0$(LATEST)-*/klab.properties

# ---- tests ---------------------------------------------------------------
UNIT_TESTS := $(patsubst tests/unit/%.c,build/san/tests/unit/%,$(wildcard tests/unit/test_*.c))
build/san/tests/unit/%: tests/unit/%.c build/san/ch$(LATEST)/libklab.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -Itests $< build/san/ch$(LATEST)/libklab.a -o $@ $(TEST_LIBS)

test-unit: deps-test $(UNIT_TESTS)
	@tools/run-tests.sh $(UNIT_TESTS)

export KLAB_COUNTS := $(CURDIR)/build/test-counts
test: deps-test
	@mkdir -p build && rm -f build/test-counts
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory all # the -O2 build warns about what -O1 does not see
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory $(foreach n,$(STAGES) $(IN_PROGRESS),test-ch$(n))
	@$(MAKE) --no-print-directory test-hostile
	@$(MAKE) --no-print-directory test-diagrams test-labs test-fuzz test-clang test-interop
	@awk '{ p += $$1; f += $$2 } END { printf "klab: all tests passed\nklab: %d passed, %d failed\n", p, f }' build/test-counts

# Hostile clients against real `klab broker` processes (tests/hostile/hostile.h).
HOSTILE_TESTS := $(patsubst tests/hostile/%.c,build/san/tests/hostile/%,$(wildcard tests/hostile/test_*.c))
build/san/tests/hostile/%: tests/hostile/%.c tests/hostile/hostile.h build/san/ch$(LATEST)/libklab.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -Itests $< build/san/ch$(LATEST)/libklab.a -o $@ $(TEST_LIBS)
test-hostile: deps-test build/san/ch$(LATEST)/klab $(HOSTILE_TESTS)
	@KLAB=$(CURDIR)/build/san/ch$(LATEST)/klab tools/run-tests.sh $(HOSTILE_TESTS)

# Real clients against real `klab broker` processes on loopback (stage 3):
# kcat (librdkafka), kafkajs, @platformatic/kafka and kafka-ts (the Node.js
# ones pinned by their package-lock.json, installed with `npm ci`), and a
# cluster; tests/interop/*.sh, each bounded by `timeout`. Every suite runs,
# so that one client's failure does not hide another's; then it fails.
test-interop: deps-test build/san/ch2/klab build/san/ch3/klab
	@rc=0; for t in tests/interop/*.sh; do [ -f "$$t" ] || continue; \
	  sh "$$t" build/san/ch3/klab || { echo "klab: $$t failed"; rc=1; }; done; exit $$rc

check:
	@tools/check-layers.sh
	@tools/check-io.sh
	@tools/check-format.sh

# Every stage also compiles with clang (the opt build above uses $(CC)).
test-clang:
	@$(MAKE) --no-print-directory CC=clang BUILD_TAG=clang build/clang-check.stamp
build/clang-check.stamp: $(wildcard src/*/*.c src/*/*.h)
	@mkdir -p build/clang
	@for f in $(sort $(foreach n,$(STAGES) $(IN_PROGRESS),$(STAGE$(n)_SRCS))) src/main/klab.c; do \
	  clang $(CFLAGS_NODEP) -O2 -fsyntax-only $$f || exit 1; done
	@echo "clang: every source compiles with -Werror"
	@touch $@

# ---- diagrams ------------------------------------------------------------
diagrams: deps-run all
	@tools/diagrams.sh build update
test-diagrams: $(foreach n,$(STAGES),build/san/ch$(n)/klab)
	@tools/diagrams.sh build/san check

# ---- labs ----------------------------------------------------------------
# tools/grade.sh builds build/grade/labN/MODE/test with GRADE_LAB and
# GRADE_MODE set: the stage's sources, but the files listed in
# labs/labN-*/FILES taken from the learner's copy (learner), from a freshly
# generated skeleton (skeleton), from src/ (ref) or from the reference with
# one of tests/labs/labN/mutants/*.diff applied (mutant-NAME, tools/mutants.sh).
# make grade also builds build/labN/klab from the learner's files and replays
# the chapter's walkthrough with it.  LEVEL=open grades labs/labN-*/open/
# instead (whole files written from the headers); EXTRA_TESTS=DIR adds an
# instructor's test programs and points (tools/grade.sh).
# make grade exits non-zero below full marks unless GRADE_EXIT=0; each test
# may run GRADE_TIMEOUT seconds (10).  test-labs proves the reference scores
# full, the skeleton and the open level's starting files zero, every mutant
# below full, and the example of private tests full on the reference.
LAB ?= 1
LAB_NUMBERS := $(patsubst labs/lab%,%,$(foreach d,$(wildcard labs/lab*-*),$(firstword $(subst -, ,$(d)))))
ifdef GRADE_LAB
GRADE_DIR   := $(firstword $(wildcard labs/lab$(GRADE_LAB)-*))
GRADE_FILES := $(shell cat $(GRADE_DIR)/FILES)
GRADE_STAGE := $(shell cat $(GRADE_DIR)/STAGE)
GRADE_ROOT_ref :=
GRADE_ROOT_learner := $(GRADE_DIR)/
GRADE_ROOT_skeleton := build/labs/lab$(GRADE_LAB)/
GRADE_ROOT_open := $(GRADE_DIR)/open/
GRADE_ROOT_open-skeleton := build/labs/lab$(GRADE_LAB)-open/
GRADE_ROOT := $(if $(filter mutant-%,$(GRADE_MODE)),build/labs/lab$(GRADE_LAB)-$(GRADE_MODE)/,$(GRADE_ROOT_$(GRADE_MODE)))
GRADE_SRCS := $(foreach f,$(STAGE$(GRADE_STAGE)_SRCS),$(if $(filter $(f),$(GRADE_FILES)),$(GRADE_ROOT)$(f),$(f)))
build/grade/lab$(GRADE_LAB)/$(GRADE_MODE)/test: tests/labs/lab$(GRADE_LAB)/test_lab$(GRADE_LAB).c \
		$(patsubst %.c,build/san/obj/%.o,$(GRADE_SRCS) build/gen/ch$(GRADE_STAGE)/stage.c)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -Itests $(filter %.c %.o,$^) -o $@ $(TEST_LIBS)
# An instructor's private tests (EXTRA_TESTS=DIR), against the same files.
ifdef EXTRA_TESTS
build/grade/lab$(GRADE_LAB)/$(GRADE_MODE)/extra/%: $(EXTRA_TESTS)/%.c \
		$(patsubst %.c,build/san/obj/%.o,$(GRADE_SRCS) build/gen/ch$(GRADE_STAGE)/stage.c)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NODEP) $(SAN) -Itests $(filter %.c %.o,$^) -o $@ $(TEST_LIBS)
endif
# The shell built from the same files, to replay the chapter's walkthrough.
build/grade/lab$(GRADE_LAB)/$(GRADE_MODE)/klab: \
		$(patsubst %.c,build/san/obj/%.o,$(GRADE_SRCS) src/main/klab.c build/gen/ch$(GRADE_STAGE)/stage.c)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $^ -o $@ $(LIBS)
endif
labs:
	@tools/labgen.sh write
test-labs:
	@tools/labgen.sh check
	@for n in $(LAB_NUMBERS); do tools/grade.sh $$n ref require-full || exit 1; \
	  tools/grade.sh $$n skeleton require-all-fail || exit 1; \
	  tools/grade.sh $$n open-skeleton require-all-fail || exit 1; \
	  tools/mutants.sh $$n || exit 1; done
	@EXTRA_TESTS=labs/examples/extra-tests tools/grade.sh 1 ref require-full
grade: deps-test
	@$(if $(EXTRA_TESTS),EXTRA_TESTS=$(EXTRA_TESTS)) tools/grade.sh $(LAB) \
	  $(if $(REF),ref,$(if $(filter open,$(LEVEL)),open,learner))

# ---- fuzz ----------------------------------------------------------------
# Fuzz targets link the newest stage that is built, in progress or not (a
# superset of the earlier ones), so stage 3's broker can be fuzzed.
FUZZ_STAGE := $(lastword $(STAGES) $(IN_PROGRESS))
FUZZERS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/ch$(FUZZ_STAGE)/libklab.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_BASE) -O1 -g -fsanitize=fuzzer,address,undefined $< build/fuzz/ch$(FUZZ_STAGE)/libklab.a -o $@ $(LIBS)
test-fuzz: deps-test $(FUZZERS)
	@tools/fuzz.sh replay $(FUZZERS)
fuzz: deps-test $(FUZZERS)
	@tools/fuzz.sh run $(FUZZ_SECONDS) $(FUZZERS)

# ---- bench ---------------------------------------------------------------
# bench_broker is a client: it links librdkafka, not klab, and runs a
# bench-flavoured stage-3 broker (build/bench/ch3/klab) beside redis-server
# and nats-server (tools/deps.sh bench installs them).
BENCHES := $(patsubst tests/bench/%.c,build/bench/%,$(wildcard tests/bench/bench_*.c))
build/bench/bench_%: tests/bench/bench_%.c build/bench/ch$(LATEST)/libklab.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O2 -g -DNDEBUG -Itests $< build/bench/ch$(LATEST)/libklab.a -o $@ $(LIBS)
# bench_broker.c and its parts, tests/bench/broker/*.c, go through the bench object rule.
BENCH_BROKER_OBJS := $(patsubst %.c,build/bench/obj/%.o,tests/bench/bench_broker.c \
                     $(wildcard tests/bench/broker/*.c))
build/bench/bench_broker: $(BENCH_BROKER_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -O2 -g $(BENCH_BROKER_OBJS) -o $@ -lrdkafka -lpthread
build/bench/ch3/klab: $(patsubst %.c,build/bench/obj/%.o,$(STAGE3_SRCS) src/main/klab.c build/gen/ch3/stage.c)
	@mkdir -p $(dir $@)
	$(CC) -O2 -g $^ -o $@ $(LIBS)
.PHONY: deps-bench
deps-bench:
	@tools/deps.sh bench
bench: deps-bench $(BENCHES) build/bench/ch3/klab
	@for b in $(BENCHES); do $$b || exit 1; done

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
