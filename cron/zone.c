/* cron: time zones by IANA name, read from the system database through
 * GLib's GTimeZone (never through TZ and localtime, which are process-wide). */
#include <fcntl.h>
#include <sys/stat.h>

#include "cron-internal.h"

#define ZONEINFO_DIR "/usr/share/zoneinfo"

static int fail(char *msg, size_t msg_size, const char *fmt, ...) _printf_(3, 4);
static int fail(char *msg, size_t msg_size, const char *fmt, ...)
{
        va_list ap;

        if (msg && msg_size > 0) {
                va_start(ap, fmt);
                vsnprintf(msg, msg_size, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static bool zone_char(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '+' || c == '-';
}

/* [A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*: no dots, so no ".." and no
 * absolute path can reach outside the database directory. */
static bool zone_name_valid(const char *name)
{
        bool component_empty = true;

        if (!((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
                return false;
        for (const char *p = name; *p; p++) {
                if (*p == '/') {
                        if (component_empty)
                                return false;
                        component_empty = true;
                } else if (zone_char(*p)) {
                        component_empty = false;
                } else {
                        return false;
                }
        }
        return !component_empty;
}

/* Whether the database holds name as a compiled zone (a TZif file). GLib
 * alone would not do: it reads a name it cannot find as a POSIX TZ rule
 * ("ABC3" is UTC-3), and complains on stderr about files of the database
 * directory that are not zones ("leapseconds"). GLib reads $TZDIR too. */
static bool zone_in_database(const char *name)
{
        const char *dir = getenv("TZDIR");
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        char magic[4];
        struct stat st;
        ssize_t n;

        path = str_printf("%s/%s", dir && *dir ? dir : ZONEINFO_DIR, name);
        if (!path)
                return false;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        do
                n = read(fd, magic, sizeof(magic));
        while (n < 0 && errno == EINTR);
        return n == (ssize_t)sizeof(magic) && memcmp(magic, "TZif", sizeof(magic)) == 0;
}

int cron_zone_open(const char *name, struct cron_zone **ret, char *msg, size_t msg_size)
{
        _cleanup_free_ struct cron_zone *z = NULL;

        if (!name)
                name = "";
        size_t len = strnlen(name, CRON_ZONE_NAME_MAX + 1);
        if (len > CRON_ZONE_NAME_MAX)
                return fail(msg, msg_size, "time zone name is longer than %d characters",
                            CRON_ZONE_NAME_MAX);
        if (len > 0 && !zone_name_valid(name))
                return fail(msg, msg_size,
                            "invalid time zone name \"%s\": want an IANA name like "
                            "\"Europe/Berlin\"",
                            name);

        z = calloc(1, sizeof(*z));
        if (!z) {
                fail(msg, msg_size, "out of memory");
                return -ENOMEM;
        }
        if (len == 0 || streq(name, "UTC")) {
                *ret = TAKE_PTR(z);
                return 0;
        }
        if (!zone_in_database(name))
                return fail(msg, msg_size, "unknown time zone \"%s\"", name);
        z->tz = g_time_zone_new_identifier(name);
        if (!z->tz)
                return fail(msg, msg_size, "unknown time zone \"%s\"", name);
        *ret = TAKE_PTR(z);
        return 0;
}

void cron_zone_free(struct cron_zone *z)
{
        if (!z)
                return;
        if (z->tz)
                g_time_zone_unref(z->tz);
        free(z);
}
