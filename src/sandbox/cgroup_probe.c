// SPDX-License-Identifier: Apache-2.0
/*
 * Finding the host's cgroup hierarchies (rv_cgroup_probe() in
 * include/raevm/cgroup.h): which version is mounted where, which
 * controllers it offers and the group this process is in, read from
 * /proc/self/mountinfo and /proc/self/cgroup (paths injectable for tests).
 * cgroup.c does the rest with the result.
 */
#include "raevm/cgroup.h"

#include "cgroup_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Probing                                                                */

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *w = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 4;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
}

/* A hierarchy seen in mountinfo: where it is mounted, and its root. */
struct hier {
	bool found;
	char mount[PATH_MAX];
	char root[PATH_MAX];
	char own[PATH_MAX]; /* from /proc/self/cgroup */
	bool own_found;
};

struct probe {
	struct hier v1[RV_CGROUP_NR_CTRLS];
	struct hier v2;
};

static int ctrl_index(const char *name)
{
	unsigned int c;

	for (c = 0; c < RV_CGROUP_NR_CTRLS; c++)
		if (strcmp(name, rv_cgroup_ctrl_name((enum rv_cgroup_ctrl)c)) ==
		    0)
			return (int)c;
	return -1;
}

static void set_hier(struct hier *h, const char *mount, const char *root)
{
	if (h->found)
		return; /* the first mount of a hierarchy is enough */
	h->found = true;
	snprintf(h->mount, sizeof(h->mount), "%s", mount);
	snprintf(h->root, sizeof(h->root), "%s", root);
}

/*
 * One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNT OPTS... - TYPE SRC
 * SUPEROPTS".
 */
static void probe_mount_line(struct probe *p, char *line)
{
	char *sep = strstr(line, " - ");
	char *f[5], *type, *super, *save = NULL, *tok;
	unsigned int i;
	int c;

	if (!sep)
		return;
	*sep = '\0';
	f[0] = strtok_r(line, " ", &save);
	for (i = 1; i < 5 && f[i - 1]; i++)
		f[i] = strtok_r(NULL, " ", &save);
	if (!f[0] || !f[4])
		return;
	save = NULL;
	type = strtok_r(sep + 3, " ", &save);
	strtok_r(NULL, " ", &save); /* source */
	super = strtok_r(NULL, " \n", &save);
	if (!type)
		return;
	unescape(f[3]);
	unescape(f[4]);
	if (strcmp(type, "cgroup2") == 0) {
		set_hier(&p->v2, f[4], f[3]);
		return;
	}
	if (strcmp(type, "cgroup") != 0 || !super)
		return;
	save = NULL;
	for (tok = strtok_r(super, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		c = ctrl_index(tok);
		if (c >= 0)
			set_hier(&p->v1[c], f[4], f[3]);
	}
}

/* One /proc/self/cgroup line: "ID:CONTROLLERS:PATH". */
static void probe_self_line(struct probe *p, char *line)
{
	char *c1 = strchr(line, ':'), *c2, *path, *tok, *save = NULL;
	struct hier *h;
	int c;

	if (!c1)
		return;
	c2 = strchr(c1 + 1, ':');
	if (!c2)
		return;
	*c2 = '\0';
	path = c2 + 1;
	path[strcspn(path, "\n")] = '\0';
	if (strcmp(line, "0:") == 0 && c1[1] == '\0') {
		snprintf(p->v2.own, sizeof(p->v2.own), "%s", path);
		p->v2.own_found = true;
		return;
	}
	for (tok = strtok_r(c1 + 1, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		c = ctrl_index(tok);
		if (c < 0)
			continue;
		h = &p->v1[c];
		snprintf(h->own, sizeof(h->own), "%s", path);
		h->own_found = true;
	}
}

static int for_each_line(const char *path, struct probe *p,
			 void (*fn)(struct probe *p, char *line))
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0)
		fn(p, line);
	free(line);
	fclose(f);
	return 0;
}

/*
 * The own group's directory: the mount point plus the path below the
 * mount's root (a container sees its own group as the root).
 */
static int own_dir(const struct hier *h, char *out, size_t size)
{
	const char *rel = h->own;
	size_t rl = strlen(h->root);
	int n;

	if (strcmp(h->root, "/") != 0 && strncmp(rel, h->root, rl) == 0 &&
	    (rel[rl] == '/' || rel[rl] == '\0'))
		rel += rl;
	while (*rel == '/')
		rel++;
	n = *rel ? snprintf(out, size, "%s/%s", h->mount, rel) :
		   snprintf(out, size, "%s", h->mount);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static bool probe_v2(const struct probe *p, struct rv_cgroup_host *host)
{
	char dir[PATH_MAX], list[512];
	unsigned int c;
	bool any = false;

	if (!p->v2.found || !p->v2.own_found ||
	    own_dir(&p->v2, dir, sizeof(dir)) ||
	    rv__cgroup_read_at(dir, "cgroup.controllers", list, sizeof(list)))
		return false;
	for (c = 0; c < RV_CGROUP_NR_CTRLS; c++) {
		if (!rv__cgroup_has_word(
			    list, rv_cgroup_ctrl_name((enum rv_cgroup_ctrl)c)))
			continue;
		snprintf(host->base[c], sizeof(host->base[c]), "%s", dir);
		any = true;
	}
	return any;
}

static bool probe_v1(const struct probe *p, struct rv_cgroup_host *host)
{
	unsigned int c;
	bool any = false;

	for (c = 0; c < RV_CGROUP_NR_CTRLS; c++) {
		const struct hier *h = &p->v1[c];

		if (!h->found || !h->own_found ||
		    own_dir(h, host->base[c], sizeof(host->base[c])))
			host->base[c][0] = '\0';
		else
			any = true;
	}
	return any;
}

int rv_cgroup_probe(const char *mountinfo, const char *self_cgroup,
		    struct rv_cgroup_host *host)
{
	struct probe *p;
	int rc;

	memset(host, 0, sizeof(*host));
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = for_each_line(mountinfo, p, probe_mount_line);
	if (!rc)
		rc = for_each_line(self_cgroup, p, probe_self_line);
	if (!rc && probe_v2(p, host)) {
		host->version = RV_CGROUP_V2;
	} else if (!rc) {
		memset(host->base, 0, sizeof(host->base));
		if (probe_v1(p, host))
			host->version = RV_CGROUP_V1;
	}
	free(p);
	return rc;
}
