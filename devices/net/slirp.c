// SPDX-License-Identifier: Apache-2.0
/*
 * User-mode networking over libslirp: a NAT that needs no privilege. The
 * guest gets 10.0.2.15 by DHCP, reaches the host's network through
 * 10.0.2.2 (which also stands for the host's loopback) and the host's
 * resolver through 10.0.2.3; host port forwards listen on host sockets
 * and connect into the guest. IPv6 is off.
 *
 * Restricted mode (`restrict`, the air gap; docs/networking.md) is held
 * up by three layers (the second alone already opens no host socket):
 *  - rv_net_restrict_allows() drops every guest frame that is not ARP,
 *    IPv4 addressed inside 10.0.2.0/24 (or the DHCP broadcast), or a TCP
 *    segment from a TCP forward's guest port, before slirp sees it;
 *  - slirp's own restricted flag: it answers DHCP, ARP and pings to its
 *    own addresses, but opens no host socket for a guest connection or
 *    datagram (host forwards are the only sockets, and they are inbound);
 *  - DNS forwarding and the host-loopback alias are switched off.
 * Known limit (libslirp's, QEMU's restrict=on has it too): restricted
 * slirp drops every guest UDP datagram but DHCP, so a UDP forward only
 * carries host-to-guest datagrams; the guest's answers are dropped. TCP
 * forwards work both ways.
 *
 * Threads: everything here runs on the NIC's I/O thread (backend.h).
 * slirp calls back into this file only from inside slirp_input(),
 * slirp_pollfds_poll() and slirp_new().
 *
 * libslirp is loaded on demand (slirp_dl.h), not linked: every call into
 * it goes through the table in s->lib.
 */
#include "backend.h"
#include "slirp_dl.h"

#include "raevm/log.h"
#include "raevm/netcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libslirp.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* libslirp's IF_MTU_MAX: larger MTUs make slirp_new() fail. */
#define SLIRP_MAX_MTU 65521u

struct slirp_timer {
	struct slirp_timer *next;
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms; /* -1: not armed */
};

struct net_slirp {
	struct rv_net_backend be; /* first: rv_container_of */
	Slirp *slirp;
	const struct rv_slirp_dl *lib; /* libslirp's functions */
	bool restricted;
	struct rv_net_forward forwards[RV_CONFIG_MAX_FORWARDS];
	unsigned int nr_forwards;
	struct slirp_timer *timers;
	/* During poll_fill / poll_done: the set slirp's indices point into. */
	struct rv_net_pollset *ps;
	const struct rv_net_pollset *done_ps;
	bool want_rx;
	uint64_t guest_errors;
	/* Guest TCP segments held back within one batch (backend.h). */
	struct rv_net_coalesce co;
};

static struct net_slirp *to_slirp(struct rv_net_backend *be)
{
	return rv_container_of(be, struct net_slirp, be);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ------------------------------------------------------------------------
 * Callbacks from libslirp.
 */

/* A frame for the guest; dropped by net.c when the guest has no room. */
static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *s = opaque;
	static const struct rv_net_hdr none;

	s->be.rx(s->be.rx_opaque, &none, buf, len);
	return (ssize_t)len;
}

