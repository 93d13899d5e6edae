# qlab top-level build. Everything lands in $(BUILD) (default build/);
# `make test` builds and runs the suite twice: plain, then under ASan+UBSan
# in build/asan. See docs/operations.md for every target.

MAKEFLAGS += --no-builtin-rules
.SUFFIXES:

BUILD    ?= build
SAN      ?= 0
CC       ?= cc
OPT      ?= -O2

DEB_PKGS := build-essential pkg-config python3 clang-format openssl libcriterion-dev libopenblas-dev libmpfr-dev \
            libgmp-dev libjansson-dev libsqlite3-dev libmicrohttpd-dev libgnutls28-dev nettle-dev libuv1-dev \
            libcurl4-openssl-dev zlib1g-dev dataset-fashion-mnist
# Real FPGA boards: XRT's host library (the FPGA backend's xrt_host.cpp).
DEB_PKGS += libxrt-dev uuid-dev g++
# The dashboard (web/) and its browser tests (tests/web/): Node >= 18 with npm
# (Debian bookworm's nodejs 18 and npm 9 do), and Debian's Chromium.
# NodeSource's nodejs bundles npm; ask Debian for npm only where the command
# is missing.
DEB_PKGS += chromium nodejs $(if $(shell command -v npm),,npm)
# The fuzz targets (make fuzz, and make test's smoke pass): libFuzzer from
# Debian's clang, with its OpenMP runtime for the core's kernels.
DEB_PKGS += clang libclang-rt-dev libomp-dev
# The deploy tests (tests/slurm, tests/deploy): a real single-node SLURM
# (slurmctld, slurmd, the client commands and munge, about 4 MB, started only
# by the tests: policy-rc.d or a missing slurm.conf keep the packaged
# services down) and systemd-analyze. Without their recommends, which would
# pull 30 more packages (HDF5, RRD, IPMI and ROCm plugins) the tests never load.
DEB_PKGS_NOREC := slurmctld slurmd slurm-client munge systemd
# The RTL's equality tests (Verilator) and synthesis (Yosys), hw/ and docs/cost.md.
DEB_PKGS += yosys verilator

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Werror
# fp-contract=off: an FMA contraction would round once where the emulated
# hardware rounds twice (or vice versa); every float op must be the one written.
CFLAGS_Q := -std=c11 $(OPT) -g $(WARN) -ffp-contract=off -fno-math-errno -fopenmp \
            -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Icore/include -MMD -MP
LDLIBS_Q := -ljansson -lz -lopenblas -lmpfr -lgmp -lm -fopenmp
CXX      ?= g++

SAN_FLAGS :=
ifeq ($(SAN),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS_Q += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDLIBS_Q += -fsanitize=address,undefined
endif

OBJ := $(BUILD)/obj
BIN := $(BUILD)/bin

# ---- CUDA -------------------------------------------------------------------
# The CUDA backend (core/src/backend/cuda/*.cu, docs/cuda.md) builds where
# nvcc is found: /usr/local/cuda/bin/nvcc, else the PATH's. NVCC=/path/nvcc
# picks another, NVCC= builds without it (cuda_stub.c then refuses the kind).
# nvcc compiles for every architecture in CUDA_ARCHS (plus PTX of the last, for
# newer GPUs) with -fmad=false: a contracted multiply-add would round once
# where the arithmetic rounds twice. Its objects go to $(CUDA_BUILD), one folder
# for the plain and the sanitizer builds: they are compiled without
# sanitizers either way (ASan does not instrument device code, and the host
# side only launches), so the ASan pass reuses them instead of running nvcc
# again.
comma      := ,
NVCC       ?= $(firstword $(wildcard /usr/local/cuda/bin/nvcc) $(shell command -v nvcc 2>/dev/null))
CUDA_ARCHS ?= 80 90
CUDA_BUILD ?= build/cuda
CUDA_SRC   := $(wildcard core/src/backend/cuda/*.cu)
CUDA_STUB  := core/src/backend/cuda/cuda_stub.c
ifneq ($(strip $(NVCC)),)
CUDA_HOME  := $(abspath $(dir $(NVCC))..)
CUDA_LIB   := $(CUDA_HOME)/lib64
CUDA_OBJ   := $(CUDA_SRC:%.cu=$(CUDA_BUILD)/%.o)
NVCCFLAGS  := -std=c++17 -O3 -g -lineinfo -fmad=false -ftz=false -prec-div=true -prec-sqrt=true \
              $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a)) \
              -gencode arch=compute_$(lastword $(CUDA_ARCHS)),code=compute_$(lastword $(CUDA_ARCHS)) \
              -Xcompiler -Wall,-Wextra,-Werror -Werror all-warnings \
              -Icore/include -Icore/src -MMD -MP -DQC_CUDA_LIB='"$(CUDA_LIB)"'
# The runtime statically (no libcudart.so needed where the binary runs).
# cuBLAS (acc=native) is opened when first used (cuda_util.cu), found by
# its soname or in $(CUDA_LIB); only the GPU benchmark links it.
LDLIBS_Q   += -L$(CUDA_LIB) -Wl,-rpath,$(CUDA_LIB) -lcudart_static -ldl -lrt -lpthread -lstdc++
BENCH_CUDA_LIBS := -lcublas
CUDA_STATE := CUDA backend built with $(NVCC) for sm_$(subst $() $(),$(comma)sm_,$(CUDA_ARCHS))
else
CUDA_OBJ   :=
CUDA_STATE := CUDA backend skipped: no nvcc (/usr/local/cuda/bin/nvcc or the PATH; NVCC=/path/to/nvcc)
endif
ifeq ($(MAKELEVEL),0)
$(info qlab: $(CUDA_STATE))
endif

# ---- libqcore ---------------------------------------------------------------
# One folder per layer (docs/design.md); scripts/check_layers.py keeps the
# dependencies pointing one way. Backends may nest (backend/cpu/).
CORE_SRC  := $(filter-out core/src/simd/kern_simd.c $(if $(CUDA_OBJ),$(CUDA_STUB)),\
               $(wildcard core/src/*/*.c core/src/*/*/*.c))
