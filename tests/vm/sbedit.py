#!/usr/bin/env python3
"""Read and edit fields of a VexFS superblock, keeping its checksum valid.

    sbedit.py IMAGE dump                    print every field
    sbedit.py IMAGE get FIELD               print one field (decimal)
    sbedit.py IMAGE set FIELD VALUE [...]   set fields, then fix the checksum
    sbedit.py IMAGE set-raw FIELD VALUE     set a field, leave the checksum stale
    sbedit.py IMAGE fix-csum                recompute the checksum only
    sbedit.py IMAGE check-csum              exit 1 when the checksum is wrong
    sbedit.py IMAGE offset FIELD            print a field's byte offset
    sbedit.py IMAGE inode-csum INO [fix]    check (or fix) inode INO's checksum
    sbedit.py IMAGE block-csum BLOCK [fix]  check (or fix) a metadata block's

The checksum fixers let a test corrupt a structure *behind* its CRC, so
that the kernel's validation of the contents is tested, not only the CRC.

VALUE is an integer (0x.. and 1<<63 style accepted) or, for byte arrays,
a string. The field layout is read from include/uapi/vexfs_fs.h rather than
copied here, so the corruption tests follow the format when it changes.
"""
import os
import re
import struct
import sys

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "..", "..", "include", "uapi", "vexfs_fs.h")
SB_SIZE = 512
CRC_SEED = 0xFFFFFFFF
CHECKSUM_FIELD = "s_checksum"

SCALAR_SIZES = {"__le16": 2, "__le32": 4, "__le64": 8,
                "__u8": 1, "__u16": 2, "__u32": 4, "__u64": 8, "char": 1}


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


CRC_TABLE = _crc32c_table()


def crc32c(seed, data):
    """CRC-32C without final inversion, as the kernel's crc32c() computes it."""
    crc = seed
    for byte in data:
        crc = CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def header_constants(text):
    """Integer #defines of the header, enough to size s_label[...] arrays."""
    consts = {}
    for name, value in re.findall(r"#define\s+(\w+)\s+(\d+)\b", text):
        consts[name] = int(value)
    return consts


def struct_layout(struct, struct_size, header_path=HEADER):
    """[(name, offset, element_size, count)] of a struct in the header."""
    with open(header_path) as f:
        text = f.read()
    consts = header_constants(text)
    body = re.search(r"struct %s\s*\{(.*?)\};" % struct, text, re.S)
    if not body:
        sys.exit("sbedit: struct %s not found in %s" % (struct, header_path))
    fields, offset = [], 0
    for line in body.group(1).splitlines():
        line = re.sub(r"/\*.*?\*/", "", line).strip()
        m = re.match(r"(\w+)\s+(\w+)(?:\[(\w+)\])?\s*;", line)
        if not m:
            continue
        ctype, name, count = m.groups()
        size = SCALAR_SIZES[ctype]
        n = 1 if count is None else int(consts.get(count, count))
        offset = (offset + size - 1) // size * size  # natural alignment
        fields.append((name, offset, size, n))
        offset += size * n
    if offset != struct_size:
        sys.exit("sbedit: parsed struct %s is %d bytes, expected %d" % (struct, offset, struct_size))
    return fields


def superblock_layout():
    return struct_layout("vexfs_super_block", SB_SIZE)


BLOCK_SIZE = 4096
INODE_SIZE = 256
TAIL_SIZE = 8           # struct vexfs_block_tail: t_magic, t_checksum
TAIL_MAGICS = {0x504D4256: "bitmap", 0x54584556: "extent",
               0x52494456: "dir", 0x52544156: "xattr",
               0x45525448: "htree", 0x44485448: "htree head"}


def inode_checksum_offset():
    return find_field(struct_layout("vexfs_inode", INODE_SIZE), "i_checksum")[1]


def inode_position(sb, ino):
    table = read_field(sb, find_field(superblock_layout(), "s_inode_table_start"))
    return table * BLOCK_SIZE + ino * INODE_SIZE


def inode_checksum(raw, ino):
    """Stored and computed checksum of the 256 bytes of inode ino."""
    off = inode_checksum_offset()
    stored = int.from_bytes(raw[off:off + 4], "little")
    copy = bytearray(raw)
    copy[off:off + 4] = b"\0\0\0\0"
    return stored, crc32c(CRC_SEED ^ (ino & 0xFFFFFFFF), copy)


def block_checksum(raw, blocknr):
    """(kind or None, stored, computed) for a 4 KiB block with a tail."""
    magic = int.from_bytes(raw[-TAIL_SIZE:-4], "little")
    stored = int.from_bytes(raw[-4:], "little")
    computed = crc32c(CRC_SEED ^ (blocknr & 0xFFFFFFFF), raw[:-4])
    return TAIL_MAGICS.get(magic), stored, computed


