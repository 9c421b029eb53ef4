/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_VIRTIO_EVFD_H
#define RAEVM_VIRTIO_EVFD_H

/*
 * Waking and draining the eventfds the virtio devices' I/O threads wait on
 * (stop, control, queue kicks). Internal to devices/virtio/.
 */
#include <stdint.h>
#include <unistd.h>

static inline void rv__evfd_signal(int fd)
{
	uint64_t one = 1;
	/* Only EAGAIN can fail here: the counter is full, already signalled. */
	ssize_t n = write(fd, &one, sizeof(one));

	(void)n;
}

/* Non-blocking eventfds: nothing to read is not an error. */
static inline void rv__evfd_drain(int fd)
{
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));

	(void)n;
}

#endif
