/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CRC-32C (Castagnoli) for the userspace tools.
 *
 * Same semantics as the kernel's crc32c(crc, p, len): the caller's seed is
 * the starting register and the result is returned as is, with no inversion
 * on either side. The standard CRC-32C of a buffer is therefore
 * vexfs_crc32c(~0u, buf, len) ^ ~0u.
 */
#ifndef VEXFS_CRC32C_H
#define VEXFS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t vexfs_crc32c(uint32_t seed, const void *buf, size_t len);

#endif /* VEXFS_CRC32C_H */
