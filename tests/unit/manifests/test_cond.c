/* Unit tests of the step conditions (manifests/cond.c): every operator and
 * its precedence, strings and escapes, numbers against strings, every error
 * message with its column, the limits, and depends refs and evaluation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "manifests.h"

static struct cond *parse_ok(const char *text, enum cond_mode mode)
{
        struct cond *c = NULL;
        char msg[512] = "";

        if (cond_parse(text, mode, &c, msg, sizeof(msg)) != 0)
                fail_msg("\"%s\" does not parse: %s", text, msg);
        assert_non_null(c);
        return c;
}

static void assert_when(const char *text, bool want)
{
        char msg[512] = "";
        bool got = !want;
        int r = cond_eval_when(text, &got, msg, sizeof(msg));

        if (r != 0)
                fail_msg("\"%s\": %d %s", text, r, msg);
        if (got != want)
                fail_msg("\"%s\" is %s, want %s", text, got ? "true" : "false",
                         want ? "true" : "false");
}

/* Parsing text in mode (or, for COND_WHEN, evaluating it) fails with r and
 * exactly msg; *ret stays untouched. */
static void assert_error(const char *text, enum cond_mode mode, int want_r, const char *want_msg)
{
        struct cond *c = (struct cond *)&c; /* a sentinel */
        char msg[512] = "";
        bool b = true;
        int r;

        if (mode == COND_WHEN)
                r = cond_eval_when(text, &b, msg, sizeof(msg));
        else
                r = cond_parse(text, mode, &c, msg, sizeof(msg));
        if (r != want_r || strcmp(msg, want_msg) != 0)
                fail_msg("\"%.60s\": got %d \"%s\", want %d \"%s\"", text, r, msg, want_r,
                         want_msg);
        assert_ptr_equal(c, (struct cond *)&c);
        assert_true(b);
}

/* n copies of piece, then tail, in a new string. */
static char *repeat(const char *head, const char *piece, size_t n, const char *tail)
{
        size_t lh = strlen(head), lp = strlen(piece), lt = strlen(tail);
        char *s = malloc(lh + n * lp + lt + 1), *o = s;

        assert_non_null(s);
        memcpy(o, head, lh);
        o += lh;
        for (size_t i = 0; i < n; i++, o += lp)
                memcpy(o, piece, lp);
        memcpy(o, tail, lt + 1);
        return s;
}

static void test_free_null(void **state)
{
        (void)state;
        cond_free(NULL);
        assert_int_equal(cond_n_refs(NULL), 0);
        assert_false(cond_handles_failure(NULL, "a"));
        assert_true(cond_eval_depends(NULL, NULL, NULL));
}

static void test_bad_arguments(void **state)
{
        struct cond *c = NULL;
        bool b;

        (void)state;
        assert_int_equal(cond_parse(NULL, COND_WHEN, &c, NULL, 0), -EINVAL);
        assert_int_equal(cond_parse("true", COND_WHEN, NULL, NULL, 0), -EINVAL);
        assert_int_equal(cond_parse("true", (enum cond_mode)7, &c, NULL, 0), -EINVAL);
        assert_null(c);
        assert_int_equal(cond_eval_when("true", NULL, NULL, 0), -EINVAL);
        assert_int_equal(cond_eval_when(NULL, &b, NULL, 0), -EINVAL);
        /* No message buffer: the error still comes back. */
        assert_int_equal(cond_eval_when("a &", &b, NULL, 0), -EINVAL);
}

/* ---- when: operators, precedence, values ---------------------------------- */

