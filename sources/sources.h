/* sources: the pure building blocks of a Source sync (the GitOps kind): which
 * files of a directory tree are manifests (globs), the tree's file list, its
 * revision, whether the objects no longer in the tree may be pruned, and who
 * owns an object about to be applied.
 *
 * Nothing here talks to the store or Docker, logs, or keeps state: the
 * Source controller observes with source_tree_scan and source_revision, and
 * plans with source_prune_decide and source_ownership_check.
 *
 * Relative paths ("relpath") are relative to the Source's spec.path, with
 * '/' between segments, no leading '/', no "." or ".." and no empty segment.
 */
#pragma once

#include "common.h"

/* ---- globs ------------------------------------------------------------ */

#define GLOB_PATTERN_MAX 256 /* characters of one pattern */

/* Glob syntax (spec.include and spec.exclude). The patterns in these
 * comments have a '\' between a '/' and a '*' next to it, which C comments
 * need; the real patterns have none there.
 *   *        any run of characters within one segment (never '/'); a leading
 *            '.' is not special: "*.yaml" matches ".hidden.yaml"
 *   ?        one character, not '/'
 *   [abc]    one of the characters; [a-z] a range (by byte value); [!a] or
 *            [^a] any character but those (never '/'); a ']' right after '['
 *            or "[!" is a member; '-' first or last is a member
 *   \x       the character x itself (also inside a class)
 *   **       as a whole segment ("**", "**\/x", "a/\**\/b", "a/\**"): any
 *            number of segments, also none, so "a/\**" matches "a" itself and
 *            "**\/x.yaml" matches "x.yaml"; elsewhere ("a**") the same as *
 * A pattern without '/' matches a path's base name ("*.yaml" matches
 * "x.yaml" and "a/b/x.yaml"); one with '/' matches the whole relative path
 * ("a/\*.yaml" matches "a/x.yaml", not "b/a/x.yaml"). A leading '/' anchors
 * a pattern at the top without matching anything itself ("/x.yaml" matches
 * "x.yaml" only). Matching is case-sensitive and byte-wise.
 * Invalid: NULL or empty, longer than GLOB_PATTERN_MAX, an unterminated
 * class, a reversed range ("[z-a]"), '/' inside a class or after '\', a
 * '\' ending the pattern, an empty segment ("a//b", a trailing '/'). */

/* 0 when pattern is valid; -EINVAL with what is wrong and where in msg
 * (msg_size bytes, may be 0): "unterminated character class at 3". */
int glob_check(const char *pattern, char *msg, size_t msg_size);
/* Whether relpath matches pattern; false for an invalid pattern and for a
 * NULL or empty relpath. */
bool glob_match(const char *pattern, const char *relpath);

/* Whether a file is part of the Source: some include pattern matches it and
 * no exclude pattern matches it or any directory above it (an exclude that
 * matches a directory excludes everything beneath it, as in .gitignore:
 * the default "**\/.*" excludes "a/.git/config"). No include, no file.
 * Patterns are expected to have passed glob_check; invalid ones match
 * nothing. */
bool source_path_included(const char *const *include, size_t n_include, const char *const *exclude,
                          size_t n_exclude, const char *relpath);
/* Whether a directory is walked into: no exclude pattern matches it or a
 * directory above it (so ".git/\**" and "**\/.*" both keep the walk out of
 * ".git"). A directory left out holds no included file. */
bool source_dir_descended(const char *const *exclude, size_t n_exclude, const char *reldir);

/* ---- the file list ---------------------------------------------------- */

#define SOURCE_DEPTH_MAX   64     /* directory levels below the root */
#define SOURCE_ENTRIES_MAX 100000 /* directory entries looked at (excluded ones too) */

#define SOURCE_SKIPPED_OUTSIDE  "symlink leaves the source path"
#define SOURCE_SKIPPED_DIR_LINK "symlink to a directory is not followed"
#define SOURCE_SKIPPED_DANGLING "symlink target does not exist"
#define SOURCE_SKIPPED_SPECIAL  "not a regular file"

struct source_file {
        char *relpath;
        int64_t size; /* bytes, as the scan found them (of the target for a symlink) */
        bool too_big; /* size > MANIFEST_DOC_MAX (1 MiB): listed, not to be read */
};

/* An entry the Source would hold but does not read, and why (one of the
 * SOURCE_SKIPPED_* texts, or "symlink cannot be resolved: <error>"). */
struct source_skipped {
        char *relpath;
        char *reason;
};

