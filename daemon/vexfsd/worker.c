// SPDX-License-Identifier: GPL-2.0
/*
 * The build thread: runs libvexfs_index_build() on one collection at a time,
 * so that a build of minutes never stalls the control socket.
 *
 * The main thread hands it a job and later collects the outcome; nothing
 * else is shared. Between the two: one mutex over the fields below, a
 * condition variable that wakes the worker, and an eventfd that wakes the
 * main loop's poll() when there is progress or a result to collect.
 * Progress is coalesced: the worker overwrites the last report and only
 * rings the eventfd on a phase change or every PROGRESS_INTERVAL.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "vexfsd.h"

#define PROGRESS_INTERVAL	0.25	/* seconds */

static struct {
	pthread_t thread;
	bool started;
	int efd;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* Under lock: */
	bool stop;
	bool has_job;			/* submitted, not yet collected */
	bool running;			/* the thread is in libvexfs_index_build() */
	int fd;
	struct libvexfs_index_params params;
	struct worker_report report;
	double last_ring;
} w = {
	.efd = -1,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
};

/* Wake the main loop. The caller holds the lock. */
static void ring(void)
{
	uint64_t one = 1;

	w.last_ring = monotonic_seconds();
	/* A full counter still wakes poll(); nothing is lost. */
	if (write(w.efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("worker: eventfd: %s", strerror(errno));
}

/* libvexfs_index_build()'s progress callback, on the worker thread. */
static void on_progress(void *ctx, const char *phase, uint64_t done,
			uint64_t total)
{
	bool new_phase;

	(void)ctx;
	pthread_mutex_lock(&w.lock);
	new_phase = strcmp(w.report.phase, phase) != 0;
	snprintf(w.report.phase, sizeof(w.report.phase), "%s", phase);
	w.report.done = done;
	w.report.total = total;
	w.report.progress = true;
	if (new_phase || monotonic_seconds() - w.last_ring >= PROGRESS_INTERVAL)
		ring();
	pthread_mutex_unlock(&w.lock);
}

static void *worker_main(void *arg)
{
	struct libvexfs_index_params p;
	struct libvexfs_index_stats st;
	int fd, err;

	(void)arg;
	pthread_mutex_lock(&w.lock);
	for (;;) {
		while (!w.stop && (!w.has_job || w.running || w.report.finished))
			pthread_cond_wait(&w.wake, &w.lock);
		if (w.stop)
			break;
		w.running = true;
		fd = w.fd;
		p = w.params;
		pthread_mutex_unlock(&w.lock);

		p.progress = on_progress;
		err = libvexfs_index_build(fd, &p, &st);

		pthread_mutex_lock(&w.lock);
		w.running = false;
		w.report.finished = true;
		w.report.err = err;
		w.report.st = st;
		ring();
	}
	pthread_mutex_unlock(&w.lock);
	return NULL;
}

int worker_start(void)
{
	int err;

	w.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w.efd < 0)
		return -errno;
	err = pthread_create(&w.thread, NULL, worker_main, NULL);
	if (err) {
		close(w.efd);
		w.efd = -1;
		return -err;
	}
	w.started = true;
	return 0;
}

int worker_fd(void)
{
	return w.efd;
}

void worker_submit(int fd, const struct libvexfs_index_params *p)
{
	pthread_mutex_lock(&w.lock);
	w.fd = fd;
	w.params = *p;
	memset(&w.report, 0, sizeof(w.report));
	w.has_job = true;
	pthread_cond_signal(&w.wake);
	pthread_mutex_unlock(&w.lock);
}

void worker_collect(struct worker_report *r)
{
	uint64_t count;

	/* Drain first: a ring after this read is news for the next call. */
	if (read(w.efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_debug("worker: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&w.lock);
	*r = w.report;
	w.report.progress = false;
	if (w.report.finished) {
		w.has_job = false;
		w.report.finished = false;
	}
	pthread_mutex_unlock(&w.lock);
}

bool worker_stop(void)
{
	bool busy;

	if (!w.started)
		return false;
	pthread_mutex_lock(&w.lock);
	w.stop = true;
	busy = w.running;
	pthread_cond_signal(&w.wake);
	pthread_mutex_unlock(&w.lock);
	/*
	 * There is no stopping libvexfs_index_build() half-way. Its publish is
	 * one ioctl, atomic in the kernel, so leaving the thread to die with
	 * the process loses only the work, never the index in place.
	 */
	if (!busy) {
		pthread_join(w.thread, NULL);
		w.started = false;
	}
	return busy;
}
