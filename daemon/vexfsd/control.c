// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket: an AF_UNIX stream socket in the manner of OpenBSD
 * ntpd's control.c. The path is checked before it is taken (a stale
 * socket left by a killed daemon is removed, a live one is not), bound
 * under a umask so that it is never reachable with wider permissions
 * than 0660 even for an instant, and everything is non-blocking: a
 * client that stops reading cannot stall the daemon, it only misses
 * progress lines (and is dropped if its replies pile up regardless).
 *
 * What the lines mean is request.c's business; this file only
 * accepts, reads one request line, buffers and writes replies.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "vexfsd.h"
#include "common/control_proto.h"

#define MAX_CLIENTS		64
#define REQUEST_TIMEOUT		10.0		/* seconds to send the request */
#define LOSSY_BACKLOG		(8u << 10)	/* unsent bytes: drop progress */
#define MAX_BACKLOG		(16u << 20)	/* unsent bytes: drop the client */

struct vexfsd_client {
	uint64_t id;
	int fd;
	struct ucred cred;
	double since;			/* monotonic, when it connected */
	bool have_request;
	bool finishing;			/* close once the reply is written */
	bool dead;			/* to be freed by reap() */
	bool rd_eof;			/* it will send no more */
	uint64_t job;			/* waiting for this build; 0: none */
	size_t inlen;
	char in[VEXFSD_LINE_MAX];
	char *out;
	size_t outlen, outoff, outcap;
};

static struct {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ino_t ino;			/* of the socket we bound */
	struct vexfsd_client *clients[MAX_CLIENTS];
	unsigned int nclients;
	uint64_t last_id;
	/* Which client each descriptor control_pollfds() returned belongs to. */
	uint64_t polled[MAX_CLIENTS + 1];
} ctl = { .fd = -1 };

/* ==== setting up ==== */

static socklen_t socket_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
	return sizeof(*sun);
}

/*
 * Something at path already: refuse if it is not a socket or somebody
 * answers on it; a socket nobody listens on is a dead daemon's, remove it.
 */
static int clear_stale(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int s, err;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s exists and is not a socket; not touching it", path);
		return -EEXIST;
	}
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	err = connect(s, (struct sockaddr *)&sun, socket_addr(path, &sun)) ? errno : 0;
	close(s);
	/* EAGAIN: a listener whose backlog is full is still a listener. */
	if (!err || err == EAGAIN) {
		log_err("%s: another vexfsd is listening on it", path);
		return -EADDRINUSE;
	}
	if (err != ECONNREFUSED) {
		log_err("%s: %s", path, strerror(err));
		return -err;
	}
	if (unlink(path) && errno != ENOENT)
		return -errno;
	log_info("%s: removed a stale socket", path);
	return 0;
}

/* The socket's directory, made 0755 if it is missing (not its parents). */
static int make_socket_dir(const char *path)
{
	char copy[sizeof(ctl.path)];
	const char *dir;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		log_err("%s: %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

static int bind_socket(int fd, const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int err = 0;

	/* 0117 on bind's 0777 leaves 0660: never wider, not even briefly. */
	old = umask(S_IXUSR | S_IXGRP | S_IRWXO);
	if (bind(fd, (struct sockaddr *)&sun, socket_addr(path, &sun)))
		err = -errno;
	umask(old);
	if (err)
		return err;
	if (chmod(path, 0660) || lstat(path, &st))
		return -errno;
	ctl.ino = st.st_ino;
	return 0;
}

int control_open(const char *path)
{
	int fd, err;

	snprintf(ctl.path, sizeof(ctl.path), "%s", path);
	err = make_socket_dir(path);
	if (!err)
		err = clear_stale(path);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = bind_socket(fd, path);
	if (!err && listen(fd, 16))
		err = -errno;
	if (err) {
		log_err("%s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	ctl.fd = fd;
	log_debug("listening on %s", path);
	return 0;
}

/* ==== clients ==== */

static void client_free(struct vexfsd_client *c)
{
	close(c->fd);
	free(c->out);
	free(c);
}

/* Free the clients marked dead, keeping the others in order. */
static void reap(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < ctl.nclients; i++) {
		if (ctl.clients[i]->dead)
			client_free(ctl.clients[i]);
		else
			ctl.clients[n++] = ctl.clients[i];
	}
	ctl.nclients = n;
}

static struct vexfsd_client *client_by_id(uint64_t id)
{
	unsigned int i;

	for (i = 0; i < ctl.nclients; i++)
		if (ctl.clients[i]->id == id)
			return ctl.clients[i];
	return NULL;
}

/* Write what is pending; mark the client dead when it is done or broken. */
static void client_flush(struct vexfsd_client *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				c->dead = true;	/* hung up: its build goes on */
			return;
		}
		c->outoff += n;
	}
	c->outoff = c->outlen = 0;
	if (c->finishing)
		c->dead = true;
}

static void client_append(struct vexfsd_client *c, const char *line, size_t len)
{
	size_t need = c->outlen + len + 1;
	char *p;

	if (c->dead)
		return;
	if (need > MAX_BACKLOG) {
		log_warn("control: client pid %d does not read its replies; dropped",
			 (int)c->cred.pid);
		c->dead = true;
		return;
	}
	if (need > c->outcap) {
		p = realloc(c->out, need * 2);
		if (!p) {
			c->dead = true;
			return;
		}
		c->out = p;
		c->outcap = need * 2;
	}
	memcpy(c->out + c->outlen, line, len);
	c->out[c->outlen + len] = '\n';
	c->outlen += len + 1;
}

void client_printf(struct vexfsd_client *c, const char *fmt, ...)
{
	char line[VEXFSD_LINE_MAX];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line))
		len = sizeof(line) - 1;
	client_append(c, line, len);
}

