/* Unit tests of the Secret kind in the manifests module: its fields at the
 * top level (no spec), every rule of docs/reference/secret.md with file,
 * line and field, and the Task fields that use Secrets (env valueFrom,
 * secret volumes) in a Task, a Workflow step, a CronTask and a Service. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "manifest-test.h"

#define HEAD                                                                                       \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: Secret\n"                                                                           \
        "metadata:\n"                                                                              \
        "  name: db\n"

/* Everything after HEAD starts at line 5. */
static void assert_secret_invalid(const char *tail, const char *expected)
{
        _cleanup_free_ char *yaml = str_printf(HEAD "%s", tail);

        assert_non_null(yaml);
        assert_invalid_as(yaml, "s.yaml", expected);
}

static void assert_secret_valid(const char *tail)
{
        _cleanup_free_ char *yaml = str_printf(HEAD "%s", tail);

        assert_non_null(yaml);
        assert_valid_as(yaml, "s.yaml");
}

static void test_kind(void **state)
{
        (void)state;
        const struct kind_info *k = kind_by_name("Secret");

        assert_non_null(k);
        assert_ptr_equal(kind_lookup("secrets"), k);
        assert_ptr_equal(kind_lookup("secret"), k);
        assert_string_equal(k->resource, "secrets");
        assert_true(k->namespaced);
        assert_null(k->check_spec);
        assert_null(k->default_spec);
        assert_null(k->finalizer);
        assert_non_null(k->check_object);
        assert_string_equal(k->columns[0].title, "TYPE");
        assert_string_equal(k->columns[0].fallback, "Opaque");
        assert_string_equal(k->columns[1].title, "DATA");
        assert_int_equal(k->columns[1].format, COLUMN_LENGTH);
        assert_string_equal(k->columns[2].title, "AGE");
        assert_null(k->columns[3].title);
}

static void test_valid(void **state)
{
        (void)state;
        assert_secret_valid("");
        assert_secret_valid("type: Opaque\n"
                            "data:\n"
                            "  password: aHVudGVyMg==\n"
                            "  tls.crt: LS0tLS1CRUdJTg\n" /* padding may be left out */
                            "  empty: \"\"\n"
                            "stringData:\n"
                            "  password: hunter2\n" /* in both: stringData wins */
                            "  config.yaml: |\n"
                            "    a: 1\n");
        assert_secret_valid("type: kubernetes.io/basic-auth\ndata: {}\nstringData: null\n");
        /* A stored Secret read back: sealed values. */
        assert_secret_valid("data:\n  password: enc:v1:0a1b2c3d:AAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
        {
                /* 64 keys, a value of exactly 1 MiB. */
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 2 * 1024 * 1024);
                assert_int_equal(buf_append_str(&b, "stringData:\n"), 0);
                for (int i = 0; i < SECRET_KEYS_MAX - 1; i++)
                        assert_int_equal(buf_printf(&b, "  key-%d: v\n", i), 0);
                assert_int_equal(buf_append_str(&b, "  big: \""), 0);
                for (int i = 0; i < SECRET_VALUE_MAX - 2000; i++)
                        assert_int_equal(buf_append(&b, "x", 1), 0);
                assert_int_equal(buf_append_str(&b, "\"\n"), 0);
                assert_secret_valid(b.data);
        }
}

