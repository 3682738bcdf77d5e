/* api: create, replace, delete and apply against the store and the object cache.
 *
 * Stored objects never carry metadata.resourceVersion: it is the key's mod
 * revision, which the cache writes into the objects it hands out. Users never
 * write status nor server-set metadata (uid, generation, creationTimestamp,
 * deletionTimestamp, finalizers): create fills them, replace keeps the stored
 * ones. Every write is a compare-and-swap on the mod revision read just before.
 */
#include "admission.h"
#include "api-internal.h"

#include "secrets.h"

#include <inttypes.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "apply.h"

#define BODY_SOURCE "body"

/* metadata of obj, created when absent. Borrowed. */
static json_t *metadata_of(json_t *obj)
{
        json_t *m = json_object_get(obj, "metadata");
        if (json_is_object(m))
                return m;
        m = json_object();
        if (!m || json_object_set_new(obj, "metadata", m) < 0)
                return NULL;
        return m;
}

static int invalid_message(struct api_error *err, const char *what, const struct field_errors *errs,
                           const char *prefix)
{
        _cleanup_buf_ struct buf b;

        buf_init(&b, sizeof(err->message) - 1);
        (void)buf_printf(&b, "%s is invalid: ", what);
        for (size_t i = 0; i < errs->n; i++)
                (void)buf_printf(&b, "%s%s%s: %s", i ? "; " : "", prefix ? prefix : "",
                                 errs->items[i].field, errs->items[i].message);
        /* A Secret value over its limit is too large rather than wrong. */
        int rc = field_errors_too_large(errs)
                     ? api_error_set_reason(err, 413, "RequestEntityTooLarge", "%s",
                                            b.data ? b.data : what)
                     : api_error_set_reason(err, 422, "Invalid", "%s", b.data ? b.data : what);
        if (api_error_add_details(err, errs, prefix) < 0)
                return api_error_set(err, 500, "out of memory");
        return rc;
}

/* Where field is in the document, for an error on it. */
static void position_of(const json_t *positions, const char *field, int *line, int *column)
{
        const json_t *pos = json_object_get(positions, field);

        *line = (int)json_integer_value(json_array_get(pos, 0));
        *column = (int)json_integer_value(json_array_get(pos, 1));
}

static char *roots_text(const char *const *roots, size_t n)
{
        struct buf b;

        buf_init(&b, 1024);
        for (size_t i = 0; i < n; i++)
                (void)buf_printf(&b, "%s%s", i ? ", " : "", roots[i]);
        return b.data ? b.data : strdup("");
}

/* A Workflow's build steps: each context must resolve to a directory inside
 * a --build-root. Appends to errs; -EINVAL when it did. */
static int check_build_contexts(const struct api_objects *o, const json_t *obj,
                                const json_t *positions, struct field_errors *errs)
{
        const json_t *step;
        size_t i;
        bool bad = false;

        json_array_foreach(json_path(obj, "spec.steps"), i, step)
        {
                const char *context = json_path_string(step, "build.context");
                _cleanup_free_ char *real = NULL, *roots = NULL;
                char field[64];
                int line, column, r;

                if (!context)
                        continue;
                snprintf(field, sizeof(field), "spec.steps[%zu].build.context", i);
                position_of(positions, field, &line, &column);
                if (o->n_build_roots == 0) {
                        field_errors_add(errs, field, line, column,
                                         "build steps are disabled: berthd runs without "
                                         "--build-root");
                        bad = true;
                        continue;
                }
                r = dir_resolve_within(context, o->build_roots, o->n_build_roots, &real);
                if (r == 0)
                        continue;
                bad = true;
                roots = roots_text(o->build_roots, o->n_build_roots);
                if (r == -EPERM)
                        field_errors_add(errs, field, line, column,
                                         "%s is outside the directories berthd may build from "
                                         "(--build-root %s)",
                                         context, roots ? roots : "");
                else
                        field_errors_add(errs, field, line, column, "%s: %s", context,
                                         strerror(-r));
        }
        return bad ? -EINVAL : 0;
}

/* The admission policy (admission.h) for obj, with the Policy of its
 * namespace as the cache has it now (a Policy applied in the same request
 * counts only from the next one). -EINVAL with errors appended when it is
 * refused; a Policy that does not decode admits nothing. */
static int admit(const struct api_objects *o, const json_t *obj, const json_t *positions,
                 struct field_errors *errs)
{
        const char *ns = json_path_string(obj, "metadata.namespace");
        _cleanup_free_ char *key =
            object_key(o->prefix, "policies", ns ? ns : "default", POLICY_NAME);
        _cleanup_json_ json_t *held = key ? object_cache_get(o->cache, key, NULL) : NULL;
        struct policy_spec policy;
        struct berth_error err = {0};

