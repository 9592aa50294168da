// SPDX-License-Identifier: GPL-2.0
/*
 * Signature probe: each known signature is found at its offset, a blank
 * device has none, and a short buffer is never read past its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "probe.h"

static int alloc_head(void **state)
{
	*state = calloc(1, VEXFS_PROBE_BYTES);
	return *state ? 0 : -1;
}

static int free_head(void **state)
{
	free(*state);
	return 0;
}

static const char *probe_with(uint8_t *head, size_t offset,
			      const void *magic, size_t len)
{
	memset(head, 0, VEXFS_PROBE_BYTES);
	memcpy(head + offset, magic, len);
	return vexfs_probe_signature(head, VEXFS_PROBE_BYTES);
}

static void test_blank_has_no_signature(void **state)
{
	uint8_t *head = *state;

	memset(head, 0, VEXFS_PROBE_BYTES);
	assert_null(vexfs_probe_signature(head, VEXFS_PROBE_BYTES));
}

static void test_known_signatures(void **state)
{
	uint8_t *head = *state;

	assert_string_equal(probe_with(head, 0, "\x46\x58\x45\x56", 4), "vexfs");
	assert_string_equal(probe_with(head, 1080, "\x53\xef", 2),
			    "ext2/ext3/ext4");
	assert_string_equal(probe_with(head, 0, "XFSB", 4), "xfs");
	assert_string_equal(probe_with(head, 65600, "_BHRfS_M", 8), "btrfs");
	assert_string_equal(probe_with(head, 4086, "SWAPSPACE2", 10), "swap");
	assert_string_equal(probe_with(head, 0, "LUKS\xba\xbe", 6), "LUKS");
	assert_string_equal(probe_with(head, 512, "EFI PART", 8),
			    "GPT partition table");
	assert_non_null(probe_with(head, 510, "\x55\xaa", 2));
}

static void test_signature_elsewhere_ignored(void **state)
{
	uint8_t *head = *state;

	assert_null(probe_with(head, 1, "XFSB", 4));
	assert_null(probe_with(head, 1082, "\x53\xef", 2));
	assert_null(probe_with(head, 0, "\xef\x53", 2));
}

/* A device shorter than the btrfs offset: that signature is not looked for. */
static void test_short_buffer(void **state)
{
	uint8_t *head = *state;

	memset(head, 0, VEXFS_PROBE_BYTES);
	memcpy(head + 65600, "_BHRfS_M", 8);
	assert_null(vexfs_probe_signature(head, 65600 + 7));
	assert_non_null(vexfs_probe_signature(head, 65600 + 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blank_has_no_signature),
		cmocka_unit_test(test_known_signatures),
		cmocka_unit_test(test_signature_elsewhere_ignored),
		cmocka_unit_test(test_short_buffer),
	};

	return cmocka_run_group_tests_name("probe", tests, alloc_head,
					   free_head);
}
