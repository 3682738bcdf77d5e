/* metrics: the process collector, the figures every Prometheus client
 * library exports under the same names, read from /proc at scrape time. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "metrics.h"

#define STAT_MAX 4096 /* /proc/self/stat is one line of a few hundred bytes */

/* Reads a small /proc file into buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = 0;
        while (len < size - 1) {
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        return 0;
}

/* The fields of /proc/self/stat after the command name (which may hold
 * spaces and parentheses: it ends at the last ')'); fields[0] is field 3,
 * the state. Returns how many were found. */
static size_t stat_fields(char *line, char **fields, size_t max)
{
        char *p = strrchr(line, ')');
        size_t n = 0;
        if (!p)
                return 0;
        for (char *save = NULL, *tok = strtok_r(p + 1, " \n", &save); tok && n < max;
             tok = strtok_r(NULL, " \n", &save))
                fields[n++] = tok;
        return n;
}

/* Seconds since the epoch the machine booted at, from /proc/stat (read by
 * line: its "intr" line is long on machines with many interrupts); -1 when
 * unknown. */
static int64_t boot_time(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/stat", "re");
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        if (!f)
                return -1;
        while (getline(&line, &cap, f) > 0)
                if (str_has_prefix(line, "btime "))
                        return strtoll(line + strlen("btime "), NULL, 10);
        return -1;
}

/* Open descriptors, the directory's own one not counted; -1 when unknown. */
static int64_t open_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return -1;
        int self = dirfd(d);
        int64_t n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.' || atoi(e->d_name) == self)
                        continue;
                n++;
        }
        closedir(d);
        return n;
}

static void write_one(struct metrics_writer *w, const char *name, const char *help,
                      enum metrics_type type, double v)
{
        metrics_write_family(w, name, help, type);
        metrics_write_sample(w, name, NULL, v);
}

void metrics_process_collect(struct metrics_writer *w, void *userdata)
{
        (void)userdata;
        char line[STAT_MAX];
        char *f[32];
        long ticks = sysconf(_SC_CLK_TCK);
        long page = sysconf(_SC_PAGESIZE);

        /* Fields 14 utime, 15 stime, 22 starttime (clock ticks), 23 vsize
         * (bytes), 24 rss (pages): indexes 11, 12, 19, 20, 21 here. */
        if (ticks > 0 && page > 0 && read_small("/proc/self/stat", line, sizeof(line)) == 0 &&
            stat_fields(line, f, ARRAY_SIZE(f)) >= 22) {
                double cpu =
                    (double)(strtoull(f[11], NULL, 10) + strtoull(f[12], NULL, 10)) / (double)ticks;
                write_one(w, "process_cpu_seconds_total",
                          "Total user and system CPU time spent in seconds.", METRICS_COUNTER, cpu);
                write_one(w, "process_resident_memory_bytes", "Resident memory size in bytes.",
                          METRICS_GAUGE, (double)strtoull(f[21], NULL, 10) * (double)page);
                write_one(w, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                          METRICS_GAUGE, (double)strtoull(f[20], NULL, 10));
                int64_t boot = boot_time();
                if (boot > 0)
                        write_one(w, "process_start_time_seconds",
                                  "Start time of the process since unix epoch in seconds.",
                                  METRICS_GAUGE,
                                  (double)boot + (double)strtoull(f[19], NULL, 10) / (double)ticks);
        }
        int64_t fds = open_fds();
        if (fds >= 0)
                write_one(w, "process_open_fds", "Number of open file descriptors.", METRICS_GAUGE,
                          (double)fds);
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
                write_one(w, "process_max_fds", "Maximum number of open file descriptors.",
                          METRICS_GAUGE, (double)rl.rlim_cur);
}
