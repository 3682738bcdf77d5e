/* Unit tests of the Notifier kind in the manifests module: every rule of
 * docs/reference/notifier.md with file, line and field, the defaults, and
 * what the decode gives the notify module. Which plugin types exist and
 * where exec programs may live are berthd's flags (the admission module's
 * tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "manifest-test.h"

#define HEAD                                                                                       \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: Notifier\n"                                                                         \
        "metadata:\n"                                                                              \
        "  name: data-team\n"                                                                      \
        "spec:\n"

/* Everything after HEAD starts at line 6. */
static void assert_notifier_invalid(const char *tail, const char *expected)
{
        _cleanup_free_ char *yaml = str_printf(HEAD "%s", tail);

        assert_non_null(yaml);
        assert_invalid_as(yaml, "n.yaml", expected);
}

static json_t *decoded(const char *tail, struct notifier_spec *ret)
{
        _cleanup_free_ char *yaml = str_printf(HEAD "%s", tail);
        struct manifest_list list = {0};
        struct berth_error err = {0};

        assert_non_null(yaml);
        parse_ok_as(yaml, "n.yaml", &list);
        json_t *obj = json_incref(list.docs[0].object);
        manifest_list_release(&list);
        manifest_apply_defaults(obj);
        assert_int_equal(notifier_spec_decode(obj, ret, &err), 0);
        return obj;
}

static void test_kind(void **state)
{
        (void)state;
        const struct kind_info *k = kind_by_name("Notifier");

        assert_non_null(k);
        assert_ptr_equal(kind_lookup("notifiers"), k);
        assert_ptr_equal(kind_lookup("notifier"), k);
        assert_true(k->namespaced);
        assert_false(k->access_control);
        assert_null(k->finalizer);
        assert_string_equal(k->columns[0].title, "TYPE");
        assert_true(kind_source_may_apply(k));
}

static void test_webhook(void **state)
{
        (void)state;
        struct notifier_spec s;
        _cleanup_json_ json_t *obj =
            decoded("  selector: {matchLabels: {team: data}}\n"
                    "  on: [Failed, Recovered, ScheduleMissed]\n"
                    "  type: webhook\n"
                    "  webhook: {url: \"https://hooks.example.com/x?y=1\", "
                    "secretRef: {name: hook, key: hmac}}\n",
                    &s);

        assert_string_equal(s.type, "webhook");
        assert_int_equal(s.builtin, NOTIFIER_WEBHOOK);
        assert_string_equal(json_string_value(json_object_get(s.match_labels, "team")), "data");
        assert_int_equal(s.n_on, 3);
        assert_string_equal(s.on[2], "ScheduleMissed");
        assert_string_equal(s.url, "https://hooks.example.com/x?y=1");
        assert_string_equal(s.secret.name, "hook");
        assert_string_equal(s.secret.key, "hmac");
        /* The defaults are filled in the object, and decoded. */
        assert_int_equal(s.timeout_ms, NOTIFIER_DEFAULT_TIMEOUT_SEC * 1000);
        assert_int_equal(s.max_attempts, NOTIFIER_DEFAULT_ATTEMPTS);
        assert_int_equal(json_integer_value(json_path(obj, "spec.webhook.maxAttempts")), 5);
        assert_int_equal(json_integer_value(json_path(obj, "spec.webhook.timeoutSeconds")), 5);
}

static void test_other_types(void **state)
{
        (void)state;
        struct notifier_spec s;
        _cleanup_json_ json_t *slack = decoded("  on: [Failed]\n"
                                               "  type: slack\n"
                                               "  slack: {secretRef: {name: slack, key: url}}\n",
                                               &s);

        assert_int_equal(s.builtin, NOTIFIER_SLACK);
        assert_null(s.url);
        assert_null(s.match_labels);
        assert_string_equal(s.secret.name, "slack");

        _cleanup_json_ json_t *smtp = decoded("  on: [Failed]\n"
                                              "  type: smtp\n"
                                              "  smtp:\n"
                                              "    url: smtp://mail.example.com:587\n"
                                              "    from: berth@example.com\n"
                                              "    to: [ops@example.com, data@example.com]\n"
                                              "    username: berth\n"
                                              "    secretRef: {name: mail, key: password}\n"
                                              "    timeoutSeconds: 20\n",
                                              &s);
        assert_int_equal(s.builtin, NOTIFIER_SMTP);
        assert_int_equal(s.n_to, 2);
        assert_string_equal(s.to[1], "data@example.com");
        assert_string_equal(s.from, "berth@example.com");
        assert_string_equal(s.username, "berth");
        assert_true(s.start_tls);
        assert_int_equal(s.timeout_ms, 20000);
        assert_true(json_is_true(json_path(smtp, "spec.smtp.startTLS")));

        _cleanup_json_ json_t *exec = decoded("  on: [Failed]\n"
                                              "  type: exec\n"
                                              "  exec: {command: /etc/berth/notify/page, args: "
                                              "[--team, data]}\n",
                                              &s);
        assert_int_equal(s.builtin, NOTIFIER_EXEC);
        assert_string_equal(s.command, "/etc/berth/notify/page");
        assert_int_equal(s.n_args, 2);
        assert_string_equal(s.args[1], "data");
        assert_int_equal(s.timeout_ms, NOTIFIER_DEFAULT_EXEC_TIMEOUT_SEC * 1000);
        assert_int_equal(s.max_attempts, 1);

        /* A plugin's type: its section is its own business. */
        _cleanup_json_ json_t *plugin = decoded("  on: [Failed]\n"
                                                "  type: pagerduty\n"
                                                "  pagerduty: {routingKey: abc, anything: [1]}\n",
                                                &s);
        assert_int_equal(s.builtin, NOTIFIER_PLUGIN);
        assert_string_equal(s.type, "pagerduty");
        assert_string_equal(json_string_value(json_object_get(s.config, "routingKey")), "abc");
        assert_null(json_path(plugin, "spec.pagerduty.maxAttempts"));
}

