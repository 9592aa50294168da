# VexFS top-level build.
#   make            build the module, mkfs.vexfs, fsck.vexfs, vexfsctl, vexfsd,
#                   the BPF programs and the native tests; everything but
#                   the module goes to build/ (programs in build/bin/)
#   make test       unit tests natively, then the guest tests under QEMU
#   make demo       boot the guest and show a filesystem surviving a remount
#   make vm-shell   an interactive guest for debugging
#   make bench      file-operation benchmark, vexfs vs ext4, in the guest
#   make vecbench   vector insert and search benchmark, ioctl vs plain files
#                   and userspace, in the guest
#   make membench   kernel memory a collection pins per vector, in the guest
#   make scalebench batch insert rate as one collection grows to 1,000,000
#   make bigbench   a collection twice the guest's memory: import, index, recall
#   make recall     HNSW recall through the kernel (indexes built by vexfsd)
#   make hnsw-peers native HNSW: lib/ vs hnswlib, FAISS and USearch, and the
#                   recall-vs-QPS plot docs/hnsw-recall-qps.png
#   make chroma-bench  Chroma (npm chromadb) on the 10k x 1536 cosine data
#   make hnswioctl  HNSW search through the kernel vs the same code in
#                   userspace, in the guest
#   make reliability the long fuzzing and soak runs (docs/reliability.md)
#   make test-debug every guest suite on a KASAN, lockdep and KFENCE kernel
#                   built from Debian's 6.12 source (SUITES="posix trust"
#                   for some); make debug-kernel, make debug-kmod build them
#   make install    install tools, daemons, BPF filters, systemd unit, man
#                   pages, bash completion and the Python package under
#                   $(DESTDIR)$(PREFIX) (default /usr/local); make uninstall
#   make dkms-install  register the module with DKMS and build it for the
#                   running kernel; make dkms-uninstall
#   make dkms-test  build the module through DKMS for $(KVER) in a scratch
#                   tree and check vexfs.ko comes out with BTF (root, slow)

KVER ?= $(shell ls /boot/vmlinuz-* 2>/dev/null | sed 's|.*/vmlinuz-||' | sort -V | tail -1)
KDIR ?= /usr/src/linux-headers-$(KVER)
# What needs root (DKMS) asks sudo for it when make runs as a user.
AS_ROOT := $(if $(filter 0,$(shell id -u)),,sudo)
export KVER KDIR

CC ?= gcc
# Userspace warnings beyond -Wall -Wextra: a global function no header
# declares (a missing static or header), a name that hides another, a
# declaration without its parameter types.
CFLAGS ?= -O2 -g -Wall -Wextra -Wmissing-prototypes -Wshadow -Wstrict-prototypes \
	-Werror=implicit-function-declaration
export CC CFLAGS

.PHONY: all kmod mkfs fsck bpf bpf-filters daemon unit-tests fuzz reliability test-debug debug-kernel debug-kmod test unit-test native-test vm-test demo vm-shell bench vecbench membench scalebench bigbench recall hnsw-peers chroma-bench hnswioctl install uninstall install-fs-tools dkms-install dkms-uninstall dkms-test clean

all: kmod mkfs fsck bpf bpf-filters daemon unit-tests fuzz

