/* Fuzz target for the globs of sources/: the input is a pattern, a newline
 * and a path. Besides memory errors and UB it aborts when
 *   - glob_check returns anything but 0 or -EINVAL, or fails without a
 *     message, or an invalid pattern matches;
 *   - for a valid pattern and a well-formed path (no empty segment),
 *     glob_match disagrees with a reference matcher written here apart from
 *     the module: a character-level dynamic program over tokens, where the
 *     module matches segment by segment with backtracking;
 *   - the pattern made by escaping every byte of the path does not match
 *     the path, or "**" does not match it;
 *   - source_path_included disagrees with its definition (an include
 *     matches, no exclude matches the path or a directory above it). */
#include <stdint.h>

#include "sources.h"

#define FUZZ_PATTERN_MAX 64
#define FUZZ_PATH_MAX    128

enum tok_type {
        TOK_CHAR,     /* one character of set (a literal, ?, a class) */
        TOK_STAR,     /* any run without '/' */
        TOK_DIRS,     /* "**" then '/': "" or any run ending in '/' */
        TOK_SUBTREE,  /* '/' then a final "**": "" or '/' and anything */
        TOK_ANYTHING, /* any run at all */
};

struct tok {
        enum tok_type type;
        bool set[256];
};

/* Parses a class at p ('['); returns the index after ']', or 0 if there is
 * no ']' (the pattern was invalid). */
static size_t ref_class(const char *p, size_t i, bool set[256])
{
        bool negate = false;
        size_t j = i + 1;

        memset(set, 0, 256);
        if (p[j] == '!' || p[j] == '^') {
                negate = true;
                j++;
        }
        for (bool first = true; first || p[j] != ']'; first = false) {
                unsigned lo, hi;

                if (!p[j])
                        return 0;
                if (p[j] == '\\')
                        j++;
                lo = hi = (unsigned char)p[j++];
                if (p[j] == '-' && p[j + 1] && p[j + 1] != ']') {
                        j++;
                        if (p[j] == '\\')
                                j++;
                        hi = (unsigned char)p[j++];
                }
                for (unsigned c = lo; c <= hi && c < 256; c++)
                        set[c] = true;
        }
        if (negate)
                for (int c = 0; c < 256; c++)
                        set[c] = !set[c];
        set['/'] = false;
        return j + 1;
}

static void tok_slash(struct tok *t)
{
        memset(t->set, 0, 256);
        t->set['/'] = true;
        t->type = TOK_CHAR;
}

static bool is_globstar(const char *p, size_t seg, size_t end)
{
        return end - seg == 2 && p[seg] == '*' && p[seg + 1] == '*';
}

static size_t segment_stop(const char *p, size_t seg, size_t len)
{
        while (seg < len && p[seg] != '/')
                seg++;
        return seg;
}

/* Tokens of a path pattern (no leading '/'). A run of "**" segments is one
 * token: DIRS before more segments, SUBTREE at the end after a segment,
 * ANYTHING when it is the whole pattern. */
static size_t ref_tokens(const char *p, struct tok *out, size_t max)
{
        size_t n = 0, len = strlen(p), seg = 0;
        bool slash_due = false; /* a segment came before: the next one starts with '/' */

        while (seg <= len && n + 2 < max) {
                size_t end = segment_stop(p, seg, len);

                if (is_globstar(p, seg, end)) {
                        while (end < len &&
                               is_globstar(p, end + 1, segment_stop(p, end + 1, len))) {
                                seg = end + 1;
                                end = segment_stop(p, seg, len);
                        }
                        if (end >= len) {
                                out[n++].type = slash_due ? TOK_SUBTREE : TOK_ANYTHING;
                                break;
                        }
                        if (slash_due)
                                tok_slash(&out[n++]);
                        out[n++].type = TOK_DIRS;
                        slash_due = false;
                        seg = end + 1;
                        continue;
                }
                if (slash_due)
                        tok_slash(&out[n++]);
                for (size_t i = seg; i < end && n < max;) {
                        if (p[i] == '*') {
                                while (i < end && p[i] == '*')
                                        i++;
                                out[n++].type = TOK_STAR;
                        } else if (p[i] == '?') {
                                memset(out[n].set, 1, 256);
                                out[n].set['/'] = false;
                                out[n++].type = TOK_CHAR;
                                i++;
                        } else if (p[i] == '[') {
                                i = ref_class(p, i, out[n].set);
                                if (i == 0)
                                        abort();
                                out[n++].type = TOK_CHAR;
                        } else {
                                if (p[i] == '\\')
                                        i++;
                                memset(out[n].set, 0, 256);
                                out[n].set[(unsigned char)p[i]] = true;
                                out[n++].type = TOK_CHAR;
                                i++;
                        }
                }
                slash_due = true;
                if (end >= len)
                        break;
                seg = end + 1;
        }
        return n;
}

