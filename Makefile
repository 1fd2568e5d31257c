# vapd build. `make` builds build/vapd (CUDA parts too when nvcc is found);
# `make test` / `make demo` install missing Debian packages first (scripts/deps.sh).

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
SHARED   ?= $(abspath ../shared)
SANITIZE ?=
VERSION  := 0.1.0

CC       ?= gcc
CUDA_HOME ?= /usr/local/cuda
NVCC     ?= $(firstword $(wildcard $(CUDA_HOME)/bin/nvcc) $(shell command -v nvcc 2>/dev/null))

PKGS     := libavformat libavcodec libavutil libavdevice libswscale yaml-0.1 libprotobuf-c openblas cairo
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -fopenmp -MMD -MP \
            -DVP_VERSION='"$(VERSION)"' -I. -I$(BUILD)/gen $(PKG_CFLAGS)
LDLIBS   += -fopenmp $(PKG_LIBS) -lmosquitto -lsystemd -lmicrohttpd -lcurl -ljansson -lpthread -ldl -lm
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

# Host sources: every .c under the module folders, except the programs' mains.
MAINS    := pipeline/main.c infer/run_model.c
SRCS     := $(filter-out $(MAINS),$(wildcard pipeline/*.c decode/*.c infer/*.c infer/*/*.c kernels/*.c sinks/*.c \
                                          analytics/*.c view/*.c fleet/*.c))
OBJS     := $(SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/onnx.pb-c.o $(BUILD)/view/page.o

ifneq ($(NVCC),)
CU_SRCS  := $(wildcard kernels/*.cu infer/*.cu infer/*/*.cu decode/*.cu)
CU_OBJS  := $(CU_SRCS:%.cu=$(BUILD)/%.cu.o)
NVFLAGS  := -O2 -std=c++17 -I. -Xcompiler -fPIC,-Wall \
            -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
CFLAGS   += -DVP_HAVE_CUDA -I$(CUDA_HOME)/include
# cudart is linked statically; the driver, NVDEC and cuDNN are loaded at run time.
LDLIBS   += -L$(CUDA_HOME)/lib64 -lcudart_static -lrt -lstdc++
endif
OBJS     += $(CU_OBJS)

LIB      := $(BUILD)/libvapd.a
TEST_SRCS  := $(wildcard tests/test_*.c)
TESTS      := $(TEST_SRCS:%.c=$(BUILD)/%)
GPU_SRCS   := $(wildcard tests/gpu_*.c)
GPU_TESTS  := $(GPU_SRCS:%.c=$(BUILD)/%)
TOOL_SRCS  := $(wildcard tests/tool_*.c bench/bench_*.c)
TOOLS      := $(TOOL_SRCS:%.c=$(BUILD)/%)
PROGS      := $(BUILD)/vapd $(BUILD)/vapd-run-model

.PHONY: all deps demo test test-loaded test-gpu bench check-accuracy install clean tests-build gpu-carry \
        fuzz fuzz-build soak mutate image
all: $(PROGS)

$(BUILD)/gen/onnx.pb-c.c: /usr/include/onnx/onnx.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=/usr/include/onnx --c_out=$(@D) $<

$(BUILD)/gen/onnx.pb-c.h: $(BUILD)/gen/onnx.pb-c.c

$(BUILD)/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c
	$(CC) $(filter-out -Werror -Wextra,$(CFLAGS)) -c -o $@ $<

$(BUILD)/%.o: %.c | $(BUILD)/gen/onnx.pb-c.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# The live view's page, embedded (.incbin, path relative to the top folder): no file at run time.
$(BUILD)/view/page.o: view/page.S view/page.html
	@mkdir -p $(@D)
	$(CC) -c -o $@ $<

$(BUILD)/%.cu.o: %.cu
	@mkdir -p $(@D)
	$(NVCC) $(NVFLAGS) -c -o $@ $<

$(LIB): $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/vapd: $(BUILD)/pipeline/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vapd-run-model: $(BUILD)/infer/run_model.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tests-build: $(PROGS) $(TESTS) $(TOOLS)

deps:
	@scripts/deps.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

test: deps
	@$(MAKE) --no-print-directory tests-build
	@BUILD=$(BUILD) SHARED=$(SHARED) tests/run.sh

test-gpu: deps
	@$(MAKE) --no-print-directory tests-build $(GPU_TESTS)
	@BUILD=$(BUILD) SHARED=$(SHARED) tests/run.sh --gpu

check-accuracy: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) SHARED=$(SHARED) scripts/check-accuracy.sh

# Mutation smoke (not part of test): scripts/mutations.txt, one at a time on a copy of the
# tree; fails if a mutation survives its tests.
mutate: deps
	@$(MAKE) --no-print-directory tests-build
	@BUILD=$(BUILD) SHARED=$(SHARED) scripts/mutate.sh

# The flake check (not part of test): make test RUNS times in a row beside busy loops.
RUNS ?= 20
test-loaded: deps
	@BUILD=$(BUILD) SHARED=$(SHARED) scripts/loaded-tests.sh $(RUNS)

bench: deps
	@$(MAKE) --no-print-directory tests-build
	@BUILD=$(BUILD) SHARED=$(SHARED) bench/run.sh

# Everything test-gpu and the GPU benchmarks need, packed for a GPU machine without our
# build dependencies (docs/gpu.md: "Running on a GPU machine").
# The objects are goals too: the script relinks from them, and as mere intermediates make
# would delete them (or not remake them) in a fresh build.
gpu-carry: deps
	@$(MAKE) --no-print-directory tests-build $(GPU_TESTS) $(GPU_TESTS:%=%.o) $(TOOLS:%=%.o)
	@BUILD=$(BUILD) SHARED=$(SHARED) CC="$(CC)" LDFLAGS="$(LDFLAGS)" LDLIBS="$(LDLIBS)" \
		scripts/gpu-carry.sh

# Fuzzing (fuzz/*.c, libFuzzer): the project's sources built again with clang, ASan and
# UBSan in $(FUZZ_BUILD) (no CUDA; -Wno-pass-failed: at -O1 under ASan clang cannot honour
# every `omp simd`), one harness per entry point. `make fuzz` runs each for
# FUZZ_SECONDS on its seeds (generated from $(SHARED), never committed) and on
# tests/fuzz-cases; FUZZERS picks some. Crashes land in $(FUZZ_BUILD)/crashes/.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZERS      ?= config onnx decode http
FUZZ_CC      ?= clang

.PRECIOUS: $(BUILD)/fuzz/%.o
$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz-build: deps
	@CFLAGS="-O1 -g -fsanitize=fuzzer-no-link -Wno-pass-failed" LDFLAGS="-fsanitize=fuzzer" \
		$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) NVCC= SANITIZE=1 \
		$(FUZZERS:%=$(FUZZ_BUILD)/fuzz/fuzz_%)

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) SHARED=$(SHARED) scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZERS)

# A looping multi-source pipeline with every sink type against restarted peers, sampled
# for growth (scripts/soak.sh).
MINUTES ?= 30
soak: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) SHARED=$(SHARED) scripts/soak.sh $(MINUTES)

# The container image localhost/vapd:$(VERSION), built without a registry: a Debian 12 root
# filesystem from the apt mirror (mmdebstrap; only the libraries $(BUILD)/vapd links, cached
# under $(BUILD)/image/) imported into podman, vapd layered on (scripts/image.sh, as root).
image: all
	@BUILD=$(BUILD) VERSION=$(VERSION) scripts/image.sh

# DESTDIR stages a package; PREFIX is where it runs (the units' ExecStart points there).
UNITDIR  ?= $(PREFIX)/lib/systemd/system
MANDIR   ?= $(PREFIX)/share/man
DATADIR  ?= $(PREFIX)/share/vapd

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(DATADIR)/configs $(DESTDIR)$(UNITDIR) \
	           $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(wildcard configs/*.yaml),install -m 644 $(wildcard configs/*.yaml) $(DESTDIR)$(DATADIR)/configs/)
	for u in systemd/*.service; do \
		sed 's|^ExecStart=/usr/local/bin/|ExecStart=$(PREFIX)/bin/|' $$u >$(DESTDIR)$(UNITDIR)/$${u##*/} && \
		chmod 644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 644 docs/vapd.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 docs/vapd.yaml.5 $(DESTDIR)$(MANDIR)/man5/

clean:
	rm -rf $(BUILD) build-*

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
