/* Unit tests of `berth apply` in batches: where batches end (documents and
 * bytes), how many requests a large apply makes and what each holds, results
 * printed batch by batch, the stop at a failed batch, and validation of
 * every document before the first batch. Against the fake berthd. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "cli-internal.h"
#include "cli-test.h"

#define APPLY_PATH "/apis/berth/v1/apply"

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

/* n Sources named <prefix>-<i> in one file; caller frees. */
static char *sources_yaml(const char *prefix, size_t n)
{
        struct buf b;

        buf_init(&b, 16 * 1024 * 1024);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(buf_printf(&b,
                                            "%sapiVersion: berth/v1\nkind: Source\n"
                                            "metadata: {name: %s-%zu}\n"
                                            "spec: {path: /srv/m/%zu, suspend: true}\n",
                                            i ? "---\n" : "", prefix, i, i),
                                 0);
        return buf_steal(&b);
}

/* A directory under the fake's with files of documents; removed by cleanup. */
struct fixture {
        char dir[160];
        char files[8][200];
        size_t n;
};

static void fixture_init(struct fixture *x, struct fake *f, const char *name)
{
        *x = (struct fixture){0};
        snprintf(x->dir, sizeof(x->dir), "%s/%s", f->dir, name);
        assert_int_equal(mkdir(x->dir, 0700), 0);
}

static void fixture_add(struct fixture *x, const char *name, const char *text)
{
        assert_true(x->n < ARRAY_SIZE(x->files));
        snprintf(x->files[x->n], sizeof(x->files[0]), "%s/%s", x->dir, name);
        write_file(x->files[x->n++], text);
}

static void fixture_release(struct fixture *x)
{
        for (size_t i = 0; i < x->n; i++)
                unlink(x->files[i]);
        rmdir(x->dir);
}

static const char *const one_result =
    "{\"kind\":\"ApplyResult\",\"items\":[{\"kind\":\"Source\",\"namespace\":\"default\","
    "\"name\":\"x\",\"result\":\"created\"}]}";

/* ---- pure ------------------------------------------------------------------ */

static void test_batch_end(void **state)
{
        (void)state;
        size_t lens[10] = {10, 10, 10, 10, 10, 10, 10, 10, 10, 10};

        /* By count. */
        assert_int_equal(cli_apply_batch_end(lens, 10, 0, 4, 1000), 4);
        assert_int_equal(cli_apply_batch_end(lens, 10, 4, 4, 1000), 8);
        assert_int_equal(cli_apply_batch_end(lens, 10, 8, 4, 1000), 10);
        assert_int_equal(cli_apply_batch_end(lens, 10, 10, 4, 1000), 10);
        assert_int_equal(cli_apply_batch_end(lens, 10, 0, 500, 1000), 10);
        /* By bytes: 11, then 15 each ("---\n" and "\n" around the text). */
        assert_int_equal(cli_apply_batch_end(lens, 10, 0, 500, 11), 1);
        assert_int_equal(cli_apply_batch_end(lens, 10, 0, 500, 25), 1);
        assert_int_equal(cli_apply_batch_end(lens, 10, 0, 500, 26), 2);
        assert_int_equal(cli_apply_batch_end(lens, 10, 0, 500, 41), 3);
        /* A document larger than the cap still goes, alone. */
        lens[3] = 5000;
        assert_int_equal(cli_apply_batch_end(lens, 10, 0, 500, 100), 3);
        assert_int_equal(cli_apply_batch_end(lens, 10, 3, 500, 100), 4);
        assert_int_equal(cli_apply_batch_end(lens, 10, 4, 500, 100), 10);
}

/* ---- against the fake ------------------------------------------------------- */

/* 1,200 documents in two files: three requests of 500, 500 and 200, in
 * document order, each answered and printed before the next goes out. */
