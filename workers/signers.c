/* SPDX-License-Identifier: MIT */
/*
 * signers.c: the table of signers.  Adding a signer is one line here, its
 * own file in workers/ and its tests.  The supervisor sees this table only
 * through route.h (paths); the worker through signer.h.
 */
#include <stddef.h>
#include <string.h>

#include "route.h"
#include "signer.h"

extern const struct signer signer_swupdate;
extern const struct signer signer_modules;
extern const struct signer signer_mender;
extern const struct signer signer_tegra;
extern const struct signer signer_fitimage;
extern const struct signer signer_optee;
extern const struct signer signer_ueficapsule;
extern const struct signer signer_ekb;
extern const struct signer signer_uefi;
extern const struct signer signer_rk;
extern const struct signer signer_rkoptee_tee;
extern const struct signer signer_rkoptee_ta;
extern const struct signer signer_imx;

static const struct signer *const signers[] = {
	&signer_swupdate,
	&signer_modules,
	&signer_mender,
	&signer_tegra,
	&signer_fitimage,
	&signer_optee,
	&signer_ueficapsule,
	&signer_ekb,
	&signer_uefi,
	&signer_rk,
	&signer_rkoptee_tee,
	&signer_rkoptee_ta,
	&signer_imx,
};

#define NSIGNERS (int)(sizeof(signers) / sizeof(signers[0]))

int
route_find(const char *path)
{
	for (int i = 0; i < NSIGNERS; i++)
		if (strcmp(signers[i]->path, path) == 0)
			return i;
	return -1;
}

int
route_has_dir(int route)
{
	const struct signer *s = route >= 0 ? signer_at((unsigned)route) : NULL;

	return s != NULL && !s->digest_only;
}

const struct signer *
signer_at(unsigned route)
{
	return route < (unsigned)NSIGNERS ? signers[route] : NULL;
}
