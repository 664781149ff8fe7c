#!/usr/bin/env bash
# The layer picture of docs/README.md, drawn from the CMake targets themselves:
# `cmake --graphviz` lists each library target and what it links, and Graphviz's
# `dot` renders that. So the picture cannot drift from the build.
#
#   docs/draw_layers.sh           writes docs/images/layers.dot and layers.png
#   docs/draw_layers.sh --check   exits 1 if the targets no longer match layers.dot
#                                 (ctest's docs_layers runs this)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Library targets only (no tests, examples or benchmarks), and outside libraries
# by their CMake names (BLAS::BLAS), not by this machine's file paths.
cat >"$work/CMakeGraphVizOptions.cmake" <<'OPTIONS'
set(GRAPHVIZ_GRAPH_NAME "heed")
set(GRAPHVIZ_EXECUTABLES FALSE)
set(GRAPHVIZ_GENERATE_PER_TARGET FALSE)
set(GRAPHVIZ_GENERATE_DEPENDERS FALSE)
set(GRAPHVIZ_IGNORE_TARGETS "^/")
OPTIONS
cmake -S "$root" -B "$work" -DHEED_BUILD_TESTS=OFF -DHEED_BUILD_EXAMPLES=OFF --graphviz="$work/raw.dot" >/dev/null
# Without the legend block. dot draws each arrow (A links B) downwards, so
# heed::heed is at the top and core, the bottom layer, at the bottom.
awk '/subgraph clusterLegend/ { skip = 1 } !skip { print } skip && /^}/ { skip = 0 }' "$work/raw.dot" >"$work/layers.dot"
if [[ ${1:-} == --check ]]; then
  if ! diff -u "$root/docs/images/layers.dot" "$work/layers.dot"; then
    echo "docs/images/layers.dot no longer matches the CMake targets: run docs/draw_layers.sh"
    exit 1
  fi
  echo "docs/images/layers.dot matches the CMake targets"
  exit 0
fi
cp "$work/layers.dot" "$root/docs/images/layers.dot"
dot -Tpng "$work/layers.dot" -o "$root/docs/images/layers.png"
echo "wrote docs/images/layers.dot and layers.png"
