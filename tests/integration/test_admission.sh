#!/usr/bin/env bash
# The container admission policy against the real engine. Hostile container
# specs are refused at apply (422, the field named, nothing stored): the
# host's / and /etc, the Docker socket in any spelling (also through a
# symbolic link inside an allowed directory), host networking without
# --allow-host-network, privileged mode, the host's PID and IPC namespaces,
# added capabilities beyond Docker's default set, devices, unconfined
# seccomp, privilege escalation, runAsNonRoot with runAsUser 0 — each in a
# Task, and a representative set in a Workflow step and onExit, a CronTask
# template and a Service template. A Policy (examples/policy/trusted-team.yaml)
# relaxes NET_ADMIN and hostPID in its namespace only; another requires
# runAsNonRoot and a read-only root; a Policy removed no longer admits what
# was stored under it. runAsNonRoot on a root image fails the Task with
# CreateContainerConfigError, a read-only root file system is read-only, and
# every container gets the defaults (no-new-privileges, NET_RAW dropped, a
# pids limit).
source "$(dirname "$0")/lib.sh"
mkdir -p "$T/data/out"
ln -s /etc "$T/data/etc"
ln -s /var/run/docker.sock "$T/data/engine"
HOST_NETWORK= start_berthd --allow-host-path "$T/data"

# name field message-part: the manifest in $T/last.yaml is refused, naming
# field with message-part, and nothing of that name is stored.
refused() {
  berth apply -f "$T/last.yaml" >"$T/out.txt" 2>&1 && fail "$1 was accepted: $(cat "$T/last.yaml")"
  has -F "$2" "$T/out.txt" && has -F "$3" "$T/out.txt" || fail "$1: $(cat "$T/out.txt")"
  local kind ns
  kind=$(sed -n 's/^kind: //p' "$T/last.yaml" | tr 'A-Z' 'a-z')
  ns=$(sed -n 's/^  namespace: //p' "$T/last.yaml")
  berth get "$kind" "$1" -n "${ns:-default}" >/dev/null 2>&1 && fail "$1 was stored"
  n_refused=$((n_refused + 1))
}
n_refused=0

# kind name namespace fragment: a manifest of kind whose container spec is
# {image, command} plus fragment (flow-style fields), into $T/last.yaml.
# The container spec's fields are at $(prefix kind).
manifest() {
  local extra=$4
  [[ $extra == *network:* ]] || extra="network: none${extra:+, $extra}"
  local spec="{image: busybox:latest, command: [\"true\"], $extra}"
  {
    printf 'apiVersion: berth/v1\nkind: %s\nmetadata:\n  name: %s\n  namespace: %s\n' \
      "${1%-*}" "$2" "$3"
    case $1 in
      Task) printf 'spec: %s\n' "$spec" ;;
      Workflow-step) printf 'spec:\n  steps:\n    - {name: a, task: {image: busybox:latest}}\n    - {name: b, task: %s}\n' "$spec" ;;
      Workflow-exit) printf 'spec:\n  steps:\n    - {name: a, task: {image: busybox:latest}}\n  onExit: {task: %s}\n' "$spec" ;;
      CronTask) printf 'spec:\n  schedule: "0 3 * * *"\n  taskTemplate: {spec: %s}\n' "$spec" ;;
      Service) printf 'spec:\n  replicas: 1\n  template: %s\n' "${spec/command: [\"true\"]/command: [sleep, \"60\"]}" ;;
    esac
  } >"$T/last.yaml"
}
prefix() {
  case $1 in
    Task) echo spec ;;
    Workflow-step) echo "spec.steps[1].task" ;;
    Workflow-exit) echo "spec.onExit.task" ;;
    CronTask) echo "spec.taskTemplate.spec" ;;
    Service) echo "spec.template" ;;
  esac
}

