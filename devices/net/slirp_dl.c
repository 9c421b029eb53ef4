// SPDX-License-Identifier: Apache-2.0
/*
 * libslirp (and glib, which it needs) loaded with dlopen() by the first
 * NIC in user mode, or by the worker before its jail, rather than linked
 * into every raevmd (raevm/dl.h).
 */
#include "slirp_dl.h"

#include "raevm/util.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

static const struct rv_dl_sym slirp_syms[] = {
	RV_DL_SYM(struct rv_slirp_dl, slirp_new),
	RV_DL_SYM(struct rv_slirp_dl, slirp_cleanup),
	RV_DL_SYM(struct rv_slirp_dl, slirp_input),
	RV_DL_SYM(struct rv_slirp_dl, slirp_pollfds_fill),
	RV_DL_SYM(struct rv_slirp_dl, slirp_pollfds_poll),
	RV_DL_SYM(struct rv_slirp_dl, slirp_handle_timer),
	RV_DL_SYM(struct rv_slirp_dl, slirp_add_hostfwd),
	RV_DL_SYM(struct rv_slirp_dl, slirp_version_string),
};

static const struct rv_dl_lib slirp_lib = {
	.soname = "libslirp.so.0",
	.package = "libslirp0",
	.syms = slirp_syms,
	.nr_syms = RV_ARRAY_SIZE(slirp_syms),
};

/* Written once under load_once, read only after it (the registry rule). */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static struct rv_slirp_dl table;
static int load_rc;
static char load_err[256];

static void load(void)
{
	load_rc = rv_dl_load(&slirp_lib, &table, load_err, sizeof(load_err));
}

int rv__slirp_dl_load(const struct rv_slirp_dl **out, char *err, size_t errlen)
{
	*out = NULL;
	pthread_once(&load_once, load);
	if (load_rc) {
		snprintf(err, errlen, "%s", load_err);
		return load_rc;
	}
	*out = &table;
	return 0;
}

int rv_dl_slirp_preload(char *err, size_t errlen)
{
	const struct rv_slirp_dl *unused;

	return rv__slirp_dl_load(&unused, err, errlen);
}
