/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Progress of a long job on stderr: a bar redrawn in place on a terminal,
 * a plain line every tenth of the way otherwise (logs, CI), or nothing.
 * Without a known total: the count and rate, redrawn or every few seconds.
 */
#ifndef PROGRESS_H
#define PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

enum progress_style {
	PROGRESS_NONE,
	PROGRESS_BAR,		/* a terminal: redraw one line */
	PROGRESS_LINES,		/* anything else: append lines */
};

/* A total not known ahead (a stream): count and rate, no bar or ETA. */
#define PROGRESS_TOTAL_UNKNOWN	UINT64_MAX

struct progress {
	enum progress_style style;
	const char *label;
	uint64_t total;
	double start;		/* seconds, monotonic */
	double last_draw;
	unsigned int last_tenth;
};

/* The style for stderr: a bar on a terminal, else lines; none if quiet. */
enum progress_style progress_style_for_stderr(bool quiet);

void progress_start(struct progress *p, enum progress_style style,
		    const char *label, uint64_t total);
void progress_update(struct progress *p, uint64_t done);
/* Leave the terminal on a fresh line. */
void progress_finish(struct progress *p, uint64_t done);

#endif /* PROGRESS_H */