# name | field (below the container spec) | message part | fragment
hostile=(
  "privileged|securityContext.privileged|privileged containers are not allowed|securityContext: {privileged: true}"
  "hostnet|network|host networking is not allowed|network: host"
  "hostpid|hostPID|the host's PID namespace is not allowed|hostPID: true"
  "hostipc|hostIPC|the host's IPC namespace is not allowed|hostIPC: true"
  "root|volumes[0].hostPath|/ is outside the host paths berthd allows|volumes: [{mountPath: /host, hostPath: /}]"
  "etc|volumes[0].hostPath|/etc is outside the host paths berthd allows|volumes: [{mountPath: /host, hostPath: /etc}]"
  "etc-slash|volumes[0].hostPath|/etc/ (resolved: /etc) is outside the host paths|volumes: [{mountPath: /host, hostPath: /etc/}]"
  "proc|volumes[0].hostPath|/proc is outside the host paths|volumes: [{mountPath: /host, hostPath: /proc}]"
  "sock|volumes[0].hostPath|the container engine's socket|volumes: [{mountPath: /s, hostPath: /var/run/docker.sock}]"
  "sock-ro|volumes[0].hostPath|the container engine's socket|volumes: [{mountPath: /s, hostPath: /var/run/docker.sock, readOnly: true}]"
  "sock-run|volumes[0].hostPath|the container engine's socket|volumes: [{mountPath: /s, hostPath: /run/docker.sock}]"
  "sock-dotdot|volumes[0].hostPath|the container engine's socket|volumes: [{mountPath: /s, hostPath: /var/run/../run/docker.sock}]"
  "sock-slashes|volumes[0].hostPath|the container engine's socket|volumes: [{mountPath: /s, hostPath: //var/run/docker.sock}]"
  "sock-trailing|volumes[0].hostPath|the container engine's socket|volumes: [{mountPath: /s, hostPath: /run/docker.sock/}]"
  "sock-link|volumes[0].hostPath|the container engine's socket|volumes: [{mountPath: /s, hostPath: $T/data/engine}]"
  "escape|volumes[0].hostPath|(resolved: /etc)|volumes: [{mountPath: /e, hostPath: $T/data/etc}]"
  "climb|volumes[0].hostPath|outside the host paths berthd allows|volumes: [{mountPath: /e, hostPath: $T/data/out/../../..}]"
  "cap-all|securityContext.capabilities.add[0]|ALL is not allowed|securityContext: {capabilities: {add: [ALL]}}"
  "cap-sys-admin|securityContext.capabilities.add[0]|SYS_ADMIN is not allowed|securityContext: {capabilities: {add: [SYS_ADMIN]}}"
  "cap-prefixed|securityContext.capabilities.add[1]|SYS_ADMIN is not allowed|securityContext: {capabilities: {add: [CHOWN, CAP_SYS_ADMIN]}}"
  "cap-ptrace|securityContext.capabilities.add[0]|SYS_PTRACE is not allowed|securityContext: {capabilities: {add: [sys_ptrace]}}"
  "cap-net-admin|securityContext.capabilities.add[0]|NET_ADMIN is not allowed|securityContext: {capabilities: {add: [NET_ADMIN]}}"
  "cap-net-raw|securityContext.capabilities.add[0]|NET_RAW is not allowed|securityContext: {capabilities: {add: [net_raw]}}"
  "cap-module|securityContext.capabilities.add[0]|SYS_MODULE is not allowed|securityContext: {capabilities: {add: [cap_sys_module]}}"
  "dev-sda|devices[0].hostPath|host devices are not allowed|devices: [{hostPath: /dev/sda}]"
  "dev-mem|devices[0].hostPath|would read and write /dev/mem|devices: [{hostPath: /dev/mem, containerPath: /dev/m, permissions: r}]"
  "seccomp|securityContext.seccompProfile.type|Unconfined is not allowed|securityContext: {seccompProfile: {type: Unconfined}}"
  "escalation|securityContext.allowPrivilegeEscalation|privilege escalation is not allowed|securityContext: {allowPrivilegeEscalation: true}"
  "root-uid|securityContext.runAsUser|0 is root, and runAsNonRoot is true|securityContext: {runAsNonRoot: true, runAsUser: 0}"
  "root-user|user|\"root\" is root, and securityContext.runAsNonRoot is true|user: root, securityContext: {runAsNonRoot: true}"
  "kitchen-sink|securityContext.privileged|privileged containers are not allowed|hostPID: true, securityContext: {privileged: true, capabilities: {add: [ALL]}}"
  "exec-into|executor.type|docker-exec is not allowed|executor: {type: docker-exec, container: {name: db}}"
)
for h in "${hostile[@]}"; do
  IFS='|' read -r name field part fragment <<<"$h"
  manifest Task "$name" default "$fragment"
  refused "$name" "spec.$field" "$part"
