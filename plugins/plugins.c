/* plugins.c: the loader, and the notifier plugins' threads and queues
 * (an executor plugin's thread is its runner's, plugin-executor.c). */
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#include "berth-plugin.h"
#include "manifests.h"
#include "plugins-internal.h"

/* One queued delivery; shared by the waiting caller and the plugin's thread
 * (refs), freed by whichever lets go last. */
struct plugin_job {
        struct plugin_job *next;
        int refs;
        char *ns, *name, *outcome, *body, *config;
        size_t body_len;
        bool done;
        int rc;
        char error[NOTIFY_ERROR_MAX];
};

struct plugin {
        struct plugins *set;
        char *path;
        void *handle;
        const struct berth_plugin *desc;
        void *ctx;
        struct berth_host host;
        struct plugin_store *store; /* a store plugin's backend (plugin-store.c) */
        pthread_t thread;
        bool thread_started;
        struct executor_runner *runner; /* an executor's */
        /* under lock: */
        pthread_mutex_t lock;
        pthread_cond_t cond; /* work queued, a job done, stop */
        struct plugin_job *head, *tail;
        size_t queued;
        bool stop;
};

struct plugins {
        struct plugin *v[PLUGINS_MAX];
        size_t n;
        struct notify_type types[PLUGINS_MAX];
        size_t n_types;
        struct plugin_executor executors[PLUGINS_MAX];
        size_t n_executors;
        const char *notifier_names[PLUGINS_MAX + 1];
        plugins_log_fn log;
        void *userdata;
};

static void job_unref(struct plugin *pl, struct plugin_job *j)
{
        /* under pl->lock */
        (void)pl;
        if (--j->refs > 0)
                return;
        free(j->ns);
        free(j->name);
        free(j->outcome);
        free(j->body);
        free(j->config);
        free(j);
}

static void *plugin_thread(void *arg)
{
        struct plugin *pl = arg;

        pthread_mutex_lock(&pl->lock);
        for (;;) {
                while (!pl->head && !pl->stop)
                        pthread_cond_wait(&pl->cond, &pl->lock);
                if (pl->stop)
                        break;
                struct plugin_job *j = pl->head;
                pl->head = j->next;
                if (!pl->head)
                        pl->tail = NULL;
                pl->queued--;
                pthread_mutex_unlock(&pl->lock);

                char error[NOTIFY_ERROR_MAX] = "";
                int rc = pl->desc->notifier->deliver(pl->ctx, j->ns, j->name, j->outcome, j->body,
                                                     j->body_len, j->config, error, sizeof(error));

                pthread_mutex_lock(&pl->lock);
                j->rc = rc;
                error[sizeof(error) - 1] = '\0';
                memcpy(j->error, error, sizeof(j->error));
                j->done = true;
                pthread_cond_broadcast(&pl->cond);
                job_unref(pl, j);
        }
        /* Drop what is still queued: its callers time out or were told. */
        while (pl->head) {
                struct plugin_job *j = pl->head;
                pl->head = j->next;
                j->done = true;
                j->rc = -ECANCELED;
                job_unref(pl, j);
        }
        pl->tail = NULL;
        pthread_cond_broadcast(&pl->cond);
        pthread_mutex_unlock(&pl->lock);
        return NULL;
}

/* notify_deliver_fn of a notifier plugin: runs on a notify delivery thread,
 * hands the call to the plugin's own and waits at most the Notifier's
 * timeout. */
