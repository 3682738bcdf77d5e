/* sources: globs over relative paths (syntax in sources.h).
 *
 * A valid pattern has no '/' inside a class or after '\', so every '/' of it
 * separates segments, and each segment is matched against one path segment.
 * Both levels use the same linear backtracking: on a mismatch, go back to
 * the last star ('*' within a segment, a "**" segment across segments) and
 * let it take one more element. Each star only needs its last position
 * because a star matches any run, so the cost is at most the product of
 * the lengths, with no recursion. */
#include "sources.h"

static void glob_msg(char *msg, size_t msg_size, const char *fmt, ...) _printf_(3, 4);

static void glob_msg(char *msg, size_t msg_size, const char *fmt, ...)
{
        va_list ap;

        if (!msg || msg_size == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, msg_size, fmt, ap);
        va_end(ap);
}

/* Checks the class starting at p[i] == '['; sets *ret_end to the index after
 * its ']'. Positions in messages are 1-based. */
static int class_check(const char *p, size_t i, size_t *ret_end, char *msg, size_t msg_size)
{
        size_t j = i + 1;
        bool first = true;

        if (p[j] == '!' || p[j] == '^')
                j++;
        for (;;) {
                unsigned char lo, hi;

                if (p[j] == '\0')
                        goto unterminated;
                if (p[j] == ']' && !first)
                        break;
                first = false;
                if (p[j] == '/')
                        goto slash;
                if (p[j] == '\\') {
                        if (p[j + 1] == '\0')
                                goto unterminated;
                        if (p[j + 1] == '/')
                                goto slash;
                        j++;
                }
                lo = (unsigned char)p[j++];
                if (p[j] != '-' || p[j + 1] == ']' || p[j + 1] == '\0')
                        continue;
                j++; /* a range */
                if (p[j] == '/')
                        goto slash;
                if (p[j] == '\\') {
                        if (p[j + 1] == '\0')
                                goto unterminated;
                        if (p[j + 1] == '/')
                                goto slash;
                        j++;
                }
                hi = (unsigned char)p[j++];
                if (hi < lo) {
                        glob_msg(msg, msg_size, "reversed range %c-%c in the class at %zu", lo, hi,
                                 i + 1);
                        return -EINVAL;
                }
        }
        *ret_end = j + 1;
        return 0;

unterminated:
        glob_msg(msg, msg_size, "unterminated character class at %zu", i + 1);
        return -EINVAL;
slash:
        glob_msg(msg, msg_size, "'/' inside the character class at %zu", i + 1);
        return -EINVAL;
}

int glob_check(const char *pattern, char *msg, size_t msg_size)
{
        const char *p = pattern;
        size_t len;

        glob_msg(msg, msg_size, "%s", "");
        if (!p || !*p) {
                glob_msg(msg, msg_size, "empty pattern");
                return -EINVAL;
        }
        len = strlen(p);
        if (len > GLOB_PATTERN_MAX) {
                glob_msg(msg, msg_size, "pattern is longer than %d characters", GLOB_PATTERN_MAX);
                return -EINVAL;
        }
        for (size_t i = 0; i < len;) {
                int r;

                switch (p[i]) {
                case '\\':
                        if (p[i + 1] == '\0') {
                                glob_msg(msg, msg_size, "'\\' at the end escapes nothing");
                                return -EINVAL;
                        }
                        if (p[i + 1] == '/') {
                                glob_msg(msg, msg_size, "'/' cannot be escaped (at %zu)", i + 1);
                                return -EINVAL;
                        }
                        i += 2;
                        break;
                case '[':
                        r = class_check(p, i, &i, msg, msg_size);
                        if (r < 0)
                                return r;
                        break;
                case '/':
                        /* One leading '/' anchors; any other must separate two segments. */
                        if ((i > 0 && p[i - 1] == '/') || p[i + 1] == '\0') {
                                glob_msg(msg, msg_size,
                                         "empty path segment at %zu (a trailing '/'? "
                                         "dir/** names everything under dir)",
                                         i + 1);
                                return -EINVAL;
                        }
                        i++;
                        break;
                default:
                        i++;
                }
        }
        return 0;
}

/* ---- matching (patterns already checked) ------------------------------ */

/* Whether the class at p ('[') holds c; *ret_next is after its ']'. */
static bool class_match(const char *p, unsigned char c, const char **ret_next)
{
        bool negate = false, found = false, first = true;

        p++;
        if (*p == '!' || *p == '^') {
                negate = true;
                p++;
        }
        while (first || *p != ']') {
                unsigned char lo, hi;

                first = false;
                if (*p == '\\')
                        p++;
                lo = hi = (unsigned char)*p++;
                if (p[0] == '-' && p[1] != ']') {
                        p++;
                        if (*p == '\\')
                                p++;
                        hi = (unsigned char)*p++;
                }
                if (c >= lo && c <= hi)
                        found = true;
        }
        *ret_next = p + 1;
        return found != negate;
}

