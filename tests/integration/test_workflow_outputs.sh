#!/usr/bin/env bash
# What goes wrong at run time with fan-out and file outputs fails the step
# with its own reason and changes nothing else: withParam over a result that
# is not a JSON array (InvalidFanOut, quoting it), a file output missing in
# the container (OutputMissing, naming the path), a file output over 1 MiB
# (OutputTooLarge), a when that does not evaluate (InvalidWhen). A file of
# exactly 1 MiB is kept whole, and binary content travels intact.
source "$(dirname "$0")/lib.sh"
start_berthd

cat >"$T/bad.yaml" <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: bad}
spec:
  failFast: false
  steps:
    - name: list
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo "not a list: {oops"']}
    - name: each
      dependsOn: [list]
      withParam: "{{steps.list.outputs.result}}"
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo {{item}}']}
    - name: missing
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo no file']}
      outputs: {files: [{name: report, path: /out/report.xml}]}
    - name: huge
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'mkdir /out; head -c 1048577 /dev/zero > /out/big']}
      outputs: {files: [{name: big, path: /out/big}]}
    - name: exact
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'mkdir /out; head -c 1048576 /dev/urandom > /out/blob; md5sum < /out/blob | cut -d" " -f1']}
      outputs: {files: [{name: blob, path: /out/blob}]}
    - name: word
      dependsOn: [list]
      when: "{{steps.list.outputs.result}}"
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo never']}
YAML
berth apply -f "$T/bad.yaml" >/dev/null || fail "apply bad"
berth wait workflow/bad --for=condition=Failed --timeout 90s || fail "bad: $(berth get workflow bad -o json)"
check() { # step reason message-part
  local got
  got=$(wfq bad "step(\"$1\").get(\"reason\", \"\") + \" | \" + step(\"$1\").get(\"message\", \"\")")
  case "$got" in
  "$2 | "*"$3"*) log "$1: $got" ;;
  *) fail "step $1: $got; want $2 with \"$3\"" ;;
  esac
}
check each InvalidFanOut 'withParam: the result of step list is not JSON: not a list: {oops'
check missing OutputMissing /out/report.xml
check huge OutputTooLarge 'larger than 1048576 bytes'
check word InvalidWhen 'not a list'
[ "$(wfq bad 'step("exact")["phase"]')" = Succeeded ] || fail "exact: $(wfq bad 'step("exact")')"
berth cp workflow/bad:exact/blob "$T/blob" || fail "cp blob"
[ "$(stat -c %s "$T/blob")" = 1048576 ] || fail "blob is $(stat -c %s "$T/blob") bytes"
[ "$(md5sum <"$T/blob" | cut -d' ' -f1)" = "$(berth logs task/bad-exact)" ] || fail "blob differs"
[ -z "$(containers_named bad-each-)" ] || fail "items ran"
log "ok"
