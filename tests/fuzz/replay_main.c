/* Replays fuzz inputs without libFuzzer: each argument is a file or a
 * directory whose regular files (not recursive) are each passed once to
 * LLVMFuzzerTestOneInput. Any parser's fuzz target links with this file.
 *
 * Inputs are copied into buffers of exactly their size, so that ASan catches
 * a read past the end. Files larger than REPLAY_INPUT_MAX are refused. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPLAY_INPUT_MAX (64 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
        struct stat st;
        uint8_t *data;
        size_t len = 0;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        if (st.st_size > REPLAY_INPUT_MAX) {
                fprintf(stderr, "%s: larger than %d bytes\n", path, REPLAY_INPUT_MAX);
                close(fd);
                return -1;
        }
        /* malloc(0) may return NULL; keep one byte so an empty input is valid. */
        data = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
        if (!data) {
                close(fd);
                return -1;
        }
        while (len < (size_t)st.st_size) {
                ssize_t n = read(fd, data + len, (size_t)st.st_size - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        close(fd);
        LLVMFuzzerTestOneInput(data, len);
        free(data);
        return 0;
}

static int replay_dir(const char *path, size_t *count)
{
        struct dirent *de;
        DIR *d = opendir(path);

        if (!d) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        while ((de = readdir(d))) {
                char child[4096];
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                if (snprintf(child, sizeof(child), "%s/%s", path, de->d_name) >= (int)sizeof(child))
                        continue;
                if (stat(child, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (replay_file(child) < 0) {
                        closedir(d);
                        return -1;
                }
                (*count)++;
        }
        closedir(d);
        return 0;
}

int main(int argc, char **argv)
{
        size_t count = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;
                int r;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                if (S_ISDIR(st.st_mode)) {
                        r = replay_dir(argv[i], &count);
                } else {
                        r = replay_file(argv[i]);
                        count++;
                }
                if (r < 0)
                        return 1;
        }
        /* An empty corpus means a misconfigured test, not a pass. */
        if (count == 0) {
                fprintf(stderr, "no inputs found\n");
                return 1;
        }
        printf("replayed %zu inputs\n", count);
        return 0;
}
