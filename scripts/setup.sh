#!/usr/bin/env bash
# `make setup`: a ready .venv on a bare machine with no ROS distribution.
#
# 1. .venv with Python 3.11 (the PyPI ROS 2 wheels are built for cp311 only)
# 2. requirements.txt (every pin lives there), then the wheels' CMake exports are pointed
#    at this interpreter's include dirs (they name the wheel builder's /opt/python/...)
# 3. vla_wm_interfaces built with CMake and installed into .venv
# 4. vla_wm_ros installed editable, so the checkout is what runs
#
# Each step keeps a stamp (hash of its inputs) under .venv/.stamps and is skipped when
# its inputs are unchanged: a second run with nothing changed takes a few seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
STAMPS=$VENV/.stamps
BUILD=$ROOT/build/vla_wm_interfaces

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
digest() { cat "$@" | sha256sum | cut -c1-16; }
fresh() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp() { mkdir -p "$STAMPS" && echo "$2" >"$STAMPS/$1"; }

find_python() {
  for cand in "${PYTHON:-}" python3.11 python3; do
    [ -n "$cand" ] || continue
    command -v "$cand" >/dev/null 2>&1 || continue
    if "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$cand"
      return 0
    fi
  done
  return 1
}

# 1. virtual environment
if [ ! -x "$VENV/bin/python" ]; then
  py=$(find_python) || die "Python 3.11 is required (the ROS 2 wheels on PyPI are cp311). Install python3.11 or set PYTHON=/path/to/python3.11."
  say "creating $VENV with $($py --version)"
  "$py" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
PY=$VENV/bin/python
PIP=("$PY" -m pip --disable-pip-version-check)

# 2. pinned requirements
req=$(digest "$ROOT/requirements.txt")
if fresh requirements "$req"; then
  say "requirements: up to date"
else
  say "installing requirements.txt (ROS 2 wheels, torch CPU, MuJoCo, transformers, ...)"
  "${PIP[@]}" install --quiet -r "$ROOT/requirements.txt"
  pyinc=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  npinc=$("$PY" -c 'import numpy; print(numpy.get_include())')
  { grep -rl '/opt/python/cp311-cp311/' "$VENV/share" --include='*.cmake' || true; } |
    xargs -r sed -i \
      -e "s#/opt/python/cp311-cp311/include/python3.11#$pyinc#g" \
      -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$npinc#g"
  stamp requirements "$req"
fi

# 3. interfaces
ifc=$(digest "$ROOT/requirements.txt" "$ROOT"/vla_wm_interfaces/CMakeLists.txt "$ROOT"/vla_wm_interfaces/package.xml "$ROOT"/vla_wm_interfaces/msg/* "$ROOT"/vla_wm_interfaces/srv/* "$ROOT"/vla_wm_interfaces/action/*)
if fresh interfaces "$ifc" && "$PY" -c 'import vla_wm_interfaces.msg' 2>/dev/null; then
  say "vla_wm_interfaces: up to date"
else
  say "building vla_wm_interfaces (CMake + rosidl, ~15 s)"
  rm -rf "$BUILD"
  mkdir -p "$BUILD"
  log=$BUILD/build.log
  if ! (cd "$BUILD" &&
    LD_LIBRARY_PATH="$VENV/lib" cmake "$ROOT/vla_wm_interfaces" \
      -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
      -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF &&
    LD_LIBRARY_PATH="$VENV/lib" make -j"$(nproc)" &&
    make install) >"$log" 2>&1; then
    tail -30 "$log" >&2
    die "building vla_wm_interfaces failed; full log: $log"
  fi
  stamp interfaces "$ifc"
fi

# 4. this package, editable
pkg=$(digest "$ROOT/setup.py" "$ROOT/setup.cfg" "$ROOT/package.xml")
if fresh package "$pkg" && [ -x "$VENV/bin/vla-wm" ]; then
  say "vla_wm_ros: up to date"
else
  say "installing vla_wm_ros (editable)"
  mkdir -p "$ROOT/build"
  log=$ROOT/build/install-package.log
  if ! "${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT" >"$log" 2>&1; then
    tail -30 "$log" >&2
    die "installing vla_wm_ros failed; full log: $log"
  fi
  stamp package "$pkg"
fi
say "ready: $VENV"
