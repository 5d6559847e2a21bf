#!/usr/bin/env bash
# lstm_lab's two commands. Each one sets everything up first (a virtual environment in .venv
# with the pinned packages, and for the tests the system Chromium the browser test drives).
#
#   bash run.sh lab     open the course's student edition (student/) in JupyterLab
#   bash run.sh test    run every test: unit tests and every notebook (nbval) on this CPU, then the
#                       notebooks again on an emulated AVX2 CPU, each pass on parallel workers; both
#                       passes always run, and a table says how long each stage took
set -euo pipefail
cd "$(dirname "$0")"

VENV=${LSTM_LAB_VENV:-.venv}  # another place for the environment: LSTM_LAB_VENV=DIR
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
PY="$VENV/bin/python"
TORCH=2.13.0
# PyTorch's own index of CPU-only wheels: what its install selector gives for "Linux, pip, CPU".
# PyPI's Linux x86-64 torch is the CUDA build (about 2.8 GB with its CUDA libraries).
TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu

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
          echo "using Python ${version#cpython } ($(command -v "$candidate")); CI verifies $VERIFIED_PYTHON" >&2
        fi
        echo "$candidate"; return 0 ;;
    esac
  done
  echo "lstm_lab needs CPython $ACCEPTED_PYTHONS (the versions torch $TORCH has wheels for);" \
       "found:${found:- no python on PATH}" >&2
  return 1
}

pip_in() {
  # pip of the environment whose python is $1; it warns once per package about optional local indexes
  # that do not exist: keep only real errors.
  local python=$1; shift
  "$python" -m pip --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}

torch_source() {
  # Where torch comes from, as pip arguments after `install`; nothing printed: torch is there already.
  #  - pip's own configuration (find-links, a local index, as on CI's machines) has torch $TORCH: use it,
  #    and ask no other index (CI's machines cannot reach one, and must not wait for it);
  #  - Linux x86-64 otherwise: PyTorch's CPU wheel index, as its install selector says (about 200 MB);
  #  - macOS, Windows, Linux on ARM: PyPI's wheels, which are CPU builds there.
  local python=$1
  if "$python" -c "import importlib.metadata as m, sys; sys.exit(m.version('torch').split('+')[0] != '$TORCH')" \
       2>/dev/null; then
    return 0
  fi
  if pip_in "$python" install --dry-run --no-index --no-deps -q "torch==$TORCH" >/dev/null 2>&1; then
    echo "torch==$TORCH"
  elif [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ]; then
    echo "torch==$TORCH --index-url $TORCH_CPU_INDEX"
  else
    echo "torch==$TORCH"
  fi
}

install_torch() {
  local python=$1 args
  args=$(torch_source "$python")
  [ -n "$args" ] || return 0
  case "$args" in
    *--index-url*) echo "installing torch $TORCH, CPU build, from PyTorch's CPU wheel index ($TORCH_CPU_INDEX) ..." ;;
  esac
  # torch first, pinned exactly: an open range would pull a multi-GB CUDA build.
  # shellcheck disable=SC2086  # $args is a list of pip arguments
  pip_in "$python" install -q $args
}

setup() {
  # $1: the extra to install with the package ("" for the course, "test" for the test tools).
  local extra=${1:-} stamp="$VENV/.lstm_lab-installed" want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ -x "$PY" ] && [ -f "$stamp" ] && grep -qx "$want ${extra:-course}" "$stamp"; then
    return 0
  fi
  echo "setting up $VENV${extra:+ with the $extra tools} (one time; a few minutes) ..."
  if [ ! -x "$PY" ]; then
    local python; python=$(find_python)
    "$python" -m venv "$VENV"
  fi
  install_torch "$PY"
  pip_in "$PY" install -q -e ".${extra:+[$extra]}"
  # what is installed for this pyproject.toml: the course always, the test tools when asked for
  { echo "$want course"; [ -z "$extra" ] || echo "$want $extra"; } > "$stamp"
}

ensure_debian_package() {
  # ensure_debian_package PACKAGE PROGRAM WHAT: install Debian's PACKAGE (as root) unless PROGRAM is there
  local package=$1 program=$2 what=$3
  if command -v "$program" >/dev/null; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's $package for $what ..."
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
  else
    echo "$what needs $program: run 'sudo apt-get install -y $package' once" >&2
    return 1
  fi
}

