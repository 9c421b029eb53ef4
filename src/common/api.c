// SPDX-License-Identifier: Apache-2.0
/*
 * The control protocol's command table (include/raevm/api.h). Adding a
 * command here adds it to the daemon's dispatch check, the CLI and its help;
 * docs/api.md documents each entry.
 */
#include "raevm/api.h"

#include <errno.h>
#include <string.h>

#include "raevm/util.h"

#define END_ARGS                                                               \
	{                                                                      \
		NULL, RV_API_STRING, false, NULL                               \
	}
#define NAME_ARG                                                               \
	{                                                                      \
		"name", RV_API_STRING, true, "the VM's name"                   \
	}

static const struct rv_api_arg no_args[] = { END_ARGS };
static const struct rv_api_arg name_args[] = { NAME_ARG, END_ARGS };

static const struct rv_api_arg create_args[] = {
	{ "manifest", RV_API_OBJECT, true, "the .raeVM document" },
	{ "base_dir", RV_API_STRING, false,
	  "absolute folder that relative paths in the manifest resolve "
	  "against" },
	{ "start", RV_API_BOOL, false, "start the VM once created" },
	END_ARGS
};

static const struct rv_api_arg stop_args[] = {
	NAME_ARG,
	{ "force", RV_API_BOOL, false,
	  "stop at once instead of pressing the power button" },
	{ "timeout", RV_API_INT, false,
	  "seconds to wait for a graceful stop before forcing (default 30)" },
	END_ARGS
};

static const struct rv_api_arg delete_args[] = {
	NAME_ARG,
	{ "keep_disks", RV_API_BOOL, false, "leave the disk images in place" },
	END_ARGS
};

static const struct rv_api_arg logs_args[] = {
	NAME_ARG,
	{ "lines", RV_API_INT, false,
	  "how many lines from the end (default 100)" },
	END_ARGS
};

static const struct rv_api_arg set_args[] = {
	NAME_ARG,
	{ "cpus", RV_API_INT, false, "vCPU count" },
	{ "memory", RV_API_STRING, false, "RAM size, e.g. \"1G\"" },
	{ "disks", RV_API_ARRAY, false, "the disks array of the manifest" },
	{ "net", RV_API_ARRAY, false,
	  "the net array of the manifest ([] for no NIC)" },
	/*
	 * Added by the daemon (docs/api.md "vm.set"): relative paths in
	 * "disks" resolve against it, as vm.create's base_dir; the CLI sends
	 * its current folder.
	 */
	{ "base_dir", RV_API_STRING, false,
	  "absolute folder that relative disk paths resolve against" },
	END_ARGS
};

static const struct rv_api_arg export_args[] = {
	NAME_ARG,
	{ "path", RV_API_STRING, true, "absolute path of the bundle to write" },
	END_ARGS
};

static const struct rv_api_arg import_args[] = {
	{ "path", RV_API_STRING, true, "absolute path of the bundle to read" },
	{ "name", RV_API_STRING, false, "a new name for the imported VM" },
	END_ARGS
};

/*
 * Results and errors of each command are in docs/api.md. Points the CLI
 * relies on: vm.create/vm.set errors for an invalid manifest carry the
 * lines as error.errors (an array of strings) besides error.message;
 * vm.console returns {"socket": PATH, "escape": "^]"} for the client to
 * connect to; vm.logs returns {"text": ..., "truncated": bool}; vm.list
 * returns {"vms": [...]} with memory in bytes and uptime in seconds.
 */