static int plugin_deliver(const struct notify_delivery *d, struct notify_result *ret,
                          void *userdata)
{
        struct plugin *pl = userdata;
        struct plugin_job *j = calloc(1, sizeof(*j));
        _cleanup_free_ char *config =
            d->spec && d->spec->config ? json_dumps(d->spec->config, JSON_COMPACT) : NULL;

        if (!j)
                goto oom;
        j->refs = 2;
        j->ns = strdup(d->notifier_ns ? d->notifier_ns : "");
        j->name = strdup(d->notifier_name ? d->notifier_name : "");
        j->outcome = strdup(d->outcome ? d->outcome : "");
        j->body = strndup(d->body ? d->body : "", d->body_len);
        j->body_len = d->body_len;
        j->config = strdup(config ? config : "{}");
        if (!j->ns || !j->name || !j->outcome || !j->body || !j->config) {
                j->refs = 1;
                pthread_mutex_lock(&pl->lock);
                job_unref(pl, j);
                pthread_mutex_unlock(&pl->lock);
                goto oom;
        }

        int64_t timeout = d->spec && d->spec->timeout_ms > 0 ? d->spec->timeout_ms : 30000;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += timeout / 1000;
        until.tv_nsec += (timeout % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
        }

        pthread_mutex_lock(&pl->lock);
        if (pl->stop || pl->queued >= BERTH_PLUGIN_QUEUE_MAX) {
                j->refs = 1;
                job_unref(pl, j);
                pthread_mutex_unlock(&pl->lock);
                ret->retry = true;
                snprintf(ret->error, sizeof(ret->error), "plugin %s: queue full (%d)",
                         pl->desc->name, BERTH_PLUGIN_QUEUE_MAX);
                return -EAGAIN;
        }
        if (pl->tail)
                pl->tail->next = j;
        else
                pl->head = j;
        pl->tail = j;
        pl->queued++;
        pthread_cond_broadcast(&pl->cond);
        int w = 0;
        while (!j->done && w != ETIMEDOUT)
                w = pthread_cond_timedwait(&pl->cond, &pl->lock, &until);
        int rc = j->done ? j->rc : -ETIMEDOUT;
        if (j->done && rc != 0)
                snprintf(ret->error, sizeof(ret->error), "plugin %s: %.400s", pl->desc->name,
                         j->error[0] ? j->error : "delivery failed");
        else if (!j->done)
                snprintf(ret->error, sizeof(ret->error), "plugin %s: no answer within %lld ms",
                         pl->desc->name, (long long)timeout);
        job_unref(pl, j);
        pthread_mutex_unlock(&pl->lock);
        if (rc == 0)
                return 0;
        ret->retry = true;
        return rc < 0 ? rc : -EIO;

oom:
        ret->retry = true;
        snprintf(ret->error, sizeof(ret->error), "plugin %s: out of memory", pl->desc->name);
        return -ENOMEM;
}

static void host_log(const struct berth_host *host, int level, const char *message)
{
        struct plugin *pl = host->host_data;

        if (pl->set->log)
                pl->set->log(pl->desc->name, level, message ? message : "", pl->set->userdata);
}

static void host_executor_changed(const struct berth_host *host, const char *handle)
{
        struct plugin *pl = host->host_data;

        executor_runner_changed(pl->runner, handle);
}

static void plugin_free(struct plugin *pl, bool initialised)
{
        if (!pl)
                return;
        executor_runner_free(pl->runner);
        if (pl->thread_started) {
                pthread_mutex_lock(&pl->lock);
                pl->stop = true;
                pthread_cond_broadcast(&pl->cond);
                pthread_mutex_unlock(&pl->lock);
                pthread_join(pl->thread, NULL);
        }
        plugin_store_unregister(pl->store);
        if (initialised && pl->desc->fini)
                pl->desc->fini(pl->ctx);
        if (pl->handle)
                dlclose(pl->handle);
        pthread_cond_destroy(&pl->cond);
        pthread_mutex_destroy(&pl->lock);
        free(pl->path);
        free(pl);
}

static const char *type_name(int type)
{
        switch (type) {
        case BERTH_PLUGIN_EXECUTOR:
                return "executor";
        case BERTH_PLUGIN_NOTIFIER:
                return "notifier";
        case BERTH_PLUGIN_STORE:
                return "store";
        default:
                return NULL;
        }
}

/* Loads one file: NULL with why filled when refused. */
static struct plugin *load_one(struct plugins *set, const char *path, char *why, size_t size)
{
        struct plugin *pl = calloc(1, sizeof(*pl));

