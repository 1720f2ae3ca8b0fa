/* SPDX-License-Identifier: MIT */
/*
 * acl.h: address lists such as "127.0.0.0/8,::1,10.1.2.0/24", matched
 * against a peer's socket address (IPv4-mapped IPv6 peers match IPv4
 * entries).
 */
#ifndef DSS_ACL_H
#define DSS_ACL_H

#include <stddef.h>
#include <sys/socket.h>

struct acl;

/* Parse spec (NULL or "" gives an empty list, matching nothing);
 * 0, or -1 with err naming the bad entry. */
int acl_parse(const char *spec, struct acl **out, char *err, size_t errlen);
/* 1 if the address matches an entry, else 0. */
int acl_match(const struct acl *acl, const struct sockaddr *sa);
void acl_free(struct acl *acl);

#endif
