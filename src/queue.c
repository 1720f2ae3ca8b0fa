/* SPDX-License-Identifier: MIT */
/*
 * queue.c: see queue.h.  QUEUE_MAX is the limit the supervisor passes to
 * queue_push; QUEUE_WAIT is each waiting connection's own timer (conn.c).
 */
#include "queue.h"

void
queue_init(struct queue *q)
{
	TAILQ_INIT(&q->items);
	q->length = 0;
}

int
queue_push(struct queue *q, struct queue_item *it, void *owner, size_t limit)
{
	if (it->queued || q->length >= limit)
		return -1;
	it->owner = owner;
	it->queued = 1;
	TAILQ_INSERT_TAIL(&q->items, it, link);
	q->length++;
	return 0;
}

void
queue_remove(struct queue *q, struct queue_item *it)
{
	if (!it->queued)
		return;
	TAILQ_REMOVE(&q->items, it, link);
	it->queued = 0;
	q->length--;
}

void *
queue_pop(struct queue *q)
{
	struct queue_item *it = TAILQ_FIRST(&q->items);

	if (it == NULL)
		return NULL;
	queue_remove(q, it);
	return it->owner;
}

size_t
queue_length(const struct queue *q)
{
	return q->length;
}

int
queue_queued(const struct queue_item *it)
{
	return it->queued;
}

void *
queue_oldest(const struct queue *q)
{
	const struct queue_item *it = TAILQ_FIRST(&q->items);

	return it ? it->owner : NULL;
}