def fix_inode_checksum(f, sb, ino):
    pos = inode_position(sb, ino)
    f.seek(pos)
    raw = f.read(INODE_SIZE)
    _, computed = inode_checksum(raw, ino)
    f.seek(pos + inode_checksum_offset())
    f.write(computed.to_bytes(4, "little"))


def fix_block_checksum(f, blocknr):
    """Recompute a block's tail CRC; False when it has no known tail magic."""
    f.seek(blocknr * BLOCK_SIZE)
    raw = f.read(BLOCK_SIZE)
    kind, _, computed = block_checksum(raw, blocknr)
    if kind is None:
        return False
    f.seek(blocknr * BLOCK_SIZE + BLOCK_SIZE - 4)
    f.write(computed.to_bytes(4, "little"))
    return True


def find_field(layout, name):
    for field in layout:
        if field[0] == name:
            return field
    sys.exit("sbedit: no superblock field " + name)


def read_field(sb, field):
    _, off, size, count = field
    if count > 1:
        return bytes(sb[off:off + size * count])
    return int.from_bytes(sb[off:off + size], "little")


def write_field(sb, field, value):
    name, off, size, count = field
    if count > 1:
        raw = value.encode() if isinstance(value, str) else bytes(value)
        raw = raw[:size * count].ljust(size * count, b"\0")
        sb[off:off + size * count] = raw
        return
    sb[off:off + size] = (int(value) & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def parse_value(field, text):
    if field[3] > 1:
        return text
    # Accepts 12, 0x1f and 1<<63: the tests set feature bits by position.
    if "<<" in text:
        base, shift = text.split("<<")
        return int(base, 0) << int(shift, 0)
    return int(text, 0)


def superblock_checksum(layout, sb):
    copy = bytearray(sb)
    write_field(copy, find_field(layout, CHECKSUM_FIELD), 0)
    return crc32c(CRC_SEED, copy)


def fix_checksum(layout, sb):
    write_field(sb, find_field(layout, CHECKSUM_FIELD), superblock_checksum(layout, sb))


def load(image):
    with open(image, "rb") as f:
        sb = bytearray(f.read(SB_SIZE))
    if len(sb) != SB_SIZE:
        sys.exit("sbedit: %s is shorter than a superblock" % image)
    return sb


def store(image, sb):
    with open(image, "r+b") as f:
        f.write(sb)
        f.flush()
        os.fsync(f.fileno())


def format_value(value):
    if not isinstance(value, bytes):
        return str(value)
    text = value.rstrip(b"\0")
    if all(32 <= b < 127 for b in text):
        return text.decode()
    return value.hex()  # the UUID, or a label with binary junk in it


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    image, cmd, args = argv[1], argv[2], argv[3:]
    layout = superblock_layout()
    if cmd == "offset":
        print(find_field(layout, args[0])[1])
        return 0
    sb = load(image)
    if cmd == "dump":
        for field in layout:
            if not field[0].startswith("s_reserved"):
                print("%-22s %s" % (field[0], format_value(read_field(sb, field))))
    elif cmd == "get":
        print(format_value(read_field(sb, find_field(layout, args[0]))))
    elif cmd in ("set", "set-raw"):
        if not args or len(args) % 2:
            sys.exit("sbedit: set needs FIELD VALUE pairs")
        for name, text in zip(args[::2], args[1::2]):
            field = find_field(layout, name)
            write_field(sb, field, parse_value(field, text))
        if cmd == "set":
            fix_checksum(layout, sb)
        store(image, sb)
    elif cmd == "fix-csum":
        fix_checksum(layout, sb)
        store(image, sb)
    elif cmd == "inode-csum":
        ino = int(args[0], 0)
        with open(image, "r+b") as f:
            if args[1:] == ["fix"]:
                fix_inode_checksum(f, sb, ino)
            f.seek(inode_position(sb, ino))
            stored, computed = inode_checksum(f.read(INODE_SIZE), ino)
        print("inode %d: stored %#010x computed %#010x" % (ino, stored, computed))
        return 0 if stored == computed else 1
    elif cmd == "block-csum":
        blocknr = int(args[0], 0)
        with open(image, "r+b") as f:
            if args[1:] == ["fix"] and not fix_block_checksum(f, blocknr):
                sys.exit("sbedit: block %d has no checksummed tail" % blocknr)
            f.seek(blocknr * BLOCK_SIZE)
            kind, stored, computed = block_checksum(f.read(BLOCK_SIZE), blocknr)
        print("block %d (%s): stored %#010x computed %#010x" % (blocknr, kind, stored, computed))
        return 0 if kind and stored == computed else 1
    elif cmd == "check-csum":
        stored = read_field(sb, find_field(layout, CHECKSUM_FIELD))
        computed = superblock_checksum(layout, sb)
        print("stored %#010x computed %#010x" % (stored, computed))
        return 0 if stored == computed else 1
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
