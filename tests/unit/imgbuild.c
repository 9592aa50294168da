// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only builder of populated VexFS images; see imgbuild.h.
 */
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uapi/vexfs.h>

#include "crc32c.h"
#include "hnsw.h"
#include "imgbuild.h"

#define BS	VEXFS_BLOCK_SIZE

static void die(const char *what)
{
	fprintf(stderr, "imgbuild: %s\n", what);
	abort();
}

void img_read_block(struct img *im, uint64_t nr, void *buf)
{
	if (pread(im->fd, buf, BS, (off_t)(nr * BS)) != BS)
		die("short read");
}

void img_write_block(struct img *im, uint64_t nr, const void *buf)
{
	if (pwrite(im->fd, buf, BS, (off_t)(nr * BS)) != BS)
		die("short write");
}

static int bit_of(struct img *im, uint64_t start, uint64_t bit)
{
	uint8_t block[BS];

	img_read_block(im, start + bit / VEXFS_BITS_PER_BITMAP, block);
	return vexfs_bit_test(block, bit % VEXFS_BITS_PER_BITMAP);
}

/* Reopened images go on after what is already allocated. */
static void find_next_free(struct img *im)
{
	uint64_t b;

	for (b = im->l.data_start; b < im->l.blocks_count; b++)
		if (bit_of(im, im->l.block_bitmap_start, b) &&
		    b + 1 > im->next_block)
			im->next_block = b + 1;
	while (im->next_ino < im->l.inodes_count &&
	       bit_of(im, im->l.inode_bitmap_start, im->next_ino))
		im->next_ino++;
}

void img_open(struct img *im, const char *path)
{
	uint8_t block[BS];

	memset(im, 0, sizeof(*im));
	im->fd = open(path, O_RDWR);
	if (im->fd < 0)
		die("cannot open the image");
	img_read_block(im, 0, block);
	memcpy(&im->sb, block, sizeof(im->sb));
	vexfs_decode_layout(&im->sb, &im->l);
	/* leave a gap after the metadata, so that block numbers vary */
	im->next_block = im->l.data_start + 3;
	im->next_ino = VEXFS_ROOT_INO + 1;
	find_next_free(im);
}

static uint64_t count_zero_bits(struct img *im, uint64_t start, uint64_t count)
{
	uint8_t block[BS];
	uint64_t bit, zeros = 0;

	for (bit = 0; bit < count; bit++) {
		if (bit % VEXFS_BITS_PER_BITMAP == 0)
			img_read_block(im, start + bit / VEXFS_BITS_PER_BITMAP,
				       block);
		zeros += !vexfs_bit_test(block, bit % VEXFS_BITS_PER_BITMAP);
	}
	return zeros;
}

void img_close(struct img *im)
{
	uint8_t block[BS];

	img_read_block(im, 0, block);
	memcpy(&im->sb, block, sizeof(im->sb));
	im->sb.s_free_inodes = htole64(count_zero_bits(im, im->l.inode_bitmap_start,
						       im->l.inodes_count));
	im->sb.s_free_blocks = htole64(count_zero_bits(im, im->l.block_bitmap_start,
						       im->l.blocks_count));
	vexfs_super_csum_set(&im->sb);
	memcpy(block, &im->sb, sizeof(im->sb));
	img_write_block(im, 0, block);
	img_close_raw(im);
}

void img_close_raw(struct img *im)
{
	close(im->fd);
	im->fd = -1;
}

void img_read_inode(struct img *im, uint64_t ino, struct vexfs_inode *raw)
{
	uint8_t block[BS];

	img_read_block(im, vexfs_inode_blocknr(&im->l, ino), block);
	memcpy(raw, block + vexfs_inode_slot(ino) * VEXFS_INODE_SIZE,
	       sizeof(*raw));
}

