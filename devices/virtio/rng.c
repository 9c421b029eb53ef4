// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-rng (virtio 1.2, 5.4, "entropy device"): one request queue whose
 * device-writable buffers the device fills with random bytes.
 *
 * The bytes come from getrandom(2) (the host kernel's CSPRNG, never
 * blocking once the host has booted; GRND_NONBLOCK keeps a vCPU from
 * waiting on a host that has not). The work runs on the vCPU thread that
 * notified: it is short, and a thread of its own would cost more than the
 * copy. To keep a hostile guest from parking that vCPU in the VMM, one
 * notification fills at most RV_VIRTIO_RNG_MAX_BYTES; a chain that would
 * exceed it is completed short (the used length says how much is valid)
 * and chains beyond it wait for the driver's next notification.
 *
 * Locking: lock serialises notifications from several vCPUs with activate
 * and reset, and guards `active` and the chain.
 */
#include "raevm/virtio.h"

#include "raevm/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define RNG_QUEUE_SIZE 256
#define RNG_DEVICE_ID 4
/* PCI base class 0xff: "device does not fit any defined class". */
#define RNG_PCI_CLASS 0xff0000

struct rv_virtio_rng {
	struct rv_virtio_dev vdev; /* first: rv_container_of */
	pthread_mutex_t lock;
	bool active; /* between activate and reset */
	struct rv_virtq_chain chain;
};

static struct rv_virtio_rng *to_rng(struct rv_virtio_dev *dev)
{
	return rv_container_of(dev, struct rv_virtio_rng, vdev);
}

static uint64_t rng_features(struct rv_virtio_dev *dev)
{
	(void)dev;
	return 0;
}

/*
 * Fills the chain's writable segments with up to budget random bytes.
 * Sets *dry when the host has no entropy to give right now.
 */
static size_t fill(const struct rv_virtq_chain *chain, size_t budget, bool *dry)
{
	unsigned int i, end = chain->nr_out + chain->nr_in;
	size_t done = 0;

	for (i = chain->nr_out; i < end && done < budget; i++) {
		uint8_t *p = chain->iov[i].iov_base;
		size_t len = chain->iov[i].iov_len, off = 0;

		while (off < len && done < budget) {
			size_t want = len - off;
			ssize_t n;

			if (want > budget - done)
				want = budget - done;
			n = getrandom(p + off, want, GRND_NONBLOCK);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				*dry = true;
				return done;
			}
			off += (size_t)n;
			done += (size_t)n;
		}
	}
	return done;
}

/* Serves the request queue. Called with rng->lock held. */
static void process(struct rv_virtio_rng *rng)
{
	struct rv_virtio_dev *dev = &rng->vdev;
	struct rv_virtq *q = &dev->queues[0];
	size_t budget = RV_VIRTIO_RNG_MAX_BYTES, n;
	/*
	 * Chains are bounded too: empty ones cost no bytes, and a guest adding
	 * them from another vCPU as fast as they are served must not keep
	 * this one here.
	 */
	unsigned int chains = 2u * q->size;
	bool pushed = false, dry = false;
	int rc;

	for (;;) {
		while (budget > 0 && !dry && chains > 0) {
			chains--;
			rc = rv_virtq_pop(q, &rng->chain);
			if (rc == 0)
				break;
			if (rc < 0) {
				rv_virtio_queue_error(dev, 0, rc);
				goto broken;
			}
			if (rng->chain.nr_out) {
				rv_virtio_set_needs_reset(
					dev, "queue 0: request buffer is not "
					     "device-writable");
				goto broken;
			}
			n = fill(&rng->chain, budget, &dry);
			budget -= n;
			rc = rv_virtq_push(q, rng->chain.head, (uint32_t)n);
			if (rc) {
				rv_virtio_queue_error(dev, 0, rc);
				goto broken;
			}
			pushed = true;
		}
		/*
		 * Ask for the next notification even when the budget ran out,
		 * so chains left behind are served when the driver adds more.
		 */
		if (!rv_virtq_enable_notify(q) || budget == 0 || dry ||
		    chains == 0)
			break;
	}
	if (pushed && rv_virtq_should_notify(q))
		rv_virtio_notify_queue(dev, 0);
	return;

broken:
	rng->active = false;
	if (pushed)
		rv_virtio_notify_queue(dev, 0);
}

static void rng_queue_notify(struct rv_virtio_dev *dev, unsigned int q)
{
	struct rv_virtio_rng *rng = to_rng(dev);

	pthread_mutex_lock(&rng->lock);
	if (rng->active && q == 0)
		process(rng);
	pthread_mutex_unlock(&rng->lock);
}

static int rng_activate(struct rv_virtio_dev *dev)
{
	struct rv_virtio_rng *rng = to_rng(dev);

	pthread_mutex_lock(&rng->lock);
	rng->active = true;
	/* Requests queued before DRIVER_OK had their notification dropped. */
	process(rng);
	pthread_mutex_unlock(&rng->lock);
	return 0;
}

static void rng_reset(struct rv_virtio_dev *dev)
{
	struct rv_virtio_rng *rng = to_rng(dev);

	/* Waits for a notification being served on another vCPU. */
	pthread_mutex_lock(&rng->lock);
	rng->active = false;
	pthread_mutex_unlock(&rng->lock);
}

const struct rv_virtio_ops rv_virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = RNG_DEVICE_ID,
	.pci_class = RNG_PCI_CLASS,
	.nr_queues = 1,
	.queue_max_size = RNG_QUEUE_SIZE,
	.config_size = 0,
	.features = rng_features,
	.queue_notify = rng_queue_notify,
	.activate = rng_activate,
	.reset = rng_reset,
};

int rv_virtio_rng_create(struct rv_vm *vm, struct rv_pci_bus *bus,
			 struct rv_virtio_dev **out)
{
	struct rv_virtio_rng *rng;
	int rc;

	*out = NULL;
	rng = calloc(1, sizeof(*rng));
	if (!rng)
		return -ENOMEM;
	pthread_mutex_init(&rng->lock, NULL);
	rc = rv_virtq_chain_init(&rng->chain, RNG_QUEUE_SIZE);
	if (rc)
		goto err_free;
	rc = rv_virtio_pci_init(&rng->vdev, vm, bus, &rv_virtio_rng_ops);
	if (rc) {
		rv_error("virtio-rng: cannot add the device: %s",
			 strerror(-rc));
		goto err_chain;
	}
	*out = &rng->vdev;
	return 0;

err_chain:
	rv_virtq_chain_free(&rng->chain);
err_free:
	pthread_mutex_destroy(&rng->lock);
	free(rng);
	return rc;
}

void rv_virtio_rng_destroy(struct rv_virtio_dev *dev)
{
	struct rv_virtio_rng *rng;

	if (!dev)
		return;
	rng = to_rng(dev);
	rv_virtio_pci_destroy(&rng->vdev);
	rv_virtq_chain_free(&rng->chain);
	pthread_mutex_destroy(&rng->lock);
	free(rng);
}
