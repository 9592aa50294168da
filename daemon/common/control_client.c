// SPDX-License-Identifier: GPL-2.0
/*
 * The client end of the vexfsd control protocol: see control_client.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control_client.h"
#include "control_proto.h"

const char *vexfsd_socket_path(const char *opt)
{
	const char *env = getenv(VEXFSD_SOCKET_ENV);

	if (opt)
		return opt;
	return env && *env ? env : VEXFSD_SOCKET_PATH;
}

int vexfsd_connect(struct vexfsd_conn *c, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int err;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun))) {
		err = -errno;
		close(c->fd);
		c->fd = -1;
		return err;
	}
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

int vexfsd_request(struct vexfsd_conn *c, const char *verb, const char *path)
{
	char line[VEXFSD_LINE_MAX], esc[VEXFSD_LINE_MAX - 32];
	int len;

	if (path && proto_escape(path, esc, sizeof(esc)))
		return -ENAMETOOLONG;
	len = snprintf(line, sizeof(line), "%s%s%s\n", verb, path ? " " : "",
		       path ? esc : "");
	return write_all(c->fd, line, len);
}

char *vexfsd_next_line(struct vexfsd_conn *c)
{
	ssize_t n;

	if (!c->in) {
		c->in = fdopen(c->fd, "r");
		if (!c->in)
			return NULL;
	}
	n = getline(&c->line, &c->cap, c->in);
	if (n <= 0)
		return NULL;
	if (c->line[n - 1] == '\n')
		c->line[n - 1] = '\0';
	return c->line;
}

void vexfsd_disconnect(struct vexfsd_conn *c)
{
	if (c->in)
		fclose(c->in);
	else if (c->fd >= 0)
		close(c->fd);
	free(c->line);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

char *vexfsd_line_type(char *line, char **rest)
{
	char *sp = strchr(line, ' ');

	if (sp)
		*sp++ = '\0';
	*rest = sp ? sp : line + strlen(line);
	return line;
}

const char *vexfsd_parse_error(char *rest, int *err)
{
	char *end;
	long v = strtol(rest, &end, 10);

	*err = v > 0 && v < 4096 ? (int)v : EPROTO;
	while (*end == ' ')
		end++;
	return end;
}