const struct rv_api_cmd rv_api_cmds[] = {
	{ "daemon.version", "version", "",
	  "show the daemon's and CLI's versions", RV_API_READ, no_args },
	{ "vm.create", "create", "FILE.raeVM | --name NAME --kernel PATH ...",
	  "create a VM from a manifest or flags", RV_API_CHANGE, create_args },
	{ "vm.list", "list", "", "list VMs and their state", RV_API_READ,
	  no_args },
	{ "vm.info", "info", "NAME", "show one VM's configuration and state",
	  RV_API_READ, name_args },
	{ "vm.start", "start", "NAME", "start a VM", RV_API_CHANGE, name_args },
	{ "vm.stop", "stop", "NAME [--force] [--timeout SECONDS]",
	  "stop a VM: power button, then force after the timeout",
	  RV_API_CHANGE, stop_args },
	{ "vm.kill", "kill", "NAME", "stop a VM at once (its worker is killed)",
	  RV_API_CHANGE, name_args },
	{ "vm.pause", "pause", "NAME", "pause a VM's vCPUs", RV_API_CHANGE,
	  name_args },
	{ "vm.resume", "resume", "NAME", "resume a paused VM", RV_API_CHANGE,
	  name_args },
	{ "vm.restart", "restart", "NAME [--force] [--timeout SECONDS]",
	  "stop and start a VM", RV_API_CHANGE, stop_args },
	{ "vm.delete", "delete", "NAME [--keep-disks]",
	  "delete a stopped VM and its files", RV_API_CHANGE, delete_args },
	{ "vm.console", "console", "NAME",
	  "attach to the serial console (detach with Ctrl-])", RV_API_CHANGE,
	  name_args },
	{ "vm.logs", "logs", "NAME [--lines N]",
	  "show the console log (scrollback)", RV_API_READ, logs_args },
	{ "events.subscribe", "events", "", "stream events as they happen",
	  RV_API_READ, no_args },
	{ "vm.set", "set", "NAME [--cpus N] [--memory SIZE] [--net SPEC]...",
	  "change a stopped VM's configuration", RV_API_CHANGE, set_args },
	{ "vm.export", "export", "NAME -o FILE",
	  "bundle a VM's manifest and disks into one file", RV_API_CHANGE,
	  export_args },
	{ "vm.import", "import", "FILE [--name NAME]",
	  "create a VM from a bundle", RV_API_CHANGE, import_args },
};

const size_t rv_api_nr_cmds = RV_ARRAY_SIZE(rv_api_cmds);

const struct rv_api_cmd *rv_api_find(const char *name)
{
	size_t i;

	for (i = 0; name && i < rv_api_nr_cmds; i++)
		if (strcmp(rv_api_cmds[i].name, name) == 0)
			return &rv_api_cmds[i];
	return NULL;
}

const struct rv_api_cmd *rv_api_find_cli(const char *verb)
{
	size_t i;

	for (i = 0; verb && i < rv_api_nr_cmds; i++)
		if (strcmp(rv_api_cmds[i].cli, verb) == 0)
			return &rv_api_cmds[i];
	return NULL;
}

#define ERRNO(e)                                                               \
	{                                                                      \
		e, #e                                                          \
	}

static const struct {
	int err;
	const char *name;
} errno_names[] = {
	ERRNO(EPERM),	  ERRNO(ENOENT),       ERRNO(EIO),	 ERRNO(E2BIG),
	ERRNO(ENOMEM),	  ERRNO(EACCES),       ERRNO(EBUSY),	 ERRNO(EEXIST),
	ERRNO(EINVAL),	  ERRNO(ENOSPC),       ERRNO(EROFS),	 ERRNO(ERANGE),
	ERRNO(ENOSYS),	  ERRNO(ENOTSUP),      ERRNO(EPROTO),	 ERRNO(EBADMSG),
	ERRNO(ETIMEDOUT), ERRNO(EALREADY),     ERRNO(ECANCELED), ERRNO(ESRCH),
	ERRNO(EAGAIN),	  ERRNO(ENAMETOOLONG), ERRNO(EMSGSIZE),	 ERRNO(ENODEV),
	ERRNO(ECHILD),
};

const char *rv_api_errno_name(int err)
{
	size_t i;

	if (err < 0)
		err = -err;
	for (i = 0; i < RV_ARRAY_SIZE(errno_names); i++)
		if (errno_names[i].err == err)
			return errno_names[i].name;
	return "EIO";
}

int rv_api_errno_from_name(const char *name)
{
	size_t i;

	for (i = 0; name && i < RV_ARRAY_SIZE(errno_names); i++)
		if (strcmp(errno_names[i].name, name) == 0)
			return -errno_names[i].err;
	return -EIO;
}
