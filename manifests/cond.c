/* Step conditions: the `depends` and `when` expressions of a Workflow step
 * (grammar and contract in manifests.h).
 *
 * A recursive-descent parser over a one-token lookahead builds a node array;
 * && and || are n-ary nodes, so recursion (in the parser and the evaluator)
 * goes only as deep as the nesting of "(" and "!", which COND_DEPTH_MAX
 * caps. Everything else is bounded by the COND_*_MAX limits of manifests.h.
 *
 * Decisions the grammar leaves open:
 *   - "!" applies to a whole comparison: `!x == y` is !(x == y), as
 *     `unary := "!" unary | compare` says.
 *   - Numbers: only an unquoted word can be one, and only when its whole
 *     text is [-+]digits[.digits][(e|E)[-+]digits] and strtod reads a finite
 *     value ("1e3", "-2.5", "+1"; not "0x10", "inf", "nan", ".5", "5.",
 *     "1e999"). A quoted literal is always a string: '10' > '9' is false.
 *     Values templated into a `when` compare as numbers only unquoted.
 *   - Booleans: only the unquoted words true and false; 'true' is a string.
 *     A comparison's operand that is itself a boolean ((a == b) == false)
 *     compares as the word true or false.
 *   - A word is any run of bytes the grammar allows, newlines included;
 *     messages quote it with C escapes, cut to COND_QUOTE_MAX bytes.
 *   - Evaluation is strict: every operand is evaluated, so whether `when`
 *     fails on a non-boolean does not depend on the values of the others.
 *   - In COND_DEPENDS a word splits at its last dot: the step is what comes
 *     before (not empty), the outcome what follows, spelled exactly.
 */
#include <math.h>

#include "manifests.h"

#define COND_DEPTH_MAX 64 /* nested "(" and "!" */
#define COND_QUOTE_MAX 64 /* bytes of a word or string quoted in a message */

enum token_kind {
        TOKEN_END,
        TOKEN_LPAREN,
        TOKEN_RPAREN,
        TOKEN_NOT,
        TOKEN_AND,
        TOKEN_OR,
        TOKEN_EQ,
        TOKEN_NE,
        TOKEN_LT,
        TOKEN_LE,
        TOKEN_GT,
        TOKEN_GE,
        TOKEN_STRING,
        TOKEN_WORD,
};

struct token {
        enum token_kind kind;
        unsigned column;   /* 1-based byte column of its first byte */
        const char *start; /* as written; a string with its quotes */
        size_t len;
};

enum node_kind {
        NODE_OR,  /* children: two or more */
        NODE_AND, /* children: two or more */
        NODE_NOT, /* child: one */
        NODE_CMP, /* children: two; op says which */
        NODE_WORD,
        NODE_STRING,
        NODE_REF, /* COND_DEPENDS: text is the step */
};

struct cond_node {
        enum node_kind kind;
        enum token_kind op;        /* NODE_CMP */
        enum step_outcome outcome; /* NODE_REF */
        unsigned column;
        int first;        /* first child, -1 if none */
        int next;         /* next sibling, -1 if none */
        const char *text; /* NODE_WORD, NODE_STRING (unescaped), NODE_REF; in cond.text */
};

struct cond {
        enum cond_mode mode;
        int root;
        size_t n_nodes;
        struct cond_node *nodes;
        size_t n_refs;
        int refs[COND_REFS_MAX]; /* NODE_REF indices in order of appearance */
        char *text;              /* NUL-terminated values of the operands */
};

struct parser {
        const char *text;
        size_t pos; /* where the lexer goes on */
        struct token tok, prev;
        struct cond *c;
        size_t n_items;  /* operators and operands so far */
        size_t text_len; /* bytes of c->text used */
        int depth;
        char *msg;
        size_t msg_size;
};

static const char *const outcome_names[] = {
    [STEP_OUTCOME_SUCCEEDED] = "Succeeded",
    [STEP_OUTCOME_FAILED] = "Failed",
    [STEP_OUTCOME_SKIPPED] = "Skipped",
    [STEP_OUTCOME_COMPLETED] = "Completed",
};

