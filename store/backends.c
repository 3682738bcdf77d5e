/* store backends: the registry of backends by URL scheme, and store_open's
 * dispatch on it (store.h, "the registry of backends").
 *
 * One registry per process, a mutable global on purpose: store_open(url) is
 * the only way in, and a store plugin's backend must be found by its URL like
 * the built-ins. The built-ins register through the same call as plugins, on
 * the registry's first use (pthread_once), so no constructor runs at load. */
#include "store-internal.h"

struct backend {
        char scheme[STORE_SCHEME_MAX + 1];
        store_backend_open_fn open;
        void *userdata;
        bool builtin;
};

static struct {
        pthread_mutex_t lock;
        struct backend v[STORE_BACKENDS_MAX]; /* registration order */
        size_t n;
} registry = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static int open_sqlite(const char *url, void *userdata _unused_, struct store **ret,
                       struct berth_error *err)
{
        return store_sqlite_open(url + strlen("sqlite:"), ret, err);
}

/* etcd:// and etcds://: the etcd backend parses the whole URL (TLS or not). */
static int open_etcd(const char *url, void *userdata _unused_, struct store **ret,
                     struct berth_error *err)
{
        return store_etcd_open(url, ret, err);
}

static bool scheme_is_valid(const char *scheme)
{
        size_t n = strnlen(scheme, STORE_SCHEME_MAX + 1);
        if (n == 0 || n > STORE_SCHEME_MAX || !(scheme[0] >= 'a' && scheme[0] <= 'z'))
                return false;
        for (size_t i = 1; i < n; i++) {
                char c = scheme[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
                      c == '.'))
                        return false;
        }
        return true;
}

/* The entry of the first len bytes of scheme; under registry.lock. */
static struct backend *find_locked(const char *scheme, size_t len)
{
        for (size_t i = 0; i < registry.n; i++)
                if (strlen(registry.v[i].scheme) == len &&
                    memcmp(registry.v[i].scheme, scheme, len) == 0)
                        return &registry.v[i];
        return NULL;
}

static int register_locked(const char *scheme, store_backend_open_fn open, void *userdata,
                           bool builtin, struct berth_error *err)
{
        if (!scheme || !scheme_is_valid(scheme))
                return berth_error_set(err, -EINVAL,
                                       "store backend \"%.*s\": not a valid URL scheme (a "
                                       "lowercase letter, then letters, digits, '+', '-' or '.', "
                                       "at most %d bytes)",
                                       STORE_SCHEME_MAX, scheme ? scheme : "", STORE_SCHEME_MAX);
        if (!open)
                return berth_error_set(err, -EINVAL, "store backend %s: no open function", scheme);
        const struct backend *b = find_locked(scheme, strlen(scheme));
        if (b)
                return berth_error_set(err, -EEXIST, "store scheme %s is taken by %s", scheme,
                                       b->builtin ? "a built-in backend" : "another backend");
        if (registry.n >= STORE_BACKENDS_MAX)
                return berth_error_set(err, -ENOSPC,
                                       "store backend %s: more than %d backends registered", scheme,
                                       STORE_BACKENDS_MAX);
        struct backend *nb = &registry.v[registry.n++];
        *nb = (struct backend){.open = open, .userdata = userdata, .builtin = builtin};
        str_copy(nb->scheme, sizeof(nb->scheme), scheme);
        return 0;
}

static void register_builtins(void)
{
        static const struct {
                const char *scheme;
                store_backend_open_fn open;
        } builtins[] = {
            {"sqlite", open_sqlite},
            {"etcd", open_etcd},
            {"etcds", open_etcd},
        };
        LOCK_SCOPE(&registry.lock);
        for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
                (void)register_locked(builtins[i].scheme, builtins[i].open, NULL, true, NULL);
}

static void builtins_ensure(void)
{
        (void)pthread_once(&builtins_once, register_builtins);
}

int store_backend_register(const char *scheme, store_backend_open_fn open, void *userdata,
                           struct berth_error *err)
{
        builtins_ensure();
        LOCK_SCOPE(&registry.lock);
        return register_locked(scheme, open, userdata, false, err);
}

int store_backend_unregister(const char *scheme)
{
        builtins_ensure();
        LOCK_SCOPE(&registry.lock);
        struct backend *b = scheme ? find_locked(scheme, strlen(scheme)) : NULL;
        if (!b)
                return -ENOENT;
        size_t i = (size_t)(b - registry.v);
        memmove(&registry.v[i], &registry.v[i + 1], (registry.n - i - 1) * sizeof(*b));
        registry.n--;
        return 0;
}

static size_t schemes_locked(char *buf, size_t size)
{
        size_t len = 0;
        if (size > 0)
                buf[0] = '\0';
        for (size_t i = 0; i < registry.n; i++) {
                int w = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, "%s%s",
                                 i > 0 ? ", " : "", registry.v[i].scheme);
                if (w > 0)
                        len += (size_t)w;
        }
        return len;
}

size_t store_backend_schemes(char *buf, size_t size)
{
        builtins_ensure();
        LOCK_SCOPE(&registry.lock);
        return schemes_locked(buf, size);
}

int store_open(const char *url, struct store **ret, struct berth_error *err)
{
        if (!url || !ret)
                return berth_error_set(err, -EINVAL, "store: no URL given");
        builtins_ensure();
        store_backend_open_fn open = NULL;
        void *userdata = NULL;
        const char *colon = strchr(url, ':');
        {
                LOCK_SCOPE(&registry.lock);
                const struct backend *b = colon ? find_locked(url, (size_t)(colon - url)) : NULL;
                if (!b) {
                        char known[STORE_BACKENDS_MAX * (STORE_SCHEME_MAX + 2)];
                        schemes_locked(known, sizeof(known));
                        if (!colon || colon == url)
                                return berth_error_set(err, -EPROTONOSUPPORT,
                                                       "store %s: no URL scheme (known schemes: "
                                                       "%s; e.g. sqlite:PATH or "
                                                       "etcd://host:port)",
                                                       url, known);
                        return berth_error_set(err, -EPROTONOSUPPORT,
                                               "store %s: unknown scheme \"%.*s\" (known "
                                               "schemes: %s)",
                                               url, (int)(colon - url), url, known);
                }
                open = b->open;
                userdata = b->userdata;
        }
        /* Outside the lock: opening may take long (etcd) and may register. */
        return open(url, userdata, ret, err);
}