# Real FPGA boards through XRT where libxrt-dev is installed; its xrt.pc is
# broken on Debian, so the flags are spelled out. Elsewhere xrt_stub.c says
# there is no XRT (docs/fpga.md).
XRT_INC   := /usr/include/xrt
HAVE_XRT  := $(if $(wildcard $(XRT_INC)/xrt/xrt_kernel.h),1,0)
ifeq ($(HAVE_XRT),1)
CORE_SRC  := $(filter-out core/src/backend/fpga/xrt_stub.c,$(CORE_SRC))
CORE_CXX  := core/src/backend/fpga/xrt_host.cpp
LDLIBS_XRT := -lxrt_coreutil -luuid -lstdc++
else
$(info make: no libxrt-dev ($(XRT_INC)); the FPGA backend reports no real boards)
CORE_CXX  :=
LDLIBS_XRT :=
endif
CORE_OBJ  := $(CORE_SRC:%.c=$(OBJ)/%.o) $(CORE_CXX:%.cpp=$(OBJ)/%.o)
LDLIBS_Q  += $(LDLIBS_XRT)
# The SIMD kernels are one source compiled once per instruction set; the
# dispatcher picks one at run time (core/src/simd/cpu_features.c).
SIMD_SRC  := core/src/simd/kern_simd.c
SIMD_ISAS := generic avx2 avx512
SIMD_OBJ  := $(SIMD_ISAS:%=$(OBJ)/core/src/simd/kern_%.o)
ISA_FLAGS_generic :=
ISA_FLAGS_avx2    := -mavx2 -mbmi2
ISA_FLAGS_avx512  := -mavx512f -mavx512bw -mavx512dq -mavx512vl -mbmi2
LIBQCORE  := $(BUILD)/lib/libqcore.a

