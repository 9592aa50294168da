// SPDX-License-Identifier: GPL-2.0
/*
 * Signature probe: the magic numbers of the common filesystems and of
 * partition tables, each at its fixed offset. Without libblkid this covers
 * what is most often found on a disk or image about to be reformatted.
 */
#include <stdint.h>
#include <string.h>

#include <uapi/vexfs_fs.h>

#include "probe.h"

struct signature {
	const char *name;
	size_t offset;
	const char *magic;
	size_t len;
};

#define SIG(name, offset, magic) { name, offset, magic, sizeof(magic) - 1 }

/* Byte strings as they appear on disk (multi-byte magics little-endian). */
static const struct signature signatures[] = {
	SIG("vexfs", 0, "FXEV"),
	SIG("ext2/ext3/ext4", 1024 + 56, "\x53\xef"),
	SIG("xfs", 0, "XFSB"),
	SIG("btrfs", 65536 + 64, "_BHRfS_M"),
	SIG("swap", 4096 - 10, "SWAPSPACE2"),
	SIG("swap", 4096 - 10, "SWAP-SPACE"),
	SIG("LUKS", 0, "LUKS\xba\xbe"),
	SIG("GPT partition table", 512, "EFI PART"),
	/* also FAT and NTFS boot sectors: all end in 0x55 0xAA */
	SIG("DOS partition table or boot sector", 510, "\x55\xaa"),
};

_Static_assert(VEXFS_MAGIC == 0x56455846,
	       "the table spells VEXFS_MAGIC as its little-endian bytes");

static int signature_at(const struct signature *sig, const uint8_t *head,
			size_t len)
{
	return sig->offset + sig->len <= len &&
	       memcmp(head + sig->offset, sig->magic, sig->len) == 0;
}

const char *vexfs_probe_signature(const void *head, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(signatures) / sizeof(signatures[0]); i++)
		if (signature_at(&signatures[i], head, len))
			return signatures[i].name;
	return NULL;
}