        if (!pl || !(pl->path = strdup(path))) {
                free(pl);
                snprintf(why, size, "out of memory");
                return NULL;
        }
        pl->set = set;
        pthread_mutex_init(&pl->lock, NULL);
        pthread_cond_init(&pl->cond, NULL);
        pl->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!pl->handle) {
                const char *e = dlerror();
                snprintf(why, size, "dlopen: %s", e ? e : "failed");
                goto refuse;
        }
        berth_plugin_descriptor_fn fn;
        *(void **)&fn = dlsym(pl->handle, BERTH_PLUGIN_DESCRIPTOR_SYMBOL);
        if (!fn) {
                snprintf(why, size, "no symbol %s", BERTH_PLUGIN_DESCRIPTOR_SYMBOL);
                goto refuse;
        }
        const struct berth_plugin *d = fn();
        if (!d) {
                snprintf(why, size, "%s returned no descriptor", BERTH_PLUGIN_DESCRIPTOR_SYMBOL);
                goto refuse;
        }
        if (d->abi_major != BERTH_PLUGIN_ABI_MAJOR || d->abi_minor > BERTH_PLUGIN_ABI_MINOR) {
                if (d->abi_major != BERTH_PLUGIN_ABI_MAJOR)
                        snprintf(why, size, "ABI %u.%u, berthd speaks %d.x", (unsigned)d->abi_major,
                                 (unsigned)d->abi_minor, BERTH_PLUGIN_ABI_MAJOR);
                else
                        snprintf(why, size, "ABI %u.%u, berthd speaks %d.0 to %d.%d",
                                 (unsigned)d->abi_major, (unsigned)d->abi_minor,
                                 BERTH_PLUGIN_ABI_MAJOR, BERTH_PLUGIN_ABI_MAJOR,
                                 BERTH_PLUGIN_ABI_MINOR);
                goto refuse;
        }
        if (!d->name || !name_is_valid(d->name)) {
                snprintf(why, size, "name \"%s\" is not a DNS-1123 label", d->name ? d->name : "");
                goto refuse;
        }
        for (size_t i = 0; i < set->n; i++)
                if (streq(set->v[i]->desc->name, d->name)) {
                        snprintf(why, size, "name %s is taken by %s", d->name, set->v[i]->path);
                        goto refuse;
                }
        const char *tn = type_name(d->type);
        if (!tn) {
                snprintf(why, size, "unknown type %d", d->type);
                goto refuse;
        }
        if (!d->init) {
                snprintf(why, size, "%s without init", tn);
                goto refuse;
        }
        if (d->type == BERTH_PLUGIN_NOTIFIER && (!d->notifier || !d->notifier->deliver)) {
                snprintf(why, size, "notifier without deliver");
                goto refuse;
        }
        if (d->type == BERTH_PLUGIN_EXECUTOR &&
            (d->abi_minor < 1 || !d->executor || !d->executor->start || !d->executor->observe ||
             !d->executor->signal)) {
                snprintf(why, size,
                         d->abi_minor < 1 ? "executor plugins need ABI 1.1 or later"
                                          : "executor without start, observe or signal");
                goto refuse;
        }
        if (d->type == BERTH_PLUGIN_STORE && !plugin_store_check(d, why, size))
                goto refuse;
        pl->desc = d;
        pl->host = (struct berth_host){
            .abi_major = BERTH_PLUGIN_ABI_MAJOR,
            .abi_minor = BERTH_PLUGIN_ABI_MINOR,
            .plugin_path = pl->path,
            .log = host_log,
            .host_data = pl,
            .executor_changed = host_executor_changed,
        };
        int rc = d->init(&pl->host, &pl->ctx);
        if (rc != 0) {
                snprintf(why, size, "init failed (%d)", rc);
                goto refuse;
        }
        /* A store plugin is a store backend, "<name>:..." (its ops are
         * called directly on the callers' threads: it needs none of its
         * own); an executor's thread is its runner's. */
        if (d->type == BERTH_PLUGIN_STORE &&
            !(pl->store = plugin_store_register(d, pl->ctx, why, size))) {
                plugin_free(pl, true);
                return NULL;
        }
        rc = 0;
        if (d->type == BERTH_PLUGIN_EXECUTOR)
                rc = executor_runner_new(d->executor, pl->ctx, d->name, &pl->runner);
        else if (d->type == BERTH_PLUGIN_NOTIFIER)
                rc = -pthread_create(&pl->thread, NULL, plugin_thread, pl);
        if (rc < 0) {
                snprintf(why, size, "cannot start its thread: %s", strerror(-rc));
                plugin_free(pl, true);
                return NULL;
        }
        pl->thread_started = d->type == BERTH_PLUGIN_NOTIFIER;
        return pl;

