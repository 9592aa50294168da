#!/usr/bin/env python3
"""Power-cut testing with the kernel's dm-log-writes target.

dm-log-writes records every write that reaches a device, in the order the
device completed it, with FLUSH and FUA requests and named marks. Replaying
the log up to a FLUSH or FUA entry rebuilds the device exactly as a power cut
at that moment could have left it. This is the technique of the btrfs and
ext4 developers (xfstests generic/455 and friends), with the replay and the
checks written here:

  powercut.py workload MNT MODEL DMNAME   run the workload on a log-writes
                                          device, write the model (JSON)
  powercut.py points LOG                  print the crash points: entry
                                          numbers of FLUSH/FUA entries
  powercut.py replay LOG IMG FROM TO      apply entries [FROM, TO) to IMG
  powercut.py check LOG BASE MODEL WORK   replay to every crash point (or
                                          $VEXFS_POWERCUT_POINTS of them, evenly
                                          spread) and check each: it mounts,
                                          the model holds, fsck is clean

The workload is a list of steps. Each step changes a few objects, makes them
durable (fsync of the files and their directories), and then drops a mark
"step-N". A crash point after mark step-N must show every object as step N
left it; objects the next step touches may be as before it, or as after it,
or, for file contents, a prefix of the new contents.
"""
import hashlib
import json
import os
import random
import struct
import subprocess
import sys

LOG_MAGIC = 0x6a736677736872
LOG_FLUSH, LOG_FUA, LOG_DISCARD, LOG_MARK = 1, 2, 4, 8
ENTRY = struct.Struct("<QQQQ")
SUPER = struct.Struct("<QQQI")
DIM = 8

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VEXFSCTL = os.path.join(REPO, "build", "bin", "vexfsctl")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vexfs_ioctl  # noqa: E402

# A batch insert is one object of the model: "DIR/#batch-FIRST-COUNT", its
# files named FIRST..FIRST+COUNT-1, each with the vector batch_vector(id).
BATCH_KEY = "#batch-"
BATCH_ROWS = int(os.environ.get("VEXFS_POWERCUT_BATCH", "2000"))


def batch_vector(i):
    return [float((i * 7 + j) % 101) for j in range(DIM)]


# ---- the log ------------------------------------------------------------

def read_log(path):
    """Yield (index, sector, flags, data, mark) for every entry."""
    with open(path, "rb") as f:
        magic, version, count, ss = SUPER.unpack(f.read(SUPER.size))
        if magic != LOG_MAGIC or version != 1:
            sys.exit("%s: not a dm-log-writes log" % path)
        unit = 1
        for index in range(count):
            f.seek(unit * ss)
            head = f.read(ss)
            sector, nr, flags, data_len = ENTRY.unpack(head[:ENTRY.size])
            mark = None
            data = b""
            if flags & LOG_MARK:
                mark = head[ENTRY.size:ENTRY.size + data_len].decode()
            unit += 1
            if not flags & LOG_DISCARD and nr:
                data = f.read(nr * ss)
                unit += nr
            yield index, sector * ss, nr * ss, flags, data, mark


def crash_points(log):
    """Entries after which a power cut is meaningful: FLUSH or FUA ones."""
    return [i for i, _, _, flags, _, _ in read_log(log)
            if flags & (LOG_FLUSH | LOG_FUA)]


def apply_entry(out, offset, length, flags, data):
    """Do to the image what one logged request did to the device."""
    if flags & LOG_DISCARD:
        out.seek(offset)
        out.write(bytes(length))
    elif data:
        out.seek(offset)
        out.write(data)


def replay(log, img, start, stop):
    with open(img, "r+b") as out:
        for index, offset, length, flags, data, _ in read_log(log):
            if index >= stop:
                break
            if index >= start:
                apply_entry(out, offset, length, flags, data)


# ---- the workload -------------------------------------------------------

def file_bytes(seed, size):
    """The contents the workload gives a file: size bytes from its seed."""
    return random.Random(seed).randbytes(size)