setup_nbgrader_peer() {
  # nbgrader is the instructors' optional peer: the tests compare our student versions and grades with
  # its own. It lives in its own environment so the course's JupyterLab stays free of its menus, and that
  # environment must import lstm_lab and torch: without them nbgrader grades every student 0, silently.
  # It does not copy torch a second time: a .pth file adds .venv's packages after its own (site.addsitedir,
  # which also runs .venv's .pth files, so the editable lstm_lab is found), so it takes torch, lstm_lab and
  # everything nbgrader does not pin itself from .venv.
  local peer="$VENV-nbgrader"  # beside .venv
  local shared; shared=$("$PY" -c "import sysconfig; print(sysconfig.get_path('purelib'))")
  local line="import site; site.addsitedir('$shared')"
  # checked from another folder: the kernel nbgrader starts does not run in the repository
  if [ ! -x "$peer/bin/nbgrader" ] || ! (cd / && "$peer/bin/python" -c "import lstm_lab, torch") 2>/dev/null \
       || ! grep -qxF "$line" "$peer"/lib/python*/site-packages/lstm_lab_shared.pth 2>/dev/null; then
    echo "setting up $peer (nbgrader, sharing .venv's torch and lstm_lab, for the grading tests) ..."
    rm -rf "$peer"
    local python; python=$(find_python 2>/dev/null)
    "$python" -m venv "$peer"
    echo "$line" > "$("$peer/bin/python" -c "import sysconfig; print(sysconfig.get_path('purelib'))")/lstm_lab_shared.pth"
    pip_in "$peer/bin/python" install -q "nbgrader==0.9.6"
  fi
  if ! (cd / && "$peer/bin/python" -c "import lstm_lab, torch"); then
    echo "$peer cannot import lstm_lab and torch: nbgrader would grade every student 0. Remove $peer and rerun." >&2
    return 1
  fi
  export LSTM_LAB_NBGRADER="$peer/bin/nbgrader"
}

NBVAL=(--nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg)

# matplotlib's font cache, one per environment. The shared one in ~/.cache/matplotlib lists font files
# by path, so it can name the fonts of another, since deleted, environment (then every figure falls back
# to other fonts, with a warning per cell); and its first build prints to stderr inside a notebook cell,
# which nbval counts as output. So: a cache of this environment's own, built before anything runs.
export MPLCONFIGDIR="$VENV/matplotlib"
warm_matplotlib() { "$PY" -c "import matplotlib.font_manager" >/dev/null 2>&1 || true; }

lab_threads() {
  # torch's threads for the lab, unless the user set OMP_NUM_THREADS. The course's tensors are small:
  # a second thread buys little on a quiet machine and costs 3-15x when another program holds a core
  # (threads wait for each other). So half the cores, at least 1 and at most 4.
  local cores; cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
  local threads=$(( cores / 2 )); [ "$threads" -ge 1 ] || threads=1; [ "$threads" -le 4 ] || threads=4
  echo "${OMP_NUM_THREADS:-$threads}"
}

test_workers() {
  # parallel test workers: one per core, at most 8
  local cores; cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
  [ "$cores" -ge 1 ] || cores=1; [ "$cores" -le 8 ] || cores=8
  echo "$cores"
}

