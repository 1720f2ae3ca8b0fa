/* SPDX-License-Identifier: MIT */
/*
 * flashvars.c: see flashvars.h.
 */
#include "flashvars.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define FLASHVARS_MAX_VARS 256

/* Every name meta-tegra's flashvars files set, L4T R32 to R38. */
static const char *const flash_names[] = {
	"FLASHVARS", "BPFDTB_FILE", "BPF_FILE", "PINMUX_CONFIG", "PMIC_CONFIG", "PMC_CONFIG",
	"PROD_CONFIG", "BOOTROM_CONFIG", "MISC_CONFIG", "MISC_COLD_BOOT_CONFIG", "SCR_CONFIG",
	"SCR_COLD_BOOT_CONFIG", "DEV_PARAMS", "DEV_PARAMS_B", "EMC_FUSE_DEV_PARAMS",
	"UPHY_CONFIG", "DEVICE_CONFIG", "DEVICEPROD_CONFIG", "GPIOINT_CONFIG", "BR_CMD_CONFIG",
	"MINRATCHET_CONFIG", "TRIM_BPMP_DTB", "DTBFILE", "DTB_FILE", "TBCFILENAME",
	"RCM_TBCFILENAME", "boardcfg_file", "OVERLAY_DTB_FILE", "CHIPID",
	"PLUGIN_MANAGER_OVERLAYS", "BOOTCONTROL_OVERLAYS", "CHIP_SKU", "MB2BCT_CFG", "RAMCODE",
	"TBCDTB_FILE", "WB0SDRAM_BCT", "DEFAULT_FAB", "VERFILENAME", "EMMC_CFG", "DRAMECCFILE",
	"BADPAGEFILE", "BADPAGENAME", "SCEFILE", "DCE_OVERLAY", "RCM_UEFI_IMAGE", "UEFI_IMAGE",
	"CHECK_BOARDID", "CHECK_BOARDSKU", "BCTFILE", "BPMP_MEM_CONFIG", "ODMDATA", "FSIFW",
	NULL,
};

static const char *const bsp_names[] = {"BSP_BRANCH", "BSP_MAJOR", "BSP_MINOR", NULL};

/*
 * What the helpers take from their environment: the MANIFEST the clients
 * write (and the mode switches the server reads), and the board variables
 * of BUPGENSPECS.  Not the helpers' internal variables, which an
 * environment could pre-set (binargs, bctargs, ...), nor flash variables.
 */
static const char *const env_names[] = {
	"DTBFILE", "ODMDATA", "LNXFILE", "BOARDID", "FAB", "BOARDSKU", "BOARDREV", "CHIPREV",
	"CHIP_SKU", "CHIPSKU", "RAMCODE", "fuselevel", "localbootfile", "boardcfg", "BOOTDEV",
	"serial_number", "EMMC_BCTS", "BUPGENSPECS", "BUPGEN", "SIGNFILES", "BUP_TYPE",
	"RCMBOOT_KERNEL", NULL,
};

static int
in_list(const char *const *list, const char *name, size_t len)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strlen(list[i]) == len && memcmp(list[i], name, len) == 0)
			return 1;
	return 0;
}

int
flashvars_env_passed(const char *name)
{
	return in_list(env_names, name, strlen(name));
}

int
flashvars_env_value_ok(const char *v, int spaces)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == ' ' && spaces)
			continue;
		if (*p < 0x20 || *p == 0x7f || strchr("$`;&|<>\\()\"' \t", *p) != NULL)
			return 0;
	}
	return 1;
}

int
flashvars_odmdata_ok(const char *v)
{
	size_t word = 0;

	if ((v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))) {
		size_t n = strspn(v + 2, "0123456789abcdefABCDEF");

		return n > 0 && n <= 16 && v[2 + n] == '\0';
	}
	for (const char *p = v; *p; p++) {
		if (*p == ',') {
			if (word == 0)
				return 0;
			word = 0;
		} else if (isalnum((unsigned char)*p) || *p == '_' || *p == '-') {
			word++;
		} else {
			return 0;
		}
	}
	return v[0] == '\0' || word > 0;
}

/* A word of a flash variable value. */
static int
value_char(int c)
{
	return isalnum(c) || (c != 0 && strchr("._,:+@/=-", c) != NULL);
}

