/* Helpers shared by the manifests tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "manifest-test.h"

void parse_ok_as(const char *yaml, const char *source, struct manifest_list *list)
{
        struct berth_error err = {};
        int r = manifest_parse_buffer(yaml, strlen(yaml), source, list, &err);

        if (r < 0)
                fail_msg("parse failed: %s", err.message);
}

char *validate_text_as(const char *yaml, const char *source)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_(field_errors_release) struct field_errors errs = {};
        char *text;
        int r;

        parse_ok_as(yaml, source, &list);
        assert_int_equal(list.n, 1);
        r = manifest_validate(list.docs[0].object, list.docs[0].positions, &errs);
        if (r == 0) {
                assert_int_equal(errs.n, 0);
                return NULL;
        }
        assert_int_equal(r, -EINVAL);
        assert_true(errs.n > 0);
        text = field_errors_format(&errs, list.docs[0].source);
        assert_non_null(text);
        return text;
}

void assert_valid_as(const char *yaml, const char *source)
{
        _cleanup_free_ char *text = validate_text_as(yaml, source);

        if (text) {
                fprintf(stderr, "for:\n%s\nunexpected: %s\n", yaml, text);
                fail();
        }
}

void assert_invalid_as(const char *yaml, const char *source, const char *expected)
{
        _cleanup_free_ char *text = validate_text_as(yaml, source);

        if (!text)
                fail_msg("expected errors for:\n%s", yaml);
        if (!streq(text, expected)) {
                /* cmocka truncates long messages */
                fprintf(stderr, "for:\n%s\nexpected: %s\n     got: %s\n", yaml, expected, text);
                fail();
        }
}
