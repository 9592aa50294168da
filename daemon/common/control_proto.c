// SPDX-License-Identifier: GPL-2.0
/*
 * The vexfsd protocol's text conventions (control_proto.h), shared by the
 * daemon and vexfsctl: escaping paths, splitting records into fields.
 */
#include <string.h>

#include "control_proto.h"

int proto_escape(const char *s, char *buf, size_t size)
{
	size_t n = 0;

	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : NULL;
		size_t len = esc ? 2 : 1;

		if (n + len >= size)
			return -1;
		if (esc)
			memcpy(buf + n, esc, 2);
		else
			buf[n] = *s;
		n += len;
	}
	buf[n] = '\0';
	return 0;
}

void proto_unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && (s[1] == '\\' || s[1] == 'n')) {
			*out++ = s[1] == 'n' ? '\n' : '\\';
			s++;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

bool proto_next_field(char **rest, char **key, char **value)
{
	char *s = *rest, *eq, *end;

	while (*s == ' ')
		s++;
	if (!*s)
		return false;
	eq = strchr(s, '=');
	if (!eq)
		return false;
	*eq = '\0';
	*key = s;
	*value = eq + 1;
	if (!strcmp(s, "path")) {
		proto_unescape(*value);
		*rest = *value + strlen(*value);
		return true;
	}
	end = strchr(*value, ' ');
	if (end)
		*end++ = '\0';
	*rest = end ? end : *value + strlen(*value);
	return true;
}
