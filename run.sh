#!/usr/bin/env bash
# lstm_lab's two commands. Each one sets everything up first (a virtual environment in .venv
# with the pinned packages, and for the tests the system Chromium the browser test drives).
#
#   bash run.sh lab     open the course's student edition (student/) in JupyterLab
#   bash run.sh test    run every test: unit tests, notebooks (nbval, twice: 2 threads, then 1),
#                       the browser test
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PY="$VENV/bin/python"

find_python() {
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "lstm_lab needs Python 3.11 (torch 2.13.0's CPU wheel is built for it); none found on PATH" >&2
  return 1
}

quiet_pip() {
  # pip warns once per package about optional local indexes that do not exist; keep real errors.
  "$PY" -m pip install --disable-pip-version-check -q "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}

setup() {
  local stamp="$VENV/.lstm_lab-installed" want
  want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ -x "$PY" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "setting up $VENV (one time; a few minutes) ..."
  [ -x "$PY" ] || "$(find_python)" -m venv "$VENV"
  # torch first, pinned exactly: an open range would pull a multi-GB CUDA build.
  quiet_pip "torch==2.13.0"
  quiet_pip -e ".[test]"
  echo "$want" > "$stamp"
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium for the browser test ..."
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "the browser test needs /usr/bin/chromium: run 'sudo apt-get install -y chromium' once" >&2
    return 1
  fi
}

setup_nbgrader_peer() {
  # nbgrader is the instructors' optional peer: the tests compare our student versions and grades with
  # its own. It lives in its own environment so the course's JupyterLab stays free of its menus, and that
  # environment must import lstm_lab and torch: without them nbgrader grades every student 0, silently.
  local peer=.venv-nbgrader
  if [ ! -x "$peer/bin/nbgrader" ] || ! "$peer/bin/python" -c "import lstm_lab, torch" 2>/dev/null; then
    echo "setting up $peer (nbgrader with lstm_lab and torch, for the grading tests) ..."
    [ -x "$peer/bin/python" ] || "$(find_python)" -m venv "$peer"
    "$peer/bin/python" -m pip install --disable-pip-version-check -q "torch==2.13.0" \
      2> >(grep -v "is ignored: it is neither" >&2)
    "$peer/bin/python" -m pip install --disable-pip-version-check -q "nbgrader==0.9.6" -e . \
      2> >(grep -v "is ignored: it is neither" >&2)
  fi
  if ! "$peer/bin/python" -c "import lstm_lab, torch"; then
    echo "$peer cannot import lstm_lab and torch: nbgrader would grade every student 0. Remove $peer and rerun." >&2
    return 1
  fi
  export LSTM_LAB_NBGRADER="$PWD/$peer/bin/nbgrader"
}

NBVAL=(--nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg)

case "${1:-}" in
  lab)
    setup
    shift
    # The student edition (student/: every exercise yours to write; `lstm-lab answer NAME` after trying).
    # Serve the repository root (the notebooks show figures from ../img) and open its start page.
    exec "$VENV/bin/jupyter" lab --ServerApp.root_dir="$PWD" \
      --LabApp.default_url=/lab/tree/student/00_start_here.ipynb "$@"
    ;;
  test)
    setup
    ensure_chromium
    setup_nbgrader_peer
    export LSTM_LAB_REQUIRE_PEERS=1  # the browser and nbgrader tests fail, not skip, without their tools
    shift
    export PYTHONHASHSEED=0
    # 1) unit tests and every notebook re-executed against its stored outputs, 2 threads
    OMP_NUM_THREADS=2 "$PY" -m pytest tests notebooks "${NBVAL[@]}" "$@"
    # 2) the notebooks once more, in a row, with 1 thread: outputs must not depend on either
    OMP_NUM_THREADS=1 "$PY" -m pytest notebooks "${NBVAL[@]}" -q -p no:cacheprovider "$@"
    ;;
  *)
    echo "usage: bash run.sh lab | bash run.sh test" >&2
    exit 2
    ;;
esac