void img_write_inode_raw(struct img *im, uint64_t ino,
			 const struct vexfs_inode *raw)
{
	uint8_t block[BS];
	uint64_t nr = vexfs_inode_blocknr(&im->l, ino);

	img_read_block(im, nr, block);
	memcpy(block + vexfs_inode_slot(ino) * VEXFS_INODE_SIZE, raw,
	       sizeof(*raw));
	img_write_block(im, nr, block);
}

void img_write_inode(struct img *im, uint64_t ino, struct vexfs_inode *raw)
{
	vexfs_inode_csum_set(raw, ino);
	img_write_inode_raw(im, ino, raw);
}

void img_set_bit(struct img *im, uint64_t bitmap_start, uint64_t bit,
		 int value)
{
	uint64_t nr = bitmap_start + bit / VEXFS_BITS_PER_BITMAP;
	uint8_t block[BS];

	img_read_block(im, nr, block);
	if (value)
		vexfs_bit_set(block, bit % VEXFS_BITS_PER_BITMAP);
	else
		vexfs_bit_clear(block, bit % VEXFS_BITS_PER_BITMAP);
	vexfs_block_seal(block, VEXFS_BITMAP_MAGIC, nr);
	img_write_block(im, nr, block);
}

uint64_t img_alloc_block(struct img *im)
{
	uint64_t b = im->next_block++;

	if (b >= im->l.blocks_count)
		die("out of blocks");
	img_set_bit(im, im->l.block_bitmap_start, b, 1);
	return b;
}

uint64_t img_alloc_inode(struct img *im)
{
	uint64_t ino = im->next_ino++;

	if (ino >= im->l.inodes_count)
		die("out of inodes");
	img_set_bit(im, im->l.inode_bitmap_start, ino, 1);
	return ino;
}

static struct vexfs_extent_header *root_of(struct vexfs_inode *raw)
{
	return (struct vexfs_extent_header *)raw->i_extent_root;
}

static struct vexfs_extent *root_ext(struct vexfs_inode *raw, int i)
{
	return (struct vexfs_extent *)(raw->i_extent_root + 16) + i;
}

/* Map [lblk, lblk + len) to [pblk, ...) in a depth-0 root, merging. */
static void root_map(struct vexfs_inode *raw, uint32_t lblk, uint64_t pblk,
		     uint32_t len)
{
	struct vexfs_extent_header *eh = root_of(raw);
	uint16_t n = le16toh(eh->eh_entries);
	struct vexfs_extent *last = n ? root_ext(raw, n - 1) : NULL;

	if (last && le32toh(last->ee_lblk) + le32toh(last->ee_len) == lblk &&
	    le64toh(last->ee_pblk) + le32toh(last->ee_len) == pblk) {
		last->ee_len = htole32(le32toh(last->ee_len) + len);
		return;
	}
	if (n >= VEXFS_EXTENT_ROOT_MAX)
		die("extent root full");
	last = root_ext(raw, n);
	last->ee_lblk = htole32(lblk);
	last->ee_len = htole32(len);
	last->ee_pblk = htole64(pblk);
	eh->eh_entries = htole16(n + 1);
}

uint64_t img_new_inode(struct img *im, uint16_t mode, uint32_t nlink,
		       uint64_t size, uint32_t nblocks)
{
	struct vexfs_inode_params p = {
		.mode = mode, .nlink = nlink, .size = size, .blocks = nblocks,
		.time = { .tv_sec = 1700000000 }, .generation = 7,
	};
	struct vexfs_inode raw;
	uint64_t ino = img_alloc_inode(im), first = 0;
	uint8_t data[BS];
	uint32_t i;

	for (i = 0; i < nblocks; i++) {
		uint64_t b = img_alloc_block(im);

		if (!i)
			first = b;
		memset(data, (int)(ino + i), sizeof(data));
		img_write_block(im, b, data);
	}
	vexfs_encode_inode(&raw, ino, &p);
	if (nblocks)
		root_map(&raw, 0, first, nblocks);
	img_write_inode(im, ino, &raw);
	return ino;
}

