/* SPDX-License-Identifier: MIT */
#include "l1vmm/parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* strtoull accepts leading spaces and signs; we do not. */
static bool digits_first(const char *s)
{
	return s && isdigit((unsigned char)s[0]);
}

bool parse__u64(const char *s, uint64_t *out)
{
	if (!digits_first(s))
		return false;
	/* decimal, or hex with 0x: a leading 0 is not octal (010 is ten) */
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	if (hex && !isxdigit((unsigned char)s[2]))
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, hex ? 16 : 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

bool parse__size(const char *s, uint64_t *out)
{
	if (!digits_first(s))
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return false;
	static const struct { const char *suffix; unsigned shift; } units[] = {
		{ "", 0 }, { "B", 0 },
		{ "K", 10 }, { "KB", 10 }, { "KiB", 10 }, { "k", 10 },
		{ "M", 20 }, { "MB", 20 }, { "MiB", 20 },
		{ "G", 30 }, { "GB", 30 }, { "GiB", 30 },
		{ "T", 40 }, { "TB", 40 }, { "TiB", 40 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return false;
		*out = (uint64_t)v << units[i].shift;
		return true;
	}
	return false;
}

bool parse__seconds(const char *s, double *out)
{
	if (!s || !(isdigit((unsigned char)s[0]) || s[0] == '.'))
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || v > 1e7)
		return false;
	*out = v;
	return true;
}

int parse__open_regular(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | flags);
	if (fd < 0)
		return -1;
	struct stat st;
	int e = fstat(fd, &st) < 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
	if (e) {
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int parse__modules(char *spec, char *path[], char *args[], unsigned max, char *err,
		   size_t errlen)
{
	if (!spec[0])
		return 0;
	unsigned n = 0;
	for (char *item = spec; item;) {
		char *next = strchr(item, ';');
		if (next)
			*next++ = '\0';
		if (n == max) {
			snprintf(err, errlen, "more than %u modules", max);
			return -1;
		}
		char *comma = strchr(item, ',');
		if (comma)
			*comma++ = '\0';
		if (!item[0]) {
			snprintf(err, errlen, "module %u has no path (items are PATH[,ARGS], joined by ';')", n);
			return -1;
		}
		path[n] = item;
		args[n++] = comma;
		item = next;
	}
	return (int)n;
}

bool parse__listen_addr(const char *s, struct sockaddr_storage *out, socklen_t *len)
{
	char host[64] = "127.0.0.1";
	const char *port = s, *colon = strrchr(s, ':');
	bool bracketed = false;
	if (colon) {
		size_t n = (size_t)(colon - s);
		const char *h = s;
		if (n >= 2 && s[0] == '[' && s[n - 1] == ']') { /* [IPV6] */
			h++;
			n -= 2;
			bracketed = true;
		} else if (memchr(s, ':', n)) {
			return false; /* an IPv6 address needs its brackets */
		}
		if (n == 0 || n >= sizeof(host))
			return false;
		memcpy(host, h, n);
		host[n] = '\0';
		port = colon + 1;
	}
	uint64_t p;
	if (strspn(port, "0123456789") != strlen(port) || !parse__u64(port, &p) || p > 65535)
		return false;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	*out = (struct sockaddr_storage){ 0 };
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
	if (!bracketed && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		*len = sizeof(*v4);
		return true;
	}
	if (bracketed && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*v6);
		return true;
	}
	return false;
}
