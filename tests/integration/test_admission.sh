#!/usr/bin/env bash
# The container admission policy against the real engine: a Task that
# mounts the host's / (to read /etc/shadow), the Docker socket in any
# spelling, a path outside --allow-host-path or out through a symbolic link,
# and host networking without --allow-host-network are refused at apply
# (422, the field named, nothing stored) — in a Task, a Workflow step and
# onExit, a CronTask template and a Service template. A host path inside the
# allowed directory works, and every container gets the defaults
# (no-new-privileges, NET_RAW dropped, a pids limit).
source "$(dirname "$0")/lib.sh"
mkdir -p "$T/data/out"
ln -s /etc "$T/data/etc"
HOST_NETWORK= start_berthd --allow-host-path "$T/data"

refused() { # name field message-part: the manifest on stdin is refused
  berth apply -f - >"$T/out.txt" 2>&1 && fail "$1 was accepted"
  has -F "$2" "$T/out.txt" && has -F "$3" "$T/out.txt" || fail "$1: $(cat "$T/out.txt")"
  berth get "$(sed -n 's/^kind: //p' "$T/last.yaml" | tr 'A-Z' 'a-z')" "$1" >/dev/null 2>&1 &&
    fail "$1 was stored"
  log "refused $1: $(grep -oF "$2" "$T/out.txt" | head -1)"
}
task() { # name, volumes/network YAML
  tee "$T/last.yaml" <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: $1}
spec:
  image: busybox:latest
  command: [cat, /host/etc/shadow]
$2
YAML
}
task shadow "  volumes: [{mountPath: /host, hostPath: /}]" |
  refused shadow "spec.volumes[0].hostPath" "is outside the host paths berthd allows"
for sock in /var/run/docker.sock //var/run/docker.sock /var/run/../run/docker.sock /run/docker.sock/; do
  task sock "  volumes: [{mountPath: /s, hostPath: $sock}]" |
    refused sock "spec.volumes[0].hostPath" "the container engine's socket"
done
task escape "  volumes: [{mountPath: /e, hostPath: $T/data/etc}]" |
  refused escape "spec.volumes[0].hostPath" "(resolved: /etc)"
task hostnet "  network: host" | refused hostnet "spec.network" "host networking is not allowed"

tee "$T/last.yaml" <<'YAML' | refused wf "spec.steps[1].task.network" "host networking is not allowed"
apiVersion: berth/v1
kind: Workflow
metadata: {name: wf}
spec:
  steps:
    - {name: a, task: {image: busybox:latest}}
    - {name: b, task: {image: busybox:latest, network: host}}
YAML
tee "$T/last.yaml" <<'YAML' | refused wf "spec.onExit.task.volumes[0].hostPath" "the container engine's socket"
apiVersion: berth/v1
kind: Workflow
metadata: {name: wf}
spec:
  steps:
    - {name: a, task: {image: busybox:latest}}
  onExit:
    task: {image: busybox:latest, volumes: [{mountPath: /s, hostPath: /var/run/docker.sock}]}
YAML
tee "$T/last.yaml" <<'YAML' | refused nightly "spec.taskTemplate.spec.volumes[0].hostPath" "outside the host paths"
apiVersion: berth/v1
kind: CronTask
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  taskTemplate:
    spec: {image: busybox:latest, volumes: [{mountPath: /r, hostPath: /root}]}
YAML
tee "$T/last.yaml" <<'YAML' | refused web "spec.template.network" "host networking is not allowed"
apiVersion: berth/v1
kind: Service
metadata: {name: web}
spec:
  replicas: 1
  template: {image: busybox:latest, network: host, command: [sleep, "60"]}
YAML

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
docker inspect --format '{{json .HostConfig.SecurityOpt}} {{json .HostConfig.CapDrop}} {{.HostConfig.PidsLimit}}' "$id" >"$T/hc.txt"
[ "$(cat "$T/hc.txt")" = '["no-new-privileges"] ["NET_RAW"] 1024' ] || fail "defaults: $(cat "$T/hc.txt")"
log "ok"
