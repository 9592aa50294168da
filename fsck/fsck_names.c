// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs: a set of names, open addressing with linear probing; a
 * directory of 100,000 entries costs one probe or two per name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "fsck_names.h"

struct fsck_name {
	char *name;		/* NULL: empty slot */
	uint32_t hash;
	uint8_t len;
};

void fsck_names_init(struct fsck_names *s)
{
	memset(s, 0, sizeof(*s));
}

void fsck_names_free(struct fsck_names *s)
{
	size_t i;

	for (i = 0; i < s->capacity; i++)
		free(s->slots[i].name);
	free(s->slots);
	fsck_names_init(s);
}

static struct fsck_name *find(struct fsck_names *s, const char *name,
			      uint8_t len, uint32_t hash)
{
	size_t i = hash & (s->capacity - 1);

	for (;;) {
		struct fsck_name *n = &s->slots[i];

		if (!n->name || (n->hash == hash && n->len == len &&
				 !memcmp(n->name, name, len)))
			return n;
		i = (i + 1) & (s->capacity - 1);
	}
}

/* Keep the table at most half full. */
static int grow(struct fsck_names *s)
{
	struct fsck_names bigger;
	size_t i;

	bigger.capacity = s->capacity ? 2 * s->capacity : 64;
	bigger.count = s->count;
	bigger.slots = calloc(bigger.capacity, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -1;
	for (i = 0; i < s->capacity; i++) {
		struct fsck_name *n = &s->slots[i];

		if (n->name)
			*find(&bigger, n->name, n->len, n->hash) = *n;
	}
	free(s->slots);
	*s = bigger;
	return 0;
}

int fsck_names_add(struct fsck_names *s, const char *name, uint8_t len)
{
	uint32_t hash = vexfs_crc32c(~0u, name, len);
	struct fsck_name *n;

	if (2 * (s->count + 1) > s->capacity && grow(s))
		return -1;
	n = find(s, name, len, hash);
	if (n->name)
		return 1;
	n->name = malloc(len ? len : 1);
	if (!n->name)
		return -1;
	memcpy(n->name, name, len);
	n->hash = hash;
	n->len = len;
	s->count++;
	return 0;
}

const char *fsck_name_str(const char *name, unsigned int len, char *out,
			  size_t outlen)
{
	size_t o = 0;
	unsigned int i;

	for (i = 0; i < len && o + 5 < outlen; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}