/* msg = "column N: <why>"; returns r. */
_printf_(5, 6) static int fail(char *msg, size_t msg_size, int r, unsigned column, const char *fmt,
                               ...)
{
        char why[512];
        va_list ap;

        if (!msg || msg_size == 0)
                return r;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        snprintf(msg, msg_size, "column %u: %s", column, why);
        return r;
}

static int fail_nomem(char *msg, size_t msg_size)
{
        if (msg && msg_size > 0)
                snprintf(msg, msg_size, "out of memory");
        return -ENOMEM;
}

/* s[0..len) between quote characters q, with C escapes for bytes that are
 * not printable ASCII and, unless s is already escaped (a string as
 * written), for q and backslashes; cut to COND_QUOTE_MAX bytes. */
static void quote(char out[static 4 * COND_QUOTE_MAX + 8], char q, const char *s, size_t len,
                  bool escaped)
{
        size_t o = 0;

        out[o++] = q;
        for (size_t i = 0; i < len && i < COND_QUOTE_MAX; i++) {
                unsigned char ch = (unsigned char)s[i];

                if (ch == '\n' || ch == '\t' || ch == '\r') {
                        out[o++] = '\\';
                        out[o++] = ch == '\n' ? 'n' : ch == '\t' ? 't' : 'r';
                } else if (!escaped && (ch == (unsigned char)q || ch == '\\')) {
                        out[o++] = '\\';
                        out[o++] = (char)ch;
                } else if (ch < 0x20 || ch >= 0x7f) {
                        o += (size_t)snprintf(out + o, 5, "\\x%02x", ch);
                } else {
                        out[o++] = (char)ch;
                }
        }
        if (len > COND_QUOTE_MAX) {
                memcpy(out + o, "...", 3);
                o += 3;
        }
        out[o++] = q;
        out[o] = '\0';
}

/* A token as a message names it: "word", 'string' (as written), '&&', or
 * "the end of the expression". */
static void describe(char out[static 4 * COND_QUOTE_MAX + 8], const struct token *t)
{
        switch (t->kind) {
        case TOKEN_END:
                snprintf(out, 4 * COND_QUOTE_MAX + 8, "the end of the expression");
                break;
        case TOKEN_WORD:
                quote(out, '"', t->start, t->len, false);
                break;
        case TOKEN_STRING:
                quote(out, t->start[0], t->start + 1, t->len - 2, true);
                break;
        default:
                snprintf(out, 4 * COND_QUOTE_MAX + 8, "'%.*s'", (int)t->len, t->start);
                break;
        }
}

static bool is_word_char(char ch)
{
        return ch && !strchr(" \t'\"()!=<>&|", ch);
}

/* Token kinds of the operators of one or two characters. */
static const struct {
        const char *text;
        enum token_kind kind;
} operators[] = {
    {"&&", TOKEN_AND}, {"||", TOKEN_OR},    {"==", TOKEN_EQ},    {"!=", TOKEN_NE},
    {"<=", TOKEN_LE},  {">=", TOKEN_GE},    {"<", TOKEN_LT},     {">", TOKEN_GT},
    {"!", TOKEN_NOT},  {"(", TOKEN_LPAREN}, {")", TOKEN_RPAREN},
};

/* Reads the next token into p->tok (the current one becomes p->prev). */
static int lex(struct parser *p)
{
        const char *s = p->text;
        size_t i, j;

        while (s[p->pos] == ' ' || s[p->pos] == '\t')
                p->pos++;
        p->prev = p->tok;
        i = p->pos;
        p->tok = (struct token){.kind = TOKEN_END, .column = (unsigned)i + 1, .start = s + i};

        if (!s[i])
                return 0;
        for (size_t k = 0; k < ARRAY_SIZE(operators); k++)
                if (str_has_prefix(s + i, operators[k].text)) {
                        p->tok.kind = operators[k].kind;
                        p->tok.len = strlen(operators[k].text);
                        p->pos = i + p->tok.len;
                        return 0;
                }
        if (strchr("=&|", s[i]))
                return fail(p->msg, p->msg_size, -EINVAL, p->tok.column,
                            "'%c' is not an operator (did you mean '%c%c')", s[i], s[i], s[i]);
        if (s[i] == '\'' || s[i] == '"') {
                /* A backslash escapes the next character, the closing quote too. */
                for (j = i + 1; s[j] && s[j] != s[i]; j += s[j] == '\\' && s[j + 1] ? 2 : 1)
                        ;
                if (!s[j])
                        return fail(p->msg, p->msg_size, -EINVAL, p->tok.column,
                                    "unterminated string");
                p->tok.kind = TOKEN_STRING;
                j++;
        } else {
                for (j = i; is_word_char(s[j]); j++)
                        ;
                p->tok.kind = TOKEN_WORD;
        }
        p->tok.len = j - i;
        p->pos = j;
        return 0;
}

