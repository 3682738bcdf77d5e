/* YAML (and JSON, which is YAML) → jansson trees with a position map.
 *
 * libyaml's event API is used instead of its document loader so that
 * nothing is built that we would refuse anyway: aliases are rejected when
 * they are seen (no billion laughs), nesting stops at MANIFEST_DEPTH_MAX
 * and a document stops growing at MANIFEST_DOC_MAX bytes. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sys/stat.h>
#include <yaml.h>

#include "manifests.h"
#include "manifests-internal.h"

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"
/* Cap of one input buffer (file, stdin): every document may be full. */
#define MANIFEST_INPUT_MAX ((size_t)MANIFEST_DOC_MAX * MANIFEST_DOCS_MAX)
/* Memory budget of one document's position map (see record_position). */
#define POSITIONS_COST_MAX ((size_t)64 * 1024 * 1024)
#define POSITION_OVERHEAD  160

/* ---- scalar resolution (YAML 1.2 core schema) -------------------------- */

static bool mem_is(const char *s, size_t len, const char *word)
{
        return strlen(word) == len && memcmp(s, word, len) == 0;
}

static bool mem_is_any(const char *s, size_t len, const char *const *words)
{
        for (; *words; words++)
                if (mem_is(s, len, *words))
                        return true;
        return false;
}

static bool is_digit_in_base(char c, int base)
{
        switch (base) {
        case 8:
                return c >= '0' && c <= '7';
        case 10:
                return c >= '0' && c <= '9';
        default:
                return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        }
}

static size_t count_digits(const char *s, size_t len, int base)
{
        size_t i = 0;
        while (i < len && is_digit_in_base(s[i], base))
                i++;
        return i;
}

/* Splits an integer literal into its sign, base and digits. False when s is
 * not an integer literal. */
static bool int_literal(const char *s, size_t len, bool *ret_negative, int *ret_base,
                        const char **ret_digits, size_t *ret_ndigits)
{
        bool negative = false;
        int base = 10;

        if (len > 0 && (s[0] == '+' || s[0] == '-')) {
                negative = s[0] == '-';
                s++;
                len--;
        }
        if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
                base = s[1] == 'x' ? 16 : 8;
                s += 2;
                len -= 2;
        }
        if (len == 0 || count_digits(s, len, base) != len)
                return false;
        *ret_negative = negative;
        *ret_base = base;
        *ret_digits = s;
        *ret_ndigits = len;
        return true;
}

static bool float_literal(const char *s, size_t len)
{
        size_t i = 0, int_digits, frac_digits = 0;

        if (len > 0 && (s[0] == '+' || s[0] == '-'))
                i++;
        int_digits = count_digits(s + i, len - i, 10);
        i += int_digits;
        if (i < len && s[i] == '.') {
                i++;
                frac_digits = count_digits(s + i, len - i, 10);
                i += frac_digits;
        }
        if (int_digits == 0 && frac_digits == 0)
                return false;
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
                size_t exp_digits;

                i++;
                if (i < len && (s[i] == '+' || s[i] == '-'))
                        i++;
                exp_digits = count_digits(s + i, len - i, 10);
                if (exp_digits == 0)
                        return false;
                i += exp_digits;
        }
        return i == len;
}

enum manifest_scalar_type manifest_scalar_classify(const char *s, size_t len)
{
        static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
        static const char *const bools[] = {"true",  "True",  "TRUE", "false",
                                            "False", "FALSE", NULL};
        static const char *const infs[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf",
                                           "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
                                           ".NaN",  ".NAN",  NULL};
        bool negative;
        int base;
        const char *digits;
        size_t ndigits;

        if (len == 0 || mem_is_any(s, len, nulls))
                return MANIFEST_SCALAR_NULL;
        if (mem_is_any(s, len, bools))
                return MANIFEST_SCALAR_BOOL;
        if (int_literal(s, len, &negative, &base, &digits, &ndigits))
                return MANIFEST_SCALAR_INT;
        if (mem_is_any(s, len, infs))
                return MANIFEST_SCALAR_NONFINITE;
        if (float_literal(s, len))
                return MANIFEST_SCALAR_FLOAT;
        return MANIFEST_SCALAR_STRING;
}

