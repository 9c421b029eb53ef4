/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_DL_H
#define RAEVM_DL_H

/*
 * Libraries loaded with dlopen() when a feature first needs them, rather
 * than linked: libslirp (and with it glib) for user networking, libzstd
 * for bundles. Linked, they cost every `raevmd run` about 1.2 MiB of RSS
 * and 0.3-0.5 ms of start-up whether it uses them or not
 * (docs/performance.md).
 *
 * Each library has one small loader next to its users
 * (devices/net/slirp_dl.c, src/daemon/zstd_dl.c) that resolves the
 * symbols they call into one table of function pointers, declared with
 * the library header's own prototypes so calls stay type-checked. The
 * table is written once, under pthread_once(), and only read after.
 * Libraries stay loaded for the life of the process (glib does not
 * support being unloaded).
 */
#include <stddef.h>

/* One symbol: its name and where its pointer goes in the table. */
struct rv_dl_sym {
	const char *name;
	size_t offset;
};

/* The entry for the member of table type t named after its symbol. */
#define RV_DL_SYM(t, member)                                                   \
	{                                                                      \
		.name = #member, .offset = offsetof(t, member)                 \
	}

/* A library: its soname, the Debian package that ships it, its symbols. */
struct rv_dl_lib {
	const char *soname;
	const char *package;
	const struct rv_dl_sym *syms;
	size_t nr_syms;
};

/*
 * Opens lib->soname (RTLD_NOW | RTLD_LOCAL) and stores the address of
 * every symbol of lib->syms at its offset in table. Returns 0, or -ENOSYS
 * with a one-line message in err naming the library and its package when
 * the library or a symbol is missing; then the library is not kept open
 * and table may be partly written (callers discard it).
 */
int rv_dl_load(const struct rv_dl_lib *lib, void *table, char *err,
	       size_t errlen) __attribute__((warn_unused_result));

/*
 * Loads libslirp now (devices/net/slirp_dl.c). The worker calls it for a
 * VM with user networking before it enters the jail, which hides the
 * host's library folders; the NIC, created inside, then finds it loaded.
 * Returns 0 or -ENOSYS with a one-line message in err.
 */
int rv_dl_slirp_preload(char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* RAEVM_DL_H */
