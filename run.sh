#!/usr/bin/env bash
# lstm_lab's two commands. Each one sets everything up first (a virtual environment in .venv
# with the pinned packages, and for the tests the system Chromium the browser test drives).
#
#   bash run.sh lab     open the course's student edition (student/) in JupyterLab
#   bash run.sh test    run every test: unit tests, notebooks (nbval, twice: 2 threads, then 1
#                       thread on an emulated AVX2 CPU),
#                       the browser test
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PY="$VENV/bin/python"

# The Pythons torch 2.13.0 and the other pins publish wheels for. CI verifies the first one; with
# another, a stored output may differ only where the README's rule for stored outputs allows.
VERIFIED_PYTHON=3.11
ACCEPTED_PYTHONS="3.11 3.12 3.13 3.14"

find_python() {
  # Prefer the Python CI verifies, then the newest other accepted CPython; say which was chosen.
  local candidate found="" version
  for candidate in python$VERIFIED_PYTHON python3.14 python3.13 python3.12 python3 python; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    version=$("$candidate" -c 'import sys; print(sys.implementation.name, "%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
    found="$found ${version#* }"
    case " $ACCEPTED_PYTHONS " in
      *" ${version#cpython } "*)
        [ "${version%% *}" = cpython ] || continue
        if [ "${version#cpython }" != "$VERIFIED_PYTHON" ]; then
          echo "using Python ${version#cpython } ($(command -v "$candidate")); CI verifies $VERIFIED_PYTHON, and on Linux" \
               "pip takes torch 2.13.0 for it from PyPI (a large CUDA build)" >&2
        fi
        echo "$candidate"; return 0 ;;
    esac
  done
  echo "lstm_lab needs CPython $ACCEPTED_PYTHONS (the versions torch 2.13.0 has wheels for);" \
       "found:${found:- no python on PATH}" >&2
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
  if [ ! -x "$PY" ]; then
    local python; python=$(find_python)
    "$python" -m venv "$VENV"
  fi
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
    if [ ! -x "$peer/bin/python" ]; then
      local python; python=$(find_python)
      "$python" -m venv "$peer"
    fi
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

# matplotlib's font cache, one per environment. The shared one in ~/.cache/matplotlib lists font files
# by path, so it can name the fonts of another, since deleted, environment (then every figure falls back
# to other fonts, with a warning per cell); and its first build prints to stderr inside a notebook cell,
# which nbval counts as output. So: a cache of this environment's own, built before anything runs.
export MPLCONFIGDIR="$PWD/$VENV/matplotlib"
warm_matplotlib() { "$PY" -c "import matplotlib.font_manager" >/dev/null 2>&1 || true; }

lab_threads() {
  # torch's threads for the lab, unless the user set OMP_NUM_THREADS. The course's tensors are small:
  # a second thread buys little on a quiet machine and costs 3-15x when another program holds a core
  # (threads wait for each other). So half the cores, at least 1 and at most 4.
  local cores; cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
  local threads=$(( cores / 2 )); [ "$threads" -ge 1 ] || threads=1; [ "$threads" -le 4 ] || threads=4
  echo "${OMP_NUM_THREADS:-$threads}"
}

emulated_cpu() {
  # KEY=VALUE words from tests/emulated_cpu.env, on x86-64 only (the variables name x86 kernels).
  case "$(uname -m)" in x86_64|amd64) grep -v '^#' tests/emulated_cpu.env | xargs ;; esac
}

case "${1:-}" in
  lab)
    setup
    warm_matplotlib
    shift
    OMP_NUM_THREADS=$(lab_threads); export OMP_NUM_THREADS MKL_NUM_THREADS=$OMP_NUM_THREADS
    echo "torch uses $OMP_NUM_THREADS thread(s) (OMP_NUM_THREADS=N bash run.sh lab to change)"
    # The student edition (student/: every exercise yours to write; `lstm-lab answer NAME` after trying).
    # Serve the repository root (the notebooks show figures from ../img) and open its start page.
    exec "$VENV/bin/jupyter" lab --ServerApp.root_dir="$PWD" \
      --LabApp.default_url=/lab/tree/student/00_start_here.ipynb "$@"
    ;;
  test)
    setup
    warm_matplotlib
    ensure_chromium
    setup_nbgrader_peer
    export LSTM_LAB_REQUIRE_PEERS=1  # the browser and nbgrader tests fail, not skip, without their tools
    shift
    export PYTHONHASHSEED=0
    # 1) unit tests and every notebook re-executed against its stored outputs, 2 threads
    OMP_NUM_THREADS=2 "$PY" -m pytest tests notebooks "${NBVAL[@]}" "$@"
    # 2) the notebooks once more, in a row, with 1 thread on an emulated older CPU (an AVX2 laptop):
    #    stored outputs must not depend on the thread count or on the CPU's math kernels.
    #    test_cpu_emulation.py checks that the emulation took effect in this very pass.
    env $(emulated_cpu) LSTM_LAB_CPU_EMULATION=1 OMP_NUM_THREADS=1 \
      "$PY" -m pytest tests/test_cpu_emulation.py notebooks "${NBVAL[@]}" -q -p no:cacheprovider "$@"
    ;;
  which-python)
    # the interpreter setup would create .venv with (used by tests/test_run_sh.py)
    find_python
    ;;
  lab-threads)
    # the thread count the lab would set (used by tests/test_run_sh.py)
    lab_threads
    ;;
  *)
    echo "usage: bash run.sh lab | bash run.sh test" >&2
    exit 2
    ;;
esac