class Workload:
    """Runs steps on MNT and records, per step, what each object became."""

    def __init__(self, mnt, dmname, seed):
        self.mnt = mnt
        self.dm = dmname
        self.rng = random.Random(seed)
        self.state = {}          # relative path -> object description
        self.steps = []          # per step: {"touched": [...], "state": {...}}
        self.touched = set()

    def path(self, rel):
        return os.path.join(self.mnt, rel)

    def sync_dir(self, rel):
        fd = os.open(self.path(rel) if rel else self.mnt, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)

    def write_file(self, rel, size, sync=True):
        """Rewrite rel with size bytes of its own seed, in one write()."""
        seed = self.rng.getrandbits(63)
        data = file_bytes(seed, size)
        with open(self.path(rel), "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        old = self.state.get(rel, {})
        self.state[rel] = {"type": "file", "sha": hashlib.sha256(data).hexdigest(),
                           "size": size, "seed": seed, "vector": old.get("vector")}
        self.touched.add(rel)

    def mkdir(self, rel):
        os.mkdir(self.path(rel))
        self.state[rel] = {"type": "dir"}
        self.touched.add(rel)

    def rename(self, src, dst):
        os.rename(self.path(src), self.path(dst))
        # Out of the collection to a plain directory, the vector is kept
        # with the file (and read back through user.vexfs.vector).
        self.state[dst] = self.state.pop(src)
        self.touched.update((src, dst))

    def unlink(self, rel):
        os.unlink(self.path(rel))
        self.state.pop(rel)
        self.touched.add(rel)

    def ctl(self, *args):
        subprocess.run([VEXFSCTL] + list(args), check=True,
                       stdout=subprocess.DEVNULL)

    def put_vector(self, rel):
        vec = [round(self.rng.uniform(-1, 1), 3) for _ in range(DIM)]
        self.ctl("put", self.path(rel), "--vector", ",".join(map(str, vec)))
        fd = os.open(self.path(rel), os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        self.state[rel]["vector"] = vec
        self.touched.add(rel)

    def del_vector(self, rel):
        self.ctl("del", self.path(rel))
        self.state[rel]["vector"] = None
        self.touched.add(rel)

    def batch(self, rel_dir, first, n):
        """One batch insert: all n files with their vectors, or none."""
        ids = list(range(first, first + n))
        vecs = struct.pack("<%df" % (n * DIM), *[v for i in ids for v in batch_vector(i)])
        fd = os.open(self.path(rel_dir), os.O_RDONLY | os.O_DIRECTORY)
        # Commits forced all along the call, as other writers' fsyncs and
        # the commit timer would: none may cut the batch in two.
        syncer = subprocess.Popen(["sh", "-c", "while :; do sync; done"])
        try:
            # One call, never split: the test is that the call is atomic.
            vexfs_ioctl._batch_call(fd, ids, vecs, DIM, None, 0)
        finally:
            syncer.kill()
            syncer.wait()
        os.fsync(fd)
        os.close(fd)
        key = "%s/%s%d-%d" % (rel_dir, BATCH_KEY, first, n)
        self.state[key] = {"type": "batch"}
        self.touched.add(key)

    def publish_during_changes(self, r):
        """An index build and publish while vectors change beside it."""
        build = subprocess.Popen([VEXFSCTL, "index", "build", self.path("coll"),
                                  "--local", "-q"], stdout=subprocess.DEVNULL)
        for i in range(4):
            rel = "coll/p%d-%d" % (r, i)
            self.write_file(rel, 100)
            self.put_vector(rel)
        if build.wait():
            raise RuntimeError("index build failed")
        self.sync_dir("coll")
        self.touched.add("coll")

    def end_step(self):
        n = len(self.steps)
        subprocess.run(["dmsetup", "message", self.dm, "0", "mark",
                        "step-%d" % n], check=True)
        self.steps.append({"touched": sorted(self.touched),
                           "state": json.loads(json.dumps(self.state))})
        self.touched = set()

    def run(self, rounds):
        self.mkdir("docs")
        self.sync_dir("")
        self.end_step()
        os.mkdir(self.path("coll"))
        self.ctl("collection", "create", self.path("coll"), "--dim", str(DIM))
        self.state["coll"] = {"type": "dir"}
        self.touched.add("coll")
        self.sync_dir("")
        self.sync_dir("coll")
        self.end_step()
        for r in range(rounds):
            self.round(r)

    def round(self, r):
        rng = self.rng
        # new files of assorted sizes, each fsynced, then the directory
        for i in range(3):
            self.write_file("docs/r%d-%d" % (r, i),
                            rng.choice([0, 100, 5000, 70000, 300000]))
        self.sync_dir("docs")
        self.end_step()
        # files with vectors in the collection
        for i in range(4):
            rel = "coll/v%d-%d" % (r, i)
            self.write_file(rel, rng.randrange(1, 3000))
            self.put_vector(rel)
        self.sync_dir("coll")
        self.end_step()
        # a rename inside the collection, one out of it, an unlink
        self.rename("coll/v%d-0" % r, "coll/w%d-0" % r)
        self.rename("coll/v%d-1" % r, "docs/moved%d" % r)
        self.unlink("coll/v%d-2" % r)
        self.sync_dir("coll")
        self.sync_dir("docs")
        fd = os.open(self.path("docs/moved%d" % r), os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        self.end_step()
        # overwrite and truncate an older file, drop a vector
        if r:
            self.write_file("docs/r%d-1" % (r - 1), rng.randrange(1, 40000))
            self.del_vector("coll/v%d-3" % (r - 1))
            fd = os.open(self.path("coll/v%d-3" % (r - 1)), os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            self.end_step()
        # a batch insert of several hundred files, one transaction
        self.batch("coll", 100000 * (r + 1), BATCH_ROWS)
        self.end_step()
        # an index publish over the collection, every other round, while
        # vectors change
        if r % 2 == 1:
            self.publish_during_changes(r)
            self.end_step()


# ---- checks -------------------------------------------------------------

def file_sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), os.path.getsize(path)


def get_vector(path):
    """The file's vector through its user.vexfs.vector xattr, or None."""
    try:
        raw = os.getxattr(path, "user.vexfs.vector")
    except OSError:
        return None
    return list(struct.unpack("<%df" % (len(raw) // 4), raw))


def same_vector(a, b):
    return a is not None and b is not None and len(a) == len(b) and \
        all(abs(x - y) < 1e-4 for x, y in zip(a, b))


def check_batch(mnt, rel, want):
    """A batch is there whole, every file with its vector, or not at all."""
    first, n = map(int, rel.rsplit(BATCH_KEY, 1)[1].split("-"))
    folder = os.path.join(mnt, os.path.dirname(rel))
    present = [i for i in range(first, first + n)
               if os.path.lexists(os.path.join(folder, str(i)))]
    if want is None:
        return None if not present else "%d of %d files of a batch" % (len(present), n)
    if len(present) != n:
        return "%d of %d files of a batch" % (len(present), n)
    bad = [i for i in present
           if not same_vector(get_vector(os.path.join(folder, str(i))), batch_vector(i))]
    return "%d files of a batch without their vector" % len(bad) if bad else None


def check_object(mnt, rel, want):
    """None when the object on disk is as want describes, else a reason."""
    if BATCH_KEY in rel:
        return check_batch(mnt, rel, want)
    path = os.path.join(mnt, rel)
    if want is None:
        return None if not os.path.lexists(path) else "exists"
    if not os.path.lexists(path):
        return "missing"
    if want["type"] == "dir":
        return None if os.path.isdir(path) else "not a directory"
    sha, size = file_sha(path)
    if sha != want["sha"]:
        return "contents differ (size %d, want %d)" % (size, want["size"])
    vec = get_vector(path)
    if want.get("vector") is None:
        return None if vec is None else "has a vector"
    return None if same_vector(vec, want["vector"]) else "vector differs"


def prefix_of(mnt, rel, want):
    """A file in the middle of being written holds the first bytes of what
    was being written, never anything else (no block past what committed,
    no block the data did not reach)."""
    path = os.path.join(mnt, rel)
    if want is None or want["type"] != "file" or not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        data = f.read()
    return len(data) <= want["size"] and \
        data == file_bytes(want["seed"], want["size"])[:len(data)]


def verify(mnt, model, step):
    steps = model["steps"]
    if step < 0:
        return []
    state = steps[step]["state"]
    after = steps[step + 1] if step + 1 < len(steps) else None
    loose = set(after["touched"]) if after else set()
    problems = []
    for rel in sorted(set(state) | loose):
        want = state.get(rel)
        why = check_object(mnt, rel, want)
        if why is None:
            continue
        if rel in loose:
            new = after["state"].get(rel)
            if check_object(mnt, rel, new) is None or prefix_of(mnt, rel, new):
                continue
            if new and want and new["type"] == "file" and want["type"] == "file" \
                    and os.path.isfile(os.path.join(mnt, rel)):
                continue   # rewritten in place: old or new blocks, both fine
        problems.append("%s: %s" % (rel, why))
    return problems


def run(*cmd, quiet=True):
    return subprocess.run(list(cmd), capture_output=quiet, text=True)


def pick(points, want):
    """want points spread evenly over all of them, the last one included."""
    if not want or want >= len(points):
        return points
    step = len(points) / want
    chosen = {points[min(len(points) - 1, int(i * step))] for i in range(want)}
    chosen.add(points[-1])
    return sorted(chosen)


class Checker:
    """Replays the log once, stopping at each chosen crash point."""

    def __init__(self, log, base, model, work):
        self.log, self.model, self.work = log, model, work
        self.image = os.path.join(work, "replay.img")
        self.probe = os.path.join(work, "probe.img")
        self.mnt = os.path.join(work, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        run("cp", "--sparse=always", base, self.image)
        self.fsck = os.environ.get("VEXFS_FSCK", "fsck.vexfs")
        self.failures = 0

    def check_point(self, entry, step):
        problems = self.check_fsck_replay(entry, step)
        run("cp", "--sparse=always", self.image, self.probe)
        dev = run("losetup", "-f", "--show", self.probe).stdout.strip()
        try:
            return problems + self.check_device(dev, entry, step)
        finally:
            run("losetup", "-d", dev)

    def check_fsck_replay(self, entry, step):
        """fsck -y replays the journal itself; then -n finds nothing."""
        where = "entry %d (after step %d)" % (entry, step)
        run("cp", "--sparse=always", self.image, self.probe)
        repair = run(self.fsck, "-y", "-f", self.probe)
        if repair.returncode not in (0, 1):
            return ["%s: fsck -y on the raw image exit %d: %s" % (
                where, repair.returncode, repair.stdout.strip()[-600:])]
        again = run(self.fsck, "-n", "-f", self.probe)
        if again.returncode:
            return ["%s: fsck -n after fsck -y exit %d: %s" % (
                where, again.returncode, again.stdout.strip()[-600:])]
        return []

    def check_device(self, dev, entry, step):
        """The first mount is read-only (it replays the journal but may not
        release orphans), then a remount read-write releases them: both
        views must match the model, and fsck must find nothing after."""
        where = "entry %d (after step %d)" % (entry, step)
        mounted = run("mount", "-t", "vexfs", "-o", "ro", dev, self.mnt)
        if mounted.returncode:
            return ["%s: does not mount: %s" % (where, mounted.stderr.strip())]
        problems = ["%s (read-only): %s" % (where, p)
                    for p in verify(self.mnt, self.model, step)]
        remount = run("mount", "-o", "remount,rw", self.mnt)
        if remount.returncode:
            problems.append("%s: remount rw failed: %s" % (where, remount.stderr.strip()))
        problems += ["%s: %s" % (where, p)
                     for p in verify(self.mnt, self.model, step)]
        if run("umount", self.mnt).returncode:
            return problems + ["%s: umount failed" % where]
        fsck = run(self.fsck, "-n", "-f", dev)
        if fsck.returncode:
            problems.append("%s: fsck exit %d: %s" % (
                where, fsck.returncode, fsck.stdout.strip()[-600:]))
        return problems

    def run(self, points):
        chosen = set(points)
        step = -1
        with open(self.image, "r+b") as out:
            for index, offset, length, flags, data, mark in read_log(self.log):
                apply_entry(out, offset, length, flags, data)
                if mark and mark.startswith("step-"):
                    step = int(mark[5:])
                if index not in chosen:
                    continue
                out.flush()
                for problem in self.check_point(index, step):
                    print(problem, flush=True)
                    self.failures += 1
        return self.failures


def main(argv):
    cmd = argv[1]
    if cmd == "workload":
        mnt, model, dm = argv[2:5]
        rounds = int(os.environ.get("VEXFS_POWERCUT_ROUNDS", "4"))
        w = Workload(mnt, dm, int(os.environ.get("VEXFS_POWERCUT_SEED", "1")))
        w.run(rounds)
        with open(model, "w") as f:
            json.dump({"steps": w.steps}, f)
        print("%d steps" % len(w.steps))
    elif cmd == "points":
        print(" ".join(map(str, crash_points(argv[2]))))
    elif cmd == "replay":
        replay(argv[2], argv[3], int(argv[4]), int(argv[5]))
    elif cmd == "check":
        log, base, model_path, work = argv[2:6]
        with open(model_path) as f:
            model = json.load(f)
        points = crash_points(log)
        chosen = pick(points, int(os.environ.get("VEXFS_POWERCUT_POINTS", "0")))
        failures = Checker(log, base, model, work).run(chosen)
        print("crash points: %d in the log, %d checked, %d failures" %
              (len(points), len(chosen), failures))
        return 1 if failures else 0
    else:
        sys.exit("unknown command " + cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