done
log "refused $n_refused hostile Tasks"

# A representative set in every other place a container spec lives.
for kind in Workflow-step Workflow-exit CronTask Service; do
  for i in 0 2 8 14 19 24 26 27; do
    IFS='|' read -r name field part fragment <<<"${hostile[$i]}"
    name=$(echo "$kind-$name" | tr 'A-Z' 'a-z' | cut -c1-40)
    manifest "$kind" "$name" default "$fragment"
    refused "$name" "$(prefix "$kind").$field" "$part"
  done
done
log "refused $n_refused hostile container specs in all"
[ "$n_refused" -ge 30 ] || fail "only $n_refused refused"

log "a Policy relaxes its own namespace only"
berth apply -f "$BERTH_SOURCE_DIR/examples/policy/trusted-team.yaml" >/dev/null || fail "example"
berth get policies -n netops | has -w default || fail "the Policy is not listed"
relaxed="hostPID: true, securityContext: {capabilities: {add: [NET_ADMIN]}}"
manifest Task netadmin netops "$relaxed"
berth apply -f "$T/last.yaml" >"$T/out.txt" 2>&1 || fail "relaxed: $(cat "$T/out.txt")"
manifest Task netadmin elsewhere "$relaxed"
refused netadmin "spec.hostPID" "a Policy named default in the namespace may allow it (allowHostPID)"
manifest Task sysadmin netops "securityContext: {capabilities: {add: [SYS_ADMIN]}}"
refused sysadmin "spec.securityContext.capabilities.add[0]" "Policy netops/default does not allow it (allowedCapabilities)"
cat >"$T/last.yaml" <<YAML
apiVersion: berth/v1
kind: Policy
metadata: {name: default, namespace: netops}
spec: {allowedHostPaths: [/etc]}
YAML
refused default "spec.allowedHostPaths[0]" "/etc is outside the host paths berthd allows"

log "a Policy that tightens"
cat >"$T/strict.yaml" <<'YAML'
apiVersion: berth/v1
kind: Policy
metadata: {name: default, namespace: strict}
spec: {requireRunAsNonRoot: true, requireReadOnlyRootFilesystem: true}
YAML
berth apply -f "$T/strict.yaml" >/dev/null || fail "apply strict"
manifest Task plain strict ""
refused plain "spec.securityContext.runAsNonRoot" "must be true: Policy strict/default requires it (requireRunAsNonRoot)"
manifest Task halfway strict "securityContext: {runAsNonRoot: true, runAsUser: 1000}"
refused halfway "spec.securityContext.readOnlyRootFilesystem" "(requireReadOnlyRootFilesystem)"
manifest Task compliant strict "securityContext: {runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true}"
berth apply -f "$T/last.yaml" >/dev/null || fail "compliant was refused"

log "runAsNonRoot, runAsUser, readOnlyRootFilesystem in the container"
cat >"$T/run.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: nonroot}
spec:
  image: busybox:latest
  network: none
  command: ["true"]
  securityContext: {runAsNonRoot: true}
---
apiVersion: berth/v1
kind: Task
metadata: {name: uid1000}
spec:
  image: busybox:latest
  network: none
  command: [sh, -c, 'test "$(id -u)" = 1000']
  securityContext: {runAsNonRoot: true, runAsUser: 1000}
---
apiVersion: berth/v1
kind: Task
metadata: {name: readonly}
spec:
  image: busybox:latest
  network: none
  command: [touch, /x]
  securityContext: {readOnlyRootFilesystem: true}
YAML
berth apply -f "$T/run.yaml" >/dev/null || fail "apply run.yaml"

