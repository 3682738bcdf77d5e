/* Unit tests of what the CLI does for Sources and GitOps: the unified diff
 * (identical, insert, delete, change, context and merged hunks, empty sides,
 * a last line without newline, the limits), the normalising of both sides,
 * `berth diff` (with --prune --source), `berth sync`, describe and the
 * columns of a Source. The pure parts directly; the commands through
 * cli_run() against the fake berthd. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "cli-internal.h"
#include "cli-test.h"

#define TASK_PATH "/apis/berth/v1/namespaces/default/tasks/hello"
#define SRC_PATH  "/apis/berth/v1/namespaces/ops/sources/site"
#define SRC_WATCH "/apis/berth/v1/namespaces/ops/sources?watch=true&resourceVersion=5"
#define NOW       1796554800000LL /* 2026-12-06T11:00:00Z */
#define NOW_RFC   "2026-12-06T11:00:00Z"
#define SELECTOR  "?labelSelector=berth.source%3Dsite"

static json_t *load(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        if (!j)
                fail_msg("bad test JSON: %s: %s", e.text, text);
        return j;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static size_t count(const char *s, const char *what)
{
        size_t n = 0;
        for (const char *p = s; p && (p = strstr(p, what)); p += strlen(what))
                n++;
        return n;
}

/* Like assert_string_equal, but prints both texts whole. */
static void assert_text(const char *got, const char *want)
{
        if (!streq(got, want)) {
                fprintf(stderr, "expected:\n%s\ngot:\n%s\n", want, got ? got : "(null)");
                fail();
        }
}

/* ---- the unified diff ------------------------------------------------------- */

/* The diff of a and b with context ctx, as text; *ret_rc the result. */
static char *udiff(const char *a, const char *b, int ctx, int *ret_rc)
{
        char *s = NULL;
        size_t n = 0;
        FILE *out = open_memstream(&s, &n);

        assert_non_null(out);
        *ret_rc = cli_diff_unified(out, "a", a, strlen(a), "b", b, strlen(b), ctx);
        fclose(out);
        return s;
}

static void assert_udiff(const char *a, const char *b, int ctx, const char *hunks)
{
        int rc;
        _cleanup_free_ char *got = udiff(a, b, ctx, &rc);
        _cleanup_free_ char *want = hunks ? str_printf("--- a\n+++ b\n%s", hunks) : strdup("");

        if (!streq(got, want)) {
                fprintf(stderr, "expected:\n%s\ngot:\n%s\n", want, got);
                fail();
        }
        assert_int_equal(rc, hunks ? 1 : 0);
}

/* "1\n2\n...n\n" with the lines in change[] (1-based) replaced by "x<line>". */
static char *numbers(int n, const int *change, size_t nchange)
{
        struct buf b;

        buf_init(&b, 1024 * 1024);
        for (int i = 1; i <= n; i++) {
                bool changed = false;
                for (size_t k = 0; k < nchange; k++)
                        changed = changed || change[k] == i;
                assert_int_equal(buf_printf(&b, changed ? "x%d\n" : "%d\n", i), 0);
        }
        return buf_steal(&b);
}

static void test_diff_basic(void **state)
{
        (void)state;
        /* Identical, and both empty. */
        assert_udiff("a\nb\n", "a\nb\n", 3, NULL);
        assert_udiff("", "", 3, NULL);
        /* Insert, delete, change, with 3 lines of context. */
        assert_udiff("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\nnew\n5\n6\n7\n8\n", 3,
                     "@@ -2,6 +2,7 @@\n 2\n 3\n 4\n+new\n 5\n 6\n 7\n");
        assert_udiff("1\n2\n3\n4\n5\n", "2\n3\n4\n5\n", 3, "@@ -1,4 +1,3 @@\n-1\n 2\n 3\n 4\n");
        assert_udiff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n", 3,
                     "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
        /* At the end: the context stops at the last line. */
        assert_udiff("1\n2\n3\n", "1\n2\n3\n4\n", 3, "@@ -1,3 +1,4 @@\n 1\n 2\n 3\n+4\n");
        /* No context: an empty side is numbered after the line before it, and
         * a count of 1 is left out. */
        assert_udiff("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\nnew\n5\n6\n7\n8\n", 0,
                     "@@ -4,0 +5 @@\n+new\n");
        assert_udiff("1\n2\n3\n", "1\n3\n", 0, "@@ -2 +1,0 @@\n-2\n");
        /* Empty sides. */
        assert_udiff("", "a\nb\n", 3, "@@ -0,0 +1,2 @@\n+a\n+b\n");
        assert_udiff("a\nb\n", "", 3, "@@ -1,2 +0,0 @@\n-a\n-b\n");
        assert_udiff("", "a\n", 3, "@@ -0,0 +1 @@\n+a\n");
        /* A last line without a newline differs from one with. */
        assert_udiff("a\nb", "a\nc\n", 3,
                     "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n");
        assert_udiff("a\nb", "a\nb\n", 3,
                     "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
        /* Repeated lines: still the shortest script. */
        assert_udiff("a\nb\na\nb\n", "b\na\nb\na\n", 0, "@@ -1 +0,0 @@\n-a\n@@ -4,0 +4 @@\n+a\n");
}

static void test_diff_hunks(void **state)
{
        (void)state;
        int rc;
        const int close[] = {5, 12}, apart[] = {5, 13};
        _cleanup_free_ char *a = numbers(20, NULL, 0);
        _cleanup_free_ char *b1 = numbers(20, close, 2), *b2 = numbers(20, apart, 2);

        /* Six unchanged lines between two changes (2 * context): one hunk. */
        assert_udiff(a, b1, 3,
                     "@@ -2,14 +2,14 @@\n 2\n 3\n 4\n-5\n+x5\n 6\n 7\n 8\n 9\n 10\n 11\n-12\n"
                     "+x12\n 13\n 14\n 15\n");
        /* Seven: two. */
        assert_udiff(a, b2, 3,
                     "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+x5\n 6\n 7\n 8\n"
                     "@@ -10,7 +10,7 @@\n 10\n 11\n 12\n-13\n+x13\n 14\n 15\n 16\n");
        /* A negative context counts as none. */
        _cleanup_free_ char *s = udiff(a, b2, -1, &rc);
        assert_int_equal(rc, 1);
        assert_int_equal(count(s, "@@ -"), 2);
        assert_null(strstr(s, " 4\n"));
}

static void test_diff_limits(void **state)
{
        (void)state;
        int rc;

        /* Past CLI_DIFF_EDITS_MAX edits: everything in between deleted, then
         * inserted — more lines than a minimal diff, still a correct one. */
        {
                struct buf a, b;
                size_t lines = CLI_DIFF_EDITS_MAX + 2; /* every other one changes */

                buf_init(&a, 16 * 1024 * 1024);
                buf_init(&b, 16 * 1024 * 1024);
                assert_int_equal(buf_append_str(&a, "same\n"), 0);
                assert_int_equal(buf_append_str(&b, "same\n"), 0);
                for (size_t i = 0; i < lines; i++) {
                        assert_int_equal(buf_printf(&a, "a%zu\n", i), 0);
                        assert_int_equal(buf_printf(&b, i % 2 ? "a%zu\n" : "b%zu\n", i), 0);
                }
                _cleanup_free_ char *ta = buf_steal(&a), *tb = buf_steal(&b);
                _cleanup_free_ char *s = udiff(ta, tb, 3, &rc);
                _cleanup_free_ char *hunk =
                    str_printf("@@ -1,%zu +1,%zu @@\n same\n-a0\n", lines + 1, lines + 1);
                assert_int_equal(rc, 1);
                /* A minimal one would delete and insert every other line only. */
                /* The last line is the same: all but it, deleted and inserted. */
                assert_int_equal(count(s, "\n-a"), lines - 1);
                assert_int_equal(count(s, "\n+") - 1, lines - 1); /* and "+++ b" */
                assert_non_null(strstr(s, hunk));
        }
        /* Too many lines: nothing printed. */
        {
                size_t n = CLI_DIFF_LINES_MAX + 1;
                _cleanup_free_ char *big = malloc(2 * n + 1);
                assert_non_null(big);
                for (size_t i = 0; i < n; i++)
                        memcpy(big + 2 * i, "x\n", 2);
                big[2 * n] = '\0';
                _cleanup_free_ char *s = udiff(big, "x\n", 3, &rc);
                assert_int_equal(rc, -E2BIG);
                assert_string_equal(s, "");
                free(s);
                /* Equal texts need no lines. */
                s = udiff(big, big, 3, &rc);
                assert_int_equal(rc, 0);
        }
}

/* ---- normalising ----------------------------------------------------------------- */

static const char *const live_task =
    "{\"apiVersion\":\"berth/v1\",\"kind\":\"Task\","
    "\"metadata\":{\"name\":\"hello\",\"namespace\":\"default\",\"uid\":\"u1\","
    "\"generation\":3,\"resourceVersion\":\"17\",\"creationTimestamp\":\"2026-12-06T09:00:00Z\","
    "\"finalizers\":[\"berth/containers\"],\"labels\":{\"berth.source\":\"site\",\"app\":\"x\"},"
    "\"annotations\":{\"berth/source\":\"ops/site\",\"berth/source-path\":\"hello.yaml\","
    "\"berth/source-revision\":\"abc\"},"
    "\"ownerReferences\":[{\"kind\":\"Workflow\",\"name\":\"w\"}]},"
    "\"spec\":{\"image\":\"busybox:1.36\",\"command\":[\"echo\",\"hi\"]},"
    "\"status\":{\"phase\":\"Succeeded\"}}";

static void test_normalize(void **state)
{
        (void)state;
        json_t *live = load(live_task);
        json_t *file = load("{\"kind\":\"Task\",\"apiVersion\":\"berth/v1\","
                            "\"metadata\":{\"name\":\"hello\",\"labels\":{}},"
                            "\"spec\":{\"command\":[\"echo\",\"hi\"],\"image\":\"busybox:1.36\"}}");
        _cleanup_json_ json_t *l = cli_diff_normalize(live, "ignored");
        _cleanup_json_ json_t *f = cli_diff_normalize(file, "default");
        _cleanup_json_ json_t *x = NULL;

        assert_non_null(l);
        assert_non_null(f);
        /* Server metadata and status are gone, defaults are in. */
        assert_null(json_path(l, "status"));
        assert_int_equal(json_object_size(json_path(l, "metadata")), 4);
        assert_string_equal(json_path_string(l, "metadata.namespace"), "default");
        assert_string_equal(json_path_string(f, "metadata.namespace"), "default");
        assert_null(json_path(f, "metadata.labels")); /* empty is absent */
        assert_string_equal(json_path_string(l, "spec.imagePullPolicy"), "IfNotPresent");
        assert_string_equal(json_path_string(f, "spec.imagePullPolicy"), "IfNotPresent");
        /* The input is not changed. */
        assert_string_equal(json_path_string(live, "metadata.uid"), "u1");

        /* The Source's marks go unless the file has them. */
        cli_diff_drop_source_marks(l, f);
        assert_null(json_path(l, "metadata.annotations"));
        assert_int_equal(json_object_size(json_path(l, "metadata.labels")), 1);
        assert_string_equal(json_path_string(l, "metadata.labels.app"), "x");
        json_object_del(json_object_get(l, "metadata"), "labels");
        assert_true(json_equal(l, f));

        /* Ordered like the file: the file's keys first, in its order. */
        x = cli_diff_ordered_like(l, f);
        assert_true(json_equal(x, f));
        {
                const char *keys[8];
                size_t n = 0;
                const char *k;
                json_t *v;

                json_object_foreach(x, k, v) keys[n++] = k;
                assert_string_equal(keys[0], "kind");
                assert_string_equal(keys[1], "apiVersion");
                n = 0;
                json_object_foreach(json_object_get(x, "spec"), k, v) keys[n++] = k;
                assert_string_equal(keys[0], "command");
                assert_string_equal(keys[1], "image");
        }
        {
                /* Keys like does not have come after, in their order; arrays
                 * entry by entry. */
                _cleanup_json_ json_t *v = load("{\"c\":1,\"a\":[{\"y\":1,\"x\":2},3],\"b\":2}");
                _cleanup_json_ json_t *like = load("{\"b\":0,\"a\":[{\"x\":0}]}");
                _cleanup_json_ json_t *o = cli_diff_ordered_like(v, like);
                _cleanup_free_ char *s = json_dumps(o, JSON_COMPACT);

                assert_string_equal(s, "{\"b\":2,\"a\":[{\"x\":2,\"y\":1},3],\"c\":1}");
        }
        assert_null(cli_diff_normalize(NULL, NULL));
        json_decref(live);
        json_decref(file);
}

/* ---- Source printers ------------------------------------------------------------- */

static const char *const site =
    "{\"apiVersion\":\"berth/v1\",\"kind\":\"Source\","
    "\"metadata\":{\"name\":\"site\",\"namespace\":\"ops\",\"uid\":\"u9\",\"resourceVersion\":"
    "\"5\","
    "\"generation\":2,\"creationTimestamp\":\"2026-12-03T11:00:00Z\"},"
    "\"spec\":{\"path\":\"/srv/manifests/site\",\"recursive\":true,"
    "\"include\":[\"*.yaml\",\"*.yml\"],\"exclude\":[\".git/**\",\"**/.*\"],"
    "\"allowedNamespaces\":[\"monitoring\"],\"prune\":true,\"maxPruneFraction\":0.25,"
    "\"debounceMilliseconds\":300,\"suspend\":false,\"rescanSeconds\":600},"
    "\"status\":{\"observedGeneration\":2,"
    "\"revision\":\"3f2a9c01d4e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3\",\"revisionKind\":\"git\","
    "\"lastAppliedTime\":\"2026-12-06T10:58:00Z\",\"lastSyncTime\":\"2026-12-06T10:59:00Z\","
    "\"files\":5,\"objects\":{\"Task\":10,\"Service\":2},\"objectCount\":12,"
    "\"errors\":[{\"file\":\"broken.yaml\",\"line\":7,\"column\":3,"
    "\"message\":\"spec.image: required\"},{\"file\":\"big.yaml\",\"message\":\"too big\"}],"
    "\"conflicts\":[{\"kind\":\"Task\",\"namespace\":\"team-a\",\"name\":\"x\","
    "\"owner\":\"by hand\"}],"
    "\"lastPrune\":{\"time\":\"2026-12-06T10:59:00Z\",\"deleted\":[\"tasks/team-a/old\","
    "\"services/team-a/web\"],\"refused\":\"\"},"
    "\"drift\":{\"count\":3,\"last\":{\"time\":\"2026-12-06T10:30:00Z\","
    "\"object\":\"tasks/team-a/x\"}},"
    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"SyncFailed\","
    "\"message\":\"2 files in error\"},{\"type\":\"Stalled\",\"status\":\"True\","
    "\"reason\":\"FilesInError\"}]}}";

static char *describe_text(const json_t *o)
{
        char *s = NULL;
        size_t n = 0;
        FILE *out = open_memstream(&s, &n);

        assert_non_null(out);
        assert_int_equal(cli_describe(out, kind_lookup("source"), o, NULL, NULL, NOW), 0);
        fclose(out);
        return s;
}

static void test_describe_source(void **state)
{
        (void)state;
        json_t *o = load(site);
        _cleanup_free_ char *s = describe_text(o);

        assert_text(s, "Name:         site\n"
                       "Namespace:    ops\n"
                       "Labels:       <none>\n"
                       "Annotations:  <none>\n"
                       "UID:          u9\n"
                       "Created:      2026-12-03T11:00:00Z (3d ago)\n"
                       "Generation:   2\n"
                       "Spec:\n"
                       "  Path:               /srv/manifests/site\n"
                       "  Recursive:          true\n"
                       "  Include:            *.yaml, *.yml\n"
                       "  Exclude:            .git/**, **/.*\n"
                       "  Target Namespace:   ops\n"
                       "  Allowed Namespaces: monitoring\n"
                       "  Prune:              true (at most 0.25 of the objects at once)\n"
                       "  Debounce:           300ms\n"
                       "  Rescan:             10m\n"
                       "  Suspend:            false\n"
                       "Status:\n"
                       "  Revision:     3f2a9c01d4e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3 (git)\n"
                       "  Last Sync:    2026-12-06T10:59:00Z (60s ago)\n"
                       "  Last Applied: 2026-12-06T10:58:00Z (2m ago)\n"
                       "  Files:        5\n"
                       "  Objects:      12 (Service 2, Task 10)\n"
                       "Conditions:\n"
                       "  TYPE      STATUS   REASON         MESSAGE            LAST TRANSITION\n"
                       "  Ready     False    SyncFailed     2 files in error\n"
                       "  Stalled   True     FilesInError\n"
                       "Errors:\n"
                       "  broken.yaml:7:3: spec.image: required\n"
                       "  big.yaml: too big\n"
                       "Conflicts:\n"
                       "  Task team-a/x: owned by hand\n"
                       "Last Prune:\n"
                       "  Time:     2026-12-06T10:59:00Z (60s ago)\n"
                       "  Deleted:  tasks/team-a/old\n"
                       "            services/team-a/web\n"
                       "Drift:\n"
                       "  Count:    3 corrected\n"
                       "  Last:     tasks/team-a/x at 2026-12-06T10:30:00Z (30m ago)\n"
                       "Events:       <none>\n");

        /* Before the first sync. */
        json_object_del(o, "status");
        free(s);
        s = describe_text(o);
        assert_non_null(strstr(s, "  Revision:     <none>\n"));
        assert_non_null(strstr(s, "  Objects:      0\n"));
        assert_non_null(strstr(s, "Errors:       <none>\nConflicts:    <none>\n"
                                  "Last Prune:   <none>\nDrift:        <none>\n"));
        json_decref(o);
}

static void test_source_columns(void **state)
{
        (void)state;
        json_t *o = load(site);
        const struct kind_info *kind = kind_lookup("src");
        struct cli_table t;
        char *s = NULL;
        size_t n = 0;
        FILE *out = open_memstream(&s, &n);

        assert_non_null(out);
        assert_int_equal(cli_table_init(&t, &(struct cli_print_opts){.kind = kind, .now_ms = NOW}),
                         0);
        assert_int_equal(cli_table_add(&t, o), 0);
        json_object_del(o, "status");
        assert_int_equal(cli_table_add(&t, o), 0);
        assert_int_equal(cli_table_flush(&t, out), 0);
        cli_table_release(&t);
        fclose(out);
        assert_string_equal(s,
                            "NAME   PATH                  REVISION       OBJECTS   READY     AGE\n"
                            "site   /srv/manifests/site   3f2a9c01d4e7   12        False     3d\n"
                            "site   /srv/manifests/site                  0         Unknown   3d\n");
        free(s);

        /* The condition column alone: by type, not position; no fallback. */
        static const struct printer_column stalled = {
            .path = "status.conditions", .format = COLUMN_CONDITION, .condition = "Stalled"};
        json_decref(o);
        o = load(site);
        s = cli_column_text(&stalled, o, NOW);
        assert_string_equal(s, "True");
        free(s);
        json_object_del(json_object_get(o, "status"), "conditions");
        s = cli_column_text(&stalled, o, NOW);
        assert_string_equal(s, "");
        free(s);
        json_decref(o);
}

static void test_sync_print(void **state)
{
        (void)state;
        json_t *o = load(site);
        char *s = NULL;
        size_t n = 0;
        FILE *out = open_memstream(&s, &n);
        int64_t requested = NOW - 120 * 1000;

        assert_non_null(out);
        assert_int_equal(cli_source_sync_print(out, o, requested), 1);
        fclose(out);
        assert_string_equal(
            s, "source/site synced: revision 3f2a9c01d4e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3 (git), 12 "
               "objects (Service 2, Task 10) from 5 files\n"
               "pruned 2: tasks/team-a/old services/team-a/web\n"
               "errors:\n"
               "  broken.yaml:7:3: spec.image: required\n"
               "  big.yaml: too big\n"
               "conflicts:\n"
               "  Task team-a/x: owned by hand\n"
               "not ready: SyncFailed: 2 files in error\n");
        free(s);

        /* A clean sync; a prune older than the request is not this sync's. */
        json_t *st = json_object_get(o, "status");
        json_object_del(st, "errors");
        json_object_del(st, "conflicts");
        json_object_set_new(
            st, "conditions",
            load("[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Synced\"}]"));
        json_object_set_new(st, "objects", load("{\"Task\":1}"));
        json_object_set_new(st, "objectCount", json_integer(1));
        json_object_set_new(st, "files", json_integer(1));
        out = open_memstream(&s, &n);
        assert_int_equal(cli_source_sync_print(out, o, NOW), 0);
        fclose(out);
        assert_string_equal(s,
                            "source/site synced: revision 3f2a9c01d4e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3 "
                            "(git), 1 object (Task 1) from 1 file\n");
        free(s);

        /* Refused. */
        json_object_set_new(st, "lastPrune",
                            load("{\"time\":\"" NOW_RFC "\",\"deleted\":[],\"refused\":\"would "
                                 "delete 8 of 10 objects (80%) > maxPruneFraction 0.5\"}"));
        out = open_memstream(&s, &n);
        assert_int_equal(cli_source_sync_print(out, o, NOW), 0);
        fclose(out);
        assert_non_null(strstr(s, "\nprune refused: would delete 8 of 10 objects (80%) > "
                                  "maxPruneFraction 0.5\n"));
        free(s);

        json_object_set_new(st, "lastSyncRequest", json_string("2026-01-01T00:00:00.250Z"));
        assert_true(cli_source_synced(o, "2026-01-01T00:00:00.250Z"));
        assert_false(cli_source_synced(o, "2026-01-01T00:00:00.251Z"));
        json_object_del(st, "lastSyncRequest");
        assert_false(cli_source_synced(o, "2026-01-01T00:00:00.250Z"));
        json_decref(o);
}

/* ---- berth diff ---------------------------------------------------------------------- */

static const char *const hello_yaml = "apiVersion: berth/v1\n"
                                      "kind: Task\n"
                                      "metadata:\n"
                                      "  name: hello\n"
                                      "spec:\n"
                                      "  image: busybox:1.37\n"
                                      "  command: [echo, hi]\n";

static void test_diff_command(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        char path[160];

        snprintf(path, sizeof(path), "%s/hello.yaml", f->dir);
        write_file(path, hello_yaml);

        /* Changed: only the image line differs; server fields, status and the
         * Source's marks are not compared. */
        fake_reset(f);
        fake_route(f, "GET", TASK_PATH, 200, live_task);
        run(&c, "--server", f->url, "diff", "-f", path, NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "");
        assert_true(str_has_prefix(c.out, "--- live/tasks/default/hello\n"
                                          "+++ file/tasks/default/hello\n@@ -"));
        assert_int_equal(count(c.out, "\n-"), 3); /* the image and the label */
        assert_non_null(strstr(c.out, "\n-  image: busybox:1.36\n+  image: busybox:1.37\n"));
        assert_non_null(strstr(c.out, "\n-  labels:\n-    app: x\n spec:\n"));
        assert_non_null(strstr(c.out, "\n@@ -3,10 +3,8 @@\n metadata:\n"));
        assert_int_equal(count(c.out, "\n+ "), 1);
        assert_null(strstr(c.out, "uid"));
        assert_null(strstr(c.out, "status"));
        assert_null(strstr(c.out, "berth/source"));
        assert_int_equal(f->requests, 1);

        /* Equal: nothing, exit 0. */
        fake_reset(f);
        fake_route(f, "GET", TASK_PATH, 200,
                   "{\"apiVersion\":\"berth/v1\",\"kind\":\"Task\",\"metadata\":{\"name\":"
                   "\"hello\",\"namespace\":\"default\",\"uid\":\"u\",\"resourceVersion\":\"3\"},"
                   "\"spec\":{\"image\":\"busybox:1.37\",\"imagePullPolicy\":\"IfNotPresent\","
                   "\"command\":[\"echo\",\"hi\"]},\"status\":{\"phase\":\"Running\"}}");
        run(&c, "--server", f->url, "diff", "-f", path, NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "");
        assert_string_equal(c.err, "");

        /* New: all "+", in the file's order, defaults after. */
        fake_reset(f);
        run(&c, "--server", f->url, "diff", "-f", path, NULL);
        assert_int_equal(c.rc, 1);
        assert_true(str_has_prefix(c.out, "--- live/tasks/default/hello\n"
                                          "+++ file/tasks/default/hello\n@@ -0,0 +1,"));
        assert_non_null(strstr(c.out, "\n+apiVersion: berth/v1\n+kind: Task\n+metadata:\n"
                                      "+  name: hello\n+  namespace: default\n+spec:\n"
                                      "+  image: busybox:1.37\n"));
        assert_int_equal(count(c.out, "\n "), 0);
        assert_int_equal(count(c.out, "\n-"), 0);

        /* -n puts it elsewhere. */
        fake_reset(f);
        run(&c, "--server", f->url, "-n", "dev", "diff", "-f", path, NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(f->last_path, "/apis/berth/v1/namespaces/dev/tasks/hello");
        assert_non_null(strstr(c.out, "+++ file/tasks/dev/hello\n"));

        /* Errors: exit 2. */
        fake_reset(f);
        fake_route(f, "GET", TASK_PATH, 500,
                   "{\"kind\":\"Status\",\"code\":500,\"reason\":\"InternalError\","
                   "\"message\":\"store unavailable\"}");
        run(&c, "--server", f->url, "diff", "-f", path, NULL);
        assert_int_equal(c.rc, 2);
        assert_string_equal(c.err, "Error from server (InternalError): store unavailable\n");
        run(&c, "--server", "unix:///nonexistent/berth.sock", "diff", "-f", path, NULL);
        assert_int_equal(c.rc, 2);
        unlink(path);
        capture_release(&c);
}

static void test_diff_usage(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        char path[160];

        snprintf(path, sizeof(path), "%s/bad.yaml", f->dir);
        write_file(path, "apiVersion: berth/v1\nkind: Task\nmetadata: {name: bad}\n"
                         "spec: {imagee: busybox}\n");
        fake_reset(f);
        run(&c, "--server", f->url, "diff", "-f", path, NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "bad.yaml:4:8: spec.imagee: unknown field"));
        assert_int_equal(f->requests, 0);
        run(&c, "--server", f->url, "diff", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "must specify -f FILE|DIR|-"));
        run(&c, "--server", f->url, "diff", "-f", path, "--prune", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "--prune and --source NAME go together"));
        run(&c, "--server", f->url, "diff", "-f", path, "--prune", "--source", "Site", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "invalid --source \"Site\""));
        run(&c, "diff", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Usage:\n  berth diff -f FILE|DIR|-"));
        assert_non_null(strstr(c.out, "Exit status: 0 no differences, 1 differences, 2 an error"));
        assert_int_equal(f->requests, 0);
        unlink(path);
        capture_release(&c);
}

