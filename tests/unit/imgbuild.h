/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A test-only builder of populated VexFS images: directories, files,
 * links, symlinks, xattrs, multi-level extent trees and vector
 * collections written straight into an image made by mkfs.vexfs, the way
 * the module lays them out. It lets fsck be tested natively, without
 * mounting, and independently of the module.
 *
 * It is deliberately simple: allocation is a bump pointer, directories
 * only grow, and any failure aborts the test.
 */
#ifndef VEXFS_IMGBUILD_H
#define VEXFS_IMGBUILD_H

#include <stdint.h>

#include "ondisk.h"

struct img {
	int fd;
	struct vexfs_super_block sb;
	struct vexfs_layout l;
	uint64_t next_block;
	uint64_t next_ino;
};

void img_open(struct img *im, const char *path);
/* Recompute the superblock's free counts from the bitmaps, seal, close. */
void img_close(struct img *im);
/* Close without touching the superblock (after damaging it on purpose). */
void img_close_raw(struct img *im);

void img_read_block(struct img *im, uint64_t nr, void *buf);
void img_write_block(struct img *im, uint64_t nr, const void *buf);
void img_read_inode(struct img *im, uint64_t ino, struct vexfs_inode *raw);
/* Seals the inode, then writes it. */
void img_write_inode(struct img *im, uint64_t ino, struct vexfs_inode *raw);
/* Writes the inode as it is, checksum included. */
void img_write_inode_raw(struct img *im, uint64_t ino,
			 const struct vexfs_inode *raw);

void img_set_bit(struct img *im, uint64_t bitmap_start, uint64_t bit,
		 int value);
uint64_t img_alloc_block(struct img *im);
uint64_t img_alloc_inode(struct img *im);

/* A new inode, linked nowhere; @nblocks contiguous data blocks. */
uint64_t img_new_inode(struct img *im, uint16_t mode, uint32_t nlink,
		       uint64_t size, uint32_t nblocks);
void img_dir_add(struct img *im, uint64_t dir, const char *name,
		 uint64_t ino);
uint64_t img_lookup(struct img *im, uint64_t dir, const char *name);

uint64_t img_mkdir(struct img *im, uint64_t parent, const char *name);
uint64_t img_create(struct img *im, uint64_t dir, const char *name,
		    uint64_t size);
void img_link(struct img *im, uint64_t dir, const char *name, uint64_t ino);
uint64_t img_symlink(struct img *im, uint64_t dir, const char *name,
		     const char *target);
void img_set_xattr(struct img *im, uint64_t ino, const char *name,
		   const char *value);
void img_set_xattr_raw(struct img *im, uint64_t ino, int index,
		       const char *name, const void *value, size_t len);
void img_set_kept(struct img *im, uint64_t ino, uint32_t dim, uint64_t id);
/* A sparse file of @nextents one-block extents, under a depth-1 tree. */
uint64_t img_sparse(struct img *im, uint64_t dir, const char *name,
		    uint32_t nextents);
/*
 * A collection of @nfiles files with vectors of @dim floats, plus
 * @nfree free slots at the end. File inodes go to @files; returns the
 * directory, its table in *table.
 */
uint64_t img_collection(struct img *im, uint64_t parent, const char *name,
			uint32_t dim, uint32_t nfiles, uint32_t nfree,
			uint64_t *files, uint64_t *table);

/*
 * An HNSW index over the first @nlive slots of a collection made by
 * img_collection(), built by lib/hnsw_build.c and stored in a hidden index
 * inode the table header names, as the module stores a published one.
 * Returns the index inode.
 */
uint64_t img_index(struct img *im, uint64_t dir, uint64_t table, uint32_t dim,
		   uint32_t nlive);

/* Set the change sequence of slot @slot of a table (the builder writes 0). */
void img_set_seq(struct img *im, uint64_t table, uint64_t slot, uint32_t seq);
/*
 * Give a table the change map of its records, each entry the highest
 * vr_seq of its 2^@shift slots (the module keeps the smallest shift that
 * covers them), and set the change map feature, as the module does
 * before its first map.
 */
void img_change_map(struct img *im, uint64_t table, unsigned int shift);

/* The physical block of logical block @lblk (trees of depth 0 or 1). */
uint64_t img_bmap(struct img *im, uint64_t ino, uint32_t lblk);
/* Read or write bytes of a file's data. */
void img_file_io(struct img *im, uint64_t ino, uint64_t pos, void *buf,
		 size_t len, int write);

#endif /* VEXFS_IMGBUILD_H */
