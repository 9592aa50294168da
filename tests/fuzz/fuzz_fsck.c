// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: fsck.vexfs on a damaged image.
 *
 * At start-up a small image is made with mkfs.vexfs and populated with
 * the test image builder (tests/unit/imgbuild.c): directories, files,
 * hard and symbolic links, an xattr, a sparse file under a deeper extent
 * tree, a vector collection (records of several change sequences under a
 * change map) and its HNSW index, and a directory of 600
 * names with a hash tree of two levels (flagged by the builder, the tree
 * then built by fsck -y, as it rebuilds one). The fuzzer's input is a
 * list of patches to that image's non-zero blocks:
 *
 *   byte 0          bit 0: run fsck -y (repairs) rather than -n
 *   then, repeated  u16 block selector, u16 offset, u8 length (1..32),
 *                   u8 flags (bit 0: fix the checksum of what was hit),
 *                   the bytes
 *
 * so most inputs reach past the checksums into the structure checks, and
 * the repairs run on damage they were not written for. fsck itself runs
 * in-process (its main() renamed), built with AddressSanitizer and UBSan.
 *
 *   build/fuzz/fuzz_fsck -max_total_time=60 -close_fd_mask=1 CORPUS_DIR
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crc32c.h"
#include "imgbuild.h"
#include "ondisk.h"

int fsck_main(int argc, char **argv);

#define BS VEXFS_BLOCK_SIZE

static uint8_t *base, *work;
static size_t image_len;
static uint64_t *blocks;	/* the base image's non-zero blocks */
static size_t nblocks;
static char path[64];
static uint64_t table_start, data_start;
static int fd = -1;		/* the image file, kept equal to base between runs */

/* A directory of many names, flagged hashed: its tree is for fsck to build. */
static void make_wide(struct img *im, uint64_t file)
{
	uint64_t wide = img_mkdir(im, VEXFS_ROOT_INO, "wide");
	struct vexfs_inode raw;
	char name[16];
	int i;

	for (i = 0; i < 600; i++) {
		snprintf(name, sizeof(name), "name-%03d", i);
		img_link(im, wide, name, file);
	}
	img_read_inode(im, wide, &raw);
	raw.i_flags = htole16(le16toh(raw.i_flags) | VEXFS_INODE_HTREE);
	img_write_inode(im, wide, &raw);
}

static void make_base(void)
{
	char *fsck_argv[] = { "fsck.vexfs", "-y", "-f", path, NULL };
	uint64_t docs, file, coll, table, vfiles[6], sub;
	struct img im;
	char cmd[256];
	int tmp = mkstemp(path), i;
	uint32_t magic;

	if (tmp < 0)
		abort();
	close(tmp);
	snprintf(cmd, sizeof(cmd), "%s -q -f -N 128 %s 2M", MKFS_BIN, path);
	if (system(cmd))
		abort();
	img_open(&im, path);
	docs = img_mkdir(&im, VEXFS_ROOT_INO, "docs");
	file = img_create(&im, docs, "a.txt", 5000);
	img_link(&im, VEXFS_ROOT_INO, "hard", file);
	img_symlink(&im, VEXFS_ROOT_INO, "link", "docs/a.txt");
	img_set_xattr(&im, file, "color", "blue");
	img_sparse(&im, VEXFS_ROOT_INO, "sparse", 12);
	sub = img_mkdir(&im, docs, "sub");
	img_create(&im, sub, "deep", 4096 * 3);
	coll = img_collection(&im, VEXFS_ROOT_INO, "vectors", 8, 6, 2, vfiles, &table);
	img_index(&im, coll, table, 8, 6);
	for (i = 0; i < 8; i++)
		img_set_seq(&im, table, i, 3 + 5 * (i % 3));
	img_change_map(&im, table, 0);
	make_wide(&im, file);
	table_start = im.l.inode_table_start;
	data_start = im.l.data_start;
	img_close(&im);
	optind = 0;
	if (fsck_main(4, fsck_argv) != 1)
		abort();
	/* and the base must then be clean */
	fsck_argv[1] = "-n";
	optind = 0;
	if (fsck_main(4, fsck_argv) != 0)
		abort();
	/* the fuzzer is to damage a change map: the base must keep its own */
	img_open(&im, path);
	img_file_io(&im, table, VEXFS_CHANGE_MAP_OFFSET, &magic, sizeof(magic), 0);
	img_close_raw(&im);
	if (le32toh(magic) != VEXFS_CHANGE_MAP_MAGIC)
		abort();
}

