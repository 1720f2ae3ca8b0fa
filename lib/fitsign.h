/* SPDX-License-Identifier: MIT */
/*
 * fitsign.h: a FIT image signed as U-Boot's mkimage 2023.01 signs one
 * with `mkimage -E -F -k ... [-p off] [-r] [-c comment] [-K dtb] [-o algo]`,
 * byte for byte, with the signatures made elsewhere (a callback: the key
 * process).  The FIT and the dtb are edited with lib/fdtedit.c, as
 * mkimage edits them with libfdt: the data imported, every hash node's
 * value, every image and configuration signature node signed (mkimage's
 * regions for a configuration), the public key written into the dtb,
 * mkimage's retry with 1 KiB more room until everything fits (the FIT
 * starting over each time, the dtb not), and the data moved after the
 * tree (-E: 4-byte aligned, or at -p's offset).
 *
 * RSA keys (PKCS#1 v1.5, or RSA-PSS for a node with padding = "pss") with
 * sha1, sha256, sha384 or sha512; an ECDSA algorithm, a cipher node, data
 * at an absolute position (data-position) or a crc16-ccitt hash is
 * refused with a reason.  PSS signatures are random: those bytes differ
 * from mkimage's, all others are the same.
 */
#ifndef DSS_FITSIGN_H
#define DSS_FITSIGN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* How the signatures and public keys are made; each returns 0 or an HTTP
 * status with a one-line reason in err. */
struct fitsign_key {
	/* sign a digest made with md for the signature node whose
	 * key-name-hint is hint ("" without one): PKCS#1 v1.5, or with pss
	 * RSA-PSS with the longest salt (what mkimage's OpenSSL does); sig
	 * has room for *siglen */
	int (*sign)(void *arg, const char *hint, int pss, const EVP_MD *md,
		    const unsigned char *digest, size_t dlen, unsigned char *sig, size_t *siglen,
		    char *err, size_t errlen);
	/* the public key of the key that sign uses for hint */
	int (*public_key)(void *arg, const char *hint, EVP_PKEY **pub, char *err, size_t errlen);
	void *arg;
};

struct fitsign_opts {
	const char *comment;      /* -c, or NULL */
	int require;              /* -r */
	const char *algo;         /* -o, or NULL */
	uint32_t timestamp;       /* what SOURCE_DATE_EPOCH gives mkimage */
	uint32_t external_offset; /* -p, 0: none */
};

struct fitsign_result {
	unsigned nsigned;  /* signature nodes signed */
	unsigned nhashes;  /* hash nodes filled */
	unsigned attempts; /* mkimage's size_inc steps taken */
	/* the refusal is of something mkimage does and this does not (an
	 * ECDSA algorithm, a crc16-ccitt hash); not of what mkimage refuses */
	int unsupported;
};

/*
 * Sign the FIT in fit_fd (fit_size bytes) into out_fd (a new file); with
 * a dtb (dtb_fd >= 0, dtb_size bytes) its new bytes into dtb_out_fd.  0,
 * or an HTTP status with a one-line reason in err (400 for what mkimage
 * refuses or this does not do, the callback's status for a key).
 */
int fitsign_run(int fit_fd, size_t fit_size, int dtb_fd, size_t dtb_size,
		const struct fitsign_opts *o, const struct fitsign_key *k, int out_fd,
		int dtb_out_fd, struct fitsign_result *res, char *err, size_t errlen);

#endif