        if (!key)
                return -ENOMEM;
        if (held && policy_spec_decode(held, &policy, &err) < 0) {
                field_errors_add(errs, "metadata.namespace", 0, 0,
                                 "Policy %s/%s cannot be read: %s", ns ? ns : "default",
                                 POLICY_NAME, err.message);
                return -EINVAL;
        }
        return admission_check_object(o->admission, held ? &policy : NULL, obj, positions, errs);
}

/* Checks that need berthd's configuration: a Source's spec.path must lie
 * inside a --source-root (when berthd knows any) and, if it exists, be a
 * directory; a Workflow's build contexts inside a --build-root. Appends to
 * errs; -EINVAL when it did. */
static int check_configured(const struct api_objects *o, const json_t *obj, const json_t *positions,
                            struct field_errors *errs)
{
        if (o->admission && admit(o, obj, positions, errs) < 0)
                return -EINVAL;
        if (streq(json_string_value(json_object_get(obj, "kind")), "Workflow"))
                return check_build_contexts(o, obj, positions, errs);

        const char *path = json_path_string(obj, "spec.path");
        int line, column;
        struct stat st;
        bool inside = o->n_source_roots == 0;

        if (!streq(json_string_value(json_object_get(obj, "kind")), "Source") || !path)
                return 0;
        position_of(positions, "spec.path", &line, &column);
        for (size_t i = 0; !inside && i < o->n_source_roots; i++) {
                const char *root = o->source_roots[i];
                size_t n = strlen(root);
                while (n > 1 && root[n - 1] == '/')
                        n--;
                inside = strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
        }
        if (!inside) {
                _cleanup_free_ char *roots = roots_text(o->source_roots, o->n_source_roots);
                field_errors_add(errs, "spec.path", line, column,
                                 "%s is outside the directories berthd may read sources from (%s)",
                                 path, roots ? roots : "");
                return -EINVAL;
        }
        if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
                field_errors_add(errs, "spec.path", line, column, "%s is not a directory", path);
                return -EINVAL;
        }
        return 0;
}

/* A copy of the request's object with namespace (and name) filled from the
 * path, validated, checked to belong at this path and defaulted. */
static int check_incoming(const struct api_objects *o, const struct kind_info *kind, const char *ns,
                          const char *name, const struct manifest_doc *doc, json_t **ret,
                          struct api_error *err)
{
        _cleanup_json_ json_t *obj = json_deep_copy(doc->object);
        _cleanup_(field_errors_release) struct field_errors errs = {0};

        if (!obj)
                return api_error_set(err, 500, "out of memory");
        if (name && name[0] && manifest_generates_name(obj)) {
                const json_t *pos = json_object_get(doc->positions, "metadata.generateName");
                if (field_errors_add(&errs, "metadata.name",
                                     (int)json_integer_value(json_array_get(pos, 0)),
                                     (int)json_integer_value(json_array_get(pos, 1)),
                                     "required: a replace names the object it replaces; "
                                     "generateName is only for create") < 0)
                        return api_error_set(err, 500, "out of memory");
                _cleanup_free_ char *what = str_printf("%s \"%s\"", kind->kind, name);
                return invalid_message(err, what ? what : kind->kind, &errs, NULL);
        }
        json_t *m = json_object_get(obj, "metadata");
        if (json_is_object(m)) {
                if (ns && ns[0] && !json_object_get(m, "namespace"))
                        json_object_set_new(m, "namespace", json_string(ns));
                if (name && name[0] && !json_object_get(m, "name"))
                        json_object_set_new(m, "name", json_string(name));
        }
        if (manifest_validate(obj, doc->positions, &errs) < 0 ||
            check_configured(o, obj, doc->positions, &errs) < 0) {
                const char *oname = json_path_string(obj, "metadata.name");
                _cleanup_free_ char *what = str_printf("%s \"%s\"", kind->kind, oname ? oname : "");
                return invalid_message(err, what ? what : kind->kind, &errs, NULL);
        }

        const char *okind = json_string_value(json_object_get(obj, "kind"));
        if (kind_lookup(okind) != kind)
                return api_error_set(err, 400,
                                     "the kind of the object (%s) does not match the resource "
                                     "on the request (%s)",
                                     okind, kind->resource);
        const char *ons = json_path_string(obj, "metadata.namespace");
        if (ns && ns[0] && ons && !streq(ons, ns))
                return api_error_set(err, 400,
                                     "the namespace of the object (%s) does not match the "
                                     "namespace on the request (%s)",
                                     ons, ns);
        const char *oname = json_path_string(obj, "metadata.name");
        if (name && name[0] && !streq(oname, name))
                return api_error_set(err, 400,
                                     "the name of the object (%s) does not match the name on "
                                     "the request (%s)",
                                     oname ? oname : "", name);
        manifest_apply_defaults(obj);
        *ret = TAKE_PTR(obj);
        return 0;
}

/* The reply to a write: the object as the cache has it once it caught up
 * with rev (read your writes); if it does not in time, the object we wrote
 * with its revision. */