static bool is_compare(enum token_kind k)
{
        return k >= TOKEN_EQ && k <= TOKEN_GE;
}

/* Counts one operator or operand against COND_NODES_MAX. */
static int count_item(struct parser *p, const struct token *t)
{
        if (++p->n_items > COND_NODES_MAX)
                return fail(p->msg, p->msg_size, -E2BIG, t->column,
                            "more than %d operators and operands", COND_NODES_MAX);
        return 0;
}

static int nest(struct parser *p, const struct token *t)
{
        if (++p->depth > COND_DEPTH_MAX)
                return fail(p->msg, p->msg_size, -E2BIG, t->column,
                            "nested deeper than %d levels of '(' and '!'", COND_DEPTH_MAX);
        return 0;
}

/* A node of the array; n_items bounds the count, so there is room. */
static int node_add(struct parser *p, enum node_kind kind, unsigned column)
{
        int i = (int)p->c->n_nodes++;

        p->c->nodes[i] =
            (struct cond_node){.kind = kind, .column = column, .first = -1, .next = -1};
        return i;
}

/* Copies len bytes to the operand text, unescaping when asked. */
static const char *text_add(struct parser *p, const char *s, size_t len, bool unescape)
{
        char *out = p->c->text + p->text_len, *o = out;

        for (size_t i = 0; i < len; i++) {
                if (unescape && s[i] == '\\')
                        i++;
                *o++ = s[i];
        }
        *o++ = '\0';
        p->text_len += (size_t)(o - out);
        return out;
}

/* The current token is not what may follow a complete operand. */
static int unexpected(struct parser *p)
{
        char what[4 * COND_QUOTE_MAX + 8];

        if (p->tok.kind == TOKEN_RPAREN)
                return fail(p->msg, p->msg_size, -EINVAL, p->tok.column, "unexpected ')'");
        describe(what, &p->prev);
        return fail(p->msg, p->msg_size, -EINVAL, p->tok.column, "expected an operator after %s",
                    what);
}

static int parse_or(struct parser *p, int *ret);

static int parse_ref(struct parser *p, int *ret)
{
        const struct token *t = &p->tok;
        const char *dot = NULL;
        char what[4 * COND_QUOTE_MAX + 8];

        describe(what, t);
        for (size_t i = 0; i < t->len; i++)
                if (t->start[i] == '.')
                        dot = t->start + i;
        if (!dot || dot == t->start)
                return fail(p->msg, p->msg_size, -EINVAL, t->column,
                            "%s: expected <step>.<outcome>, e.g. a.Succeeded", what);

        const char *outcome = dot + 1;
        size_t outcome_len = t->len - (size_t)(outcome - t->start);
        for (size_t o = 0; o < ARRAY_SIZE(outcome_names); o++)
                if (strlen(outcome_names[o]) == outcome_len &&
                    memcmp(outcome_names[o], outcome, outcome_len) == 0) {
                        if (p->c->n_refs >= COND_REFS_MAX)
                                return fail(p->msg, p->msg_size, -E2BIG, t->column,
                                            "more than %d <step>.<outcome> words", COND_REFS_MAX);
                        int n = node_add(p, NODE_REF, t->column);
                        p->c->nodes[n].outcome = (enum step_outcome)o;
                        p->c->nodes[n].text =
                            text_add(p, t->start, (size_t)(dot - t->start), false);
                        p->c->refs[p->c->n_refs++] = n;
                        *ret = n;
                        return 0;
                }
        return fail(p->msg, p->msg_size, -EINVAL, t->column + (unsigned)(outcome - t->start),
                    "%s: the outcome must be Succeeded, Failed, Skipped or Completed", what);
}