static void test_invalid(void **state)
{
        (void)state;
        assert_notifier_invalid("  type: webhook\n", "n.yaml:5:1: spec.on: required\n"
                                                     "n.yaml:5:1: spec.webhook: required");
        assert_notifier_invalid("  on: [Failed]\n"
                                "  type: webhook\n"
                                "  webhook: {url: \"ftp://x/y\"}\n",
                                "n.yaml:8:13: spec.webhook.url: must be an http:// or https:// "
                                "URL with a host, at most 2048 characters, without spaces");
        assert_notifier_invalid("  on: [Failed]\n"
                                "  type: webhook\n"
                                "  webhook: {url: \"http:///nohost\"}\n",
                                "n.yaml:8:13: spec.webhook.url: must be an http:// or https:// "
                                "URL with a host, at most 2048 characters, without spaces");
        assert_notifier_invalid("  on: [Failed, failed, Failed]\n"
                                "  type: webhook\n"
                                "  webhook: {url: \"http://x\", timeoutSeconds: 0, maxAttempts: "
                                "11, color: red}\n",
                                "n.yaml:6:16: spec.on[1]: must be an outcome (Failed, Succeeded, "
                                "Recovered, DeadlineExceeded, BackoffLimitExceeded) or an Event "
                                "reason (a CamelCase word such as ScheduleMissed)\n"
                                "n.yaml:6:24: spec.on[2]: duplicate entry Failed (first at "
                                "spec.on[0])\n"
                                "n.yaml:8:30: spec.webhook.timeoutSeconds: must be between 1 and "
                                "60\n"
                                "n.yaml:8:49: spec.webhook.maxAttempts: must be between 1 and 10\n"
                                "n.yaml:8:66: spec.webhook.color: unknown field");
        /* Only the chosen type's section. */
        assert_notifier_invalid("  on: [Failed]\n"
                                "  type: webhook\n"
                                "  webhook: {url: \"http://x\"}\n"
                                "  slack: {url: \"http://x\"}\n",
                                "n.yaml:9:3: spec.slack: not allowed with type webhook");
        assert_notifier_invalid("  on: [Failed]\n"
                                "  type: Web_Hook\n",
                                "n.yaml:7:3: spec.type: invalid type \"Web_Hook\": webhook, "
                                "slack, smtp, exec, or the name of a notifier plugin berthd was "
                                "started with (a DNS-1123 label)");
        assert_notifier_invalid("  on: [Failed]\n"
                                "  type: selector\n",
                                "n.yaml:7:3: spec.type: invalid type \"selector\": webhook, "
                                "slack, smtp, exec, or the name of a notifier plugin berthd was "
                                "started with (a DNS-1123 label)");
        assert_notifier_invalid("  on: []\n"
                                "  selector: {matchLabels: {team: 5}, matchExpressions: []}\n"
                                "  type: slack\n"
                                "  slack: {url: \"http://x\", secretRef: {name: s, key: u}}\n",
                                "n.yaml:6:3: spec.on: needs 1 to 32 entries, found 0\n"
                                "n.yaml:7:28: spec.selector.matchLabels.team: must be a string\n"
                                "n.yaml:7:38: spec.selector.matchExpressions: unknown field\n"
                                "n.yaml:9:3: spec.slack: needs exactly one of url and secretRef "
                                "(a Secret key holding the URL)");
        assert_notifier_invalid("  on: [Failed]\n"
                                "  type: smtp\n"
                                "  smtp: {url: \"http://mail\", from: \"a b@c\", to: [x, "
                                "\"y@z\", \"y@z\"], username: \"\"}\n",
                                "n.yaml:8:10: spec.smtp.url: must be smtp://HOST[:PORT] or "
                                "smtps://HOST[:PORT] (implicit TLS)\n"
                                "n.yaml:8:30: spec.smtp.from: invalid address \"a b@c\": "
                                "user@domain, without spaces, quotes, commas or angle brackets\n"
                                "n.yaml:8:50: spec.smtp.to[0]: must be an address: user@domain, "
                                "without spaces, quotes, commas or angle brackets\n"
                                "n.yaml:8:60: spec.smtp.to[2]: duplicate address y@z (first at "
                                "spec.smtp.to[1])\n"
                                "n.yaml:8:68: spec.smtp.username: must not be empty");
        assert_notifier_invalid("  on: [Failed]\n"
                                "  type: exec\n"
                                "  exec: {command: notify.sh, args: [1]}\n",
                                "n.yaml:8:10: spec.exec.command: must be an absolute path of at "
                                "most 4095 characters (a program inside a berthd "
                                "--notifier-exec-dir)\n"
                                "n.yaml:8:37: spec.exec.args[0]: must be a string");
        assert_notifier_invalid("  on: [Failed]\n"
                                "  type: webhook\n"
                                "  webhook: {url: \"http://x\", secretRef: {name: Hook, key: "
                                "\"a/b\"}}\n",
                                "n.yaml:8:42: spec.webhook.secretRef.name: invalid name \"Hook\": "
                                "must be a DNS-1123 label: at most 63 lowercase letters, digits "
                                "or '-', starting and ending with a letter or digit\n"
                                "n.yaml:8:54: spec.webhook.secretRef.key: invalid key \"a/b\": a "
                                "Secret's keys are letters, digits, '-', '_' and '.'");
}