static struct vexfs_dirent *rec_at(uint8_t *block, unsigned int off)
{
	return (struct vexfs_dirent *)(block + off);
}

/* Put the entry into the last record of @block if it fits. */
static int place_last(uint8_t *block, const char *name, uint64_t ino,
		      uint8_t type)
{
	unsigned int off = 0, len, need = VEXFS_DIRENT_SIZE(strlen(name));
	struct vexfs_dirent *de;

	for (;;) {
		de = rec_at(block, off);
		len = le16toh(de->d_rec_len);
		if (off + len >= VEXFS_BLOCK_PAYLOAD)
			break;
		off += len;
	}
	if (de->d_ino) {
		unsigned int used = VEXFS_DIRENT_SIZE(de->d_name_len);

		if (len - used < need)
			return -1;
		de->d_rec_len = htole16(used);
		de = rec_at(block, off + used);
		de->d_rec_len = htole16(len - used);
	}
	de->d_ino = htole64(ino);
	de->d_name_len = (uint8_t)strlen(name);
	de->d_type = type;
	memcpy(de->d_name, name, strlen(name));
	return 0;
}

void img_dir_add(struct img *im, uint64_t dir, const char *name, uint64_t ino)
{
	struct vexfs_inode draw, target;
	uint64_t nblocks, pblk;
	uint8_t block[BS];
	uint8_t type;

	img_read_inode(im, ino, &target);
	type = (le16toh(target.i_mode) >> 12) & 15;
	img_read_inode(im, dir, &draw);
	nblocks = le64toh(draw.i_size) / BS;
	if (nblocks) {
		pblk = img_bmap(im, dir, (uint32_t)(nblocks - 1));
		img_read_block(im, pblk, block);
		if (!place_last(block, name, ino, type)) {
			vexfs_block_seal(block, VEXFS_DIR_MAGIC, pblk);
			img_write_block(im, pblk, block);
			return;
		}
	}
	pblk = img_alloc_block(im);
	memset(block, 0, sizeof(block));
	rec_at(block, 0)->d_rec_len = htole16(VEXFS_BLOCK_PAYLOAD);
	place_last(block, name, ino, type);
	vexfs_block_seal(block, VEXFS_DIR_MAGIC, pblk);
	img_write_block(im, pblk, block);
	root_map(&draw, (uint32_t)nblocks, pblk, 1);
	draw.i_size = htole64((nblocks + 1) * BS);
	draw.i_blocks = htole64(le64toh(draw.i_blocks) + 1);
	img_write_inode(im, dir, &draw);
}

uint64_t img_lookup(struct img *im, uint64_t dir, const char *name)
{
	struct vexfs_inode draw;
	uint8_t block[BS];
	uint64_t lblk, nblocks;

	img_read_inode(im, dir, &draw);
	nblocks = le64toh(draw.i_size) / BS;
	for (lblk = 0; lblk < nblocks; lblk++) {
		unsigned int off = 0;

		img_read_block(im, img_bmap(im, dir, (uint32_t)lblk), block);
		while (off < VEXFS_BLOCK_PAYLOAD) {
			struct vexfs_dirent *de = rec_at(block, off);

			if (de->d_ino && de->d_name_len == strlen(name) &&
			    !memcmp(de->d_name, name, de->d_name_len))
				return le64toh(de->d_ino);
			off += le16toh(de->d_rec_len);
		}
	}
	return 0;
}

static void add_nlink(struct img *im, uint64_t ino, int delta)
{
	struct vexfs_inode raw;

	img_read_inode(im, ino, &raw);
	raw.i_nlink = htole32(le32toh(raw.i_nlink) + delta);
	img_write_inode(im, ino, &raw);
}

uint64_t img_mkdir(struct img *im, uint64_t parent, const char *name)
{
	uint64_t ino = img_new_inode(im, S_IFDIR | 0755, 2, 0, 0);
	struct vexfs_inode raw;

	img_read_inode(im, ino, &raw);
	raw.i_parent = htole64(parent);
	img_write_inode(im, ino, &raw);
	img_dir_add(im, parent, name, ino);
	add_nlink(im, parent, 1);
	return ino;
}

