// SPDX-License-Identifier: Apache-2.0
/*
 * raevm's entry point: parse the command line, ask the daemon, print the
 * answer, and turn the outcome into a documented exit status (raevm(1)).
 * Only main() exits; everything else returns a status or a negative errno.
 */
#include "cli.h"

#include "raevm/log.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set by SIGINT/SIGTERM/SIGHUP while `events` streams. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Reports a failure to talk to the daemon; returns the exit status. */
static int lost(int err)
{
	switch (-err) {
	case ECONNRESET:
	case EPIPE:
		rv_error("the daemon closed the connection before answering");
		return RV_CLI_EXIT_NO_DAEMON;
	case ETIMEDOUT:
		rv_error("the daemon did not answer in time");
		return RV_CLI_EXIT_ERROR;
	case EMSGSIZE:
		rv_error("the daemon sent a line that is too long");
		return RV_CLI_EXIT_ERROR;
	case EPROTO:
		return RV_CLI_EXIT_ERROR; /* already reported */
	default:
		rv_error("talking to the daemon: %s", strerror(-err));
		return RV_CLI_EXIT_ERROR;
	}
}

/*
 * Prints the daemon's error: its message, or, when it lists problems in
 * error.errors (an invalid manifest), one line per problem. Returns the
 * exit status that goes with its code.
 */
static int refused(struct json_object *reply)
{
	struct json_object *err = NULL, *code = NULL, *msg = NULL, *list;
	const char *text;
	char b[1024];
	size_t i, n = 0;

	json_object_object_get_ex(reply, "error", &err);
	json_object_object_get_ex(err, "code", &code);
	json_object_object_get_ex(err, "message", &msg);
	if (json_object_object_get_ex(err, "errors", &list) &&
	    json_object_is_type(list, json_type_array))
		n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		text = json_object_get_string(
			json_object_array_get_idx(list, i));
		rv_error("%s", rv_cli_sanitize(text, b, sizeof(b)));
	}
	if (!n) {
		text = msg ? json_object_get_string(msg) :
			     "the daemon refused without a message";
		rv_error("%s", rv_cli_sanitize(text, b, sizeof(b)));
	}
	return rv_cli_exit_status(code ? json_object_get_string(code) : NULL);
}

/*
 * Streams events until SIGINT/SIGTERM/SIGHUP (status 0) or until the daemon
 * goes away (status 3). With --json each event line is printed as received.
 */
static int stream_events(struct rv_cli_conn *conn, bool json)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_interrupt };
	struct json_object *ev;
	sigset_t block, old;
	char out[1024];
	size_t len, i;
	char *line;
	int r;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (i = 0; i < RV_ARRAY_SIZE(sigs); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	for (;;) {
		/*
		 * The signals are blocked from the check of the flag until
		 * ppoll() atomically unblocks them, so none is missed.
		 */
		sigprocmask(SIG_BLOCK, &block, &old);
		conn->wait_mask = &old;
		r = interrupted ? -EINTR :
				  rv_cli_read_line(conn, -1, &line, &len);
		conn->wait_mask = NULL;
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (r == -EINTR)
			return RV_CLI_EXIT_OK;
		if (r == -ECONNRESET) {
			rv_error("the daemon closed the event stream");
			return RV_CLI_EXIT_NO_DAEMON;
		}
		if (r < 0)
			return lost(r);
		ev = json_tokener_parse(line);
		if (!ev || !json_object_is_type(ev, json_type_object) ||
		    !json_object_object_get_ex(ev, "event", NULL)) {
			json_object_put(ev);
			continue;
		}
		if (json)
			printf("%s\n", line);
		else
			printf("%s\n",
			       rv_cli_format_event(ev, out, sizeof(out)));
		json_object_put(ev);
		if (fflush(stdout) != 0 && !interrupted)
			return RV_CLI_EXIT_ERROR;
	}
}