static void test_invalid(void **state)
{
        (void)state;
        assert_secret_invalid("spec:\n  data: {}\n",
                              "s.yaml:5:1: spec: not allowed: a Secret has no spec, its fields "
                              "(type, data, stringData) sit at the top level beside metadata");
        assert_secret_invalid("datta: {}\n",
                              "s.yaml:5:1: datta: unknown field, did you mean data?");
        assert_secret_invalid("data:\n  password: hunter2!\n",
                              "s.yaml:6:3: data.password: not valid base64 (plain text goes in "
                              "stringData: stringData.password)");
        assert_secret_invalid("data:\n  password: <redacted>\n",
                              "s.yaml:6:3: data.password: not valid base64: \"<redacted>\" is "
                              "what a read shows without ?showValues=true; write the value "
                              "itself");
        assert_secret_invalid("data:\n  port: 5432\n",
                              "s.yaml:6:3: data.port: must be a base64 string (plain text goes "
                              "in stringData)");
        assert_secret_invalid("stringData:\n  port: 5432\n",
                              "s.yaml:6:3: stringData.port: must be a string (quote numbers and "
                              "booleans)");
        assert_secret_invalid("stringData:\n  a b: x\n  ..hidden: x\n  \"..\": x\n",
                              "s.yaml:6:3: stringData.a b: invalid key \"a b\": must be at most "
                              "253 letters, digits, '-', '_' or '.', and neither \".\" nor \"..\" "
                              "nor start with \"..\" (a key names a file in a secret volume)\n"
                              "s.yaml:7:3: stringData...hidden: invalid key \"..hidden\": must "
                              "be at most 253 letters, digits, '-', '_' or '.', and neither \".\" "
                              "nor \"..\" nor start with \"..\" (a key names a file in a secret "
                              "volume)\n"
                              "s.yaml:8:3: stringData...: invalid key \"..\": must be at most 253 "
                              "letters, digits, '-', '_' or '.', and neither \".\" nor \"..\" nor "
                              "start with \"..\" (a key names a file in a secret volume)");
        assert_secret_invalid("type: \"\"\n", "s.yaml:5:1: type: must be 1 to 253 printable "
                                              "characters without spaces, such as \"Opaque\"");
        assert_secret_invalid("data: [a]\n", "s.yaml:5:1: data: must be an object");
        assert_secret_invalid(
            "data:\n  password: enc:v1:0A1B2C3D:AAAA\n",
            "s.yaml:6:3: data.password: not valid base64 (plain text goes in stringData: "
            "stringData.password)");
        {
                /* 65 keys. */
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 64 * 1024);
                assert_int_equal(buf_append_str(&b, "data:\n"), 0);
                for (int i = 0; i < SECRET_KEYS_MAX; i++)
                        assert_int_equal(buf_printf(&b, "  key-%d: eA==\n", i), 0);
                assert_int_equal(buf_append_str(&b, "stringData:\n  more: x\n"), 0);
                assert_secret_invalid(b.data, "s.yaml:5:1: data: at most 64 keys, found 65 (data "
                                              "and stringData together)");
        }
}

/* A value over SECRET_VALUE_MAX: an error the API tells from the others
 * (413 instead of 422). The document limit is larger only through JSON,
 * so the object is built here. */
static void test_too_large(void **state)
{
        (void)state;
        _cleanup_free_ char *big = malloc(SECRET_VALUE_MAX + 2);
        _cleanup_(field_errors_release) struct field_errors errs = {};
        _cleanup_(field_errors_release) struct field_errors other = {};

        assert_non_null(big);
        memset(big, 'x', SECRET_VALUE_MAX + 1);
        big[SECRET_VALUE_MAX + 1] = '\0';
        _cleanup_json_ json_t *obj =
            json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "berth/v1", "kind", "Secret",
                      "metadata", "name", "big", "stringData", "blob", big);
        assert_int_equal(manifest_validate(obj, NULL, &errs), -EINVAL);
        assert_int_equal(errs.n, 1);
        assert_string_equal(errs.items[0].field, "stringData.blob");
        assert_string_equal(errs.items[0].message,
                            "too large: 1048577 bytes, a value may have at most 1048576 bytes");
        assert_true(field_errors_too_large(&errs));

        /* base64 of 1 MiB + 3 bytes in data. */
        _cleanup_free_ char *b64 = base64_encode(big, SECRET_VALUE_MAX + 1);
        json_object_del(obj, "stringData");
        json_object_set_new(obj, "data", json_pack("{s:s}", "blob", b64));
        field_errors_release(&errs);
        assert_int_equal(manifest_validate(obj, NULL, &errs), -EINVAL);
        assert_true(field_errors_too_large(&errs));
        assert_string_equal(errs.items[0].field, "data.blob");

        /* Other errors are not. */
        json_object_set_new(obj, "data", json_pack("{s:s}", "blob", "!"));
        assert_int_equal(manifest_validate(obj, NULL, &other), -EINVAL);
        assert_false(field_errors_too_large(&other));
        assert_false(field_errors_too_large(NULL));
}

