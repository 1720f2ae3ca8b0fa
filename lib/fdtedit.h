/* SPDX-License-Identifier: MIT */
/*
 * fdtedit.h: a flattened device tree edited the way libfdt edits one in
 * place (fdt_open_into, fdt_setprop, fdt_delprop, fdt_add_subnode,
 * fdt_pack), byte for byte, without holding large property values in
 * memory.
 *
 * mkimage signs a FIT by editing it in a buffer with libfdt; what it
 * writes depends on libfdt's exact moves: a new property goes first in
 * its node, a new string is appended unless the strings block already
 * holds it (also as the tail of another), a splice moves only the bytes up
 * to the end of the strings, and the padding of a new property keeps
 * whatever bytes were there.  To give the same bytes, the blob here is a
 * piece table: the device tree's bytes are a list of pieces, each held in
 * memory, a range of the input file, or zeros; an edit is a memmove done
 * on the list.  Values longer than FE_INLINE_MAX (image data) stay ranges
 * of the file: they are read in windows when hashed or written, so a
 * blob costs the size of its structure only (at most FE_MEM_MAX).
 * Offsets and errors follow libfdt (FE_ERR_* = -FDT_ERR_*).
 */
#ifndef DSS_FDTEDIT_H
#define DSS_FDTEDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#define FE_INLINE_MAX 4096            /* longer values stay in the file */
#define FE_MEM_MAX (16 * 1024 * 1024) /* the structure held in memory */
#define FE_DEPTH_MAX 32

/* libfdt's error numbers, negated */
#define FE_ERR_NOTFOUND (-1)
#define FE_ERR_EXISTS (-2)
#define FE_ERR_NOSPACE (-3)
#define FE_ERR_BADOFFSET (-4)
#define FE_ERR_BADSTRUCTURE (-11)
#define FE_ERR_BADLAYOUT (-12)
#define FE_ERR_INTERNAL (-13)

#define FE_BEGIN_NODE 1
#define FE_END_NODE 2
#define FE_PROP 3
#define FE_NOP 4
#define FE_END 9

struct fe_piece {
	const unsigned char *mem; /* NULL: a file range at off, or zeros when off < 0 */
	off_t off;
	size_t len;
};

/* Memory the pieces of several blobs share, freed at once. */
struct fe_arena {
	void **bufs;
	size_t n, cap, bytes;
};

struct fe_hdr {
	uint32_t magic, totalsize, off_struct, off_strings, off_rsv, version, last_comp, boot_cpuid,
	    size_strings, size_struct;
};

struct fe_blob {
	int fd; /* the file the ranges are of */
	struct fe_arena *arena;
	struct fe_hdr h;
	struct fe_piece *p;
	size_t n, cap;
	size_t total; /* bytes the pieces hold: h.totalsize */
};

void fe_arena_free(struct fe_arena *a);
void fe_free(struct fe_blob *b);

/*
 * The file fd (size bytes) as a blob: its header checked (version 17, the
 * blocks in the file and in libfdt's order: not misordered), each value
 * longer than FE_INLINE_MAX a range of the file, the rest in a's memory.
 * The pieces cover the whole file.  0, or -1 with a reason.
 */
int fe_load(struct fe_blob *b, struct fe_arena *a, int fd, size_t size, char *err, size_t errlen);
/* A copy of b sharing its memory. */
void fe_clone(struct fe_blob *dst, const struct fe_blob *src);
/* fdt_open_into to a bigger buffer: the blob grows by inc zero bytes. */
void fe_grow(struct fe_blob *b, size_t inc);
/* fdt_pack: the blob ends with its strings. */
void fe_pack(struct fe_blob *b);
/* Set the total size (fdt_set_totalsize), keeping the bytes there or
 * adding zeros. */
void fe_set_total(struct fe_blob *b, size_t total);

/* Copy len bytes at off; 0 or -1 (outside the blob, a read error). */
int fe_read(const struct fe_blob *b, size_t off, void *out, size_t len);
/* Hash len bytes at off into ctx, in windows; 0 or -1. */
int fe_hash(const struct fe_blob *b, size_t off, size_t len, EVP_MD_CTX *ctx);
/* CRC-32 (zlib's) of len bytes at off; 0 or -1. */
int fe_crc32(const struct fe_blob *b, size_t off, size_t len, uint32_t *crc);
/* Write the blob's first len bytes (the header as it stands) to fd at
 * its offset pos; 0 or -1 with errno. */
int fe_write_out(const struct fe_blob *b, size_t len, int fd, off_t pos);
/* All of b's bytes, as they are, to fd at pos; 0 or -1. */
int fe_write_raw(const struct fe_blob *b, int fd, off_t pos);
/* The pieces of [off, off+len) appended to out (a snapshot). */
int fe_slice(const struct fe_blob *b, size_t off, size_t len, struct fe_blob *out);

/* fdt_next_tag: the tag at off (FE_* or a negative error), *next after it. */
int fe_next_tag(const struct fe_blob *b, int off, int *next);
/* The node's name into buf (NUL-terminated); its length or an error. */
int fe_get_name(const struct fe_blob *b, int node, char *buf, size_t len);
int fe_first_subnode(const struct fe_blob *b, int node);
int fe_next_subnode(const struct fe_blob *b, int node);
/* fdt_subnode_offset (a name without '@' also matches "name@unit"). */
int fe_subnode(const struct fe_blob *b, int parent, const char *name);
/* fdt_path_offset for an absolute path. */
int fe_path(const struct fe_blob *b, const char *path);
/* fdt_get_path into buf. */
int fe_get_path(const struct fe_blob *b, int node, char *buf, size_t len);
/* The property's offset in the blob of its value, its length in *len;
 * or FE_ERR_NOTFOUND. */
int fe_getprop(const struct fe_blob *b, int node, const char *name, int *len);
/* A property's value of at most max bytes into buf (NUL added when it
 * fits); its length or an error (FE_ERR_NOSPACE when longer). */
int fe_getprop_copy(const struct fe_blob *b, int node, const char *name, void *buf, size_t max);
/* The string at nameoff of the strings block into buf. */
int fe_string(const struct fe_blob *b, uint32_t nameoff, char *buf, size_t len);

/* fdt_setprop with val, or with the pieces of src (a value in a file). */
int fe_setprop(struct fe_blob *b, int node, const char *name, const void *val, int len);
int fe_setprop_pieces(struct fe_blob *b, int node, const char *name, const struct fe_blob *src);
int fe_setprop_u32(struct fe_blob *b, int node, const char *name, uint32_t v);
int fe_setprop_string(struct fe_blob *b, int node, const char *name, const char *s);
int fe_delprop(struct fe_blob *b, int node, const char *name);
int fe_add_subnode(struct fe_blob *b, int parent, const char *name);

#endif
