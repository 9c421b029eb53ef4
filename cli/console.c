// SPDX-License-Identifier: Apache-2.0
/*
 * `raevm console NAME`: joins the terminal to the console socket the daemon
 * named in its vm.console reply. Bytes go both ways unchanged, except the
 * escape key Ctrl-] (0x1d), which detaches and is never sent to the guest.
 *
 * The terminal is in raw mode while attached (keys such as Ctrl-C and
 * Ctrl-Z go to the guest) and is restored on every way out: detach, the
 * console closing, an I/O error, SIGTERM/SIGHUP/SIGINT/SIGQUIT from another
 * process, SIGTSTP (restored before stopping, raw again after SIGCONT), and
 * fatal signals (restored in the handler, then the signal is re-raised).
 */
#include "cli.h"

#include "raevm/log.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define CONSOLE_CHUNK 4096
/*
 * When stdin is not a terminal and ends (`echo cmd | raevm console web`),
 * the guest's answer is still shown until the console has been quiet this
 * long, then raevm detaches (a quiet guest costs this much at the end).
 */
#define CONSOLE_LINGER_MS 1000

/*
 * Signal handlers cannot be handed a context, so the terminal to restore and
 * the pending stop request live here; they are set only while attached.
 */
static struct termios saved_tio;
static volatile sig_atomic_t tio_fd = -1;
static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t tstp_pending;

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
static const int stop_signals[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT };

static void on_fatal(int sig)
{
	/* tcsetattr() is async-signal-safe; SA_RESETHAND made this one-shot. */
	if (tio_fd >= 0)
		tcsetattr(tio_fd, TCSANOW, &saved_tio);
	raise(sig);
}

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void on_tstp(int sig)
{
	(void)sig;
	tstp_pending = 1;
}

struct saved_signals {
	struct sigaction fatal[RV_ARRAY_SIZE(fatal_signals)];
	struct sigaction stop[RV_ARRAY_SIZE(stop_signals)];
	struct sigaction tstp, pipe;
	sigset_t mask; /* the mask to restore */
	sigset_t wait; /* the mask ppoll() waits with */
};

