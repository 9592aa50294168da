// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs end to end: images made by mkfs.vexfs and populated by the
 * test builder (imgbuild.c), checked clean, then damaged one thing at a
 * time through raw edits with the checksums recomputed. For each damage:
 * -n reports it (exit 4) and writes nothing, -y repairs it (exit 1) and
 * the next run is clean (exit 0); or, for what fsck does not repair, -y
 * leaves it reported (exit 4).
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

#include "crc32c.h"
#include "jbd2.h"
#include "imgbuild.h"
#include <uapi/vexfs_hnsw.h>

#ifndef MKFS_BIN
#error "MKFS_BIN must name the mkfs.vexfs binary"
#endif
#ifndef FSCK_BIN
#error "FSCK_BIN must name the fsck.vexfs binary under test"
#endif

#define MAX_ARGS	16
#define OUTPUT_MAX	(1 << 20)

static char scratch[256];
static char image[300];
static char output_path[300];
static char output[OUTPUT_MAX];

/* What populate() made, for the damage functions to aim at. */
static struct {
	uint64_t docs, sub, file, empty, symlink, sparse, coll, table, index;
	uint64_t kept;		/* a file moved out of a collection, its vector kept */
	uint64_t vfiles[3];
} pop;

/* ---- scratch space and programs ---------------------------------- */

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
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(scratch, sizeof(scratch), "%s/vexfs-fsck-test-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(scratch))
		return -1;
	snprintf(output_path, sizeof(output_path), "%s/output", scratch);
	return 0;
}