/* slirp found something wrong in a guest packet: counted, not logged. */
static void cb_guest_error(const char *msg, void *opaque)
{
	struct net_slirp *s = opaque;

	s->guest_errors++;
	rv_debug("net[%u]: slirp: guest error: %s", s->be.index, msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return now_ns();
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct net_slirp *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->id = id;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_slirp *s = opaque;
	struct slirp_timer **p;

	for (p = &s->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

/*
 * slirp keeps whatever timer_new_opaque() returned, NULL included (no
 * memory): such a timer never fires, and the NIC thread does not crash.
 */
static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	(void)opaque;
	if (timer)
		((struct slirp_timer *)timer)->expire_ms = expire_ms;
}

/* Every fd is polled afresh each round, so there is nothing to track. */
static void cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void cb_notify(void *opaque)
{
	(void)opaque;
}

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *s = opaque;
	short ev = 0;
	int idx;

	/*
	 * With the guest out of receive buffers, slirp's sockets are not
	 * read (the host's socket buffers hold the data) rather than read
	 * into frames that would be dropped.
	 */
	if ((events & SLIRP_POLL_IN) && s->want_rx)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	idx = rv_net_pollset_add(s->ps, fd, ev);
	/* slirp treats a negative index as "not polled". */
	return idx;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct net_slirp *s = opaque;
	short re;
	int ev = 0;

	if (idx < 0 || (unsigned int)idx >= s->done_ps->n)
		return 0;
	re = s->done_ps->fds[idx].revents;
	if (re & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (re & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (re & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (re & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (re & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

/* ------------------------------------------------------------------------
 * Backend operations, on the NIC thread.
 */

/* Hands slirp the held segments (at most RV_NET_COALESCE_MAX bytes). */
static void slirp_flush(struct rv_net_backend *be)
{
	struct net_slirp *s = to_slirp(be);
	const uint8_t *p;
	size_t len;

	p = rv_net_coalesce_take(&s->co, &len);
	if (p)
		s->lib->slirp_input(s->slirp, p, (int)len);
}

static int slirp_send(struct rv_net_backend *be, const struct rv_net_hdr *hdr,
		      const uint8_t *frame, size_t len)
{
	struct net_slirp *s = to_slirp(be);

	(void)hdr; /* no offloads: net.c refused every other header */
	if (len > INT32_MAX)
		return -EMSGSIZE;
	if (s->restricted &&
	    !rv_net_restrict_allows(frame, len, s->forwards, s->nr_forwards)) {
		be->filtered++;
		return -EACCES;
	}
	/* The filter saw each frame; merging keeps flows and addresses. */
	if (rv_net_coalesce_merge(&s->co, frame, len))
		return 0;
	slirp_flush(be);
	if (rv_net_coalesce_hold(&s->co, frame, len))
		return 0;
	s->lib->slirp_input(s->slirp, frame, (int)len);
	return 0;
}

static int slirp_poll_fill(struct rv_net_backend *be, struct rv_net_pollset *ps,
			   int *timeout_ms, bool want_rx)
{
	struct net_slirp *s = to_slirp(be);
	uint32_t timeout = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
	int64_t now_ms = now_ns() / 1000000;
	struct slirp_timer *t;
	unsigned int before = ps->n;

	s->ps = ps;
	s->want_rx = want_rx;
	s->lib->slirp_pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
	s->ps = NULL;
	for (t = s->timers; t; t = t->next) {
		if (t->expire_ms < 0)
			continue;
		if (t->expire_ms <= now_ms)
			timeout = 0;
		else if ((uint64_t)(t->expire_ms - now_ms) < timeout)
			timeout = (uint32_t)(t->expire_ms - now_ms);
	}
	/* A failed add (no memory) leaves fewer fds; slirp copes with it. */
	(void)before;
	*timeout_ms = timeout > INT32_MAX ? -1 : (int)timeout;
	return 0;
}

static void run_timers(struct net_slirp *s)
{
	int64_t now_ms = now_ns() / 1000000;
	struct slirp_timer *t;

	/* A timer callback may free or add timers: restart after each. */
again:
	for (t = s->timers; t; t = t->next) {
		if (t->expire_ms >= 0 && t->expire_ms <= now_ms) {
			t->expire_ms = -1;
			s->lib->slirp_handle_timer(s->slirp, t->id,
						   t->cb_opaque);
			goto again;
		}
	}
}

static void slirp_poll_done(struct rv_net_backend *be,
			    const struct rv_net_pollset *ps, unsigned int first)
{
	struct net_slirp *s = to_slirp(be);

	(void)first; /* slirp's indices are absolute */
	s->done_ps = ps;
	s->lib->slirp_pollfds_poll(s->slirp, 0, cb_get_revents, s);
	s->done_ps = NULL;
	run_timers(s);
}

static void slirp_destroy(struct rv_net_backend *be)
{
	struct net_slirp *s = to_slirp(be);
	struct slirp_timer *t;

	if (s->slirp)
		s->lib->slirp_cleanup(s->slirp);
	while ((t = s->timers)) {
		s->timers = t->next;
		free(t);
	}
	if (s->guest_errors)
		rv_info("net[%u]: slirp reported %llu malformed guest packets",
			be->index, (unsigned long long)s->guest_errors);
	if (s->co.merged)
		rv_debug("net[%u]: %llu guest TCP segments merged", be->index,
			 (unsigned long long)s->co.merged);
	rv_net_coalesce_free(&s->co);
	free(s);
}

static const struct rv_net_backend_ops slirp_ops = {
	.kind = "user",
	.send = slirp_send,
	.poll_fill = slirp_poll_fill,
	.poll_done = slirp_poll_done,
	.flush = slirp_flush,
	.destroy = slirp_destroy,
};

/* ------------------------------------------------------------------------
 * Set-up.
 */

/*
 * Whether a forward's host port is free, checked with a socket of our own
 * so the error says which port and why (slirp only returns -1). TCP
 * probes with SO_REUSEADDR as slirp binds, so a port in TIME_WAIT is not
 * taken for busy; UDP probes without it, so a port another program holds
 * is found busy even though slirp's SO_REUSEADDR bind would succeed.
 */
static int probe_port(const struct rv_net_forward *f, struct in_addr host)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(f->host_port),
		.sin_addr = host,
	};
	int one = 1, fd, rc = 0;

	fd = socket(AF_INET, (f->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	if (!f->udp &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		rc = -errno;
	if (!rc && bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
		rc = -errno;
	if (!rc && !f->udp && listen(fd, 1) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int add_forward(struct net_slirp *s, const struct rv_net_forward *f)
{
	/*
	 * The parser (src/common/netcfg.c) stores an empty host address as
	 * 127.0.0.1 and only a written "0.0.0.0" as 0, so 0 is "any".
	 */
	struct in_addr host = { .s_addr = f->host_addr };
	struct in_addr guest = { .s_addr = f->guest_addr };
	char desc[RV_NET_FORWARD_STR_LEN];
	int rc;

	rv_net_forward_format(f, desc, sizeof(desc));
	if (f->host_port == 0 || f->guest_port == 0) {
		rv_error("net[%u]: forward %s: ports must be 1..65535",
			 s->be.index, desc);
		return -EINVAL;
	}
	rc = probe_port(f, host);
	if (rc == 0) {
		errno = 0;
		if (s->lib->slirp_add_hostfwd(s->slirp, f->udp, host,
					      f->host_port, guest,
					      f->guest_port) < 0)
			rc = errno ? -errno : -EADDRINUSE;
	}
	if (rc == -EADDRINUSE) {
		rv_error("net[%u]: forward %s: host port %u is in use",
			 s->be.index, desc, f->host_port);
	} else if (rc) {
		rv_error("net[%u]: forward %s: cannot listen on the host "
			 "port: %s",
			 s->be.index, desc, strerror(-rc));
	}
	return rc;
}

int rv_net_slirp_create(const struct rv_net_config *cfg, unsigned int index,
			unsigned int mtu, rv_net_rx_fn rx, void *opaque,
			struct rv_net_backend **out)
{
	SlirpConfig sc = { .version = 4 };
	const struct rv_slirp_dl *lib;
	struct net_slirp *s;
	char err[256];
	unsigned int i;
	int rc;

	*out = NULL;
	if (mtu < RV_CONFIG_MIN_MTU || mtu > SLIRP_MAX_MTU) {
		rv_error("net[%u]: mtu %u: user networking takes %u..%u", index,
			 mtu, RV_CONFIG_MIN_MTU, SLIRP_MAX_MTU);
		return -EINVAL;
	}
	rc = rv__slirp_dl_load(&lib, err, sizeof(err));
	if (rc) {
		rv_error("net[%u]: user networking: %s", index, err);
		return rc;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lib = lib;
	s->be.ops = &slirp_ops;
	s->be.index = index;
	s->be.rx = rx;
	s->be.rx_opaque = opaque;
	s->restricted = cfg->restrict_net;
	rc = rv_net_coalesce_init(&s->co);
	if (rc)
		goto err;

	sc.restricted = cfg->restrict_net;
	sc.in_enabled = true;
	sc.vnetwork.s_addr = htonl(RV_NET_USER_NETWORK);
	sc.vnetmask.s_addr = htonl(RV_NET_USER_NETMASK);
	sc.vhost.s_addr = htonl(RV_NET_USER_HOST);
	sc.vdhcp_start.s_addr = htonl(RV_NET_USER_GUEST);
	sc.vnameserver.s_addr = htonl(RV_NET_USER_DNS);
	sc.in6_enabled = false;
	sc.if_mtu = mtu;
	sc.if_mru = mtu;
	/* The air gap: nothing of the host is reachable, not even DNS. */
	sc.disable_host_loopback = cfg->restrict_net;
	sc.disable_dns = cfg->restrict_net;
	sc.enable_emu = false;
	s->slirp = lib->slirp_new(&sc, &slirp_callbacks, s);
	if (!s->slirp) {
		rv_error("net[%u]: cannot start user networking (libslirp %s)",
			 index, lib->slirp_version_string());
		rc = -ENOMEM;
		goto err;
	}
	for (i = 0; i < cfg->nr_forwards && i < RV_CONFIG_MAX_FORWARDS; i++) {
		rc = add_forward(s, &cfg->forwards[i]);
		if (rc)
			goto err;
		s->forwards[s->nr_forwards++] = cfg->forwards[i];
	}
	*out = &s->be;
	return 0;

err:
	slirp_destroy(&s->be);
	return rc;
}