refuse:
        plugin_free(pl, false);
        return NULL;
}

static int by_name(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int plugins_load(const char *dir, plugins_refused_fn refused, plugins_log_fn log, void *userdata,
                 struct plugins **ret, struct berth_error *err)
{
        struct plugins *set = calloc(1, sizeof(*set));
        char *names[PLUGINS_MAX * 4];
        size_t n = 0;

        if (!set)
                return berth_error_set(err, -ENOMEM, "out of memory");
        set->log = log;
        set->userdata = userdata;
        if (!dir) {
                *ret = set;
                return 0;
        }
        DIR *dp = opendir(dir);
        if (!dp) {
                int r = -errno;
                free(set);
                return berth_error_set(err, r, "plugin directory %s: %s", dir, strerror(-r));
        }
        struct dirent *de;
        while ((de = readdir(dp)) && n < ARRAY_SIZE(names)) {
                size_t len = strlen(de->d_name);
                if (len > 3 && streq(de->d_name + len - 3, ".so") && de->d_name[0] != '.')
                        names[n++] = strdup(de->d_name);
                if (n && !names[n - 1])
                        n--;
        }
        closedir(dp);
        qsort(names, n, sizeof(*names), by_name);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = str_printf("%s/%s", dir, names[i]);
                char why[512];
                struct plugin *pl = NULL;

                free(names[i]);
                if (!path)
                        continue;
                if (set->n >= PLUGINS_MAX)
                        snprintf(why, sizeof(why), "more than %d plugins", PLUGINS_MAX);
                else
                        pl = load_one(set, path, why, sizeof(why));
                if (!pl) {
                        if (refused)
                                refused(path, why, userdata);
                        continue;
                }
                set->v[set->n++] = pl;
                if (pl->desc->type == BERTH_PLUGIN_NOTIFIER) {
                        set->types[set->n_types++] = (struct notify_type){
                            .name = pl->desc->name, .deliver = plugin_deliver, .userdata = pl};
                        set->notifier_names[set->n_types - 1] = pl->desc->name;
                } else if (pl->desc->type == BERTH_PLUGIN_EXECUTOR) {
                        set->executors[set->n_executors++] =
                            (struct plugin_executor){.name = pl->desc->name,
                                                     .ops = &executor_runner_ops,
                                                     .impl = pl->runner};
                }
        }
        *ret = set;
        return 0;
}

void plugins_free(struct plugins *p)
{
        if (!p)
                return;
        for (size_t i = p->n; i-- > 0;)
                plugin_free(p->v[i], true);
        free(p);
}

size_t plugins_count(const struct plugins *p)
{
        return p ? p->n : 0;
}

const char *plugins_name(const struct plugins *p, size_t i)
{
        return p && i < p->n ? p->v[i]->desc->name : NULL;
}

const struct notify_type *plugins_notify_types(const struct plugins *p, size_t *ret_n)
{
        *ret_n = p ? p->n_types : 0;
        return p && p->n_types ? p->types : NULL;
}

const struct plugin_executor *plugins_executors(const struct plugins *p, size_t *ret_n)
{
        *ret_n = p ? p->n_executors : 0;
        return p && p->n_executors ? p->executors : NULL;
}

const char *const *plugins_notifier_names(const struct plugins *p)
{
        return p && p->n_types ? p->notifier_names : NULL;
}
