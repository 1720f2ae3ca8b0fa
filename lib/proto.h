/* SPDX-License-Identifier: MIT */
/*
 * proto.h: the supervisor <-> worker contract.
 *
 * One SOCK_SEQPACKET socketpair per worker carries small fixed-size typed
 * records, one per datagram.  Every record starts with struct proto_hdr:
 * its type, its exact size, the worker generation and the job id.  The
 * receiver checks type and size before it touches the body
 * (proto_recv); a worker that sends anything else, or a record out of its
 * place in the sequence (the table in src/records.c), is killed.
 *
 *   supervisor -> worker   PROTO_JOB       the route, the request bytes read so
 *                                          far + the client socket (SCM_RIGHTS)
 *                          PROTO_KEYCHAN   right after it: the job's channel to
 *                                          the key process (keyproto.h), when
 *                                          one could be made (SCM_RIGHTS)
 *   worker -> supervisor   PROTO_READY     forked, privileges dropped, idle; its
 *                                          CPU use so far (struct proto_cpu)
 *                          PROTO_STARTED   endpoint and key selector known
 *                          PROTO_PROGRESS  a short text for /status
 *                          PROTO_RESPONDING the response has begun
 *                          PROTO_DONE      the status sent; its CPU use so far
 *                          PROTO_AUDIT     one audit record (JSON object)
 */
#ifndef DSS_PROTO_H
#define DSS_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The descriptor of a child's channel to the supervisor (proc.h puts it there). */
#define PROTO_CHANNEL_FD 3

#define PROTO_PEER_MAX 64     /* "[addr]:port" text */
#define PROTO_PREFIX_MAX 16384 /* request bytes the supervisor already read: the
				 * head, as HEADER_MAX_SIZE is at most this */
#define PROTO_TEXT_MAX 128
#define PROTO_AUDIT_MAX 16384

enum proto_type {
	PROTO_JOB = 1,
	PROTO_READY,
	PROTO_STARTED,
	PROTO_PROGRESS,
	PROTO_RESPONDING,
	PROTO_DONE,
	PROTO_AUDIT,
	PROTO_KEYCHAN,
};

struct proto_hdr {
	uint32_t type;
	uint32_t size; /* of the whole record */
	uint32_t generation;
	uint32_t pad;
	uint64_t job_id;
};

struct proto_job {
	struct proto_hdr hdr;
	char peer[PROTO_PEER_MAX];
	uint32_t route; /* the signer the supervisor chose (route.h) */
	uint32_t prefix_len;
	char prefix[PROTO_PREFIX_MAX];
};

struct proto_keychan {
	struct proto_hdr hdr;
};

/* A worker's own CPU use and minor page faults since its fork
 * (getrusage), so the supervisor can tell what a fresh process per job
 * costs before, during and after the job (pool.h). */
struct proto_cpu {
	uint64_t user_us;
	uint64_t sys_us;
	uint64_t minflt;
};

struct proto_ready {
	struct proto_hdr hdr;
	struct proto_cpu cpu;
};

struct proto_started {
	struct proto_hdr hdr;
	char endpoint[32];
	char selector[PROTO_TEXT_MAX];
	char identity[PROTO_TEXT_MAX]; /* authenticated client name, or "" */
};

struct proto_progress {
	struct proto_hdr hdr;
	char text[PROTO_TEXT_MAX];
};

struct proto_responding {
	struct proto_hdr hdr;
};

struct proto_done {
	struct proto_hdr hdr;
	int32_t status;
	uint32_t pad;
	struct proto_cpu cpu;
};

struct proto_audit {
	struct proto_hdr hdr;
	uint32_t len;
	char json[PROTO_AUDIT_MAX];
};

union proto_msg {
	struct proto_hdr hdr;
	struct proto_job job;
	struct proto_ready ready;
	struct proto_started started;
	struct proto_progress progress;
	struct proto_responding responding;
	struct proto_done done;
	struct proto_audit audit;
	struct proto_keychan keychan;
};

/* The largest size a record of this type can have; 0 for an unknown type.
 * JOB and AUDIT records end in a variable part (prefix, json) of which
 * only the used bytes are sent; every other record has exactly this size. */
size_t proto_size(uint32_t type);
struct rusage;
/* A getrusage or wait4 rusage as a proto_cpu. */
void proto_cpu_of(const struct rusage *ru, struct proto_cpu *cpu);
/* This process's CPU use and minor faults so far (RUSAGE_SELF). */
void proto_cpu_self(struct proto_cpu *cpu);
/* Fill the header of msg for type and zero its fixed fields. */
void proto_init(union proto_msg *msg, uint32_t type, uint32_t generation, uint64_t job_id);
/* Send one record, with fd as SCM_RIGHTS when fd >= 0; 0 or -1. */
int proto_send(int sock, const union proto_msg *msg, int fd);
/*
 * Receive one record into msg and check it: a known type, the exact size,
 * NUL-terminated strings, at most one passed fd (into *fd, else -1),
 * and only with JOB or KEYCHAN.
 * Returns 1 for a record, 0 at end of stream, -1 on error or a bad record
 * (errno EPROTO; any fd received is closed).
 */
int proto_recv(int sock, union proto_msg *msg, int *fd);

struct iovec;
/*
 * The fd passing under proto_send and proto_recv, for any record format
 * (keyproto.h uses them too).  proto_sendmsg sends the iovecs as one
 * datagram, with fd as SCM_RIGHTS when fd >= 0; 0, or -1 (EMSGSIZE when
 * short).  proto_recvmsg receives one datagram of at most len bytes: its
 * length, 0 at end of stream, or -1 (EPROTO: truncated, empty, or more
 * than one descriptor, every descriptor closed); the one passed
 * descriptor in *fd (close-on-exec), else -1.
 */
int proto_sendmsg(int sock, const struct iovec *iov, int iovcnt, int fd);
/* The same with nfds descriptors (0 to 2; else EINVAL): the records carry
 * at most one, and the tests send two to see them refused. */
int proto_sendmsg_fds(int sock, const struct iovec *iov, int iovcnt, const int *fds, int nfds);
ssize_t proto_recvmsg(int sock, void *buf, size_t len, int *fd);

#endif