static void test_apply_in_batches(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        struct fixture x;
        _cleanup_free_ char *a = sources_yaml("a", 600), *b = sources_yaml("b", 600);

        fixture_init(&x, f, "batches");
        fixture_add(&x, "a.yaml", a);
        fixture_add(&x, "b.yaml", b);
        fake_reset(f);
        fake_route(f, "POST", APPLY_PATH, 200, one_result);
        run(&c, "--server", f->url, "apply", "-f", x.dir, NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.err, "");
        assert_int_equal(f->requests, 3);
        assert_int_equal(count(c.out, "source/x created\n"), 3);
        assert_int_equal(count(f->bodies[0], "\"kind\": \"Source\""), 500);
        assert_int_equal(count(f->bodies[1], "\"kind\": \"Source\""), 500);
        assert_int_equal(count(f->bodies[2], "\"kind\": \"Source\""), 200);
        assert_int_equal(count(f->bodies[0], "\n---\n"), 499);
        /* In order: a-0 first, a-599 and b-0 in the second, b-599 last. */
        assert_non_null(strstr(f->bodies[0], "\"name\": \"a-0\""));
        assert_non_null(strstr(f->bodies[1], "\"name\": \"a-599\""));
        assert_non_null(strstr(f->bodies[1], "\"name\": \"b-0\""));
        assert_non_null(strstr(f->bodies[2], "\"name\": \"b-599\""));
        assert_null(strstr(f->bodies[2], "\"name\": \"b-399\""));
        for (size_t i = 0; i < 3; i++)
                assert_string_equal(f->paths[i], APPLY_PATH);

        /* --dry-run and -n go to every batch. */
        fake_reset(f);
        fake_route(f, "POST", APPLY_PATH "?dryRun=true", 200, one_result);
        run(&c, "--server", f->url, "-n", "ops", "apply", "-f", x.dir, "--dry-run", NULL);
        assert_int_equal(c.rc, 0);
        assert_int_equal(f->requests, 3);
        assert_int_equal(count(c.out, "source/x created (dry run)\n"), 3);
        assert_int_equal(count(f->bodies[2], "\"namespace\": \"ops\""), 200);

        /* A small apply is one request, as before. */
        fake_reset(f);
        fake_route(f, "POST", APPLY_PATH, 200, one_result);
        run(&c, "--server", f->url, "apply", "-f", x.files[0], NULL);
        assert_int_equal(c.rc, 0);
        assert_int_equal(f->requests, 2); /* 600 documents: 500 + 100 */
        fixture_release(&x);
        capture_release(&c);
}

/* The second batch is refused: the third is never sent, and the message says
 * what was applied. */
static void test_apply_stops_at_failed_batch(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        struct fixture x;
        _cleanup_free_ char *a = sources_yaml("a", 600), *b = sources_yaml("b", 600);

        fixture_init(&x, f, "stops");
        fixture_add(&x, "a.yaml", a);
        fixture_add(&x, "b.yaml", b);
        fake_reset(f);
        fake_add(f, &(struct fake_route){.method = "POST",
                                         .path = APPLY_PATH,
                                         .status = 200,
                                         .content_type = "application/json",
                                         .body = one_result,
                                         .times = 1});
        fake_route(f, "POST", APPLY_PATH, 409,
                   "{\"kind\":\"Status\",\"code\":409,\"reason\":\"Conflict\",\"message\":\"apply "
                   "sources/a-700: the object kept changing (5 attempts); try again\"}");
        run(&c, "--server", f->url, "apply", "-f", x.dir, NULL);
        assert_int_equal(c.rc, 1);
        assert_int_equal(f->requests, 2);
        assert_string_equal(c.out, "source/x created\n");
        assert_string_equal(c.err,
                            "Error from server (Conflict): apply sources/a-700: the object kept "
                            "changing (5 attempts); try again\n"
                            "error: apply stopped at batch 2 of 3 (documents 501 to 1000): the "
                            "500 objects before it were applied, the 200 after it were not sent\n");

        /* A refused object in a batch's results stops it too. */
        fake_reset(f);
        fake_route(f, "POST", APPLY_PATH, 200,
                   "{\"kind\":\"ApplyResult\",\"items\":[{\"kind\":\"Source\",\"name\":\"a-0\","
                   "\"result\":\"error\",\"message\":\"owned by someone else\"}]}");
        run(&c, "--server", f->url, "apply", "-f", x.dir, NULL);
        assert_int_equal(c.rc, 1);
        assert_int_equal(f->requests, 1);
        assert_string_equal(c.err, "error: source/a-0: owned by someone else\n"
                                   "error: apply stopped at batch 1 of 3 (documents 1 to 500): "
                                   "the 0 objects before it were applied, the 700 after it were "
                                   "not sent\n");

        /* No server at all: the transport error, then where it stopped. */
        run(&c, "--server", "unix:///nonexistent/berth.sock", "apply", "-f", x.dir, NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "cannot connect to berthd"));
        assert_non_null(strstr(c.err, "apply stopped at batch 1 of 3"));
        fixture_release(&x);
        capture_release(&c);
}

