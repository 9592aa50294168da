// SPDX-License-Identifier: GPL-2.0
/*
 * CRC-32C: published check values, the kernel's seed semantics, and the
 * slice-by-8 path against a plain bit-at-a-time reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "crc32c.h"

/* The standard CRC-32C: inverted seed and result around the raw register. */
static uint32_t standard_crc32c(const void *buf, size_t len)
{
	return vexfs_crc32c(~0u, buf, len) ^ ~0u;
}

/* One bit at a time, straight from the definition of the polynomial. */
static uint32_t reference_crc32c(uint32_t crc, const uint8_t *p, size_t len)
{
	int bit;

	while (len--) {
		crc ^= *p++;
		for (bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0);
	}
	return crc;
}

static void test_check_value(void **state)
{
	(void)state;
	assert_int_equal(standard_crc32c("123456789", 9), 0xE3069283);
}

/* RFC 3720 (iSCSI), appendix B.4. */
static void test_iscsi_vectors(void **state)
{
	uint8_t buf[32];
	int i;

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(standard_crc32c(buf, sizeof(buf)), 0x8A9136AA);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(standard_crc32c(buf, sizeof(buf)), 0x62A8AB43);
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(standard_crc32c(buf, sizeof(buf)), 0x46DD794E);
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(standard_crc32c(buf, sizeof(buf)), 0x113FDB5C);
}

static void test_empty_buffer_returns_seed(void **state)
{
	(void)state;
	assert_int_equal(vexfs_crc32c(0x12345678, "", 0), 0x12345678);
	assert_int_equal(vexfs_crc32c(0, NULL, 0), 0);
}

/* No hidden inversion: the kernel's crc32c(0, "a", 1) is 0x93AD1061. */
static void test_no_final_inversion(void **state)
{
	(void)state;
	assert_int_equal(vexfs_crc32c(0, "a", 1), 0x93AD1061);
	assert_int_equal(vexfs_crc32c(0, "a", 1),
			 reference_crc32c(0, (const uint8_t *)"a", 1));
}

/* Feeding a buffer in pieces gives the same result as all at once. */
static void test_chaining(void **state)
{
	const char *text = "The quick brown fox jumps over the lazy dog";
	size_t len = strlen(text), split;
	uint32_t whole = vexfs_crc32c(0xFFFFFFFF, text, len);

	(void)state;
	for (split = 0; split <= len; split++) {
		uint32_t part = vexfs_crc32c(0xFFFFFFFF, text, split);

		part = vexfs_crc32c(part, text + split, len - split);
		assert_int_equal(part, whole);
	}
}

/* Every length and alignment around the 8-byte stride. */
static void test_matches_reference(void **state)
{
	uint8_t buf[4096 + 16];
	uint32_t x = 2463534242u;
	size_t i, off, len;

	(void)state;
	for (i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	for (off = 0; off < 8; off++)
		for (len = 0; len < 80; len++)
			assert_int_equal(vexfs_crc32c(0xFFFFFFFF ^ (uint32_t)len,
						      buf + off, len),
					 reference_crc32c(0xFFFFFFFF ^ (uint32_t)len,
							  buf + off, len));
	assert_int_equal(vexfs_crc32c(7, buf + 3, 4092),
			 reference_crc32c(7, buf + 3, 4092));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_iscsi_vectors),
		cmocka_unit_test(test_empty_buffer_returns_seed),
		cmocka_unit_test(test_no_final_inversion),
		cmocka_unit_test(test_chaining),
		cmocka_unit_test(test_matches_reference),
	};

	return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
