/* SPDX-License-Identifier: MIT */
/*
 * fuzz_acl.c: libFuzzer harness for the address lists of the settings
 * (acl_parse and acl_match in lib/acl.c: TRUSTED_PROXIES, the status
 * page's allow list).  The first 16 bytes of the input are a peer's IPv6
 * address (its last 4 an IPv4 one), the rest the list.  What a list
 * takes, it matches as acl.h says: an IPv4 peer it matches, it matches
 * as an IPv4-mapped IPv6 peer too; and the list with the peer's own
 * address added matches the peer.
 */
/* fuzz-sources: lib/acl.c lib/buf.c lib/util.c lib/log.c */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

/* Parse spec: the list, or NULL when it is refused. */
static struct acl *
parsed(const char *spec)
{
	struct acl *acl;
	char err[256];

	if (acl_parse(spec, &acl, err, sizeof(err)) < 0) {
		if (acl != NULL || err[0] == '\0')
			__builtin_trap(); /* refused: no list, and a reason */
		return NULL;
	}
	return acl;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6}, mapped = {.sin6_family = AF_INET6};
	char text[INET6_ADDRSTRLEN], *spec, *more;
	struct acl *acl;
	size_t len;

	if (size < 16)
		return 0;
	memcpy(&v6.sin6_addr, data, 16);
	memcpy(&v4.sin_addr, data + 12, 4);
	mapped.sin6_addr.s6_addr[10] = 0xff;
	mapped.sin6_addr.s6_addr[11] = 0xff;
	memcpy(mapped.sin6_addr.s6_addr + 12, data + 12, 4);
	len = size - 16;
	spec = malloc(len + 1);
	memcpy(spec, data + 16, len);
	spec[len] = '\0';
	if ((acl = parsed(spec)) != NULL) {
		if (acl_match(acl, (struct sockaddr *)&v4) &&
		    !acl_match(acl, (struct sockaddr *)&mapped))
			__builtin_trap();
		(void)acl_match(acl, (struct sockaddr *)&v6);
		acl_free(acl);
		/* with the IPv6 peer's own address added (after a NUL in the
		 * input the list ends there) */
		inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text));
		more = malloc(strlen(spec) + sizeof(text) + 2);
		sprintf(more, "%s,%s", spec, text);
		if ((acl = parsed(more)) == NULL || !acl_match(acl, (struct sockaddr *)&v6))
			__builtin_trap();
		acl_free(acl);
		free(more);
	}
	free(spec);
	return 0;
}