static void test_key_and_sealed_shapes(void **state)
{
        (void)state;
        assert_true(secret_key_is_valid("password"));
        assert_true(secret_key_is_valid("tls.crt"));
        assert_true(secret_key_is_valid(".hidden"));
        assert_true(secret_key_is_valid("A_b-9"));
        assert_false(secret_key_is_valid(""));
        assert_false(secret_key_is_valid(NULL));
        assert_false(secret_key_is_valid("."));
        assert_false(secret_key_is_valid(".."));
        assert_false(secret_key_is_valid("..x"));
        assert_false(secret_key_is_valid("a/b"));
        char long_key[SECRET_KEY_LEN_MAX + 2];
        memset(long_key, 'k', sizeof(long_key) - 1);
        long_key[sizeof(long_key) - 1] = '\0';
        assert_false(secret_key_is_valid(long_key));
        long_key[SECRET_KEY_LEN_MAX] = '\0';
        assert_true(secret_key_is_valid(long_key));

        assert_true(secret_value_is_sealed("enc:v1:0a1b2c3d:AAAA"));
        assert_false(secret_value_is_sealed("enc:v1:0a1b2c3d:"));
        assert_false(secret_value_is_sealed("enc:v1:0a1b2c3:AAAA"));
        assert_false(secret_value_is_sealed("enc:v2:0a1b2c3d:AAAA"));
        assert_false(secret_value_is_sealed("enc:v1:0a1b2c3d:AA AA"));
        assert_false(secret_value_is_sealed(NULL));
}

static void test_defaults_leave_it(void **state)
{
        (void)state;
        _cleanup_(manifest_list_release) struct manifest_list list = {};

        parse_ok_as(HEAD "stringData: {a: b}\n", "s.yaml", &list);
        manifest_apply_defaults(list.docs[0].object);
        assert_string_equal(json_path_string(list.docs[0].object, "metadata.namespace"), "default");
        assert_null(json_object_get(list.docs[0].object, "spec"));
}

/* ---- Tasks that use Secrets -------------------------------------------- */

#define TASK_HEAD                                                                                  \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: Task\n"                                                                             \
        "metadata:\n"                                                                              \
        "  name: t\n"                                                                              \
        "spec:\n"                                                                                  \
        "  image: busybox\n"

static void test_task_env_from_secret(void **state)
{
        (void)state;
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct task_spec spec = {0};
        struct berth_error err = {0};

        parse_ok_as(TASK_HEAD "  env:\n"
                              "    - name: DB_PASSWORD\n"
                              "      valueFrom: {secretKeyRef: {name: db, key: password}}\n"
                              "    - name: PLAIN\n"
                              "      value: x\n",
                    "t.yaml", &list);
        assert_int_equal(task_spec_decode(list.docs[0].object, &spec, &err), 0);
        assert_int_equal(spec.n_env, 2);
        assert_string_equal(spec.env[0].name, "DB_PASSWORD");
        assert_string_equal(spec.env[0].secret, "db");
        assert_string_equal(spec.env[0].secret_key, "password");
        assert_string_equal(spec.env[0].value, "");
        assert_null(spec.env[1].secret);
        assert_string_equal(spec.env[1].value, "x");
        task_spec_release(&spec);

        assert_invalid_as(TASK_HEAD "  env:\n"
                                    "    - name: A\n"
                                    "      value: x\n"
                                    "      valueFrom: {secretKeyRef: {name: db, key: k}}\n",
                          "t.yaml",
                          "t.yaml:8:7: spec.env[0]: only one of value or valueFrom may be set");
        assert_invalid_as(TASK_HEAD "  env:\n"
                                    "    - name: A\n"
                                    "      valueFrom: {secretKeyRef: {name: Db, key: \"a b\"}}\n"
                                    "    - name: B\n"
                                    "      valueFrom: {configMapKeyRef: {}}\n",
                          "t.yaml",
                          "t.yaml:9:34: spec.env[0].valueFrom.secretKeyRef.name: invalid name "
                          "\"Db\": must be a DNS-1123 label: at most 63 lowercase letters, digits "
                          "or '-', starting and ending with a letter or digit\n"
                          "t.yaml:9:44: spec.env[0].valueFrom.secretKeyRef.key: invalid key \"a "
                          "b\": a Secret's keys are letters, digits, '-', '_' and '.'\n"
                          "t.yaml:11:7: spec.env[1].valueFrom.secretKeyRef: required\n"
                          "t.yaml:11:19: spec.env[1].valueFrom.configMapKeyRef: unknown field");
}

