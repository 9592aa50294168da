/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The telemetry subsystem of the VexFS daemons: loads the BPF programs of
 * bpf/telemetry.bpf.c, attaches them to the module, pins their maps and
 * links under the pin directory, and follows the module: if it goes away
 * the programs are dropped, and when it comes back they are loaded and
 * attached again, counting on in the same pinned maps.
 *
 *	struct telemetry_config cfg = { .slow_us = 10000 };
 *
 *	if (telemetry_start(&cfg) < 0)
 *		...;
 *	while (running)
 *		telemetry_poll(1000);	// or poll telemetry_fd() yourself
 *	telemetry_stop();
 *
 * One instance per process. Not thread-safe: call it from one thread.
 *
 * Pins (see docs/telemetry.md): <pin_dir>/{hist,counters,errors,
 * slow_events,info} and <pin_dir>/links/<program>. While programs are
 * attached by fentry, the kernel holds a reference on the module, so
 * rmmod fails with EBUSY until telemetry_stop() (or removing the pins of a
 * loader that died); with kprobes, rmmod works and is noticed here.
 */
#ifndef TELEMETRY_H
#define TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "stats.h"

struct telemetry_config {
	uint64_t slow_us;	/* operations this slow go to the ring buffer; 0: all */
	unsigned int mode;	/* enum vexfs_tel_mode; 0 is auto */
	const char *pin_dir;	/* NULL: VEXFS_TEL_PIN_DIR */
	bool no_rw;		/* leave read and write unmeasured */
	bool keep_pins;		/* telemetry_stop() leaves the maps pinned */
	/*
	 * Optional consumer of slow-operation records. A ring buffer has one
	 * reader at a time: with this set, `vexfsctl slow` sees what this
	 * callback leaves, so leave it NULL where that command is wanted.
	 */
	void (*on_slow)(const struct vexfs_tel_event *e, void *ctx);
	void *ctx;
	/* Where messages go; NULL: stderr. */
	void (*log)(const char *msg);
};

/*
 * Load and attach, pinning under the pin directory after removing what an
 * earlier loader left there. If the module is not loaded, succeed and
 * attach once it appears (telemetry_poll). Negative errno.
 */
int telemetry_start(const struct telemetry_config *cfg);

/*
 * Wait up to timeout_ms for slow-operation records (with on_slow) and
 * handle them, then follow the module (unloaded, reloaded). Returns the
 * number of records handled, or a negative errno.
 */
int telemetry_poll(int timeout_ms);

/* An fd that is readable when telemetry_poll() has records; -1 if none. */
int telemetry_fd(void);

/* Read the maps. Works while waiting for the module too. Negative errno. */
int telemetry_snapshot(struct telemetry_stats *st);

/* Whether the programs are attached now, and how. */
bool telemetry_attached(void);

/* Detach, unpin (maps only without keep_pins), free. Safe to call twice. */
void telemetry_stop(void);

#endif /* TELEMETRY_H */
