/* admission: which container options berth lets through to Docker
 * (docs/security.md). berthd stands in front of a root-equivalent socket:
 * whoever may create a container with a host path of "/", the host's
 * network or PID namespace, a device, SYS_ADMIN or privileged mode owns the
 * host. So by default a container gets none of these: host networking only
 * with berthd --allow-host-network, host path mounts only inside the
 * directories berthd --allow-host-path names (resolved, so ".." and
 * symbolic links cannot leave them), the Docker socket never, in any
 * spelling, wherever it is; capabilities only from Docker's default set
 * less NET_RAW; no privileged mode, host PID or IPC namespace, device,
 * unconfined seccomp or privilege escalation.
 *
 * A namespace's Policy (manifests.h, struct policy_spec: the one named
 * POLICY_NAME) relaxes that for its namespace (allow*) or tightens it
 * (require*). It never reaches past berthd's flags for host paths, and
 * never lets the engine's socket in.
 *
 * The API refuses an object that breaks the policy (422, the field named);
 * a Source's sync refuses its file; and the Task and Service reconcilers
 * check every container spec again just before they create a container,
 * with the Policy of that moment, which catches what was stored before the
 * policy was, under a Policy since removed, or by any other way.
 *
 * What passed reaches Docker through admission_container_security(), with
 * the defaults every container gets.
 */
#pragma once

#include "common.h"
#include "manifests.h"

/* The default pids limit of a container whose spec sets none. */
#define ADMISSION_DEFAULT_PIDS_LIMIT 1024

/* The capabilities a spec may add without a Policy: Docker's default set
 * less NET_RAW (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID,
 * SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP). */
uint64_t admission_default_capabilities(void);

struct admission_policy {
        bool allow_host_network; /* berthd --allow-host-network */
        /* berthd --allow-docker-exec: Tasks may run commands inside running
         * containers berth does not own (executor docker-exec) */
        bool allow_docker_exec;
        /* berthd --allow-host-path: absolute directories; none = no host path */
        const char *const *host_path_roots;
        size_t n_host_path_roots;
        /* berthd --notifier-exec-dir: directories whose programs exec
         * Notifiers may run (resolved); none = exec Notifiers refused */
        const char *const *notifier_exec_dirs;
        size_t n_notifier_exec_dirs;
        /* Notifier types berthd delivers besides the built-ins (plugins it
         * was started with), NULL-terminated; NULL: none */
        const char *const *notifier_plugins;
};

/* Checks one container spec (a Task's spec, a Workflow step's task, a
 * Service's template) against berthd's flags p and the namespace's Policy
 * (NULL: it has none): appends to errs one error per refused field, named
 * under parent ("spec", "spec.steps[2].task"), with its position when
 * positions (the document's, may be NULL) has it. A refusal a Policy could
 * lift says which field of it would. Returns the number of errors
 * appended, or -ENOMEM. */
int admission_check_spec(const struct admission_policy *p, const struct policy_spec *policy,
                         const json_t *spec, const char *parent, const json_t *positions,
                         struct field_errors *errs);

/* Every container spec an object holds, by kind: a Task's spec; a
 * Workflow's steps[].task and onExit.task; a CronTask's template (a Task
 * spec, or a Workflow's steps); a Service's template. policy is the
 * Policy of the object's namespace (NULL: none). A Policy object itself
 * is checked against berthd's flags: its allowedHostPaths must lie inside
 * --allow-host-path (and never be the engine's socket); a Notifier with
 * admission_check_notifier. Other kinds hold nothing to check. 0 when it
 * passes, -EINVAL when errors were appended, -ENOMEM. */
int admission_check_object(const struct admission_policy *p, const struct policy_spec *policy,
                           const json_t *object, const json_t *positions,
                           struct field_errors *errs);

/* A Notifier (the notifier.c of this module): its type must be built in
 * or one of p's plugins, and an exec Notifier's command must resolve
 * (realpath: "..", symbolic links) to a regular, executable file inside
 * one of p's notifier_exec_dirs. admission_check_object calls it for a
 * Notifier; the notify module asks admission_notifier_command again
 * before each run, since flags change across restarts. Returns the
 * number of errors appended to errs, or -ENOMEM. */
int admission_check_notifier(const struct admission_policy *p, const json_t *spec,
                             const json_t *positions, struct field_errors *errs);
/* The program an exec Notifier's command stands for: *ret_path (caller
 * frees) is its resolved path. -EPERM (no --notifier-exec-dir, or outside
 * them), -ENOENT, -EACCES (not a regular executable file), -ENOMEM; msg
 * says why ("/tmp/x is outside the directories exec notifiers may run
 * programs from (--notifier-exec-dir /etc/berth/notify)"). */
int admission_notifier_command(const struct admission_policy *p, const char *command,
                               char **ret_path, char *msg, size_t msg_size);

/* The first refusal of one container spec as "field: why" (parent "spec"),
 * for a reconciler about to create a container: 0 when it passes,
 * -EPERM with msg, -ENOMEM. */
int admission_check_container(const struct admission_policy *p, const struct policy_spec *policy,
                              const json_t *spec, char *msg, size_t msg_size);

/* runAsNonRoot with no uid in the spec: the user is the image's, known
 * only once the image is there. user is the image's Config.User ("" or
 * NULL: root). 0 when it is a numeric uid other than 0; -EPERM with msg
 * ("runAsNonRoot: image busybox:latest runs as root (uid 0)") when it is
 * root or a name (which only the image's /etc/passwd could tell). */
int admission_check_image_user(const char *image, const char *user, char *msg, size_t msg_size);

/* Into a Docker create body's HostConfig: what spec asks that reaches
 * Docker (Privileged, CapAdd, CapDrop, ReadonlyRootfs, PidMode and IpcMode
 * "host", Devices, SecurityOpt "seccomp=unconfined"), and what every
 * container gets: SecurityOpt no-new-privileges (unless the spec asks
 * allowPrivilegeEscalation), CapDrop NET_RAW (unless the spec adds it or
 * ALL) and the spec's drops, PidsLimit ADMISSION_DEFAULT_PIDS_LIMIT when
 * the host config has none. Call only for a spec that passed
 * admission_check_container: it writes what the spec asks. -ENOMEM. */
int admission_container_security(const struct task_spec *spec, json_t *host_config);
