/*
 * queue.c: connections waiting for a worker, first come first served.
 * The length is bounded by QUEUE_MAX (route() answers 503 past it) and
 * the wait by QUEUE_WAIT (each connection's timer answers 503).
 */
#include "supervisor.h"

#include <stdio.h>

#include "reply.h"
#include "util.h"

static TAILQ_HEAD(, conn) waiting = TAILQ_HEAD_INITIALIZER(waiting);
static int waiting_len;

int
queue_push(struct conn *c)
{
	c->queued = 1;
	c->queued_ms = util_now_ms();
	TAILQ_INSERT_TAIL(&waiting, c, entry);
	waiting_len++;
	/* Watch for the client giving up while it waits. */
	event_add(c->ev_read, NULL);
	return 0;
}

void
queue_remove(struct conn *c)
{
	if (!c->queued)
		return;
	TAILQ_REMOVE(&waiting, c, entry);
	c->queued = 0;
	waiting_len--;
}

struct conn *
queue_pop(void)
{
	struct conn *c = TAILQ_FIRST(&waiting);

	if (c != NULL) {
		queue_remove(c);
		event_del(c->ev_read);
		evtimer_del(c->ev_timer);
	}
	return c;
}

int
queue_length(void)
{
	return waiting_len;
}

void
queue_run(void)
{
	while (waiting_len > 0 && pool_count(W_IDLE) > 0) {
		struct conn *c = queue_pop();

		if (!pool_dispatch(c)) {
			char extra[64];

			/* Every idle worker failed to take it (they are being
			 * replaced); the client retries. */
			http_retry_after(extra, sizeof(extra), sv->cfg.retry_after);
			sv->count.rejected++;
			conn_reply(c, 503, "Server busy: no worker could take the job", extra);
		}
	}
}
