#!/usr/bin/env bash
# The layering test: heed's layers point down, core -> autograd -> ops -> data ->
# nn -> optim -> dist -> train, and nothing points up. Two checks, each of which
# would catch a violation the other misses:
#
#  1. Includes. Each layer's headers compile with the include directories of that
#     layer and the ones below (all of the layer's headers in one file), and the
#     next layer's headers cannot even be found from there. So an #include that
#     points up a layer fails to compile (CMakeLists.txt explains the folders).
#  2. Symbols. No layer's compiled code calls a function defined in a layer above
#     it: every heed symbol a layer's library leaves undefined (nm -u) must be
#     defined in that library or one below. This is what catches a method declared
#     in core/tensor.h but defined in ops/ (x.sum()) being called from core.
#
# usage: check_layers.sh CXX LAYER_INCLUDE_ROOT SOURCE_DIR ARCHIVE... -- [CXXFLAGS...]
#   ARCHIVE...  the layers' static libraries, lowest first: libheed_<layer>.a
#               (dist is there only in a build with MPI)
set -euo pipefail
cxx=$1 include_root=$2 source_dir=$3
shift 3
archives=()
while (($#)) && [[ $1 != -- ]]; do archives+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
cxx_flags=("$@")
layers=()
for archive in "${archives[@]}"; do
  name=$(basename "$archive" .a)
  layers+=("${name#libheed_}")
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "LAYERING: $*"; failures=$((failures + 1)); }

# ---- 1. includes ----------------------------------------------------------------
for i in "${!layers[@]}"; do
  layer=${layers[i]}
  flags=()
  for ((j = 0; j <= i; ++j)); do flags+=("-I$include_root/${layers[j]}"); done
  (cd "$source_dir" && find "$layer" -name '*.h' | sort | sed 's|.*|#include "heed/&"|') >"$work/$layer.cpp"
  if ! "$cxx" -std=c++20 -fopenmp -fsyntax-only "${cxx_flags[@]}" "${flags[@]}" "$work/$layer.cpp" 2>"$work/err"; then
    fail "the headers of $layer/ do not compile with the include paths of ${layers[0]}..$layer:"
    head -5 "$work/err"
  fi
  if ((i + 1 < ${#layers[@]})); then
    up=${layers[i + 1]}
    header=$(cd "$source_dir" && find "$up" -name '*.h' | sort | head -1)
    echo "#include \"heed/$header\"" >"$work/up.cpp"
    if "$cxx" -std=c++20 -fopenmp -fsyntax-only "${cxx_flags[@]}" "${flags[@]}" "$work/up.cpp" 2>"$work/err"; then
      fail "heed/$header (layer $up) can be included from layer $layer"
    elif ! grep -q -e "No such file" -e "file not found" "$work/err"; then  # g++'s words, clang's
      fail "including heed/$header from layer $layer failed, but not for want of the file:"
      head -5 "$work/err"
    fi
  fi
done

# ---- 2. symbols -----------------------------------------------------------------
# Mangled names: every heed symbol has the namespace "4heed" in it.
for i in "${!layers[@]}"; do
  nm -g --defined-only "${archives[i]}" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u >"$work/defined.$i"
  nm -u "${archives[i]}" 2>/dev/null | awk '{ print $NF }' | grep '4heed' | sort -u >"$work/undefined.$i" || true
done
for i in "${!layers[@]}"; do
  for ((j = 0; j <= i; ++j)); do cat "$work/defined.$j"; done | sort -u >"$work/below"
  comm -23 "$work/undefined.$i" "$work/below" >"$work/missing"
  while read -r symbol; do
    [[ -z $symbol ]] && continue
    where="no layer"
    for ((j = i + 1; j < ${#layers[@]}; ++j))
      do grep -qxF "$symbol" "$work/defined.$j" && { where="layer ${layers[j]}"; break; }; done
    fail "layer ${layers[i]} calls $(echo "$symbol" | c++filt), which $where defines"
  done <"$work/missing"
done

if ((failures)); then
  echo "layering: $failures problem(s)"
  exit 1
fi
echo "layering: ${layers[*]}: every include and every call points down"
