/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The client end of the vexfsd control protocol (control_proto.h), for
 * vexfsctl: find the socket, connect, send one request, read the reply
 * line by line.
 */
#ifndef VEXFS_CONTROL_CLIENT_H
#define VEXFS_CONTROL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct vexfsd_conn {
	int fd;
	FILE *in;		/* replies, read with getline */
	char *line;
	size_t cap;
};

/* opt if given, else $VEXFSD_SOCKET, else the default path. */
const char *vexfsd_socket_path(const char *opt);

/*
 * Connect to the daemon at path. 0, or -errno: -ENOENT (no socket) and
 * -ECONNREFUSED (a socket nobody listens on) mean no daemon is running.
 */
int vexfsd_connect(struct vexfsd_conn *c, const char *path);

/* Send "VERB[ PATH]\n", the path escaped. 0 or -errno. */
int vexfsd_request(struct vexfsd_conn *c, const char *verb, const char *path);

/*
 * The next reply line, without its '\n', valid until the next call;
 * NULL when the daemon closed the connection (or reading failed).
 */
char *vexfsd_next_line(struct vexfsd_conn *c);

void vexfsd_disconnect(struct vexfsd_conn *c);

/*
 * Split a line into its type word and the rest (the fields, or an
 * ERROR's errno and message). Modifies line.
 */
char *vexfsd_line_type(char *line, char **rest);

/* An ERROR line's rest: *err the errno, returns the message. */
const char *vexfsd_parse_error(char *rest, int *err);

#endif /* VEXFS_CONTROL_CLIENT_H */
