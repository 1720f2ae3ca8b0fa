/* SPDX-License-Identifier: MIT */
/*
 * mender_artifact.h: reading, checking and re-writing Mender artifacts
 * (format 2 and 3) with room for their manifest.sig.
 *
 * A Mender artifact is a plain tar: version, manifest, [manifest.sig],
 * [manifest-augment], header.tar[.gz|.xz|.zst], [header-augment.tar*],
 * data/NNNN.tar[.gz|.xz|.zst].  mender_rewrite() reads it once from one
 * file descriptor and writes the signed layout to another: every member
 * is copied byte for byte, an old manifest.sig is dropped, and a slot for
 * the new one is reserved right after the manifest.  While copying it
 * checks every sha256 the manifest lists against the version file, the
 * header member and each file inside the data members, and that every
 * listed name exists.  Only when all of that holds does the caller sign
 * the manifest (lib/mender_key.h) and fill the slot (mender_write_signature),
 * so nothing is ever signed for a manifest that lies.  For an artifact
 * mender-artifact wrote, the output has the exact bytes `mender-artifact
 * sign` writes (Go archive/tar, USTAR); headers are copied as they are, so
 * other tar dialects keep their own encoding (Go would re-encode them).
 *
 * Memory stays flat: members are streamed through one buffer, and with
 * copy_range the bytes go input -> output by copy_file_range in a helper
 * thread (lib/mender_copy.h) while the calling thread hashes them from the
 * page cache.  The outer tar is read by lib/mender_tar.h and the manifest's
 * checksums are kept by lib/mender_manifest.h.
 */
#ifndef DSS_MENDER_ARTIFACT_H
#define DSS_MENDER_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

struct mender_opts {
	int copy_range;        /* copy members with copy_file_range in a thread */
	int start_writeback;   /* ask the kernel to write output pages out early */
	size_t sig_len;        /* manifest.sig bytes to reserve (0: no slot) */
	size_t meta_max;       /* largest version, manifest or manifest-augment */
	uint64_t max_members;  /* outer members plus payload files */
	uint64_t max_expanded; /* payload bytes hashed, in all */
	/* zeros of sparse payload files' holes hashed, in all: a hole costs
	 * hashing but no upload (mender-artifact writes no sparse files) */
	uint64_t max_holes;
	/* called now and then with bytes read so far and the input size */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *progress_arg;
};

struct mender_result {
	int format_version; /* 2 or 3 */
	int was_signed;     /* the input had a manifest.sig */
	char *manifest;     /* the manifest as read: the bytes to sign */
	size_t manifest_len;
	char manifest_sha256[65];
	uint64_t sig_offset;    /* output offset of the manifest.sig slot */
	size_t sig_len;         /* its reserved size */
	uint64_t out_size;      /* bytes written in all */
	uint64_t payload_files; /* files checked inside data members */
};

/* Defaults: no copy_file_range, no slot, 16 MiB metadata, generous limits. */
void mender_opts_init(struct mender_opts *o);

/*
 * Read the artifact from in (a regular file, read from offset 0) and write
 * its signed layout to out (an empty regular file) with a slot of
 * o->sig_len bytes for manifest.sig.  Returns 0 with r filled in, 400 when
 * the input is not a sound Mender artifact, 409 when it changed while
 * being read, 507 when a write found the file system full, 500 on any
 * other I/O failure; err says why in one line.
 */
int mender_rewrite(int in, int out, const struct mender_opts *o, struct mender_result *r, char *err,
		   size_t errlen);
void mender_result_free(struct mender_result *r);

/* Fill the slot of a rewrite with sig (exactly r->sig_len bytes); 0, 507
 * for a full file system or 500. */
int mender_write_signature(int out, const struct mender_result *r, const char *sig, size_t len,
			   char *err, size_t errlen);

/* The tar header block mender-artifact writes for a manifest.sig of size bytes. */
void mender_sig_header(unsigned char block[512], size_t size);

#endif