static void test_when_operators(void **state)
{
        static const struct {
                const char *text;
                bool want;
        } cases[] = {
            {"true", true},
            {"false", false},
            {"!true", false},
            {"!false", true},
            {"true && true", true},
            {"true && false", false},
            {"false && true", false},
            {"true || false", true},
            {"false || false", false},
            {"false||true", true},
            {"true&&true&&false", false},
            {"false || false || true", true},
            {"a == a", true},
            {"a == b", false},
            {"a != b", true},
            {"a != a", false},
            {"a < b", true},
            {"b < a", false},
            {"a <= a", true},
            {"b <= a", false},
            {"b > a", true},
            {"a > a", false},
            {"a >= a", true},
            {"a >= b", false},
            {"a==a", true},
            {"a!=a", false},
            {"a<b", true},
            {"a<=b", true},
            {"a>b", false},
            {"a>=b", false},
            {"\ttrue\t", true},
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                assert_when(cases[i].text, cases[i].want);
}

static void test_when_precedence(void **state)
{
        (void)state;
        /* && binds tighter than ||. */
        assert_when("true || false && false", true);
        assert_when("false && false || true", true);
        assert_when("(true || false) && false", false);
        /* ! binds tighter than && and ||. */
        assert_when("!false && false", false);
        assert_when("!true || true", true);
        assert_when("!(false && false)", true);
        assert_when("!!true", true);
        /* ! applies to the comparison: !x == y is !(x == y), not (!x) == y
         * (which would be an error: x is not a boolean). */
        assert_when("!x == y", true);
        assert_when("!x == x", false);
        assert_when("!abc != abc", true);
        /* Comparisons bind tighter than && and ||. */
        assert_when("a == a && b == b", true);
        assert_when("a == b || c == c", true);
        assert_when("a == b || c == d", false);
        /* Parentheses around an operand and around everything. */
        assert_when("(a) == (a)", true);
        assert_when("((true))", true);
        assert_when("( a == b ) || ( ( c == c ) && true )", true);
        /* A boolean operand of a comparison reads as true or false. */
        assert_when("(a == a) == true", true);
        assert_when("(a == b) == false", true);
        assert_when("(a == b) != (c == d)", false);
        assert_when("true == (x == x)", true);
}

static void test_when_strings(void **state)
{
        (void)state;
        assert_when("'a b' == \"a b\"", true);
        assert_when("'hello world' == 'hello world'", true);
        assert_when("'' == \"\"", true);
        assert_when("'' != x", true);
        assert_when("'' < a", true);
        /* A backslash escapes the next character, whichever it is. */
        assert_when("'it\\'s' == \"it's\"", true);
        assert_when("\"say \\\"hi\\\"\" == 'say \"hi\"'", true);
        assert_when("'a\\\\b' == \"a\\\\b\"", true);
        assert_when("'\\n' == n", true);
        assert_when("'\\x' == x", true);
        /* Operator characters inside quotes are text. */
        assert_when("'a && b || !c (==)' == \"a && b || !c (==)\"", true);
        assert_when("'a' == a", true);
        /* Words keep what the grammar allows, newlines and backslashes too. */
        assert_when("a\\b == 'a\\\\b'", true);
        assert_when("a\nb == 'a\nb'", true);
        assert_when("{{steps.a.outputs.result}} == '{{steps.a.outputs.result}}'", true);
        /* Bytewise: uppercase sorts before lowercase, bytes >= 0x80 last. */
        assert_when("B < a", true);
        assert_when("\xc3\xa9 > z", true);
        assert_when("abc > ab", true);
}

static void test_when_numbers(void **state)
{
        (void)state;
        /* Both words numbers: numeric. */
        assert_when("10 > 9", true);
        assert_when("9 < 10", true);
        assert_when("1e3 == 1000", true);
        assert_when("1E3 == 1000", true);
        assert_when("1.0 == 1", true);
        assert_when("-2.5 < -2", true);
        assert_when("+1 == 1", true);
        assert_when("-0 == 0", true);
        assert_when("2.5e-1 == 0.25", true);
        assert_when("007 == 7", true);
        assert_when("1e-999 == 0", true); /* underflows to 0: finite */
        /* A quoted literal is a string, even one that looks like a number. */
        assert_when("'10' > '9'", false);
        assert_when("10 > '9'", false);
        assert_when("'1.0' == 1", false);
        assert_when("'10' == 10", true);
        /* Words that strtod would read but the number syntax refuses. */
        assert_when("0x10 == 16", false);
        assert_when("0x10 > 9", false);
        assert_when("nan == nan", true);
        assert_when("inf > 9", true);  /* "inf" > "9" bytewise; numerically too */
        assert_when("-inf < 9", true); /* "-" < "9" bytewise */
        assert_when("infinity < 1", false);
        assert_when("5. == 5", false);
        assert_when(".5 == 0.5", false);
        assert_when("1e == 1", false);
        assert_when("1e+ == 1", false);
        assert_when("1.5.2 > 1.5", true);
        assert_when("1_000 == 1000", false);
        /* Not finite: compared as strings ("1e999" < "2" bytewise). */
        assert_when("1e999 > 2", false);
        assert_when("1e999 == 1e999", true);
        /* One side a number, the other not: strings. */
        assert_when("10 < abc", true);
        assert_when("10 < 9x", true);
}

static void test_when_booleans(void **state)
{
        char *s;

        (void)state;
        assert_when("true", true);
        assert_when("(false)", false);
        assert_error("abc", COND_WHEN, -EINVAL,
                     "column 1: \"abc\" is not a boolean (true or false)");
        assert_error("True", COND_WHEN, -EINVAL,
                     "column 1: \"True\" is not a boolean (true or false)");
        assert_error("TRUE || true", COND_WHEN, -EINVAL,
                     "column 1: \"TRUE\" is not a boolean (true or false)");
        assert_error("1", COND_WHEN, -EINVAL, "column 1: \"1\" is not a boolean (true or false)");
        assert_error("'true'", COND_WHEN, -EINVAL,
                     "column 1: 'true' is a quoted string, not a boolean (true or false)");
        assert_error("true && \"false\"", COND_WHEN, -EINVAL,
                     "column 9: 'false' is a quoted string, not a boolean (true or false)");
        assert_error("!(x)", COND_WHEN, -EINVAL,
                     "column 3: \"x\" is not a boolean (true or false)");
        /* Strict: an operand is checked whatever the others' values. */
        assert_error("true || yes", COND_WHEN, -EINVAL,
                     "column 9: \"yes\" is not a boolean (true or false)");
        assert_error("false && yes", COND_WHEN, -EINVAL,
                     "column 10: \"yes\" is not a boolean (true or false)");
        /* The first of several, in reading order. */
        assert_error("a == a && no && yes", COND_WHEN, -EINVAL,
                     "column 11: \"no\" is not a boolean (true or false)");
        /* Quoted in messages with escapes, cut after 64 bytes. */
        assert_error("true && a\nb\x01", COND_WHEN, -EINVAL,
                     "column 9: \"a\\nb\\x01\" is not a boolean (true or false)");
        s = repeat("", "x", 64, "yz");
        assert_error(s, COND_WHEN, -EINVAL,
                     "column 1: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                     "...\" is not a boolean (true or false)");
        free(s);
}

/* ---- errors --------------------------------------------------------------- */

static void test_syntax_errors(void **state)
{
        static const struct {
                const char *text;
                const char *msg;
        } cases[] = {
            {"", "column 1: empty expression"},
            {"  \t ", "column 1: empty expression"},
            {"a == && b", "column 6: expected an operand, found '&&'"},
            {"true && ", "column 9: expected an operand, found the end of the expression"},
            {"&& a", "column 1: expected an operand, found '&&'"},
            {"a || || b", "column 6: expected an operand, found '||'"},
            {"!", "column 2: expected an operand, found the end of the expression"},
            {"a ==", "column 5: expected an operand, found the end of the expression"},
            {"== a", "column 1: expected an operand, found '=='"},
            {"a == != b", "column 6: expected an operand, found '!='"},
            {"()", "column 2: expected an operand, found ')'"},
            {"a && (b || c", "column 13: expected ')' to close the '(' at column 6"},
            {"((a)", "column 5: expected ')' to close the '(' at column 1"},
            {"(a b)", "column 4: expected an operator after \"a\""},
            {"abc)", "column 4: unexpected ')'"},
            {"(a))", "column 4: unexpected ')'"},
            {")", "column 1: expected an operand, found ')'"},
            {"a 'b'", "column 3: expected an operator after \"a\""},
            {"'a' b", "column 5: expected an operator after 'a'"},
            {"(a) b", "column 5: expected an operator after ')'"},
            {"a (b)", "column 3: expected an operator after \"a\""},
            {"a !b", "column 3: expected an operator after \"a\""},
            {"a == b c", "column 8: expected an operator after \"b\""},
            {"hello world == x", "column 7: expected an operator after \"hello\""},
            {"'it\\'s' x", "column 9: expected an operator after 'it\\'s'"},
            {"a = b", "column 3: '=' is not an operator (did you mean '==')"},
            {"a=b", "column 2: '=' is not an operator (did you mean '==')"},
            {"a !== b", "column 5: '=' is not an operator (did you mean '==')"},
            {"a => b", "column 3: '=' is not an operator (did you mean '==')"},
            {"true & b", "column 6: '&' is not an operator (did you mean '&&')"},
            {"a &&& b", "column 5: '&' is not an operator (did you mean '&&')"},
            {"a | b", "column 3: '|' is not an operator (did you mean '||')"},
            {"a == 'abc", "column 6: unterminated string"},
            {"x == \"abc'", "column 6: unterminated string"},
            {"x == 'ab\\'", "column 6: unterminated string"},
            {"x == 'ab\\", "column 6: unterminated string"},
            {"a == b == c", "column 8: '==' after a comparison: comparisons do not chain (use && "
                            "or parentheses)"},
            {"a < b >= c", "column 7: '>=' after a comparison: comparisons do not chain (use && "
                           "or parentheses)"},
            /* The first error in reading order wins. */
            {"a = 'b", "column 3: '=' is not an operator (did you mean '==')"},
            {"(a b 'c", "column 4: expected an operator after \"a\""},
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                assert_error(cases[i].text, COND_WHEN, -EINVAL, cases[i].msg);
        /* The same syntax errors in depends. */
        assert_error("a.Succeeded && (b.Failed", COND_DEPENDS, -EINVAL,
                     "column 25: expected ')' to close the '(' at column 16");
        assert_error("a.Succeeded & b.Failed", COND_DEPENDS, -EINVAL,
                     "column 13: '&' is not an operator (did you mean '&&')");
        assert_error("a.Succeeded b.Failed", COND_DEPENDS, -EINVAL,
                     "column 13: expected an operator after \"a.Succeeded\"");
        assert_error("", COND_DEPENDS, -EINVAL, "column 1: empty expression");
}

static void test_depends_errors(void **state)
{
        static const struct {
                const char *text;
                const char *msg;
        } cases[] = {
            {"a.Done", "column 3: \"a.Done\": the outcome must be Succeeded, Failed, Skipped or "
                       "Completed"},
            {"a.Succeeded || bb.succeeded",
             "column 19: \"bb.succeeded\": the outcome must be Succeeded, Failed, Skipped or "
             "Completed"},
            {"a.", "column 3: \"a.\": the outcome must be Succeeded, Failed, Skipped or Completed"},
            {"a", "column 1: \"a\": expected <step>.<outcome>, e.g. a.Succeeded"},
            {"!(x)", "column 3: \"x\": expected <step>.<outcome>, e.g. a.Succeeded"},
            {".Failed", "column 1: \".Failed\": expected <step>.<outcome>, e.g. a.Succeeded"},
            {"true", "column 1: \"true\": expected <step>.<outcome>, e.g. a.Succeeded"},
            {"a.Succeeded == b.Failed", "column 13: depends compares no values: use "
                                        "<step>.<outcome> with && || ! and parentheses"},
            {"a.Succeeded && 'b.Failed'", "column 16: depends compares no values: use "
                                          "<step>.<outcome> with && || ! and parentheses"},
            {"a.Failed != x", "column 10: depends compares no values: use <step>.<outcome> with "
                              "&& || ! and parentheses"},
            {"a.Failed<b.Failed", "column 9: depends compares no values: use <step>.<outcome> "
                                  "with && || ! and parentheses"},
            /* The operand is checked before the operator that follows it. */
            {"a == b", "column 1: \"a\": expected <step>.<outcome>, e.g. a.Succeeded"},
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                assert_error(cases[i].text, COND_DEPENDS, -EINVAL, cases[i].msg);
}

static void test_msg_truncated(void **state)
{
        struct cond *c = NULL;
        char msg[10];

        (void)state;
        memset(msg, 'x', sizeof(msg));
        assert_int_equal(cond_parse("a & b", COND_WHEN, &c, msg, sizeof(msg)), -EINVAL);
        assert_string_equal(msg, "column 3:");
        assert_null(c);
}

/* ---- limits --------------------------------------------------------------- */

static void test_limit_text(void **state)
{
        char *s;

        (void)state;
        /* Exactly COND_TEXT_MAX bytes: "true" and spaces. */
        s = repeat("true", " ", COND_TEXT_MAX - 4, "");
        assert_int_equal(strlen(s), COND_TEXT_MAX);
        assert_when(s, true);
        free(s);

        s = repeat("true", " ", COND_TEXT_MAX - 3, "");
        assert_error(s, COND_WHEN, -E2BIG, "column 4097: expression longer than 4096 bytes");
        assert_error(s, COND_DEPENDS, -E2BIG, "column 4097: expression longer than 4096 bytes");
        free(s);
}

static void test_limit_nodes(void **state)
{
        char *s;

        (void)state;
        /* 256 operands, 255 "&&" and one "!": 512 operators and operands. */
        s = repeat("!false", " && true", 255, "");
        assert_when(s, true);
        free(s);

        /* One "!" more: the 513th is the last "true". */
        s = repeat("!!false", " && true", 255, "");
        assert_error(s, COND_WHEN, -E2BIG, "column 2044: more than 512 operators and operands");
        free(s);

        /* Comparisons count their operator: 3 + 4 * 127 = 511 items, then
         * "&&" and the first "a" of the 128th comparison. */
        s = repeat("a == a", " && a == a", 255, "");
        assert_error(s, COND_WHEN, -E2BIG, "column 1281: more than 512 operators and operands");
        free(s);
}

static void test_limit_depth(void **state)
{
        char *s, *t;

        (void)state;
        s = repeat("", "(", 64, "true");
        t = repeat(s, ")", 64, "");
        assert_when(t, true);
        free(s);
        free(t);

        s = repeat("", "(", 65, "true");
        t = repeat(s, ")", 65, "");
        assert_error(t, COND_WHEN, -E2BIG,
                     "column 65: nested deeper than 64 levels of '(' and '!'");
        free(s);
        free(t);

        s = repeat("", "!", 64, "true");
        assert_when(s, true);
        free(s);
        s = repeat("", "!", 65, "true");
        assert_error(s, COND_WHEN, -E2BIG,
                     "column 65: nested deeper than 64 levels of '(' and '!'");
        free(s);

        /* "(" and "!" count together; a closed "(" no longer counts. */
        s = repeat("", "!(", 32, "true");
        t = repeat(s, ")", 32, "");
        assert_when(t, true);
        free(t);
        t = repeat(s, ")", 32, " && !!(!true)");
        assert_when(t, false);
        free(t);
        free(s);
        s = repeat("(", "!(", 32, "true");
        t = repeat(s, ")", 33, "");
        assert_error(t, COND_WHEN, -E2BIG,
                     "column 65: nested deeper than 64 levels of '(' and '!'");
        free(s);
        free(t);

        /* Far past the limit (a fuzzer's input): an error, not a deep stack. */
        s = repeat("", "(", COND_TEXT_MAX, "");
        assert_error(s, COND_WHEN, -E2BIG,
                     "column 65: nested deeper than 64 levels of '(' and '!'");
        free(s);
}

static void test_limit_refs(void **state)
{
        struct cond *c;
        char *s;

        (void)state;
        s = repeat("a.Succeeded", " && a.Succeeded", COND_REFS_MAX - 1, "");
        c = parse_ok(s, COND_DEPENDS);
        assert_int_equal(cond_n_refs(c), COND_REFS_MAX);
        cond_free(c);
        free(s);

        s = repeat("a.Succeeded", " || a.Succeeded", COND_REFS_MAX, "");
        assert_error(s, COND_DEPENDS, -E2BIG, "column 961: more than 64 <step>.<outcome> words");
        free(s);
}

/* ---- depends -------------------------------------------------------------- */

static void test_depends_refs(void **state)
{
        static const struct {
                const char *step;
                enum step_outcome outcome;
        } want[] = {
            {"a", STEP_OUTCOME_SUCCEEDED}, {"b", STEP_OUTCOME_FAILED},
            {"c-1", STEP_OUTCOME_SKIPPED}, {"a", STEP_OUTCOME_COMPLETED},
            {"x.y", STEP_OUTCOME_FAILED},
        };
        struct cond *c;
        const char *step = NULL;
        enum step_outcome outcome = STEP_OUTCOME_SKIPPED;

        (void)state;
        c = parse_ok("a.Succeeded && (b.Failed || !c-1.Skipped) || a.Completed&&x.y.Failed",
                     COND_DEPENDS);
        assert_int_equal(cond_n_refs(c), ARRAY_SIZE(want));
        for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
                cond_ref(c, i, &step, &outcome);
                assert_string_equal(step, want[i].step);
                assert_int_equal(outcome, want[i].outcome);
        }
        /* Out of range: the outputs are untouched. */
        step = "unchanged";
        outcome = STEP_OUTCOME_SKIPPED;
        cond_ref(c, ARRAY_SIZE(want), &step, &outcome);
        assert_string_equal(step, "unchanged");
        assert_int_equal(outcome, STEP_OUTCOME_SKIPPED);
        cond_free(c);

        /* A when expression has no refs. */
        c = parse_ok("a.Succeeded == b.Failed", COND_WHEN);
        assert_int_equal(cond_n_refs(c), 0);
        assert_false(cond_handles_failure(c, "b"));
        cond_free(c);
}

static void test_handles_failure(void **state)
{
        struct cond *c;

        (void)state;
        c = parse_ok("a.Failed || b.Succeeded || !c.Completed || d.Skipped", COND_DEPENDS);
        assert_true(cond_handles_failure(c, "a"));
        assert_false(cond_handles_failure(c, "b"));
        assert_true(cond_handles_failure(c, "c")); /* named with Completed, even negated */
        assert_false(cond_handles_failure(c, "d"));
        assert_false(cond_handles_failure(c, "e"));
        assert_false(cond_handles_failure(c, ""));
        assert_false(cond_handles_failure(c, NULL));
        cond_free(c);

        /* A step named twice, once with Failed. */
        c = parse_ok("a.Succeeded || a.Failed", COND_DEPENDS);
        assert_true(cond_handles_failure(c, "a"));
        cond_free(c);
}

/* What fn sees: steps a, b, c and how they ended; what it was asked. */
enum ended { ENDED_NOT, ENDED_SUCCEEDED, ENDED_FAILED, ENDED_SKIPPED };

struct world {
        enum ended a, b, c;
        char asked[256];
};

static bool outcome_fn(const char *step, enum step_outcome outcome, void *userdata)
{
        struct world *w = userdata;
        enum ended e = streq(step, "a") ? w->a : streq(step, "b") ? w->b : w->c;
        size_t n = strlen(w->asked);

        snprintf(w->asked + n, sizeof(w->asked) - n, "%s%s.%d", n ? " " : "", step, (int)outcome);
        switch (outcome) {
        case STEP_OUTCOME_SUCCEEDED:
                return e == ENDED_SUCCEEDED;
        case STEP_OUTCOME_FAILED:
                return e == ENDED_FAILED;
        case STEP_OUTCOME_SKIPPED:
                return e == ENDED_SKIPPED;
        case STEP_OUTCOME_COMPLETED:
                return e == ENDED_SUCCEEDED || e == ENDED_FAILED;
        }
        return false;
}

static bool eval_depends(const char *text, enum ended a, enum ended b, enum ended c)
{
        struct world w = {.a = a, .b = b, .c = c};
        struct cond *cond = parse_ok(text, COND_DEPENDS);
        bool r = cond_eval_depends(cond, outcome_fn, &w);

        cond_free(cond);
        return r;
}

static void test_eval_depends_tables(void **state)
{
        static const enum ended all[] = {ENDED_NOT, ENDED_SUCCEEDED, ENDED_FAILED, ENDED_SKIPPED};

        (void)state;
        /* One step, each outcome against each way it ended. */
        for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
                enum ended e = all[i];

                assert_int_equal(eval_depends("a.Succeeded", e, 0, 0), e == ENDED_SUCCEEDED);
                assert_int_equal(eval_depends("a.Failed", e, 0, 0), e == ENDED_FAILED);
                assert_int_equal(eval_depends("a.Skipped", e, 0, 0), e == ENDED_SKIPPED);
                assert_int_equal(eval_depends("a.Completed", e, 0, 0),
                                 e == ENDED_SUCCEEDED || e == ENDED_FAILED);
                assert_int_equal(eval_depends("!a.Succeeded", e, 0, 0), e != ENDED_SUCCEEDED);
                assert_int_equal(eval_depends("!!a.Succeeded", e, 0, 0), e == ENDED_SUCCEEDED);
        }
        /* Two and three steps: every combination against C's operators. */
        for (size_t i = 0; i < ARRAY_SIZE(all); i++)
                for (size_t j = 0; j < ARRAY_SIZE(all); j++)
                        for (size_t k = 0; k < ARRAY_SIZE(all); k++) {
                                enum ended a = all[i], b = all[j], c = all[k];
                                bool as = a == ENDED_SUCCEEDED, bs = b == ENDED_SUCCEEDED;
                                bool af = a == ENDED_FAILED, bk = b == ENDED_SKIPPED;
                                bool cf = c == ENDED_FAILED, cs = c == ENDED_SUCCEEDED;
                                bool cc = cs || cf;

                                assert_int_equal(
                                    eval_depends("a.Succeeded && b.Succeeded", a, b, c), as && bs);
                                assert_int_equal(eval_depends("a.Failed || b.Skipped", a, b, c),
                                                 af || bk);
                                assert_int_equal(
                                    eval_depends("(a.Succeeded || b.Succeeded) && !c.Failed", a, b,
                                                 c),
                                    (as || bs) && !cf);
                                assert_int_equal(
                                    eval_depends("a.Succeeded || b.Succeeded && c.Completed", a, b,
                                                 c),
                                    as || (bs && cc));
                                assert_int_equal(
                                    eval_depends("!(a.Failed || b.Skipped) && c.Succeeded", a, b,
                                                 c),
                                    !(af || bk) && cs);
                                assert_int_equal(
                                    eval_depends("!a.Failed && !b.Skipped || c.Failed", a, b, c),
                                    (!af && !bk) || cf);
                        }
}

static void test_eval_depends_asks(void **state)
{
        struct world w = {.a = ENDED_FAILED, .b = ENDED_SUCCEEDED, .c = ENDED_NOT};
        struct cond *c;

        (void)state;
        /* Every ref is asked, in order, whatever the others answered. */
        c = parse_ok("a.Succeeded && b.Completed || (c.Skipped || a.Failed)", COND_DEPENDS);
        assert_true(cond_eval_depends(c, outcome_fn, &w));
        assert_string_equal(w.asked, "a.0 b.3 c.2 a.1");
        cond_free(c);

        /* A when expression is no depends: false. */
        c = parse_ok("true", COND_WHEN);
        assert_false(cond_eval_depends(c, outcome_fn, &w));
        cond_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_free_null),           cmocka_unit_test(test_bad_arguments),
            cmocka_unit_test(test_when_operators),      cmocka_unit_test(test_when_precedence),
            cmocka_unit_test(test_when_strings),        cmocka_unit_test(test_when_numbers),
            cmocka_unit_test(test_when_booleans),       cmocka_unit_test(test_syntax_errors),
            cmocka_unit_test(test_depends_errors),      cmocka_unit_test(test_msg_truncated),
            cmocka_unit_test(test_limit_text),          cmocka_unit_test(test_limit_nodes),
            cmocka_unit_test(test_limit_depth),         cmocka_unit_test(test_limit_refs),
            cmocka_unit_test(test_depends_refs),        cmocka_unit_test(test_handles_failure),
            cmocka_unit_test(test_eval_depends_tables), cmocka_unit_test(test_eval_depends_asks),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
