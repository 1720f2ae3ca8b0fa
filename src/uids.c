/* SPDX-License-Identifier: MIT */
/*
 * uids.c: see uids.h.  One byte per id of the range, and the forks asked
 * for and not born yet: at most one per id held, so never more than the
 * range has ids.
 */
#include "uids.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct pending {
	uint32_t generation;
	uid_t id;
	int serial;
	int used;
};

static unsigned long first, count, next, held;
static unsigned char *taken;
static struct pending *pending; /* count of them */

void
uids_init(unsigned long f, unsigned long n)
{
	free(taken);
	free(pending);
	taken = NULL;
	pending = NULL;
	first = f;
	count = n;
	next = held = 0;
	if (n > 0) {
		taken = xcalloc(n, 1);
		pending = xcalloc(n, sizeof(*pending));
	}
}

int64_t
uids_take(void)
{
	if (count == 0)
		return 0;
	for (unsigned long i = 0; i < count; i++) {
		unsigned long k = (next + i) % count;

		if (!taken[k]) {
			taken[k] = 1;
			held++;
			next = (k + 1) % count;
			return (int64_t)(first + k);
		}
	}
	return -1;
}

void
uids_give(uid_t id)
{
	unsigned long k = (unsigned long)id - first;

	if (count == 0 || id < first || k >= count || !taken[k])
		return;
	taken[k] = 0;
	held--;
}

void
uids_pending(uint32_t generation, uid_t id, int serial)
{
	if (count == 0)
		return;
	for (unsigned long i = 0; i < count; i++)
		if (!pending[i].used) {
			pending[i] = (struct pending){generation, id, serial, 1};
			return;
		}
}

/* The pending fork of generation, or NULL. */
static struct pending *
find(uint32_t generation)
{
	for (unsigned long i = 0; i < count; i++)
		if (pending[i].used && pending[i].generation == generation)
			return &pending[i];
	return NULL;
}

uid_t
uids_born(uint32_t generation)
{
	struct pending *p = find(generation);

	if (p == NULL)
		return 0;
	p->used = 0;
	return p->id;
}

void
uids_failed(uint32_t generation)
{
	struct pending *p = find(generation);

	if (p != NULL) {
		p->used = 0;
		uids_give(p->id);
	}
}

void
uids_lost(int serial)
{
	for (unsigned long i = 0; i < count; i++)
		if (pending[i].used && pending[i].serial == serial) {
			pending[i].used = 0;
			uids_give(pending[i].id);
		}
}

unsigned long
uids_held(void)
{
	return held;
}