# ---- programs ---------------------------------------------------------------
# libqhw: MAC configuration -> RTL parameters, Yosys runs, the cost cache and
# calibration (docs/cost.md); not part of libqcore, which never spawns processes.
HW_SRC    := $(wildcard hw/cost/*.c)
HW_OBJ    := $(HW_SRC:%.c=$(OBJ)/%.o)
LIBQHW    := $(BUILD)/lib/libqhw.a
# SHA-256 of the synthesis cache keys: nettle's, as the server's tokens.
HW_LIBS   := -lnettle
RTL       := $(sort $(wildcard hw/rtl/*.sv))
# Board tops (hw/rtl/top/) are simulated but are not cost units: they stay
# out of the cost flows' RTL hash, so a new top keeps every cached figure.
RTL_TOP   := $(sort $(wildcard hw/rtl/top/*.sv))
# Verilator benches of the RTL (hw/sim/*.list -> qlab-tbgen -> verilator).
# They live in build/vl for every BUILD: the verilated C++ is compiled once,
# without sanitizers, and linked into both the plain and the sanitizer test
# binaries; a bench is re-verilated only when its RTL or list changes.
VL        := build/vl
VL_BENCHES := tb_mul tb_mac tb_array tb_systolic
VERILATOR := $(shell command -v verilator 2>/dev/null)
VL_MAKE   := OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O1
VL_LIBS   := $(foreach t,$(VL_BENCHES),$(VL)/$(t)/vl_shim.o $(VL)/$(t)/V$(t)__ALL.a) \
             $(VL)/tb_mul/verilated.o $(VL)/tb_mul/verilated_threads.o
HWT_SRC   := $(filter-out tests/hw/test_rtl.c,$(wildcard tests/hw/*.c))
HWT_OBJ   := $(HWT_SRC:%.c=$(OBJ)/%.o)
RTLT_OBJ  := $(OBJ)/tests/hw/test_rtl.o

CLI_SRC   := $(wildcard cli/*.c)
CLI_OBJ   := $(CLI_SRC:%.c=$(OBJ)/%.o)
TEST_SRC  := $(wildcard tests/unit/*.c)
TEST_OBJ  := $(TEST_SRC:%.c=$(OBJ)/%.o)
# The GPU benchmark's cuBLAS baseline is CUDA code (bench_cuda_blas.cu);
# bench_cuda_stub.c stands in where the CUDA backend is not built.
BENCH_SRC := $(filter-out $(if $(CUDA_OBJ),bench/bench_cuda_stub.c),$(wildcard bench/*.c))
BENCH_OBJ := $(BENCH_SRC:%.c=$(OBJ)/%.o) $(if $(CUDA_OBJ),$(CUDA_BUILD)/bench/bench_cuda_blas.o)
# The server is a library (everything but main.c) so that its unit tests link
# the same code the binary runs.
SRV_SRC   := $(filter-out server/main.c,$(wildcard server/*.c))
SRV_OBJ   := $(SRV_SRC:%.c=$(OBJ)/%.o) $(OBJ)/gen/migrations.o
MIGRATIONS := $(sort $(wildcard schema/migrations/*.sql))
LIBQSRV   := $(BUILD)/lib/libqserver.a
SRV_LIBS  := -lmicrohttpd -lgnutls -lsqlite3 -lnettle -lpthread
SRVT_SRC  := $(wildcard tests/server/*.c)
SRVT_OBJ  := $(SRVT_SRC:%.c=$(OBJ)/%.o)
# The worker is a library too (everything but main.c): its unit tests
# (tests/worker_unit/) link the same code as qlab-worker.
WRK_SRC   := $(filter-out worker/main.c,$(wildcard worker/*.c))
WRK_OBJ   := $(WRK_SRC:%.c=$(OBJ)/%.o)
LIBQWRK   := $(BUILD)/lib/libqworker.a
WRK_LIBS  := -luv -lcurl -lpthread
WRKT_SRC  := $(wildcard tests/worker_unit/*.c)
WRKT_OBJ  := $(WRKT_SRC:%.c=$(OBJ)/%.o)

.PHONY: all deps test test-unit test-hw test-cli test-server test-worker test-worker-unit test-asan tour \
        bench bench-deps demo clean \
        format check-format check-layers help fuzz fuzz-smoke

all: $(BIN)/qlab $(if $(wildcard server/main.c),$(BIN)/qlab-server) $(if $(wildcard worker/main.c),$(BIN)/qlab-worker)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_Q) -c $< -o $@

# Inside the core, internal headers of another layer are named by their
# folder: #include "num/mac_impl.h".
$(OBJ)/core/%.o: CFLAGS_Q += -Icore/src

# The server and its tests include their headers as "server/x.h".
$(OBJ)/server/%.o $(OBJ)/tests/server/%.o $(OBJ)/bench/bench_server.o: CFLAGS_Q += -I.
# The tests of the training step's operations run the GPU's per-index
# entry (backend/ops_hd.h) on the CPU: they include the core's internals.
$(OBJ)/tests/unit/test_ops.o: CFLAGS_Q += -Icore/src
# The worker's unit tests include its headers as "worker/x.h".
$(OBJ)/tests/worker_unit/%.o: CFLAGS_Q += -I.

# The board presets travel inside the library (board.c includes them).
$(BUILD)/gen/boards_conf.inc: hw/boards/boards.conf scripts/embed_text.py
	@mkdir -p $(dir $@)
	python3 scripts/embed_text.py $@ $<
$(OBJ)/core/src/backend/fpga/board.o: $(BUILD)/gen/boards_conf.inc
$(OBJ)/core/src/backend/fpga/board.o: CFLAGS_Q += -I$(BUILD)/gen

# The XRT host is C++ (XRT's native API); everything else stays C11.
CXXFLAGS_Q := -std=c++17 $(OPT) -g -Wall -Wextra -Werror -Icore/include -Icore/src \
              -I$(XRT_INC) -MMD -MP $(SAN_FLAGS)
$(OBJ)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_Q) -c $< -o $@

$(OBJ)/core/src/simd/kern_%.o: $(SIMD_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_Q) $(ISA_FLAGS_$*) -DQC_SIMD_ISA=$* -c $< -o $@

$(CUDA_BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(LIBQCORE): $(CORE_OBJ) $(SIMD_OBJ) $(CUDA_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/qlab: $(CLI_OBJ) $(LIBQHW) $(LIBQCORE)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(CLI_OBJ) $(LIBQHW) $(LIBQCORE) -lcurl $(HW_LIBS) $(LDLIBS_Q)

$(BUILD)/gen/migrations.c: $(MIGRATIONS) scripts/embed_sql.py
	@mkdir -p $(dir $@)
	python3 scripts/embed_sql.py $@ $(MIGRATIONS)

$(OBJ)/gen/migrations.o: $(BUILD)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_Q) -I. -c $< -o $@

$(LIBQSRV): $(SRV_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/qlab-server: $(OBJ)/server/main.o $(LIBQSRV) $(LIBQHW) $(LIBQCORE)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(SRV_LIBS) $(LDLIBS_Q)

$(BIN)/qlab-server-tests: $(SRVT_OBJ) $(LIBQSRV) $(LIBQHW) $(LIBQCORE)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -lcriterion -lcurl $(SRV_LIBS) $(LDLIBS_Q)

$(LIBQWRK): $(WRK_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/qlab-worker: $(OBJ)/worker/main.o $(LIBQWRK) $(LIBQCORE)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(WRK_LIBS) $(LDLIBS_Q)

# The tests watch the library's fsync, fdatasync and rename calls through
# wrappers that record each call and make the real one (tests/worker_unit/wut.c).
$(BIN)/qlab-worker-tests: $(WRKT_OBJ) $(LIBQWRK) $(LIBQCORE)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -Wl,--wrap=fsync,--wrap=fdatasync,--wrap=rename -lcriterion $(WRK_LIBS) \
	  $(LDLIBS_Q)

$(BIN)/qlab-tests: $(TEST_OBJ) $(LIBQCORE)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(TEST_OBJ) $(LIBQCORE) -lcriterion $(LDLIBS_Q)

# The server benchmarks drive a real qlab-server over libcurl and time a raw
# SQLite baseline through the server library's schema (bench/bench_server.c).
$(BIN)/qlab-bench: $(BENCH_OBJ) $(LIBQSRV) $(LIBQHW) $(LIBQCORE)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(BENCH_OBJ) $(LIBQSRV) $(LIBQHW) $(LIBQCORE) -lcurl $(SRV_LIBS) $(LDLIBS_Q) \
	  $(BENCH_CUDA_LIBS)

# ---- hardware cost (hw/) ------------------------------------------------------
$(OBJ)/hw/%.o $(OBJ)/tests/hw/%.o $(OBJ)/cli/cmd_cost.o: CFLAGS_Q += -I.
$(OBJ)/tests/hw/%.o: CFLAGS_Q += -I$(VL)

$(LIBQHW): $(HW_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/qlab-tbgen: $(OBJ)/hw/sim/tbgen.o $(LIBQHW) $(LIBQCORE)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(HW_LIBS) $(LDLIBS_Q)

# qlab-tbgen rewrites a file only when its content changes.
$(VL)/%.sv $(VL)/%_map.h: hw/sim/%.list $(BIN)/qlab-tbgen
	@mkdir -p $(VL)
	$(BIN)/qlab-tbgen $< $(VL)/$*

$(VL)/%/stamp: $(VL)/%.sv $(RTL) $(RTL_TOP) hw/sim/vl_shim.cpp hw/sim/tb.h
	rm -rf $(VL)/$*
	verilator --cc --Mdir $(VL)/$* --top-module $* -Wno-WIDTH -Wno-fatal \
	  -CFLAGS '-DTB=$* -I$(abspath hw/sim)' $(RTL) $(RTL_TOP) $(VL)/$*.sv $(abspath hw/sim/vl_shim.cpp)
	$(MAKE) -s -C $(VL)/$* -f V$*.mk V$*__ALL.a vl_shim.o verilated.o verilated_threads.o $(VL_MAKE)
	touch $@

$(foreach t,$(VL_BENCHES),$(VL)/$(t)/vl_shim.o $(VL)/$(t)/V$(t)__ALL.a): $(VL)/%/stamp
	@true
$(VL)/tb_mul/verilated.o $(VL)/tb_mul/verilated_threads.o: $(VL)/tb_mul/stamp
	@true
$(RTLT_OBJ): $(VL_BENCHES:%=$(VL)/%_map.h)

# The RTL against the core: Verilator models and libqcore.
$(BIN)/qlab-rtl-tests: $(RTLT_OBJ) $(VL_BENCHES:%=$(VL)/%/stamp) $(LIBQCORE)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(RTLT_OBJ) $(VL_LIBS) $(LIBQCORE) -lcriterion $(LDLIBS_Q) -lstdc++ -lpthread

# make bench's hardware group (bench/hw/): Yosys seconds, cached lookups,
# Verilator MAC steps per second against the core's scalar reference.
$(OBJ)/bench/hw/%.o: CFLAGS_Q += -I. -Ibench -I$(VL)
$(OBJ)/bench/hw/bench_hw.o: $(VL)/tb_bench_map.h
$(BIN)/qlab-hw-bench: $(OBJ)/bench/hw/bench_hw.o $(OBJ)/bench/bench_util.o $(VL)/tb_bench/stamp \
                      $(LIBQHW) $(LIBQCORE)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(OBJ)/bench/hw/bench_hw.o $(OBJ)/bench/bench_util.o $(VL)/tb_bench/vl_shim.o \
	  $(VL)/tb_bench/Vtb_bench__ALL.a $(VL)/tb_bench/verilated.o $(VL)/tb_bench/verilated_threads.o \
	  $(LIBQHW) $(LIBQCORE) $(HW_LIBS) $(LDLIBS_Q) -lstdc++ -lpthread

# The cost driver: libqhw and real Yosys runs (skipped without yosys).
$(BIN)/qlab-hw-tests: $(HWT_OBJ) $(LIBQHW) $(LIBQCORE)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(HWT_OBJ) $(LIBQHW) $(LIBQCORE) -lcriterion $(HW_LIBS) $(LDLIBS_Q)

# ---- dependencies -----------------------------------------------------------
deps:
	@missing=""; norec=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	for p in $(DEB_PKGS_NOREC); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || norec="$$norec $$p"; \
	done; \
	if [ -z "$$missing$$norec" ]; then echo "deps: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing$$missing$$norec"; \
	  apt-get update -qq && \
	  { [ -z "$$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; } && \
	  { [ -z "$$norec" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$norec; }; \
	else echo "deps: missing packages; run:"; \
	  [ -z "$$missing" ] || echo "  sudo apt-get install -y$$missing"; \
	  [ -z "$$norec" ] || echo "  sudo apt-get install -y --no-install-recommends$$norec"; exit 1; fi
	@$(MAKE) --no-print-directory $(WEB_DEPS)

# npm packages from the committed lock files; web/'s postinstall copies uPlot
# into web/vendor/ (the server serves only web/, and there is no CDN).
WEB_DEPS := web/vendor/versions.json tests/web/node_modules/.package-lock.json \
            tests/openapi/node_modules/.package-lock.json \
            tests/deploy/node_modules/.package-lock.json
web/vendor/versions.json: web/package.json web/package-lock.json web/scripts/vendor.mjs
	cd web && npm ci --prefer-offline --no-audit --no-fund
tests/web/node_modules/.package-lock.json: tests/web/package.json tests/web/package-lock.json
	cd tests/web && npm ci --prefer-offline --no-audit --no-fund
tests/openapi/node_modules/.package-lock.json: tests/openapi/package.json tests/openapi/package-lock.json
	cd tests/openapi && npm ci --prefer-offline --no-audit --no-fund
# kubernetes-models: the Kubernetes API schemas as validators, for test-deploy.
tests/deploy/node_modules/.package-lock.json: tests/deploy/package.json tests/deploy/package-lock.json
	cd tests/deploy && npm ci --prefer-offline --no-audit --no-fund

# ---- install ----------------------------------------------------------------
# Laid out as a Debian package lays it out (docs/deploy-systemd.md):
#   $(PREFIX)/bin                  qlab, qlab-server, qlab-worker
#   $(PREFIX)/share/qlab/web       the dashboard (qlab-server finds it from its own path)
#   $(PREFIX)/share/qlab/schema    experiment and sweep JSON Schemas, openapi.yaml
#   $(PREFIX)/share/qlab/hw        the RTL, Yosys flows, cost table and calibration (docs/cost.md)
#   $(PREFIX)/share/qlab/slurm     the sbatch recipe; .../k8s the Kubernetes manifests
#   $(PREFIX)/share/doc/qlab       README, docs, examples (specs, systemd env files)
#   $(UNITDIR)                     qlab-server.service, qlab-worker@.service
#   $(SYSUSERSDIR)/qlab.conf       the dedicated user, for systemd-sysusers
# DESTDIR stages the whole tree elsewhere (packaging, tests/deploy).
PREFIX      ?= /usr/local
DESTDIR     ?=
SYSCONFDIR  ?= /etc
BINDIR      := $(PREFIX)/bin
DATADIR     := $(PREFIX)/share/qlab
DOCDIR      := $(PREFIX)/share/doc/qlab
# Debian's own packages keep units in /lib/systemd/system; a local prefix
# uses its own lib/ (systemd looks in /usr/local/lib/systemd/system too).
UNITDIR     ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
SCHEMA_FILES := schema/experiment.schema.json schema/sweep.schema.json schema/openapi.yaml
DOC_FILES   := README.md LICENSE $(wildcard docs/*.md)
UNITS       := deploy/systemd/qlab-server.service deploy/systemd/qlab-worker@.service
K8S_FILES   := $(wildcard deploy/k8s/*.yaml)
SUBST       := sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' \
                   -e 's|@DOCDIR@|$(DOCDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

.PHONY: install uninstall
install: $(BIN)/qlab $(BIN)/qlab-server $(BIN)/qlab-worker web/vendor/versions.json
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/web $(DESTDIR)$(DATADIR)/schema \
	  $(DESTDIR)$(DATADIR)/slurm $(DESTDIR)$(DATADIR)/k8s $(DESTDIR)$(DOCDIR)/img $(DESTDIR)$(DOCDIR)/examples/systemd \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BIN)/qlab $(BIN)/qlab-server $(BIN)/qlab-worker $(DESTDIR)$(BINDIR)
	# Everything the dashboard serves: web/ without its npm build files.
	cd web && find . -type f ! -path './node_modules/*' ! -path './scripts/*' ! -name 'package*.json' \
	  ! -name '.*' -exec install -D -m 0644 {} $(abspath $(DESTDIR)$(DATADIR))/web/{} \;
	install -m 0644 $(SCHEMA_FILES) $(DESTDIR)$(DATADIR)/schema
	install -d $(DESTDIR)$(DATADIR)/hw/rtl/top $(DESTDIR)$(DATADIR)/hw/syn
	install -m 0644 $(RTL) $(DESTDIR)$(DATADIR)/hw/rtl
	install -m 0644 $(RTL_TOP) $(DESTDIR)$(DATADIR)/hw/rtl/top
	install -m 0644 hw/syn/*.ys $(DESTDIR)$(DATADIR)/hw/syn
	install -m 0644 hw/cost-table.json hw/calibration.json $(DESTDIR)$(DATADIR)/hw
	install -m 0755 deploy/slurm/qlab-worker.sbatch $(DESTDIR)$(DATADIR)/slurm
	$(if $(K8S_FILES),install -m 0644 $(K8S_FILES) $(DESTDIR)$(DATADIR)/k8s)
	install -m 0644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)
	install -m 0644 docs/img/*.png $(DESTDIR)$(DOCDIR)/img
	cd examples && find . -name '*.json' \
	  -exec install -D -m 0644 {} $(abspath $(DESTDIR)$(DOCDIR))/examples/{} \;
	install -m 0644 deploy/systemd/server.env.example \
	  $(DESTDIR)$(DOCDIR)/examples/systemd/server.env
	install -m 0644 deploy/systemd/worker.env.example \
	  $(DESTDIR)$(DOCDIR)/examples/systemd/worker.env
	for u in $(UNITS); do \
	  $(SUBST) $$u >$(DESTDIR)$(UNITDIR)/$${u##*/} && chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}; done
	install -m 0644 deploy/systemd/qlab.sysusers $(DESTDIR)$(SYSUSERSDIR)/qlab.conf
	@echo "installed under $(DESTDIR)$(PREFIX); next: docs/deploy-systemd.md (systemd-sysusers, systemctl daemon-reload)"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/qlab $(DESTDIR)$(BINDIR)/qlab-server $(DESTDIR)$(BINDIR)/qlab-worker \
	  $(DESTDIR)$(UNITDIR)/qlab-server.service $(DESTDIR)$(UNITDIR)/qlab-worker@.service \
	  $(DESTDIR)$(SYSUSERSDIR)/qlab.conf
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)

