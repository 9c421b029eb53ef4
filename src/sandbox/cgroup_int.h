/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_CGROUP_INT_H
#define RAEVM_CGROUP_INT_H

/* Shared by cgroup.c and cgroup_probe.c only. */
#include <stddef.h>

/*
 * Reads the first line of dir/file into buf (without its newline).
 * Returns 0 or a negative errno.
 */
int rv__cgroup_read_at(const char *dir, const char *file, char *buf,
		       size_t size);

/*
 * 1 when word is one of the space-separated words of list (a leading '+'
 * is allowed, as in cgroup.subtree_control), otherwise 0.
 */
int rv__cgroup_has_word(const char *list, const char *word);

#endif