static int attach(struct json_object *args, struct json_object *result)
{
	struct json_object *v = NULL, *n = NULL;
	const char *path = NULL;

	if (json_object_object_get_ex(result, "socket", &v) ||
	    json_object_object_get_ex(result, "path", &v))
		path = json_object_get_string(v);
	if (!path || path[0] != '/') {
		rv_error("the daemon did not name the console's socket");
		return RV_CLI_EXIT_ERROR;
	}
	json_object_object_get_ex(args, "name", &n);
	if (rv_cli_console(path, n ? json_object_get_string(n) : "the VM",
			   STDIN_FILENO, STDOUT_FILENO) < 0)
		return RV_CLI_EXIT_ERROR;
	return RV_CLI_EXIT_OK;
}

static int run(const struct rv_cli_call *call)
{
	const struct rv_api_cmd *cmd = call->cmd;
	bool version = strcmp(cmd->name, "daemon.version") == 0;
	struct json_object *reply = NULL, *result = NULL;
	struct rv_cli_conn *conn = NULL;
	struct rv_cli_socket sock;
	int r, status;

	r = rv_cli_socket_pick(call->socket, getenv("RAEVM_SOCKET"),
			       getenv("XDG_RUNTIME_DIR"), geteuid(), &sock);
	if (r < 0)
		return RV_CLI_EXIT_USAGE;
	r = rv_cli_connect(sock.path, RV_CLI_GREETING_TIMEOUT_MS, &conn);
	if (r < 0) {
		/* The client's own version is worth showing even so. */
		if (version && !call->json)
			rv_cli_print_version(stdout, NULL);
		fflush(stdout);
		return rv_cli_report_connect_error(&sock, r);
	}
	r = rv_cli_request(conn, cmd->name, call->args, -1, &reply);
	if (r < 0) {
		status = lost(r);
		goto out;
	}
	if (!json_object_get_boolean(json_object_object_get(reply, "ok"))) {
		status = refused(reply);
		goto out;
	}
	if (!json_object_object_get_ex(reply, "result", &result))
		result = NULL;

	status = RV_CLI_EXIT_OK;
	if (strcmp(cmd->name, "events.subscribe") == 0)
		status = stream_events(conn, call->json);
	else if (strcmp(cmd->name, "vm.console") == 0)
		status = attach(call->args, result);
	else if (call->json)
		rv_cli_print_json(stdout, result);
	else if (rv_cli_print_result(stdout, cmd, call->args, result) < 0)
		status = RV_CLI_EXIT_ERROR;
out:
	json_object_put(reply);
	rv_cli_close(conn);
	return status;
}

int main(int argc, char **argv)
{
	struct rv_cli_call call;
	char cwd[PATH_MAX];
	int r, status;

	rv_log_set_prog("raevm");
	if (!getcwd(cwd, sizeof(cwd))) {
		rv_error("cannot tell the current directory: %s",
			 strerror(errno));
		return RV_CLI_EXIT_ERROR;
	}
	r = rv_cli_parse(argc, argv, cwd, &call);
	if (r < 0)
		return r == -EBADMSG ? RV_CLI_EXIT_ERROR :
				       rv_cli_exit_from_errno(r);

	switch (call.action) {
	case RV_CLI_HELP:
		if (call.cmd)
			rv_cli_command_help(stdout, call.cmd);
		else
			rv_cli_usage(stdout);
		status = RV_CLI_EXIT_OK;
		break;
	case RV_CLI_LIST_COMMANDS:
		rv_cli_print_commands(stdout);
		status = RV_CLI_EXIT_OK;
		break;
	case RV_CLI_LIST_FLAGS:
		rv_cli_print_flags(stdout, call.cmd);
		status = RV_CLI_EXIT_OK;
		break;
	case RV_CLI_VERSION:
		printf("raevm %s\n", RAEVM_VERSION);
		status = RV_CLI_EXIT_OK;
		break;
	default:
		status = run(&call);
		break;
	}
	rv_cli_call_free(&call);
	if (fflush(stdout) != 0 && status == RV_CLI_EXIT_OK) {
		rv_error("writing the output: %s", strerror(errno));
		status = RV_CLI_EXIT_ERROR;
	}
	return status;
}
