/* SPDX-License-Identifier: MIT */
/*
 * queue.h: requests waiting for a worker, first come first served.
 *
 * The supervisor owns the queue and its items (one in each waiting
 * connection) and decides when to push, pop and give up; this file keeps
 * only their order and their count.  It uses no event loop and calls
 * nothing, so it is unit-tested as it is (t/check_queue.c).
 */
#ifndef DSS_QUEUE_H
#define DSS_QUEUE_H

#include <stddef.h>
#include <sys/queue.h>

struct queue_item {
	TAILQ_ENTRY(queue_item) link;
	void *owner; /* what waits */
	int queued;
};

struct queue {
	TAILQ_HEAD(, queue_item) items;
	size_t length;
};

void queue_init(struct queue *q);
/* Append it for owner unless the queue holds limit items already (or it
 * is queued already); 0 or -1. */
int queue_push(struct queue *q, struct queue_item *it, void *owner, size_t limit);
/* Take out the oldest item; its owner, or NULL when the queue is empty. */
void *queue_pop(struct queue *q);
/* Take it out wherever it is; nothing when it is not queued. */
void queue_remove(struct queue *q, struct queue_item *it);
size_t queue_length(const struct queue *q);
/* The owner of the oldest item, or NULL when the queue is empty. */
void *queue_oldest(const struct queue *q);
int queue_queued(const struct queue_item *it);

#endif
