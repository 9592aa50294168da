// SPDX-License-Identifier: GPL-2.0
/*
 * UUID generation and text conversion.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

#include "uuid.h"

/* Positions of the dashes in the text form. */
static int is_dash_position(size_t i)
{
	return i == 8 || i == 13 || i == 18 || i == 23;
}

int vexfs_random_bytes(void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vexfs_uuid_generate(uint8_t uuid[16])
{
	if (vexfs_random_bytes(uuid, 16))
		return -1;
	uuid[6] = (uuid[6] & 0x0f) | 0x40;	/* version 4: random */
	uuid[8] = (uuid[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int vexfs_uuid_parse(const char *text, uint8_t uuid[16])
{
	size_t i, nibble = 0;

	for (i = 0; i < VEXFS_UUID_STR_LEN - 1; i++) {
		int v;

		if (is_dash_position(i)) {
			if (text[i] != '-')
				return -1;
			continue;
		}
		v = hex_value(text[i]);
		if (v < 0)
			return -1;
		if (nibble % 2 == 0)
			uuid[nibble / 2] = (uint8_t)(v << 4);
		else
			uuid[nibble / 2] |= (uint8_t)v;
		nibble++;
	}
	return text[i] == '\0' ? 0 : -1;
}

void vexfs_uuid_format(const uint8_t uuid[16], char text[VEXFS_UUID_STR_LEN])
{
	static const char digits[] = "0123456789abcdef";
	size_t i, nibble = 0;

	for (i = 0; i < VEXFS_UUID_STR_LEN - 1; i++) {
		if (is_dash_position(i)) {
			text[i] = '-';
			continue;
		}
		text[i] = digits[nibble % 2 == 0 ? uuid[nibble / 2] >> 4 :
						   uuid[nibble / 2] & 0xf];
		nibble++;
	}
	text[i] = '\0';
}