# 6.12 writes an external module's objects beside its sources (M= has no
# separate output directory before 6.13), so the module is built from a
# copy of them under build/: kmod/Kbuild builds ../lib and reads
# ../include. A file is copied only when its content changed, so make
# rebuilds exactly what an edit touched. $(1): the copy, $(2): the kernel.
define kmod_build
	mkdir -p $(1)/kmod $(1)/lib $(1)/include/uapi
	for f in kmod/Kbuild kmod/*.[ch] lib/*.[ch] include/uapi/*.h; do \
		cmp -s $$f $(1)/$$f || cp $$f $(1)/$$f || exit 1; \
	done
	$(MAKE) -C $(2) M=$(abspath $(1))/kmod modules
endef

KMOD := build/kmod

kmod:
	$(call kmod_build,$(KMOD),$(KDIR))

mkfs:
	$(MAKE) -C mkfs

fsck:
	$(MAKE) -C fsck

# BPF search filters (docs/filters.md): their vmlinux.h carries the
# module's types, so kmod first.
bpf-filters: kmod
	$(MAKE) -C bpf/filters

# BPF programs: their vmlinux.h carries the module's types, so kmod first.
bpf: kmod
	$(MAKE) -C bpf

daemon: bpf
	$(MAKE) -C daemon

# The fuzzers the guest runs (docs/reliability.md), built here: the
# guest's root is read-only.
fuzz:
	$(MAKE) -C tests/fuzz

unit-tests: mkfs fsck
	$(MAKE) -C tests/unit

# --- installation ----------------------------------------------------------
# Everything under $(DESTDIR)$(PREFIX), the configuration under /etc. On
# Debian 12 /sbin is /usr/sbin: PREFIX=/usr puts mkfs.vexfs and fsck.vexfs
# where mkfs(8) and fsck(8) look first; /usr/local/sbin is on their PATH.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(LIBDIR)/systemd/system
BPFDIR ?= $(LIBDIR)/vexfs/bpf
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSCONFDIR ?= /etc
DESTDIR ?=
INSTALL ?= install
# Debian's python3 reads /usr/lib/python3/dist-packages and, for local
# installs, /usr/local/lib/python3.X/dist-packages.
PYTHON ?= /usr/bin/python3
PYVER := $(shell $(PYTHON) -c 'import sys; print("python%d.%d" % sys.version_info[:2])' 2>/dev/null || echo python3)
PYTHONDIR ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/lib/python3/dist-packages,$(LIBDIR)/$(PYVER)/dist-packages)

MAN8 := mkfs.vexfs.8 fsck.vexfs.8 vexfsd.8 vexfsctl.8 vexfs-telemetryd.8
MAN5 := vexfs.5
BPF_FILTERS := $(patsubst bpf/filters/%.bpf.c,%,$(wildcard bpf/filters/*.bpf.c))
PY_FILES := $(wildcard python/vexfs/*.py)
INSTALL_DIRS := BINDIR=$(BINDIR) SBINDIR=$(SBINDIR) UNITDIR=$(UNITDIR) \
	SYSCONFDIR=$(SYSCONFDIR) DESTDIR=$(DESTDIR)

install: mkfs fsck daemon bpf-filters
	$(MAKE) -C mkfs install $(INSTALL_DIRS)
	$(MAKE) -C fsck install $(INSTALL_DIRS)
	$(MAKE) -C daemon install $(INSTALL_DIRS)
	$(INSTALL) -d $(DESTDIR)$(BPFDIR)/filters
	$(INSTALL) -m 0644 $(patsubst %,build/bpf/filters/%.bpf.o,$(BPF_FILTERS)) \
		$(DESTDIR)$(BPFDIR)/filters/
	$(INSTALL) -D -m 0644 -t $(DESTDIR)$(MANDIR)/man8 $(addprefix man/,$(MAN8))
	$(INSTALL) -D -m 0644 -t $(DESTDIR)$(MANDIR)/man5 $(addprefix man/,$(MAN5))
	$(INSTALL) -D -m 0644 contrib/vexfsctl.bash-completion $(DESTDIR)$(BASHCOMPDIR)/vexfsctl
	$(INSTALL) -D -m 0644 -t $(DESTDIR)$(PYTHONDIR)/vexfs $(PY_FILES)

# Leaves nothing of ours behind but a configuration file someone changed.
uninstall:
	$(MAKE) -C mkfs uninstall $(INSTALL_DIRS)
	$(MAKE) -C fsck uninstall $(INSTALL_DIRS)
	$(MAKE) -C daemon uninstall $(INSTALL_DIRS)
	rm -f $(patsubst %,$(DESTDIR)$(BPFDIR)/filters/%.bpf.o,$(BPF_FILTERS))
	-rmdir $(DESTDIR)$(BPFDIR)/filters $(DESTDIR)$(BPFDIR) $(DESTDIR)$(LIBDIR)/vexfs 2>/dev/null
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(MAN8)) $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(MAN5))
	rm -f $(DESTDIR)$(BASHCOMPDIR)/vexfsctl
	rm -rf $(DESTDIR)$(PYTHONDIR)/vexfs

# mkfs.vexfs and fsck.vexfs in /sbin of this machine, where mkfs(8) and
# fsck(8) look first. The guest needs none of it: its PATH ends with the
# tree's build/bin.
install-fs-tools: mkfs fsck
	$(MAKE) -C mkfs install PREFIX= SBINDIR=/sbin DESTDIR=
	$(MAKE) -C fsck install PREFIX= SBINDIR=/sbin DESTDIR=

# --- DKMS ------------------------------------------------------------------
include dkms.mk

# --- tests -----------------------------------------------------------------
# sift5k, or the stand-in scripts/testdata.py makes where it is not at hand.
unit-test: unit-tests
	VEXFS_SIFT=$$(python3 scripts/testdata.py) $(MAKE) -C tests/unit run
	$(MAKE) -C tests/fuzz run-libfuzz SECONDS=5

# Native checks: the man pages render cleanly, make install/uninstall
# into a scratch DESTDIR, the Python client's struct layouts against the C
# header, and DKMS building the module for $(KVER) (about a minute, root).
native-test: all
	tests/native/test_man.sh
	tests/native/test_cli.sh
	tests/native/test_install.sh
	/usr/bin/python3 -B -m unittest discover -v -s python/tests -p test_layout.py
	$(AS_ROOT) tests/native/test_dkms.sh $(KVER)

vm-test: all
	VEXFS_SIFT=$$(python3 scripts/testdata.py) scripts/vm.sh -- tests/vm/run-all.sh

test: unit-test native-test vm-test

demo: all
	VEXFS_SIFT=$$(python3 scripts/testdata.py) scripts/vm.sh -- scripts/demo.sh

vm-shell: all
	VEXFS_SIFT=$$(python3 scripts/testdata.py) scripts/vm.sh --interactive -- scripts/vm-shell.sh

# HNSW recall through the kernel (data prepared on the host: the guest's
# root is read-only). VEXFS_RECALL_SETS picks datasets (tests/bench/recall.py);
# the full 60k fashion-mnist wants VEXFS_RECALL_MEM=3G.
recall: all
	python3 scripts/datasets.py build/data
	VEXFS_SIFT=$$(python3 scripts/testdata.py) scripts/vm.sh \
		--mem $${VEXFS_RECALL_MEM:-2G} -- tests/bench/run-recall.sh

# Native, no guest: installs its peers itself (tests/bench/install-peers.sh).
hnsw-peers:
	$(MAKE) -C lib
	$(MAKE) -C tests/bench hnsw-peers

chroma-bench:
	tests/bench/run-chroma.sh

HNSWIOCTL := build/bench/hnswioctl

$(HNSWIOCTL): tests/bench/hnswioctl.c daemon
	$(MAKE) -C lib
	mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -D_GNU_SOURCE -Iinclude -Ilib -Idaemon -o $@ $< \
		build/lib/libvexfs.a build/lib/libvexfs_core.a -lm -lpthread

# The 1,536-d graphs are built natively (an hour under TCG), again when
# hnswioctl changed; the guest publishes them (tests/bench/run-hnswioctl.sh).
GEN1536 := build/data/gen1536_base.fvecs

$(GEN1536):
	python3 scripts/datasets.py build/data

build/data/gen1536.hnsw: $(HNSWIOCTL) $(GEN1536)
	$(HNSWIOCTL) --write-graph $@ --base $(GEN1536) --metric cosine

build/data/gen1536-kept80.hnsw: $(HNSWIOCTL) $(GEN1536)
	$(HNSWIOCTL) --delete-share 0.2 --write-graph $@ --base $(GEN1536) --metric cosine

hnswioctl: kmod mkfs $(HNSWIOCTL) build/data/gen1536.hnsw build/data/gen1536-kept80.hnsw
	python3 scripts/datasets.py build/data
	VEXFS_SIFT=$$(python3 scripts/testdata.py) scripts/vm.sh -- tests/bench/run-hnswioctl.sh

# The long runs of docs/reliability.md: each libFuzzer target for
# FUZZ_SECONDS, then in one guest the permission property test, the ioctl
# fuzzer, the image fuzzer, the soak and the power-cut replay at their long
# settings. Hours under TCG, not part of make test.
FUZZ_SECONDS ?= 600
IOCTL_FUZZ_CALLS ?= 200000
IMGFUZZ_IMAGES ?= 1000
SOAK_SECONDS ?= 600
POWERCUT_ROUNDS ?= 20
PROPERTY_SEARCHES ?= 20000

reliability: all
	$(MAKE) -C tests/fuzz run-libfuzz SECONDS=$(FUZZ_SECONDS)
	VEXFS_IOCTL_FUZZ_CALLS=$(IOCTL_FUZZ_CALLS) VEXFS_IMGFUZZ_IMAGES=$(IMGFUZZ_IMAGES) \
	VEXFS_SOAK_SECONDS=$(SOAK_SECONDS) VEXFS_POWERCUT_ROUNDS=$(POWERCUT_ROUNDS) \
	VEXFS_PROPERTY_SEARCHES=$(PROPERTY_SEARCHES) \
	scripts/vm.sh --timeout 14400 -- \
		tests/vm/run-all.sh property ioctl_fuzz imgfuzz soak powercut

# --- the debug kernel ------------------------------------------------------
# The guest suites on a kernel with KASAN, lockdep, DEBUG_ATOMIC_SLEEP and
# KFENCE (scripts/debug-kernel.sh: half an hour on two cores the first
# time, then cached in build/debug-kernel), with vexfs.ko built for it in
# build/debug-kmod. Many times slower than the stock kernel under TCG:
# not part of make test.
DEBUG_KERNEL := $(CURDIR)/build/debug-kernel
DEBUG_KMOD := $(CURDIR)/build/debug-kmod
DEBUG_VM_MEM ?= 3G
DEBUG_VM_TIMEOUT ?= 43200
SUITES ?=

debug-kernel:
	scripts/debug-kernel.sh >/dev/null

# Its own copy of the sources, beside the stock kernel's.
debug-kmod: debug-kernel
	$(call kmod_build,$(DEBUG_KMOD),$(DEBUG_KERNEL)/obj)

test-debug: all debug-kmod
	VEXFS_VM_KERNEL=$(DEBUG_KERNEL)/bzImage VEXFS_VM_MODULES=$(DEBUG_KERNEL)/modules \
	VEXFS_KO=$(DEBUG_KMOD)/kmod/vexfs.ko VEXFS_SIFT=$$(python3 scripts/testdata.py) \
	scripts/vm.sh --mem $(DEBUG_VM_MEM) --timeout $(DEBUG_VM_TIMEOUT) -- tests/vm/run-all.sh $(SUITES)

bench: all
	scripts/vm.sh -- tests/bench/run-fsbench.sh

# Built here, on the host: the guest's root is read-only.
VECBENCH := build/bench/vecbench

$(VECBENCH): tests/bench/vecbench.c daemon
	$(MAKE) -C lib
	mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -D_GNU_SOURCE -Iinclude -Ilib -Idaemon -o $@ $< \
		build/lib/libvexfs.a build/lib/libvexfs_core.a -lm

vecbench: kmod mkfs $(VECBENCH)
	VEXFS_SIFT=$$(python3 scripts/testdata.py) scripts/vm.sh -- tests/bench/run-vecbench.sh

MEMBENCH_SETS ?= 96:200000 768:50000 96:20000:index

membench: kmod mkfs daemon
	python3 scripts/memdata.py build/data $(MEMBENCH_SETS) >/dev/null
	VEXFS_MEMBENCH_SETS="$(MEMBENCH_SETS)" scripts/vm.sh -- tests/bench/run-membench.sh

SCALEBENCH_SET ?= 96:1000000

scalebench: kmod mkfs daemon
	python3 scripts/memdata.py build/data $(SCALEBENCH_SET) >/dev/null
	VEXFS_SCALEBENCH_SET=$(SCALEBENCH_SET) scripts/vm.sh --mem 6G -- tests/bench/run-scalebench.sh

BIGBENCH_SET ?= 256:1000000
BIGBENCH_MEM ?= 512M

bigbench: kmod mkfs daemon
	tests/bench/bigbench.sh $(BIGBENCH_SET) $(BIGBENCH_MEM)

clean:
	rm -rf $(KMOD)
	-$(MAKE) -C mkfs clean
	-$(MAKE) -C fsck clean
	-$(MAKE) -C lib clean
	-$(MAKE) -C bpf/filters clean
	-$(MAKE) -C bpf clean
	-$(MAKE) -C daemon clean
	-$(MAKE) -C tests/unit clean
	-$(MAKE) -C tests/fuzz clean