/* An object of the Source site (ops) in team-a. */
static char *owned(const char *kind, const char *resource, const char *name, const char *owner,
                   const char *extra_annotation)
{
        (void)resource;
        return str_printf(
            "{\"apiVersion\":\"berth/v1\",\"kind\":\"%s\",\"metadata\":{\"name\":\"%s\","
            "\"namespace\":\"team-a\",\"uid\":\"u\",\"labels\":{\"berth.source\":\"site\"},"
            "\"annotations\":{\"berth/source\":\"%s\"%s}},"
            "\"spec\":{\"image\":\"busybox\"}}",
            kind, name, owner, extra_annotation);
}

static void test_diff_prune(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        char dir[160], path[200];
        _cleanup_free_ char *kept = owned("Task", "tasks", "kept", "ops/site", "");
        _cleanup_free_ char *old = owned("Task", "tasks", "old", "ops/site", "");
        _cleanup_free_ char *other = owned("Task", "tasks", "other", "dev/site", "");
        _cleanup_free_ char *guarded =
            owned("Task", "tasks", "guarded", "ops/site", ",\"berth.prune\":\"disabled\"");
        _cleanup_free_ char *tasks = str_printf("{\"kind\":\"TaskList\",\"items\":[%s,%s,%s,%s]}",
                                                kept, old, other, guarded);
        _cleanup_free_ char *src = NULL;

        snprintf(dir, sizeof(dir), "%s/site", f->dir);
        assert_int_equal(mkdir(dir, 0700), 0);
        snprintf(path, sizeof(path), "%s/kept.yaml", dir);
        /* No namespace: the Source's targetNamespace. */
        write_file(path, "apiVersion: berth/v1\nkind: Task\nmetadata: {name: kept}\n"
                         "spec: {image: busybox}\n");
        src = str_printf("{\"apiVersion\":\"berth/v1\",\"kind\":\"Source\",\"metadata\":{\"name\":"
                         "\"site\",\"namespace\":\"ops\"},\"spec\":{\"path\":\"/srv/site\","
                         "\"targetNamespace\":\"team-a\"}}");
        fake_reset(f);
        fake_route(f, "GET", SRC_PATH, 200, src);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/team-a/tasks/kept", 200, kept);
        fake_route(f, "GET", "/apis/berth/v1/tasks" SELECTOR, 200, tasks);
        /* Every other kind a Source may apply has none. */
        char *lists[FAKE_ROUTES_MAX] = {0};
        size_t nlists = 0;
        for (const struct kind_info *const *k = kind_all(); *k; k++) {
                if (streq((*k)->kind, "Task"))
                        continue;
                assert_true(nlists < ARRAY_SIZE(lists));
                lists[nlists] = str_printf("/apis/berth/v1/%s%s", (*k)->resource, SELECTOR);
                fake_route(f, "GET", lists[nlists++], 200, "{\"items\":[]}");
        }
        run(&c, "--server", f->url, "-n", "ops", "diff", "-f", dir, "--prune", "--source", "site",
            NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "");
        /* kept is the same; old is gone from the files; other belongs to
         * another Source, guarded is protected. */
        assert_text(c.out, "--- live/tasks/team-a/old\n"
                           "+++ file/tasks/team-a/old\n"
                           "@@ -1,14 +0,0 @@\n"
                           "-apiVersion: berth/v1\n"
                           "-kind: Task\n"
                           "-metadata:\n"
                           "-  name: old\n"
                           "-  namespace: team-a\n"
                           "-spec:\n"
                           "-  image: busybox\n"
                           "-  imagePullPolicy: IfNotPresent\n"
                           "-  restartPolicy: Never\n"
                           "-  backoffLimit: 6\n"
                           "-  backoff:\n"
                           "-    initialSeconds: 10\n"
                           "-    factor: 2\n"
                           "-    maxSeconds: 300\n");

        for (size_t i = 0; i < nlists; i++)
                free(lists[i]);

        /* The Source does not prune. */
        free(src);
        src = str_printf("{\"apiVersion\":\"berth/v1\",\"kind\":\"Source\",\"metadata\":{\"name\":"
                         "\"site\",\"namespace\":\"ops\"},\"spec\":{\"path\":\"/srv/site\","
                         "\"targetNamespace\":\"team-a\",\"prune\":false}}");
        fake_reset(f);
        fake_route(f, "GET", SRC_PATH, 200, src);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/team-a/tasks/kept", 200, kept);
        run(&c, "--server", f->url, "-n", "ops", "diff", "-f", dir, "--prune", "--source", "site",
            NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "");
        assert_non_null(strstr(c.err, "source/site has spec.prune false"));

        /* No such Source. */
        fake_reset(f);
        run(&c, "--server", f->url, "-n", "ops", "diff", "-f", dir, "--prune", "--source", "site",
            NULL);
        assert_int_equal(c.rc, 2);
        assert_string_equal(c.err, "Error from server (NotFound): sources \"site\" not found\n");
        unlink(path);
        rmdir(dir);
        capture_release(&c);
}

