/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fsck.vexfs: the names of one directory, to find a name stored twice,
 * and names made printable for messages.
 */
#ifndef VEXFS_FSCK_NAMES_H
#define VEXFS_FSCK_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fsck_names {
	struct fsck_name *slots;
	size_t capacity;	/* a power of two */
	size_t count;
};

void fsck_names_init(struct fsck_names *s);
void fsck_names_free(struct fsck_names *s);
/* Add a name; returns 1 if it was already there, 0 if added, -1 on ENOMEM. */
int fsck_names_add(struct fsck_names *s, const char *name, uint8_t len);

/* @len bytes of @name, non-printable bytes as \xNN, into @out. */
const char *fsck_name_str(const char *name, unsigned int len, char *out,
			  size_t outlen);

#define FSCK_NAME_BUF	(4 * 255 + 1)

#endif /* VEXFS_FSCK_NAMES_H */