uint64_t img_create(struct img *im, uint64_t dir, const char *name,
		    uint64_t size)
{
	uint64_t ino = img_new_inode(im, S_IFREG | 0644, 1, size,
				     (uint32_t)((size + BS - 1) / BS));

	img_dir_add(im, dir, name, ino);
	return ino;
}

void img_link(struct img *im, uint64_t dir, const char *name, uint64_t ino)
{
	img_dir_add(im, dir, name, ino);
	add_nlink(im, ino, 1);
}

uint64_t img_symlink(struct img *im, uint64_t dir, const char *name,
		     const char *target)
{
	uint64_t ino = img_new_inode(im, S_IFLNK | 0777, 1, strlen(target), 1);
	uint8_t block[BS] = { 0 };

	memcpy(block, target, strlen(target));
	img_write_block(im, img_bmap(im, ino, 0), block);
	img_dir_add(im, dir, name, ino);
	return ino;
}

void img_set_xattr(struct img *im, uint64_t ino, const char *name,
		   const char *value)
{
	img_set_xattr_raw(im, ino, VEXFS_XATTR_INDEX_USER, name, value,
			  strlen(value));
}

/* A vector kept with a file renamed out of its collection: vec[i] = i + 1. */
void img_set_kept(struct img *im, uint64_t ino, uint32_t dim, uint64_t id)
{
	size_t len = sizeof(struct vexfs_kept_vector) + 4 * (size_t)dim;
	struct vexfs_kept_vector *kv = calloc(1, len);
	uint32_t i;
	float f;

	kv->kv_dim = htole32(dim);
	kv->kv_metric = htole16(1);
	kv->kv_id = htole64(id);
	for (i = 0; i < dim; i++) {
		f = (float)(i + 1);
		memcpy(&kv->kv_vector[i], &f, 4);
		kv->kv_vector[i] = htole32(kv->kv_vector[i]);
	}
	img_set_xattr_raw(im, ino, VEXFS_XATTR_INDEX_VECTOR, VEXFS_KEPT_NAME,
			  kv, len);
	free(kv);
}

/* The inode's xattr block, holding one entry. */
void img_set_xattr_raw(struct img *im, uint64_t ino, int index,
		       const char *name, const void *value, size_t vl)
{
	struct vexfs_xattr_header *xh;
	struct vexfs_xattr_entry *xe;
	struct vexfs_inode raw;
	uint8_t block[BS] = { 0 };
	uint64_t b = img_alloc_block(im);
	size_t nl = strlen(name);

	xh = (void *)block;
	xe = (void *)(block + sizeof(*xh));
	xe->xe_name_index = (uint8_t)index;
	xe->xe_name_len = (uint8_t)nl;
	xe->xe_value_len = htole16((uint16_t)vl);
	memcpy(xe->xe_name, name, nl);
	memcpy(xe->xe_name + nl, value, vl);
	xh->xh_count = htole32(1);
	xh->xh_used = htole32(VEXFS_XATTR_ENTRY_SIZE(nl, vl));
	xh->xh_owner = htole64(ino);
	vexfs_block_seal(block, VEXFS_XATTR_MAGIC, b);
	img_write_block(im, b, block);
	img_read_inode(im, ino, &raw);
	raw.i_xattr_block = htole64(b);
	raw.i_blocks = htole64(le64toh(raw.i_blocks) + 1);
	img_write_inode(im, ino, &raw);
}

