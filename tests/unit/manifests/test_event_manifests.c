/* Unit tests of the Event kind in the manifests module: its fields at the
 * top level as in Kubernetes' core/v1 Event, every rule of
 * docs/reference/event.md with file, line and field, the type names and
 * what makes a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "manifest-test.h"

#define HEAD                                                                                       \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: Event\n"                                                                            \
        "metadata:\n"                                                                              \
        "  name: hello-8fa0c5c0bdab7052\n"

#define INVOLVED "involvedObject: {kind: Task, namespace: default, name: hello, uid: u1}\n"

/* Everything after HEAD starts at line 5. */
static void assert_event_invalid(const char *tail, const char *expected)
{
        _cleanup_free_ char *yaml = str_printf(HEAD "%s", tail);

        assert_non_null(yaml);
        assert_invalid_as(yaml, "e.yaml", expected);
}

static void test_kind(void **state)
{
        (void)state;
        const struct kind_info *k = kind_by_name("Event");

        assert_non_null(k);
        assert_ptr_equal(kind_lookup("events"), k);
        assert_ptr_equal(kind_lookup("ev"), k);
        assert_true(k->namespaced);
        assert_true(k->name_wide);
        assert_null(k->check_spec);
        assert_null(k->finalizer);
        assert_string_equal(k->columns[0].title, "LAST SEEN");
        assert_string_equal(k->columns[3].title, "OBJECT");
        assert_int_equal(k->columns[3].format, COLUMN_OBJECT);
}

static void test_valid(void **state)
{
        (void)state;
        assert_valid_as(HEAD INVOLVED "type: Warning\n"
                                      "reason: BackOff\n"
                                      "message: an attempt failed\n"
                                      "count: 3\n"
                                      "firstTimestamp: \"2026-12-07T05:59:01.123Z\"\n"
                                      "lastTimestamp: \"2026-12-07T05:59:03Z\"\n"
                                      "source: {component: berthd, host: vm-1}\n",
                        "e.yaml");
        /* The least: what happened to what. */
        assert_valid_as(HEAD "involvedObject: {kind: Task, name: hello}\n"
                             "type: Normal\n"
                             "reason: Created\n",
                        "e.yaml");
}

static void test_invalid(void **state)
{
        (void)state;
        assert_event_invalid("type: Normal\n", "e.yaml:1:1: involvedObject: required\n"
                                               "e.yaml:1:1: reason: required");
        assert_event_invalid(INVOLVED "reason: Created\n",
                             "e.yaml:1:1: type: required: Normal or Warning");
        assert_event_invalid(INVOLVED "type: Fatal\nreason: Created\n",
                             "e.yaml:6:1: type: unsupported value \"Fatal\", must be one of: "
                             "Normal, Warning");
        assert_event_invalid(INVOLVED "type: Normal\nreason: not camel\n",
                             "e.yaml:7:1: reason: must be one CamelCase word of at most 128 "
                             "letters and digits, such as \"BackOff\"");
        assert_event_invalid("involvedObject: {kind: Task, name: Not_A_Name, color: red}\n"
                             "type: Normal\nreason: Created\n",
                             "e.yaml:5:30: involvedObject.name: invalid name \"Not_A_Name\": must "
                             "be a DNS-1123 label: at most 63 lowercase letters, digits or '-', "
                             "starting and ending with a letter or digit\n"
                             "e.yaml:5:48: involvedObject.color: unknown field");
        assert_event_invalid(
            INVOLVED "type: Normal\nreason: Created\ncount: 0\n"
                     "lastTimestamp: yesterday\n",
            "e.yaml:8:1: count: must be at least 1\n"
            "e.yaml:9:1: lastTimestamp: must be an RFC 3339 time such as \"2026-01-01T00:00:00Z\"");
        assert_event_invalid(INVOLVED "type: Normal\nreason: Created\nspec: {}\n",
                             "e.yaml:8:1: spec: not allowed: an Event has no spec, its fields "
                             "(involvedObject, type, reason, message, count, firstTimestamp, "
                             "lastTimestamp, source) sit at the top level beside metadata");
        assert_event_invalid(INVOLVED "type: Normal\nreason: Created\nsource: {who: me}\n",
                             "e.yaml:8:10: source.who: unknown field");
}

static void test_message_cap(void **state)
{
        (void)state;
        char *message = malloc(EVENT_MESSAGE_MAX + 2);

        assert_non_null(message);
        memset(message, 'a', EVENT_MESSAGE_MAX + 1);
        message[EVENT_MESSAGE_MAX + 1] = '\0';
        _cleanup_free_ char *tail =
            str_printf(INVOLVED "type: Normal\nreason: Created\nmessage: %s\n", message);
        assert_event_invalid(tail, "e.yaml:8:1: message: at most 1024 bytes, found 1025");
        message[EVENT_MESSAGE_MAX] = '\0';
        _cleanup_free_ char *ok = str_printf(HEAD INVOLVED "type: Normal\nreason: Created\n"
                                                           "message: %s\n",
                                             message);
        assert_valid_as(ok, "e.yaml");
        free(message);
}

static void test_names(void **state)
{
        (void)state;
        enum event_type t = EVENT_NORMAL;

        assert_string_equal(event_type_to_string(EVENT_NORMAL), "Normal");
        assert_string_equal(event_type_to_string(EVENT_WARNING), "Warning");
        assert_string_equal(event_type_to_string((enum event_type)9), "Unknown");
        assert_int_equal(event_type_from_string("Warning", &t), 0);
        assert_int_equal(t, EVENT_WARNING);
        assert_int_equal(event_type_from_string("warning", &t), -EINVAL);
        assert_int_equal(event_type_from_string(NULL, &t), -EINVAL);

        assert_true(event_reason_is_valid("BackOff"));
        assert_true(event_reason_is_valid("OOMKilled"));
        assert_true(event_reason_is_valid("X1"));
        assert_false(event_reason_is_valid("backOff"));
        assert_false(event_reason_is_valid("Back-Off"));
        assert_false(event_reason_is_valid("Back Off"));
        assert_false(event_reason_is_valid(""));
        assert_false(event_reason_is_valid(NULL));
        char longest[EVENT_REASON_MAX + 2];
        memset(longest, 'A', sizeof(longest));
        longest[EVENT_REASON_MAX] = '\0';
        assert_true(event_reason_is_valid(longest));
        longest[EVENT_REASON_MAX] = 'A';
        longest[EVENT_REASON_MAX + 1] = '\0';
        assert_false(event_reason_is_valid(longest));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_kind),    cmocka_unit_test(test_valid),
            cmocka_unit_test(test_invalid), cmocka_unit_test(test_message_cap),
            cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
