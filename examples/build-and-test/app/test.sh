#!/bin/sh
# The test suite: runs the app on known inputs and writes a JUnit XML report
# to $1 (default /out/junit.xml); exits non-zero when a case fails.
out=${1:-/out/junit.xml}
mkdir -p "$(dirname "$out")"
failures=0
cases=""
check() { # name expected args...
  name=$1 want=$2
  shift 2
  got=$(/app/app.sh "$@")
  if [ "$got" = "$want" ]; then
    cases="$cases<testcase name=\"$name\"/>"
  else
    failures=$((failures + 1))
    cases="$cases<testcase name=\"$name\"><failure message=\"want $want, got $got\"/></testcase>"
  fi
}
check empty 0
check one 5 5
check several 10 1 2 3 4
printf '<testsuite name="app" tests="3" failures="%d">%s</testsuite>\n' "$failures" "$cases" >"$out"
echo "3 tests, $failures failures (version $(cat /app/VERSION))"
[ "$failures" = 0 ]
