/* SPDX-License-Identifier: MIT */
/*
 * imx-cst-backend.c: the back-end functions Debian's cst leaves undefined
 * (NXP ships them as separate reference code), for t/regress/imx.sh,
 * which builds this into a shared object and runs /usr/bin/cst with it
 * and libcrypto preloaded.  Each keeps the reference back end's contract:
 *
 *  get_key_file(cert, key): the private key of a certificate is the file
 *    named like it with "crts" -> "keys" and "crt.pem" -> "key.pem"
 *    (crts/CSF1_1_sha256_2048_65537_v3_usr_crt.pem ->
 *    keys/CSF1_1_sha256_2048_65537_v3_usr_key.pem); 0 for success.
 *  get_passcode_to_key_file(buf, size, rwflag, key): OpenSSL's PEM
 *    password callback; the passphrase is the first line of key_pass.txt
 *    beside the key, or none (0) when there is no such file.
 *  read_file(name, out, offsets): the whole file (or [first, second) of
 *    it) into a malloc'ed {bytes, length}; exits on failure.
 *  encryptcbc, encryptccm: encrypted boot, which the tests do not use:
 *    they fail.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct byte_string {
	uint8_t *bytes;
	size_t len;
};

struct file_range {
	uint32_t first, second;
};

int32_t get_key_file(const char *cert_file, char *key_file);
int get_passcode_to_key_file(char *buf, int size, int rwflag, void *userdata);
void read_file(const char *filename, struct byte_string *out, const struct file_range *range);
int32_t encryptcbc(void);
int32_t encryptccm(void);

int32_t
get_key_file(const char *cert_file, char *key_file)
{
	size_t n = strlen(cert_file);
	char *dir;

	strcpy(key_file, cert_file);
	if (n >= 7 && strcmp(key_file + n - 7, "crt.pem") == 0)
		memcpy(key_file + n - 7, "key", 3);
	if ((dir = strstr(key_file, "crts")) != NULL)
		memcpy(dir, "keys", 4);
	return 0;
}

int
get_passcode_to_key_file(char *buf, int size, int rwflag, void *userdata)
{
	const char *key = userdata;
	const char *slash = key != NULL ? strrchr(key, '/') : NULL;
	char path[4096];
	FILE *f;

	(void)rwflag;
	snprintf(path, sizeof(path), "%.*skey_pass.txt", slash ? (int)(slash - key + 1) : 0,
		 key ? key : "");
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, size, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return (int)strlen(buf);
}

void
read_file(const char *filename, struct byte_string *out, const struct file_range *range)
{
	FILE *f = fopen(filename, "rb");
	long size, from = 0;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) {
		fprintf(stderr, "cannot read %s\n", filename);
		exit(1);
	}
	if (range != NULL) {
		if (range->first > range->second || range->second > (unsigned long)size) {
			fprintf(stderr, "offsets outside %s\n", filename);
			exit(1);
		}
		from = range->first;
		size = range->second - range->first;
	}
	out->len = (size_t)size;
	out->bytes = malloc(size ? (size_t)size : 1);
	if (out->bytes == NULL || fseek(f, from, SEEK_SET) != 0 ||
	    fread(out->bytes, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "cannot read %s\n", filename);
		exit(1);
	}
	fclose(f);
}

int32_t
encryptcbc(void)
{
	fprintf(stderr, "encrypted boot is not supported by this test back end\n");
	return -1;
}

int32_t
encryptccm(void)
{
	fprintf(stderr, "encrypted boot is not supported by this test back end\n");
	return -1;
}
