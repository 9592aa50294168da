# How mkfs.vexfs and fsck.vexfs are built, included by mkfs/Makefile and
# fsck/Makefile once they have set:
#   PROG   the program's name
#   SRCS   its sources, without .c: from its own folder, from ../common
#          (what the two share) and from ../lib (the vector core)
# The objects go to ../build/PROG's folder, the program to ../build/bin.
#   make            build it
#   make install    install it in $(DESTDIR)$(SBINDIR), where mkfs(8) and
#                   fsck(8) find it for -t vexfs
#   make clean

CC ?= gcc
CFLAGS ?= -O2 -g -Wall -Wextra -Wmissing-prototypes -Wshadow -Wstrict-prototypes
CPPFLAGS += -I../include -I../common -I../lib -D_GNU_SOURCE
DEPFLAGS = -MMD -MP

PREFIX ?=
SBINDIR ?= $(PREFIX)/sbin
DESTDIR ?=
INSTALL ?= install

OBJ := ../build/$(notdir $(CURDIR))
BIN := ../build/bin/$(PROG)
OBJS := $(SRCS:%=$(OBJ)/%.o)

vpath %.c ../common ../lib

.PHONY: all install uninstall clean

all: $(BIN)

$(BIN): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OBJ)/%.o: %.c
	@mkdir -p $(OBJ)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

install: $(BIN)
	$(INSTALL) -D -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/$(PROG)

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/$(PROG)

clean:
	rm -rf $(OBJ) $(BIN)

-include $(wildcard $(OBJ)/*.d)