uint64_t img_sparse(struct img *im, uint64_t dir, const char *name,
		    uint32_t nextents)
{
	uint64_t ino = img_new_inode(im, S_IFREG | 0600, 1, 0, 0);
	struct vexfs_extent_header *eh, *root;
	struct vexfs_extent_index *ix;
	struct vexfs_extent *ex;
	struct vexfs_inode raw;
	uint8_t leaf[BS] = { 0 }, data[BS];
	uint64_t leafnr = img_alloc_block(im);
	uint32_t i;

	eh = (void *)leaf;
	eh->eh_magic = htole16(VEXFS_EXTENT_NODE_MAGIC);
	eh->eh_max = htole16(VEXFS_EXTENT_NODE_MAX);
	eh->eh_entries = htole16((uint16_t)nextents);
	ex = (void *)(leaf + 16);
	for (i = 0; i < nextents; i++) {
		/* a block apart on disk, a megabyte apart in the file */
		uint64_t b = img_alloc_block(im);

		im->next_block++;
		memset(data, (int)i, sizeof(data));
		img_write_block(im, b, data);
		ex[i].ee_lblk = htole32(i * 256);
		ex[i].ee_len = htole32(1);
		ex[i].ee_pblk = htole64(b);
	}
	vexfs_block_seal(leaf, VEXFS_EXTENT_MAGIC, leafnr);
	img_write_block(im, leafnr, leaf);

	img_read_inode(im, ino, &raw);
	root = root_of(&raw);
	root->eh_depth = htole16(1);
	root->eh_entries = htole16(1);
	ix = (void *)(raw.i_extent_root + 16);
	ix->ei_lblk = 0;
	ix->ei_child = htole64(leafnr);
	raw.i_size = htole64((uint64_t)((nextents - 1) * 256 + 1) * BS);
	raw.i_blocks = htole64(nextents + 1);
	img_write_inode(im, ino, &raw);
	img_dir_add(im, dir, name, ino);
	return ino;
}

uint64_t img_bmap(struct img *im, uint64_t ino, uint32_t lblk)
{
	struct vexfs_inode raw;
	uint8_t leaf[BS];
	const uint8_t *node;
	int i, n;

	img_read_inode(im, ino, &raw);
	node = raw.i_extent_root;
	if (le16toh(root_of(&raw)->eh_depth)) {
		const struct vexfs_extent_index *ix = (const void *)(node + 16);

		img_read_block(im, le64toh(ix[0].ei_child), leaf);
		node = leaf;
	}
	n = le16toh(((const struct vexfs_extent_header *)node)->eh_entries);
	for (i = 0; i < n; i++) {
		const struct vexfs_extent *ex = (const struct vexfs_extent *)(node + 16) + i;
		uint32_t start = le32toh(ex->ee_lblk);

		if (lblk >= start && lblk - start < le32toh(ex->ee_len))
			return le64toh(ex->ee_pblk) + (lblk - start);
	}
	return 0;
}

void img_file_io(struct img *im, uint64_t ino, uint64_t pos, void *buf,
		 size_t len, int write)
{
	uint8_t block[BS], *p = buf;

	while (len) {
		uint64_t nr = img_bmap(im, ino, (uint32_t)(pos / BS));
		size_t off = pos % BS, n = BS - off < len ? BS - off : len;

		if (!nr)
			die("file I/O in a hole");
		img_read_block(im, nr, block);
		if (write) {
			memcpy(block + off, p, n);
			img_write_block(im, nr, block);
		} else {
			memcpy(p, block + off, n);
		}
		p += n;
		pos += n;
		len -= n;
	}
}

static void write_table_header(struct img *im, uint64_t table, uint64_t dir,
			       uint32_t dim, uint64_t slots)
{
	struct vexfs_vtable_header vh = {
		.vh_magic = htole32(VEXFS_VTABLE_MAGIC),
		.vh_version = htole32(1),
		.vh_dim = htole32(dim),
		.vh_metric = htole16(VEXFS_METRIC_L2),
		.vh_elem_type = htole16(VEXFS_ELEM_F32),
		.vh_rec_size = htole32(sizeof(struct vexfs_vrec) + 4 * dim),
		.vh_owner = htole64(dir),
		.vh_slots = htole64(slots),
	};
	uint8_t block[BS] = { 0 };

	vh.vh_checksum = htole32(vexfs_vtable_csum(&vh));
	/* the rest of the block zero, as the module allocates it: no change map */
	memcpy(block, &vh, sizeof(vh));
	img_file_io(im, table, 0, block, sizeof(block), 1);
}

