/* SPDX-License-Identifier: MIT */
/*
 * check_config.c: unit tests of lib/config.c: defaults, the config file
 * format, the environment, precedence and malformed values.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "config.h"

static struct config cfg;
static char err[512];

static void
setup(void)
{
	conf_defaults(&cfg);
	err[0] = '\0';
}

static void
teardown(void)
{
	conf_free(&cfg);
}

START_TEST(test_defaults)
{
	ck_assert_str_eq(cfg.address, "0.0.0.0");
	ck_assert_int_eq(cfg.port, 9999);
	ck_assert_int_eq(cfg.response_timeout, 300);
	ck_assert_int_eq(cfg.request_max_size, 600000000LL);
	ck_assert_str_eq(cfg.l4t_tools_base, "/opt/nvidia");
	ck_assert_ptr_null(cfg.keyfile_uri);
	ck_assert_int_eq(conf_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "KEYFILE_URI"));
}
END_TEST

START_TEST(test_file_format)
{
	const char *text = "# comment\n"
			   "\n"
			   "DIGSIGSERVER_KEYFILE_URI=file:///srv/keys\n"
			   "export DIGSIGSERVER_PORT = 8080\n"
			   "DIGSIGSERVER_L4T_TOOLS_BASE=\"/opt/with space\"\n"
			   "RESPONSE_TIMEOUT='42'\n"
			   "OTHER_PROGRAM_SETTING=whatever\n"
			   "DIGSIGSERVER_LOG_LEVEL=DEBUG\n";

	ck_assert_int_eq(conf_load_buffer(&cfg, text, strlen(text), "t", err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.keyfile_uri, "file:///srv/keys");
	ck_assert_int_eq(cfg.port, 8080);
	ck_assert_str_eq(cfg.l4t_tools_base, "/opt/with space");
	ck_assert_int_eq(cfg.response_timeout, 42);
	ck_assert_int_eq(cfg.log_level, 0);
	ck_assert_int_eq(conf_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_malformed)
{
	static const char *const bad[] = {
		"DIGSIGSERVER_PORT=0\n",
		"DIGSIGSERVER_PORT=65536\n",
		"DIGSIGSERVER_PORT=80x\n",
		"DIGSIGSERVER_RESPONSE_TIMEOUT=\n",
		"DIGSIGSERVER_LOG_LEVEL=loud\n",
		"DIGSIGSERVER_SYSLOG=maybe\n",
		"DIGSIGSERVER_NO_SUCH_THING=1\n",
		"just words\n",
		"DIGSIGSERVER_WORKERS=-1\n",
		/* mistakes that were passed over as foreign variables */
		"digsigserver_workers=3\n",
		"Digsigserver_TOKENS_FILE=/x\n",
		"\xc2\xa0" "DIGSIGSERVER_TOKENS_FILE=/x\n",
		"DIGSIGSERVER-TOKENS-FILE=/x\n",
		/* an empty boolean turns nothing off unseen */
		"DIGSIGSERVER_TOOL_SANDBOX=\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(conf_load_buffer(&cfg, bad[i], strlen(bad[i]), "t", err, sizeof(err)) ==
				      -1,
			      "accepted %s", bad[i]);
		ck_assert_msg(strstr(err, "t:1:") != NULL, "no line number in \"%s\"", err);
	}
}
END_TEST