static int read_back(struct api_objects *o, const char *key, const json_t *written, int64_t rev,
                     json_t **ret, struct api_error *err)
{
        int rc = object_cache_wait_revision(o->cache, rev, o->wait_ms);
        if (rc == 0) {
                int64_t mod = 0;
                json_t *c = object_cache_get(o->cache, key, &mod);
                if (c && mod >= rev) {
                        *ret = c;
                        return 0;
                }
                json_decref(c);
        } else {
                log_warn("cache did not catch up: %s key=%s revision=%" PRId64, strerror(-rc), key,
                         rev);
        }
        json_t *out = object_normalize(written);
        if (!out)
                return api_error_set(err, 500, "out of memory");
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRId64, rev);
        json_object_set_new(json_object_get(out, "metadata"), "resourceVersion", json_string(buf));
        *ret = out;
        return 0;
}

static int load_current(const struct store_kv *kv, json_t **ret, struct api_error *err)
{
        struct berth_error serr = {0};

        if (object_load(kv, ret, &serr) < 0)
                return api_error_set(err, 500, "%s", serr.message);
        return 0;
}

int api_parse_one(const char *body, size_t len, struct manifest_list *ret, struct api_error *err)
{
        struct manifest_list list = {0};
        struct berth_error perr = {0};

        if (manifest_parse_buffer(body ? body : "", len, BODY_SOURCE, &list, &perr) < 0)
                return api_error_set(err, 400, "%s", perr.message);
        if (list.n != 1) {
                size_t n = list.n;
                manifest_list_release(&list);
                if (n == 0)
                        return api_error_set(err, 400, "the request body holds no object");
                return api_error_set(err, 400,
                                     "the request body holds %zu objects; use "
                                     "/apis/berth/v1/apply for several",
                                     n);
        }
        *ret = list;
        return 0;
}