static void write_slot(struct img *im, uint64_t table, uint32_t dim,
		       uint64_t slot, uint64_t ino)
{
	size_t rec_size = sizeof(struct vexfs_vrec) + 4 * dim;
	uint8_t rec[sizeof(struct vexfs_vrec) + 4 * 64] = { 0 };
	struct vexfs_vrec *vr = (void *)rec;
	float *vec = (float *)(vr + 1);
	uint32_t i;

	if (dim > 64)
		die("dimension too large for the builder");
	if (ino) {
		vr->vr_ino = htole64(ino);
		vr->vr_id = htole64(ino);
		vr->vr_mode = htole16(S_IFREG | 0644);
		for (i = 0; i < dim; i++)
			vec[i] = (float)(slot + i);
	}
	img_file_io(im, table, VEXFS_VTABLE_DATA_START + slot * rec_size, rec,
		    rec_size, 1);
}

uint64_t img_collection(struct img *im, uint64_t parent, const char *name,
			uint32_t dim, uint32_t nfiles, uint32_t nfree,
			uint64_t *files, uint64_t *table)
{
	uint64_t dir = img_mkdir(im, parent, name);
	uint64_t slots = nfiles + nfree;
	uint64_t size = VEXFS_VTABLE_DATA_START +
			slots * (sizeof(struct vexfs_vrec) + 4 * dim);
	struct vexfs_inode raw;
	char fname[32];
	uint32_t i;

	*table = img_new_inode(im, S_IFREG | 0600, 1, size,
			       (uint32_t)((size + BS - 1) / BS));
	img_read_inode(im, *table, &raw);
	raw.i_flags = htole16(VEXFS_INODE_VTABLE);
	raw.i_parent = htole64(dir);
	img_write_inode(im, *table, &raw);
	write_table_header(im, *table, dir, dim, slots);

	img_read_inode(im, dir, &raw);
	raw.i_flags = htole16(VEXFS_INODE_COLLECTION);
	raw.i_aux = htole32((uint32_t)*table);
	img_write_inode(im, dir, &raw);

	for (i = 0; i < nfiles; i++) {
		snprintf(fname, sizeof(fname), "%u", 1000 + i);
		files[i] = img_create(im, dir, fname, 100);
		img_read_inode(im, files[i], &raw);
		raw.i_aux = htole32(i + 1);
		raw.i_parent = htole64(dir);
		img_write_inode(im, files[i], &raw);
		write_slot(im, *table, dim, i, files[i]);
	}
	for (i = 0; i < nfree; i++)
		write_slot(im, *table, dim, nfiles + i, 0);
	return dir;
}

static uint64_t rec_size_of(struct img *im, uint64_t table,
			    uint64_t *slots)
{
	struct vexfs_vtable_header vh;

	img_file_io(im, table, 0, &vh, sizeof(vh), 0);
	*slots = le64toh(vh.vh_slots);
	return le32toh(vh.vh_rec_size);
}

void img_set_seq(struct img *im, uint64_t table, uint64_t slot, uint32_t seq)
{
	uint64_t slots, rec = rec_size_of(im, table, &slots);
	uint32_t le = htole32(seq);

	img_file_io(im, table, VEXFS_VTABLE_DATA_START + slot * rec +
		    offsetof(struct vexfs_vrec, vr_seq), &le, sizeof(le), 1);
}