/* One invalid document anywhere: nothing is sent. */
static void test_apply_validates_all_first(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        struct fixture x;
        _cleanup_free_ char *a = sources_yaml("a", 900);

        fixture_init(&x, f, "invalid");
        fixture_add(&x, "a.yaml", a);
        fixture_add(&x, "z.yaml",
                    "apiVersion: berth/v1\nkind: Source\nmetadata: {name: bad}\n"
                    "spec:\n  path: srv/x\n");
        fake_reset(f);
        fake_route(f, "POST", APPLY_PATH, 200, one_result);
        run(&c, "--server", f->url, "apply", "-f", x.dir, NULL);
        assert_int_equal(c.rc, 1);
        assert_int_equal(f->requests, 0);
        assert_string_equal(c.out, "");
        assert_non_null(strstr(c.err, "z.yaml:5:3: spec.path: invalid path \"srv/x\": must be "
                                      "absolute (start with /)"));

        /* A namespace contradicting -n, in the last document. */
        fixture_release(&x);
        fixture_init(&x, f, "invalid");
        fixture_add(&x, "a.yaml", a);
        fixture_add(&x, "z.yaml",
                    "apiVersion: berth/v1\nkind: Source\nmetadata: {name: z, namespace: ops}\n"
                    "spec: {path: /x}\n");
        run(&c, "--server", f->url, "-n", "dev", "apply", "-f", x.dir, NULL);
        assert_int_equal(c.rc, 1);
        assert_int_equal(f->requests, 0);
        assert_non_null(strstr(c.err, "the namespace of source/z is \"ops\""));
        fixture_release(&x);
        capture_release(&c);
}

/* Large documents: the byte cap, not the count, ends a batch. */
static void test_apply_byte_cap(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        struct fixture x;
        struct buf b;
        _cleanup_free_ char *big = malloc(700 * 1024 + 1);

        assert_non_null(big);
        memset(big, 'x', 700 * 1024);
        big[700 * 1024] = '\0';
        buf_init(&b, 16 * 1024 * 1024);
        for (int i = 0; i < 10; i++)
                assert_int_equal(buf_printf(&b,
                                            "%sapiVersion: berth/v1\nkind: Task\n"
                                            "metadata: {name: t%d, annotations: {big: %s}}\n"
                                            "spec: {image: busybox}\n",
                                            i ? "---\n" : "", i, big),
                                 0);
        fixture_init(&x, f, "bytes");
        _cleanup_free_ char *text = buf_steal(&b);
        fixture_add(&x, "big.yaml", text);
        fake_reset(f);
        fake_route(f, "POST", APPLY_PATH, 200, one_result);
        run(&c, "--server", f->url, "apply", "-f", x.dir, NULL);
        assert_int_equal(c.rc, 0);
        /* 700 KiB each: five make 3.5 MiB, six would pass 4 MiB. */
        assert_int_equal(f->requests, 2);
        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(count(f->bodies[i], "\"kind\": \"Task\""), 5);
                assert_true(strlen(f->bodies[i]) <= CLI_APPLY_BATCH_BYTES);
        }
        fixture_release(&x);
        capture_release(&c);
}

int main(void)
{
        const struct CMUnitTest pure[] = {
            cmocka_unit_test(test_batch_end),
        };
        const struct CMUnitTest served[] = {
            cmocka_unit_test(test_apply_in_batches),
            cmocka_unit_test(test_apply_stops_at_failed_batch),
            cmocka_unit_test(test_apply_validates_all_first),
            cmocka_unit_test(test_apply_byte_cap),
        };
        cli_test_env();
        unsetenv("NO_COLOR");
        int failed = cmocka_run_group_tests_name("apply-pure", pure, NULL, NULL);
        failed += cmocka_run_group_tests_name("apply-served", served, fake_setup, fake_teardown);
        return failed;
}