/* Matches the pattern atom at p (not '*') against c; *ret_next is after it. */
static bool atom_match(const char *p, unsigned char c, const char **ret_next)
{
        switch (*p) {
        case '?':
                *ret_next = p + 1;
                return true;
        case '[':
                return class_match(p, c, ret_next);
        case '\\':
                *ret_next = p + 2;
                return (unsigned char)p[1] == c;
        default:
                *ret_next = p + 1;
                return (unsigned char)*p == c;
        }
}

/* One pattern segment [p, pe) against one path segment [s, se). */
static bool segment_match(const char *p, const char *pe, const char *s, const char *se)
{
        const char *star_p = NULL, *star_s = NULL;

        while (s < se) {
                const char *next;

                if (p < pe && *p == '*') {
                        while (p < pe && *p == '*')
                                p++;
                        star_p = p;
                        star_s = s;
                        continue;
                }
                if (p < pe && atom_match(p, (unsigned char)*s, &next)) {
                        p = next;
                        s++;
                        continue;
                }
                if (!star_p)
                        return false;
                p = star_p;
                s = ++star_s;
        }
        while (p < pe && *p == '*')
                p++;
        return p == pe;
}

/* The end of the segment starting at s (its '/' or the end), within [s, e). */
static const char *segment_end(const char *s, const char *e)
{
        const char *slash = memchr(s, '/', (size_t)(e - s));

        return slash ? slash : e;
}

/* The start of the next segment after the one at s, or NULL. */
static const char *segment_next(const char *s, const char *e)
{
        const char *end = segment_end(s, e);

        return end < e ? end + 1 : NULL;
}

static bool segment_is_globstar(const char *p, const char *pe)
{
        return segment_end(p, pe) - p == 2 && p[0] == '*' && p[1] == '*';
}

/* A path pattern [p, pe) against the path [s, se), segment by segment. */
static bool path_match(const char *p, const char *pe, const char *s, const char *se)
{
        const char *star_p = NULL, *star_s = NULL;

        while (s) {
                if (p && segment_is_globstar(p, pe)) {
                        p = segment_next(p, pe);
                        star_p = p;
                        star_s = s;
                        continue;
                }
                if (p && segment_match(p, segment_end(p, pe), s, segment_end(s, se))) {
                        p = segment_next(p, pe);
                        s = segment_next(s, se);
                        continue;
                }
                if (!star_s)
                        return false;
                p = star_p;
                s = star_s = segment_next(star_s, se);
        }
        while (p && segment_is_globstar(p, pe))
                p = segment_next(p, pe);
        return !p;
}

/* glob_match on the first len bytes of relpath; pattern already checked. */
static bool match_checked(const char *pattern, const char *relpath, size_t len)
{
        const char *pe = pattern + strlen(pattern), *se = relpath + len;

        if (len == 0)
                return false;
        if (pattern[0] == '/')
                return path_match(pattern + 1, pe, relpath, se);
        if (!strchr(pattern, '/')) {
                const char *base = relpath + len;

                while (base > relpath && base[-1] != '/')
                        base--;
                return segment_match(pattern, pe, base, se);
        }
        return path_match(pattern, pe, relpath, se);
}

bool glob_match(const char *pattern, const char *relpath)
{
        if (!relpath || glob_check(pattern, NULL, 0) < 0)
                return false;
        return match_checked(pattern, relpath, strlen(relpath));
}

/* Whether some valid pattern of v matches relpath or a directory above it. */
static bool matches_or_above(const char *const *v, size_t n, const char *relpath)
{
        size_t len = strlen(relpath);

        for (size_t i = 0; i < n; i++) {
                if (glob_check(v[i], NULL, 0) < 0)
                        continue;
                for (size_t k = 0; k <= len; k++)
                        if ((k == len || relpath[k] == '/') && match_checked(v[i], relpath, k))
                                return true;
        }
        return false;
}

bool source_path_included(const char *const *include, size_t n_include, const char *const *exclude,
                          size_t n_exclude, const char *relpath)
{
        bool included = false;

        if (!relpath || !*relpath || (n_include > 0 && !include) || (n_exclude > 0 && !exclude))
                return false;
        for (size_t i = 0; i < n_include && !included; i++)
                included = glob_match(include[i], relpath);
        return included && !matches_or_above(exclude, n_exclude, relpath);
}

bool source_dir_descended(const char *const *exclude, size_t n_exclude, const char *reldir)
{
        if (!reldir || !*reldir || (n_exclude > 0 && !exclude))
                return false;
        return !matches_or_above(exclude, n_exclude, reldir);
}