/* -ERANGE when the value does not fit in a json_int_t. */
static int int_parse(const char *s, size_t len, json_int_t *ret)
{
        bool negative;
        int base;
        const char *digits;
        size_t ndigits;
        unsigned long long v = 0;

        if (!int_literal(s, len, &negative, &base, &digits, &ndigits))
                return -EINVAL;
        for (size_t i = 0; i < ndigits; i++) {
                char c = digits[i];
                unsigned d = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);

                if (v > (ULLONG_MAX - d) / (unsigned)base)
                        return -ERANGE;
                v = v * (unsigned)base + d;
        }
        if (negative) {
                if (v > (unsigned long long)LLONG_MAX + 1)
                        return -ERANGE;
                *ret = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(json_int_t)v;
        } else {
                if (v > (unsigned long long)LLONG_MAX)
                        return -ERANGE;
                *ret = (json_int_t)v;
        }
        return 0;
}

/* ---- parser state ------------------------------------------------------ */

/* Paths are not stored per frame: they are built from the frame stack only
 * when a position is recorded or an error names one. */
struct frame {
        json_t *node; /* object or array under construction */
        char *key;    /* object: key waiting for its value */
        size_t key_len;
        size_t index; /* array: index of the next item */
};

struct parse_state {
        const char *data;
        size_t len;
        const char *source;
        struct berth_error *err;

        yaml_parser_t parser;
        bool parser_ready;

        /* libyaml marks count characters; this cursor maps them to bytes. */
        size_t cursor_char;
        size_t cursor_byte;

        /* the document being built */
        struct frame frames[MANIFEST_DEPTH_MAX];
        int depth;
        json_t *root;
        json_t *positions;
        int doc_line;
        size_t doc_start_byte;
        size_t positions_cost;

        struct manifest_list out;
};

static void frame_release(struct frame *f)
{
        json_decref(f->node);
        free(f->key);
        *f = (struct frame){};
}

static void doc_reset(struct parse_state *st)
{
        while (st->depth > 0)
                frame_release(&st->frames[--st->depth]);
        json_decref(st->root);
        json_decref(st->positions);
        st->root = NULL;
        st->positions = NULL;
}

static void parse_state_release(struct parse_state *st)
{
        doc_reset(st);
        manifest_list_release(&st->out);
        if (st->parser_ready)
                yaml_parser_delete(&st->parser);
}

void manifest_list_release(struct manifest_list *list)
{
        if (!list)
                return;
        for (size_t i = 0; i < list->n; i++) {
                json_decref(list->docs[i].object);
                json_decref(list->docs[i].positions);
                free(list->docs[i].source);
        }
        free(list->docs);
        list->docs = NULL;
        list->n = 0;
}

/* Moves every document of src to the end of dst; on failure both are unchanged. */
static int list_move(struct manifest_list *dst, struct manifest_list *src)
{
        struct manifest_doc *docs;

        if (src->n == 0)
                return 0;
        if (dst->n == 0 && !dst->docs) {
                *dst = *src;
                *src = (struct manifest_list){};
                return 0;
        }
        docs = reallocarray(dst->docs, dst->n + src->n, sizeof(*docs));
        if (!docs)
                return -ENOMEM;
        memcpy(docs + dst->n, src->docs, src->n * sizeof(*docs));
        dst->docs = docs;
        dst->n += src->n;
        free(src->docs);
        *src = (struct manifest_list){};
        return 0;
}

static size_t byte_offset(struct parse_state *st, size_t char_index)
{
        if (char_index < st->cursor_char) {
                st->cursor_char = 0;
                st->cursor_byte = 0;
        }
        while (st->cursor_char < char_index && st->cursor_byte < st->len) {
                unsigned char c = (unsigned char)st->data[st->cursor_byte];

                st->cursor_byte += c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
                st->cursor_char++;
        }
        return st->cursor_byte < st->len ? st->cursor_byte : st->len;
}