# A container root filesystem built with debootstrap, for where no base image
# can be pulled: $(BUILD)/image/qlab-rootfs.tar.gz, ready for `podman import`
# (docs/deploy-container.md). Needs root and Debian's mirror; a few minutes,
# so not part of make test. deploy/container/Containerfile is the same image
# for machines with a container engine.
.PHONY: image
image: $(BIN)/qlab $(BIN)/qlab-server $(BIN)/qlab-worker web/vendor/versions.json
	BUILD=$(BUILD) deploy/container/debootstrap.sh $(BUILD)/image

# ---- tests ------------------------------------------------------------------
# Criterion runs tests in parallel workers; two jobs fit the 2-core CI box.
CRITERION_ARGS ?= --jobs 2
TEST_SUITES := test-unit test-hw test-cli $(if $(SRVT_SRC),test-server) \
               $(if $(WRKT_SRC),test-worker-unit) $(if $(wildcard tests/worker/run.sh),test-worker)

# Every binary the suites run, built first on all cores (JOBS); the suites
# then run one after another, each using the cores its own way.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
TEST_BINS = $(BIN)/qlab $(BIN)/qlab-server $(BIN)/qlab-worker $(BIN)/qlab-tests \
            $(BIN)/qlab-hw-tests $(if $(VERILATOR),$(BIN)/qlab-rtl-tests) \
            $(if $(SRVT_SRC),$(BIN)/qlab-server-tests) $(if $(WRKT_SRC),$(BIN)/qlab-worker-tests)
