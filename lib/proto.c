/* SPDX-License-Identifier: MIT */
/*
 * proto.c: sending and receiving the records of proto.h, with the client
 * socket passed as SCM_RIGHTS ancillary data.  Everything about fd passing
 * lives here: the key channel's records (keyproto.h) go through
 * proto_sendmsg and proto_recvmsg too.
 */
#include "proto.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

size_t
proto_size(uint32_t type)
{
	switch (type) {
	case PROTO_JOB:
		return sizeof(struct proto_job);
	case PROTO_READY:
		return sizeof(struct proto_ready);
	case PROTO_STARTED:
		return sizeof(struct proto_started);
	case PROTO_PROGRESS:
		return sizeof(struct proto_progress);
	case PROTO_RESPONDING:
		return sizeof(struct proto_responding);
	case PROTO_DONE:
		return sizeof(struct proto_done);
	case PROTO_AUDIT:
		return sizeof(struct proto_audit);
	case PROTO_KEYCHAN:
		return sizeof(struct proto_keychan);
	}
	return 0;
}

/*
 * JOB and AUDIT records end in a variable part; only its used bytes go on
 * the wire (a job's request head is usually a few hundred bytes of the 16
 * KiB its record can hold).  The bytes before that part, and the wire
 * length of msg as filled in.
 */
static size_t
fixed_size(uint32_t type)
{
	switch (type) {
	case PROTO_JOB:
		return offsetof(struct proto_job, prefix);
	case PROTO_AUDIT:
		return offsetof(struct proto_audit, json);
	}
	return proto_size(type);
}

static size_t
wire_size(const union proto_msg *msg)
{
	switch (msg->hdr.type) {
	case PROTO_JOB:
		if (msg->job.prefix_len > PROTO_PREFIX_MAX)
			return 0;
		return fixed_size(PROTO_JOB) + msg->job.prefix_len;
	case PROTO_AUDIT:
		if (msg->audit.len >= PROTO_AUDIT_MAX)
			return 0;
		return fixed_size(PROTO_AUDIT) + msg->audit.len + 1; /* with its NUL */
	}
	return proto_size(msg->hdr.type);
}

void
proto_cpu_of(const struct rusage *ru, struct proto_cpu *cpu)
{
	cpu->user_us = (uint64_t)ru->ru_utime.tv_sec * 1000000u + (uint64_t)ru->ru_utime.tv_usec;
	cpu->sys_us = (uint64_t)ru->ru_stime.tv_sec * 1000000u + (uint64_t)ru->ru_stime.tv_usec;
	cpu->minflt = (uint64_t)ru->ru_minflt;
}

void
proto_cpu_self(struct proto_cpu *cpu)
{
	struct rusage ru;

	memset(cpu, 0, sizeof(*cpu));
	if (getrusage(RUSAGE_SELF, &ru) == 0) /* cannot fail for RUSAGE_SELF */
		proto_cpu_of(&ru, cpu);
}

void
proto_init(union proto_msg *msg, uint32_t type, uint32_t generation, uint64_t job_id)
{
	size_t clear = fixed_size(type);

	memset(msg, 0, clear > sizeof(msg->hdr) ? clear : sizeof(msg->hdr));
	msg->hdr.type = type;
	msg->hdr.size = (uint32_t)proto_size(type);
	msg->hdr.generation = generation;
	msg->hdr.job_id = job_id;
}

int
proto_sendmsg(int sock, const struct iovec *iov, int iovcnt, int fd)
{
	return proto_sendmsg_fds(sock, iov, iovcnt, &fd, fd >= 0);
}

int
proto_sendmsg_fds(int sock, const struct iovec *iov, int iovcnt, const int *fds, int nfds)
{
	struct msghdr mh;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} cmsgbuf;
	size_t size = 0;
	ssize_t n;

	if (nfds < 0 || nfds > 2) {
		errno = EINVAL;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	for (int i = 0; i < iovcnt; i++)
		size += iov[i].iov_len;
	mh.msg_iov = (struct iovec *)iov;
	mh.msg_iovlen = (size_t)iovcnt;
	if (nfds > 0) {
		struct cmsghdr *cm;

		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		mh.msg_control = cmsgbuf.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != size) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int
proto_send(int sock, const union proto_msg *msg, int fd)
{
	struct iovec iov[2];
	struct proto_hdr hdr = msg->hdr;
	size_t size = wire_size(msg);

	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	hdr.size = (uint32_t)size;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (char *)msg + sizeof(hdr);
	iov[1].iov_len = size - sizeof(hdr);
	return proto_sendmsg(sock, iov, 2, fd);
}

/* Check that a fixed char array holds a NUL-terminated string. */
static int
terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* Type-specific checks of a record's contents; 0 or -1. */
static int
proto_check(const union proto_msg *msg)
{
	switch (msg->hdr.type) {
	case PROTO_JOB:
		return terminated(msg->job.peer, sizeof(msg->job.peer)) &&
				       msg->job.prefix_len <= PROTO_PREFIX_MAX
			       ? 0
			       : -1;
	case PROTO_STARTED:
		return terminated(msg->started.endpoint, sizeof(msg->started.endpoint)) &&
				       terminated(msg->started.selector,
						  sizeof(msg->started.selector)) &&
				       terminated(msg->started.identity,
						  sizeof(msg->started.identity))
			       ? 0
			       : -1;
	case PROTO_PROGRESS:
		return terminated(msg->progress.text, sizeof(msg->progress.text)) ? 0 : -1;
	case PROTO_AUDIT:
		return msg->audit.len < PROTO_AUDIT_MAX &&
				       msg->audit.json[msg->audit.len] == '\0'
			       ? 0
			       : -1;
	}
	return 0;
}

/* The descriptors passed with a received message: the first in *got,
 * any more closed; 1 when there were more, else 0. */
static int
take_fds(struct msghdr *mh, int *got)
{
	int more = 0;

	*got = -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*got < 0) {
				*got = f;
			} else {
				close(f);
				more = 1;
			}
		}
	}
	return more;
}

ssize_t
proto_recvmsg(int sock, void *buf, size_t len, int *fd)
{
	struct msghdr mh;
	struct iovec iov;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cmsgbuf;
	ssize_t n;
	int got, bad;

	*fd = -1;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cmsgbuf.buf;
	mh.msg_controllen = sizeof(cmsgbuf.buf);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	bad = take_fds(&mh, &got);
	if (n == 0 && got < 0)
		return 0;
	if (bad || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n == 0) {
		if (got >= 0)
			close(got);
		errno = EPROTO;
		return -1;
	}
	*fd = got;
	return n;
}

int
proto_recv(int sock, union proto_msg *msg, int *fd)
{
	ssize_t n = proto_recvmsg(sock, msg, sizeof(*msg), fd);

	if (n <= 0)
		return (int)n;
	if ((size_t)n < sizeof(struct proto_hdr) || proto_size(msg->hdr.type) == 0 ||
	    msg->hdr.size != (size_t)n || (size_t)n < fixed_size(msg->hdr.type) ||
	    wire_size(msg) != (size_t)n || proto_check(msg) < 0 ||
	    (*fd >= 0 && msg->hdr.type != PROTO_JOB && msg->hdr.type != PROTO_KEYCHAN)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		errno = EPROTO;
		return -1;
	}
	return 1;
}
