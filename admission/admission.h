/* admission: which container options berth lets through to Docker
 * (docs/security.md). berthd stands in front of a root-equivalent socket:
 * whoever may create a container with a host path of "/" or the host's
 * network owns the host. So by default a container gets neither: host
 * networking only with berthd --allow-host-network, host path mounts only
 * inside the directories berthd --allow-host-path names (resolved, so ".."
 * and symbolic links cannot leave them), and the Docker socket never, in any
 * spelling, wherever it is.
 *
 * The API refuses an object that breaks the policy (422, the field named);
 * a Source's sync refuses its file; and the Task and Service reconcilers
 * check every container spec again just before they create a container,
 * which catches what was stored before the policy was (or by any other way).
 *
 * Every container berth makes also gets admission_container_defaults().
 */
#pragma once

#include "common.h"
#include "manifests.h"

/* The default pids limit of a container whose spec sets none. */
#define ADMISSION_DEFAULT_PIDS_LIMIT 1024

struct admission_policy {
        bool allow_host_network; /* berthd --allow-host-network */
        /* berthd --allow-host-path: absolute directories; none = no host path */
        const char *const *host_path_roots;
        size_t n_host_path_roots;
};

/* Checks one container spec (a Task's spec, a Workflow step's task, a
 * Service's template): appends to errs one error per refused field, named
 * under parent ("spec", "spec.steps[2].task"), with its position when
 * positions (the document's, may be NULL) has it. Returns the number of
 * errors appended, or -ENOMEM. */
int admission_check_spec(const struct admission_policy *p, const json_t *spec, const char *parent,
                         const json_t *positions, struct field_errors *errs);

/* Every container spec an object holds, by kind: a Task's spec; a
 * Workflow's steps[].task and onExit.task; a CronTask's template (a Task
 * spec, or a Workflow's steps); a Service's template. Other kinds hold none.
 * 0 when it passes, -EINVAL when errors were appended, -ENOMEM. */
int admission_check_object(const struct admission_policy *p, const json_t *object,
                           const json_t *positions, struct field_errors *errs);

/* The first refusal of one container spec as "field: why" (parent "spec"),
 * for a reconciler about to create a container: 0 when it passes,
 * -EPERM with msg, -ENOMEM. */
int admission_check_container(const struct admission_policy *p, const json_t *spec, char *msg,
                              size_t msg_size);

/* What every container gets, into a Docker create body's HostConfig:
 * SecurityOpt no-new-privileges (no setuid escalation), CapDrop NET_RAW
 * (Docker's default capabilities minus raw sockets), and PidsLimit
 * ADMISSION_DEFAULT_PIDS_LIMIT when the spec set none. -ENOMEM. */
int admission_container_defaults(json_t *host_config);