.PHONY: test-bins
test-bins: $(TEST_BINS)

test: deps
	$(MAKE) -j$(JOBS) test-bins $(FUZZ_BINS)
	$(MAKE) check-layers check-openapi $(TEST_SUITES) test-web test-python fuzz-smoke test-deploy test-slurm
	$(MAKE) -j$(JOBS) BUILD=build/asan SAN=1 OPT=-O1 test-bins
	$(MAKE) BUILD=build/asan SAN=1 OPT=-O1 $(TEST_SUITES)

test-unit: $(BIN)/qlab-tests
	$(BIN)/qlab-tests $(CRITERION_ARGS)

# The cost driver (Yosys) and the RTL against the core (Verilator models).
.PHONY: test-hw
test-hw: $(BIN)/qlab-hw-tests $(if $(VERILATOR),$(BIN)/qlab-rtl-tests)
	$(BIN)/qlab-hw-tests $(CRITERION_ARGS)
ifneq ($(VERILATOR),)
	$(BIN)/qlab-rtl-tests $(CRITERION_ARGS)
else
	@echo "test-hw: RTL tests SKIPPED: verilator is not installed (make deps installs it)"
endif

test-cli: $(BIN)/qlab $(BIN)/qlab-server
	QLAB=$(BIN)/qlab tests/cli/run.sh
	QLAB=$(BIN)/qlab QLAB_SERVER_BIN=$(BIN)/qlab-server QLAB_COST_JOBS=0 tests/cli/remote.sh