_printf_(4, 5) static int parse_error(struct parse_state *st, int code, const yaml_mark_t *mark,
                                      const char *fmt, ...)
{
        char msg[BERTH_ERROR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return berth_error_set(st->err, code, "%s:%zu:%zu: %s", st->source, mark->line + 1,
                               mark->column + 1, msg);
}

static int libyaml_error(struct parse_state *st)
{
        yaml_parser_t *p = &st->parser;
        const char *problem = p->problem ? p->problem : "invalid YAML";

        switch (p->error) {
        case YAML_MEMORY_ERROR:
                return berth_error_set(st->err, -ENOMEM, "%s: out of memory", st->source);
        case YAML_READER_ERROR: {
                /* The reader reports a byte offset, not a mark. */
                yaml_mark_t mark = {};
                size_t end = p->problem_offset < st->len ? p->problem_offset : st->len;

                for (size_t i = 0; i < end; i++) {
                        unsigned char c = (unsigned char)st->data[i];

                        if (c == '\n') {
                                mark.line++;
                                mark.column = 0;
                        } else if ((c & 0xc0) != 0x80) {
                                mark.column++;
                        }
                }
                if (p->problem_value >= 0)
                        return parse_error(st, -EINVAL, &mark, "%s (#x%X)", problem,
                                           (unsigned)p->problem_value);
                return parse_error(st, -EINVAL, &mark, "%s", problem);
        }
        default:
                if (p->context)
                        return parse_error(st, -EINVAL, &p->problem_mark, "%s %s", problem,
                                           p->context);
                return parse_error(st, -EINVAL, &p->problem_mark, "%s", problem);
        }
}

static size_t count_digits_of(size_t n)
{
        size_t d = 1;

        while (n >= 10) {
                n /= 10;
                d++;
        }
        return d;
}

/* Length of the current path: the pending key or item of every open frame. */
static size_t current_path_length(const struct parse_state *st)
{
        size_t len = 0;

        for (int i = 0; i < st->depth; i++) {
                const struct frame *f = &st->frames[i];

                if (json_is_object(f->node))
                        len += (len > 0 ? 1 : 0) + f->key_len;
                else
                        len += 2 + count_digits_of(f->index);
        }
        return len;
}

/* "spec.env[0].name": same rules as the validator's paths (a '.' only after
 * a non-empty prefix). Caller frees. */
static char *current_path(const struct parse_state *st)
{
        size_t size = current_path_length(st) + 1, len = 0;
        char *p = malloc(size);

        if (!p)
                return NULL;
        p[0] = '\0';
        for (int i = 0; i < st->depth; i++) {
                const struct frame *f = &st->frames[i];

                if (json_is_object(f->node)) {
                        if (len > 0)
                                p[len++] = '.';
                        memcpy(p + len, f->key, f->key_len);
                        len += f->key_len;
                } else {
                        len += (size_t)snprintf(p + len, size - len, "[%zu]", f->index);
                }
                p[len] = '\0';
        }
        return p;
}

/* Records where the current path starts. The first position of a path wins:
 * paths collide only through odd keys (a root key "" is the document's path,
 * "a.b" reads like a nested "b"). Paths repeat their ancestors' keys, so a
 * small document with long keys nested deep could make a huge map: past
 * POSITIONS_COST_MAX bytes (path bytes plus a rough jansson overhead) further
 * positions are dropped, and errors point at the nearest recorded parent. */
static int record_position(struct parse_state *st, const yaml_mark_t *mark)
{
        size_t cost = current_path_length(st) + POSITION_OVERHEAD;
        _cleanup_free_ char *path = NULL;
        json_t *pos;

        if (st->positions_cost + cost > POSITIONS_COST_MAX)
                return 0;
        st->positions_cost += cost;
        path = current_path(st);
        if (!path)
                return -ENOMEM;
        if (json_object_get(st->positions, path))
                return 0;
        pos = json_pack("[ii]", (int)mark->line + 1, (int)mark->column + 1);
        if (!pos || json_object_set_new(st->positions, path, pos) < 0)
                return -ENOMEM;
        return 0;
}

/* Before a value of the innermost collection: array items record their own
 * position (object values were recorded with their key). */
static int before_value(struct parse_state *st, const yaml_mark_t *mark)
{
        if (json_is_array(st->frames[st->depth - 1].node))
                return record_position(st, mark);
        return 0;
}

/* Adds a finished value to the innermost collection; steals value. */
static int attach(struct parse_state *st, json_t *value)
{
        struct frame *f = &st->frames[st->depth - 1];
        int r;

        if (json_is_object(f->node)) {
                r = json_object_set_new(f->node, f->key, value);
                free(f->key);
                f->key = NULL;
                f->key_len = 0;
        } else {
                r = json_array_append_new(f->node, value);
                f->index++;
        }
        return r < 0 ? -ENOMEM : 0;
}

static bool tag_is(const yaml_char_t *tag, const char *name)
{
        return tag && str_has_prefix((const char *)tag, YAML_TAG_PREFIX) &&
               streq((const char *)tag + strlen(YAML_TAG_PREFIX), name);
}

static const char *scalar_type_name(enum manifest_scalar_type t)
{
        switch (t) {
        case MANIFEST_SCALAR_NULL:
                return "null";
        case MANIFEST_SCALAR_BOOL:
                return "bool";
        case MANIFEST_SCALAR_INT:
                return "int";
        case MANIFEST_SCALAR_FLOAT:
        case MANIFEST_SCALAR_NONFINITE:
                return "float";
        default:
                return "str";
        }
}

/* Resolves a scalar event into a JSON value by the core schema. */
static int scalar_to_json(struct parse_state *st, const yaml_event_t *ev, json_t **ret)
{
        const char *s = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        const yaml_char_t *tag = ev->data.scalar.tag;
        enum manifest_scalar_type type;
        json_t *v;

        if (memchr(s, '\0', len))
                return parse_error(st, -EINVAL, &ev->start_mark,
                                   "strings must not contain NUL characters");

        if (tag_is(tag, "str") || (tag && streq((const char *)tag, "!")) ||
            (!tag && ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)) {
                type = MANIFEST_SCALAR_STRING;
        } else if (!tag) {
                type = manifest_scalar_classify(s, len);
        } else if (tag_is(tag, "null") || tag_is(tag, "bool") || tag_is(tag, "int") ||
                   tag_is(tag, "float")) {
                type = manifest_scalar_classify(s, len);
                /* An integer literal is also a valid !!float. */
                if (tag_is(tag, "float") && type == MANIFEST_SCALAR_INT)
                        type = MANIFEST_SCALAR_FLOAT;
                if (!tag_is(tag, scalar_type_name(type)))
                        return parse_error(st, -EINVAL, &ev->start_mark,
                                           "value \"%.64s\" does not match tag !!%s", s,
                                           (const char *)tag + strlen(YAML_TAG_PREFIX));
        } else {
                return parse_error(st, -EINVAL, &ev->start_mark, "tag %.64s is not supported",
                                   (const char *)tag);
        }

        switch (type) {
        case MANIFEST_SCALAR_NULL:
                v = json_null();
                break;
        case MANIFEST_SCALAR_BOOL:
                v = json_boolean(s[0] == 't' || s[0] == 'T');
                break;
        case MANIFEST_SCALAR_INT: {
                json_int_t i = 0;

                if (int_parse(s, len, &i) < 0)
                        return parse_error(st, -EINVAL, &ev->start_mark,
                                           "integer %.64s is out of range", s);
                v = json_integer(i);
                break;
        }
        case MANIFEST_SCALAR_FLOAT: {
                /* libyaml NUL-terminates values; strtod assumes the C locale's
                 * decimal point, which berth never changes. */
                double d = strtod(s, NULL);

                if (!isfinite(d))
                        return parse_error(st, -EINVAL, &ev->start_mark,
                                           "number %.64s is out of range", s);
                v = json_real(d);
                break;
        }
        case MANIFEST_SCALAR_NONFINITE:
                return parse_error(st, -EINVAL, &ev->start_mark,
                                   "%s is not supported: JSON has no infinity or NaN", s);
        default:
                v = json_stringn(s, len);
                break;
        }
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

static int handle_scalar(struct parse_state *st, const yaml_event_t *ev)
{
        struct frame *f;
        json_t *v = NULL;
        int r;

        if (st->depth == 0) {
                /* A document holding only null (or nothing) is empty: skipped. */
                if (!ev->data.scalar.tag && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                    manifest_scalar_classify((const char *)ev->data.scalar.value,
                                             ev->data.scalar.length) == MANIFEST_SCALAR_NULL)
                        return 0;
                return parse_error(st, -EINVAL, &ev->start_mark,
                                   "document must be a mapping, not a scalar");
        }

        f = &st->frames[st->depth - 1];
        if (json_is_object(f->node) && !f->key) {
                const char *key = (const char *)ev->data.scalar.value;

                if (memchr(key, '\0', ev->data.scalar.length))
                        return parse_error(st, -EINVAL, &ev->start_mark,
                                           "keys must not contain NUL characters");
                f->key = strdup(key);
                if (!f->key)
                        return -ENOMEM;
                f->key_len = ev->data.scalar.length;
                if (json_object_get(f->node, key)) {
                        _cleanup_free_ char *path = current_path(st);

                        if (!path)
                                return -ENOMEM;
                        return parse_error(st, -EINVAL, &ev->start_mark, "duplicate key %s", path);
                }
                return record_position(st, &ev->start_mark);
        }

        r = before_value(st, &ev->start_mark);
        if (r < 0)
                return r;
        r = scalar_to_json(st, ev, &v);
        if (r < 0)
                return r;
        return attach(st, v);
}

static int handle_collection_start(struct parse_state *st, const yaml_event_t *ev, bool mapping)
{
        const yaml_char_t *tag = mapping ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
        struct frame *f;
        int r;

        if (tag && !streq((const char *)tag, "!") && !tag_is(tag, mapping ? "map" : "seq"))
                return parse_error(st, -EINVAL, &ev->start_mark, "tag %.64s is not supported",
                                   (const char *)tag);

        if (st->depth == 0) {
                if (!mapping)
                        return parse_error(st, -EINVAL, &ev->start_mark,
                                           "document must be a mapping, not a sequence");
                r = record_position(st, &ev->start_mark);
                if (r < 0)
                        return r;
                st->doc_line = (int)ev->start_mark.line + 1;
        } else {
                f = &st->frames[st->depth - 1];
                if (json_is_object(f->node) && !f->key)
                        return parse_error(st, -EINVAL, &ev->start_mark,
                                           "mapping keys must be scalars");
                if (st->depth >= MANIFEST_DEPTH_MAX)
                        return parse_error(st, -E2BIG, &ev->start_mark,
                                           "nesting is deeper than %d levels", MANIFEST_DEPTH_MAX);
                r = before_value(st, &ev->start_mark);
                if (r < 0)
                        return r;
        }

        f = &st->frames[st->depth];
        *f = (struct frame){};
        f->node = mapping ? json_object() : json_array();
        if (!f->node)
                return -ENOMEM;
        st->depth++;
        return 0;
}

static int handle_collection_end(struct parse_state *st)
{
        struct frame *f = &st->frames[st->depth - 1];
        json_t *node = TAKE_PTR(f->node);

        frame_release(f);
        st->depth--;
        if (st->depth == 0) {
                st->root = node;
                return 0;
        }
        return attach(st, node);
}

static int handle_document_end(struct parse_state *st)
{
        struct manifest_doc *docs, *d;

        if (!st->root) {
                doc_reset(st);
                return 0;
        }
        if (st->out.n >= MANIFEST_DOCS_MAX) {
                yaml_mark_t start = {.line = (size_t)st->doc_line - 1};

                return parse_error(st, -E2BIG, &start, "more than %d documents", MANIFEST_DOCS_MAX);
        }
        docs = reallocarray(st->out.docs, st->out.n + 1, sizeof(*docs));
        if (!docs)
                return -ENOMEM;
        st->out.docs = docs;
        d = &docs[st->out.n];
        *d = (struct manifest_doc){};
        d->source = strdup(st->source);
        if (!d->source)
                return -ENOMEM;
        d->object = TAKE_PTR(st->root);
        d->positions = TAKE_PTR(st->positions);
        d->line = st->doc_line;
        st->out.n++;
        return 0;
}

static int handle_event(struct parse_state *st, const yaml_event_t *ev)
{
        if (st->positions) {
                size_t end = byte_offset(st, ev->end_mark.index);

                if (end - st->doc_start_byte > MANIFEST_DOC_MAX) {
                        yaml_mark_t mark = {.line = (size_t)st->doc_line - 1};

                        return parse_error(st, -E2BIG, &mark, "document is larger than %d bytes",
                                           MANIFEST_DOC_MAX);
                }
        }

        switch (ev->type) {
        case YAML_DOCUMENT_START_EVENT:
                doc_reset(st);
                st->positions = json_object();
                if (!st->positions)
                        return -ENOMEM;
                st->positions_cost = 0;
                st->doc_start_byte = byte_offset(st, ev->start_mark.index);
                st->doc_line = (int)ev->start_mark.line + 1;
                return 0;
        case YAML_DOCUMENT_END_EVENT:
                return handle_document_end(st);
        case YAML_SCALAR_EVENT:
                return handle_scalar(st, ev);
        case YAML_SEQUENCE_START_EVENT:
                return handle_collection_start(st, ev, false);
        case YAML_MAPPING_START_EVENT:
                return handle_collection_start(st, ev, true);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                return handle_collection_end(st);
        case YAML_ALIAS_EVENT:
                return parse_error(st, -EINVAL, &ev->start_mark, "aliases are not supported");
        default:
                return 0;
        }
}

int manifest_parse_buffer(const char *data, size_t len, const char *source,
                          struct manifest_list *list, struct berth_error *err)
{
        _cleanup_(parse_state_release) struct parse_state st = {};

        if (!list || (!data && len > 0))
                return berth_error_set(err, -EINVAL, "invalid arguments");
        st.source = source ? source : "<input>";
        if (len > MANIFEST_INPUT_MAX)
                return berth_error_set(err, -E2BIG, "%s: input is larger than %zu bytes", st.source,
                                       MANIFEST_INPUT_MAX);
        st.data = data ? data : "";
        st.len = len;
        st.err = err;

        if (!yaml_parser_initialize(&st.parser))
                return berth_error_set(err, -ENOMEM, "%s: out of memory", st.source);
        st.parser_ready = true;
        /* Forcing UTF-8 keeps the character→byte cursor exact (UTF-16 input
         * fails as invalid UTF-8). */
        yaml_parser_set_encoding(&st.parser, YAML_UTF8_ENCODING);
        yaml_parser_set_input_string(&st.parser, (const unsigned char *)st.data, st.len);

        for (;;) {
                yaml_event_t ev;
                bool end;
                int r;

                if (!yaml_parser_parse(&st.parser, &ev))
                        return libyaml_error(&st);
                r = handle_event(&st, &ev);
                end = ev.type == YAML_STREAM_END_EVENT;
                yaml_event_delete(&ev);
                if (r == -ENOMEM)
                        return berth_error_set(err, r, "%s: out of memory", st.source);
                if (r < 0)
                        return r;
                if (end)
                        break;
        }

        if (list_move(list, &st.out) < 0)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", st.source);
        return 0;
}

/* ---- files, directories, stdin ----------------------------------------- */

static int read_fd(int fd, const char *name, struct buf *out, struct berth_error *err)
{
        char chunk[16384];

        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                int r;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        return berth_error_set(err, r, "%s: %s", name, strerror(-r));
                }
                if (n == 0)
                        return 0;
                r = buf_append(out, chunk, (size_t)n);
                if (r == -E2BIG)
                        return berth_error_set(err, r, "%s: input is larger than %zu bytes", name,
                                               MANIFEST_INPUT_MAX);
                if (r < 0)
                        return berth_error_set(err, r, "%s: %s", name, strerror(-r));
        }
}

