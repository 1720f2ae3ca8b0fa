/* SPDX-License-Identifier: MIT */
/*
 * statusview.h: the terminal view of a running daemon's /status, for an
 * operator on a host with no browser (digsigserver --status, --watch).
 *
 * It fetches the JSON with a plain blocking HTTP/1.0 GET (no library
 * beyond jansson) and prints the pool as a table; --watch redraws it
 * every second with ANSI escapes only.
 */
#ifndef DSS_STATUSVIEW_H
#define DSS_STATUSVIEW_H

/* Show url's status (NULL: http://127.0.0.1:port/status) once, or every
 * second when watch is set (until interrupted).  Exit status: 0 when the
 * instance is healthy, 1 when not or unreachable, 2 for a bad URL. */
int statusview_run(const char *url, long long port, int watch);

#endif
