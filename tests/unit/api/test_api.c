/* Unit tests for the pure pieces of api/: router, selectors, Status bodies,
 * which container a Service's log request is served from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "api-internal.h"

/* ---- router ------------------------------------------------------------- */

static int route(enum api_method m, const char *target, struct api_route *r, struct api_error *e)
{
        api_error_release(e);
        *e = (struct api_error){0};
        *r = (struct api_route){0};
        return api_route_parse(m, target, r, e);
}

static void test_router_paths(void **state)
{
        (void)state;
        struct api_route r;
        struct api_error e = {0};

        assert_int_equal(route(API_METHOD_GET, "/healthz", &r, &e), 0);
        assert_int_equal(r.endpoint, API_EP_HEALTHZ);
        api_route_release(&r);
        assert_int_equal(route(API_METHOD_HEAD, "/readyz?verbose", &r, &e), 0);
        assert_int_equal(r.endpoint, API_EP_READYZ);
        assert_non_null(api_route_param(&r, "verbose"));
        api_route_release(&r);
        assert_int_equal(route(API_METHOD_GET, "/version", &r, &e), 0);
        assert_int_equal(r.endpoint, API_EP_VERSION);
        api_route_release(&r);
        assert_int_equal(route(API_METHOD_GET, "/metrics", &r, &e), 0);
        assert_int_equal(r.endpoint, API_EP_METRICS);
        api_route_release(&r);

        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/namespaces/default/tasks", &r, &e),
                         0);
        assert_int_equal(r.endpoint, API_EP_LIST);
        assert_string_equal(r.kind->kind, "Task");
        assert_string_equal(r.ns, "default");
        assert_string_equal(r.name, "");
        assert_false(r.watch);
        api_route_release(&r);

        /* Across namespaces, with a tolerated trailing slash. */
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/tasks/", &r, &e), 0);
        assert_int_equal(r.endpoint, API_EP_LIST);
        assert_string_equal(r.ns, "");
        api_route_release(&r);

        assert_int_equal(route(API_METHOD_POST, "/apis/berth/v1/namespaces/team-a/tasks", &r, &e),
                         0);
        assert_int_equal(r.endpoint, API_EP_LIST);
        assert_string_equal(r.ns, "team-a");
        api_route_release(&r);

        assert_int_equal(
            route(API_METHOD_GET, "/apis/berth/v1/namespaces/default/tasks/hello", &r, &e), 0);
        assert_int_equal(r.endpoint, API_EP_OBJECT);
        assert_string_equal(r.name, "hello");
        api_route_release(&r);
        assert_int_equal(
            route(API_METHOD_PUT, "/apis/berth/v1/namespaces/default/tasks/hello", &r, &e), 0);
        api_route_release(&r);
        assert_int_equal(route(API_METHOD_DELETE,
                               "/apis/berth/v1/namespaces/default/tasks/hello?"
                               "propagationPolicy=Foreground",
                               &r, &e),
                         0);
        assert_string_equal(api_route_param(&r, "propagationPolicy"), "Foreground");
        api_route_release(&r);

        assert_int_equal(route(API_METHOD_GET,
                               "/apis/berth/v1/namespaces/default/tasks/hello/log?follow=true&"
                               "tailLines=10&attempt=2",
                               &r, &e),
                         0);
        assert_int_equal(r.endpoint, API_EP_LOG);
        assert_string_equal(r.subresource, "log");
        assert_string_equal(api_route_param(&r, "tailLines"), "10");
        assert_string_equal(api_route_param(&r, "attempt"), "2");
        bool b = false;
        assert_int_equal(api_route_param_bool(&r, "follow", false, &b), 0);
        assert_true(b);
        assert_int_equal(api_route_param_bool(&r, "timestamps", false, &b), 0);
        assert_false(b);
        api_route_release(&r);

        assert_int_equal(route(API_METHOD_POST, "/apis/berth/v1/apply?dryRun=true", &r, &e), 0);
        assert_int_equal(r.endpoint, API_EP_APPLY);
        assert_string_equal(api_route_param(&r, "dryRun"), "true");
        api_route_release(&r);

        assert_int_equal(route(API_METHOD_GET,
                               "/apis/berth/v1/namespaces/default/tasks?watch=1&"
                               "resourceVersion=42",
                               &r, &e),
                         0);
        assert_true(r.watch);
        assert_string_equal(api_route_param(&r, "resourceVersion"), "42");
        api_route_release(&r);
        api_error_release(&e);
}

