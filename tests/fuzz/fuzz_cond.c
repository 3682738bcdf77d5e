/* Fuzz target for the step conditions (manifests/cond.c): parse the input as
 * a depends and as a when expression, enumerate and evaluate what parses,
 * free. Besides memory errors, UB and deep recursion it aborts when
 *   - a failure returns another error than -EINVAL or -E2BIG, leaves a
 *     message not of the form "column N: ...", or touches the output,
 *   - a ref has an empty step or an outcome out of range, or
 *     cond_handles_failure disagrees with the refs,
 *   - wrapping a parsed expression in !( ) does not negate it (for depends
 *     under outcomes the input chooses; for when, or the same error), unless
 *     the wrapping itself runs into a limit. */
#include <stdint.h>

#include "manifests.h"

/* Room for the input cut at COND_TEXT_MAX + 1 bytes (so -E2BIG is reached)
 * and for "!(" ")" around it. */
#define FUZZ_TEXT_MAX (COND_TEXT_MAX + 1)

/* Whether step ended with outcome, from the hash of the step name and a
 * seed taken from the input: steps end one way each (Completed follows). */
static bool outcome_fn(const char *step, enum step_outcome outcome, void *userdata)
{
        uint64_t h = *(const uint64_t *)userdata;
        unsigned ended;

        for (const char *p = step; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        ended = (unsigned)(h >> 32) % 4; /* 0 Succeeded, 1 Failed, 2 Skipped, 3 not ended */
        if (outcome == STEP_OUTCOME_COMPLETED)
                return ended <= 1;
        return ended == (unsigned)outcome;
}

static void check_failure(const char *what, int r, const char *msg)
{
        unsigned column;
        int n = 0;

        if ((r != -EINVAL && r != -E2BIG) || sscanf(msg, "column %u: %n", &column, &n) != 1 ||
            n == 0 || column == 0 || !msg[n]) {
                fprintf(stderr, "%s: %d \"%s\"\n", what, r, msg);
                abort();
        }
}

static void check_refs(const struct cond *c)
{
        size_t n = cond_n_refs(c);

        if (n > COND_REFS_MAX)
                abort();
        for (size_t i = 0; i < n; i++) {
                const char *step = NULL;
                enum step_outcome outcome = (enum step_outcome) - 1;
                bool handles = false;

                cond_ref(c, i, &step, &outcome);
                if (!step || !step[0] || (unsigned)outcome > STEP_OUTCOME_COMPLETED)
                        abort();
                for (size_t j = 0; j < n; j++) {
                        const char *s;
                        enum step_outcome o;

                        cond_ref(c, j, &s, &o);
                        if (streq(s, step) &&
                            (o == STEP_OUTCOME_FAILED || o == STEP_OUTCOME_COMPLETED))
                                handles = true;
                }
                if (cond_handles_failure(c, step) != handles) {
                        fprintf(stderr, "handles_failure(%s) != %d\n", step, handles);
                        abort();
                }
        }
}

static void fuzz_depends(const char *text, const char *wrapped, uint64_t seed)
{
        struct cond *c = (struct cond *)&c, *w = NULL; /* c: a sentinel */
        char msg[512] = "";
        int r;

        r = cond_parse(text, COND_DEPENDS, &c, msg, sizeof(msg));
        if (r < 0) {
                check_failure("depends", r, msg);
                if (c != (struct cond *)&c)
                        abort();
                return;
        }
        check_refs(c);
        bool b = cond_eval_depends(c, outcome_fn, &seed);
        if (cond_parse(wrapped, COND_DEPENDS, &w, msg, sizeof(msg)) == 0) {
                if (cond_n_refs(w) != cond_n_refs(c) ||
                    cond_eval_depends(w, outcome_fn, &seed) == b) {
                        fprintf(stderr, "depends: !(%s) is not the negation\n", text);
                        abort();
                }
        } else if (!str_has_suffix(msg, "more than 512 operators and operands") &&
                   !str_has_suffix(msg, "nested deeper than 64 levels of '(' and '!'") &&
                   !str_has_suffix(msg, "expression longer than 4096 bytes")) {
                fprintf(stderr, "depends: !(%s): %s\n", text, msg);
                abort();
        }
        cond_free(w);
        cond_free(c);
}

static void fuzz_when(const char *text, const char *wrapped)
{
        char msg[512] = "", wmsg[512] = "";
        bool b = true, wb = true;
        int r, wr;

        r = cond_eval_when(text, &b, msg, sizeof(msg));
        if (r < 0) {
                check_failure("when", r, msg);
                if (!b)
                        abort();
        }
        /* Parsing alone agrees with evaluating about the syntax. */
        struct cond *c = NULL;
        int pr = cond_parse(text, COND_WHEN, &c, NULL, 0);
        if (pr < 0 ? pr != r : c == NULL)
                abort();
        cond_free(c);
        if (pr < 0)
                return;

        wr = cond_eval_when(wrapped, &wb, wmsg, sizeof(wmsg));
        if (wr == -E2BIG)
                return;
        if (wr != r || (r == 0 && wb == b)) {
                fprintf(stderr, "when: \"%s\" %d %d, wrapped %d %d %s\n", text, r, b, wr, wb, wmsg);
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char text[FUZZ_TEXT_MAX + 1], wrapped[FUZZ_TEXT_MAX + 4];
        uint64_t seed = 14695981039346656037ULL;
        size_t len = size < FUZZ_TEXT_MAX ? size : FUZZ_TEXT_MAX;

        /* An embedded NUL ends the text. */
        memcpy(text, data, len);
        text[len] = '\0';
        for (size_t i = 0; i < size; i++)
                seed = (seed ^ data[i]) * 1099511628211ULL;
        snprintf(wrapped, sizeof(wrapped), "!(%s)", text);

        fuzz_depends(text, wrapped, seed);
        fuzz_when(text, wrapped);
        return 0;
}
