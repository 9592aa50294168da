# VexFS top-level build.
#   make            build the module, mkfs.vexfs, vexfsctl and the native tests
#   make test       unit tests natively, then the guest tests under QEMU
#   make demo       boot the guest and show a filesystem surviving a remount
#   make vm-shell   an interactive guest for debugging
#   make bench      file-operation benchmark, vexfs vs ext4, in the guest
#   make vecbench   vector insert and search benchmark, ioctl vs plain files
#                   and userspace, in the guest
#   make recall     HNSW recall through the kernel on three datasets

KVER ?= $(shell ls /boot/vmlinuz-* 2>/dev/null | sed 's|.*/vmlinuz-||' | sort -V | tail -1)
KDIR ?= /usr/src/linux-headers-$(KVER)
export KVER KDIR

CC ?= gcc
CFLAGS ?= -O2 -g -Wall -Wextra -Werror=implicit-function-declaration
export CC CFLAGS

.PHONY: all kmod mkfs bpf bpf-filters daemon unit-tests fuzz test unit-test vm-test demo vm-shell bench vecbench recall install clean

all: kmod mkfs bpf bpf-filters daemon unit-tests fuzz

kmod:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod modules

mkfs:
	$(MAKE) -C mkfs

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

unit-tests: mkfs
	$(MAKE) -C tests/unit

install: mkfs
	$(MAKE) -C mkfs install

unit-test: unit-tests
	$(MAKE) -C tests/unit run

vm-test: all install
	VEXFS_SIFT=$$(python3 scripts/testdata.py) scripts/vm.sh -- tests/vm/run-all.sh

test: unit-test vm-test

demo: all install
	scripts/vm.sh -- scripts/demo.sh

vm-shell: all install
	scripts/vm.sh --interactive

# HNSW recall through the kernel on three datasets (prepared on the host:
# the guest's root is read-only).
recall: all install
	python3 scripts/datasets.py build/data
	VEXFS_SIFT=$$(python3 scripts/testdata.py) scripts/vm.sh -- tests/bench/run-recall.sh

bench: all install
	scripts/vm.sh -- tests/bench/run-fsbench.sh

# Built here, on the host: the guest's root is read-only.
VECBENCH := build/bench/vecbench

$(VECBENCH): tests/bench/vecbench.c daemon
	$(MAKE) -C lib
	mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -D_GNU_SOURCE -Iinclude -Ilib -Idaemon -o $@ $< \
		daemon/libvexfs.a lib/libvexfs_core.a -lm

vecbench: kmod mkfs $(VECBENCH)
	VEXFS_SIFT=$$(python3 scripts/testdata.py) scripts/vm.sh -- tests/bench/run-vecbench.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod clean
	-$(MAKE) -C mkfs clean
	-$(MAKE) -C bpf/filters clean
	-$(MAKE) -C bpf clean
	-$(MAKE) -C daemon clean
	-$(MAKE) -C tests/unit clean
	-$(MAKE) -C tests/fuzz clean
