#!/bin/sh
# The application: adds its arguments.
sum=0
for n in "$@"; do sum=$((sum + n)); done
echo "$sum"