# Unit tests of the server's parts plus integration tests that start the real
# qlab-server binary on port 0 with a temporary database. The servers of the
# test suites synthesize no costs in the background (QLAB_COST_JOBS=0):
# tests/server/test_cost.c turns it on where it tests it.
test-server: $(BIN)/qlab-server-tests $(BIN)/qlab-server
	QLAB_SERVER_BIN=$(BIN)/qlab-server QLAB_COST_JOBS=0 $(BIN)/qlab-server-tests $(CRITERION_ARGS)

# Unit tests of the worker's parts, no server: the journal, metric naming,
# back-off, configuration (tests/worker_unit/).
test-worker-unit: $(BIN)/qlab-worker-tests
	$(BIN)/qlab-worker-tests $(CRITERION_ARGS)

# Real qlab-server and qlab-worker processes on loopback (tests/worker/).
test-worker: $(BIN)/qlab-server $(BIN)/qlab-worker $(BIN)/qlab
	BIN=$(BIN) QLAB_COST_JOBS=0 tests/worker/run.sh

# The Python client (clients/python), pip-installed offline into a temporary
# directory, against real qlab-server and qlab-worker processes; and
# scripts/repro.py's table from runs recorded in the service. Plain pass only:
# the C code it drives is covered under the sanitizers by the other suites.
.PHONY: test-python
# PYTHON picks the interpreter (one with pandas tests the DataFrame path too:
# make test-python PYTHON=/usr/bin/python3 with Debian's python3-pandas).
PYTHON ?= python3
test-python: $(BIN)/qlab-server $(BIN)/qlab-worker $(BIN)/qlab
	BIN=$(BIN) $(PYTHON) tests/python/test_client.py

