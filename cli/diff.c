/* diff: a unified line diff (`diff -u`) of two texts, for `berth diff`.
 * Pure: two texts in, text out.
 *
 * The edit script is Myers' greedy shortest edit script ("An O(ND)
 * difference algorithm and its variations", 1986) on what is left once the
 * common first and last lines are set aside. Its trace takes O(D^2) memory
 * for D edits, so past CLI_DIFF_EDITS_MAX edits the middle is given up on as
 * a whole: all of it deleted, then all of it inserted — still a correct diff,
 * only not a minimal one. Hunks follow GNU diff: `context` lines around each
 * change, changes at most 2 * context lines apart in one hunk, a count of 1
 * left out of the header and an empty side numbered after the line before
 * it. */
#include "cli-internal.h"

struct line {
        const char *s;
        size_t len;
        uint64_t hash;
        bool nl; /* ends in '\n' (only the last line may not) */
};

enum edit_op { EDIT_SAME, EDIT_DELETE, EDIT_INSERT };

struct edit {
        enum edit_op op;
        size_t a, b; /* lines of a and of b before this one */
};

struct edits {
        struct edit *v;
        size_t n;
};

static uint64_t line_hash(const char *s, size_t len)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */

        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char)s[i];
                h *= 1099511628211ULL;
        }
        return h;
}