int api_name_suffix_random(char *out, void *userdata)
{
        const size_t n = strlen(MANIFEST_GENERATED_ALPHABET);
        /* Bytes from limit on would make the first letters likelier. */
        const unsigned limit = 256 - 256 % n;
        size_t len = 0;

        (void)userdata;
        while (len < MANIFEST_GENERATED_SUFFIX_LEN) {
                unsigned char raw[16];
                ssize_t got = getrandom(raw, sizeof(raw), 0);

                if (got < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (ssize_t i = 0; i < got && len < MANIFEST_GENERATED_SUFFIX_LEN; i++)
                        if (raw[i] < limit)
                                out[len++] = MANIFEST_GENERATED_ALPHABET[raw[i] % n];
        }
        out[len] = '\0';
        return 0;
}

/* Sets metadata.name to generateName and a new random suffix. */
static int generate_name(struct api_objects *o, json_t *obj, struct api_error *err)
{
        api_name_suffix_fn suffix = o->name_suffix ? o->name_suffix : api_name_suffix_random;
        char rnd[MANIFEST_GENERATED_SUFFIX_LEN + 1];
        int rc = suffix(rnd, o->name_suffix_data);

        if (rc < 0)
                return api_error_set(err, 500, "cannot pick a name: %s", strerror(-rc));
        _cleanup_free_ char *name =
            str_printf("%s%s", json_path_string(obj, "metadata.generateName"), rnd);
        if (!name ||
            json_object_set_new(json_object_get(obj, "metadata"), "name", json_string(name)) < 0)
                return api_error_set(err, 500, "out of memory");
        return 0;
}

static bool is_secret(const struct kind_info *kind)
{
        return streq(kind->kind, "Secret");
}

/* Encrypts a Secret's values before it is stored (secrets.h); other kinds
 * pass. current: the stored Secret it replaces (unchanged values keep their
 * ciphertext), or NULL. */
static int seal_secret(const struct api_objects *o, const struct kind_info *kind, json_t *obj,
                       const json_t *current, struct api_error *err)
{
        struct berth_error serr = {0};

        if (!is_secret(kind))
                return 0;
        if (!o->secrets)
                return api_error_set(err, 503, "secrets are not available: berthd has no key");
        int rc = secret_object_seal(o->secrets, obj, current, &serr);
        if (rc == -E2BIG)
                return api_error_set_reason(err, 413, "RequestEntityTooLarge", "%s", serr.message);
        if (rc == -EINVAL || rc == -EBADMSG || rc == -ENOKEY)
                return api_error_set_reason(err, 422, "Invalid", "%s", serr.message);
        if (rc < 0)
                return api_error_set(err, 500, "%s", serr.message);
        return 0;
}

json_t *api_object_for_reply(const struct api_objects *o, const json_t *obj, bool reveal,
                             struct api_error *err)
{
        if (!streq(json_string_value(json_object_get(obj, "kind")), "Secret"))
                return json_incref((json_t *)obj);
        if (!reveal) {
                json_t *r = secret_object_redact(obj);
                if (!r && err)
                        api_error_set(err, 500, "out of memory");
                return r;
        }
        struct berth_error serr = {0};
        json_t *r = NULL;
        if (!o->secrets) {
                api_error_set(err, 503, "secrets are not available: berthd has no key");
                return NULL;
        }
        /* A tampered value: this Secret reads as an error, nothing else. */
        if (secret_object_reveal(o->secrets, obj, &r, &serr) < 0) {
                api_error_set(err, 500, "secret %s: %s", json_path_string(obj, "metadata.name"),
                              serr.message);
                return NULL;
        }
        return r;
}

int api_object_create(struct api_objects *o, const struct kind_info *kind, const char *ns,
                      const struct manifest_doc *doc, json_t **ret, struct api_error *err)
{
        _cleanup_json_ json_t *obj = NULL;
        int64_t rev = 0;
        int rc = check_incoming(o, kind, ns, NULL, doc, &obj, err);

        if (rc < 0)
                return rc;
        rc = object_prepare_create(kind, obj, time_now_ms());
        if (rc < 0)
                return api_error_set(err, 500, "cannot stamp the new object: %s", strerror(-rc));
        rc = seal_secret(o, kind, obj, NULL, err);
        if (rc < 0)
                return rc;

        /* Validated: the prefix leaves room for the suffix. */
        bool generate = manifest_generates_name(obj);
        for (int attempt = 0;; attempt++) {
                struct berth_error serr = {0};

                if (generate) {
                        rc = generate_name(o, obj, err);
                        if (rc < 0)
                                return rc;
                }
                const char *name = json_path_string(obj, "metadata.name");
                const char *ons = json_path_string(obj, "metadata.namespace");
                _cleanup_free_ char *key = object_key(o->prefix, kind->resource, ons, name);
                if (!key)
                        return api_error_set(err, 500, "out of memory");
                rc = object_put(o->store, key, obj, STORE_MUST_NOT_EXIST, NULL, &rev, &serr);
                if (rc == -ESTALE && generate && attempt + 1 < API_GENERATE_NAME_TRIES)
                        continue;
                if (rc == -ESTALE && generate)
                        return api_error_set_reason(
                            err, 409, "AlreadyExists",
                            "%s: %d names generated from \"%s\" already exist; try again",
                            kind->resource, API_GENERATE_NAME_TRIES,
                            json_path_string(obj, "metadata.generateName"));
                if (rc == -ESTALE)
                        return api_error_set_reason(err, 409, "AlreadyExists",
                                                    "%s \"%s\" already exists", kind->resource,
                                                    name);
                if (rc < 0)
                        return api_error_from_store(err, rc, &serr, "create");
                return read_back(o, key, obj, rev, ret, err);
        }
}

static int parse_resource_version(const json_t *v, int64_t *ret)
{
        const char *s = json_string_value(v);
        if (json_is_integer(v)) {
                *ret = json_integer_value(v);
                return *ret > 0 ? 0 : -EINVAL;
        }
        if (!s || !*s)
                return -EINVAL;
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (errno || *end || n <= 0)
                return -EINVAL;
        *ret = n;
        return 0;
}

static int not_found(struct api_error *err, const struct kind_info *kind, const char *name)
{
        return api_error_set(err, 404, "%s \"%s\" not found", kind->resource, name);
}

/* The stored object at key, read for a write on it (what names the write in
 * errors): 404 when there is none. The caller releases *ret_kv. */
static int get_existing(struct api_objects *o, const struct kind_info *kind, const char *name,
                        const char *key, const char *what, struct store_kv *ret_kv,
                        struct api_error *err)
{
        struct berth_error serr = {0};
        int rc = store_get(o->store, key, ret_kv, &serr);
        if (rc == -ENOENT)
                return not_found(err, kind, name);
        if (rc < 0)
                return api_error_from_store(err, rc, &serr, what);
        return 0;
}

static int conflict(struct api_error *err, const struct kind_info *kind, const char *name)
{
        return api_error_set_reason(err, 409, "Conflict",
                                    "Operation cannot be fulfilled on %s \"%s\": the object has "
                                    "been modified; please apply your changes to the latest "
                                    "version and try again",
                                    kind->resource, name);
}

/* The annotations with which users ask a controller for something (run a
 * CronTask now, sync a Source, retry a Workflow): writing them is the RBAC
 * verb trigger. */
static const char *const trigger_annotations[] = {
    CRONTASK_ANNOTATION_RUN,   CRONTASK_ANNOTATION_FORCE,     SOURCE_ANNOTATION_SYNC,
    WORKFLOW_ANNOTATION_RETRY, SOURCE_ANNOTATION_FORCE_PRUNE, NULL,
};

/* A copy of obj without what a trigger may change. */
static json_t *without_triggers(const json_t *obj)
{
        json_t *c = json_deep_copy(obj);
        json_t *annotations = json_path(c, "metadata.annotations");

        if (!c)
                return NULL;
        json_object_del(c, "status");
        json_object_del(json_object_get(c, "metadata"), "resourceVersion");
        for (const char *const *a = trigger_annotations; *a; a++)
                json_object_del(annotations, *a);
        if (json_is_object(annotations) && json_object_size(annotations) == 0)
                json_object_del(json_object_get(c, "metadata"), "annotations");
        /* berth stop sets it to Stop, berth retry of a stopped run drops it. */
        json_object_del(json_object_get(c, "spec"), "shutdown");
        return c;
}

bool api_change_is_trigger(const json_t *current, const json_t *next)
{
        _cleanup_json_ json_t *a = without_triggers(current);
        _cleanup_json_ json_t *b = without_triggers(next);

        return a && b && json_equal(a, b);
}

int api_object_replace(struct api_objects *o, const struct kind_info *kind, const char *ns,
                       const char *name, const struct manifest_doc *doc, bool trigger_only,
                       json_t **ret, struct api_error *err)
{
        _cleanup_json_ json_t *obj = NULL;
        int64_t want_rev = 0;
        int rc = check_incoming(o, kind, ns, name, doc, &obj, err);

        if (rc < 0)
                return rc;
        json_t *rv = json_path(obj, "metadata.resourceVersion");
        if (rv && !json_is_null(rv) && parse_resource_version(rv, &want_rev) < 0)
                return api_error_set(err, 400, "invalid metadata.resourceVersion");

        _cleanup_free_ char *key = object_key(o->prefix, kind->resource, ns, name);
        if (!key)
                return api_error_set(err, 500, "out of memory");

        for (int attempt = 0; attempt < API_APPLY_RETRIES; attempt++) {
                _cleanup_(store_kv_release) struct store_kv kv = {0};
                struct berth_error serr = {0};
                _cleanup_json_ json_t *current = NULL, *next = NULL;
                int64_t rev = 0;

                rc = get_existing(o, kind, name, key, "replace", &kv, err);
                if (rc < 0)
                        return rc;
                if (want_rev && kv.mod_revision != want_rev)
                        return conflict(err, kind, name);
                rc = load_current(&kv, &current, err);
                if (rc < 0)
                        return rc;
                next = json_deep_copy(obj);
                if (!next)
                        return api_error_set(err, 500, "out of memory");
                object_merge_server_fields(next, current);
                rc = seal_secret(o, kind, next, current, err);
                if (rc < 0)
                        return rc;
                if (trigger_only && !api_change_is_trigger(current, next))
                        return api_error_set_reason(
                            err, 403, "Forbidden",
                            "only a trigger is allowed on %s \"%s\" (berth cron trigger, sync, "
                            "retry or stop): this request changes more",
                            kind->resource, name);
                rc = object_put(o->store, key, next, kv.mod_revision, NULL, &rev, &serr);
                if (rc == -ESTALE) {
                        if (want_rev)
                                return conflict(err, kind, name);
                        continue; /* unconditional replace: read again */
                }
                if (rc < 0)
                        return api_error_from_store(err, rc, &serr, "replace");
                return read_back(o, key, next, rev, ret, err);
        }
        return conflict(err, kind, name);
}

/* The entry of step in steps, made when absent. Borrowed; NULL on OOM. */
static json_t *results_step(json_t *steps, const char *step)
{
        json_t *e = json_object_get(steps, step);

        if (json_is_object(e))
                return e;
        e = json_object();
        if (!e || json_object_set_new(steps, step, e) < 0)
                return NULL;
        return e;
}

/* Adds one stored value (a step's result or one of its files) to steps. */
static int results_add(json_t *steps, const json_t *v)
{
        const char *step = json_path_string(v, "step");
        const char *file = json_path_string(v, "file");
        json_t *entry = results_step(steps, step);

        if (!entry)
                return -ENOMEM;
        if (file) {
                /* Sizes only: a listing of every file's content could be
                 * WORKFLOW_FILES_MAX MiB per step. */
                json_t *files = json_object_get(entry, "files");
                const json_t *size = json_object_get(v, "size");
                json_int_t n = json_is_integer(size)
                                   ? json_integer_value(size)
                                   : (json_int_t)strlen(json_path_string(v, "content") ?: "");
                if (!json_is_object(files)) {
                        files = json_object();
                        if (!files || json_object_set_new(entry, "files", files) < 0)
                                return -ENOMEM;
                }
                return json_object_set_new(files, file, json_pack("{s:I}", "size", n)) < 0 ? -ENOMEM
                                                                                           : 0;
        }
        static const char *const fields[] = {"result", "truncated", "exitCode"};
        for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
                json_t *f = json_object_get(v, fields[i]);
                if (f && json_object_set(entry, fields[i], f) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int api_workflow_results(struct api_objects *o, const struct kind_info *kind, const char *ns,
                         const char *name, json_t **ret, struct api_error *err)
{
        _cleanup_free_ char *key = object_key(o->prefix, kind->resource, ns, name);
        _cleanup_free_ char *data_prefix =
            object_data_key(o->prefix, kind->resource, ns, name, NULL);
        if (!key || !data_prefix)
                return api_error_set(err, 500, "out of memory");
        _cleanup_json_ json_t *obj = object_cache_get(o->cache, key, NULL);
        if (!obj)
                return not_found(err, kind, name);
        const char *uid = json_path_string(obj, "metadata.uid");

        struct berth_error serr = {0};
        _cleanup_(store_kvs_release) struct store_kvs kvs = {0};
        int rc = store_list(o->store, data_prefix, 0, &kvs, &serr);
        if (rc < 0)
                return api_error_from_store(err, rc, &serr, "read results");
        _cleanup_json_ json_t *steps = json_object();
        if (!steps)
                return api_error_set(err, 500, "out of memory");
        for (size_t i = 0; i < kvs.n; i++) {
                _cleanup_json_ json_t *v =
                    json_loadb(kvs.items[i].value, kvs.items[i].value_len, 0, NULL);
                const char *step = json_path_string(v, "step");
                /* A result of an older Workflow of this name is not this one's. */
                if (!step || !streq(json_path_string(v, "uid"), uid))
                        continue;
                if (results_add(steps, v) < 0)
                        return api_error_set(err, 500, "out of memory");
        }
        *ret = json_pack("{s:O}", "steps", steps);
        return *ret ? 0 : api_error_set(err, 500, "out of memory");
}

int api_workflow_file(struct api_objects *o, const struct kind_info *kind, const char *ns,
                      const char *name, const char *step, const char *file, char **ret_data,
                      size_t *ret_len, struct api_error *err)
{
        _cleanup_free_ char *key = object_key(o->prefix, kind->resource, ns, name);
        _cleanup_free_ char *part = str_printf("file-%s.%s", step, file);
        _cleanup_free_ char *data_key =
            part ? object_data_key(o->prefix, kind->resource, ns, name, part) : NULL;
        if (!key || !data_key)
                return api_error_set(err, 500, "out of memory");
        _cleanup_json_ json_t *obj = object_cache_get(o->cache, key, NULL);
        if (!obj)
                return not_found(err, kind, name);

        struct berth_error serr = {0};
        _cleanup_(store_kv_release) struct store_kv kv = {0};
        int rc = store_get(o->store, data_key, &kv, &serr);
        if (rc == -ENOENT)
                return api_error_set(err, 404, "%s %s has no file %s of step %s", kind->singular,
                                     name, file, step);
        if (rc < 0)
                return api_error_from_store(err, rc, &serr, "read file");
        _cleanup_json_ json_t *v = json_loadb(kv.value, kv.value_len, 0, NULL);
        /* A file of an older Workflow of this name is not this one's. */
        if (!streq(json_path_string(v, "uid"), json_path_string(obj, "metadata.uid")))
                return api_error_set(err, 404, "%s %s has no file %s of step %s", kind->singular,
                                     name, file, step);
        const json_t *content = json_object_get(v, "content");
        const char *encoding = json_path_string(v, "encoding");
        if (!json_is_string(content))
                return api_error_set(err, 500, "file %s of step %s is stored without content", file,
                                     step);
        const char *s = json_string_value(content);
        size_t len = json_string_length(content);
        if (encoding && streq(encoding, "base64")) {
                rc = base64_decode(s, len, ret_data, ret_len);
                if (rc == -ENOMEM)
                        return api_error_set(err, 500, "out of memory");
                if (rc < 0)
                        return api_error_set(
                            err, 500, "file %s of step %s is stored as invalid base64", file, step);
                return 0;
        }
        if (encoding && *encoding)
                return api_error_set(err, 500, "file %s of step %s has an unknown encoding %s",
                                     file, step, encoding);
        char *copy = malloc(len + 1);
        if (!copy)
                return api_error_set(err, 500, "out of memory");
        memcpy(copy, s, len);
        copy[len] = '\0';
        *ret_data = copy;
        *ret_len = len;
        return 0;
}

int api_object_delete(struct api_objects *o, const struct kind_info *kind, const char *ns,
                      const char *name, json_t **ret, struct api_error *err)
{
        _cleanup_free_ char *key = object_key(o->prefix, kind->resource, ns, name);
        int rc = 0;

        if (!key)
                return api_error_set(err, 500, "out of memory");
        for (int attempt = 0; attempt < API_APPLY_RETRIES; attempt++) {
                _cleanup_(store_kv_release) struct store_kv kv = {0};
                struct berth_error serr = {0};
                _cleanup_json_ json_t *current = NULL;
                int64_t rev = 0;

                rc = get_existing(o, kind, name, key, "delete", &kv, err);
                if (rc < 0)
                        return rc;
                rc = load_current(&kv, &current, err);
                if (rc < 0)
                        return rc;

                json_t *m = metadata_of(current);
                if (!m)
                        return api_error_set(err, 500, "out of memory");
                if (json_array_size(json_object_get(m, "finalizers")) > 0) {
                        /* Finalizers run first; the controller deletes the object after. */
                        if (!json_object_get(m, "deletionTimestamp")) {
                                char ts[RFC3339_MAX];
                                time_format_rfc3339(time_now_ms(), ts);
                                json_object_set_new(m, "deletionTimestamp", json_string(ts));
                                rc = object_put(o->store, key, current, kv.mod_revision, NULL, &rev,
                                                &serr);
                                if (rc == -ESTALE)
                                        continue;
                                if (rc < 0)
                                        return api_error_from_store(err, rc, &serr, "delete");
                        } else {
                                rev = kv.mod_revision;
                        }
                        return read_back(o, key, current, rev, ret, err);
                }

                rc = store_delete(o->store, key, kv.mod_revision, &rev, &serr);
                if (rc == -ESTALE)
                        continue;
                if (rc == -ENOENT)
                        return not_found(err, kind, name);
                if (rc < 0)
                        return api_error_from_store(err, rc, &serr, "delete");
                rc = object_cache_wait_revision(o->cache, rev, o->wait_ms);
                if (rc < 0)
                        log_warn("cache did not catch up: %s key=%s revision=%" PRId64,
                                 strerror(-rc), key, rev);
                _cleanup_free_ char *msg = str_printf("%s \"%s\" deleted", kind->resource, name);
                json_t *out = api_status_success(msg);
                if (!out)
                        return api_error_set(err, 500, "out of memory");
                *ret = out;
                return 0;
        }
        return conflict(err, kind, name);
}

/* "tasks/hello: " (or "document 3: " when the object has no usable identity). */
static char *doc_prefix(const json_t *obj, size_t index)
{
        const struct kind_info *k = kind_lookup(json_string_value(json_object_get(obj, "kind")));
        const char *name = json_path_string(obj, "metadata.name");
        if (k && name)
                return str_printf("%s/%s: ", k->resource, name);
        return str_printf("document %zu: ", index + 1);
}

/* Every object's create (new) or update (existing) right, before any write. */
static int authorize_apply(struct api_objects *o, const struct api_identity *who,
                           const struct manifest_list *list, struct api_error *err)
{
        if (!o->authorize)
                return 0;
        for (size_t i = 0; i < list->n; i++) {
                const json_t *obj = list->docs[i].object;
                const struct kind_info *kind =
                    kind_lookup(json_string_value(json_object_get(obj, "kind")));
                const char *ns = json_path_string(obj, "metadata.namespace");
                const char *name = json_path_string(obj, "metadata.name");
                if (!kind)
                        continue; /* validation refused it already */
                _cleanup_free_ char *key = object_key(o->prefix, kind->resource, ns, name);
                _cleanup_json_ json_t *cur = key ? object_cache_get(o->cache, key, NULL) : NULL;
                const char *verb = cur ? "update" : "create";
                if (!o->authorize(o->authorize_data, who, verb, kind->resource, ns,
                                  cur ? name : NULL, err))
                        return -EACCES;
        }
        return 0;
}

/* apply_opts.lookup: the API's object cache. */
static json_t *cache_lookup(const char *key, int64_t *ret_mod_revision, void *userdata)
{
        struct api_objects *o = userdata;
        return object_cache_get(o->cache, key, ret_mod_revision);
}

int api_apply(struct api_objects *o, const struct api_identity *who, const char *body, size_t len,
              const char *default_ns, bool dry_run, json_t **ret, struct api_error *err)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {0};
        struct berth_error perr = {0};
        size_t n_invalid = 0;
        int64_t last_rev = 0;
        int rc = 0;

        if (manifest_parse_buffer(body ? body : "", len, BODY_SOURCE, &list, &perr) < 0)
                return api_error_set(err, 400, "%s", perr.message);
        if (list.n == 0)
                return api_error_set(err, 400, "no objects passed to apply");

        /* Validate everything before writing anything. */
        _cleanup_buf_ struct buf msg;
        buf_init(&msg, sizeof(err->message) - 1);
        json_t *details = json_array();
        if (!details)
                return api_error_set(err, 500, "out of memory");
        for (size_t i = 0; i < list.n; i++) {
                json_t *obj = list.docs[i].object;
                json_t *m = json_object_get(obj, "metadata");
                _cleanup_(field_errors_release) struct field_errors errs = {0};

                const struct kind_info *k =
                    kind_by_name(json_string_value(json_object_get(obj, "kind")));
                if (default_ns && *default_ns && json_is_object(m) && (!k || k->namespaced) &&
                    !json_object_get(m, "namespace"))
                        json_object_set_new(m, "namespace", json_string(default_ns));
                if (manifest_validate(obj, list.docs[i].positions, &errs) == 0 &&
                    check_configured(o, obj, list.docs[i].positions, &errs) == 0 &&
                    !manifest_generates_name(obj))
                        continue;
                if (errs.n == 0) {
                        const json_t *pos =
                            json_object_get(list.docs[i].positions, "metadata.generateName");
                        if (field_errors_add(&errs, "metadata.generateName",
                                             (int)json_integer_value(json_array_get(pos, 0)),
                                             (int)json_integer_value(json_array_get(pos, 1)), "%s",
                                             MANIFEST_GENERATE_NAME_APPLY) < 0) {
                                json_decref(details);
                                return api_error_set(err, 500, "out of memory");
                        }
                }
                n_invalid++;
                _cleanup_free_ char *prefix = doc_prefix(obj, i);
                struct api_error tmp = {0};
                api_error_add_details(&tmp, &errs, prefix);
                json_array_extend(details, tmp.details);
                api_error_release(&tmp);
                for (size_t j = 0; j < errs.n; j++)
                        (void)buf_printf(&msg, "%s%s%s: %s", msg.len ? "; " : "",
                                         prefix ? prefix : "", errs.items[j].field,
                                         errs.items[j].message);
        }
        if (n_invalid > 0) {
                rc = api_error_set_reason(err, 422, "Invalid", "%zu of %zu objects are invalid: %s",
                                          n_invalid, list.n, msg.data ? msg.data : "");
                err->details = details;
                return rc;
        }
        json_decref(details);
        rc = authorize_apply(o, who, &list, err);
        if (rc < 0)
                return rc;

        _cleanup_json_ json_t *items = json_array();
        _cleanup_free_ struct apply_item *batch = calloc(list.n, sizeof(*batch));
        if (!items || !batch)
                return api_error_set(err, 500, "out of memory");
        for (size_t i = 0; i < list.n; i++) {
                json_t *obj = list.docs[i].object;
                const struct kind_info *kind =
                    kind_lookup(json_string_value(json_object_get(obj, "kind")));
                if (!kind)
                        return api_error_set(err, 400, "document %zu: unknown kind", i + 1);
                if (!o->secrets && streq(kind->kind, "Secret"))
                        return api_error_set(err, 503,
                                             "secrets are not available: berthd has no key");
                manifest_apply_defaults(obj);
                batch[i] = (struct apply_item){.kind = kind, .obj = obj};
        }
        /* The whole request in few store transactions (apply_batch); results
         * per object as apply_object gives them. */
        const struct apply_opts opts = {
            .dry_run = dry_run,
            .transform = o->secrets ? secret_apply_transform : NULL,
            .transform_userdata = (void *)o->secrets,
            .lookup = o->cache ? cache_lookup : NULL,
            .lookup_userdata = o,
        };
        struct berth_error aerr = {0};
        size_t done = 0;
        rc = apply_batch(o->store, o->prefix, batch, list.n, &opts, &done, &aerr);
        if (rc == -ESTALE)
                rc = api_error_set_reason(err, 409, "Conflict", "%s", aerr.message);
        else if (rc < 0)
                rc = api_error_from_store(err, rc, &aerr, "apply");
        for (size_t i = done; i < list.n; i++) /* written in parallel before the error */
                if (batch[i].rev > last_rev)
                        last_rev = batch[i].rev;
        for (size_t i = 0; i < done; i++) {
                const json_t *obj = batch[i].obj;
                json_t *item = json_pack("{s:s, s:s?, s:s, s:s}", "kind", batch[i].kind->kind,
                                         "namespace", json_path_string(obj, "metadata.namespace"),
                                         "name", json_path_string(obj, "metadata.name"), "result",
                                         apply_result_to_string(batch[i].result));
                if (!item)
                        return api_error_set(err, 500, "out of memory");
                if (batch[i].rev > 0) {
                        char buf[32];
                        snprintf(buf, sizeof(buf), "%" PRId64, batch[i].rev);
                        json_object_set_new(item, "resourceVersion", json_string(buf));
                        if (batch[i].rev > last_rev)
                                last_rev = batch[i].rev;
                }
                json_array_append_new(items, item);
        }

        /* Read your writes, also when a later object failed. */
        if (last_rev > 0) {
                int wrc = object_cache_wait_revision(o->cache, last_rev, o->wait_ms);
                if (wrc < 0)
                        log_warn("cache did not catch up: %s revision=%" PRId64, strerror(-wrc),
                                 last_rev);
        }
        if (rc < 0)
                return rc;

        json_t *out = json_pack("{s:s, s:s, s:b, s:O}", "kind", "ApplyResult", "apiVersion",
                                MANIFEST_API_VERSION, "dryRun", dry_run, "items", items);
        if (!out)
                return api_error_set(err, 500, "out of memory");
        *ret = out;
        return 0;
}