void client_finish(struct vexfsd_client *c)
{
	c->finishing = true;
	c->job = 0;
}

const struct ucred *client_cred(const struct vexfsd_client *c)
{
	return &c->cred;
}

void client_wait(struct vexfsd_client *c, uint64_t job)
{
	c->job = job;
}

void control_broadcast(uint64_t job, const char *line, bool lossy, bool final)
{
	struct vexfsd_client *c;
	unsigned int i;

	for (i = 0; i < ctl.nclients; i++) {
		c = ctl.clients[i];
		if (c->dead || c->job != job)
			continue;
		if (lossy && c->outlen - c->outoff > LOSSY_BACKLOG)
			continue;
		client_append(c, line, strlen(line));
		if (final)
			client_finish(c);
		client_flush(c);
	}
	reap();
}

static void client_accept(void)
{
	struct vexfsd_client *c;
	socklen_t len;
	int fd;

	for (;;) {
		fd = accept4(ctl.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("control: accept: %s", strerror(errno));
			return;
		}
		c = ctl.nclients < MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			log_warn("control: %u clients already; one refused", ctl.nclients);
			close(fd);
			continue;
		}
		len = sizeof(c->cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len)) {
			log_warn("control: SO_PEERCRED: %s", strerror(errno));
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->id = ++ctl.last_id;
		c->since = monotonic_seconds();
		ctl.clients[ctl.nclients++] = c;
	}
}

/* After the request only a hangup is of interest: input is discarded. */
static void client_drain(struct vexfsd_client *c, short revents)
{
	char discard[256];
	ssize_t n;

	/* POLLHUP: gone both ways. A half-close (EOF alone) still reads. */
	if (revents & (POLLHUP | POLLERR)) {
		c->dead = true;
		return;
	}
	n = read(c->fd, discard, sizeof(discard));
	if (n == 0)
		c->rd_eof = true;
	else if (n < 0 && errno != EAGAIN && errno != EINTR)
		c->dead = true;
}

/* Data from a client: its request line, or after that a hangup. */
static void client_read(struct vexfsd_client *c, short revents)
{
	char *nl;
	ssize_t n;

	if (c->have_request) {
		client_drain(c, revents);
		return;
	}
	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->dead = true;
		return;
	}
	c->inlen += n;
	c->in[c->inlen] = '\0';
	nl = memchr(c->in, '\n', c->inlen);
	if (n == 0) {
		/* The request may end at EOF instead of a newline. */
		c->rd_eof = true;
		if (!c->inlen) {
			c->dead = true;
			return;
		}
		nl = c->in + c->inlen;
	}
	if (!nl) {
		if (c->inlen == sizeof(c->in) - 1) {
			c->have_request = true;
			client_printf(c, VEXFSD_MSG_ERROR " %d request line too long", EINVAL);
			client_finish(c);
		}
		return;
	}
	*nl = '\0';
	if (nl > c->in && nl[-1] == '\r')
		nl[-1] = '\0';
	c->have_request = true;
	request_handle(c, c->in);
}

/* Clients that connected and said nothing for too long. */
static void expire_idle(void)
{
	double now = monotonic_seconds();
	unsigned int i;

	for (i = 0; i < ctl.nclients; i++)
		if (!ctl.clients[i]->have_request &&
		    now - ctl.clients[i]->since > REQUEST_TIMEOUT)
			ctl.clients[i]->dead = true;
	reap();
}

int control_pollfds(struct pollfd *pfd, int room)
{
	struct vexfsd_client *c;
	unsigned int i;
	int n = 0;

	if (ctl.fd < 0 || room < 1)
		return 0;
	expire_idle();
	pfd[n].fd = ctl.fd;
	pfd[n].events = POLLIN;
	ctl.polled[n++] = 0;
	for (i = 0; i < ctl.nclients && n < room; i++) {
		c = ctl.clients[i];
		pfd[n].fd = c->fd;
		/* POLLIN also after the request: that is how a hangup shows. */
		pfd[n].events = (c->rd_eof ? 0 : POLLIN) |
				(c->outoff < c->outlen ? POLLOUT : 0);
		ctl.polled[n++] = c->id;
	}
	return n;
}

void control_dispatch(const struct pollfd *pfd, int n)
{
	struct vexfsd_client *c;
	int i;

	for (i = 1; i < n; i++) {
		if (!pfd[i].revents)
			continue;
		c = client_by_id(ctl.polled[i]);
		if (!c || c->dead)
			continue;
		if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
			client_read(c, pfd[i].revents);
		if (!c->dead)
			client_flush(c);
	}
	/* New clients last, once the descriptors above are all dealt with. */
	if (n > 0 && (pfd[0].revents & POLLIN))
		client_accept();
	reap();
}

void control_close(void)
{
	struct stat st;
	unsigned int i;

	/* One last try to deliver what is queued (shutdown errors, say). */
	for (i = 0; i < ctl.nclients; i++)
		client_flush(ctl.clients[i]);
	for (i = 0; i < ctl.nclients; i++)
		client_free(ctl.clients[i]);
	ctl.nclients = 0;
	if (ctl.fd < 0)
		return;
	close(ctl.fd);
	ctl.fd = -1;
	/* Only our own socket: a daemon started since may have replaced it. */
	if (!lstat(ctl.path, &st) && st.st_ino == ctl.ino && unlink(ctl.path))
		log_warn("%s: %s", ctl.path, strerror(errno));
}
