/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Filesystem UUIDs: random (version 4) generation and the usual
 * 8-4-4-4-12 text form, without depending on libuuid.
 */
#ifndef VEXFS_UUID_H
#define VEXFS_UUID_H

#include <stddef.h>
#include <stdint.h>

#define VEXFS_UUID_STR_LEN	37	/* 36 characters and the NUL */

/* Fill @buf with @len random bytes from the kernel. Returns 0 or -1. */
int vexfs_random_bytes(void *buf, size_t len);
int vexfs_uuid_generate(uint8_t uuid[16]);
/* Parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". Returns 0 or -1. */
int vexfs_uuid_parse(const char *text, uint8_t uuid[16]);
void vexfs_uuid_format(const uint8_t uuid[16], char text[VEXFS_UUID_STR_LEN]);

#endif /* VEXFS_UUID_H */
