// SPDX-License-Identifier: GPL-2.0
/*
 * UUIDs: text round trip, rejection of malformed text, and version and
 * variant bits of generated ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "uuid.h"

static void test_round_trip(void **state)
{
	const char *text = "0123abcd-4567-89ef-0a1b-2c3d4e5f6071";
	char back[VEXFS_UUID_STR_LEN];
	uint8_t uuid[16];

	(void)state;
	assert_int_equal(vexfs_uuid_parse(text, uuid), 0);
	assert_int_equal(uuid[0], 0x01);
	assert_int_equal(uuid[15], 0x71);
	vexfs_uuid_format(uuid, back);
	assert_string_equal(back, text);
}

static void test_upper_case_accepted(void **state)
{
	char back[VEXFS_UUID_STR_LEN];
	uint8_t uuid[16];

	(void)state;
	assert_int_equal(vexfs_uuid_parse("ABCDEF01-2345-6789-ABCD-EF0123456789",
					  uuid), 0);
	vexfs_uuid_format(uuid, back);
	assert_string_equal(back, "abcdef01-2345-6789-abcd-ef0123456789");
}

static void test_malformed_rejected(void **state)
{
	static const char *const bad[] = {
		"",
		"random",
		"0123abcd-4567-89ef-0a1b-2c3d4e5f607",
		"0123abcd-4567-89ef-0a1b-2c3d4e5f60711",
		"0123abcd4567-89ef-0a1b-2c3d4e5f6071-",
		"0123abcg-4567-89ef-0a1b-2c3d4e5f6071",
		"0123abcd-4567-89ef-0a1b 2c3d4e5f6071",
	};
	uint8_t uuid[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vexfs_uuid_parse(bad[i], uuid), -1);
}

static void test_generated_is_version_4(void **state)
{
	uint8_t a[16], b[16];

	(void)state;
	assert_int_equal(vexfs_uuid_generate(a), 0);
	assert_int_equal(vexfs_uuid_generate(b), 0);
	assert_int_equal(a[6] >> 4, 4);
	assert_int_equal(a[8] >> 6, 2);
	assert_memory_not_equal(a, b, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_upper_case_accepted),
		cmocka_unit_test(test_malformed_rejected),
		cmocka_unit_test(test_generated_is_version_4),
	};

	return cmocka_run_group_tests_name("uuid", tests, NULL, NULL);
}
