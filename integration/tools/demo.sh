#!/usr/bin/env bash
# STUB — placeholder until the demo is written (owned by another engineer).
# `make demo` calls this; it must not pretend to work.
echo "demo: not yet implemented (integration/tools/demo.sh is a stub)" >&2
exit 1