/* operand := "(" expr ")" | string | word */
static int parse_operand(struct parser *p, int *ret)
{
        char what[4 * COND_QUOTE_MAX + 8];
        int r, n = -1;

        switch (p->tok.kind) {
        case TOKEN_LPAREN: {
                struct token open = p->tok;

                r = nest(p, &open);
                if (r < 0)
                        return r;
                r = lex(p);
                if (r < 0)
                        return r;
                r = parse_or(p, &n);
                if (r < 0)
                        return r;
                if (p->tok.kind == TOKEN_END)
                        return fail(p->msg, p->msg_size, -EINVAL, p->tok.column,
                                    "expected ')' to close the '(' at column %u", open.column);
                if (p->tok.kind != TOKEN_RPAREN)
                        return unexpected(p);
                p->depth--;
                break;
        }
        case TOKEN_STRING:
                if (p->c->mode == COND_DEPENDS)
                        return fail(p->msg, p->msg_size, -EINVAL, p->tok.column,
                                    "depends compares no values: use <step>.<outcome> with && || "
                                    "! and parentheses");
                r = count_item(p, &p->tok);
                if (r < 0)
                        return r;
                n = node_add(p, NODE_STRING, p->tok.column);
                p->c->nodes[n].text = text_add(p, p->tok.start + 1, p->tok.len - 2, true);
                break;
        case TOKEN_WORD:
                r = count_item(p, &p->tok);
                if (r < 0)
                        return r;
                if (p->c->mode == COND_DEPENDS) {
                        r = parse_ref(p, &n);
                        if (r < 0)
                                return r;
                        break;
                }
                n = node_add(p, NODE_WORD, p->tok.column);
                p->c->nodes[n].text = text_add(p, p->tok.start, p->tok.len, false);
                break;
        default:
                describe(what, &p->tok);
                return fail(p->msg, p->msg_size, -EINVAL, p->tok.column,
                            "expected an operand, found %s", what);
        }
        *ret = n;
        return lex(p);
}

/* compare := operand [ op operand ] */
static int parse_compare(struct parser *p, int *ret)
{
        int r, left, right, n;

        r = parse_operand(p, &left);
        if (r < 0)
                return r;
        if (!is_compare(p->tok.kind)) {
                *ret = left;
                return 0;
        }

        struct token op = p->tok;
        if (p->c->mode == COND_DEPENDS)
                return fail(p->msg, p->msg_size, -EINVAL, op.column,
                            "depends compares no values: use <step>.<outcome> with && || ! and "
                            "parentheses");
        r = count_item(p, &op);
        if (r < 0)
                return r;
        r = lex(p);
        if (r < 0)
                return r;
        r = parse_operand(p, &right);
        if (r < 0)
                return r;
        if (is_compare(p->tok.kind))
                return fail(p->msg, p->msg_size, -EINVAL, p->tok.column,
                            "'%.*s' after a comparison: comparisons do not chain (use && or "
                            "parentheses)",
                            (int)p->tok.len, p->tok.start);

        n = node_add(p, NODE_CMP, op.column);
        p->c->nodes[n].op = op.kind;
        p->c->nodes[n].first = left;
        p->c->nodes[left].next = right;
        *ret = n;
        return 0;
}

/* unary := "!" unary | compare */
static int parse_unary(struct parser *p, int *ret)
{
        int r, child, n;

        if (p->tok.kind != TOKEN_NOT)
                return parse_compare(p, ret);

        struct token bang = p->tok;
        r = nest(p, &bang);
        if (r < 0)
                return r;
        r = count_item(p, &bang);
        if (r < 0)
                return r;
        r = lex(p);
        if (r < 0)
                return r;
        r = parse_unary(p, &child);
        if (r < 0)
                return r;
        p->depth--;
        n = node_add(p, NODE_NOT, bang.column);
        p->c->nodes[n].first = child;
        *ret = n;
        return 0;
}

/* or := and ( "||" and )*, and := unary ( "&&" unary )*: one n-ary node per
 * run of the same operator. */
