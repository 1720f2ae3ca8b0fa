/* SPDX-License-Identifier: MIT */
/*
 * rkparams.h: what the Rockchip signers (workers/rk.c) read of their form
 * fields and trees, as upstream digsigserver reads them
 * (digsigserver/signers/rksign.py, rkopteesign.py, utils.to_boolean).
 */
#ifndef DSS_RKPARAMS_H
#define DSS_RKPARAMS_H

enum rk_artifact { RK_FIT_IMAGE, RK_IDBLOCK, RK_USBLOADER };

/*
 * soctype rk3588, rk3566 or rk3568 (exactly, as upstream's list): the
 * chip rk_sign_tool's "cc --chip" takes (the soctype without "rk"), or
 * NULL for anything else, NULL included.
 */
const char *rk_soctype_chip(const char *soctype);
/* artifact_type fit-image, idblock or usbloader in any case (upstream's
 * .lower()); -1 for anything else, NULL included. */
int rk_artifact_type(const char *v);
/* upstream's utils.to_boolean: 1 for Y, YES, 1, T, TRUE, ON in any case;
 * 0 for anything else (NULL, "", "no", " yes"). */
int rk_to_boolean(const char *v);
/* 1 when v is a hexadecimal number as mkimage's -p reads it (optional
 * 0x, 1 to 16 digits, nothing else), else 0. */
int rk_hex_offset(const char *v);
/* 1 when a member name is a file resign_ta.py is run on (upstream:
 * name.endswith('.ta')), else 0. */
int rk_ta_name(const char *name);

#endif