static void remove_image(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t zero[BS];
	FILE *f;
	size_t i;

	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "/dev/shm/vexfs-fuzz-fsck-XXXXXX");
	make_base();
	atexit(remove_image);
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END))
		abort();
	image_len = (size_t)ftell(f);
	rewind(f);
	base = malloc(image_len);
	work = malloc(image_len);
	blocks = calloc(image_len / BS, sizeof(*blocks));
	if (!base || !work || !blocks || fread(base, 1, image_len, f) != image_len)
		abort();
	fclose(f);
	for (i = 0; i < image_len / BS; i++)
		if (memcmp(base + i * BS, zero, BS))
			blocks[nblocks++] = i;
	memcpy(work, base, image_len);
	fd = open(path, O_RDWR);
	if (fd < 0)
		abort();
	return 0;
}

/* Make the damage pass the checksum of whatever it landed in. */
static void reseal(uint64_t blk, unsigned int off)
{
	uint8_t *b = work + blk * BS;
	uint32_t magic;

	if (blk == 0) {
		vexfs_super_csum_set((struct vexfs_super_block *)b);
		return;
	}
	if (blk >= table_start && blk < data_start) {
		uint64_t ino = (blk - table_start) * VEXFS_INODES_PER_BLOCK + off / VEXFS_INODE_SIZE;

		vexfs_inode_csum_set((struct vexfs_inode *)(b + off / VEXFS_INODE_SIZE * VEXFS_INODE_SIZE),
				     ino);
		return;
	}
	memcpy(&magic, b, 4);
	if (le32toh(magic) == VEXFS_VTABLE_MAGIC) {
		struct vexfs_vtable_header *vh = (void *)b;
		struct vexfs_change_map *cm = (void *)(b + VEXFS_CHANGE_MAP_OFFSET);

		vh->vh_checksum = htole32(vexfs_vtable_csum(vh));
		if (cm->cm_magic)
			cm->cm_checksum = htole32(vexfs_change_map_csum(cm));
		return;
	}
	if (le32toh(magic) == VEXFS_VINDEX_MAGIC) {
		struct vexfs_vindex_header *h = (void *)b;

		h->vi_checksum = 0;
		h->vi_checksum = htole32(vexfs_crc32c(VEXFS_CRC_SEED, h, sizeof(*h)));
		return;
	}
	memcpy(&magic, b + BS - 8, 4);
	vexfs_block_seal(b, le32toh(magic), blk);
}

/* Write blocks [first, first + n) of work to the image file. */
static void write_blocks(uint64_t first, uint64_t n)
{
	if (pwrite(fd, work + first * BS, n * BS, (off_t)(first * BS)) != (ssize_t)(n * BS))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char mode[3] = "-n", *argv[] = { "fsck.vexfs", mode, "-f", path, NULL };
	uint64_t touched[64];
	size_t pos = 1, ntouched = 0, i;

	if (!size)
		return 0;
	while (pos + 6 <= size && ntouched < 64) {
		uint16_t sel, off;
		uint8_t len, flags;
		uint64_t blk;

		memcpy(&sel, data + pos, 2);
		memcpy(&off, data + pos + 2, 2);
		len = data[pos + 4] % 32 + 1;
		flags = data[pos + 5];
		pos += 6;
		blk = blocks[sel % nblocks];
		off %= BS;
		if (len > BS - off)
			len = (uint8_t)(BS - off);
		if (len > size - pos)
			len = (uint8_t)(size - pos);
		memcpy(work + blk * BS + off, data + pos, len);
		pos += len;
		if (flags & 1)
			reseal(blk, off);
		touched[ntouched++] = blk;
	}
	for (i = 0; i < ntouched; i++)
		write_blocks(touched[i], 1);
	if (data[0] & 1)
		mode[1] = 'y';
	optind = 0;	/* getopt starts over */
	fsck_main(4, argv);
	/* Back to the base image: the damaged blocks, or everything after -y. */
	memcpy(work, base, image_len);
	if (mode[1] == 'y') {
		write_blocks(0, image_len / BS);
	} else {
		for (i = 0; i < ntouched; i++)
			write_blocks(touched[i], 1);
	}
	return 0;
}
