/* service-internal.h: what the Service reconciler's files share — its run
 * state (service.c) and the status and container body built from it
 * (service-status.c). */
#pragma once

#include "reconciler-internal.h"

#define SERVICE_FAILURES_MAX 64 /* create failures fed back within one reconcile */

struct service_run {
        struct object_run o; /* first: the skeleton's part */
        struct service_spec spec;
        bool spec_valid;
        char revision_hash[17];         /* of the spec (service_revision_hash) */
        char rev8[SERVICE_REV_LEN + 1]; /* its first 8 digits */
        char prev_rev8[SERVICE_REV_LEN + 1];
        /* observed, per round */
        struct container_info *infos; /* the cache's copies; obs and strays borrow */
        struct replica_container *obs;
        size_t n_obs;
        const char **strays;
        size_t n_strays;
        struct replica_record *records; /* from the status; strings borrow from o.obj */
        size_t n_records;
        struct service_plan plan;
        /* learned by acting, for the planner */
        bool image_checked;
        bool image_present;
        bool has_image_error;
        char image_error[BERTH_ERROR_MESSAGE_MAX];
        struct replica_failure failures[SERVICE_FAILURES_MAX];
        char failure_messages[SERVICE_FAILURES_MAX][BERTH_ERROR_MESSAGE_MAX];
        size_t n_failures;
};

/* Reads status.replicaStatuses into run->records (-ENOMEM). */
int service_records_from_status(struct service_run *run);
void service_records_free(struct service_run *run);
/* The previous status's rollout fields, into the planner's input. */
void service_prev_rollout(struct service_run *run, struct service_plan_input *in);
/* The kind_reconciler status step: the plan's status, the revision history
 * and the conditions. */
int service_status(struct object_run *o, struct berth_error *err);
/* The Docker create body of replica index of the update revision with its
 * host ports. -ENOMEM, or -EINVAL with err when the template does not expand. */
int service_container_body(struct service_run *run, int index, const int *host_ports, json_t **ret,
                           struct berth_error *err);
/* "http=18080,metrics=18090" into buf. */
void service_ports_label(const struct service_spec *spec, const int *host_ports, char *buf,
                         size_t size);