test_paths() {
  # Every test file and notebook ($1 = all), or every notebook ($1 = notebooks), the longest first: each
  # pass's workers take files in this order (--no-loadscope-reorder), so no worker is left with a long one
  # at the end while the other waits. The longest were measured; the rest follow in name order.
  local longest="tests/test_student_edition.py notebooks/13_language_model.ipynb tests/test_nbgrader_peer.py
                 notebooks/14_seq2seq_attention.ipynb tests/test_grade.py notebooks/11_training.ipynb
                 tests/test_course_assignable.py tests/test_browser.py tests/test_installed.py" seen=" " path
  for path in $longest tests/test_*.py notebooks/*.ipynb notebooks/*/*.ipynb; do
    [ -e "$path" ] || continue
    case "$1:$path" in notebooks:tests/*) continue ;; esac
    case "$seen" in *" $path "*) continue ;; esac  # the longest, listed again in name order
    seen="$seen$path "
    echo "$path"
  done
}

emulated_cpu() {
  # KEY=VALUE words from tests/emulated_cpu.env, on x86-64 only (the variables name x86 kernels).
  case "$(uname -m)" in x86_64|amd64) grep -v '^#' tests/emulated_cpu.env | xargs ;; esac
}

# ---------------------------------------------------------------- the test command's stages and their times
STAGES=()
begin() { STAGE=$1; STAGE_START=$SECONDS; echo "== $1"; }
end() {  # end RESULT: the stage begun last took this long and ended so
  STAGES+=("$(printf '%-52s %5d s   %s' "$STAGE" $((SECONDS - STAGE_START)) "$1")")
}

pytest_pass() {
  # pytest_pass LOG [VAR=VALUE...] COMMAND...: run it (through env) with its output shown and kept in LOG,
  # so that its summary line can be repeated at the end.
  local log=$1; shift
  env "$@" 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}

summary() {
  # the last line of a pytest log: "=== 1618 passed in 300.00s ===" or what went wrong
  local line; line=$(grep -E '(passed|failed|errors?|deselected|skipped|no tests ran).* in [0-9.]+s' "$1" | tail -1)
  echo "${line:-no summary (pytest did not finish; see above)}"
}

case "${1:-}" in
  lab)
    setup
    warm_matplotlib
    shift
    OMP_NUM_THREADS=$(lab_threads); export OMP_NUM_THREADS MKL_NUM_THREADS=$OMP_NUM_THREADS
    echo "torch uses $OMP_NUM_THREADS thread(s) (OMP_NUM_THREADS=N bash run.sh lab to change)"
    root=()
    if [ "$(id -u)" = 0 ]; then
      # Containers and course VMs often run everything as root; JupyterLab refuses root unless told.
      echo "running as root (a container?): starting JupyterLab with --allow-root"
      root=(--allow-root)
    fi
    # The student edition (student/: every exercise yours to write; `lstm-lab answer NAME` after trying).
    # Serve the repository root (the notebooks show figures from ../img) and open its start page.
    exec "$VENV/bin/jupyter" lab --ServerApp.root_dir="$PWD" \
      --LabApp.default_url=/lab/tree/student/00_start_here.ipynb ${root[@]+"${root[@]}"} "$@"
    ;;
  test)
    shift
    LOGS=$(mktemp -d)
    trap 'rm -rf "$LOGS"' EXIT
    # A set-up step that fails stops here (set -e); a test pass that fails does not stop the other.
    begin "set up .venv (the course and its test tools)"; setup test; warm_matplotlib; end ok
    begin "Chromium for the browser test"; ensure_debian_package chromium /usr/bin/chromium "the browser test"; end ok
    # lstm-lab grade runs each submission in a bubblewrap sandbox (its tests plant submissions that try to escape)
    begin "bubblewrap for the grading sandbox"; ensure_debian_package bubblewrap bwrap "the grading sandbox"; end ok
    begin "set up .venv-nbgrader (shares .venv's torch)"; setup_nbgrader_peer; end ok
    export LSTM_LAB_REQUIRE_PEERS=1  # the browser and nbgrader tests fail, not skip, without their tools
    export PYTHONHASHSEED=0
    failed=0
    # Each pass runs on parallel workers, one per core, each with one thread: two threads per worker on two
    # cores would make torch's threads wait for each other (3-15x slower). A notebook's cells stay on one
    # worker, in order, in one kernel (--dist loadfile). That numbers do not depend on the thread count is
    # tested directly (tests/test_threads.py: 1 against 2 threads).
    workers=$(test_workers)
    # 1) unit tests and every notebook re-executed against its stored outputs, on this machine's CPU
    begin "pass 1: tests and notebooks, native CPU"
    if pytest_pass "$LOGS/pass1" OMP_NUM_THREADS=1 \
         "$PY" -m pytest -n "$workers" --dist loadfile --no-loadscope-reorder $(test_paths all) \
         "${NBVAL[@]}" "$@"
    then end ok; else end "FAILED"; failed=1; fi
    # 2) the notebooks once more on an emulated older CPU (an AVX2 laptop): stored outputs must not depend
    #    on the CPU's math kernels. test_cpu_emulation.py checks that the emulation took effect in this pass.
    begin "pass 2: notebooks, emulated AVX2 CPU"
    # shellcheck disable=SC2046  # emulated_cpu prints KEY=VALUE words
    if pytest_pass "$LOGS/pass2" $(emulated_cpu) LSTM_LAB_CPU_EMULATION=1 OMP_NUM_THREADS=1 \
         "$PY" -m pytest -n "$workers" --dist loadfile --no-loadscope-reorder $(test_paths notebooks) \
         tests/test_cpu_emulation.py "${NBVAL[@]}" -q -p no:cacheprovider "$@"
    then end ok; else end "FAILED"; failed=1; fi
    echo
    echo "pass 1: $(summary "$LOGS/pass1")"
    echo "pass 2: $(summary "$LOGS/pass2")"
    echo
    printf '%-52s %7s   %s\n' "stage" "time" "result"
    printf '%s\n' "${STAGES[@]}"
    printf '%-52s %5d s\n' "total" "$SECONDS"
    exit $failed
    ;;
  which-python)
    # the interpreter setup would create .venv with (used by tests/test_run_sh.py)
    find_python
    ;;
  lab-threads)
    # the thread count the lab would set (used by tests/test_run_sh.py)
    lab_threads
    ;;
  install-torch)
    # only the torch step of the set-up, into $VENV (used by tests/test_run_sh.py with a stand-in pip)
    install_torch "$PY"
    ;;
  *)
    echo "usage: bash run.sh lab | bash run.sh test" >&2
    exit 2
    ;;
esac