# The dashboard in Debian's headless Chromium (playwright-core) against a
# real qlab-server; screenshots go to build/web-artifacts/. Plain pass only:
# the browser code has nothing for sanitizers to check. One `node --test`
# per file, in turn (Node 18, Debian bookworm's, has no --test-concurrency);
# NODE=path picks another Node.js binary.
.PHONY: test-web
NODE ?= node
test-web: $(BIN)/qlab-server $(WEB_DEPS)
	@major=$$($(NODE) -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0); \
	if [ "$$major" -lt 18 ]; then \
	  echo "test-web: SKIPPED: the browser tests need Node.js >= 18, found '$$($(NODE) --version 2>/dev/null)'"; \
	else \
	  echo "test-web: Node.js $$($(NODE) --version), $$($${CHROMIUM:-/usr/bin/chromium} --version 2>/dev/null)"; \
	  cd tests/web && rc=0; for f in *.test.mjs; do \
	    QLAB_SERVER_BIN=$(abspath $(BIN)/qlab-server) QLAB_COST_JOBS=0 $(NODE) --test $$f || rc=1; \
	  done; exit $$rc; \
	fi

# ---- fuzzing -------------------------------------------------------------------
# libFuzzer targets (tests/fuzz/fuzz_*.c) under ASan and UBSan, built with
# clang into build/fuzz/ from the same sources. `make fuzz` runs each for
# FUZZ_SECONDS, new inputs going to build/fuzz/corpus/TARGET and findings to
# build/fuzz/artifacts/; `make fuzz-smoke` (part of make test) replays the
# committed seeds of tests/fuzz/corpus/TARGET and mutates them for
# FUZZ_SMOKE_SECONDS each. Reproduce a finding: build/fuzz/bin/fuzz_TARGET FILE.
FUZZ_DIR      := build/fuzz
FUZZ_TARGETS  := format spec sweep http checkpoint idx cifar
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 8
FUZZ_CC       := clang
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   := -std=c11 -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -ffp-contract=off \
                 -fno-math-errno -fopenmp -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
                 -DSRV_SSE_KEEPALIVE_S=0.05 -Icore/include -MMD -MP -Wall -Wno-unknown-pragmas
FUZZ_OBJ      := $(FUZZ_DIR)/obj
# The SIMD kernels come from the plain build, uninstrumented: no input of a
# fuzz target reaches them that the exact-reference tests (plain and ASan)
# do not cover, and instrumenting them would triple the fuzz build's time.
# The fuzz build has no CUDA backend (cuda_stub.c stands in for it) and no
# XRT host (C++; xrt_stub.c stands in: no target reaches a board).
FUZZ_CORE_SRC := $(sort $(CORE_SRC) $(CUDA_STUB) core/src/backend/fpga/xrt_stub.c)
FUZZ_CORE_OBJ := $(FUZZ_CORE_SRC:%.c=$(FUZZ_OBJ)/%.o) $(SIMD_OBJ)
FUZZ_SRV_OBJ  := $(SRV_SRC:%.c=$(FUZZ_OBJ)/%.o) $(FUZZ_OBJ)/gen/migrations.o
FUZZ_HW_OBJ   := $(HW_SRC:%.c=$(FUZZ_OBJ)/%.o)
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/bin/fuzz_%)