static void test_limits(void **state)
{
        (void)state;
        _cleanup_buf_ struct buf b;

        buf_init(&b, 64 * 1024);
        assert_int_equal(buf_append_str(&b, "  on: ["), 0);
        for (int i = 0; i <= NOTIFIER_ON_MAX; i++)
                assert_int_equal(buf_printf(&b, "%sR%d", i ? ", " : "", i), 0);
        assert_int_equal(buf_append_str(&b, "]\n  type: exec\n  exec: {command: /x}\n"), 0);
        assert_notifier_invalid(b.data, "n.yaml:6:3: spec.on: needs 1 to 32 entries, found 33");

        buf_reset(&b);
        assert_int_equal(buf_append_str(&b, "  on: [Failed]\n  type: webhook\n  webhook: {url: "
                                            "\"http://x/"),
                         0);
        for (int i = 0; i < NOTIFIER_URL_MAX; i++)
                assert_int_equal(buf_append_str(&b, "a"), 0);
        assert_int_equal(buf_append_str(&b, "\"}\n"), 0);
        assert_notifier_invalid(b.data,
                                "n.yaml:8:13: spec.webhook.url: must be an http:// or https:// "
                                "URL with a host, at most 2048 characters, without spaces");
}

static void test_helpers(void **state)
{
        (void)state;
        assert_true(notifier_url_is_http("http://127.0.0.1:8080/hook"));
        assert_true(notifier_url_is_http("https://h"));
        assert_false(notifier_url_is_http("https://"));
        assert_false(notifier_url_is_http("https://:80/x"));
        assert_false(notifier_url_is_http("http://a b"));
        assert_false(notifier_url_is_http("file:///etc/passwd"));
        assert_false(notifier_url_is_http(NULL));
        assert_true(notifier_address_is_valid("a@b"));
        assert_false(notifier_address_is_valid("a@b@c"));
        assert_false(notifier_address_is_valid("@b"));
        assert_false(notifier_address_is_valid("a@"));
        assert_false(notifier_address_is_valid("a@b\r\nBcc: x@y"));
        assert_false(notifier_address_is_valid("<a@b>"));
        assert_string_equal(notifier_type_to_string(NOTIFIER_SMTP), "smtp");
        assert_string_equal(notifier_type_to_string(NOTIFIER_PLUGIN), "plugin");
        assert_int_equal(notifier_type_from_string("exec"), NOTIFIER_EXEC);
        assert_int_equal(notifier_type_from_string("Exec"), NOTIFIER_PLUGIN);
        assert_int_equal(notifier_type_from_string(NULL), NOTIFIER_PLUGIN);
        assert_int_equal(strv_length((char *const *)notifier_builtin_types()), 4);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_kind),        cmocka_unit_test(test_webhook),
            cmocka_unit_test(test_other_types), cmocka_unit_test(test_invalid),
            cmocka_unit_test(test_limits),      cmocka_unit_test(test_helpers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
