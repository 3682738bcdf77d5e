#include "cli-test.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>

#include "cli-internal.h"

void capture_release(struct capture *c)
{
        free(c->out);
        free(c->err);
        c->out = c->err = NULL;
}

void run(struct capture *c, ...)
{
        char *argv[64] = {(char *)"berth"};
        int argc = 1;
        size_t olen = 0, elen = 0;
        va_list ap;

        capture_release(c);
        va_start(ap, c);
        for (char *a; (a = va_arg(ap, char *)) && argc < 63;)
                argv[argc++] = a;
        va_end(ap);
        argv[argc] = NULL;

        FILE *out = open_memstream(&c->out, &olen);
        FILE *err = open_memstream(&c->err, &elen);
        assert_non_null(out);
        assert_non_null(err);
        c->rc = cli_run(argc, argv, out, err);
        fclose(out);
        fclose(err);
}