log "a Policy removed no longer admits what was stored under it"
cat >"$T/later.yaml" <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: first, namespace: netops}
spec:
  image: busybox:latest
  network: none
  volumes: [{mountPath: /data, hostPath: $T/data/out}]
  command: [sh, -c, 'until [ -f /data/go ]; do sleep 0.2; done']
---
apiVersion: berth/v1
kind: Task
metadata: {name: later, namespace: netops}
spec: {image: busybox:latest, network: none, command: ["true"], hostPID: true, dependsOn: [first]}
YAML
berth apply -f "$T/later.yaml" >/dev/null || fail "apply later.yaml"

berth wait task/netadmin -n netops --for=condition=Succeeded --timeout 60s ||
  fail "netadmin: $(berth get task netadmin -n netops -o json)"
id=$(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.name=netadmin)
docker inspect --format '{{json .HostConfig.CapAdd}} {{.HostConfig.PidMode}} {{json .HostConfig.CapDrop}}' "$id" >"$T/hc.txt"
[ "$(cat "$T/hc.txt")" = '["NET_ADMIN"] host ["NET_RAW"]' ] || fail "relaxed container: $(cat "$T/hc.txt")"
berth delete policy default -n netops >/dev/null || fail "delete the Policy"
touch "$T/data/out/go" # first may succeed now, and later start
berth wait task/later -n netops --for=condition=Failed --timeout 60s ||
  fail "later: $(berth get task later -n netops -o json)"
berth get task later -n netops -o json >"$T/later.json"
has -F '"reason": "ContainerCreateFailed"' "$T/later.json" &&
  has -F 'refused by the admission policy: spec.hostPID: the host' "$T/later.json" ||
  fail "later: $(cat "$T/later.json")"

berth wait task/nonroot --for=condition=Failed --timeout 60s || fail "nonroot: $(berth get task nonroot -o json)"
berth get task nonroot -o json >"$T/nonroot.json"
has -F '"reason": "CreateContainerConfigError"' "$T/nonroot.json" &&
  has -F '"message": "runAsNonRoot: image busybox:latest runs as root (uid 0)"' "$T/nonroot.json" ||
  fail "nonroot: $(cat "$T/nonroot.json")"
[ -z "$(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.name=nonroot)" ] ||
  fail "nonroot got a container"
berth wait task/uid1000 --for=condition=Succeeded --timeout 60s || fail "uid1000: $(berth get task uid1000 -o json)"
id=$(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.name=uid1000)
[ "$(docker inspect --format '{{.Config.User}}' "$id")" = 1000 ] || fail "uid1000: not user 1000"
berth wait task/readonly --for=condition=Failed --timeout 60s || fail "readonly: $(berth get task readonly -o json)"
berth logs task/readonly 2>&1 | has -i "read-only file system" || fail "readonly: $(berth logs task/readonly 2>&1)"
id=$(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.name=readonly)
[ "$(docker inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$id")" = true ] || fail "readonly: not ReadonlyRootfs"

log "a host path inside --allow-host-path, and the defaults"
cat >"$T/ok.yaml" <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: ok}
spec:
  image: busybox:latest
  network: none
  volumes: [{mountPath: /data, hostPath: $T/data/out}]
  command: [sh, -c, 'echo written > /data/file']
YAML
berth apply -f "$T/ok.yaml" >/dev/null || fail "apply ok"
berth wait task/ok --for=condition=Succeeded --timeout 60s || fail "ok: $(berth get task ok -o json)"
[ "$(cat "$T/data/out/file")" = written ] || fail "the host path was not mounted"
id=$(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.name=ok)
docker inspect --format '{{json .HostConfig.SecurityOpt}} {{json .HostConfig.CapDrop}} {{.HostConfig.PidsLimit}} {{json .HostConfig.CapAdd}} {{.HostConfig.Privileged}}' "$id" >"$T/hc.txt"
[ "$(cat "$T/hc.txt")" = '["no-new-privileges"] ["NET_RAW"] 1024 null false' ] || fail "defaults: $(cat "$T/hc.txt")"
log "ok"
