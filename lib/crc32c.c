// SPDX-License-Identifier: GPL-2.0
/*
 * CRC-32C, reflected polynomial 0x82F63B78, slice-by-8.
 *
 * Eight 256-entry tables let the loop fold eight input bytes per step
 * instead of one; table[k][b] is the CRC contribution of byte b followed by
 * k zero bytes. The tables are built once, before main(), so the function
 * is safe to call from any thread afterwards.
 */
#include <endian.h>
#include <string.h>

#include "crc32c.h"

#define CRC32C_POLY_REFLECTED	0x82F63B78u

static uint32_t crc32c_table[8][256];

static uint32_t crc32c_byte_step(uint32_t crc)
{
	int bit;

	for (bit = 0; bit < 8; bit++)
		crc = (crc >> 1) ^ (CRC32C_POLY_REFLECTED & -(crc & 1));
	return crc;
}

__attribute__((constructor))
static void crc32c_build_tables(void)
{
	unsigned int b, k;

	for (b = 0; b < 256; b++)
		crc32c_table[0][b] = crc32c_byte_step(b);
	for (k = 1; k < 8; k++)
		for (b = 0; b < 256; b++) {
			uint32_t prev = crc32c_table[k - 1][b];

			crc32c_table[k][b] = (prev >> 8) ^
					     crc32c_table[0][prev & 0xff];
		}
}

static uint32_t load_le32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));	/* no alignment requirement */
	return le32toh(v);
}

static uint32_t crc32c_bytewise(uint32_t crc, const unsigned char *p,
				size_t len)
{
	while (len--)
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

uint32_t vexfs_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (; len >= 8; p += 8, len -= 8) {
		uint32_t lo = crc ^ load_le32(p);
		uint32_t hi = load_le32(p + 4);

		crc = crc32c_table[7][lo & 0xff] ^
		      crc32c_table[6][(lo >> 8) & 0xff] ^
		      crc32c_table[5][(lo >> 16) & 0xff] ^
		      crc32c_table[4][lo >> 24] ^
		      crc32c_table[3][hi & 0xff] ^
		      crc32c_table[2][(hi >> 8) & 0xff] ^
		      crc32c_table[1][(hi >> 16) & 0xff] ^
		      crc32c_table[0][hi >> 24];
	}
	return crc32c_bytewise(crc, p, len);
}
