// SPDX-License-Identifier: GPL-2.0
/*
 * mkfs.vexfs: make a VexFS filesystem on a block device or image file.
 */
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "device.h"
#include "format.h"
#include "layout.h"
#include "ondisk.h"
#include "probe.h"
#include "uuid.h"

#define VEXFS_MKFS_VERSION	"1.0"

struct options {
	const char *device;
	uint64_t size_bytes;		/* 0: the whole device */
	const char *label;
	uint64_t inodes;
	uint64_t bytes_per_inode;
	uint8_t uuid[16];
	bool uuid_given;		/* false: a random one */
	bool force;
	bool quiet;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: mkfs.vexfs [options] DEVICE [SIZE]\n"
		"\n"
		"Make a VexFS filesystem on DEVICE, a block device or an image file.\n"
		"SIZE is in 4 KiB blocks, or in bytes with a K, M, G or T suffix;\n"
		"an image file that does not exist is created with that size.\n"
		"\n"
		"Options:\n"
		"  -f               format even if DEVICE holds a filesystem\n"
		"  -L LABEL         volume label, at most %u bytes\n"
		"  -N INODES        number of inodes, the root directory included\n"
		"  -i BYTES         bytes per inode (default %llu)\n"
		"  -T USAGE         bytes per inode for a use: default (16 KiB), small\n"
		"                   (4 KiB, many small files) or vectors (2 KiB, a vector\n"
		"                   store: one file per vector, most of them empty)\n"
		"  -U UUID|random   filesystem UUID (default random)\n"
		"  -q               print nothing but errors\n"
		"  -V, --version    print the version and exit\n"
		"  -h, --help       print this help and exit\n",
		VEXFS_LABEL_LEN - 1, VEXFS_DEFAULT_BYTES_PER_INODE);
}

/* Multiplier for a size suffix; 0 when the suffix is not one. */
static uint64_t suffix_multiplier(const char *suffix, uint64_t bare)
{
	static const char units[] = "KMGT";
	const char *unit;

	if (*suffix == '\0')
		return bare;
	/* strchr() would also find the terminating NUL: rule it out first */
	if (!isalpha((unsigned char)suffix[0]))
		return 0;
	unit = strchr(units, toupper((unsigned char)suffix[0]));
	if (!unit)
		return 0;
	if (suffix[1] != '\0' && strcmp(suffix + 1, "iB") != 0 &&
	    strcmp(suffix + 1, "B") != 0)
		return 0;
	return 1ull << (10 * (unit - units + 1));
}

/*
 * A positive number with an optional binary suffix (K, M, G, T, also as
 * KiB or KB); @bare is the unit of a number without one.
 */
static int parse_size(const char *text, uint64_t bare, uint64_t *out)
{
	unsigned long long n;
	uint64_t mult;
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || n == 0)
		return -1;
	mult = suffix_multiplier(end, bare);
	if (!mult || __builtin_mul_overflow(n, mult, out))
		return -1;
	return 0;
}

/*
 * Bytes per inode for a usage type (mke2fs -T): a vector store holds one
 * file per vector, often empty, whose vector lives in the collection's
 * table (a 128-d float32 vector takes about 600 bytes there).
 */
static uint64_t usage_bytes_per_inode(const char *usage)
{
	static const struct {
		const char *name;
		uint64_t bytes;
	} types[] = {
		{ "default", VEXFS_DEFAULT_BYTES_PER_INODE },
		{ "small", 4096 },
		{ "vectors", 2048 },
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(usage, types[i].name))
			return types[i].bytes;
	errx(1, "unknown usage type '%s': default, small or vectors", usage);
}

static void parse_uuid(const char *text, struct options *o)
{
	if (strcmp(text, "random") == 0) {
		o->uuid_given = false;
		return;
	}
	if (vexfs_uuid_parse(text, o->uuid))
		errx(1, "bad UUID '%s': expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx or 'random'",
		     text);
	o->uuid_given = true;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t usage_ratio = 0;
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "fL:N:i:T:U:qVh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'f':
			o->force = true;
			break;
		case 'L':
			if (strlen(optarg) > VEXFS_LABEL_LEN - 1)
				errx(1, "label '%s' is too long: at most %u bytes",
				     optarg, VEXFS_LABEL_LEN - 1);
			o->label = optarg;
			break;
		case 'N':
			if (parse_size(optarg, 1, &o->inodes))
				errx(1, "bad inode count '%s'", optarg);
			break;
		case 'i':
			if (parse_size(optarg, 1, &o->bytes_per_inode))
				errx(1, "bad bytes-per-inode '%s'", optarg);
			break;
		case 'T':
			usage_ratio = usage_bytes_per_inode(optarg);
			break;
		case 'U':
			parse_uuid(optarg, o);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'V':
			printf("mkfs.vexfs %s (format version %u)\n",
			       VEXFS_MKFS_VERSION, VEXFS_FORMAT_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(1);
		}
	}
	if (o->inodes && o->bytes_per_inode)
		errx(1, "-N and -i cannot be used together");
	/* -N and -i say exactly what -T says in general. */
	if (!o->inodes && !o->bytes_per_inode)
		o->bytes_per_inode = usage_ratio;
	if (optind >= argc || argc - optind > 2) {
		usage(stderr);
		exit(1);
	}
	o->device = argv[optind];
	if (optind + 1 < argc &&
	    parse_size(argv[optind + 1], VEXFS_BLOCK_SIZE, &o->size_bytes))
		errx(1, "bad size '%s': give 4 KiB blocks, or bytes with K, M, G or T",
		     argv[optind + 1]);
}