static void test_router_errors(void **state)
{
        (void)state;
        struct api_route r;
        struct api_error e = {0};

        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/foos", &r, &e), -ENOENT);
        assert_int_equal(e.code, 404);
        assert_string_equal(e.message, "the server could not find the requested resource \"foos\"");
        /* Singular and short names do not address collections. */
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/namespaces/default/task", &r, &e),
                         -ENOENT);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v2/tasks", &r, &e), -ENOENT);
        assert_int_equal(route(API_METHOD_GET, "/", &r, &e), -ENOENT);
        assert_int_equal(route(API_METHOD_GET, "/nothing", &r, &e), -ENOENT);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1", &r, &e), -ENOENT);
        assert_int_equal(route(API_METHOD_GET, "/apis//berth/v1/tasks", &r, &e), -ENOENT);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/namespaces/default", &r, &e),
                         -ENOENT);
        assert_int_equal(
            route(API_METHOD_GET, "/apis/berth/v1/namespaces/default/tasks/a/b/c", &r, &e),
            -ENOENT);
        assert_int_equal(route(API_METHOD_GET, "/a/b/c/d/e/f/g/h/i/j/k/l", &r, &e), -ENOENT);
        assert_int_equal(
            route(API_METHOD_GET, "/apis/berth/v1/namespaces/default/tasks/x/status", &r, &e),
            -ENOENT);
        /* Names must be DNS labels. */
        assert_int_equal(
            route(API_METHOD_GET, "/apis/berth/v1/namespaces/default/tasks/Hello", &r, &e),
            -ENOENT);
        assert_string_equal(e.message, "tasks \"Hello\" not found");
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/namespaces/Bad_ns/tasks", &r, &e),
                         -ENOENT);

        /* Methods. */
        assert_int_equal(
            route(API_METHOD_PATCH, "/apis/berth/v1/namespaces/default/tasks/x", &r, &e),
            -EOPNOTSUPP);
        assert_int_equal(e.code, 405);
        assert_int_equal(
            route(API_METHOD_POST, "/apis/berth/v1/namespaces/default/tasks/x", &r, &e),
            -EOPNOTSUPP);
        assert_int_equal(
            route(API_METHOD_DELETE, "/apis/berth/v1/namespaces/default/tasks", &r, &e),
            -EOPNOTSUPP);
        assert_int_equal(route(API_METHOD_POST, "/apis/berth/v1/tasks", &r, &e), -EOPNOTSUPP);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/apply", &r, &e), -EOPNOTSUPP);
        assert_int_equal(route(API_METHOD_POST, "/healthz", &r, &e), -EOPNOTSUPP);
        assert_int_equal(
            route(API_METHOD_DELETE, "/apis/berth/v1/namespaces/default/tasks/x/log", &r, &e),
            -EOPNOTSUPP);
        assert_int_equal(route(API_METHOD_OTHER, "/apis/berth/v1/tasks", &r, &e), -EOPNOTSUPP);

        /* Malformed targets. */
        assert_int_equal(route(API_METHOD_GET, "healthz", &r, &e), -EINVAL);
        assert_int_equal(e.code, 400);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/tasks?watch=maybe", &r, &e),
                         -EINVAL);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/ta%zzsks", &r, &e), -EINVAL);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/tasks%", &r, &e), -EINVAL);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/tasks%0", &r, &e), -EINVAL);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/tasks%00", &r, &e), -EINVAL);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/tasks?a=%", &r, &e), -EINVAL);

        _cleanup_buf_ struct buf many;
        buf_init(&many, 4096);
        assert_int_equal(buf_append_str(&many, "/healthz?"), 0);
        for (int i = 0; i <= API_QUERY_PARAMS_MAX; i++)
                assert_int_equal(buf_printf(&many, "p%d=1&", i), 0);
        assert_int_equal(route(API_METHOD_GET, many.data, &r, &e), -EINVAL);
        assert_int_equal(e.code, 400);

        char *lng = malloc(API_URI_MAX + 64);
        assert_non_null(lng);
        memcpy(lng, "/healthz?x=", 11);
        memset(lng + 11, 'a', API_URI_MAX);
        lng[API_URI_MAX + 20] = '\0';
        assert_int_equal(route(API_METHOD_GET, lng, &r, &e), -ENAMETOOLONG);
        assert_int_equal(e.code, 414);
        free(lng);
        api_error_release(&e);
}

