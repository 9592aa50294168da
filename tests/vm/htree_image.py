#!/usr/bin/env python3
"""A hashed directory's tree in an unmounted VexFS image, for the tests.

    htree_image.py show IMG INO          the tree's blocks: "n pblk" lines
    htree_image.py damage IMG INO WHAT   one change, the checksum fixed:
        root-range   the head's root past its node count (the module: EUCLEAN)
        loop         the first leaf's next link pointing at itself, and its
                     last pair pointing at another entry block: looking
                     up that pair's name walks on past the leaf's end
        unsorted     the first leaf's first two hashes swapped
        drop-pair    the first leaf's last pair removed: a stale tree, which
                     only fsck can tell from a sound one
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fuzz"))
import imgfuzz  # noqa: E402

BS = imgfuzz.BS
u, put = imgfuzz.u, imgfuzz.put


def tree_blocks(img, ino):
    return {n: blk for dino, n, blk in img.htree_blocks if dino == ino}


def first_leaf(img, blocks):
    """The leftmost leaf: down the first pairs from the root."""
    head = blocks[0] * BS
    n, level = u(img.d, head, 4), u(img.d, head + 8, 4)
    while level:
        n = u(img.d, blocks[n] * BS + imgfuzz.HTREE_PAIR + 4, 4)
        level -= 1
    return n


def damage(img, ino, what):
    blocks = tree_blocks(img, ino)
    head = blocks[0] * BS
    if what == "root-range":
        put(img.d, head, 4, u(img.d, head + 4, 4) + 1)
        img.fix_block(blocks[0])
        return
    leaf_n = first_leaf(img, blocks)
    leaf = blocks[leaf_n] * BS
    count = u(img.d, leaf, 2)
    pairs = leaf + imgfuzz.HTREE_PAIR
    if what == "loop":
        put(img.d, leaf + 8, 4, leaf_n)
        last = pairs + 8 * (count - 1) + 4
        nblocks = img.field(ino, "i_size") // BS
        put(img.d, last, 4, (u(img.d, last, 4) + 1) % nblocks)
    elif what == "unsorted":
        if count < 2 or u(img.d, pairs, 4) == u(img.d, pairs + 8, 4):
            sys.exit("the first leaf has no two distinct hashes to swap")
        a, b = bytes(img.d[pairs:pairs + 8]), bytes(img.d[pairs + 8:pairs + 16])
        img.d[pairs:pairs + 8], img.d[pairs + 8:pairs + 16] = b, a
    elif what == "drop-pair":
        if not count:
            sys.exit("the first leaf is empty")
        put(img.d, leaf, 2, count - 1)
        img.d[pairs + 8 * (count - 1):pairs + 8 * count] = bytes(8)
    else:
        sys.exit("unknown damage %s" % what)
    img.fix_block(blocks[leaf_n])


def main():
    cmd, path, ino = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path, "rb") as f:
        img = imgfuzz.Image(bytearray(f.read()))
    blocks = tree_blocks(img, ino)
    if not blocks:
        sys.exit("inode %d has no hash tree" % ino)
    if cmd == "show":
        for n in sorted(blocks):
            print(n, blocks[n])
        return
    damage(img, ino, sys.argv[4])
    with open(path, "r+b") as f:
        f.write(img.d)


if __name__ == "__main__":
    main()
