#!/usr/bin/env bash
# Install mistvla and everything it needs, non-interactively and idempotently.
#
#   bash scripts/install.sh          # runtime: LIBERO + policies (OpenVLA, SmolVLA)
#   bash scripts/install.sh --test   # the same plus the test tools
#
# The virtual environment lives outside the clone, keyed by the dependency set
# (pyproject.toml, scripts/requirements-libero.txt, the Python version), and
# `.venv` in the clone links to it. A second run with the same set reuses it.
# Clones that share one environment import mistvla from the clone that ran
# this script last (an editable install): run it again after switching clones,
# or give each clone its own MISTVLA_VENV_ROOT.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument '$arg' (use --test or nothing)" >&2; exit 2 ;;
  esac
done

python=${MISTVLA_PYTHON:-python3.11}
command -v "$python" >/dev/null || { echo "install.sh: $python not found; mistvla needs Python 3.11" >&2; exit 1; }

# 1. Headless OpenGL (EGL, Mesa) for MuJoCo's offscreen renderer.
if ! ldconfig -p 2>/dev/null | grep -q 'libEGL_mesa'; then
  if command -v apt-get >/dev/null; then
    sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    echo "install.sh: installing Mesa EGL (libegl1 libegl-mesa0 libgl1-mesa-dri)"
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri >/dev/null
  else
    echo "install.sh: warning: no Mesa EGL found and no apt-get; rendering will fail (rendering-off use works)" >&2
  fi
fi

# 1b. The test path renders the HTML report in a real headless browser: Debian's chromium.
if [ "$want_test" = 1 ] && ! command -v chromium >/dev/null; then
  if command -v apt-get >/dev/null; then
    sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    echo "install.sh: installing chromium (headless browser for the report tests)"
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "install.sh: warning: no chromium and no apt-get; the browser tests will fail" >&2
  fi
fi

# 2. The virtual environment, keyed by the dependency set.
# Only what decides the installed packages goes into the key, so editing code or
# docs (or pyproject's tool sections) reuses the environment.
deps=$("$python" -c 'import tomllib, json; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(json.dumps([p["dependencies"], p["optional-dependencies"]], sort_keys=True))')
key=$( (echo "$deps"; cat scripts/requirements-libero.txt; "$python" --version; echo "test=$want_test") | sha256sum | cut -c1-16)
venv_root=${MISTVLA_VENV_ROOT:-$HOME/.cache/mistvla/venvs}
venv="$venv_root/$key"
if [ ! -f "$venv/.mistvla-complete" ]; then
  echo "install.sh: building $venv (a few minutes the first time)"
  rm -rf "$venv"
  mkdir -p "$venv_root"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  extras="all"; [ "$want_test" = 1 ] && extras="all,test"
  # Dependencies first (no project code yet), then LIBERO without its deps.
  "$venv/bin/python" -m pip install -q --progress-bar off ".[$extras]"
  "$venv/bin/python" -m pip uninstall -q -y mistvla
  "$venv/bin/python" -m pip install -q --progress-bar off --no-deps -r scripts/requirements-libero.txt
  # robosuite warns on every import until a private macros file exists.
  site=$("$venv/bin/python" -c 'import robosuite, os; print(os.path.dirname(robosuite.__file__))' 2>/dev/null)
  [ -f "$site/macros_private.py" ] || cp "$site/macros.py" "$site/macros_private.py"
  touch "$venv/.mistvla-complete"
fi
# The project itself, editable, from this clone (cheap; re-pointed on every run).
"$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$repo"
ln -sfn "$venv" "$repo/.venv"

# 3. LIBERO's config in a mistvla-owned place (never LIBERO's interactive question).
"$repo/.venv/bin/python" -c 'from mistvla.harness.envs.setup import ensure_libero; ensure_libero()'
echo "install.sh: ready ($repo/.venv -> $venv)"
