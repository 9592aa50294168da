/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vexfsd control protocol, version 1: what vexfsctl (or socat) says
 * to the daemon over its Unix socket, and what it hears back.
 *
 * Transport. An AF_UNIX stream socket, VEXFSD_SOCKET_PATH unless the
 * daemon was told otherwise, mode 0660: whoever may connect may ask for
 * status; BUILD is further limited by the peer's credentials.
 *
 * Framing. Text lines ending in '\n', each at most VEXFSD_LINE_MAX bytes.
 * One request per connection: the client writes one line, the daemon
 * answers with any number of record lines and exactly one terminal line
 * (END, DONE or ERROR), then closes. A client may hang up at any time;
 * a build it asked for goes on.
 *
 * Messages. A line starts with its type word. Fields follow as key=value,
 * separated by single spaces; values never hold a space, except `path`,
 * which is always the last field and runs to the end of the line. In a
 * path a backslash is sent as "\\" and a newline as "\n".
 *
 * Requests:
 *
 *   BUILD <dir>    Queue an index build of the collection <dir> now.
 *                  Only root or the owner of <dir> may ask. Answer:
 *                    QUEUED position=N         N builds run before it
 *                    PROGRESS phase=P done=N total=N
 *                                              any number of them; lossy
 *                                              (a slow reader misses some);
 *                                              P is read, build or publish
 *                  then DONE or ERROR:
 *                    DONE vectors=N graph_bytes=N seq=N read_seconds=F
 *                         build_seconds=F publish_seconds=F
 *                  When a build of <dir> is already queued, the request
 *                  joins it; when one is running, a new one is queued
 *                  after it, so DONE always means every vector present
 *                  when BUILD arrived is in the published index.
 *
 *   STATUS <dir>   One COLLECTION record, read fresh from the kernel,
 *                  then END 1.
 *
 *   LIST           One COLLECTION record per collection the daemon
 *                  knows, as of its last scan, then END <count>.
 *
 * <dir> must be an absolute path. The daemon resolves it with realpath(3)
 * and refuses a path that is not a directory on a VexFS mount.
 *
 * The COLLECTION record:
 *
 *   COLLECTION dim=N metric=l2|ip|cosine count=N slots=N indexed=N
 *              unindexed=N seq=N state=idle|queued|running phase=P
 *              done=N total=N builds=N last_build=T last_vectors=N
 *              last_seconds=F last_error=E graph_nodes=N path=<dir>
 *
 *   state          whether a build is queued or running; phase, done and
 *                  total are its progress (phase=- when idle)
 *   builds         builds published by this daemon since it started
 *   last_build     when the last one finished, Unix seconds (0: never)
 *   last_vectors   vectors in it; last_seconds how long it took
 *   last_error     errno of the last failed build (0: none since the last
 *                  success)
 *   graph_nodes    nodes of the graph this daemon last published, live
 *                  or not (0: unknown); graph_nodes - indexed are dead
 *
 * Terminal lines:
 *
 *   END <count>              after <count> records
 *   DONE ...                 see BUILD
 *   ERROR <errno> <message>  errno as a decimal number (EPERM 1, ENOENT 2,
 *                            EINVAL 22, ENOTTY 25: not a collection or not
 *                            on VexFS, ...), then a message for people
 *
 * Example, with socat:
 *   $ echo "STATUS /mnt/vex/docs" | socat - UNIX-CONNECT:/run/vexfs/vexfsd.sock
 *   COLLECTION dim=128 metric=l2 count=4900 ... path=/mnt/vex/docs
 *   END 1
 */
#ifndef VEXFS_CONTROL_PROTO_H
#define VEXFS_CONTROL_PROTO_H

#define VEXFSD_PROTO_VERSION	1

#define VEXFSD_SOCKET_PATH	"/run/vexfs/vexfsd.sock"
/* vexfsctl's override of the socket path. */
#define VEXFSD_SOCKET_ENV	"VEXFSD_SOCKET"

/* A request or reply line, '\n' included: a PATH_MAX path, escaped. */
#define VEXFSD_LINE_MAX		(2 * 4096 + 512)

/* Request verbs. */
#define VEXFSD_REQ_BUILD	"BUILD"
#define VEXFSD_REQ_STATUS	"STATUS"
#define VEXFSD_REQ_LIST		"LIST"

/* Reply types. */
#define VEXFSD_MSG_QUEUED	"QUEUED"
#define VEXFSD_MSG_PROGRESS	"PROGRESS"
#define VEXFSD_MSG_COLLECTION	"COLLECTION"
#define VEXFSD_MSG_DONE		"DONE"
#define VEXFSD_MSG_END		"END"
#define VEXFSD_MSG_ERROR	"ERROR"

/* ==== helpers both ends use (control_proto.c) ==== */

#include <stdbool.h>
#include <stddef.h>

/* s into buf with "\\" and "\n" escapes; -1 if it does not fit. */
int proto_escape(const char *s, char *buf, size_t size);

/* Undo proto_escape() in place. */
void proto_unescape(char *s);

/*
 * The next key=value field of a record, from *rest (the text after the
 * type word). `path` takes the rest of the line, unescaped. Both are
 * pointers into the line, which is modified. False at the end.
 */
bool proto_next_field(char **rest, char **key, char **value);

#endif /* VEXFS_CONTROL_PROTO_H */
