// SPDX-License-Identifier: GPL-2.0
/*
 * Logging to stderr with levels.
 *
 * vexfsd always runs in the foreground and leaves its output to whoever
 * started it. Under systemd (JOURNAL_STREAM names our stderr) each line
 * starts with the sd-daemon "<N>" prefix, so the journal records the
 * right priority and adds its own time stamp; anywhere else a line
 * carries the time and the level in words.
 *
 * Two threads log, so each line is formatted first and written with one
 * write(2): lines never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vexfsd.h"

static int log_level = LOG_INFO;
static bool log_journal;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* JOURNAL_STREAM is "device:inode" of the stream systemd connected. */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st))
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_init(int level)
{
	log_level = level;
	log_journal = stderr_is_journal();
}

void log_set_level(int level)
{
	log_level = level;
}

int log_level_parse(const char *name)
{
	int i;

	for (i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (!strcasecmp(name, level_names[i]))
			return i;
	if (!strcasecmp(name, "error"))
		return LOG_ERR;
	if (!strcasecmp(name, "warn"))
		return LOG_WARNING;
	return -1;
}

static size_t log_prefix(char *buf, size_t size, int prio)
{
	struct tm tm;
	time_t now;
	size_t n;

	if (log_journal)
		return snprintf(buf, size, "<%d>", prio);
	now = time(NULL);
	localtime_r(&now, &tm);
	n = strftime(buf, size, "%Y-%m-%d %H:%M:%S ", &tm);
	return n + snprintf(buf + n, size - n, "vexfsd[%d]: %s: ",
			    (int)getpid(), level_names[prio]);
}

void log_msg(int prio, const char *fmt, ...)
{
	char line[2048];
	size_t len;
	va_list ap;

	if (prio > log_level)
		return;
	len = log_prefix(line, sizeof(line), prio);
	va_start(ap, fmt);
	vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	len = strlen(line);
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* Nothing sensible to do if stderr is gone. */
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}