/* ?step=&file= on results: both or neither, names that fit a store key. */
static void test_router_results_query(void **state)
{
        (void)state;
        struct api_route r;
        struct api_error e = {0};
        const char *base = "/apis/berth/v1/namespaces/default/workflows/etl/results";
        char target[512];

        assert_int_equal(route(API_METHOD_GET, base, &r, &e), 0);
        assert_int_equal(r.endpoint, API_EP_RESULTS);
        assert_null(api_route_param(&r, "step"));
        api_route_release(&r);

        snprintf(target, sizeof(target), "%s?step=test&file=report_1", base);
        assert_int_equal(route(API_METHOD_GET, target, &r, &e), 0);
        assert_string_equal(api_route_param(&r, "step"), "test");
        assert_string_equal(api_route_param(&r, "file"), "report_1");
        api_route_release(&r);
        snprintf(target, sizeof(target), "%s?step=onExit&file=out", base);
        assert_int_equal(route(API_METHOD_GET, target, &r, &e), 0);
        api_route_release(&r);

        static const struct {
                const char *query;
                const char *message;
        } bad[] = {
            {"?step=test", "step and file go together: ?step=STEP&file=FILE reads one file output"},
            {"?file=report", "step and file go together: ?step=STEP&file=FILE reads one file "
                             "output"},
            {"?step=test&file=", "invalid file \"\""},
            {"?step=a.b&file=c", "invalid step \"a.b\""},
            {"?step=test&file=..%2Fx", "invalid file \"../x\""},
            {"?step=test&file=x%00y", NULL}, /* percent_decode refuses NUL */
            {"?step=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&file=x",
             "invalid step \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                snprintf(target, sizeof(target), "%s%s", base, bad[i].query);
                assert_int_equal(route(API_METHOD_GET, target, &r, &e), -EINVAL);
                assert_int_equal(e.code, 400);
                if (bad[i].message)
                        assert_string_equal(e.message, bad[i].message);
        }
        /* Other subresources leave the parameters alone. */
        assert_int_equal(
            route(API_METHOD_GET, "/apis/berth/v1/namespaces/default/tasks/t/log?step=x", &r, &e),
            0);
        api_route_release(&r);
        api_error_release(&e);
}

static void test_router_decoding(void **state)
{
        (void)state;
        struct api_route r;
        struct api_error e = {0};

        assert_int_equal(
            route(API_METHOD_GET, "/apis/berth/v1/namespaces/de%66ault/tasks/hel%6Co", &r, &e), 0);
        assert_string_equal(r.ns, "default");
        assert_string_equal(r.name, "hello");
        api_route_release(&r);

        /* An encoded slash stays inside its segment (and is then not a valid name). */
        assert_int_equal(
            route(API_METHOD_GET, "/apis/berth/v1/namespaces/default/tasks/a%2Fb", &r, &e),
            -ENOENT);

        assert_int_equal(route(API_METHOD_GET,
                               "/apis/berth/v1/tasks?labelSelector=app%3Dweb%2Cenv+in+%28a%2Cb%29"
                               "&flag&&empty=&x=1&x=2#frag",
                               &r, &e),
                         0);
        assert_string_equal(api_route_param(&r, "labelSelector"), "app=web,env in (a,b)");
        assert_string_equal(api_route_param(&r, "flag"), "");
        assert_string_equal(api_route_param(&r, "empty"), "");
        assert_string_equal(api_route_param(&r, "x"), "1"); /* first wins */
        assert_null(api_route_param(&r, "missing"));
        assert_int_equal(r.n_params, 5);
        bool b;
        assert_int_equal(api_route_param_bool(&r, "flag", false, &b), 0);
        assert_true(b);
        assert_int_equal(api_route_param_bool(&r, "labelSelector", false, &b), -EINVAL);
        api_route_release(&r);

        char *out = NULL;
        assert_int_equal(percent_decode("a+b%20c", 7, false, &out), 0);
        assert_string_equal(out, "a+b c");
        free(out);
        assert_int_equal(percent_decode("a+b", 3, true, &out), 0);
        assert_string_equal(out, "a b");
        free(out);
        assert_int_equal(percent_decode("%4", 2, true, &out), -EINVAL);
        assert_int_equal(api_method_from_string("GET"), API_METHOD_GET);
        assert_int_equal(api_method_from_string("BREW"), API_METHOD_OTHER);
        assert_int_equal(api_method_from_string(NULL), API_METHOD_OTHER);

        api_route_release(NULL);
        api_error_release(&e);
}

/* ---- selectors ---------------------------------------------------------- */

static json_t *labels(const char *text)
{
        json_t *j = json_loads(text, 0, NULL);
        assert_non_null(j);
        return j;
}

static bool label_match(const char *sel, const char *lbl)
{
        struct api_selector s = {0};
        struct api_error e = {0};
        assert_int_equal(api_label_selector_parse(sel, &s, &e), 0);
        json_t *l = labels(lbl);
        bool m = api_label_selector_matches(&s, l);
        json_decref(l);
        api_selector_release(&s);
        return m;
}

static void test_label_selectors(void **state)
{
        (void)state;
        struct api_selector s = {0};
        struct api_error e = {0};

        assert_int_equal(
            api_label_selector_parse(" app = web, tier!=db ,env in (prod, staging),"
                                     "!canary,team,zone notin (a),x==y,example.com/k=v",
                                     &s, &e),
            0);
        assert_int_equal(s.n, 8);
        assert_string_equal(s.reqs[0].key, "app");
        assert_int_equal(s.reqs[0].op, API_SEL_EQ);
        assert_string_equal(s.reqs[0].values[0], "web");
        assert_int_equal(s.reqs[1].op, API_SEL_NEQ);
        assert_int_equal(s.reqs[2].op, API_SEL_IN);
        assert_string_equal(s.reqs[2].values[1], "staging");
        assert_null(s.reqs[2].values[2]);
        assert_int_equal(s.reqs[3].op, API_SEL_NOT_EXISTS);
        assert_string_equal(s.reqs[3].key, "canary");
        assert_int_equal(s.reqs[4].op, API_SEL_EXISTS);
        assert_int_equal(s.reqs[5].op, API_SEL_NOTIN);
        assert_int_equal(s.reqs[6].op, API_SEL_EQ);
        assert_string_equal(s.reqs[7].key, "example.com/k");
        api_selector_release(&s);

        /* Empty selects everything. */
        assert_int_equal(api_label_selector_parse(NULL, &s, &e), 0);
        assert_int_equal(s.n, 0);
        assert_int_equal(api_label_selector_parse("  ", &s, &e), 0);
        assert_int_equal(s.n, 0);
        assert_true(api_label_selector_matches(&s, NULL));
        /* A key literally called "in" or "inx" is still a key. */
        assert_int_equal(api_label_selector_parse("inx=1,in", &s, &e), 0);
        assert_int_equal(s.n, 2);
        api_selector_release(&s);
        /* Empty values are legal. */
        assert_int_equal(api_label_selector_parse("a=", &s, &e), 0);
        assert_string_equal(s.reqs[0].values[0], "");
        api_selector_release(&s);

        static const char *const bad[] = {
            "=x", "a=b,",  "a=b c", "!",    "a in b",  "a in (b", "a in (b c)", "a > 1",
            ",a", "a=b=c", "/a=b",  "a/=b", "a/b/c=d", "a=b/c",   "a notin",    "a=(b)",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                int rc = api_label_selector_parse(bad[i], &s, &e);
                if (rc != -EINVAL)
                        fail_msg("selector \"%s\" parsed (rc %d)", bad[i], rc);
                assert_int_equal(e.code, 400);
                assert_non_null(strstr(e.message, "selector"));
        }
        char *huge = malloc(API_SELECTOR_MAX + 2);
        memset(huge, 'a', API_SELECTOR_MAX + 1);
        huge[API_SELECTOR_MAX + 1] = '\0';
        assert_int_equal(api_label_selector_parse(huge, &s, &e), -EINVAL);
        free(huge);

        assert_true(label_match("app=web", "{\"app\":\"web\"}"));
        assert_false(label_match("app=web", "{\"app\":\"db\"}"));
        assert_false(label_match("app=web", "{}"));
        assert_true(label_match("app!=web", "{}"));
        assert_true(label_match("app!=web", "{\"app\":\"db\"}"));
        assert_false(label_match("app!=web", "{\"app\":\"web\"}"));
        assert_true(label_match("env in (a,b)", "{\"env\":\"b\"}"));
        assert_false(label_match("env in (a,b)", "{\"env\":\"c\"}"));
        assert_false(label_match("env in (a,b)", "{}"));
        assert_true(label_match("env notin (a,b)", "{}"));
        assert_false(label_match("env notin (a,b)", "{\"env\":\"a\"}"));
        assert_true(label_match("team", "{\"team\":\"\"}"));
        assert_false(label_match("team", "{}"));
        assert_true(label_match("!team", "{}"));
        assert_false(label_match("!team", "{\"team\":\"x\"}"));
        assert_true(label_match("a=1,b=2", "{\"a\":\"1\",\"b\":\"2\"}"));
        assert_false(label_match("a=1,b=2", "{\"a\":\"1\",\"b\":\"3\"}"));
        api_selector_release(NULL);
}

static bool field_match(const char *sel, const char *obj)
{
        struct api_selector s = {0};
        struct api_error e = {0};
        assert_int_equal(api_field_selector_parse(sel, &s, &e), 0);
        json_t *o = labels(obj);
        bool m = api_field_selector_matches(&s, o);
        json_decref(o);
        api_selector_release(&s);
        return m;
}

static void test_field_selectors(void **state)
{
        (void)state;
        struct api_selector s = {0};
        struct api_error e = {0};

        assert_int_equal(api_field_selector_parse("status.phase=Failed, metadata.name!=x,"
                                                  "metadata.namespace==default",
                                                  &s, &e),
                         0);
        assert_int_equal(s.n, 3);
        assert_int_equal(s.reqs[0].op, API_SEL_EQ);
        assert_string_equal(s.reqs[0].key, "status.phase");
        assert_string_equal(s.reqs[0].values[0], "Failed");
        assert_int_equal(s.reqs[1].op, API_SEL_NEQ);
        assert_string_equal(s.reqs[1].key, "metadata.name");
        assert_int_equal(s.reqs[2].op, API_SEL_EQ);
        assert_string_equal(s.reqs[2].values[0], "default");
        api_selector_release(&s);

        assert_int_equal(api_field_selector_parse("spec.image=x", &s, &e), -EINVAL);
        assert_int_equal(e.code, 400);
        assert_non_null(strstr(e.message, "spec.image"));
        assert_int_equal(api_field_selector_parse("status.phase", &s, &e), -EINVAL);
        assert_int_equal(api_field_selector_parse("", &s, &e), 0);
        assert_int_equal(s.n, 0);

        const char *obj = "{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\"},"
                          "\"status\":{\"phase\":\"Failed\"}}";
        assert_true(field_match("status.phase=Failed", obj));
        assert_false(field_match("status.phase=Running", obj));
        assert_true(field_match("status.phase!=Running", obj));
        assert_true(field_match("metadata.name=a,metadata.namespace=default", obj));
        assert_false(field_match("metadata.name=a,metadata.namespace=other", obj));
        /* A missing field compares as "". */
        assert_true(field_match("status.phase=", "{\"metadata\":{\"name\":\"a\"}}"));
        assert_false(field_match("status.phase=Failed", "{\"metadata\":{\"name\":\"a\"}}"));
}

/* ---- Status bodies ------------------------------------------------------ */

static void test_status_bodies(void **state)
{
        (void)state;
        struct api_error e = {0};

        assert_int_equal(api_error_set(&e, 404, "tasks \"%s\" not found", "x"), -ENOENT);
        json_t *st = api_status_failure(&e);
        assert_string_equal(json_string_value(json_object_get(st, "kind")), "Status");
        assert_string_equal(json_string_value(json_object_get(st, "apiVersion")), "berth/v1");
        assert_string_equal(json_string_value(json_object_get(st, "status")), "Failure");
        assert_int_equal(json_integer_value(json_object_get(st, "code")), 404);
        assert_string_equal(json_string_value(json_object_get(st, "reason")), "NotFound");
        assert_string_equal(json_string_value(json_object_get(st, "message")),
                            "tasks \"x\" not found");
        assert_null(json_object_get(st, "details"));
        json_decref(st);

        assert_int_equal(api_error_set_reason(&e, 409, "AlreadyExists", "dup"), -ESTALE);
        st = api_status_failure(&e);
        assert_string_equal(json_string_value(json_object_get(st, "reason")), "AlreadyExists");
        json_decref(st);
        /* set clears a reason override. */
        api_error_set(&e, 409, "c");
        st = api_status_failure(&e);
        assert_string_equal(json_string_value(json_object_get(st, "reason")), "Conflict");
        json_decref(st);

        struct field_errors errs = {0};
        assert_int_equal(field_errors_add(&errs, "spec.image", 3, 5, "required"), 0);
        assert_int_equal(field_errors_add(&errs, "metadata.name", 0, 0, "bad %s", "name"), 0);
        api_error_set_reason(&e, 422, "Invalid", "invalid");
        assert_int_equal(api_error_add_details(&e, &errs, "tasks/hello: "), 0);
        field_errors_release(&errs);
        st = api_status_failure(&e);
        assert_string_equal(json_string_value(json_object_get(st, "reason")), "Invalid");
        json_t *d = json_object_get(st, "details");
        assert_int_equal(json_array_size(d), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "field")),
                            "tasks/hello: spec.image");
        assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "message")),
                            "required");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(d, 0), "line")), 3);
        assert_string_equal(json_string_value(json_object_get(json_array_get(d, 1), "message")),
                            "bad name");
        assert_null(json_object_get(json_array_get(d, 1), "line"));
        json_decref(st);
        api_error_release(&e);
        assert_null(e.details);

        static const struct {
                int code;
                const char *reason;
                int err;
        } table[] = {
            {400, "BadRequest", -EINVAL},
            {404, "NotFound", -ENOENT},
            {405, "MethodNotAllowed", -EOPNOTSUPP},
            {409, "Conflict", -ESTALE},
            {410, "Gone", -ERANGE},
            {413, "RequestEntityTooLarge", -E2BIG},
            {422, "Invalid", -EINVAL},
            {500, "InternalError", -EIO},
            {503, "ServiceUnavailable", -EAGAIN},
            {418, "BadRequest", -EINVAL},
            {599, "InternalError", -EIO},
        };
        for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
                assert_string_equal(http_status_reason(table[i].code), table[i].reason);
                assert_int_equal(api_status_errno(table[i].code), table[i].err);
        }

        /* Store failures. */
        struct berth_error serr = {0};
        berth_error_set(&serr, -EIO, "disk I/O error");
        assert_int_equal(api_error_from_store(&e, -EIO, &serr, "create"), -EAGAIN);
        assert_int_equal(e.code, 503);
        assert_string_equal(e.message, "create: store: disk I/O error");
        api_error_from_store(&e, -E2BIG, &serr, "create");
        assert_int_equal(e.code, 413);
        api_error_from_store(&e, -ESTALE, NULL, "replace");
        assert_int_equal(e.code, 409);
        api_error_from_store(&e, -ENOENT, NULL, "replace");
        assert_int_equal(e.code, 404);

        /* Over-long messages are truncated, not overflowed. */
        char big[3000];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        api_error_set(&e, 400, "%s", big);
        assert_int_equal(strlen(e.message), sizeof(e.message) - 1);

        st = api_status_success("tasks \"x\" deleted");
        assert_string_equal(json_string_value(json_object_get(st, "status")), "Success");
        assert_int_equal(json_integer_value(json_object_get(st, "code")), 200);
        json_decref(st);
        api_error_release(NULL);
}

