/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_UTIL_H
#define RAEVM_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define RV_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define rv_container_of(ptr, type, member)                                     \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define RV_MUST_CHECK __attribute__((warn_unused_result))

#define RV_KiB (1024ULL)
#define RV_MiB (1024ULL * RV_KiB)
#define RV_GiB (1024ULL * RV_MiB)

/*
 * Parses a size such as "512M", "1G", "4096" or "2GiB" into bytes.
 * Suffixes K, M, G, T (optionally followed by "iB" or "B") are powers of 1024.
 * Returns 0, or -EINVAL for malformed text and -ERANGE on overflow.
 */
int rv_parse_size(const char *text, uint64_t *out) RV_MUST_CHECK;

/*
 * Parses an unsigned decimal integer that must lie in [min, max].
 * Returns 0, -EINVAL for malformed text, -ERANGE when out of range.
 */
int rv_parse_uint(const char *text, uint64_t min, uint64_t max,
		  uint64_t *out) RV_MUST_CHECK;

/* Formats bytes as "512 MiB" / "1.5 GiB" into buf; returns buf. */
const char *rv_format_size(uint64_t bytes, char *buf, size_t len);

/*
 * Reads a whole file into a malloc'd buffer. Returns 0 or a negative errno;
 * -EFBIG if it is larger than max_len.
 */
int rv_read_file(const char *path, size_t max_len, uint8_t **data,
		 size_t *len) RV_MUST_CHECK;

/*
 * Decodes the four hex digits at s (not NUL-terminated) into *out.
 * Returns 0, or -EINVAL if any of them is not a hex digit.
 */
int rv_hex4_decode(const char *s, unsigned int *out) RV_MUST_CHECK;

/* Writes code point cp (<= 0x10ffff) as UTF-8 to out; returns 1 to 4. */
size_t rv_utf8_encode(unsigned int cp, char *out);

/*
 * Starts a helper thread (device I/O, sockets) with every signal blocked:
 * process signals belong to the main loop and the vCPU kick to vCPU
 * threads. Returns 0 or a negative errno.
 */
int rv_thread_create_blocked(pthread_t *thread, void *(*fn)(void *),
			     void *arg) RV_MUST_CHECK;

/*
 * Listens on a new non-blocking Unix stream socket at path, mode 0600, for
 * the devices' host sides (virtio-console, virtio-vsock). A socket file
 * left by a process that died is replaced; a live socket or a file that is
 * not a socket is refused. reserve is room kept free in sun_path for
 * names derived from path. Errors are logged once, prefixed with what
 * ("vsock socket"). Returns 0 and the fd in *out, or a negative errno.
 */
int rv_unix_listen(const char *path, size_t reserve, int backlog,
		   const char *what, int *out) RV_MUST_CHECK;

#endif