/* ---- berth sync ------------------------------------------------------------------------ */

static char *site_with(const char *status_patch)
{
        json_t *o = load(site);
        json_t *patch = load(status_patch);
        json_object_update(json_object_get(o, "status"), patch);
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(patch);
        json_decref(o);
        return s;
}

static void test_sync_command(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        _cleanup_free_ char *done =
            site_with("{\"lastSyncTime\":\"2999-01-01T00:00:00Z\","
                      "\"lastSyncRequest\":\"@annotation:berth/sync-requested@\","
                      "\"errors\":[],\"conflicts\":[],"
                      "\"lastPrune\":null,\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
                      "\"reason\":\"Synced\"}]}");
        _cleanup_free_ char *ev = str_printf("{\"type\":\"MODIFIED\",\"object\":%s}\n", done);
        int64_t before = time_now_ms() / 1000 * 1000;

        fake_reset(f);
        fake_route(f, "GET", SRC_PATH, 200, site);
        fake_route(f, "PUT", SRC_PATH, 200, site);
        fake_route(f, "GET", SRC_WATCH, 200, ev);
        run(&c, "--server", f->url, "-n", "ops", "sync", "source/site", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.err, "");
        assert_string_equal(c.out,
                            "source/site synced: revision 3f2a9c01d4e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3 "
                            "(git), 12 objects (Service 2, Task 10) from 5 files\n");
        {
                json_t *body = load(f->bodies[1]);
                int64_t at = 0;

                assert_string_equal(f->paths[1], SRC_PATH);
                assert_int_equal(time_parse_rfc3339(json_string_value(json_object_get(
                                                        json_path(body, "metadata.annotations"),
                                                        SOURCE_ANNOTATION_SYNC)),
                                                    &at),
                                 0);
                assert_true(at >= before && at <= time_now_ms());
                assert_null(json_object_get(json_path(body, "metadata.annotations"),
                                            SOURCE_ANNOTATION_FORCE_PRUNE));
                assert_string_equal(json_path_string(body, "metadata.resourceVersion"), "5");
                json_decref(body);
        }

        /* --force-prune: both annotations, the same time. */
        fake_reset(f);
        fake_route(f, "GET", SRC_PATH, 200, site);
        fake_route(f, "PUT", SRC_PATH, 200, site);
        fake_route(f, "GET", SRC_WATCH, 200, ev);
        run(&c, "--server", f->url, "-n", "ops", "sync", "src", "site", "--force-prune", NULL);
        assert_int_equal(c.rc, 0);
        {
                json_t *body = load(f->bodies[1]);
                const json_t *ann = json_path(body, "metadata.annotations");

                assert_string_equal(
                    json_string_value(json_object_get(ann, SOURCE_ANNOTATION_SYNC)),
                    json_string_value(json_object_get(ann, SOURCE_ANNOTATION_FORCE_PRUNE)));
                json_decref(body);
        }

        /* A sync with files in error: exit 1, the errors printed. */
        _cleanup_free_ char *bad =
            site_with("{\"lastSyncTime\":\"2999-01-01T00:00:00Z\","
                      "\"lastSyncRequest\":\"@annotation:berth/sync-requested@\"}");
        _cleanup_free_ char *ev_bad = str_printf("{\"type\":\"MODIFIED\",\"object\":%s}\n", bad);
        fake_reset(f);
        fake_route(f, "GET", SRC_PATH, 200, site);
        fake_route(f, "PUT", SRC_PATH, 200, site);
        fake_route(f, "GET", SRC_WATCH, 200, ev_bad);
        run(&c, "--server", f->url, "-n", "ops", "sync", "source/site", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.out, "errors:\n  broken.yaml:7:3: spec.image: required\n"));
        assert_non_null(strstr(c.out, "not ready: SyncFailed: 2 files in error\n"));

        /* No sync comes: --timeout. */
        fake_reset(f);
        fake_route(f, "GET", SRC_PATH, 200, site);
        fake_route(f, "PUT", SRC_PATH, 200, site);
        fake_hold(f, SRC_WATCH, "", 3000);
        int64_t t0 = time_mono_ms();
        run(&c, "--server", f->url, "-n", "ops", "sync", "source/site", "--timeout=300ms", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: timed out after 300ms waiting for source/site to sync "
                                   "(last sync: 2026-12-06T10:59:00Z)\n");
        assert_true(time_mono_ms() - t0 < 2500);

        /* --timeout 0: only the request. */
        fake_reset(f);
        fake_route(f, "GET", SRC_PATH, 200, site);
        fake_route(f, "PUT", SRC_PATH, 200, site);
        run(&c, "--server", f->url, "-n", "ops", "sync", "source/site", "--timeout", "0", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "source/site sync requested\n");
        assert_int_equal(f->requests, 2);

        /* Missing; not a Source; bad flags. */
        fake_reset(f);
        run(&c, "--server", f->url, "-n", "ops", "sync", "source/site", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (NotFound): sources \"site\" not found\n");
        run(&c, "--server", f->url, "sync", "task/x", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "sync works on sources only, not tasks"));
        run(&c, "--server", f->url, "sync", NULL);
        assert_int_equal(c.rc, 2);
        run(&c, "--server", f->url, "sync", "site", "--timeout", "soon", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "invalid --timeout \"soon\""));
        run(&c, "sync", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Usage:\n  berth sync source/NAME [--force-prune]"));
        capture_release(&c);
}

int main(void)
{
        const struct CMUnitTest pure[] = {
            cmocka_unit_test(test_diff_basic),      cmocka_unit_test(test_diff_hunks),
            cmocka_unit_test(test_diff_limits),     cmocka_unit_test(test_normalize),
            cmocka_unit_test(test_describe_source), cmocka_unit_test(test_source_columns),
            cmocka_unit_test(test_sync_print),
        };
        const struct CMUnitTest served[] = {
            cmocka_unit_test(test_diff_command),
            cmocka_unit_test(test_diff_usage),
            cmocka_unit_test(test_diff_prune),
            cmocka_unit_test(test_sync_command),
        };
        cli_test_env();
        unsetenv("NO_COLOR");
        int failed = cmocka_run_group_tests_name("source-pure", pure, NULL, NULL);
        failed += cmocka_run_group_tests_name("source-served", served, fake_setup, fake_teardown);
        return failed;
}