$(FUZZ_OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Icore/src -I. -c $< -o $@

$(FUZZ_OBJ)/core/src/backend/fpga/board.o: $(BUILD)/gen/boards_conf.inc
$(FUZZ_OBJ)/core/src/backend/fpga/board.o: FUZZ_CFLAGS += -I$(BUILD)/gen

$(FUZZ_OBJ)/gen/migrations.o: $(BUILD)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -I. -c $< -o $@

$(FUZZ_DIR)/lib/libqcore.a: $(FUZZ_CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/lib/libqserver.a: $(FUZZ_SRV_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/lib/libqhw.a: $(FUZZ_HW_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/bin/fuzz_%: $(FUZZ_OBJ)/tests/fuzz/fuzz_%.o $(FUZZ_DIR)/lib/libqserver.a $(FUZZ_DIR)/lib/libqhw.a \
                        $(FUZZ_DIR)/lib/libqcore.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -fopenmp -o $@ $^ $(SRV_LIBS) -ljansson -lz \
	  -lopenblas -lmpfr -lgmp -lm

fuzz: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/artifacts; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_DIR)/bin/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=4096 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- \
	    $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t 2>$(FUZZ_DIR)/$$t.log \
	    || { tail -40 $(FUZZ_DIR)/$$t.log; exit 1; }; \
	  grep -E '^stat::(number_of_executed_units|new_units_added)' $(FUZZ_DIR)/$$t.log; \
	done

fuzz-smoke: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/smoke/$$t $(FUZZ_DIR)/artifacts; \
	  $(FUZZ_DIR)/bin/fuzz_$$t -max_total_time=$(FUZZ_SMOKE_SECONDS) -timeout=20 \
	    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- \
	    $(FUZZ_DIR)/smoke/$$t tests/fuzz/corpus/$$t 2>$(FUZZ_DIR)/$$t-smoke.log \
	    || { echo "fuzz-smoke: $$t FAILED"; tail -40 $(FUZZ_DIR)/$$t-smoke.log; exit 1; }; \
	  echo "fuzz-smoke: $$t ok ($$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/$$t-smoke.log) inputs)"; \
	done
# make install into a temporary DESTDIR and the installed server serving its
# web files, systemd-analyze verify and security on the units, the sbatch
# script's checks (tests/deploy/test_install.py), then the Kubernetes
# manifests against the API schemas, offline (tests/deploy/k8s.test.mjs).
# Plain pass only: it tests files and layouts, not code under sanitizers.
.PHONY: test-deploy test-slurm
test-deploy: $(BIN)/qlab $(BIN)/qlab-server $(BIN)/qlab-worker web/vendor/versions.json \
             tests/deploy/node_modules/.package-lock.json
	BIN=$(BIN) python3 tests/deploy/test_install.py
	cd tests/deploy && $(NODE) --test k8s.test.mjs

# Workers under a real single-node SLURM (munge, slurmctld, slurmd) started
# in a temporary directory: tests/slurm/test_slurm.py. Plain pass only (about
# two minutes, most of it waiting for SLURM's time limits).
test-slurm: $(BIN)/qlab-server $(BIN)/qlab-worker $(BIN)/qlab
	BIN=$(BIN) tests/slurm/run.sh

# PyTorch is the training benchmarks' baseline only (bench/torch_train.py):
# installed here, never by deps or make test.
BENCH_PKGS := python3-torch
bench-deps:
	@missing=""; for p in $(BENCH_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "bench-deps: all present"; \
	elif [ "$$(id -u)" = 0 ]; then echo "bench-deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "bench-deps: missing; run: sudo apt-get install -y$$missing"; exit 1; fi

bench: deps bench-deps $(BIN)/qlab-bench $(BIN)/qlab-server $(BIN)/qlab-worker $(BIN)/qlab \
       $(if $(VERILATOR),$(BIN)/qlab-hw-bench)
	QLAB_SERVER_BIN=$(BIN)/qlab-server $(BIN)/qlab-bench
	BIN=$(BIN) tests/worker/bench.py
ifneq ($(VERILATOR),)
	$(BIN)/qlab-hw-bench
else
	@echo '{"bench":"hw","skipped":"verilator is not installed (make deps installs it)"}'
endif

# The main job: qlab-server, two workers and a demo sweep on loopback, with
# the dashboard (scripts/demo.sh; Ctrl-C stops everything).
demo: deps all
	BIN=$(BIN) scripts/demo.sh

# The numerics core alone, through the qlab binary (no server).
tour: $(BIN)/qlab
	QLAB=$(BIN)/qlab scripts/tour.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# schema/openapi.yaml through Redocly's linter (tests/openapi/lint.mjs): the
# document against the OpenAPI 3.0 schema plus the `recommended` rules.
.PHONY: check-openapi
check-openapi: tests/openapi/node_modules/.package-lock.json
	node tests/openapi/lint.mjs schema/openapi.yaml

# The formatting of every tracked C file, checked without changing it (CI).
check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

# The layer rules of docs/design.md: the checker's own tests, then the tree,
# its includes and the calls between the objects of this build.
check-layers: $(CORE_OBJ) $(CUDA_OBJ) $(SRV_OBJ) $(WRK_OBJ) $(HW_OBJ)
	python3 tests/layers/test_check_layers.py
	python3 scripts/check_layers.py --obj-root $(OBJ) --obj-root $(CUDA_BUILD) $(CORE_OBJ) \
	  $(CUDA_OBJ) $(SRV_OBJ) $(WRK_OBJ) $(HW_OBJ)

help:
	@echo 'qlab make targets (docs/operations.md has the details):'
	@echo '  demo          install what is missing, build, run a server, two workers and a demo sweep'
	@echo '  test          install what is missing, build, run every suite (plain, then ASan+UBSan)'
	@echo '  deps          install the missing Debian and npm packages (apt-get when root)'
	@echo '  all           build qlab, qlab-server and qlab-worker into $(BUILD)/bin'
	@echo '  bench         the benchmarks, as ratios against baselines measured in the same run'
	@echo '  bench-deps    python3-torch for the PyTorch baseline of make bench (not part of deps)'
	@echo '  tour          the numerics core through the qlab CLI, no server'
	@echo '  test-unit test-hw test-cli test-server test-worker-unit test-worker test-web'
	@echo '  test-python'
	@echo '  test-deploy test-slurm'
	@echo '                one suite each (SAN=1 BUILD=build/asan for the sanitizer build)'
	@echo '  install       install under PREFIX (default /usr/local; DESTDIR stages it)'
	@echo '  image         a container root filesystem from debootstrap (docs/deploy-container.md)'
	@echo '  check-layers  the layer and include rules, and the checker'"'"'s own tests'
	@echo '  check-openapi lint schema/openapi.yaml (Redocly, offline after make deps)'
	@echo '  check-format  clang-format in dry-run mode over every tracked C file'
	@echo '  format        reformat every tracked C file in place'
	@echo '  clean         remove $(BUILD)'

clean:
	rm -rf build

-include $(wildcard $(CUDA_OBJ:.o=.d) $(CUDA_BUILD)/bench/bench_cuda_blas.d $(CORE_OBJ:.o=.d) $(SIMD_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) \
                     $(SRV_OBJ:.o=.d) $(OBJ)/server/main.d $(SRVT_OBJ:.o=.d) $(WRK_OBJ:.o=.d) \
                     $(OBJ)/worker/main.d $(WRKT_OBJ:.o=.d) \
                     $(FUZZ_CORE_OBJ:.o=.d) $(FUZZ_SRV_OBJ:.o=.d) $(FUZZ_HW_OBJ:.o=.d) \
                     $(FUZZ_TARGETS:%=$(FUZZ_OBJ)/tests/fuzz/fuzz_%.d) \
                     $(HW_OBJ:.o=.d) $(HWT_OBJ:.o=.d) $(RTLT_OBJ:.o=.d) $(OBJ)/hw/sim/tbgen.d \
                     $(OBJ)/bench/hw/bench_hw.d)