/* ---- Service logs: which container -------------------------------------- */

static void test_service_container_replica(void **state)
{
        (void)state;
        char rev8[9] = "";

        assert_int_equal(api_service_container_replica("berth.default.web.1a2b3c4d.0", rev8), 0);
        assert_string_equal(rev8, "1a2b3c4d");
        assert_int_equal(api_service_container_replica("/berth.ns.a-b.deadbeef.12", rev8), 12);
        assert_string_equal(rev8, "deadbeef");
        assert_int_equal(api_service_container_replica("berth.default.web.1a2b3c4d.999", NULL),
                         999);
        /* Not of that form. */
        const char *const bad[] = {"",
                                   "berth.default.hello.1",
                                   "berth.default.web.1a2b3c4d.",
                                   "berth.default.web.1a2b3c4d.x1",
                                   "berth.default.web.1A2B3C4D.0",
                                   "berth.default.web.1a2b3c4.0",
                                   "1a2b3c4d.0",
                                   "berth.default.web.1a2b3c4d.1234567"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                assert_int_equal(api_service_container_replica(bad[i], rev8), -1);
        assert_int_equal(api_service_container_replica(NULL, NULL), -1);
}

static struct container_info ctr(const char *name, int64_t generation, int64_t started_ms)
{
        struct container_info ci = {.generation = generation,
                                    .started_ms = started_ms,
                                    .replica = -1,
                                    .state = DOCKER_STATE_RUNNING};
        str_copy(ci.name, sizeof(ci.name), name);
        str_copy(ci.kind, sizeof(ci.kind), "Service");
        return ci;
}

static size_t pick(const struct container_info *cs, size_t n, const char *hash, int replica,
                   int want_code)
{
        struct api_error e = {0};
        size_t k = 999;
        int r = api_service_log_pick(cs, n, "web", hash, replica, &k, &e);

        if (e.code != want_code)
                fail_msg("replica %d: got %d (%s), want %d", replica, e.code, e.message, want_code);
        assert_int_equal(r < 0, want_code != 0);
        if (want_code)
                assert_int_equal(k, 999); /* untouched */
        if (want_code == 400)
                assert_non_null(strstr(e.message, "replica parameter"));
        api_error_release(&e);
        return k;
}

static void test_service_log_pick(void **state)
{
        (void)state;
        const char *update = "bbbbbbbb12345678";
        /* A rollout from aaaaaaaa to bbbbbbbb: replica 0 has both, 1 only the old. */
        struct container_info cs[] = {
            ctr("berth.default.web.aaaaaaaa.0", 3, 1000),
            ctr("berth.default.web.bbbbbbbb.0", 4, 500), /* the update revision: preferred */
            ctr("berth.default.web.aaaaaaaa.1", 3, 1000),
            ctr("berth.default.web.cccccccc.1", 2, 2000), /* older generation */
        };

        assert_int_equal(pick(cs, ARRAY_SIZE(cs), update, 0, 0), 1);
        /* Replica 1 has none of the update revision: the newest generation. */
        assert_int_equal(pick(cs, ARRAY_SIZE(cs), update, 1, 0), 2);
        /* Without a hash: the newest. */
        assert_int_equal(pick(cs, ARRAY_SIZE(cs), NULL, 0, 0), 1);
        assert_int_equal(pick(cs, ARRAY_SIZE(cs), "short", 0, 0), 1);
        /* Same generation: the one started last. */
        cs[0].generation = 4;
        cs[0].started_ms = 900;
        assert_int_equal(pick(cs, ARRAY_SIZE(cs), NULL, 0, 0), 0);
        assert_int_equal(pick(cs, ARRAY_SIZE(cs), update, 0, 0), 1);

        /* No such replica; none at all. */
        pick(cs, ARRAY_SIZE(cs), update, 2, 404);
        pick(NULL, 0, update, 0, 404);
        pick(NULL, 0, update, -1, 404);

        /* Without ?replica: several indexes → 400 naming the parameter; one
         * index (two revisions of it) → that one. */
        pick(cs, ARRAY_SIZE(cs), update, -1, 400);
        assert_int_equal(pick(cs, 2, update, -1, 0), 1);
        assert_int_equal(pick(cs + 2, 2, update, -1, 0), 0);

        /* A name not of the form: the labels say. */
        struct container_info odd[] = {ctr("web-odd", 4, 0), ctr("web-odd-2", 4, 0)};
        pick(odd, 2, update, 0, 404);
        odd[1].replica = 0;
        str_copy(odd[1].revision, sizeof(odd[1].revision), "bbbbbbbb");
        assert_int_equal(pick(odd, 2, update, 0, 0), 1);
        assert_int_equal(pick(odd, 2, update, -1, 0), 1);
}

/* ---- Server-Sent Events (sse.c) and the routes that use them ----------- */

/* The bytes of one event, NUL-terminated in a static buffer. */
static const char *sse(const char *id, const char *type, const char *data, size_t len)
{
        static char out[1024];
        struct buf b;

        buf_init(&b, sizeof(out) - 1);
        assert_int_equal(api_sse_event(&b, id, type, data, len), 0);
        memcpy(out, b.data, b.len + 1);
        buf_release(&b);
        return out;
}

static void test_sse_event_framing(void **state)
{
        (void)state;
        assert_string_equal(sse("42", "ADDED", "{\"a\":1}", 7),
                            "id: 42\nevent: ADDED\ndata: {\"a\":1}\n\n");
        /* No id: the client keeps its last; no type: a "message". */
        assert_string_equal(sse(NULL, NULL, "x", 1), "data: x\n\n");
        assert_string_equal(sse(NULL, "end", "", 0), "event: end\ndata: \n\n");
        assert_string_equal(sse(NULL, NULL, NULL, 0), "data: \n\n");
        /* Every kind of line break splits; CRLF is one break. */
        assert_string_equal(sse("7", NULL, "a\nb\r\nc\rd", 8),
                            "id: 7\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
        /* Empty lines inside are kept, and a break at the end adds an empty
         * line, so that the client's data (lines joined by LF) is ours. */
        assert_string_equal(sse(NULL, NULL, "a\n\nb\n", 5), "data: a\ndata: \ndata: b\ndata: \n\n");
        assert_string_equal(sse(NULL, NULL, "\r\n", 2), "data: \ndata: \n\n");
        /* A NUL in the data is just a byte. */
        struct buf b;
        buf_init(&b, 100);
        assert_int_equal(api_sse_event(&b, NULL, NULL, "a\0b", 3), 0);
        assert_int_equal(b.len, strlen("data: ") + 3 + 2);
        buf_release(&b);
}

static void test_sse_event_refusals(void **state)
{
        struct buf b;

        (void)state;
        buf_init(&b, 16);
        assert_int_equal(api_sse_event(&b, "1\n2", NULL, "x", 1), -EINVAL);
        assert_int_equal(api_sse_event(&b, NULL, "a\rb", "x", 1), -EINVAL);
        assert_int_equal(b.len, 0);
        /* Over the cap: nothing of the event stays. */
        assert_int_equal(api_sse_retry(&b, 3000), 0);
        size_t before = b.len;
        assert_int_equal(api_sse_event(&b, "1", NULL, "0123456789", 10), -E2BIG);
        assert_int_equal(b.len, before);
        assert_string_equal(b.data, "retry: 3000\n\n");
        buf_reset(&b);
        assert_int_equal(api_sse_comment(&b, "heartbeat"), 0);
        assert_string_equal(b.data, ": heartbeat\n\n");
        assert_int_equal(api_sse_comment(&b, "a\nb"), -EINVAL);
        buf_release(&b);
}

static void test_sse_log_lines(void **state)
{
        struct api_sse_lines l;
        struct buf out;

        (void)state;
        api_sse_lines_init(&l);
        buf_init(&out, 1 << 20);
        /* Lines split anywhere across feeds; CRLF ends a line too. */
        assert_int_equal(api_sse_lines_feed(&l, "hel", 3, &out), 0);
        assert_int_equal(out.len, 0);
        assert_int_equal(api_sse_lines_feed(&l, "lo\nwor", 6, &out), 0);
        assert_string_equal(out.data, "data: hello\n\n");
        assert_int_equal(api_sse_lines_feed(&l, "ld\r\n\n", 5, &out), 0);
        assert_string_equal(out.data, "data: hello\n\ndata: world\n\ndata: \n\n");
        /* A lone CR inside a line (a progress bar) becomes two data lines. */
        buf_reset(&out);
        assert_int_equal(api_sse_lines_feed(&l, "10%\r20%\n", 8, &out), 0);
        assert_string_equal(out.data, "data: 10%\ndata: 20%\n\n");
        /* The end of the log sends what is left, once. */
        buf_reset(&out);
        assert_int_equal(api_sse_lines_feed(&l, "tail", 4, &out), 0);
        assert_int_equal(api_sse_lines_flush(&l, &out), 0);
        assert_string_equal(out.data, "data: tail\n\n");
        assert_int_equal(api_sse_lines_flush(&l, &out), 0);
        assert_string_equal(out.data, "data: tail\n\n");

        /* A line over API_SSE_LINE_MAX goes out in pieces of at most that. */
        buf_reset(&out);
        size_t n = API_SSE_LINE_MAX + 10;
        char *big = malloc(n + 1);
        assert_non_null(big);
        memset(big, 'x', n);
        big[n] = '\n';
        assert_int_equal(api_sse_lines_feed(&l, big, n + 1, &out), 0);
        assert_int_equal(out.len, 2 * (strlen("data: ") + 2) + n);
        assert_true(str_has_prefix(out.data, "data: xxx"));
        assert_non_null(strstr(out.data, "x\n\ndata: xxxxxxxxxx\n\n"));
        /* Exactly the cap is one event, its newline no second one. */
        buf_reset(&out);
        big[API_SSE_LINE_MAX] = '\n';
        assert_int_equal(api_sse_lines_feed(&l, big, API_SSE_LINE_MAX + 1, &out), 0);
        assert_int_equal(out.len, strlen("data: ") + 2 + API_SSE_LINE_MAX);
        free(big);
        buf_release(&out);
        api_sse_lines_release(&l);
}

static void test_sse_accept(void **state)
{
        (void)state;
        assert_true(api_sse_accepted("text/event-stream"));
        assert_true(api_sse_accepted("Text/Event-Stream"));
        assert_true(api_sse_accepted("application/json, text/event-stream;q=0.9"));
        assert_true(api_sse_accepted("text/html;level=1, text/event-stream"));
        assert_true(api_sse_accepted(" text/event-stream ; charset=utf-8"));
        assert_false(api_sse_accepted(NULL));
        assert_false(api_sse_accepted(""));
        assert_false(api_sse_accepted("*/*"));
        assert_false(api_sse_accepted("text/*"));
        assert_false(api_sse_accepted("application/json"));
        assert_false(api_sse_accepted("text/event-streams"));
        assert_false(api_sse_accepted("application/json;x=text/event-stream"));
}

/* An SSE request on a collection is a watch, on a log an SSE log; others
 * do not change. */
static void test_route_accept(void **state)
{
        struct api_route r;
        struct api_error e = {0};

        (void)state;
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/namespaces/a/tasks", &r, &e), 0);
        api_route_set_accept(&r, "text/event-stream");
        assert_true(r.sse);
        assert_true(r.watch);
        api_route_release(&r);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/tasks?watch=1", &r, &e), 0);
        api_route_set_accept(&r, "application/json");
        assert_false(r.sse);
        assert_true(r.watch);
        api_route_release(&r);
        assert_int_equal(route(API_METHOD_HEAD, "/apis/berth/v1/tasks", &r, &e), 0);
        api_route_set_accept(&r, "text/event-stream");
        assert_false(r.sse);
        assert_false(r.watch);
        api_route_release(&r);
        assert_int_equal(
            route(API_METHOD_GET, "/apis/berth/v1/namespaces/a/tasks/t/log?follow=1", &r, &e), 0);
        api_route_set_accept(&r, "text/event-stream");
        assert_true(r.sse);
        assert_false(r.watch);
        api_route_release(&r);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/namespaces/a/tasks/t", &r, &e), 0);
        api_route_set_accept(&r, "text/event-stream");
        assert_false(r.sse);
        api_route_release(&r);
        assert_int_equal(route(API_METHOD_POST, "/apis/berth/v1/namespaces/a/tasks", &r, &e), 0);
        api_route_set_accept(&r, "text/event-stream");
        assert_false(r.sse);
        assert_false(r.watch);
        api_route_release(&r);
        api_error_release(&e);
}

static void test_route_stats(void **state)
{
        struct api_route r;
        struct api_error e = {0};

        (void)state;
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/namespaces/a/tasks/t/stats", &r, &e),
                         0);
        assert_int_equal(r.endpoint, API_EP_STATS);
        assert_string_equal(r.name, "t");
        assert_string_equal(r.subresource, "stats");
        api_route_release(&r);
        assert_int_equal(
            route(API_METHOD_GET, "/apis/berth/v1/namespaces/a/services/w/stats", &r, &e), 0);
        assert_int_equal(r.endpoint, API_EP_STATS);
        api_route_release(&r);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/tasks?stats=true", &r, &e), 0);
        assert_int_equal(r.endpoint, API_EP_STATS);
        assert_string_equal(r.name, "");
        assert_string_equal(r.ns, "");
        api_route_release(&r);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/namespaces/a/tasks?stats=0", &r, &e),
                         0);
        assert_int_equal(r.endpoint, API_EP_LIST);
        api_route_release(&r);

        assert_int_equal(
            route(API_METHOD_GET, "/apis/berth/v1/namespaces/a/workflows/w/stats", &r, &e),
            -ENOENT);
        assert_int_equal(e.code, 404);
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/workflows?stats=1", &r, &e),
                         -EINVAL);
        assert_int_equal(e.code, 400);
        assert_string_equal(e.message, "workflows have no stats");
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/tasks?stats=1&watch=1", &r, &e),
                         -EINVAL);
        assert_string_equal(e.message, "stats cannot be watched");
        assert_int_equal(route(API_METHOD_GET, "/apis/berth/v1/tasks?stats=maybe", &r, &e),
                         -EINVAL);
        assert_int_equal(route(API_METHOD_PUT, "/apis/berth/v1/namespaces/a/tasks/t/stats", &r, &e),
                         -EOPNOTSUPP);
        assert_int_equal(e.code, 405);
        api_error_release(&e);
}