static void install_signals(struct saved_signals *s)
{
	struct sigaction sa;
	sigset_t block;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	for (i = 0; i < RV_ARRAY_SIZE(fatal_signals); i++)
		sigaction(fatal_signals[i], &sa, &s->fatal[i]);

	/*
	 * The stop signals are blocked except inside ppoll(), so one that
	 * arrives between two polls is not lost: ppoll() returns at once.
	 */
	sigemptyset(&block);
	sa.sa_flags = 0;
	sa.sa_handler = on_stop;
	for (i = 0; i < RV_ARRAY_SIZE(stop_signals); i++) {
		sigaction(stop_signals[i], &sa, &s->stop[i]);
		sigaddset(&block, stop_signals[i]);
	}
	sa.sa_handler = on_tstp;
	sigaction(SIGTSTP, &sa, &s->tstp);
	sigaddset(&block, SIGTSTP);
	/* A closed stdout must end the session, not kill it in raw mode. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &s->pipe);
	sigprocmask(SIG_BLOCK, &block, &s->mask);
	s->wait = s->mask;
	for (i = 0; i < RV_ARRAY_SIZE(stop_signals); i++)
		sigdelset(&s->wait, stop_signals[i]);
	sigdelset(&s->wait, SIGTSTP);
}

static void restore_signals(struct saved_signals *s)
{
	size_t i;

	sigaction(SIGPIPE, &s->pipe, NULL);
	sigaction(SIGTSTP, &s->tstp, NULL);
	for (i = 0; i < RV_ARRAY_SIZE(stop_signals); i++)
		sigaction(stop_signals[i], &s->stop[i], NULL);
	for (i = 0; i < RV_ARRAY_SIZE(fatal_signals); i++)
		sigaction(fatal_signals[i], &s->fatal[i], NULL);
	sigprocmask(SIG_SETMASK, &s->mask, NULL);
}

static int enter_raw(int fd)
{
	struct termios raw = saved_tio;

	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSAFLUSH, &raw) < 0)
		return -errno;
	return 0;
}

static void leave_raw(void)
{
	if (tio_fd >= 0)
		tcsetattr(tio_fd, TCSAFLUSH, &saved_tio);
}

/* Writes all of buf to fd, waiting when fd is non-blocking and full. */
static int write_all(int fd, const char *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				poll(&pfd, 1, -1);
				continue;
			}
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int console_connect(const char *path, const char *shown)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		rv_error("the console socket path '%s' is too long", shown);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		rv_error("cannot connect to the console at %s: %s", shown,
			 strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

enum end {
	END_NONE,
	END_DETACH,
	END_CLOSED,
	END_INPUT,
	END_SIGNAL,
};

/*
 * Forwards stdin to the console up to the escape key. Returns END_NONE to
 * go on, END_DETACH for the escape, END_INPUT at the end of the input, or
 * a negative errno.
 */
static int from_user(int in_fd, int sock)
{
	char buf[CONSOLE_CHUNK], *esc;
	ssize_t n;
	int r;

	n = read(in_fd, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? END_NONE : -errno;
	if (n == 0)
		return END_INPUT;
	esc = memchr(buf, RV_CLI_CONSOLE_ESCAPE, (size_t)n);
	r = write_all(sock, buf, esc ? (size_t)(esc - buf) : (size_t)n);
	if (r < 0)
		return r == -EPIPE ? END_CLOSED : r;
	return esc ? END_DETACH : END_NONE;
}

static int to_user(int sock, int out_fd)
{
	char buf[CONSOLE_CHUNK];
	ssize_t n;
	int r;

	n = read(sock, buf, sizeof(buf));
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return END_NONE;
		return errno == ECONNRESET ? END_CLOSED : -errno;
	}
	if (n == 0)
		return END_CLOSED;
	r = write_all(out_fd, buf, (size_t)n);
	return r < 0 ? r : END_NONE;
}

static int pump(int in_fd, int out_fd, int sock, struct saved_signals *sigs)
{
	struct pollfd pfd[2];
	struct timespec linger = { CONSOLE_LINGER_MS / 1000,
				   (CONSOLE_LINGER_MS % 1000) * 1000000L };
	bool input_done = false;
	int r;

	for (;;) {
		if (tstp_pending) {
			/* Hand the terminal back in its own mode while stopped. */
			tstp_pending = 0;
			leave_raw();
			kill(getpid(), SIGSTOP);
			if (tio_fd >= 0)
				enter_raw(tio_fd);
		}
		if (stop_signal)
			return END_SIGNAL;
		pfd[0] = (struct pollfd){ .fd = sock, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = input_done ? -1 : in_fd,
					  .events = POLLIN };
		r = ppoll(pfd, 2, input_done ? &linger : NULL, &sigs->wait);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return END_INPUT; /* quiet after the input ended */
		if (pfd[0].revents) {
			r = to_user(sock, out_fd);
			if (r != END_NONE)
				return r;
		}
		if (pfd[1].revents) {
			r = from_user(in_fd, sock);
			/*
			 * No half-close at the end of the input: a console
			 * server may take it as the viewer leaving and drop
			 * the guest's answer still on its way.
			 */
			if (r == END_INPUT)
				input_done = true;
			else if (r != END_NONE)
				return r;
		}
	}
}

int rv_cli_console(const char *path, const char *name, int in_fd, int out_fd)
{
	struct saved_signals sigs;
	char shown[RV_CLI_SOCKET_MAX * 4], nb[256];
	bool tty = isatty(in_fd);
	int sock, r;

	rv_cli_sanitize(path, shown, sizeof(shown));
	rv_cli_sanitize(name, nb, sizeof(nb));
	sock = console_connect(path, shown);
	if (sock < 0)
		return sock;

	stop_signal = 0;
	tstp_pending = 0;
	if (tty && tcgetattr(in_fd, &saved_tio) < 0)
		tty = false;
	if (tty) {
		fprintf(stderr,
			"Connected to the console of %s; detach with "
			"Ctrl-].\n",
			nb);
		tio_fd = in_fd;
	}
	install_signals(&sigs);
	if (tty) {
		r = enter_raw(in_fd);
		if (r < 0) {
			tio_fd = -1;
			restore_signals(&sigs);
			close(sock);
			rv_error("cannot put the terminal in raw mode: %s",
				 strerror(-r));
			return r;
		}
	}

	r = pump(in_fd, out_fd, sock, &sigs);

	leave_raw();
	tio_fd = -1;
	restore_signals(&sigs);
	close(sock);

	switch (r) {
	case END_DETACH:
		if (tty)
			fprintf(stderr, "\nDetached from the console of %s.\n",
				nb);
		return 0;
	case END_CLOSED:
		fprintf(stderr, "%sThe console of %s closed.\n",
			tty ? "\n" : "", nb);
		return 0;
	case END_INPUT:
	case END_SIGNAL:
		return 0;
	default:
		rv_error("console of %s: %s", nb, strerror(-r));
		return r;
	}
}
