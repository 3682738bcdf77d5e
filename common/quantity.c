/* common: Kubernetes-style quantities for memory and cpu. */
#include "common.h"

#include <ctype.h>
#include <math.h>

/* Splits "1.5Gi" into a non-negative number and a suffix. */
static int split_number(const char *s, double *ret_value, const char **ret_suffix)
{
        if (!s || !*s)
                return -EINVAL;
        const char *p = s;
        bool digits = false, dot = false;
        while (isdigit((unsigned char)*p) || (*p == '.' && !dot)) {
                if (*p == '.')
                        dot = true;
                else
                        digits = true;
                p++;
        }
        if (!digits)
                return -EINVAL;
        char *end;
        double v = strtod(s, &end);
        if (end != p || !isfinite(v))
                return -EINVAL;
        *ret_value = v;
        *ret_suffix = p;
        return 0;
}

int quantity_parse_bytes(const char *s, int64_t *ret_bytes)
{
        static const struct {
                const char *suffix;
                double factor;
        } units[] = {
            {"", 1},
            {"k", 1e3},
            {"K", 1e3},
            {"M", 1e6},
            {"G", 1e9},
            {"T", 1e12},
            {"P", 1e15},
            {"E", 1e18},
            {"Ki", 1024.0},
            {"Mi", 1024.0 * 1024},
            {"Gi", 1024.0 * 1024 * 1024},
            {"Ti", 1024.0 * 1024 * 1024 * 1024},
            {"Pi", 1024.0 * 1024 * 1024 * 1024 * 1024},
            {"Ei", 1024.0 * 1024 * 1024 * 1024 * 1024 * 1024},
        };
        double v;
        const char *suffix;
        int r = split_number(s, &v, &suffix);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
                if (!streq(suffix, units[i].suffix))
                        continue;
                double bytes = ceil(v * units[i].factor);
                if (bytes >= 9.2e18)
                        return -ERANGE;
                *ret_bytes = (int64_t)bytes;
                return 0;
        }
        return -EINVAL;
}

int quantity_parse_millicpu(const char *s, int64_t *ret_millicpu)
{
        double v;
        const char *suffix;
        int r = split_number(s, &v, &suffix);
        if (r < 0)
                return r;
        double milli;
        if (streq(suffix, "m"))
                milli = v;
        else if (*suffix == '\0')
                milli = v * 1000;
        else
                return -EINVAL;
        if (milli >= 1e12)
                return -ERANGE;
        *ret_millicpu = (int64_t)llround(milli);
        return 0;
}