/* Both lists sorted by relpath (strcmp). Owned; source_tree_release. */
struct source_tree {
        struct source_file *files;
        size_t n_files;
        struct source_skipped *skipped;
        size_t n_skipped;
};

/* Lists the files of the directory root (subdirectories too when recursive)
 * that source_path_included accepts; directories are entered only as
 * source_dir_descended allows. Only regular files are listed; for a
 * symlink:
 *   - to a regular file inside root (after resolving every link): listed
 *     under the link's own relpath, with the target's size;
 *   - resolving outside root, to a file or a directory: skipped,
 *     SOURCE_SKIPPED_OUTSIDE;
 *   - to a directory inside root: skipped, SOURCE_SKIPPED_DIR_LINK (never
 *     entered, so the walk cannot loop);
 *   - dangling: skipped, SOURCE_SKIPPED_DANGLING.
 * A skipped entry is reported only when it would count: a file-like entry
 * the globs include, a directory-like one the walk would enter (recursive,
 * not excluded). FIFOs, sockets and devices the globs include are skipped
 * with SOURCE_SKIPPED_SPECIAL (never opened). Files larger than
 * MANIFEST_DOC_MAX are listed with too_big set; the caller reports them and
 * applies the others.
 * Errors (err says which, with the path): -ENOENT when root does not exist,
 * -ENOTDIR when it is not a directory, -E2BIG past MANIFEST_FILES_MAX files
 * and skipped entries together, SOURCE_ENTRIES_MAX entries or
 * SOURCE_DEPTH_MAX levels, -errno when a directory cannot be read (a tree
 * read in part would make prune delete what it did not see), -ENOMEM, and
 * -EINVAL for NULL arguments. *ret is untouched on failure. */
int source_tree_scan(const char *root, bool recursive, const char *const *include, size_t n_include,
                     const char *const *exclude, size_t n_exclude, struct source_tree *ret,
                     struct berth_error *err);
void source_tree_release(struct source_tree *t); /* NULL ok; leaves it empty */

/* ---- the revision ----------------------------------------------------- */

#define SOURCE_REVISION_MAX     80 /* bytes of a revision, with its NUL */
#define SOURCE_REVISION_GIT     "git"
#define SOURCE_REVISION_CONTENT "content"

/* What the tree holds, as one string:
 *   - when root lies in a Git work tree (the nearest ".git" walking up from
 *     root: a directory, or a file "gitdir: <path>" as worktrees and
 *     submodules have), the HEAD commit as 40 (or, in SHA-256 repositories,
 *     64) lowercase hex digits, kind SOURCE_REVISION_GIT. HEAD is read from
 *     the files: a commit (detached) or "ref: refs/..." resolved through a
 *     loose ref in the git dir or its commondir (worktrees), else
 *     packed-refs, following symbolic refs up to 5 deep. No git binary;
 *     repositories using reftable, an unborn branch (no commit yet) or an
 *     unreadable HEAD fall back to the content revision.
 *     A commit misses uncommitted and untracked edits (and a root that Git
 *     ignores never changes it): the caller must still compare what it
 *     reads with what it applied; the revision is for status and
 *     annotations, not the only trigger of a sync.
 *   - otherwise "sha256:<64 hex>" over tree's files in its order (as
 *     source_tree_scan sorted them): for each file its relpath, NUL, its size
 *     in decimal, NUL and its content; a too_big file (or one grown past
 *     MANIFEST_DOC_MAX since the scan) adds its relpath and size only. Kind
 *     SOURCE_REVISION_CONTENT.
 * tree may be NULL when only a git revision is wanted: then -ENOENT when
 * there is none. *ret_kind is static storage. Errors: -EINVAL (NULL root
 * or ret), -ENOENT/-ENOTDIR (root), -errno reading a file (err names it);
 * ret and *ret_kind are untouched then. */
int source_revision(const char *root, const struct source_tree *tree, char ret[SOURCE_REVISION_MAX],
                    const char **ret_kind, struct berth_error *err);

/* ---- prune ------------------------------------------------------------ */

/* An object the tree yields. ns NULL or "" for cluster-scoped kinds. */
struct source_object_ref {
        const char *kind; /* "Task" */
        const char *ns;
        const char *name;
};

/* A live object labelled with the Source's name. */
struct source_live_object {
        const char *kind;
        const char *ns;
        const char *name;
        const char *owner; /* its "berth/source" annotation, NULL when absent */
        bool protected_;   /* annotation "berth.prune: disabled" */
};