static int parse_chain(struct parser *p, enum token_kind op, int *ret)
{
        int r, first, last, n = -1;

        r = op == TOKEN_OR ? parse_chain(p, TOKEN_AND, &first) : parse_unary(p, &first);
        if (r < 0)
                return r;
        last = first;
        while (p->tok.kind == op) {
                int next;

                r = count_item(p, &p->tok);
                if (r < 0)
                        return r;
                if (n < 0) {
                        n = node_add(p, op == TOKEN_OR ? NODE_OR : NODE_AND, p->tok.column);
                        p->c->nodes[n].first = first;
                }
                r = lex(p);
                if (r < 0)
                        return r;
                r = op == TOKEN_OR ? parse_chain(p, TOKEN_AND, &next) : parse_unary(p, &next);
                if (r < 0)
                        return r;
                p->c->nodes[last].next = next;
                last = next;
        }
        *ret = n >= 0 ? n : first;
        return 0;
}

static int parse_or(struct parser *p, int *ret)
{
        return parse_chain(p, TOKEN_OR, ret);
}

void cond_free(struct cond *c)
{
        if (!c)
                return;
        free(c->nodes);
        free(c->text);
        free(c);
}

static void cond_freep(struct cond **c)
{
        cond_free(*c);
}

int cond_parse(const char *text, enum cond_mode mode, struct cond **ret, char *msg, size_t msg_size)
{
        _cleanup_(cond_freep) struct cond *c = NULL;
        struct parser p = {.text = text, .msg = msg, .msg_size = msg_size};
        size_t len;
        int r;

        if (!text || !ret || (mode != COND_DEPENDS && mode != COND_WHEN))
                return -EINVAL;
        len = strnlen(text, COND_TEXT_MAX + 1);
        if (len > COND_TEXT_MAX)
                return fail(msg, msg_size, -E2BIG, COND_TEXT_MAX + 1,
                            "expression longer than %d bytes", COND_TEXT_MAX);

        c = calloc(1, sizeof(*c));
        if (!c)
                return fail_nomem(msg, msg_size);
        c->mode = mode;
        /* Each node is an operand or operator token, each at least a byte;
         * an operand's text takes at most its span and a NUL, twice its span. */
        c->nodes = calloc(len < COND_NODES_MAX ? len + 1 : COND_NODES_MAX, sizeof(*c->nodes));
        c->text = malloc(2 * len + 1);
        if (!c->nodes || !c->text)
                return fail_nomem(msg, msg_size);
        p.c = c;

        r = lex(&p);
        if (r < 0)
                return r;
        if (p.tok.kind == TOKEN_END)
                return fail(msg, msg_size, -EINVAL, 1, "empty expression");
        r = parse_or(&p, &c->root);
        if (r < 0)
                return r;
        if (p.tok.kind != TOKEN_END)
                return unexpected(&p);

        *ret = TAKE_PTR(c);
        return 0;
}

size_t cond_n_refs(const struct cond *c)
{
        return c ? c->n_refs : 0;
}

void cond_ref(const struct cond *c, size_t i, const char **ret_step, enum step_outcome *ret_outcome)
{
        if (!c || i >= c->n_refs)
                return;
        const struct cond_node *n = &c->nodes[c->refs[i]];
        if (ret_step)
                *ret_step = n->text;
        if (ret_outcome)
                *ret_outcome = n->outcome;
}

bool cond_handles_failure(const struct cond *c, const char *step)
{
        if (!c || !step)
                return false;
        for (size_t i = 0; i < c->n_refs; i++) {
                const struct cond_node *n = &c->nodes[c->refs[i]];

                if ((n->outcome == STEP_OUTCOME_FAILED || n->outcome == STEP_OUTCOME_COMPLETED) &&
                    streq(n->text, step))
                        return true;
        }
        return false;
}

/* ---- evaluation --------------------------------------------------------- */

struct eval {
        const struct cond *c;
        cond_outcome_fn fn;
        void *userdata;
        char *msg;
        size_t msg_size;
};

