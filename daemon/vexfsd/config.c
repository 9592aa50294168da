// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration: defaults, the file (/etc/vexfs/vexfsd.conf), and the
 * command line's overrides, which go through the same config_set() so a
 * value means the same wherever it is written.
 *
 * The file is `key = value` lines; blank lines and lines starting with
 * '#' are ignored. An unknown key is an error naming its line: a typo
 * should stop the daemon, not leave it running on a default.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/parse.h"
#include "vexfsd.h"
#include "common/control_proto.h"

void config_defaults(struct vexfsd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->socket, sizeof(cfg->socket), "%s", VEXFSD_SOCKET_PATH);
	cfg->scan_interval = 5;
	cfg->index_threshold = 1000;
	cfg->rebuild_dead_share = 0.2;
	cfg->max_depth = 4;
	cfg->keep_pruned = true;
	cfg->log_level = LOG_INFO;
	cfg->telemetry = true;
	snprintf(cfg->metrics_address, sizeof(cfg->metrics_address), "127.0.0.1");
	cfg->metrics_port = 9477;
	cfg->slow_us = 10000;
}


/* A whole decimal number in min..max. */
static int parse_number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int set_u32(const char *value, uint64_t min, uint64_t max, uint32_t *out)
{
	uint64_t v;

	if (parse_number(value, min, max, &v))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int set_socket(struct vexfsd_config *cfg, const char *value,
		      const char **why)
{
	if (value[0] != '/') {
		*why = "socket wants an absolute path";
		return -1;
	}
	if (strlen(value) >= sizeof(cfg->socket)) {
		*why = "socket path is too long for a Unix socket (107 bytes at most)";
		return -1;
	}
	strcpy(cfg->socket, value);
	return 0;
}

static int set_share(const char *value, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (errno || end == value || *end || !(v >= 0.0 && v <= 1.0))
		return -1;
	*out = v;
	return 0;
}

int config_set(struct vexfsd_config *cfg, const char *key, const char *value,
	       const char **why)
{
	uint64_t v;
	int level;

	*why = NULL;
	if (!strcmp(key, "socket"))
		return set_socket(cfg, value, why);
	if (!strcmp(key, "scan_interval_seconds")) {
		*why = "scan_interval_seconds wants 1..86400";
		if (parse_number(value, 1, 86400, &v))
			return -1;
		cfg->scan_interval = (unsigned int)v;
	} else if (!strcmp(key, "index_threshold")) {
		*why = "index_threshold wants a number of vectors, at least 1";
		if (parse_number(value, 1, UINT64_MAX, &cfg->index_threshold))
			return -1;
	} else if (!strcmp(key, "rebuild_dead_share")) {
		*why = "rebuild_dead_share wants 0..1 (0: never rebuild for deletions)";
		if (set_share(value, &cfg->rebuild_dead_share))
			return -1;
	} else if (!strcmp(key, "m")) {
		*why = "m wants 2..128";
		if (set_u32(value, 2, 128, &cfg->m))
			return -1;
	} else if (!strcmp(key, "ef_construction")) {
		*why = "ef_construction wants 1..4096";
		if (set_u32(value, 1, 4096, &cfg->ef_construction))
			return -1;
	} else if (!strcmp(key, "keep_pruned")) {
		*why = "keep_pruned wants yes or no";
		if (parse_yes_no(value, &cfg->keep_pruned))
			return -1;
	} else if (!strcmp(key, "threads")) {
		*why = "threads wants 0..256 (0: one per CPU)";
		if (set_u32(value, 0, 256, &cfg->threads))
			return -1;
	} else if (!strcmp(key, "max_depth")) {
		*why = "max_depth wants 0..64";
		if (parse_number(value, 0, 64, &v))
			return -1;
		cfg->max_depth = (unsigned int)v;
	} else if (!strcmp(key, "telemetry")) {
		*why = "telemetry wants yes or no";
		if (parse_yes_no(value, &cfg->telemetry))
			return -1;
	} else if (!strcmp(key, "metrics_address")) {
		*why = "metrics_address wants a numeric address (loopback only)";
		if (!*value || strlen(value) >= sizeof(cfg->metrics_address))
			return -1;
		snprintf(cfg->metrics_address, sizeof(cfg->metrics_address), "%s", value);
	} else if (!strcmp(key, "metrics_port")) {
		*why = "metrics_port wants 0..65535 (0: no HTTP server)";
		if (parse_number(value, 0, 65535, &v))
			return -1;
		cfg->metrics_port = (uint16_t)v;
	} else if (!strcmp(key, "slow_us")) {
		*why = "slow_us wants microseconds (0: every operation)";
		if (parse_number(value, 0, UINT64_MAX, &cfg->slow_us))
			return -1;
	} else if (!strcmp(key, "log_level")) {
		*why = "log_level wants err, warning, notice, info or debug";
		level = log_level_parse(value);
		if (level < 0)
			return -1;
		cfg->log_level = level;
	} else {
		*why = "unknown key";
		return -2;
	}
	*why = NULL;
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* One line of the file: 0 if it was fine (or empty), -1 logged. */
static int config_line(struct vexfsd_config *cfg, const char *path,
		       unsigned int lineno, char *line)
{
	const char *why;
	char *key, *value, *eq;
	int rc;

	key = trim(line);
	if (!*key || *key == '#')
		return 0;
	eq = strchr(key, '=');
	if (!eq) {
		log_err("%s:%u: want 'key = value', got '%s'", path, lineno, key);
		return -1;
	}
	*eq = '\0';
	key = trim(key);
	value = trim(eq + 1);
	rc = config_set(cfg, key, value, &why);
	if (rc == -2)
		log_err("%s:%u: unknown key '%s'", path, lineno, key);
	else if (rc)
		log_err("%s:%u: %s, not '%s'", path, lineno, why, value);
	return rc ? -1 : 0;
}

int config_load(struct vexfsd_config *cfg, const char *path, bool must_exist)
{
	unsigned int lineno = 0;
	char line[1024];
	int rc = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !must_exist) {
			log_debug("%s: no such file; using the defaults", path);
			return 0;
		}
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			log_err("%s:%u: line too long", path, lineno);
			rc = -1;
			break;
		}
		if (config_line(cfg, path, lineno, line))
			rc = -1;
	}
	fclose(f);
	return rc;
}
