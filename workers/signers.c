/*
 * signers.c: the table of signers.  Adding a signer is one line here, its
 * own file in workers/ and its tests.
 */
#include <string.h>

#include "signer.h"

extern const struct signer signer_swupdate;
extern const struct signer signer_modules;
extern const struct signer signer_mender;
extern const struct signer signer_tegra;

const struct signer *const signers[] = {
	&signer_swupdate,
	&signer_modules,
	&signer_mender,
	&signer_tegra,
	NULL,
};

const struct signer *
signer_find(const char *path)
{
	for (const struct signer *const *s = signers; *s; s++)
		if (strcmp((*s)->path, path) == 0)
			return *s;
	return NULL;
}
