/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few types and helpers the vector core needs, from whichever world it
 * is compiled in: the kernel headers inside the module, freestanding C
 * headers in userspace. Nothing else in lib/ names a kernel or libc header,
 * so the same source builds in both.
 */
#ifndef VEXFS_TYPES_H
#define VEXFS_TYPES_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/errno.h>
#else
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((__always_inline__))
#endif

#endif /* VEXFS_TYPES_H */