/* Splits text into lines; -E2BIG past CLI_DIFF_LINES_MAX. Caller frees. */
static int split_lines(const char *text, size_t len, struct line **ret, size_t *ret_n)
{
        _cleanup_free_ struct line *v = NULL;
        size_t n = 0, cap = 0;

        for (size_t pos = 0; pos < len;) {
                const char *nl = memchr(text + pos, '\n', len - pos);
                size_t end = nl ? (size_t)(nl - text) : len;

                if (n == CLI_DIFF_LINES_MAX)
                        return -E2BIG;
                if (n == cap) {
                        size_t c = cap ? cap * 2 : 64;
                        struct line *w = reallocarray(v, c, sizeof(*v));
                        if (!w)
                                return -ENOMEM;
                        v = w;
                        cap = c;
                }
                v[n++] = (struct line){.s = text + pos,
                                       .len = end - pos,
                                       .hash = line_hash(text + pos, end - pos),
                                       .nl = nl != NULL};
                pos = nl ? end + 1 : len;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

static bool line_eq(const struct line *x, const struct line *y)
{
        return x->hash == y->hash && x->len == y->len && x->nl == y->nl &&
               memcmp(x->s, y->s, x->len) == 0;
}

/* ---- the edit script --------------------------------------------------------- */

static int edits_push(struct edits *e, enum edit_op op, size_t a, size_t b)
{
        /* Callers size v for every line of both sides. */
        e->v[e->n++] = (struct edit){.op = op, .a = a, .b = b};
        return 0;
}

/* The greedy forward search over a[0..n) and b[0..m): the V array after
 * every step d (entries for diagonals -d..d) in *ret_trace, and the number
 * of steps. -E2BIG when more than CLI_DIFF_EDITS_MAX edits are needed. */
static int myers_trace(const struct line *a, size_t n, const struct line *b, size_t m,
                       int32_t **ret_trace, size_t *ret_d)
{
        size_t max = n + m < CLI_DIFF_EDITS_MAX ? n + m : CLI_DIFF_EDITS_MAX;
        _cleanup_free_ int32_t *trace = NULL;
        size_t used = 0;

        /* (max + 1)^2 entries at most: every step d adds 2d + 1. */
        trace = calloc((max + 1) * (max + 1), sizeof(int32_t));
        if (!trace)
                return -ENOMEM;
        for (size_t d = 0; d <= max; d++) {
                int32_t *cur = trace + used, *prev = d ? cur - (2 * d - 1) : NULL;
                long dd = (long)d;

                for (long k = -dd; k <= dd; k += 2) {
                        long x, y;

                        if (d == 0)
                                x = 0;
                        else if (k == -dd ||
                                 (k != dd && prev[k - 1 + dd - 1] < prev[k + 1 + dd - 1]))
                                x = prev[k + 1 + dd - 1]; /* down: an insertion */
                        else
                                x = prev[k - 1 + dd - 1] + 1; /* right: a deletion */
                        y = x - k;
                        while (x < (long)n && y < (long)m && line_eq(&a[x], &b[y]))
                                x++, y++;
                        cur[k + dd] = (int32_t)x;
                        if (x >= (long)n && y >= (long)m) {
                                *ret_trace = TAKE_PTR(trace);
                                *ret_d = d;
                                return 0;
                        }
                }
                used += 2 * d + 1;
        }
        return -E2BIG;
}

/* Appends the edits that turn a[0..n) into b[0..m) (offsets a0, b0 into the
 * whole texts) to e, in order. */
static int edits_middle(const struct line *a, size_t n, const struct line *b, size_t m, size_t a0,
                        size_t b0, struct edits *e)
{
        _cleanup_free_ int32_t *trace = NULL;
        _cleanup_free_ struct edit *rev = NULL;
        size_t d, nrev = 0, used;
        long x = (long)n, y = (long)m;
        int r = myers_trace(a, n, b, m, &trace, &d);

        if (r == -E2BIG) {
                for (size_t i = 0; i < n; i++)
                        edits_push(e, EDIT_DELETE, a0 + i, b0);
                for (size_t j = 0; j < m; j++)
                        edits_push(e, EDIT_INSERT, a0 + n, b0 + j);
                return 0;
        }
        if (r < 0)
                return r;
        rev = calloc(n + m + 1, sizeof(*rev));
        if (!rev)
                return -ENOMEM;
        /* Backwards from (n, m): step d came from diagonal k+1 or k-1 of
         * step d-1, whose V starts d*d - (2d - 1) entries in. */
        used = d * d;
        for (long dd = (long)d; dd > 0; dd--) {
                const int32_t *prev = trace + (used - (size_t)(2 * dd - 1));
                long k = x - y, pk, px, py;

                if (k == -dd || (k != dd && prev[k - 1 + dd - 1] < prev[k + 1 + dd - 1]))
                        pk = k + 1;
                else
                        pk = k - 1;
                px = prev[pk + dd - 1];
                py = px - pk;
                while (x > px && y > py) {
                        x--, y--;
                        rev[nrev++] = (struct edit){EDIT_SAME, a0 + (size_t)x, b0 + (size_t)y};
                }
                if (pk == k + 1) {
                        y--;
                        rev[nrev++] = (struct edit){EDIT_INSERT, a0 + (size_t)x, b0 + (size_t)y};
                } else {
                        x--;
                        rev[nrev++] = (struct edit){EDIT_DELETE, a0 + (size_t)x, b0 + (size_t)y};
                }
                used -= (size_t)(2 * dd - 1);
        }
        while (x > 0 && y > 0) {
                x--, y--;
                rev[nrev++] = (struct edit){EDIT_SAME, a0 + (size_t)x, b0 + (size_t)y};
        }
        while (nrev > 0)
                e->v[e->n++] = rev[--nrev];
        return 0;
}

static int edit_script(const struct line *a, size_t n, const struct line *b, size_t m,
                       struct edits *ret)
{
        struct edits e = {.v = calloc(n + m + 1, sizeof(struct edit))};
        size_t pre = 0, suf = 0;
        int r;

        if (!e.v)
                return -ENOMEM;
        while (pre < n && pre < m && line_eq(&a[pre], &b[pre]))
                pre++;
        while (suf < n - pre && suf < m - pre && line_eq(&a[n - 1 - suf], &b[m - 1 - suf]))
                suf++;
        for (size_t i = 0; i < pre; i++)
                edits_push(&e, EDIT_SAME, i, i);
        r = edits_middle(a + pre, n - pre - suf, b + pre, m - pre - suf, pre, pre, &e);
        if (r < 0) {
                free(e.v);
                return r;
        }
        for (size_t i = 0; i < suf; i++)
                edits_push(&e, EDIT_SAME, n - suf + i, m - suf + i);
        *ret = e;
        return 0;
}

/* ---- printing ----------------------------------------------------------------- */

/* "-3,4": where a side of a hunk starts (1-based) and how long it is. */
static void range(FILE *out, char sign, size_t before, size_t count)
{
        if (count == 1)
                fprintf(out, "%c%zu", sign, before + 1);
        else
                fprintf(out, "%c%zu,%zu", sign, count ? before + 1 : before, count);
}

static void print_line(FILE *out, char sign, const struct line *l)
{
        fputc(sign, out);
        fwrite(l->s, 1, l->len, out);
        fputc('\n', out);
        if (!l->nl)
                fputs("\\ No newline at end of file\n", out);
}

static void print_hunk(FILE *out, const struct edits *e, size_t from, size_t to,
                       const struct line *a, const struct line *b)
{
        size_t na = 0, nb = 0;

        for (size_t i = from; i < to; i++) {
                na += e->v[i].op != EDIT_INSERT;
                nb += e->v[i].op != EDIT_DELETE;
        }
        fputs("@@ ", out);
        range(out, '-', e->v[from].a, na);
        fputc(' ', out);
        range(out, '+', e->v[from].b, nb);
        fputs(" @@\n", out);
        for (size_t i = from; i < to; i++) {
                const struct edit *x = &e->v[i];

                if (x->op == EDIT_SAME)
                        print_line(out, ' ', &a[x->a]);
                else if (x->op == EDIT_DELETE)
                        print_line(out, '-', &a[x->a]);
                else
                        print_line(out, '+', &b[x->b]);
        }
}

int cli_diff_unified(FILE *out, const char *a_label, const char *a_text, size_t a_len,
                     const char *b_label, const char *b_text, size_t b_len, int context)
{
        _cleanup_free_ struct line *a = NULL, *b = NULL;
        _cleanup_free_ struct edit *ev = NULL;
        struct edits e = {0};
        size_t n = 0, m = 0, ctx = context > 0 ? (size_t)context : 0;
        bool header = false;
        int r;

        if ((a_len == b_len && (a_len == 0 || memcmp(a_text, b_text, a_len) == 0)))
                return 0;
        r = split_lines(a_text, a_len, &a, &n);
        if (r == 0)
                r = split_lines(b_text, b_len, &b, &m);
        if (r == 0)
                r = edit_script(a, n, b, m, &e);
        if (r < 0)
                return r;
        ev = e.v;

        for (size_t i = 0; i < e.n;) {
                size_t first, last, from, to;

                while (i < e.n && e.v[i].op == EDIT_SAME)
                        i++;
                if (i == e.n)
                        break;
                /* The changes of this hunk: up to the first run of more than
                 * 2 * ctx unchanged lines. */
                first = last = i;
                for (size_t j = i + 1; j < e.n; j++) {
                        if (e.v[j].op == EDIT_SAME)
                                continue;
                        if (j - last - 1 > 2 * ctx)
                                break;
                        last = j;
                }
                from = first > ctx ? first - ctx : 0;
                to = last + 1 + ctx < e.n ? last + 1 + ctx : e.n;
                if (!header) {
                        fprintf(out, "--- %s\n+++ %s\n", a_label, b_label);
                        header = true;
                }
                print_hunk(out, &e, from, to, a, b);
                i = last + 1;
        }
        if (ferror(out))
                return -EIO;
        return header ? 1 : 0;
}
