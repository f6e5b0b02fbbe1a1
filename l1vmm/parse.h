/* SPDX-License-Identifier: MIT */
/*
 * DOC: strict parsers for values a user types: the whole string must be
 * consumed, no sign where none is meant, no overflow, no empty string.
 */
#ifndef L1VMM_PARSE_H
#define L1VMM_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Decimal (or 0x hex) unsigned integer. */
bool parse__u64(const char *s, uint64_t *out);
/* Bytes with an optional binary suffix: K, M, G, T (also KiB, MiB, ... and a B). */
bool parse__size(const char *s, uint64_t *out);
/* Non-negative seconds, decimals allowed ("0.5", "120"), at most 10^7. */
bool parse__seconds(const char *s, double *out);

/*
 * An address to listen on: "PORT" (loopback, 127.0.0.1), "IPV4:PORT",
 * "[IPV6]:PORT" or "localhost:PORT"; PORT 0..65535 (0: any free port).
 * Numeric addresses only: nothing is looked up.
 */
bool parse__listen_addr(const char *s, struct sockaddr_storage *out, socklen_t *len);

/*
 * Open a file a user named for reading, never blocking on it: O_NONBLOCK (a
 * FIFO or a device must not stall l1vmm in open or read) and fstat-checked
 * as a regular file. flags are added (O_NOFOLLOW). The fd, or -1 with errno
 * set: EINVAL when the file is not a regular one.
 */
int parse__open_regular(const char *path, int flags);

/*
 * Split a list of multiboot modules, "PATH[,ARGS]" items joined by ';'
 * (vms/NAME/modules), in place: path[i] and args[i] (NULL when there is no
 * ',') point into spec. The count (0 for ""), or -1 with a one-line reason in
 * err: an empty item or PATH, or more than max items.
 */
int parse__modules(char *spec, char *path[], char *args[], unsigned max, char *err,
		   size_t errlen);

#endif