/* [-+]digits[.digits][(e|E)[-+]digits] that strtod reads as a finite value. */
static bool as_number(const char *s, double *ret)
{
        const char *p = s;
        char *end = NULL;

        if (*p == '-' || *p == '+')
                p++;
        if (*p < '0' || *p > '9')
                return false;
        while (*p >= '0' && *p <= '9')
                p++;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return false;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        if (*p == 'e' || *p == 'E') {
                p++;
                if (*p == '-' || *p == '+')
                        p++;
                if (*p < '0' || *p > '9')
                        return false;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        if (*p)
                return false;
        *ret = strtod(s, &end);
        return end == p && isfinite(*ret);
}

static int eval_bool(struct eval *e, int i, bool *ret);

/* The text of a comparison's operand; a boolean reads as true or false. */
static int eval_text(struct eval *e, int i, const char **ret)
{
        const struct cond_node *n = &e->c->nodes[i];
        bool b;
        int r;

        if (n->kind == NODE_WORD || n->kind == NODE_STRING) {
                *ret = n->text;
                return 0;
        }
        r = eval_bool(e, i, &b);
        if (r < 0)
                return r;
        *ret = b ? "true" : "false";
        return 0;
}

static int eval_compare(struct eval *e, const struct cond_node *n, bool *ret)
{
        const struct cond_node *left = &e->c->nodes[n->first];
        const struct cond_node *right = &e->c->nodes[left->next];
        const char *a, *b;
        double x, y;
        int r, cmp;

        r = eval_text(e, n->first, &a);
        if (r < 0)
                return r;
        r = eval_text(e, left->next, &b);
        if (r < 0)
                return r;
        if (left->kind == NODE_WORD && right->kind == NODE_WORD && as_number(a, &x) &&
            as_number(b, &y))
                cmp = (x > y) - (x < y);
        else
                cmp = strcmp(a, b);

        switch (n->op) {
        case TOKEN_EQ:
                *ret = cmp == 0;
                break;
        case TOKEN_NE:
                *ret = cmp != 0;
                break;
        case TOKEN_LT:
                *ret = cmp < 0;
                break;
        case TOKEN_LE:
                *ret = cmp <= 0;
                break;
        case TOKEN_GT:
                *ret = cmp > 0;
                break;
        default:
                *ret = cmp >= 0;
                break;
        }
        return 0;
}

static int eval_bool(struct eval *e, int i, bool *ret)
{
        const struct cond_node *n = &e->c->nodes[i];
        char what[4 * COND_QUOTE_MAX + 8];
        bool b, acc;
        int r;

        switch (n->kind) {
        case NODE_OR:
        case NODE_AND:
                acc = n->kind == NODE_AND;
                for (int k = n->first; k >= 0; k = e->c->nodes[k].next) {
                        r = eval_bool(e, k, &b);
                        if (r < 0)
                                return r;
                        acc = n->kind == NODE_AND ? acc && b : acc || b;
                }
                *ret = acc;
                return 0;
        case NODE_NOT:
                r = eval_bool(e, n->first, &b);
                if (r < 0)
                        return r;
                *ret = !b;
                return 0;
        case NODE_CMP:
                return eval_compare(e, n, ret);
        case NODE_REF:
                *ret = e->fn && e->fn(n->text, n->outcome, e->userdata);
                return 0;
        case NODE_WORD:
                if (streq(n->text, "true") || streq(n->text, "false")) {
                        *ret = n->text[0] == 't';
                        return 0;
                }
                quote(what, '"', n->text, strlen(n->text), false);
                return fail(e->msg, e->msg_size, -EINVAL, n->column,
                            "%s is not a boolean (true or false)", what);
        case NODE_STRING:
                quote(what, '\'', n->text, strlen(n->text), false);
                return fail(e->msg, e->msg_size, -EINVAL, n->column,
                            "%s is a quoted string, not a boolean (true or false)", what);
        }
        return -EINVAL;
}

bool cond_eval_depends(const struct cond *c, cond_outcome_fn fn, void *userdata)
{
        struct eval e = {.c = c, .fn = fn, .userdata = userdata};
        bool b = false;

        /* No expression: nothing to wait for. A COND_WHEN expression is not
         * asked of fn: false. */
        if (!c)
                return true;
        if (c->mode != COND_DEPENDS || eval_bool(&e, c->root, &b) < 0)
                return false;
        return b;
}

int cond_eval_when(const char *text, bool *ret, char *msg, size_t msg_size)
{
        _cleanup_(cond_freep) struct cond *c = NULL;
        struct eval e = {.msg = msg, .msg_size = msg_size};
        bool b;
        int r;

        if (!ret)
                return -EINVAL;
        r = cond_parse(text, COND_WHEN, &c, msg, msg_size);
        if (r < 0)
                return r;
        e.c = c;
        r = eval_bool(&e, c->root, &b);
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}
