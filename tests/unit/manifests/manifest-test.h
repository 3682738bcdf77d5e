/* Helpers shared by the manifests tests. */
#pragma once

#include "manifests.h"

/* Parses yaml (named source in messages) into list; fails the test on error. */
void parse_ok_as(const char *yaml, const char *source, struct manifest_list *list);
/* Parses yaml (one document) and returns every validation error, formatted
 * (caller frees); NULL when the document is valid. */
char *validate_text_as(const char *yaml, const char *source);
/* Fails unless yaml validates. */
void assert_valid_as(const char *yaml, const char *source);
/* Fails unless validating yaml gives exactly the formatted errors expected. */
void assert_invalid_as(const char *yaml, const char *source, const char *expected);