static void test_stats_entry(void **state)
{
        struct docker_stats st = {
            .read = "2024-03-01T10:00:01Z",
            .cpu_known = true,
            .cpu_percent = 12.345678,
            .memory_usage = 4337664,
            .memory_limit = 268435456,
            .pids = 3,
            .block_read_bytes = 1,
            .block_write_bytes = 2,
        };

        (void)state;
        _cleanup_json_ json_t *t = api_stats_entry("default", "hog", "0123456789abcdef", -1, &st);
        assert_non_null(t);
        _cleanup_free_ char *text = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(text, "{\"blockIO\":{\"readBytes\":1,\"writeBytes\":2},"
                                  "\"container\":\"0123456789ab\",\"cpuPercent\":12.35,"
                                  "\"memory\":{\"limitBytes\":268435456,\"usageBytes\":4337664},"
                                  "\"name\":\"hog\",\"namespace\":\"default\",\"network\":null,"
                                  "\"pids\":3,\"timestamp\":\"2024-03-01T10:00:01Z\"}");
        /* A replica's has its index; an unknown CPU share is null. */
        st.cpu_known = false;
        st.network_known = true;
        st.net_rx_bytes = 10;
        st.net_tx_bytes = 20;
        _cleanup_json_ json_t *s = api_stats_entry("default", "web", "abc", 2, &st);
        assert_true(json_is_null(json_object_get(s, "cpuPercent")));
        assert_int_equal(json_integer_value(json_object_get(s, "replica")), 2);
        assert_int_equal(json_path_int(s, "network.rxBytes", -1), 10);
        assert_int_equal(json_path_int(s, "network.txBytes", -1), 20);
        assert_string_equal(json_path_string(s, "container"), "abc");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_router_paths),
            cmocka_unit_test(test_router_errors),
            cmocka_unit_test(test_router_decoding),
            cmocka_unit_test(test_router_results_query),
            cmocka_unit_test(test_label_selectors),
            cmocka_unit_test(test_field_selectors),
            cmocka_unit_test(test_status_bodies),
            cmocka_unit_test(test_service_container_replica),
            cmocka_unit_test(test_service_log_pick),
            cmocka_unit_test(test_sse_event_framing),
            cmocka_unit_test(test_sse_event_refusals),
            cmocka_unit_test(test_sse_log_lines),
            cmocka_unit_test(test_sse_accept),
            cmocka_unit_test(test_route_accept),
            cmocka_unit_test(test_route_stats),
            cmocka_unit_test(test_stats_entry),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