static int parse_fd(int fd, const char *name, struct manifest_list *list, struct berth_error *err)
{
        _cleanup_buf_ struct buf b = {};
        int r;

        buf_init(&b, MANIFEST_INPUT_MAX);
        r = read_fd(fd, name, &b, err);
        if (r < 0)
                return r;
        return manifest_parse_buffer(b.data, b.len, name, list, err);
}

static bool manifest_file_name(const char *name)
{
        return str_has_suffix(name, ".yaml") || str_has_suffix(name, ".yml") ||
               str_has_suffix(name, ".json");
}

static int compare_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_any(const char *path, bool recursive, bool top, size_t *nfiles,
                     struct manifest_list *list, struct berth_error *err);

/* Hidden entries (".git", editor swap files) are skipped. Symlinks to
 * directories are not followed, so recursion cannot loop. */
static int parse_dir(int dfd, const char *path, bool recursive, size_t *nfiles,
                     struct manifest_list *list, struct berth_error *err)
{
        _cleanup_strv_ char **names = NULL;
        size_t n = 0, cap = 0;
        DIR *d;
        struct dirent *de;
        int r = 0;

        d = fdopendir(dfd);
        if (!d) {
                r = -errno;
                close(dfd);
                return berth_error_set(err, r, "%s: %s", path, strerror(-r));
        }
        for (errno = 0; (de = readdir(d)); errno = 0) {
                if (de->d_name[0] == '.')
                        continue;
                if (n + 1 >= cap) {
                        size_t ncap = cap ? cap * 2 : 32;
                        char **v = reallocarray(names, ncap, sizeof(*v));

                        if (!v) {
                                r = -ENOMEM;
                                break;
                        }
                        names = v;
                        cap = ncap;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        break;
                }
                names[++n] = NULL;
        }
        if (r == 0 && errno != 0)
                r = -errno;
        closedir(d);
        if (r < 0)
                return berth_error_set(err, r, "%s: %s", path, strerror(-r));
        if (n == 0)
                return 0;
        qsort(names, n, sizeof(*names), compare_names);

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *child = NULL;
                struct stat st;
                bool is_link;