void img_change_map(struct img *im, uint64_t table, unsigned int shift)
{
	struct vexfs_change_map cm = {
		.cm_magic = htole32(VEXFS_CHANGE_MAP_MAGIC),
		.cm_shift = htole16((uint16_t)shift),
	};
	uint64_t slots, rec = rec_size_of(im, table, &slots), slot;
	struct vexfs_super_block *sb;
	uint8_t block[BS];
	uint32_t seq, *entry;

	for (slot = 0; slot < slots; slot++) {
		if ((slot >> shift) >= VEXFS_CHANGE_MAP_ENTRIES)
			die("change map shift too small for the slots");
		img_file_io(im, table, VEXFS_VTABLE_DATA_START + slot * rec +
			    offsetof(struct vexfs_vrec, vr_seq), &seq, sizeof(seq), 0);
		entry = &cm.cm_seq[slot >> shift];
		if (le32toh(seq) > le32toh(*entry))
			*entry = seq;
	}
	cm.cm_checksum = htole32(vexfs_change_map_csum(&cm));
	img_file_io(im, table, VEXFS_CHANGE_MAP_OFFSET, &cm, sizeof(cm), 1);

	img_read_block(im, 0, block);
	sb = (struct vexfs_super_block *)block;
	sb->s_feature_ro_compat = htole64(le64toh(sb->s_feature_ro_compat) |
					  VEXFS_FEATURE_RO_COMPAT_CHANGE_MAP);
	vexfs_super_csum_set(sb);
	img_write_block(im, 0, block);
}

/* Vectors as write_slot() writes them, for the graph builder. */
static const float *slot_vector(void *ctx, uint32_t slot)
{
	static __thread float vec[64];
	uint32_t dim = *(const uint32_t *)ctx, i;

	for (i = 0; i < dim; i++)
		vec[i] = (float)(slot + i);
	return vec;
}

uint64_t img_index(struct img *im, uint64_t dir, uint64_t table, uint32_t dim,
		   uint32_t nlive)
{
	struct vexfs_hnsw_build_params bp;
	struct vexfs_hnsw_builder *b;
	struct vexfs_vindex_header h = { .vi_magic = htole32(VEXFS_VINDEX_MAGIC) };
	struct vexfs_vtable_header vh;
	struct vexfs_inode raw;
	uint32_t *slots = calloc(nlive ? nlive : 1, sizeof(*slots)), i;
	uint64_t ino, size;
	size_t len;
	void *graph;

	for (i = 0; i < nlive; i++)
		slots[i] = i;
	vexfs_hnsw_build_defaults(&bp);
	bp.dim = dim;
	bp.metric = VEXFS_METRIC_L2;
	bp.m = 4;
	bp.ef_construction = 16;
	bp.vector_of = slot_vector;
	bp.ctx = &dim;
	if (!slots || vexfs_hnsw_build(&bp, slots, nlive, &b))
		die("cannot build the graph");
	len = vexfs_hnsw_serialized_size(b);
	graph = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
	if (!graph || vexfs_hnsw_serialize(b, graph, len))
		die("cannot serialize the graph");
	vexfs_hnsw_builder_free(b);

	size = VEXFS_VINDEX_GRAPH_START + len;
	ino = img_new_inode(im, S_IFREG | 0600, 1, size, (uint32_t)((size + BS - 1) / BS));
	img_read_inode(im, ino, &raw);
	raw.i_flags = htole16(VEXFS_INODE_VINDEX);
	raw.i_parent = htole64(dir);
	img_write_inode(im, ino, &raw);
	h.vi_graph_len = htole64(len);
	h.vi_owner = htole64(dir);
	h.vi_checksum = htole32(vexfs_crc32c(VEXFS_CRC_SEED, &h, sizeof(h)));
	img_file_io(im, ino, 0, &h, sizeof(h), 1);
	img_file_io(im, ino, VEXFS_VINDEX_GRAPH_START, graph, len, 1);

	img_file_io(im, table, 0, &vh, sizeof(vh), 0);
	vh.vh_index_ino = htole64(ino);
	vh.vh_checksum = htole32(vexfs_vtable_csum(&vh));
	img_file_io(im, table, 0, &vh, sizeof(vh), 1);
	free(graph);
	free(slots);
	return ino;
}
