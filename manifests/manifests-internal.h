/* manifests internals shared by the parser (parse.c) and the printer (print.c). */
#pragma once

#include <stddef.h>

/* How a plain (unquoted, untagged) scalar reads under the YAML 1.2 core schema.
 * The printer quotes every string that would not read back as SCALAR_STRING. */
enum manifest_scalar_type {
        MANIFEST_SCALAR_STRING,
        MANIFEST_SCALAR_NULL,
        MANIFEST_SCALAR_BOOL,
        MANIFEST_SCALAR_INT,
        MANIFEST_SCALAR_FLOAT,
        MANIFEST_SCALAR_NONFINITE, /* .inf, -.inf, .nan: JSON cannot hold them */
};

/* Purely syntactic: an integer too large for int64 still classifies as INT. */
enum manifest_scalar_type manifest_scalar_classify(const char *s, size_t len);
