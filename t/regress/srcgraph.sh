#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/srcgraph.sh: the source tree keeps its shape (t/srcgraph.py):
# the modules of src/, lib/ and workers/ call each other in one direction
# only (no cycle), each layer includes only what it may (nothing in src/
# knows a signer), and no call hides from the include graph.
. "$(dirname "$0")/lib.sh"

check "modules without a cycle, layers kept, no hidden calls (t/srcgraph.py)" \
	python3 "$SRC/t/srcgraph.py" "$SRC"
exit 0