static void choose_uuid(const struct options *o, uint8_t uuid[16])
{
	if (o->uuid_given)
		memcpy(uuid, o->uuid, 16);
	else if (vexfs_uuid_generate(uuid))
		err(1, "cannot get random bytes for the UUID");
}

static void fill_params(const struct options *o,
			struct vexfs_format_params *p)
{
	struct timespec now;

	memset(p, 0, sizeof(*p));
	clock_gettime(CLOCK_REALTIME, &now);
	choose_uuid(o, p->super.uuid);
	p->super.label = o->label;
	p->super.mkfs_time = (uint64_t)now.tv_sec;

	/* Owned by the caller, as mke2fs does; "." and ".." are implicit. */
	p->root.mode = S_IFDIR | 0755;
	p->root.nlink = 2;
	p->root.uid = getuid();
	p->root.gid = getgid();
	p->root.time = now;
	p->root.parent = VEXFS_ROOT_INO;
	if (vexfs_random_bytes(&p->root.generation,
			       sizeof(p->root.generation)))
		err(1, "cannot get random bytes for the inode generation");
}

static void print_size(uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes / 1024;
	unsigned int u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	printf("%.1f %s", v, units[u]);
}

static void print_region(const char *name, uint64_t start, uint64_t blocks)
{
	printf("%-16s", name);
	if (!blocks)
		printf("none\n");
	else if (blocks == 1)
		printf("block %" PRIu64 "\n", start);
	else
		printf("blocks %" PRIu64 "-%" PRIu64 " (%" PRIu64 ")\n",
		       start, start + blocks - 1, blocks);
}

static void print_summary(const struct options *o,
			  const struct vexfs_layout *l,
			  const struct vexfs_format_params *p)
{
	char uuid[VEXFS_UUID_STR_LEN];

	vexfs_uuid_format(p->super.uuid, uuid);
	printf("Creating VexFS on %s\n", o->device);
	printf("%-16s%s\n", "Label:", o->label ? o->label : "(none)");
	printf("%-16s%s\n", "UUID:", uuid);
	printf("%-16s%u\n", "Block size:", VEXFS_BLOCK_SIZE);
	printf("%-16s%" PRIu64 " (", "Blocks:", l->blocks_count);
	print_size(l->blocks_count * VEXFS_BLOCK_SIZE);
	printf(")\n");
	printf("%-16s%" PRIu64 " (%" PRIu64 " free)\n", "Inodes:",
	       l->inodes_count - 1, vexfs_layout_free_inodes(l));
	print_region("Superblock:", VEXFS_SUPER_BLOCKNR, 1);
	print_region("Journal:", l->journal_start, l->journal_blocks);
	print_region("Inode bitmap:", l->inode_bitmap_start,
		     l->inode_bitmap_blocks);
	print_region("Block bitmap:", l->block_bitmap_start,
		     l->block_bitmap_blocks);
	print_region("Inode table:", l->inode_table_start,
		     l->inode_table_blocks);
	print_region("Data:", l->data_start, vexfs_layout_free_blocks(l));
}

/* Refuse to overwrite a filesystem unless -f says so. */
static int check_existing_signature(struct vexfs_device *dev,
				    const struct options *o)
{
	static char head[VEXFS_PROBE_BYTES];
	const char *found;

	if (vexfs_device_read(dev, 0, head, sizeof(head)))
		return -1;
	found = vexfs_probe_signature(head, sizeof(head));
	if (!found)
		return 0;
	if (!o->force) {
		warnx("%s already holds a %s signature; use -f to overwrite it",
		      o->device, found);
		return -1;
	}
	if (!o->quiet)
		printf("Overwriting the %s signature on %s\n", found,
		       o->device);
	return 0;
}

static int compute_layout(const struct vexfs_device *dev,
			  const struct options *o, struct vexfs_layout *l)
{
	struct vexfs_layout_request req = {
		.device_bytes = dev->size_bytes,
		.inodes = o->inodes,
		.bytes_per_inode = o->bytes_per_inode,
	};
	char msg[256];

	if (vexfs_layout_compute(&req, l, msg, sizeof(msg))) {
		warnx("%s: %s", o->device, msg);
		return -1;
	}
	/* Only an explicit request deserves a word; the default just adapts. */
	if (l->inodes_capped && (o->inodes || o->bytes_per_inode))
		warnx("only %" PRIu64 " inodes fit on %s; using that many",
		      l->inodes_count - 1, o->device);
	return 0;
}

static int make_filesystem(struct vexfs_device *dev, const struct options *o)
{
	struct vexfs_format_params params;
	struct vexfs_layout layout;

	if (compute_layout(dev, o, &layout) ||
	    check_existing_signature(dev, o))
		return -1;
	fill_params(o, &params);
	if (!o->quiet)
		print_summary(o, &layout, &params);
	if (vexfs_format(dev, &layout, &params))
		return -1;
	if (!o->quiet)
		printf("Writing metadata: done\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct vexfs_device dev;
	struct options o;
	int ret;

	parse_options(argc, argv, &o);
	if (vexfs_device_check_unmounted(o.device) ||
	    vexfs_device_open(&dev, o.device, o.size_bytes))
		return 1;
	ret = make_filesystem(&dev, &o);
	if (vexfs_device_close(&dev))
		ret = -1;
	if (ret && dev.created)
		unlink(o.device);	/* leave no half-made image behind */
	return ret ? 1 : 0;
}
