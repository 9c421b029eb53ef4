// SPDX-License-Identifier: Apache-2.0
/*
 * The one dlopen() loop behind every on-demand library (raevm/dl.h).
 */
#include "raevm/dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int rv_dl_load(const struct rv_dl_lib *lib, void *table, char *err,
	       size_t errlen)
{
	void *h, *p;
	size_t i;

	dlerror();
	h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		/* dlerror() names the file and says why (absent, bad ELF). */
		snprintf(err, errlen, "cannot load %s (Debian package %s): %s",
			 lib->soname, lib->package, dlerror());
		return -ENOSYS;
	}
	for (i = 0; i < lib->nr_syms; i++) {
		p = dlsym(h, lib->syms[i].name);
		if (!p) {
			snprintf(err, errlen,
				 "%s has no symbol %s (Debian package %s too "
				 "old?)",
				 lib->soname, lib->syms[i].name, lib->package);
			dlclose(h);
			return -ENOSYS;
		}
		/*
		 * POSIX makes a function's address from dlsym() usable as a
		 * function pointer; memcpy() stores it without a cast from
		 * void * that ISO C leaves undefined.
		 */
		memcpy((char *)table + lib->syms[i].offset, &p, sizeof(p));
	}
	return 0;
}
