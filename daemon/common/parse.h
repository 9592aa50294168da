/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsers for the arguments of vexfsctl and the settings of vexfsd:
 * numbers, vector literals, metadata assignments and search predicates.
 * Each returns 0 or -EINVAL and leaves reporting to the caller, which
 * knows which option was wrong.
 */
#ifndef VEXFS_PARSE_H
#define VEXFS_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "libvexfs/libvexfs.h"

/* Decimal, or hexadecimal with 0x; no sign, no trailing text. */
int parse_u64(const char *s, uint64_t *out);

/* parse_u64() limited to min..max. */
int parse_u32_range(const char *s, uint32_t min, uint32_t max, uint32_t *out);

/* yes/no, true/false, on/off or 1/0, in any case. */
int parse_yes_no(const char *s, bool *out);

/*
 * A vector literal: numbers separated by commas and/or blanks, optionally
 * inside [ ], as in "0.1,0.2" or "[0.1, 0.2]". *vec is malloc'ed.
 */
int parse_vector(const char *s, float **vec, uint32_t *dim);

/* "W=V" or "attrW=V": sets attrs[W] (W < VEXFS_ATTR_WORDS). */
int parse_attr_assign(const char *s, uint64_t *attrs);

/*
 * A predicate on one metadata word: "attrW OP V", blanks allowed, with OP
 * one of = == != < <= > >= & (all bits of V set) | (any bit of V set).
 */
int parse_where(const char *s, struct vexfs_predicate *where);

/*
 * Predicates joined by "and" ("attr0=3 and attr1<5") into where[], after
 * the *n already there, at most max in all. 0, or -EINVAL (a predicate
 * that does not parse) or -E2BIG (too many).
 */
int parse_where_list(const char *s, struct vexfs_predicate *where,
		     unsigned int max, unsigned int *n);

/* The operator of a predicate as parse_where() spells it. */
const char *where_op_text(unsigned int op);

#endif /* VEXFS_PARSE_H */