/* Check one parsed value of name; NULL when fine, else why not. */
static const char *
check_value(const char *const *names, const char *name, const char *v)
{
	int words = 0, spaced;

	spaced = strchr(v, ' ') != NULL;
	for (const char *p = v; *p;) {
		const char *w = p;

		while (value_char((unsigned char)*p))
			p++;
		if (p == w || (*p != ' ' && *p != '\0'))
			return "has characters a shell would interpret";
		if (strcmp(name, "FLASHVARS") == 0 && !in_list(names, w, (size_t)(p - w)))
			return "lists a name that is not a flash variable";
		if (words == 0 && spaced && strcmp(name, "FLASHVARS") != 0 &&
		    strncmp(w, "--", 2) != 0)
			return "has a space outside an \"--option file\" value";
		words++;
		if (*p == ' ')
			p++;
	}
	if (strcmp(name, "ODMDATA") == 0 && !flashvars_odmdata_ok(v))
		return "is not a valid ODMDATA";
	return NULL;
}

struct var {
	char *name, *value;
};

/* Parse one line into name and value; NULL, or why it is not valid. */
static const char *
parse_line(const char *line, size_t n, const char *const *names, struct var *out)
{
	const char *eq, *v, *end = line + n;
	const char *why;
	char q = 0;

	for (eq = line; eq < end && (isalnum((unsigned char)*eq) || *eq == '_'); eq++)
		;
	if (eq == line || eq == end || *eq != '=' || isdigit((unsigned char)line[0]))
		return "is not NAME=value";
	if (!in_list(names, line, (size_t)(eq - line)))
		return "names a variable the flash helpers do not read";
	v = eq + 1;
	if (end > v && end[-1] == ';')
		end--;
	if (v < end && (*v == '"' || *v == '\'')) {
		q = *v++;
		if (end == v || end[-1] != q || memchr(v, q, (size_t)(end - v - 1)) != NULL)
			return "has a quote that does not close";
		end--;
	}
	out->name = xstrndup(line, (size_t)(eq - line));
	out->value = xstrndup(v, (size_t)(end - v));
	if (strlen(out->value) != (size_t)(end - v))
		why = "has a NUL byte";
	else if (!q && strchr(out->value, ' ') != NULL)
		why = "has a space outside quotes";
	else
		why = check_value(names, out->name, out->value);
	if (why != NULL) {
		free(out->name);
		free(out->value);
	}
	return why;
}

static void
vars_free(struct var *vars, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(vars[i].name);
		free(vars[i].value);
	}
	free(vars);
}

/* Append "NAME='value'\n" for each variable, the last of each name. */
static char *
format_vars(const struct var *vars, size_t n)
{
	size_t total = 1;
	char *out, *p;

	for (size_t i = 0; i < n; i++)
		total += strlen(vars[i].name) + strlen(vars[i].value) + 4;
	p = out = xmalloc(total);
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s='%s'\n", vars[i].name, vars[i].value);
	*p = '\0';
	return out;
}

int
flashvars_rewrite(enum flashvars_file which, const char *buf, size_t len, char **out,
		  char *err, size_t errlen)
{
	const char *const *names = which == FLASHVARS_FLASHVARS ? flash_names : bsp_names;
	const char *file = which == FLASHVARS_FLASHVARS ? "flashvars" : "bsp_version";
	struct var *vars = xcalloc(FLASHVARS_MAX_VARS, sizeof(*vars));
	size_t nvars = 0, lineno = 0;

	for (size_t pos = 0; pos < len;) {
		size_t eol = pos, n;
		const char *line = buf + pos, *why;
		struct var v;

		while (eol < len && buf[eol] != '\n')
			eol++;
		lineno++;
		n = eol - pos;
		pos = eol + 1;
		while (n > 0 && isspace((unsigned char)line[n - 1]))
			n--;
		while (n > 0 && (*line == ' ' || *line == '\t'))
			line++, n--;
		if (n == 0 || line[0] == '#')
			continue;
		if ((why = parse_line(line, n, names, &v)) == NULL && nvars == FLASHVARS_MAX_VARS)
			why = "is one variable too many";
		if (why != NULL) {
			snprintf(err, errlen, "%s line %zu %s", file, lineno, why);
			vars_free(vars, nvars);
			return -1;
		}
		for (size_t i = 0; i < nvars; i++) {
			if (strcmp(vars[i].name, v.name) == 0) {
				/* the shell's last assignment wins */
				free(vars[i].value);
				vars[i].value = v.value;
				free(v.name);
				v.name = NULL;
				break;
			}
		}
		if (v.name != NULL)
			vars[nvars++] = v;
	}
	*out = format_vars(vars, nvars);
	vars_free(vars, nvars);
	return 0;
}