/* m[i][j]: tokens from i match path from j. */
static bool ref_match_tokens(const struct tok *t, size_t nt, const char *s, size_t ns)
{
        static bool m[2 * FUZZ_PATTERN_MAX + 4][FUZZ_PATH_MAX + 1];

        for (size_t i = nt + 1; i-- > 0;)
                for (size_t j = ns + 1; j-- > 0;) {
                        bool r = false;

                        if (i == nt) {
                                r = j == ns;
                        } else {
                                switch (t[i].type) {
                                case TOK_CHAR:
                                        r = j < ns && t[i].set[(unsigned char)s[j]] &&
                                            m[i + 1][j + 1];
                                        break;
                                case TOK_STAR:
                                        r = m[i + 1][j] || (j < ns && s[j] != '/' && m[i][j + 1]);
                                        break;
                                case TOK_DIRS:
                                        /* "" or a run ending in '/' */
                                        r = m[i + 1][j];
                                        for (size_t k = j; !r && k < ns; k++)
                                                r = s[k] == '/' && m[i + 1][k + 1];
                                        break;
                                case TOK_SUBTREE:
                                        r = j == ns || (s[j] == '/' && i + 1 == nt);
                                        break;
                                case TOK_ANYTHING:
                                        r = i + 1 == nt;
                                        break;
                                }
                        }
                        m[i][j] = r;
                }
        return m[0][0];
}

static bool ref_match(const char *pattern, const char *path)
{
        struct tok toks[2 * FUZZ_PATTERN_MAX + 4];
        size_t nt;

        if (pattern[0] == '/') {
                nt = ref_tokens(pattern + 1, toks, ARRAY_SIZE(toks));
                return ref_match_tokens(toks, nt, path, strlen(path));
        }
        if (strchr(pattern, '/')) {
                nt = ref_tokens(pattern, toks, ARRAY_SIZE(toks));
                return ref_match_tokens(toks, nt, path, strlen(path));
        }
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        /* A base-name pattern: "**" is a star there. */
        nt = ref_tokens(pattern, toks, ARRAY_SIZE(toks));
        for (size_t i = 0; i < nt; i++)
                if (toks[i].type == TOK_ANYTHING)
                        toks[i].type = TOK_STAR;
        return ref_match_tokens(toks, nt, base, strlen(base));
}

static bool path_well_formed(const char *p)
{
        if (!*p || *p == '/')
                return false;
        for (const char *c = p; *c; c++)
                if (*c == '/' && (c[1] == '/' || c[1] == '\0'))
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char input[FUZZ_PATTERN_MAX + FUZZ_PATH_MAX + 2];
        char msg[128] = "";

        if (size >= sizeof(input) || memchr(data, '\0', size))
                return 0;
        memcpy(input, data, size);
        input[size] = '\0';
        char *nl = strchr(input, '\n');
        if (!nl)
                return 0;
        *nl = '\0';
        const char *pattern = input, *path = nl + 1;
        if (strlen(pattern) > FUZZ_PATTERN_MAX || strlen(path) > FUZZ_PATH_MAX)
                return 0;

        int r = glob_check(pattern, msg, sizeof(msg));
        bool matched = glob_match(pattern, path);
        if (r != 0 && (r != -EINVAL || !msg[0] || matched)) {
                fprintf(stderr, "check \"%s\": %d \"%s\" matched=%d\n", pattern, r, msg, matched);
                abort();
        }
        if (r == 0 && path_well_formed(path) && matched != ref_match(pattern, path)) {
                fprintf(stderr, "\"%s\" on \"%s\": %d, reference %d\n", pattern, path, matched,
                        !matched);
                abort();
        }

        if (path_well_formed(path) && !strchr(path, '\n')) {
                char literal[2 * FUZZ_PATH_MAX + 2];
                size_t n = 0;

                /* Every byte escaped but '/', anchored: matches exactly the path. */
                literal[n++] = '/';
                for (const char *c = path; *c; c++) {
                        if (*c != '/')
                                literal[n++] = '\\';
                        literal[n++] = *c;
                }
                literal[n] = '\0';
                if (n <= GLOB_PATTERN_MAX && !glob_match(literal, path)) {
                        fprintf(stderr, "\"%s\" does not match \"%s\"\n", literal, path);
                        abort();
                }
                if (!glob_match("**", path) || !glob_match("/**", path)) {
                        fprintf(stderr, "** does not match \"%s\"\n", path);
                        abort();
                }

                const char *inc[] = {pattern, "*.yaml"};
                const char *exc[] = {pattern};
                bool want = glob_match(pattern, path) || glob_match("*.yaml", path);
                bool excluded = false;
                char prefix[FUZZ_PATH_MAX + 1];
                for (size_t k = 0; path[k]; k++) {
                        if (path[k + 1] != '/' && path[k + 1] != '\0')
                                continue;
                        memcpy(prefix, path, k + 1);
                        prefix[k + 1] = '\0';
                        excluded = excluded || glob_match(pattern, prefix);
                }
                if (source_path_included(inc, 2, exc, 1, path) != (want && !excluded) ||
                    source_dir_descended(exc, 1, path) != !excluded) {
                        fprintf(stderr, "included \"%s\" with \"%s\"\n", path, pattern);
                        abort();
                }
        }
        return 0;
}