static int remove_scratch(void **state)
{
	(void)state;
	return nftw(scratch, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Run @prog with NULL-terminated arguments; output kept in output[]. */
static int run(const char *prog, ...)
{
	char *argv[MAX_ARGS];
	int argc = 0, status, fd;
	ssize_t n;
	va_list ap;
	pid_t pid;

	argv[argc++] = (char *)prog;
	va_start(ap, prog);
	while (argc < MAX_ARGS - 1 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(output_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execv(prog, argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	fd = open(output_path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, output, sizeof(output) - 1);
	close(fd);
	output[n > 0 ? n : 0] = '\0';
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* FSCK_TEST_VERBOSE=1 shows every run's output, to see what fsck says. */
static int fsck(const char *mode)
{
	int rc = run(FSCK_BIN, mode, image, NULL);

	if (getenv("FSCK_TEST_VERBOSE"))
		fprintf(stderr, "--- fsck %s: exit %d\n%s", mode, rc, output);
	return rc;
}

/* Fail showing fsck's output, which says what went wrong. */
#define assert_fsck(mode, want) do {					\
	int rc_ = fsck(mode);						\
	if (rc_ != (want))						\
		fprintf(stderr, "fsck %s gave %d, expected %d:\n%s\n",	\
			(mode), rc_, (want), output);			\
	assert_int_equal(rc_, (want));					\
} while (0)

#define assert_output_has(text) do {					\
	if (!strstr(output, (text)))					\
		fprintf(stderr, "no '%s' in:\n%s\n", (text), output);	\
	assert_non_null(strstr(output, (text)));			\
} while (0)

static uint32_t image_hash(void)
{
	static char buf[1 << 16];
	uint32_t crc = ~0u;
	ssize_t n;
	int fd = open(image, O_RDONLY);

	assert_true(fd >= 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		crc = vexfs_crc32c(crc, buf, (size_t)n);
	close(fd);
	return crc;
}

/* ---- images -------------------------------------------------------- */

static void fresh_image(const char *name)
{
	snprintf(image, sizeof(image), "%s/%s.img", scratch, name);
	unlink(image);
	assert_int_equal(run(MKFS_BIN, "-q", "-N", "2500", image, "16M", NULL), 0);
}

/* Every kind of inode the module makes, in a few directories. */
static void populate(const char *name)
{
	struct img im;

	fresh_image(name);
	img_open(&im, image);
	pop.docs = img_mkdir(&im, VEXFS_ROOT_INO, "docs");
	pop.file = img_create(&im, pop.docs, "a.txt", 5000);
	pop.empty = img_create(&im, VEXFS_ROOT_INO, "empty", 0);
	img_link(&im, pop.docs, "hard", pop.file);
	img_link(&im, VEXFS_ROOT_INO, "hard2", pop.file);
	pop.symlink = img_symlink(&im, VEXFS_ROOT_INO, "link", "docs/a.txt");
	img_set_xattr(&im, pop.file, "color", "blue");
	pop.kept = img_create(&im, pop.docs, "moved-out", 100);
	img_set_kept(&im, pop.kept, 6, 4242);
	pop.sparse = img_sparse(&im, VEXFS_ROOT_INO, "sparse", 12);
	pop.sub = img_mkdir(&im, pop.docs, "sub");
	img_create(&im, pop.sub, "deep", 4096 * 3);
	pop.coll = img_collection(&im, VEXFS_ROOT_INO, "vectors", 8, 3, 1,
				  pop.vfiles, &pop.table);
	pop.index = img_index(&im, pop.coll, pop.table, 8, 3);
	img_close(&im);
}

/* ---- damage ---------------------------------------------------------- */

typedef void (*damage_fn)(struct img *im);

static void set_inode_field(struct img *im, uint64_t ino, size_t off,
			    size_t size, uint64_t value)
{
	struct vexfs_inode raw;
	uint64_t le = htole64(value);

	img_read_inode(im, ino, &raw);
	memcpy((uint8_t *)&raw + off, &le, size);
	img_write_inode(im, ino, &raw);
}

#define SET_INODE(im, ino, field, value) \
	set_inode_field((im), (ino), offsetof(struct vexfs_inode, field), \
			sizeof(((struct vexfs_inode *)0)->field), (value))

static void set_super_field(struct img *im, size_t off, size_t size,
			    uint64_t value, int reseal)
{
	uint8_t block[VEXFS_BLOCK_SIZE];
	uint64_t le = htole64(value);

	img_read_block(im, 0, block);
	memcpy(block + off, &le, size);
	if (reseal)
		vexfs_super_csum_set((struct vexfs_super_block *)block);
	img_write_block(im, 0, block);
}

static void leaked_block_bit(struct img *im)
{
	img_set_bit(im, im->l.block_bitmap_start, im->l.blocks_count - 10, 1);
}

static void cleared_block_bit(struct img *im)
{
	img_set_bit(im, im->l.block_bitmap_start, img_bmap(im, pop.file, 1), 0);
}

static void leaked_inode_bit(struct img *im)
{
	img_set_bit(im, im->l.inode_bitmap_start, im->l.inodes_count - 3, 1);
}

static void cleared_inode_bit(struct img *im)
{
	img_set_bit(im, im->l.inode_bitmap_start, pop.symlink, 0);
}

static void wrong_file_links(struct img *im)
{
	SET_INODE(im, pop.file, i_nlink, 5);
}

static void wrong_dir_links(struct img *im)
{
	SET_INODE(im, pop.docs, i_nlink, 2);
}

static void wrong_free_blocks(struct img *im)
{
	set_super_field(im, offsetof(struct vexfs_super_block, s_free_blocks),
			8, le64toh(im->sb.s_free_blocks) + 7, 1);
}

static void wrong_free_inodes(struct img *im)
{
	set_super_field(im, offsetof(struct vexfs_super_block, s_free_inodes),
			8, le64toh(im->sb.s_free_inodes) - 1, 1);
}

static void write_vr_ino(struct img *im, uint64_t slot, uint64_t ino)
{
	uint64_t le = htole64(ino);
	size_t rec = sizeof(struct vexfs_vrec) + 4 * 8;

	img_file_io(im, pop.table, VEXFS_VTABLE_DATA_START + slot * rec, &le,
		    sizeof(le), 1);
}

/* The free slot names a file that has no vector. */
static void dangling_slot(struct img *im)
{
	write_vr_ino(im, 3, pop.empty);
}

/* A live slot names an inode number nothing uses. */
static void slot_to_free_inode(struct img *im)
{
	write_vr_ino(im, 1, im->l.inodes_count - 2);
}

/* A file claims the free slot, which does not name it. */
static void aux_not_pointed_back(struct img *im)
{
	SET_INODE(im, pop.empty, i_aux, 4);
	SET_INODE(im, pop.empty, i_parent, pop.coll);
}

static void super_checksum(struct img *im)
{
	set_super_field(im, offsetof(struct vexfs_super_block, s_checksum), 4,
			le32toh(im->sb.s_checksum) ^ 0x5a5a, 0);
}

static void inode_checksum(struct img *im)
{
	struct vexfs_inode raw;

	img_read_inode(im, pop.file, &raw);
	raw.i_checksum ^= htole32(0x1234);
	img_write_inode_raw(im, pop.file, &raw);
}

static void bitmap_checksum(struct img *im)
{
	uint8_t block[VEXFS_BLOCK_SIZE];

	img_read_block(im, im->l.block_bitmap_start, block);
	block[VEXFS_BLOCK_SIZE - 1] ^= 0xff;
	img_write_block(im, im->l.block_bitmap_start, block);
}

static void wrong_dir_parent(struct img *im)
{
	SET_INODE(im, pop.sub, i_parent, VEXFS_ROOT_INO);
}

static void wrong_block_count(struct img *im)
{
	SET_INODE(im, pop.sparse, i_blocks, 3);
}

static void xattr_block_outside(struct img *im)
{
	SET_INODE(im, pop.file, i_xattr_block, 1);
}

static void wrong_table_links(struct img *im)
{
	SET_INODE(im, pop.table, i_nlink, 0);
}

/* Change bytes of the vector kept with pop.kept, block resealed. */
static void change_kept(struct img *im, size_t off, const void *bytes,
			size_t n)
{
	uint8_t block[VEXFS_BLOCK_SIZE], *value;
	struct vexfs_inode raw;
	uint64_t b;

	img_read_inode(im, pop.kept, &raw);
	b = le64toh(raw.i_xattr_block);
	img_read_block(im, b, block);
	value = block + sizeof(struct vexfs_xattr_header) +
		sizeof(struct vexfs_xattr_entry) + strlen(VEXFS_KEPT_NAME);
	memcpy(value + off, bytes, n);
	vexfs_block_seal(block, VEXFS_XATTR_MAGIC, b);
	img_write_block(im, b, block);
}

static void kept_vector_nan(struct img *im)
{
	uint32_t nan = htole32(0x7fc00000);

	change_kept(im, sizeof(struct vexfs_kept_vector) + 8, &nan, 4);
}

/* Only a regular file keeps a vector. */
static void kept_vector_on_directory(struct img *im)
{
	img_set_kept(im, pop.sub, 4, 99);
}

static void kept_vector_wrong_dim(struct img *im)
{
	uint32_t dim = htole32(7);

	change_kept(im, offsetof(struct vexfs_kept_vector, kv_dim), &dim, 4);
}

/* ---- what fsck must say and do ---------------------------------------- */

static void damage(damage_fn fn)
{
	struct img im;

	img_open(&im, image);
	fn(&im);
	img_close_raw(&im);
}

/* ---- the collection's index ---- */

static void index_write(struct img *im, uint64_t pos, const void *buf, size_t len)
{
	img_file_io(im, pop.index, pos, (void *)buf, len, 1);
}

static void set_table_index(struct img *im, uint64_t ino)
{
	struct vexfs_vtable_header vh;

	img_file_io(im, pop.table, 0, &vh, sizeof(vh), 0);
	vh.vh_index_ino = htole64(ino);
	vh.vh_checksum = htole32(vexfs_vtable_csum(&vh));
	img_file_io(im, pop.table, 0, &vh, sizeof(vh), 1);
}

/* The graph's m0 no longer 2 * m: the loader refuses it. */
static void bad_graph(struct img *im)
{
	uint16_t m0 = htole16(7);

	index_write(im, VEXFS_VINDEX_GRAPH_START + offsetof(struct vexfs_hnsw_header, h_m0),
		    &m0, sizeof(m0));
}

/*
 * Every link gone, so a walk reaches the entry point alone, under a
 * header that says it reaches every node: the module would take nodes no
 * search finds as covered.
 */
static void index_claims_reached(struct img *im)
{
	struct vexfs_vindex_header h;
	struct vexfs_hnsw_header g;
	uint64_t off, end;
	uint8_t zero[4096] = { 0 };

	img_file_io(im, pop.index, 0, &h, sizeof(h), 0);
	img_file_io(im, pop.index, VEXFS_VINDEX_GRAPH_START, &g, sizeof(g), 0);
	end = le64toh(g.h_upper_off) + le64toh(g.h_upper_bytes);
	for (off = le64toh(g.h_level0_off); off < end; off += sizeof(zero))
		index_write(im, VEXFS_VINDEX_GRAPH_START + off, zero, sizeof(zero));
	h.vi_flags = htole32(VEXFS_VINDEX_REACHED);
	h.vi_checksum = 0;
	h.vi_checksum = htole32(vexfs_crc32c(VEXFS_CRC_SEED, &h, sizeof(h)));
	index_write(im, 0, &h, sizeof(h));
}

static void index_header_checksum(struct img *im)
{
	uint64_t seq = htole64(1);

	index_write(im, offsetof(struct vexfs_vindex_header, vi_seq), &seq, sizeof(seq));
}

static void orphan_index(struct img *im)
{
	set_table_index(im, 0);
}

static void index_names_file(struct img *im)
{
	set_table_index(im, pop.file);
}

/*
 * On an image @make makes: -n reports (exit 4) without writing, -y
 * repairs (exit 1), then clean.
 */
static void expect_repair_on(void (*make)(const char *), const char *name,
			     damage_fn fn, const char *says)
{
	uint32_t before;

	make(name);
	damage(fn);
	before = image_hash();
	assert_fsck("-n", 4);
	assert_output_has(says);
	assert_int_equal(image_hash(), before);
	assert_fsck("-y", 1);
	assert_output_has(says);
	assert_fsck("-n", 0);
}

static void expect_repair(const char *name, damage_fn fn, const char *says)
{
	expect_repair_on(populate, name, fn, says);
}

/* Reported, and still there after -y. */
static void expect_unrepaired(const char *name, damage_fn fn, const char *says)
{
	uint32_t before;
	int rc;

	populate(name);
	damage(fn);
	before = image_hash();
	assert_fsck("-n", 4);
	assert_output_has(says);
	assert_int_equal(image_hash(), before);
	rc = fsck("-y");
	assert_true(rc & 4);
	assert_fsck("-n", 4);
	assert_output_has(says);
}

#define REPAIR_TEST(fn, says) \
	static void test_##fn(void **state) \
	{ (void)state; expect_repair(#fn, fn, says); }

#define UNREPAIRED_TEST(fn, says) \
	static void test_##fn(void **state) \
	{ (void)state; expect_unrepaired(#fn, fn, says); }

REPAIR_TEST(bad_graph, "bad index (")
REPAIR_TEST(index_header_checksum, "bad index (checksum mismatch)")
REPAIR_TEST(index_claims_reached, "says a walk reaches every node, and one does not")
REPAIR_TEST(orphan_index, "belongs to no collection")
REPAIR_TEST(index_names_file, "is not an index inode")
REPAIR_TEST(leaked_block_bit, "Block bitmap differences: -")
REPAIR_TEST(cleared_block_bit, "Block bitmap differences: +")
REPAIR_TEST(leaked_inode_bit, "Inode bitmap differences: -")
REPAIR_TEST(cleared_inode_bit, "Inode bitmap differences: +")
REPAIR_TEST(wrong_file_links, "ref count is 5, should be 3")
REPAIR_TEST(wrong_dir_links, "ref count is 2, should be 3")
REPAIR_TEST(wrong_free_blocks, "Free blocks count wrong")
REPAIR_TEST(wrong_free_inodes, "Free inodes count wrong")
REPAIR_TEST(dangling_slot, "slot 3 names inode")
REPAIR_TEST(slot_to_free_inode, "slot 1 names inode")
REPAIR_TEST(aux_not_pointed_back, "does not name it")
REPAIR_TEST(super_checksum, "Superblock checksum")
REPAIR_TEST(inode_checksum, "passes checks, but its checksum")
REPAIR_TEST(bitmap_checksum, "Block bitmap block")
REPAIR_TEST(wrong_dir_parent, "i_parent is 1, should be")
REPAIR_TEST(wrong_block_count, "i_blocks is 3, should be 13")
REPAIR_TEST(wrong_table_links, "link count is 0, should be 1")
REPAIR_TEST(xattr_block_outside, "is outside the data area.  Drop the block")

static void dir_block_checksum(struct img *im)
{
	uint8_t block[VEXFS_BLOCK_SIZE];
	uint64_t nr = img_bmap(im, pop.docs, 0);

	img_read_block(im, nr, block);
	block[100] ^= 1;
	img_write_block(im, nr, block);
}

static void bad_extent_node(struct img *im)
{
	struct vexfs_inode raw;
	uint8_t block[VEXFS_BLOCK_SIZE];
	uint64_t leaf;

	img_read_inode(im, pop.sparse, &raw);
	leaf = le64toh(((struct vexfs_extent_index *)(raw.i_extent_root + 16))->ei_child);
	img_read_block(im, leaf, block);
	((struct vexfs_extent_header *)block)->eh_max = htole16(100);
	vexfs_block_seal(block, VEXFS_EXTENT_MAGIC, leaf);
	img_write_block(im, leaf, block);
}

static void extents_out_of_order(struct img *im)
{
	struct vexfs_inode raw;
	uint8_t block[VEXFS_BLOCK_SIZE];
	struct vexfs_extent *ex = (struct vexfs_extent *)(block + 16);
	uint64_t leaf;

	img_read_inode(im, pop.sparse, &raw);
	leaf = le64toh(((struct vexfs_extent_index *)(raw.i_extent_root + 16))->ei_child);
	img_read_block(im, leaf, block);
	ex[5].ee_lblk = ex[2].ee_lblk;
	vexfs_block_seal(block, VEXFS_EXTENT_MAGIC, leaf);
	img_write_block(im, leaf, block);
}

static void shared_block(struct img *im)
{
	struct vexfs_inode raw;
	struct vexfs_extent *ex = (struct vexfs_extent *)(raw.i_extent_root + 16);

	img_read_inode(im, pop.symlink, &raw);
	ex->ee_pblk = htole64(img_bmap(im, pop.file, 0));
	img_write_inode(im, pop.symlink, &raw);
}

/* A bad index while blocks are shared: it is forgotten, not released. */
/* The first entry of docs names an inode past the inode table. */
static void bad_entry_inode(struct img *im)
{
	uint8_t block[VEXFS_BLOCK_SIZE];
	uint64_t nr = img_bmap(im, pop.docs, 0);

	img_read_block(im, nr, block);
	((struct vexfs_dirent *)block)->d_ino = htole64(999999);
	vexfs_block_seal(block, VEXFS_DIR_MAGIC, nr);
	img_write_block(im, nr, block);
}

/* A root extent of length 0: the module refuses the inode. */
static void bad_extent_root(struct img *im)
{
	struct vexfs_inode raw;
	struct vexfs_extent *ex = (struct vexfs_extent *)(raw.i_extent_root + 16);

	img_read_inode(im, pop.file, &raw);
	ex->ee_len = 0;
	img_write_inode(im, pop.file, &raw);
}

static void bad_graph_shared_block(struct img *im)
{
	bad_graph(im);
	shared_block(im);
}


static void test_bad_graph_shared_block(void **state)
{
	(void)state;
	populate("bad_graph_shared");
	damage(bad_graph_shared_block);
	assert_fsck("-n", 4);
	assert_output_has("bad index (");
	/* the index is forgotten (fixed), its inode stays (not released) */
	assert_fsck("-y", 5);
	assert_output_has("is not released while blocks are shared");
	assert_fsck("-n", 4);
	assert_null(strstr(output, "bad index ("));
}

static void entry_to_free_inode(struct img *im)
{
	struct vexfs_inode zero = { 0 };

	img_write_inode_raw(im, pop.symlink, &zero);
	img_set_bit(im, im->l.inode_bitmap_start, pop.symlink, 0);
}

static void wrong_entry_type(struct img *im)
{
	SET_INODE(im, pop.empty, i_mode, S_IFIFO | 0644);
}

/* The records of docs' first block stop making sense at its second. */
static void bad_dir_record(struct img *im)
{
	uint8_t block[VEXFS_BLOCK_SIZE];
	uint64_t nr = img_bmap(im, pop.docs, 0);
	struct vexfs_dirent *first = (struct vexfs_dirent *)block;

	img_read_block(im, nr, block);
	((struct vexfs_dirent *)(block + le16toh(first->d_rec_len)))->d_rec_len = htole16(3);
	vexfs_block_seal(block, VEXFS_DIR_MAGIC, nr);
	img_write_block(im, nr, block);
}

/* A second 'a.txt' in docs, and an entry '..' stored in sub. */
static void dup_and_dot_entries(struct img *im)
{
	img_dir_add(im, pop.docs, "a.txt", pop.empty);
	img_dir_add(im, pop.sub, "..", pop.docs);
}

/* The root and a collection's vector table named in docs. */
static void entries_to_root_and_table(struct img *im)
{
	img_dir_add(im, pop.docs, "up", VEXFS_ROOT_INO);
	img_dir_add(im, pop.docs, "table", pop.table);
}

/* docs/sub named from the root as well. */
static void dir_two_parents(struct img *im)
{
	img_dir_add(im, VEXFS_ROOT_INO, "sub-again", pop.sub);
}

/* An entry to repair while two files share a block: left as it is. */
static void entry_repair_shared_block(struct img *im)
{
	wrong_entry_type(im);
	shared_block(im);
}

static void bad_table_header(struct img *im)
{
	uint32_t dim = htole32(9);

	img_file_io(im, pop.table, offsetof(struct vexfs_vtable_header, vh_dim),
		    &dim, sizeof(dim), 1);
}

static void garbage_inode(struct img *im)
{
	struct vexfs_inode raw;

	img_read_inode(im, pop.empty, &raw);
	memset(&raw, 0x5a, 64);
	img_write_inode_raw(im, pop.empty, &raw);
}

REPAIR_TEST(dir_block_checksum, "checksum mismatch.  Check its records and reseal it.")
REPAIR_TEST(entry_to_free_inode, "refers to a free inode.  Clear it.")
REPAIR_TEST(wrong_entry_type, "has type 8, but inode")
REPAIR_TEST(bad_dir_record, "bad record at offset")
REPAIR_TEST(bad_entry_inode, "bad entry at offset 0.  Clear it.")
UNREPAIRED_TEST(entry_repair_shared_block, "Not repaired while blocks are shared.")
REPAIR_TEST(bad_extent_root, "its extent tree's root is invalid (mode 0100644).  Clear the inode.")
REPAIR_TEST(dup_and_dot_entries, "repeats a name of the directory.  Clear it.")
REPAIR_TEST(entries_to_root_and_table, "links the root directory.  Clear it.")
UNREPAIRED_TEST(dir_two_parents, "is linked from directory")
UNREPAIRED_TEST(kept_vector_nan, "a kept vector with a component that is not finite")
UNREPAIRED_TEST(kept_vector_wrong_dim, "a kept vector whose length is not its dimension's")
UNREPAIRED_TEST(kept_vector_on_directory, "a kept vector on an inode that is no regular file")
UNREPAIRED_TEST(bad_extent_node, "header gives")
UNREPAIRED_TEST(extents_out_of_order, "out of order")
UNREPAIRED_TEST(shared_block, "also used by something else")
UNREPAIRED_TEST(bad_table_header, "bad header (checksum mismatch)")
UNREPAIRED_TEST(garbage_inode, "contents are invalid")

/* ---- the vector table's change map ---------------------------------- */

/* The change sequences populate_mapped() gives slots 0-3 (3 is free). */
static const uint32_t slot_seqs[4] = { 5, 9, 7, 12 };

static void set_slot_seqs(struct img *im)
{
	uint64_t slot;

	for (slot = 0; slot < 4; slot++)
		img_set_seq(im, pop.table, slot, slot_seqs[slot]);
}

/* populate(), with changed records and a change map over them. */
static void populate_mapped(const char *name)
{
	struct img im;

	populate(name);
	img_open(&im, image);
	set_slot_seqs(&im);
	img_change_map(&im, pop.table, 0);
	img_close(&im);
}

static void read_map(struct vexfs_change_map *cm)
{
	struct img im;

	img_open(&im, image);
	img_file_io(&im, pop.table, VEXFS_CHANGE_MAP_OFFSET, cm, sizeof(*cm), 0);
	img_close_raw(&im);
}

/* Change the map through @edit, then reseal it or not. */
static void edit_map(struct img *im, void (*edit)(struct vexfs_change_map *),
		     bool reseal)
{
	struct vexfs_change_map cm;

	img_file_io(im, pop.table, VEXFS_CHANGE_MAP_OFFSET, &cm, sizeof(cm), 0);
	edit(&cm);
	if (reseal)
		cm.cm_checksum = htole32(vexfs_change_map_csum(&cm));
	img_file_io(im, pop.table, VEXFS_CHANGE_MAP_OFFSET, &cm, sizeof(cm), 1);
}

/* The map is sound, of shift 0, and its entries are @seqs. */
static void assert_map(const uint32_t seqs[4])
{
	struct vexfs_change_map cm;
	int i;

	read_map(&cm);
	assert_int_equal(le32toh(cm.cm_magic), VEXFS_CHANGE_MAP_MAGIC);
	assert_int_equal(le32toh(cm.cm_checksum), vexfs_change_map_csum(&cm));
	assert_int_equal(le16toh(cm.cm_shift), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(le32toh(cm.cm_seq[i]), seqs[i]);
}

static uint64_t ro_compat(void)
{
	struct img im;
	uint64_t ro;

	img_open(&im, image);
	ro = le64toh(im.sb.s_feature_ro_compat);
	img_close_raw(&im);
	return ro;
}

static void lower_entry_1(struct vexfs_change_map *cm)
{
	cm->cm_seq[1] = htole32(3);
}

static void flip_entry_0(struct vexfs_change_map *cm)
{
	cm->cm_seq[0] ^= htole32(1);
}

static void shift_33(struct vexfs_change_map *cm)
{
	cm->cm_shift = htole16(33);
}

static void reserved_set(struct vexfs_change_map *cm)
{
	cm->cm_reserved2 = htole32(1);
}

static void entry_2_too_large(struct vexfs_change_map *cm)
{
	cm->cm_seq[2] = htole32(0xffffffffu);
}

static void shift_2(struct vexfs_change_map *cm)
{
	cm->cm_shift = htole16(2);
	cm->cm_seq[0] = htole32(12);
	memset(&cm->cm_seq[1], 0, 3 * sizeof(cm->cm_seq[0]));
}

static void map_entry_low(struct img *im)
{
	edit_map(im, lower_entry_1, true);
}

static void map_checksum(struct img *im)
{
	edit_map(im, flip_entry_0, false);
}

static void map_shift_out_of_range(struct img *im)
{
	edit_map(im, shift_33, true);
}

static void map_reserved(struct img *im)
{
	edit_map(im, reserved_set, true);
}

static void map_entry_too_large(struct img *im)
{
	edit_map(im, entry_2_too_large, true);
}

static void map_coarse(struct img *im)
{
	edit_map(im, shift_2, true);
}

static void map_no_feature(struct img *im)
{
	set_super_field(im, offsetof(struct vexfs_super_block, s_feature_ro_compat),
			8, le64toh(im->sb.s_feature_ro_compat) &
			   ~VEXFS_FEATURE_RO_COMPAT_CHANGE_MAP, 1);
}

/* A table whose map matches its records is clean, and left as it is. */
static void test_change_map_clean(void **state)
{
	uint32_t before;

	(void)state;
	populate_mapped("cmap_clean");
	before = image_hash();
	assert_fsck("-n", 0);
	assert_null(strstr(output, "Fix?"));
	assert_fsck("-y", 0);
	assert_int_equal(image_hash(), before);
	assert_fsck("-nv", 0);
	assert_output_has("1 of them with a change map");
}

/* Runs larger than they need be, entries above their slots: only slower. */
static void test_change_map_coarse_clean(void **state)
{
	uint32_t before;

	(void)state;
	populate_mapped("cmap_coarse");
	damage(map_coarse);
	before = image_hash();
	assert_fsck("-n", 0);
	assert_fsck("-y", 0);
	assert_int_equal(image_hash(), before);
}

/* An entry below a slot's vr_seq would hide the slot from search. */
static void test_change_map_entry_low(void **state)
{
	(void)state;
	expect_repair_on(populate_mapped, "cmap_low", map_entry_low,
			 "change map entry 1 is 3, below the change sequence 9 of slot 1");
	assert_map(slot_seqs);
}

static void test_change_map_checksum(void **state)
{
	(void)state;
	expect_repair_on(populate_mapped, "cmap_csum", map_checksum,
			 "bad change map (checksum mismatch).  Rewrite it.");
	assert_map(slot_seqs);
}

static void test_change_map_shift(void **state)
{
	(void)state;
	expect_repair_on(populate_mapped, "cmap_shift", map_shift_out_of_range,
			 "bad change map (shift out of range)");
	assert_map(slot_seqs);
}

static void test_change_map_reserved(void **state)
{
	(void)state;
	expect_repair_on(populate_mapped, "cmap_reserved", map_reserved,
			 "bad change map (reserved fields not zero)");
	assert_map(slot_seqs);
}

/* Above every sequence a record can carry: the module refuses the map. */
static void test_change_map_entry_too_large(void **state)
{
	(void)state;
	expect_repair_on(populate_mapped, "cmap_too_large", map_entry_too_large,
			 "bad change map (an entry above the largest change sequence)");
	assert_map(slot_seqs);
}

/* A map the superblock does not vouch for: the bit is set. */
static void test_change_map_no_feature(void **state)
{
	(void)state;
	expect_repair_on(populate_mapped, "cmap_feature", map_no_feature,
			 "lacks the change map feature.  Set it.");
	assert_true(ro_compat() & VEXFS_FEATURE_RO_COMPAT_CHANGE_MAP);
	assert_map(slot_seqs);
}

/* A slot fsck frees is zeroed: the map is rewritten over what is left. */
static void test_change_map_after_slot_freed(void **state)
{
	static const uint32_t after[4] = { 5, 9, 7, 0 };

	(void)state;
	expect_repair_on(populate_mapped, "cmap_freed", dangling_slot,
			 "slot 3 names inode");
	assert_map(after);
}

static void shift_1(struct vexfs_change_map *cm)
{
	cm->cm_shift = htole16(1);
}

static void lower_entry_375(struct vexfs_change_map *cm)
{
	cm->cm_seq[375] = htole32(29);
}

static void map_shift_too_small(struct img *im)
{
	edit_map(im, shift_1, true);
}

static void map_run_low(struct img *im)
{
	edit_map(im, lower_entry_375, true);
}

/*
 * 2,102 slots need runs of 4 (shift 2) to fit 1,004 entries: a map of
 * shift 1 leaves slots without an entry, and a rewrite picks shift 2.
 */
static void make_large_table(const char *name)
{
	uint64_t files[2];
	struct img im;

	fresh_image(name);
	img_open(&im, image);
	pop.coll = img_collection(&im, VEXFS_ROOT_INO, "big", 8, 2, 2100, files,
				  &pop.table);
	img_set_seq(&im, pop.table, 0, 1);
	img_set_seq(&im, pop.table, 1500, 30);
	img_set_seq(&im, pop.table, 2101, 40);
	img_change_map(&im, pop.table, 2);
	img_close(&im);
}

static void assert_large_map(void)
{
	struct vexfs_change_map cm;

	read_map(&cm);
	assert_int_equal(le32toh(cm.cm_checksum), vexfs_change_map_csum(&cm));
	assert_int_equal(le16toh(cm.cm_shift), 2);
	assert_int_equal(le32toh(cm.cm_seq[0]), 1);
	assert_int_equal(le32toh(cm.cm_seq[375]), 30);
	assert_int_equal(le32toh(cm.cm_seq[525]), 40);
	assert_int_equal(le32toh(cm.cm_seq[374]), 0);
}

static void test_change_map_large(void **state)
{
	uint32_t before;

	(void)state;
	make_large_table("cmap_large");
	before = image_hash();
	assert_fsck("-n", 0);
	assert_int_equal(image_hash(), before);
	expect_repair_on(make_large_table, "cmap_large_shift", map_shift_too_small,
			 "bad change map (too few entries for its slots)");
	assert_large_map();
	expect_repair_on(make_large_table, "cmap_large_low", map_run_low,
			 "change map entry 375 is 29, below the change sequence 30 of slot 1500");
	assert_large_map();
}

/* A table an older module wrote has no map: no fault, and none is made. */
static void test_no_change_map(void **state)
{
	struct vexfs_change_map cm;
	uint32_t before;

	(void)state;
	populate("cmap_none");
	damage(set_slot_seqs);
	before = image_hash();
	assert_fsck("-n", 0);
	assert_fsck("-y", 0);
	assert_int_equal(image_hash(), before);
	damage(dangling_slot);
	assert_fsck("-y", 1);
	assert_fsck("-nv", 0);
	assert_output_has("0 of them with a change map");
	read_map(&cm);
	assert_int_equal(cm.cm_magic, 0);
	assert_false(ro_compat() & VEXFS_FEATURE_RO_COMPAT_CHANGE_MAP);
}

/* ---- clean images, lost+found, releases, operational errors ---------- */

static void test_fresh_image_clean(void **state)
{
	uint32_t before;

	(void)state;
	fresh_image("fresh");
	before = image_hash();
	assert_fsck("-n", 0);
	assert_output_has("Pass 6: checking bitmaps and free counts");
	assert_output_has("1/");
	assert_fsck("-y", 0);
	assert_fsck("-p", 0);
	assert_fsck("-f", 8);	/* no terminal to ask: -n, -y or -p needed */
	assert_int_equal(image_hash(), before);
}

static void test_populated_image_clean(void **state)
{
	uint32_t before;

	(void)state;
	populate("populated");
	before = image_hash();
	assert_fsck("-n", 0);
	assert_null(strstr(output, "Fix?"));
	assert_null(strstr(output, "Not repaired"));
	assert_fsck("-y", 0);
	assert_int_equal(image_hash(), before);
	assert_int_equal(run(FSCK_BIN, "-n", "-v", image, NULL), 0);
	assert_output_has("3 vectors");
}

/*
 * A journal aborted in an earlier mount records its error in s_errno,
 * which would keep the module from writing: not damage, but fsck says so
 * and, writing, clears it.
 */
static void test_journal_error_cleared(void **state)
{
	uint8_t block[VEXFS_BLOCK_SIZE];
	struct jbd2_super *js = (struct jbd2_super *)block;
	uint32_t before;
	struct img im;

	(void)state;
	/* Large enough to have a journal (VEXFS_JOURNAL_MIN_IMAGE_BYTES). */
	snprintf(image, sizeof(image), "%s/journal-error.img", scratch);
	unlink(image);
	assert_int_equal(run(MKFS_BIN, "-q", image, "128M", NULL), 0);
	img_open(&im, image);
	assert_true(im.l.journal_blocks != 0);
	img_read_block(&im, im.l.journal_start, block);
	js->s_errno = htobe32((uint32_t)-5);
	img_write_block(&im, im.l.journal_start, block);
	img_close(&im);
	before = image_hash();
	assert_fsck("-n", 0);
	assert_output_has("the journal was aborted in an earlier mount (error -5)");
	assert_int_equal(image_hash(), before);
	assert_fsck("-y", 0);
	assert_output_has("error cleared");
	img_open(&im, image);
	img_read_block(&im, im.l.journal_start, block);
	img_close(&im);
	assert_int_equal(js->s_errno, 0);
	assert_fsck("-n", 0);
	assert_null(strstr(output, "aborted"));
}

static void test_unattached_file_to_lost_found(void **state)
{
	uint64_t ino = 0;
	struct img im;
	char name[32];

	(void)state;
	populate("unattached");
	img_open(&im, image);
	ino = img_new_inode(&im, S_IFREG | 0644, 1, 10, 1);
	img_close(&im);
	assert_fsck("-n", 4);
	assert_output_has("Unattached inode");
	assert_fsck("-y", 1);
	assert_output_has("lost+found created");
	assert_fsck("-n", 0);
	img_open(&im, image);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)ino);
	assert_int_equal(img_lookup(&im, img_lookup(&im, VEXFS_ROOT_INO, "lost+found"), name), ino);
	img_close_raw(&im);
}

/* Flag a directory hashed: its tree, missing, is for fsck to build. */
static void flag_hashed(struct img *im, uint64_t dir)
{
	struct vexfs_inode raw;

	img_read_inode(im, dir, &raw);
	raw.i_flags = htole16(le16toh(raw.i_flags) | VEXFS_INODE_HTREE);
	img_write_inode(im, dir, &raw);
}

static void docs_hashed(struct img *im)
{
	flag_hashed(im, pop.docs);
}

/* A hashed directory without its tree: found, built, then clean. */
static void test_hashed_dir_without_tree(void **state)
{
	(void)state;
	populate("htree_missing");
	damage(docs_hashed);
	assert_fsck("-n", 4);
	assert_output_has("its hash tree has a block missing");
	assert_fsck("-y", 1);
	assert_output_has("Rebuild it");
	assert_fsck("-nv", 0);
	assert_output_has("1 hashed directories");
}

/*
 * A file found unattached goes to lost+found, made in a hashed root:
 * the root's tree must take the new name, so the next check is clean.
 */
static void test_lost_found_in_hashed_root(void **state)
{
	struct img im;

	(void)state;
	populate("htree_lost_found");
	img_open(&im, image);
	flag_hashed(&im, VEXFS_ROOT_INO);
	img_new_inode(&im, S_IFREG | 0644, 1, 10, 1);
	img_close(&im);
	assert_fsck("-y", 1);
	assert_output_has("lost+found created");
	assert_fsck("-nv", 0);
	assert_output_has("1 hashed directories");
}

/* lost+found already holds the name "#INO" for another file. */
static void test_lost_found_name_taken(void **state)
{
	uint64_t ino, lf;
	struct img im;
	char name[32];

	(void)state;
	populate("lf_name_taken");
	img_open(&im, image);
	lf = img_mkdir(&im, VEXFS_ROOT_INO, "lost+found");
	ino = img_new_inode(&im, S_IFREG | 0644, 1, 10, 1);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)ino);
	img_link(&im, lf, name, pop.empty);
	img_close(&im);
	assert_fsck("-n", 4);
	assert_output_has("Unattached inode");
	assert_fsck("-y", 1);
	assert_fsck("-n", 0);
	img_open(&im, image);
	assert_int_equal(img_lookup(&im, lf, name), pop.empty);
	snprintf(name, sizeof(name), "#%llu.1", (unsigned long long)ino);
	assert_int_equal(img_lookup(&im, lf, name), ino);
	img_close_raw(&im);
}

/* A directory whose entry is gone, with a file in it. */
static void test_unattached_dir_to_lost_found(void **state)
{
	struct vexfs_inode raw;
	uint64_t dir, file, lf;
	struct img im;
	char name[32];

	(void)state;
	populate("unattached_dir");
	img_open(&im, image);
	dir = img_new_inode(&im, S_IFDIR | 0755, 2, 0, 0);
	img_read_inode(&im, dir, &raw);
	raw.i_parent = htole64(pop.docs);
	img_write_inode(&im, dir, &raw);
	file = img_create(&im, dir, "inside", 10);
	img_close(&im);
	assert_fsck("-n", 4);
	assert_output_has("Unconnected directory inode");
	assert_fsck("-y", 1);
	assert_fsck("-n", 0);
	img_open(&im, image);
	lf = img_lookup(&im, VEXFS_ROOT_INO, "lost+found");
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)dir);
	assert_int_equal(img_lookup(&im, lf, name), dir);
	assert_int_equal(img_lookup(&im, dir, "inside"), file);
	img_close_raw(&im);
}

/*
 * Many orphans, and every other free block taken: lost+found grows to
 * 13 blocks in 11 extents, past what its root holds.
 */
static void test_many_orphans(void **state)
{
	uint64_t base, lf;
	struct vexfs_inode raw;
	struct img im;
	int i;

	(void)state;
	populate("many_orphans");
	img_open(&im, image);
	for (i = 0; i < 2200; i++)
		img_new_inode(&im, S_IFREG | 0644, 1, 0, 0);
	base = im.next_block;
	for (i = 0; i < 32; i++)
		img_set_bit(&im, im.l.block_bitmap_start, base + 2 * i + 1, 1);
	img_close(&im);
	assert_fsck("-n", 4);
	assert_fsck("-y", 1);
	assert_fsck("-n", 0);
	img_open(&im, image);
	lf = img_lookup(&im, VEXFS_ROOT_INO, "lost+found");
	img_read_inode(&im, lf, &raw);
	assert_int_equal(le16toh(((struct vexfs_extent_header *)raw.i_extent_root)->eh_depth), 1);
	img_close_raw(&im);
}

/* Deleted while open, never released: no links, no name. */
static void test_deleted_inode_released(void **state)
{
	struct img im;

	(void)state;
	populate("deleted");
	img_open(&im, image);
	img_new_inode(&im, S_IFREG | 0644, 0, 8192, 2);
	img_close(&im);
	assert_fsck("-n", 4);
	assert_output_has("has no links and no name");
	assert_fsck("-y", 1);
	/* the release itself frees the bits: no difference left to report */
	assert_null(strstr(output, "bitmap differences"));
	assert_fsck("-n", 0);
}

static void test_orphan_table_released(void **state)
{
	struct vexfs_inode raw;
	uint64_t table;
	struct img im;

	(void)state;
	populate("orphan_table");
	img_open(&im, image);
	table = img_new_inode(&im, S_IFREG | 0600, 1, 8192, 2);
	img_read_inode(&im, table, &raw);
	raw.i_flags = htole16(VEXFS_INODE_VTABLE);
	raw.i_parent = htole64(pop.docs);
	img_write_inode(&im, table, &raw);
	img_close(&im);
	assert_fsck("-n", 4);
	assert_output_has("belongs to no collection");
	assert_fsck("-y", 1);
	assert_fsck("-n", 0);
}

static void test_index_checked(void **state)
{
	(void)state;
	populate("index");
	assert_fsck("-nv", 0);
	assert_output_has(" 1 HNSW indexes");
}

static void test_preen_fixes_quietly(void **state)
{
	(void)state;
	populate("preen");
	damage(leaked_block_bit);
	assert_fsck("-p", 1);
	assert_output_has(image);
	assert_null(strstr(output, "Pass 1"));
	assert_fsck("-n", 0);
}

static void test_not_vexfs(void **state)
{
	struct img im;

	(void)state;
	fresh_image("magic");
	img_open(&im, image);
	set_super_field(&im, 0, 4, 0x12345678, 1);
	img_close_raw(&im);
	assert_fsck("-n", 8);
	assert_output_has("bad magic");
	assert_fsck("-y", 8);
}

static void test_device_too_small(void **state)
{
	(void)state;
	fresh_image("small");
	assert_int_equal(truncate(image, 8 << 20), 0);
	assert_fsck("-n", 8);
	assert_output_has("device only");
}

static void test_usage(void **state)
{
	(void)state;
	assert_int_equal(run(FSCK_BIN, NULL), 16);
	assert_int_equal(run(FSCK_BIN, "-n", "-y", "x", NULL), 16);
	assert_int_equal(run(FSCK_BIN, "-q", "x", NULL), 16);
	assert_int_equal(run(FSCK_BIN, "-n", "/nonexistent/image", NULL), 8);
}

#define T(name) cmocka_unit_test(test_##name)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(fresh_image_clean),
		T(populated_image_clean),
		T(index_checked),
		T(bad_graph),
		T(index_header_checksum),
		T(index_claims_reached),
		T(orphan_index),
		T(index_names_file),
		T(bad_graph_shared_block),
		T(change_map_clean),
		T(change_map_coarse_clean),
		T(change_map_entry_low),
		T(change_map_checksum),
		T(change_map_shift),
		T(change_map_reserved),
		T(change_map_entry_too_large),
		T(change_map_no_feature),
		T(change_map_after_slot_freed),
		T(change_map_large),
		T(no_change_map),
		T(leaked_block_bit),
		T(cleared_block_bit),
		T(leaked_inode_bit),
		T(cleared_inode_bit),
		T(wrong_file_links),
		T(wrong_dir_links),
		T(wrong_free_blocks),
		T(wrong_free_inodes),
		T(dangling_slot),
		T(slot_to_free_inode),
		T(aux_not_pointed_back),
		T(super_checksum),
		T(inode_checksum),
		T(bitmap_checksum),
		T(wrong_dir_parent),
		T(wrong_block_count),
		T(wrong_table_links),
		T(xattr_block_outside),
		T(kept_vector_nan),
		T(kept_vector_wrong_dim),
		T(kept_vector_on_directory),
		T(dir_block_checksum),
		T(bad_extent_node),
		T(extents_out_of_order),
		T(shared_block),
		T(entry_to_free_inode),
		T(wrong_entry_type),
		T(bad_dir_record),
		T(bad_extent_root),
		T(bad_entry_inode),
		T(entry_repair_shared_block),
		T(dup_and_dot_entries),
		T(entries_to_root_and_table),
		T(dir_two_parents),
		T(bad_table_header),
		T(garbage_inode),
		T(unattached_file_to_lost_found),
		T(hashed_dir_without_tree),
		T(lost_found_in_hashed_root),
		T(unattached_dir_to_lost_found),
		T(lost_found_name_taken),
		T(many_orphans),
		T(deleted_inode_released),
		T(orphan_table_released),
		T(preen_fixes_quietly),
		T(journal_error_cleared),
		T(not_vexfs),
		T(device_too_small),
		T(usage),
	};

	if (access(MKFS_BIN, X_OK) != 0 || access(FSCK_BIN, X_OK) != 0) {
		fprintf(stderr, "%s or %s is not built: run make -C mkfs first\n",
			MKFS_BIN, FSCK_BIN);
		return 1;
	}
	return cmocka_run_group_tests_name("fsck", tests, make_scratch,
					   remove_scratch);
}
