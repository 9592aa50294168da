# DKMS targets, included by the top-level Makefile.
#
#   make dkms-install    copy the module's sources to $(DKMS_SRC) and have
#                        DKMS build and install it for $(DKMS_KVER) (the
#                        running kernel) and every kernel installed later
#   make dkms-uninstall  remove it from DKMS (every kernel) and $(DKMS_SRC)
#   make dkms-test       build it through DKMS for $(KVER) in a scratch
#                        tree (nothing installed, nothing loaded) and check
#                        vexfs.ko comes out with BTF: tests/native/test_dkms.sh

DKMS ?= dkms
DKMS_NAME := vexfs
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
DKMS_SRC ?= /usr/src/$(DKMS_NAME)-$(DKMS_VERSION)
DKMS_KVER ?= $(shell uname -r)
# What Kbuild needs, and nothing that a build leaves behind.
DKMS_FILES := dkms.conf kmod/Kbuild $(wildcard kmod/*.[ch]) \
	$(wildcard lib/*.[ch]) $(wildcard include/uapi/*.h)

.PHONY: dkms-src

dkms-src:
	rm -rf $(DESTDIR)$(DKMS_SRC)
	for f in $(DKMS_FILES); do \
		$(INSTALL) -D -m 0644 $$f $(DESTDIR)$(DKMS_SRC)/$$f || exit 1; \
	done

dkms-install: dkms-uninstall
	$(MAKE) dkms-src DESTDIR=
	$(DKMS) add -m $(DKMS_NAME) -v $(DKMS_VERSION)
	$(DKMS) install -m $(DKMS_NAME) -v $(DKMS_VERSION) -k $(DKMS_KVER)

# Quiet when nothing is registered: dkms-install starts with it.
dkms-uninstall:
	if $(DKMS) status -m $(DKMS_NAME) -v $(DKMS_VERSION) 2>/dev/null | grep -q .; then \
		$(DKMS) remove -m $(DKMS_NAME) -v $(DKMS_VERSION) --all; \
	fi
	rm -rf $(DKMS_SRC)

dkms-test:
	tests/native/test_dkms.sh $(KVER)
