// SPDX-License-Identifier: GPL-2.0
/*
 * Progress display (see progress.h).
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "progress.h"

#define BAR_WIDTH		30
#define REDRAW_INTERVAL		0.1	/* seconds: drawing costs more than it tells */
#define LINE_INTERVAL		5.0	/* seconds between lines of a stream's count */

enum progress_style progress_style_for_stderr(bool quiet)
{
	if (quiet)
		return PROGRESS_NONE;
	return isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_LINES;
}

void progress_start(struct progress *p, enum progress_style style,
		    const char *label, uint64_t total)
{
	p->style = style;
	p->label = label;
	p->total = total;
	p->start = monotonic_seconds();
	p->last_draw = 0;
	p->last_tenth = 0;
}

static double rate(const struct progress *p, uint64_t done, double now)
{
	double secs = now - p->start;

	return secs > 0 ? done / secs : 0;
}

static bool total_known(const struct progress *p)
{
	return p->total != PROGRESS_TOTAL_UNKNOWN;
}

static void draw_count(struct progress *p, uint64_t done, double now)
{
	fprintf(stderr, "\r%s %llu  %.0f/s  ", p->label, (unsigned long long)done,
		rate(p, done, now));
	fflush(stderr);
	p->last_draw = now;
}

static void draw_bar(struct progress *p, uint64_t done, double now)
{
	unsigned int fill = p->total ? (unsigned int)(done * BAR_WIDTH / p->total) : BAR_WIDTH;
	double r = rate(p, done, now);
	char bar[BAR_WIDTH + 1];
	unsigned int i;

	for (i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[BAR_WIDTH] = '\0';
	fprintf(stderr, "\r%s [%s] %3u%%  %llu/%llu  %.0f/s",
		p->label, bar,
		p->total ? (unsigned int)(done * 100 / p->total) : 100,
		(unsigned long long)done, (unsigned long long)p->total, r);
	if (r > 0 && done < p->total)
		fprintf(stderr, "  ETA %.0fs  ", (p->total - done) / r);
	else
		fputs("          ", stderr);
	fflush(stderr);
	p->last_draw = now;
}

static void print_count_line(struct progress *p, uint64_t done, double now)
{
	fprintf(stderr, "%s: %llu, %.0f/s\n", p->label, (unsigned long long)done,
		rate(p, done, now));
	p->last_draw = now;
}

static void print_line(struct progress *p, uint64_t done, double now)
{
	fprintf(stderr, "%s: %llu/%llu (%u%%), %.0f/s\n", p->label,
		(unsigned long long)done, (unsigned long long)p->total,
		p->total ? (unsigned int)(done * 100 / p->total) : 100,
		rate(p, done, now));
}

void progress_update(struct progress *p, uint64_t done)
{
	double now;
	unsigned int tenth;

	switch (p->style) {
	case PROGRESS_NONE:
		return;
	case PROGRESS_BAR:
		now = monotonic_seconds();
		if (now - p->last_draw < REDRAW_INTERVAL)
			return;
		if (total_known(p))
			draw_bar(p, done, now);
		else
			draw_count(p, done, now);
		return;
	case PROGRESS_LINES:
		if (!total_known(p)) {
			now = monotonic_seconds();
			if (now - p->last_draw >= LINE_INTERVAL)
				print_count_line(p, done, now);
			return;
		}
		tenth = p->total ? (unsigned int)(done * 10 / p->total) : 10;
		if (tenth > p->last_tenth && done < p->total) {
			p->last_tenth = tenth;
			print_line(p, done, monotonic_seconds());
		}
		return;
	}
}

void progress_finish(struct progress *p, uint64_t done)
{
	switch (p->style) {
	case PROGRESS_NONE:
		return;
	case PROGRESS_BAR:
		if (total_known(p))
			draw_bar(p, done, monotonic_seconds());
		else
			draw_count(p, done, monotonic_seconds());
		fputc('\n', stderr);
		return;
	case PROGRESS_LINES:
		/* The caller's summary line says the rest. */
		return;
	}
}