                if (str_has_suffix(path, "/"))
                        child = str_printf("%s%s", path, names[i]);
                else
                        child = str_printf("%s/%s", path, names[i]);
                if (!child)
                        return berth_error_set(err, -ENOMEM, "%s: out of memory", path);
                if (lstat(child, &st) < 0) {
                        r = -errno;
                        return berth_error_set(err, r, "%s: %s", child, strerror(-r));
                }
                is_link = S_ISLNK(st.st_mode);
                if (is_link && stat(child, &st) < 0)
                        continue; /* dangling link */
                if (S_ISDIR(st.st_mode)) {
                        if (!recursive || is_link)
                                continue;
                        r = parse_any(child, recursive, false, nfiles, list, err);
                } else if (S_ISREG(st.st_mode) && manifest_file_name(names[i])) {
                        r = parse_any(child, recursive, false, nfiles, list, err);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_any(const char *path, bool recursive, bool top, size_t *nfiles,
                     struct manifest_list *list, struct berth_error *err)
{
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = -errno;
                return berth_error_set(err, r, "%s: %s", path, strerror(-r));
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                return berth_error_set(err, r, "%s: %s", path, strerror(-r));
        }
        if (S_ISDIR(st.st_mode))
                return parse_dir(TAKE_FD(fd), path, recursive, nfiles, list, err);
        if (!top && ++*nfiles > MANIFEST_FILES_MAX)
                return berth_error_set(err, -E2BIG, "%s: more than %d manifest files", path,
                                       MANIFEST_FILES_MAX);
        /* A size known up front fails early; read_fd still enforces the cap for
         * files that grow and for pipes. */
        if (S_ISREG(st.st_mode) && (size_t)st.st_size > MANIFEST_INPUT_MAX)
                return berth_error_set(err, -E2BIG, "%s: input is larger than %zu bytes", path,
                                       MANIFEST_INPUT_MAX);
        return parse_fd(fd, path, list, err);
}

int manifest_parse_path(const char *path, bool recursive, struct manifest_list *list,
                        struct berth_error *err)
{
        _cleanup_(manifest_list_release) struct manifest_list tmp = {};
        size_t nfiles = 0;
        int r;

        if (!path || !list)
                return berth_error_set(err, -EINVAL, "invalid arguments");
        if (streq(path, "-"))
                r = parse_fd(STDIN_FILENO, "<stdin>", &tmp, err);
        else
                r = parse_any(path, recursive, true, &nfiles, &tmp, err);
        if (r < 0)
                return r;
        if (list_move(list, &tmp) < 0)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", path);
        return 0;
}