static void test_task_secret_volume(void **state)
{
        (void)state;
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct task_spec spec = {0};
        struct berth_error err = {0};

        parse_ok_as(TASK_HEAD "  volumes:\n"
                              "    - {secret: db, mountPath: /run/secrets/db}\n"
                              "    - {secret: tls, mountPath: /tls, readOnly: true}\n",
                    "t.yaml", &list);
        assert_int_equal(task_spec_decode(list.docs[0].object, &spec, &err), 0);
        assert_int_equal(spec.n_volumes, 2);
        assert_int_equal(spec.volumes[0].type, VOLUME_SECRET);
        assert_string_equal(spec.volumes[0].source, "db");
        assert_string_equal(spec.volumes[0].mount_path, "/run/secrets/db");
        assert_true(spec.volumes[0].read_only);
        assert_true(spec.volumes[1].read_only);
        task_spec_release(&spec);

        assert_invalid_as(TASK_HEAD "  volumes:\n"
                                    "    - {secret: db, mountPath: /s, readOnly: false}\n"
                                    "    - {secret: db, hostPath: /x, mountPath: /t}\n"
                                    "    - {secret: Nope, mountPath: /u}\n",
                          "t.yaml",
                          "t.yaml:8:35: spec.volumes[0].readOnly: a secret volume is always "
                          "read-only\n"
                          "t.yaml:9:7: spec.volumes[1]: only one of hostPath, volume, tmpfs or "
                          "secret may be set, found hostPath and secret\n"
                          "t.yaml:10:8: spec.volumes[2].secret: invalid name \"Nope\": must be "
                          "a DNS-1123 label: at most 63 lowercase letters, digits or '-', "
                          "starting and ending with a letter or digit");
}

/* Workflow steps, CronTask templates and Service templates hold Task specs:
 * they decode through the same checks. */
static void test_embedded_task_specs(void **state)
{
        (void)state;
        assert_valid_as("apiVersion: berth/v1\nkind: Workflow\nmetadata: {name: w}\nspec:\n"
                        "  steps:\n"
                        "    - name: a\n"
                        "      task:\n"
                        "        image: busybox\n"
                        "        env: [{name: P, valueFrom: {secretKeyRef: {name: db, key: p}}}]\n"
                        "        volumes: [{secret: db, mountPath: /s}]\n",
                        "w.yaml");
        assert_valid_as("apiVersion: berth/v1\nkind: CronTask\nmetadata: {name: c}\nspec:\n"
                        "  schedule: \"@hourly\"\n"
                        "  taskTemplate:\n"
                        "    spec:\n"
                        "      image: busybox\n"
                        "      env: [{name: P, valueFrom: {secretKeyRef: {name: db, key: p}}}]\n"
                        "      volumes: [{secret: db, mountPath: /s}]\n",
                        "c.yaml");
        assert_valid_as("apiVersion: berth/v1\nkind: Service\nmetadata: {name: s}\nspec:\n"
                        "  replicas: 1\n"
                        "  template:\n"
                        "    image: busybox\n"
                        "    env: [{name: P, valueFrom: {secretKeyRef: {name: db, key: p}}}]\n"
                        "    volumes: [{secret: db, mountPath: /s}]\n",
                        "s.yaml");
        assert_invalid_as("apiVersion: berth/v1\nkind: Workflow\nmetadata: {name: w}\nspec:\n"
                          "  steps:\n"
                          "    - name: a\n"
                          "      task:\n"
                          "        image: busybox\n"
                          "        env: [{name: P, valueFrom: {secretKeyRef: {key: p}}}]\n",
                          "w.yaml",
                          "w.yaml:9:37: spec.steps[0].task.env[0].valueFrom.secretKeyRef.name: "
                          "required");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_kind),
            cmocka_unit_test(test_valid),
            cmocka_unit_test(test_invalid),
            cmocka_unit_test(test_too_large),
            cmocka_unit_test(test_key_and_sealed_shapes),
            cmocka_unit_test(test_defaults_leave_it),
            cmocka_unit_test(test_task_env_from_secret),
            cmocka_unit_test(test_task_secret_volume),
            cmocka_unit_test(test_embedded_task_specs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