/* All borrowed. */
struct prune_input {
        const char *source; /* "<ns>/<name>" of the Source: its objects' owner annotation */
        const struct source_object_ref *desired;
        size_t n_desired;
        bool files_ok; /* every file was read, parsed and validated (none skipped) */
        const struct source_live_object *live;
        size_t n_live;
        bool prune;          /* spec.prune */
        double max_fraction; /* spec.maxPruneFraction; clamped to 0..1, NaN counts as 0 */
        bool force;          /* berth sync --force-prune: past max_fraction */
};

/* What happens to one live object. */
enum prune_action {
        PRUNE_ACTION_KEEP,           /* the tree still yields it */
        PRUNE_ACTION_DELETE,         /* gone from the tree: delete */
        PRUNE_ACTION_WITHHELD,       /* gone from the tree, but the prune was not done (reason) */
        PRUNE_ACTION_KEEP_PROTECTED, /* gone from the tree, "berth.prune: disabled" */
        PRUNE_ACTION_KEEP_NOT_OWNED, /* gone from the tree, owner annotation is not ours */
};

/* Why the objects gone from the tree were not deleted. */
enum prune_reason {
        PRUNE_REASON_NONE,              /* they were, or there were none */
        PRUNE_REASON_DISABLED,          /* spec.prune is false */
        PRUNE_REASON_FILES_IN_ERROR,    /* a file is in error: the tree is not known whole */
        PRUNE_REASON_FRACTION_EXCEEDED, /* more than max_fraction, without force */
};

struct prune_decision {
        enum prune_action *actions; /* one per in->live, same order; owned */
        size_t n_actions;
        size_t n_delete;   /* PRUNE_ACTION_DELETE */
        size_t n_withheld; /* PRUNE_ACTION_WITHHELD */
        size_t n_owned;    /* live objects whose owner is in->source (the fraction's base) */
        enum prune_reason reason;
        /* Set with a reason, else "": "would delete 8 of 10 objects (80%) >
         * maxPruneFraction 0.5; berth sync source/NAME --force-prune to
         * confirm", "files in error: 2 objects no longer in the files are
         * not pruned", "prune is disabled: 2 objects no longer in the files
         * are kept". */
        char message[256];
};

/* Decides the prune of a sync, purely. A live object is a candidate when
 * its owner is in->source and the tree no longer yields it (same kind,
 * namespace and name); of the other live objects gone from the tree, a
 * protected one is KEEP_PROTECTED and one owned by someone else (or no
 * one) KEEP_NOT_OWNED — never deleted. Then, in this order, with at least
 * one candidate:
 *   - prune false: reason DISABLED;
 *   - files_ok false: reason FILES_IN_ERROR, nothing deleted, force or not;
 *   - candidates / n_owned > max_fraction and no force: FRACTION_EXCEEDED
 *     (an empty tree while the Source has live objects — a missing mount —
 *     is 100%);
 *   - else every candidate is DELETE.
 * A candidate not deleted is WITHHELD. 0, or -EINVAL (NULL arguments),
 * -ENOMEM; *ret untouched on failure. */
int source_prune_decide(const struct prune_input *in, struct prune_decision *ret);
void prune_decision_release(struct prune_decision *d); /* NULL ok */
/* "FilesInError", "FractionExceeded", "Disabled"; "" for NONE. */
const char *prune_reason_to_string(enum prune_reason r);
const char *prune_action_to_string(enum prune_action a); /* "keep", "delete", ... */

/* ---- ownership -------------------------------------------------------- */

/* The live object a Source is about to apply (same kind, namespace, name). */
struct source_live_meta {
        bool exists;
        const char *owner; /* its "berth/source" annotation; NULL or "" when absent */
};

enum source_ownership {
        SOURCE_OWNERSHIP_APPLY,           /* absent, or owned by this Source */
        SOURCE_OWNERSHIP_CONFLICT_MANUAL, /* exists without an owner: made by hand or the API */
        SOURCE_OWNERSHIP_CONFLICT_OTHER,  /* owned by another Source */
};

/* source is "<ns>/<name>" of the Source applying. live NULL means absent.
 * The label alone never claims an object: only the annotation does. */
enum source_ownership source_ownership_check(const struct source_live_meta *live,
                                             const char *source);
/* The status.conflicts[].owner text: "by hand" for CONFLICT_MANUAL,
 * "source <owner>" for CONFLICT_OTHER, "" for APPLY. Into out (out_size
 * bytes, truncated); returns out. */
const char *source_ownership_describe(enum source_ownership o, const char *owner, char *out,
                                      size_t out_size);
