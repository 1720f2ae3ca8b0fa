/* SPDX-License-Identifier: MIT */
/*
 * imxcsf.h: what /sign/imx (workers/imx.c) reads of its client's input
 * before NXP's cst sees it: the CSF text, the artifact's upload name (the
 * name the CSF's blocks refer to, kept in the job's work directory), the
 * cstversion naming a CST tree, and upstream's PIN placeholder.
 */
#ifndef DSS_IMXCSF_H
#define DSS_IMXCSF_H

#include <stddef.h>

struct buf;

/* Upstream's PIN placeholder in a PKCS#11 URI of the CSF. */
#define IMX_PIN_PLACEHOLDER "pin-value=password"
/* Longest artifact name kept (a file name in the work directory). */
#define IMX_NAME_MAX 200

/*
 * The CSF text as cst may read it: valid UTF-8 (no overlong form, no
 * surrogate, nothing past U+10FFFF) without a NUL.  0, or -1 with the
 * reason ("not UTF-8 at byte 12") in why.
 */
int imx_csf_text_check(const unsigned char *text, size_t len, char *why, size_t whylen);
/*
 * An upload name kept as a file of the work directory: 1 to IMX_NAME_MAX
 * bytes of [A-Za-z0-9._+,=@~-], not starting with '.' or '-' (so neither
 * "." nor ".." nor a hidden file nor an option), never "csf-input.txt".
 * 0, or -1 with the reason in why.
 */
int imx_name_check(const char *name, char *why, size_t whylen);
/* 1 when v names a CST tree cst-<v>: digits and letters in dot-separated
 * parts ("3.3.2", "3.4.0a"), at most 32 bytes; else 0. */
int imx_cstversion_valid(const char *v);
/*
 * What the CSF's data sections name: in a section whose name ends in
 * "Data" ([Authenticate Data], [Decrypt Data]) every quoted string must be
 * name (or "./" name), the artifact; anywhere, none may be
 * "csf-input.txt".  cst signs what a block names into the answer, so a
 * block naming the CSF (which holds a PKCS#11 PIN) or a key file would
 * give a client, one byte more per request, what it must never see.
 * Comments ('#' outside quotes) are skipped.  0, or -1 with the reason in
 * why.
 */
int imx_csf_blocks_check(const unsigned char *text, size_t len, const char *name, char *why,
			 size_t whylen);
/* The number of placeholders in text. */
size_t imx_pin_count(const unsigned char *text, size_t len);
/*
 * text with every placeholder's value replaced by pin, appended to out
 * (a sensitive buf: it holds the PIN).  0, or -1 when out is full.
 */
int imx_pin_substitute(const unsigned char *text, size_t len, const char *pin, struct buf *out);

#endif
