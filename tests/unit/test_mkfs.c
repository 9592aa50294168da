// SPDX-License-Identifier: GPL-2.0
/*
 * mkfs.vexfs end to end: run the built binary on image files in a scratch
 * directory and check the bytes it wrote, and what it refuses to do.
 */
#include <endian.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "layout.h"
#include "ondisk.h"
#include "probe.h"

#ifndef MKFS_BIN
#error "MKFS_BIN must name the mkfs.vexfs binary under test"
#endif

#define MiB	(1024ull * 1024)
#define MAX_ARGS	16

struct scratch {
	char dir[256];
	char image[300];
	char output[300];
};

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int make_scratch(void **state)
{
	static struct scratch s;
	const char *tmp = getenv("TMPDIR");

	snprintf(s.dir, sizeof(s.dir), "%s/vexfs-mkfs-test-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(s.dir))
		return -1;
	snprintf(s.output, sizeof(s.output), "%s/output", s.dir);
	*state = &s;
	return 0;
}

static int remove_scratch(void **state)
{
	struct scratch *s = *state;

	return nftw(s->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Each test gets an image path of its own, not yet created. */
static int name_image(void **state, const char *name)
{
	struct scratch *s = *state;

	snprintf(s->image, sizeof(s->image), "%s/%s.img", s->dir, name);
	unlink(s->image);
	return 0;
}

#define IMAGE_SETUP(name) \
	static int setup_##name(void **state) { return name_image(state, #name); }

/*
 * Run @prog with the NULL-terminated arguments, its stdout and stderr in
 * the scratch output file. Returns the exit status, or -1 on a signal.
 */
static int run_program(struct scratch *s, const char *prog, va_list ap)
{
	char *argv[MAX_ARGS];
	int argc = 0, status;
	pid_t pid;

	argv[argc++] = (char *)prog;
	while (argc < MAX_ARGS - 1 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	argv[argc] = NULL;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(s->output, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execv(prog, argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_mkfs(struct scratch *s, ...)
{
	va_list ap;
	int rc;

	va_start(ap, s);
	rc = run_program(s, MKFS_BIN, ap);
	va_end(ap);
	return rc;
}

/* What the last program printed, NUL-terminated. */
static const char *output_of(struct scratch *s)
{
	static char buf[8192];
	FILE *f = fopen(s->output, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void assert_output_has(struct scratch *s, const char *text)
{
	const char *out = output_of(s);

	if (!strstr(out, text))
		fail_msg("expected \"%s\" in the output:\n%s", text, out);
}

static void read_block(int fd, uint64_t blocknr, void *buf)
{
	assert_int_equal(pread(fd, buf, VEXFS_BLOCK_SIZE,
			       (off_t)(blocknr * VEXFS_BLOCK_SIZE)),
			 VEXFS_BLOCK_SIZE);
}

static void read_super(const char *path, struct vexfs_super_block *sb)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, sb, sizeof(*sb), 0), sizeof(*sb));
	close(fd);
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

/*
 * Check every bitmap block from @start: sealed for its own block number,
 * bits below @reserved and from @count on set, all others clear.
 */
/* The journal area starts with an empty jbd2 superblock (big-endian). */
static void assert_empty_journal(const char *path, const struct vexfs_layout *l)
{
	unsigned char block[VEXFS_BLOCK_SIZE];
	uint32_t word[8];
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	read_block(fd, l->journal_start, block);
	close(fd);
	memcpy(word, block, sizeof(word));
	assert_int_equal(be32toh(word[0]), 0xc03b3998u);	/* magic */
	assert_int_equal(be32toh(word[1]), 4);		/* superblock v2 */
	assert_int_equal(be32toh(word[3]), VEXFS_BLOCK_SIZE);
	assert_int_equal(be32toh(word[4]), l->journal_blocks);
	assert_int_equal(be32toh(word[5]), 1);		/* first log block */
	assert_int_equal(be32toh(word[7]), 0);		/* s_start: clean */
}

static void assert_bitmap(int fd, uint64_t start, uint64_t nblocks,
			  uint64_t reserved, uint64_t count)
{
	static uint8_t block[VEXFS_BLOCK_SIZE];
	uint64_t i, bit;

	for (i = 0; i < nblocks; i++) {
		read_block(fd, start + i, block);
		assert_true(vexfs_block_sealed_ok(block, VEXFS_BITMAP_MAGIC,
						  start + i));
		for (bit = 0; bit < VEXFS_BITS_PER_BITMAP; bit++) {
			uint64_t n = i * VEXFS_BITS_PER_BITMAP + bit;
			bool used = n < reserved || n >= count;

			if (vexfs_bit_test(block, bit) != used)
				fail_msg("bit %llu is %s",
					 (unsigned long long)n,
					 used ? "clear" : "set");
		}
	}
}

static void assert_root_inode(const struct vexfs_inode *root)
{
	struct vexfs_extent_header eh;

	assert_true(vexfs_inode_csum_ok(root, VEXFS_ROOT_INO));
	assert_int_equal(le16toh(root->i_mode), S_IFDIR | 0755);
	assert_int_equal(le32toh(root->i_nlink), 2);
	assert_int_equal(le32toh(root->i_uid), getuid());
	assert_int_equal(le32toh(root->i_gid), getgid());
	assert_int_equal(le64toh(root->i_size), 0);
	assert_int_equal(le64toh(root->i_blocks), 0);
	assert_int_equal(le64toh(root->i_parent), VEXFS_ROOT_INO);
	assert_int_equal(le64toh(root->i_xattr_block), 0);
	assert_true(le64toh(root->i_mtime) > 1600000000);
	memcpy(&eh, root->i_extent_root, sizeof(eh));
	assert_int_equal(le16toh(eh.eh_magic), VEXFS_EXTENT_NODE_MAGIC);
	assert_int_equal(le16toh(eh.eh_entries), 0);
	assert_int_equal(le16toh(eh.eh_max), VEXFS_EXTENT_ROOT_MAX);
	assert_int_equal(le16toh(eh.eh_depth), 0);
}

/* Every inode slot but the root's is zero; the root is a valid directory. */
static void assert_inode_table(int fd, const struct vexfs_layout *l)
{
	static struct vexfs_inode table[VEXFS_INODES_PER_BLOCK];
	static const struct vexfs_inode zero;
	uint64_t b;
	unsigned int slot;

	for (b = 0; b < l->inode_table_blocks; b++) {
		read_block(fd, l->inode_table_start + b, table);
		for (slot = 0; slot < VEXFS_INODES_PER_BLOCK; slot++) {
			uint64_t ino = b * VEXFS_INODES_PER_BLOCK + slot;

			if (ino == VEXFS_ROOT_INO)
				assert_root_inode(&table[slot]);
			else
				assert_memory_equal(&table[slot], &zero,
						    sizeof(zero));
		}
	}
}

static void assert_same_geometry(const struct vexfs_layout *a,
				 const struct vexfs_layout *b)
{
	assert_int_equal(a->blocks_count, b->blocks_count);
	assert_int_equal(a->inodes_count, b->inodes_count);
	assert_int_equal(a->journal_start, b->journal_start);
	assert_int_equal(a->journal_blocks, b->journal_blocks);
	assert_int_equal(a->inode_bitmap_start, b->inode_bitmap_start);
	assert_int_equal(a->inode_bitmap_blocks, b->inode_bitmap_blocks);
	assert_int_equal(a->block_bitmap_start, b->block_bitmap_start);
	assert_int_equal(a->block_bitmap_blocks, b->block_bitmap_blocks);
	assert_int_equal(a->inode_table_start, b->inode_table_start);
	assert_int_equal(a->inode_table_blocks, b->inode_table_blocks);
	assert_int_equal(a->data_start, b->data_start);
}

/*
 * The whole check of a fresh image: superblock, geometry as the layout
 * rules give it for this size, bitmaps and inode table. Returns the layout.
 */
static struct vexfs_layout assert_valid_image(const char *path,
					      uint64_t inodes, uint64_t ratio)
{
	struct vexfs_layout_request req = {
		.device_bytes = file_size(path),
		.inodes = inodes,
		.bytes_per_inode = ratio,
	};
	struct vexfs_layout l, expect;
	struct vexfs_super_block sb;
	char err[256] = "";
	int fd;

	read_super(path, &sb);
	if (vexfs_check_super(&sb, err, sizeof(err)))
		fail_msg("bad superblock: %s", err);
	assert_int_equal(le64toh(sb.s_feature_incompat),
			 VEXFS_FEATURE_INCOMPAT_EXTENTS);
	assert_int_equal(le16toh(sb.s_state), VEXFS_STATE_CLEAN);

	vexfs_decode_layout(&sb, &l);
	/* A journal, and only then the feature and an empty jbd2 superblock. */
	assert_int_equal(le64toh(sb.s_feature_compat),
			 l.journal_blocks ? VEXFS_FEATURE_COMPAT_JOURNAL : 0);
	if (l.journal_blocks)
		assert_empty_journal(path, &l);
	assert_int_equal(vexfs_layout_compute(&req, &expect, err, sizeof(err)),
			 0);
	assert_same_geometry(&l, &expect);
	assert_int_equal(le64toh(sb.s_free_blocks), l.blocks_count - l.data_start);
	assert_int_equal(le64toh(sb.s_free_inodes), l.inodes_count - 2);

	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_bitmap(fd, l.inode_bitmap_start, l.inode_bitmap_blocks,
		      VEXFS_ROOT_INO + 1, l.inodes_count);
	assert_bitmap(fd, l.block_bitmap_start, l.block_bitmap_blocks,
		      l.data_start, l.blocks_count);
	assert_inode_table(fd, &l);
	close(fd);
	return l;
}

/* ---- formatting --------------------------------------------------- */

IMAGE_SETUP(creates_image_with_size)
static void test_creates_image_with_size(void **state)
{
	struct scratch *s = *state;
	struct vexfs_super_block sb;
	struct vexfs_layout l;

	assert_int_equal(run_mkfs(s, s->image, "8M", NULL), 0);
	assert_output_has(s, "Creating VexFS");
	assert_int_equal(file_size(s->image), 8 * MiB);
	l = assert_valid_image(s->image, 0, 0);
	assert_int_equal(l.journal_blocks, 0);

	read_super(s->image, &sb);
	assert_int_equal(sb.s_uuid[6] >> 4, 4);	/* random UUID */
	assert_int_equal(sb.s_label[0], '\0');
}

IMAGE_SETUP(size_in_blocks)
static void test_size_in_blocks(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(run_mkfs(s, "-q", s->image, "100", NULL), 0);
	assert_int_equal(file_size(s->image), 100 * VEXFS_BLOCK_SIZE);
	assert_valid_image(s->image, 0, 0);
}

IMAGE_SETUP(whole_existing_file)
static void test_whole_existing_file(void **state)
{
	struct scratch *s = *state;
	int fd = open(s->image, O_WRONLY | O_CREAT, 0644);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 * MiB + 1000), 0);
	close(fd);
	assert_int_equal(run_mkfs(s, "-q", s->image, NULL), 0);
	assert_int_equal(assert_valid_image(s->image, 0, 0).blocks_count,
			 16 * MiB / VEXFS_BLOCK_SIZE);
}

/* Above 128 MiB a journal is reserved; only metadata is written. */
IMAGE_SETUP(large_image_sparse_with_journal)
static void test_large_image_sparse_with_journal(void **state)
{
	struct scratch *s = *state;
	struct vexfs_layout l;
	struct stat st;

	assert_int_equal(run_mkfs(s, "-q", s->image, "256M", NULL), 0);
	l = assert_valid_image(s->image, 0, 0);
	assert_int_equal(l.journal_start, 1);
	assert_int_equal(l.journal_blocks, 1024);
	assert_int_equal(stat(s->image, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 < 2 * MiB);
}

IMAGE_SETUP(options_stored)
static void test_options_stored(void **state)
{
	struct scratch *s = *state;
	const uint8_t uuid[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
				   0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
				   0x32, 0x10 };
	struct vexfs_super_block sb;
	struct vexfs_layout l;

	assert_int_equal(run_mkfs(s, "-q", "-L", "my-volume", "-U",
				  "01234567-89ab-cdef-fedc-ba9876543210",
				  "-N", "1000", s->image, "32M", NULL), 0);
	l = assert_valid_image(s->image, 1000, 0);
	assert_true(l.inodes_count - 1 >= 1000);
	assert_true(l.inodes_count - 1 < 1000 + VEXFS_INODES_PER_BLOCK);
	read_super(s->image, &sb);
	assert_string_equal(sb.s_label, "my-volume");
	assert_memory_equal(sb.s_uuid, uuid, 16);
}

IMAGE_SETUP(ratio_honoured)
static void test_ratio_honoured(void **state)
{
	struct scratch *s = *state;
	struct vexfs_layout l;

	assert_int_equal(run_mkfs(s, "-q", "-i", "4096", s->image, "8M",
				  NULL), 0);
	l = assert_valid_image(s->image, 0, 4096);
	assert_true(l.inodes_count - 1 >= 8 * MiB / 4096);
}

IMAGE_SETUP(quiet_prints_nothing)
static void test_quiet_prints_nothing(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(run_mkfs(s, "-q", s->image, "1M", NULL), 0);
	assert_string_equal(output_of(s), "");
}

/* ---- refusals ----------------------------------------------------- */

IMAGE_SETUP(refuses_existing_vexfs)
static void test_refuses_existing_vexfs(void **state)
{
	struct scratch *s = *state;
	struct vexfs_super_block before, after;

	assert_int_equal(run_mkfs(s, "-q", s->image, "4M", NULL), 0);
	read_super(s->image, &before);

	assert_int_equal(run_mkfs(s, s->image, NULL), 1);
	assert_output_has(s, "vexfs signature");
	assert_output_has(s, "-f");
	read_super(s->image, &after);
	assert_memory_equal(&before, &after, sizeof(before));

	assert_int_equal(run_mkfs(s, "-q", "-f", s->image, NULL), 0);
	read_super(s->image, &after);
	assert_memory_not_equal(before.s_uuid, after.s_uuid, 16);
	assert_valid_image(s->image, 0, 0);
}

static const char *find_mkfs_ext4(void)
{
	static const char *const places[] = {
		"/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4", "/usr/bin/mkfs.ext4",
	};
	size_t i;

	for (i = 0; i < sizeof(places) / sizeof(places[0]); i++)
		if (access(places[i], X_OK) == 0)
			return places[i];
	return NULL;
}

static int run_other(struct scratch *s, const char *prog, ...)
{
	va_list ap;
	int rc;

	va_start(ap, prog);
	rc = run_program(s, prog, ap);
	va_end(ap);
	return rc;
}

static bool has_ext4_magic(const char *path)
{
	uint8_t magic[2];
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, magic, 2, 1024 + 56), 2);
	close(fd);
	return magic[0] == 0x53 && magic[1] == 0xef;
}

IMAGE_SETUP(refuses_ext4_without_force)
static void test_refuses_ext4_without_force(void **state)
{
	struct scratch *s = *state;
	const char *mkfs_ext4 = find_mkfs_ext4();
	int fd;

	if (!mkfs_ext4)
		skip();
	fd = open(s->image, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 * MiB), 0);
	close(fd);
	assert_int_equal(run_other(s, mkfs_ext4, "-q", "-F", s->image, NULL),
			 0);
	assert_true(has_ext4_magic(s->image));

	assert_int_equal(run_mkfs(s, s->image, NULL), 1);
	assert_output_has(s, "ext2/ext3/ext4");
	assert_true(has_ext4_magic(s->image));

	assert_int_equal(run_mkfs(s, "-f", s->image, NULL), 0);
	assert_output_has(s, "Overwriting");
	assert_false(has_ext4_magic(s->image));
	assert_valid_image(s->image, 0, 0);
}

IMAGE_SETUP(too_small_refused)
static void test_too_small_refused(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(run_mkfs(s, s->image, "60", NULL), 1);
	assert_output_has(s, "too small");
	assert_int_equal(access(s->image, F_OK), -1);	/* not left behind */
}

IMAGE_SETUP(bad_usage_refused)
static void test_bad_usage_refused(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(run_mkfs(s, NULL), 1);
	assert_output_has(s, "Usage");
	assert_int_equal(run_mkfs(s, s->image, NULL), 1);
	assert_output_has(s, "does not exist");
	assert_int_equal(run_mkfs(s, "-N", "0", s->image, "1M", NULL), 1);
	assert_int_equal(run_mkfs(s, "-N", "5", "-i", "4096", s->image, "1M",
				  NULL), 1);
	assert_int_equal(run_mkfs(s, "-i", "100", s->image, "1M", NULL), 1);
	assert_output_has(s, "out of range");
	assert_int_equal(run_mkfs(s, "-U", "not-a-uuid", s->image, "1M",
				  NULL), 1);
	assert_output_has(s, "bad UUID");
	assert_int_equal(run_mkfs(s, "-L", "a-label-longer-than-thirty-one-bytes",
				  s->image, "1M", NULL), 1);
	assert_output_has(s, "too long");
	assert_int_equal(run_mkfs(s, s->image, "1 ", NULL), 1);
	assert_int_equal(run_mkfs(s, s->image, "12X", NULL), 1);
	assert_output_has(s, "bad size");
	assert_int_equal(run_mkfs(s, "/dev/null", NULL), 1);
	assert_output_has(s, "neither a block device nor a regular file");
	assert_int_equal(access(s->image, F_OK), -1);
}

#define MKFS_TEST(name) \
	cmocka_unit_test_setup(test_##name, setup_##name)

int main(void)
{
	const struct CMUnitTest tests[] = {
		MKFS_TEST(creates_image_with_size),
		MKFS_TEST(size_in_blocks),
		MKFS_TEST(whole_existing_file),
		MKFS_TEST(large_image_sparse_with_journal),
		MKFS_TEST(options_stored),
		MKFS_TEST(ratio_honoured),
		MKFS_TEST(quiet_prints_nothing),
		MKFS_TEST(refuses_existing_vexfs),
		MKFS_TEST(refuses_ext4_without_force),
		MKFS_TEST(too_small_refused),
		MKFS_TEST(bad_usage_refused),
	};

	if (access(MKFS_BIN, X_OK) != 0) {
		fprintf(stderr, "%s is not built: run make -C mkfs first\n",
			MKFS_BIN);
		return 1;
	}
	return cmocka_run_group_tests_name("mkfs", tests, make_scratch,
					   remove_scratch);
}
