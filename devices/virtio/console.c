// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-console (virtio 1.2, 5.3) with a single port and no multiport:
 * queue 0 is port 0's receiveq (host to guest), queue 1 its transmitq
 * (guest to host). No feature bits are offered: no console size, no
 * emergency write; the configuration space reads as zeros.
 *
 * Host side: a Unix stream socket listening at a path (mode 0600; whoever
 * can connect owns the guest's console). One client at a time; a second
 * one is told so in one line and closed.
 *
 * Threads. The socket needs an event loop, and devices cannot reach the
 * worker's libuv loop yet, so the console has a small thread of its own
 * that poll(2)s the listening socket, the client, a "kick" eventfd (the
 * driver added receive buffers) and a "stop" eventfd (destroy). It owns
 * accepting and closing clients and receiving from them. Guest output is
 * sent on the vCPU thread that notified the transmit queue, with
 * MSG_DONTWAIT: a slow client loses output (counted, with a rate-limited
 * warning) rather than stall a vCPU; with no client the output is
 * discarded, as on a serial line nobody listens to.
 *
 * Locking: lock guards active, client_fd (changed only by the thread, read
 * by vCPUs), client_broken, both chains and the drop counters, and is held
 * while either side pops or pushes, so reset() (which takes it) returns
 * only once neither queue is in use. Only the thread touches rx_buf.
 */
#include "raevm/virtio.h"

#include "evfd.h"

#include "raevm/log.h"
#include "raevm/sandbox.h"
#include "raevm/util.h"
#include "raevm/vm.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONSOLE_DEVICE_ID 3
/* PCI class 0x0780: simple communication controller, other. */
#define CONSOLE_PCI_CLASS 0x078000
#define CONSOLE_QUEUE_SIZE 256
#define CONSOLE_CONFIG_SIZE 12 /* cols, rows, max_nr_ports, emerg_wr */
#define RXQ 0
#define TXQ 1
#define RX_BUF_SIZE 4096
#define DROP_LOG_INTERVAL_NS (10ULL * 1000000000ULL)

static const char busy_msg[] =
	"raevm: this console already has a client; try again later\n";

struct rv_virtio_console {
	struct rv_virtio_dev vdev; /* first: rv_container_of */
	pthread_mutex_t lock;
	bool active; /* between activate and reset */
	int listen_fd;
	int client_fd;	    /* -1 when nobody is connected */
	bool client_broken; /* a send failed; the thread closes it */
	int kick_fd;
	int stop_fd;
	pthread_t thread;
	bool thread_started;
	char *path;
	struct rv_virtq_chain rx_chain;
	struct rv_virtq_chain tx_chain;
	uint64_t tx_dropped;
	uint64_t drop_log_ns;

	uint8_t rx_buf[RX_BUF_SIZE]; /* input read but not yet delivered */
	size_t rx_len;
	size_t rx_off;
};

static struct rv_virtio_console *to_console(struct rv_virtio_dev *dev)
{
	return rv_container_of(dev, struct rv_virtio_console, vdev);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------
 * Guest to host: the transmit queue, on vCPU threads.
 */

static void count_drop(struct rv_virtio_console *cons, uint64_t bytes)
{
	uint64_t now = now_ns();

	cons->tx_dropped += bytes;
	if (cons->drop_log_ns && now - cons->drop_log_ns < DROP_LOG_INTERVAL_NS)
		return;
	cons->drop_log_ns = now ? now : 1;
	rv_warn("%s: console client is not reading; %llu bytes of guest "
		"output dropped so far",
		cons->vdev.name, (unsigned long long)cons->tx_dropped);
}

/* Sends one chain's readable bytes to the client, never blocking. */
static void send_chain(struct rv_virtio_console *cons,
		       const struct rv_virtq_chain *chain)
{
	struct msghdr msg = {
		.msg_iov = chain->iov,
		.msg_iovlen = chain->nr_out,
	};
	ssize_t n;

	if (cons->client_fd < 0 || cons->client_broken || chain->out_len == 0)
		return;
	n = sendmsg(cons->client_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		count_drop(cons, chain->out_len);
	} else if (n < 0) {
		/* The client went away; the thread closes it. */
		cons->client_broken = true;
		rv__evfd_signal(cons->kick_fd);
	} else if ((uint64_t)n < chain->out_len) {
		count_drop(cons, chain->out_len - (uint64_t)n);
	}
}

/* Serves the transmit queue. Called with cons->lock held. */
static void tx_process(struct rv_virtio_console *cons)
{
	struct rv_virtio_dev *dev = &cons->vdev;
	struct rv_virtq *q = &dev->queues[TXQ];
	/* Bounded so a guest refilling from another vCPU cannot pin this one. */
	unsigned int chains = 2u * q->size;
	bool pushed = false;
	int rc;

	for (;;) {
		while (chains > 0) {
			chains--;
			rc = rv_virtq_pop(q, &cons->tx_chain);
			if (rc == 0)
				break;
			if (rc < 0) {
				rv_virtio_queue_error(dev, TXQ, rc);
				goto broken;
			}
			if (cons->tx_chain.nr_in) {
				rv_virtio_set_needs_reset(
					dev, "queue 1: transmit buffer is "
					     "device-writable");
				goto broken;
			}
			send_chain(cons, &cons->tx_chain);
			rc = rv_virtq_push(q, cons->tx_chain.head, 0);
			if (rc) {
				rv_virtio_queue_error(dev, TXQ, rc);
				goto broken;
			}
			pushed = true;
		}
		if (chains == 0 || !rv_virtq_enable_notify(q))
			break;
	}
	if (pushed && rv_virtq_should_notify(q))
		rv_virtio_notify_queue(dev, TXQ);
	return;

broken:
	cons->active = false;
	if (pushed)
		rv_virtio_notify_queue(dev, TXQ);
}

/* ------------------------------------------------------------------------
 * Host to guest: the receive queue, on the console thread.
 */

/* Copies pending input into the chain's writable segments. */
static size_t copy_in(struct rv_virtio_console *cons,
		      const struct rv_virtq_chain *chain)
{
	unsigned int i, end = chain->nr_out + chain->nr_in;
	size_t done = 0, n;

	for (i = chain->nr_out; i < end && cons->rx_off < cons->rx_len; i++) {
		n = chain->iov[i].iov_len;
		if (n > cons->rx_len - cons->rx_off)
			n = cons->rx_len - cons->rx_off;
		if (n == 0)
			continue;
		memcpy(chain->iov[i].iov_base, cons->rx_buf + cons->rx_off, n);
		cons->rx_off += n;
		done += n;
	}
	return done;
}

/* Moves pending input into receive buffers, as far as there are some. */
static void deliver_rx(struct rv_virtio_console *cons)
{
	struct rv_virtio_dev *dev = &cons->vdev;
	struct rv_virtq *q = &dev->queues[RXQ];
	unsigned int chains;
	bool pushed = false;
	size_t n;
	int rc;

	pthread_mutex_lock(&cons->lock);
	chains = 2u * q->size;
	while (cons->active && cons->rx_off < cons->rx_len && chains > 0) {
		chains--;
		rc = rv_virtq_pop(q, &cons->rx_chain);
		if (rc == 0) {
			/* Out of buffers: ask to be told when there are more. */
			if (rv_virtq_enable_notify(q))
				continue;
			break;
		}
		if (rc < 0) {
			rv_virtio_queue_error(dev, RXQ, rc);
			cons->active = false;
			break;
		}
		if (cons->rx_chain.nr_out) {
			rv_virtio_set_needs_reset(dev,
						  "queue 0: receive buffer "
						  "is not device-writable");
			cons->active = false;
			break;
		}
		n = copy_in(cons, &cons->rx_chain);
		rc = rv_virtq_push(q, cons->rx_chain.head, (uint32_t)n);
		if (rc) {
			rv_virtio_queue_error(dev, RXQ, rc);
			cons->active = false;
			break;
		}
		pushed = true;
	}
	if (cons->rx_off == cons->rx_len)
		cons->rx_off = cons->rx_len = 0;
	if (pushed && (!cons->active || rv_virtq_should_notify(q)))
		rv_virtio_notify_queue(dev, RXQ);
	pthread_mutex_unlock(&cons->lock);
}

static void close_client(struct rv_virtio_console *cons)
{
	pthread_mutex_lock(&cons->lock);
	if (cons->client_fd >= 0)
		close(cons->client_fd);
	cons->client_fd = -1;
	cons->client_broken = false;
	pthread_mutex_unlock(&cons->lock);
	rv_info("%s: console client disconnected", cons->vdev.name);
}

/* A vCPU found the client gone while sending; closing is the thread's job. */
static void reap_broken_client(struct rv_virtio_console *cons)
{
	bool broken;

	pthread_mutex_lock(&cons->lock);
	broken = cons->client_fd >= 0 && cons->client_broken;
	pthread_mutex_unlock(&cons->lock);
	if (broken)
		close_client(cons);
}

static void accept_client(struct rv_virtio_console *cons)
{
	ssize_t n;
	int fd;

	fd = accept4(cons->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (cons->client_fd >= 0) {
		n = send(fd, busy_msg, sizeof(busy_msg) - 1,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)n;
		close(fd);
		return;
	}
	pthread_mutex_lock(&cons->lock);
	cons->client_fd = fd;
	cons->client_broken = false;
	pthread_mutex_unlock(&cons->lock);
	rv_info("%s: console client connected", cons->vdev.name);
}

static void client_event(struct rv_virtio_console *cons, short revents)
{
	ssize_t n;

	if (revents & POLLIN) {
		n = recv(cons->client_fd, cons->rx_buf, sizeof(cons->rx_buf),
			 MSG_DONTWAIT);
		if (n > 0) {
			cons->rx_off = 0;
			cons->rx_len = (size_t)n;
			return;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close_client(cons);
		return;
	}
	if (revents & (POLLHUP | POLLERR | POLLNVAL))
		close_client(cons);
}

static void *console_thread(void *arg)
{
	struct rv_virtio_console *cons = arg;
	struct pollfd p[4];
	nfds_t n;

	/*
	 * The sandbox first (sandbox.h). Without it the thread touches no
	 * socket and only waits for destroy().
	 */
	if (rv_sandbox_thread_enter(RV_THREAD_CONSOLE)) {
		rv_vm_request_stop(cons->vdev.vm, RV_STOP_ERROR, 1);
		p[0] = (struct pollfd){ .fd = cons->stop_fd, .events = POLLIN };
		while (poll(p, 1, -1) < 0 && errno == EINTR)
			;
		return NULL;
	}
	for (;;) {
		p[0] = (struct pollfd){ .fd = cons->stop_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = cons->kick_fd, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = cons->listen_fd,
					.events = POLLIN };
		n = 3;
		if (cons->client_fd >= 0) {
			/* Read more only once the last input is delivered. */
			p[3] = (struct pollfd){
				.fd = cons->client_fd,
				.events = cons->rx_len ? 0 : POLLIN,
			};
			n = 4;
		}
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			rv_error("%s: console socket loop failed: %s",
				 cons->vdev.name, strerror(errno));
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents)
			rv__evfd_drain(cons->kick_fd);
		if (n == 4 && p[3].revents)
			client_event(cons, p[3].revents);
		reap_broken_client(cons);
		if (p[2].revents & POLLIN)
			accept_client(cons);
		deliver_rx(cons);
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * Device hooks.
 */

static uint64_t console_features(struct rv_virtio_dev *dev)
{
	(void)dev;
	return 0;
}

static void console_config_read(struct rv_virtio_dev *dev, uint32_t offset,
				void *data, uint32_t len)
{
	(void)dev;
	(void)offset;
	memset(data, 0, len);
}

static void console_queue_notify(struct rv_virtio_dev *dev, unsigned int q)
{
	struct rv_virtio_console *cons = to_console(dev);

	if (q == RXQ) {
		/* New receive buffers: the thread delivers pending input. */
		rv__evfd_signal(cons->kick_fd);
		return;
	}
	if (q != TXQ)
		return;
	pthread_mutex_lock(&cons->lock);
	if (cons->active)
		tx_process(cons);
	pthread_mutex_unlock(&cons->lock);
}

static int console_activate(struct rv_virtio_dev *dev)
{
	struct rv_virtio_console *cons = to_console(dev);

	pthread_mutex_lock(&cons->lock);
	cons->active = true;
	/* Output queued before DRIVER_OK had its notification dropped. */
	tx_process(cons);
	pthread_mutex_unlock(&cons->lock);
	rv__evfd_signal(cons->kick_fd);
	return 0;
}

static void console_reset(struct rv_virtio_dev *dev)
{
	struct rv_virtio_console *cons = to_console(dev);

	/* Waits until neither the thread nor a vCPU is using a queue. */
	pthread_mutex_lock(&cons->lock);
	cons->active = false;
	pthread_mutex_unlock(&cons->lock);
}

const struct rv_virtio_ops rv_virtio_console_ops = {
	.name = "virtio-console",
	.device_id = CONSOLE_DEVICE_ID,
	.pci_class = CONSOLE_PCI_CLASS,
	.nr_queues = 2,
	.queue_max_size = CONSOLE_QUEUE_SIZE,
	.config_size = CONSOLE_CONFIG_SIZE,
	.features = console_features,
	.config_read = console_config_read,
	.queue_notify = console_queue_notify,
	.activate = console_activate,
	.reset = console_reset,
};

/* ------------------------------------------------------------------------
 * Set-up and teardown.
 */

static int start_thread(struct rv_virtio_console *cons)
{
	int rc;

	rc = rv_thread_create_blocked(&cons->thread, console_thread, cons);
	if (rc)
		return rc;
	cons->thread_started = true;
	return 0;
}

static void console_free(struct rv_virtio_console *cons)
{
	if (cons->thread_started) {
		rv__evfd_signal(cons->stop_fd);
		pthread_join(cons->thread, NULL);
	}
	if (cons->vdev.ops)
		rv_virtio_pci_destroy(&cons->vdev);
	if (cons->client_fd >= 0)
		close(cons->client_fd);
	if (cons->listen_fd >= 0) {
		close(cons->listen_fd);
		unlink(cons->path);
	}
	if (cons->kick_fd >= 0)
		close(cons->kick_fd);
	if (cons->stop_fd >= 0)
		close(cons->stop_fd);
	rv_virtq_chain_free(&cons->rx_chain);
	rv_virtq_chain_free(&cons->tx_chain);
	pthread_mutex_destroy(&cons->lock);
	free(cons->path);
	free(cons);
}

int rv_virtio_console_create(struct rv_vm *vm, struct rv_pci_bus *bus,
			     const char *socket_path,
			     struct rv_virtio_dev **out)
{
	struct rv_virtio_console *cons;
	int rc;

	*out = NULL;
	cons = calloc(1, sizeof(*cons));
	if (!cons)
		return -ENOMEM;
	pthread_mutex_init(&cons->lock, NULL);
	cons->listen_fd = cons->client_fd = -1;
	cons->kick_fd = cons->stop_fd = -1;
	cons->path = strdup(socket_path);
	if (!cons->path) {
		rc = -ENOMEM;
		goto err;
	}
	rc = rv_virtq_chain_init(&cons->rx_chain, CONSOLE_QUEUE_SIZE);
	if (!rc)
		rc = rv_virtq_chain_init(&cons->tx_chain, CONSOLE_QUEUE_SIZE);
	if (rc)
		goto err;
	cons->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cons->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cons->kick_fd < 0 || cons->stop_fd < 0) {
		rc = -errno;
		goto err;
	}
	rc = rv_unix_listen(socket_path, 0, 4, "console socket",
			    &cons->listen_fd);
	if (rc)
		goto err;
	rc = rv_virtio_pci_init(&cons->vdev, vm, bus, &rv_virtio_console_ops);
	if (rc) {
		rv_error("virtio-console: cannot add the device: %s",
			 strerror(-rc));
		goto err;
	}
	rc = start_thread(cons);
	if (rc) {
		rv_error("virtio-console: cannot start its thread: %s",
			 strerror(-rc));
		goto err;
	}
	*out = &cons->vdev;
	return 0;

err:
	console_free(cons);
	return rc;
}

void rv_virtio_console_destroy(struct rv_virtio_dev *dev)
{
	if (!dev)
		return;
	console_free(to_console(dev));
}

uint64_t rv_virtio_console_dropped(struct rv_virtio_dev *dev)
{
	struct rv_virtio_console *cons = to_console(dev);
	uint64_t v;

	pthread_mutex_lock(&cons->lock);
	v = cons->tx_dropped;
	pthread_mutex_unlock(&cons->lock);
	return v;
}