/* What editors and shells write: a byte order mark, export and a tab. */
START_TEST(test_file_forms)
{
	const char text[] = "\xef\xbb\xbf" "DIGSIGSERVER_WORKERS=3\n"
			    "export\tDIGSIGSERVER_QUEUE_MAX=7\n";

	ck_assert_int_eq(conf_load_buffer(&cfg, text, sizeof(text) - 1, "t", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.workers, 3);
	ck_assert_int_eq(cfg.queue_max, 7);
}
END_TEST

/* Address lists and the subject header are checked with the rest. */
START_TEST(test_lists_checked)
{
	static const char *const bad[][2] = {
	    {"STATUS_ALLOW", "garbage"},	    {"STATUS_ALLOW", "10.0.0.0/33"},
	    {"TRUSTED_PROXIES", "bogus"},	    {"TRUSTED_PROXIES", "127.0.0.2/40"},
	    {"SUBJECT_HEADER", "X Bad:Header"}, {"SUBJECT_HEADER", "X-Subject\r"},
	};

	ck_assert_int_eq(conf_set(&cfg, "KEYFILE_URI", "file:///k", err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config c;

		conf_defaults(&c);
		ck_assert_int_eq(conf_set(&c, "KEYFILE_URI", "file:///k", err, sizeof(err)), 0);
		ck_assert_int_eq(conf_set(&c, bad[i][0], bad[i][1], err, sizeof(err)), 0);
		ck_assert_msg(conf_validate(&c, err, sizeof(err)) == -1, "accepted %s=%s", bad[i][0],
			      bad[i][1]);
		ck_assert_msg(strstr(err, bad[i][0]) != NULL, "\"%s\" does not name %s", err,
			      bad[i][0]);
		conf_free(&c);
	}
	ck_assert_int_eq(conf_set(&cfg, "TRUSTED_PROXIES", "10.0.0.0/8, ::1", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_nul_byte)
{
	const char text[] = "DIGSIGSERVER_PORT=1\0\n";

	ck_assert_int_eq(conf_load_buffer(&cfg, text, sizeof(text) - 1, "t", err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_env_precedence)
{
	char *env[] = {"DIGSIGSERVER_PORT=7000", "DIGSIGSERVER_KEYFILE_URI=s3://bucket/keys",
		       "HOME=/root", NULL};
	const char *file = "DIGSIGSERVER_PORT=6000\nDIGSIGSERVER_WORKERS=7\n";

	ck_assert_int_eq(conf_load_buffer(&cfg, file, strlen(file), "f", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_load_env(&cfg, env, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.port, 7000);
	ck_assert_int_eq(cfg.workers, 7);
	ck_assert_int_eq(conf_set(&cfg, "PORT", "7100", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.port, 7100);
	ck_assert_int_eq(conf_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

/* WORKER_UIDS: a range first-last, at least twice WORKERS ids, none 0
 * and none past 2^31 - 2. */
START_TEST(test_worker_uids)
{
	static const char *const good[] = {"60000-60007", "1-8", "100-4195",
					   "2147483000-2147483646"};
	static const char *const bad[] = {"60000-60006",
					  "0-7",
					  "60007-60000",
					  "60000",
					  "60000-",
					  "-60007",
					  "60000-60007x",
					  " 60000-60007",
					  "6e4-60007",
					  "100-4196",
					  "2147483000-2147483646x",
					  "2147483640-2147483647",
					  "1-99999999999999999999"};
	unsigned long first, count;

	ck_assert_int_eq(conf_set(&cfg, "KEYFILE_URI", "/k", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_worker_uids(&cfg, &first, &count, err, sizeof(err)), 0);
	ck_assert_uint_eq(count, 0); /* unset: the one user */
	ck_assert_int_eq(conf_set(&cfg, "WORKERS", "4", err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_int_eq(conf_set(&cfg, "WORKER_UIDS", good[i], err, sizeof(err)), 0);
		ck_assert_msg(conf_worker_uids(&cfg, &first, &count, err, sizeof(err)) == 0,
			      "%s refused: %s", good[i], err);
	}
	ck_assert_int_eq(conf_worker_uids(&cfg, &first, &count, err, sizeof(err)), 0);
	ck_assert_uint_eq(first, 2147483000UL);
	ck_assert_uint_eq(count, 647);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(conf_set(&cfg, "WORKER_UIDS", bad[i], err, sizeof(err)), 0);
		ck_assert_msg(conf_worker_uids(&cfg, &first, &count, err, sizeof(err)) == -1,
			      "%s accepted", bad[i]);
		/* the rest of the settings are fine: checked apart (start, reload) */
		ck_assert_int_eq(conf_validate(&cfg, err, sizeof(err)), 0);
		conf_worker_uids(&cfg, &first, &count, err, sizeof(err));
		ck_assert_msg(strstr(err, "DIGSIGSERVER_WORKER_UIDS") != NULL, "%s: %s", bad[i],
			      err);
	}
	/* enough for 4 workers, not for 5 */
	ck_assert_int_eq(conf_set(&cfg, "WORKER_UIDS", "60000-60007", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_set(&cfg, "WORKERS", "5", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_worker_uids(&cfg, &first, &count, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "twice WORKERS"));
}
END_TEST

START_TEST(test_keyfile_uri_forms)
{
	static const char *const good[] = {"file:///k", "/k", "s3://b", "s3://b/p/q"};
	static const char *const bad[] = {"http://x", "k", "s3://", "s3:///x"};

	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(conf_set(&cfg, "KEYFILE_URI", good[i], err, sizeof(err)), 0);
		ck_assert_msg(conf_validate(&cfg, err, sizeof(err)) == 0, "%s refused", good[i]);
	}
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(conf_set(&cfg, "KEYFILE_URI", bad[i], err, sizeof(err)), 0);
		ck_assert_msg(conf_validate(&cfg, err, sizeof(err)) == -1, "%s accepted", bad[i]);
	}
}
END_TEST

/* Without ARTIFACT_URI_PREFIXES any writable file may be named: warned. */
START_TEST(test_uri_prefix_warning)
{
	ck_assert_ptr_nonnull(conf_warning(&cfg));
	ck_assert_ptr_nonnull(strstr(conf_warning(&cfg), "ARTIFACT_URI_PREFIXES is not set"));
	ck_assert_int_eq(conf_set(&cfg, "ARTIFACT_URI_PREFIXES", " , ,", err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(conf_warning(&cfg));
	ck_assert_int_eq(
	    conf_set(&cfg, "ARTIFACT_URI_PREFIXES", "file:///srv/deploy/", err, sizeof(err)), 0);
	ck_assert_ptr_null(conf_warning(&cfg));
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_file_format);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_file_forms);
	tcase_add_test(tc, test_lists_checked);
	tcase_add_test(tc, test_env_precedence);
	tcase_add_test(tc, test_keyfile_uri_forms);
	tcase_add_test(tc, test_worker_uids);
	tcase_add_test(tc, test_uri_prefix_warning);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = config_suite);
