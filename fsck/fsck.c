// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs: check a VexFS filesystem and repair what is safe to repair,
 * in the manner of e2fsck (same options, passes and exit codes).
 *
 * There is no "last checked" time to decide from, so every run checks
 * everything; -f is accepted for fsck(8) and scripts that pass it.
 * See docs/fsck.md for what is checked and what is repaired.
 */
#include <err.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsck.h"

#define VEXFS_FSCK_VERSION	"1.0"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: fsck.vexfs [-n | -y | -p] [-f] [-v] DEVICE\n"
		"\n"
		"Check the VexFS filesystem on DEVICE, a block device or an image file.\n"
		"\n"
		"Options:\n"
		"  -n             open read-only and answer no to every repair\n"
		"  -y             repair everything that is safe to repair\n"
		"  -p, -a         the same as -y, with terse output (for boot scripts)\n"
		"  -f             accepted for compatibility: every run is a full check\n"
		"  -v             more detail\n"
		"  -V             print the version and exit\n"
		"  -h             print this help and exit\n"
		"\n"
		"Without -n, -y or -p each repair is asked for on the terminal.\n"
		"Exit status: 0 clean, 1 errors corrected, 4 errors left uncorrected,\n"
		"8 operational error, 16 usage error (1 and 4 may be or-ed together).\n");
}

static int set_mode(struct fsck_options *o, enum fsck_mode mode)
{
	if (o->mode != FSCK_ASK && o->mode != mode) {
		warnx("only one of -n, -y and -p may be given");
		return -1;
	}
	o->mode = mode;
	return 0;
}

/* Returns 0, or an exit status to stop with. */
static int parse_options(int argc, char **argv, struct fsck_options *o)
{
	int c, bad = 0;

	memset(o, 0, sizeof(*o));
	o->mode = FSCK_ASK;
	while ((c = getopt(argc, argv, "nypafvVh")) != -1) {
		switch (c) {
		case 'n':
			bad |= set_mode(o, FSCK_NO);
			break;
		case 'y':
			bad |= set_mode(o, FSCK_YES);
			break;
		case 'p':
		case 'a':
			bad |= set_mode(o, FSCK_PREEN);
			break;
		case 'f':
			o->force = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'V':
			printf("fsck.vexfs %s (format version %u)\n",
			       VEXFS_FSCK_VERSION, VEXFS_FORMAT_VERSION);
			exit(FSCK_EXIT_OK);
		case 'h':
			usage(stdout);
			exit(FSCK_EXIT_OK);
		default:
			bad = -1;
		}
	}
	if (bad || optind != argc - 1) {
		usage(stderr);
		return FSCK_EXIT_USAGE;
	}
	o->device = argv[optind];
	if (o->mode == FSCK_ASK && !isatty(STDIN_FILENO)) {
		warnx("need a terminal for interactive repairs; use -n, -y or -p");
		return FSCK_EXIT_OPERATIONAL;
	}
	return 0;
}

static int run_passes(struct fsck *f)
{
	int (*const passes[])(struct fsck *) = {
		fsck_pass1, fsck_pass2, fsck_pass3, fsck_pass4, fsck_pass5,
		fsck_pass6,
	};
	size_t i;

	for (i = 0; i < sizeof(passes) / sizeof(passes[0]); i++)
		if (passes[i](f))
			return -1;
	return 0;
}

/* A fully repaired filesystem is marked clean, as e2fsck marks it valid. */
static void mark_clean(struct fsck *f)
{
	uint16_t state = le16toh(f->sb.s_state);
	uint16_t want = (state | VEXFS_STATE_CLEAN) & ~VEXFS_STATE_ERROR;

	if (!f->writable || f->unfixed || f->aborted || state == want)
		return;
	f->sb.s_state = htole16(want);
	f->super_dirty = true;
}

static void print_verbose(const struct fsck *f)
{
	const struct fsck_stats *s = &f->stats;

	if (!f->opt.verbose)
		return;
	printf("\n%12" PRIu64 " regular files\n", s->regular);
	printf("%12" PRIu64 " directories (%" PRIu64 " collections)\n",
	       s->dirs, s->collections);
	printf("%12" PRIu64 " hashed directories\n", s->htrees);
	printf("%12" PRIu64 " symbolic links\n", s->symlinks);
	printf("%12" PRIu64 " device files, fifos and sockets\n", s->special);
	printf("%12" PRIu64 " vector tables holding %" PRIu64 " vectors\n",
	       s->tables, s->vectors);
	printf("%12" PRIu64 " of them with a change map\n", s->cmaps);
	printf("%12" PRIu64 " HNSW indexes\n", s->indexes);
	printf("%12" PRIu64 " extent tree blocks\n", s->extent_nodes);
	printf("%12" PRIu64 " xattr blocks\n", s->xattr_blocks);
}

static void print_summary(const struct fsck *f)
{
	uint64_t free_inodes = f->counted ? f->free_inodes : le64toh(f->sb.s_free_inodes);
	uint64_t free_blocks = f->counted ? f->free_blocks : le64toh(f->sb.s_free_blocks);
	uint64_t files = f->l.inodes_count - 1;

	print_verbose(f);
	if (f->modified)
		printf("\n%s: ***** FILE SYSTEM WAS MODIFIED *****\n", f->name);
	if (f->unfixed)
		printf("\n%s: ********** WARNING: Filesystem still has errors **********\n",
		       f->name);
	if (f->modified || f->unfixed)
		putchar('\n');
	printf("%s: %" PRIu64 "/%" PRIu64 " files, %" PRIu64 "/%" PRIu64 " blocks\n",
	       f->name, files - free_inodes, files,
	       f->l.blocks_count - free_blocks, f->l.blocks_count);
}

static int check(struct fsck *f)
{
	int ret = FSCK_EXIT_OPERATIONAL;

	if (fsck_open(f) || fsck_check_super(f) || fsck_journal(f) ||
	    fsck_load_bitmaps(f))
		goto out;
	if (run_passes(f) == 0) {
		mark_clean(f);
		if (f->super_dirty && fsck_write_super(f))
			f->aborted = true;
		print_summary(f);
	}
	ret = 0;
out:
	if (fsck_close(f))
		f->aborted = true;
	fsck_free_bitmaps(f);
	return ret ? ret : fsck_exit_code(f);
}

int main(int argc, char **argv)
{
	struct fsck f;
	int ret;

	memset(&f, 0, sizeof(f));
	ret = parse_options(argc, argv, &f.opt);
	if (ret)
		return ret;
	f.name = f.opt.device;
	/* problems and warnings interleave in order, even into a pipe */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (f.opt.mode != FSCK_PREEN)
		printf("fsck.vexfs %s\n", VEXFS_FSCK_VERSION);
	return check(&f);
}
