// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs: reporting problems and deciding whether to fix them.
 *
 * Every problem is one line naming the inode or block concerned, followed
 * by the answer, as e2fsck prints them, so a log can be grepped. The
 * answer comes from the mode: -n says no, -y and -p say yes, and without
 * either the terminal is asked.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fsck.h"

static void print_prefix(const struct fsck *f)
{
	/* preen output goes to a boot log full of other devices */
	if (f->opt.mode == FSCK_PREEN)
		printf("%s: ", f->name);
}

static void print_line(const struct fsck *f, const char *fmt, va_list ap)
{
	print_prefix(f);
	vprintf(fmt, ap);
}

/* Ask on the terminal; anything but an answer starting with y is a no. */
static bool ask(void)
{
	char answer[16];

	printf("  Fix<y>? ");
	fflush(stdout);
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	return answer[0] == 'y' || answer[0] == 'Y' || answer[0] == '\n';
}

static bool answer(const struct fsck *f)
{
	switch (f->opt.mode) {
	case FSCK_NO:
		printf("  Fix? no\n");
		return false;
	case FSCK_YES:
	case FSCK_PREEN:
		printf("  Fix? yes\n");
		return true;
	case FSCK_ASK:
		break;
	}
	return ask();
}

/*
 * Print the problem and decide. A repair that is not @allowed (it could
 * overwrite what a block's other owner holds) is not made.
 */
static bool fixable(struct fsck *f, bool allowed, const char *fmt, va_list ap)
{
	bool yes = false;

	print_line(f, fmt, ap);
	f->problems++;
	if (allowed)
		yes = answer(f) && f->writable;
	else
		printf("  Not repaired while blocks are shared.\n");
	if (yes)
		f->fixed++;
	else
		f->unfixed++;
	fflush(stdout);
	return yes;
}

bool fsck_fixable(struct fsck *f, const char *fmt, ...)
{
	va_list ap;
	bool yes;

	va_start(ap, fmt);
	yes = fixable(f, true, fmt, ap);
	va_end(ap);
	return yes;
}

/* fsck_fixable(), but no repair is made while some block has two owners. */
bool fsck_fixable_unshared(struct fsck *f, const char *fmt, ...)
{
	va_list ap;
	bool yes;

	va_start(ap, fmt);
	yes = fixable(f, !f->dup_blocks, fmt, ap);
	va_end(ap);
	return yes;
}

void fsck_unfixable(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_line(f, fmt, ap);
	va_end(ap);
	printf("  Not repaired.\n");
	f->problems++;
	f->unfixed++;
}

void fsck_info(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_line(f, fmt, ap);
	va_end(ap);
	putchar('\n');
}

void fsck_verbose(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	if (!f->opt.verbose)
		return;
	va_start(ap, fmt);
	print_line(f, fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A fix that was answered yes could not be written: it did not happen. */
void fsck_fix_failed(struct fsck *f)
{
	if (f->fixed)
		f->fixed--;
	f->unfixed++;
	f->aborted = true;
}

void fsck_pass(struct fsck *f, const char *title)
{
	if (f->opt.mode != FSCK_PREEN)
		printf("%s\n", title);
	fflush(stdout);
}

int fsck_exit_code(const struct fsck *f)
{
	int code = FSCK_EXIT_OK;

	/* marking a checked filesystem clean is no repair */
	if (f->fixed)
		code |= FSCK_EXIT_FIXED;
	if (f->unfixed)
		code |= FSCK_EXIT_UNFIXED;
	if (f->aborted)
		code |= FSCK_EXIT_OPERATIONAL;
	return code;
}
