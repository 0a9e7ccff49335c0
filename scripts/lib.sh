# Shared set-up for scripts/demo, scripts/test and scripts/bench. Source it; do not run it.
# Creates .venv (Python >= 3.11) and installs arkeep with the pinned set from constraints.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# shell_quote WORD...  the words as one command line a POSIX shell reads back as the same words
# (single quotes only where a word needs them), for echoing commands a reader can copy and paste.
shell_quote() {
  local out=() word
  for word in "$@"; do
    if [[ -n $word && $word =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
      out+=("$word")
    else
      out+=("'${word//\'/\'\\\'\'}'")
    fi
  done
  printf '%s\n' "${out[*]}"
}

# quietly LOG CMD...  runs CMD with its output in LOG, shown only when CMD fails (pip's notices
# and warnings are noise on a run that works).
quietly() {
  local log=$1; shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
}

pick_python() {
  for py in python3.13 python3.12 python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "arkeep needs Python 3.11 or newer; none found on PATH" >&2
  return 1
}

# ensure_venv [EXTRAS]  e.g. ensure_venv test
ensure_venv() {
  local extras=${1:-}
  local stamp="$VENV/.arkeep-installed${extras:+-$extras}"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$(pick_python)" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ "$ROOT/constraints.txt" -nt "$stamp" ]; then
    say "installing arkeep${extras:+[$extras]} with the pinned versions in constraints.txt"
    local log="$VENV/pip-install.log"
    quietly "$log" "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    quietly "$log" "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
      -c "$ROOT/constraints.txt" -e "$ROOT${extras:+[$extras]}"
    quietly "$log" "$VENV/bin/python" -m pip check
    touch "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

# ensure_debs PKG:CMD ...  installs each Debian package whose command is missing.
ensure_debs() {
  local missing=() spec pkg cmd
  for spec in "$@"; do
    pkg=${spec%%:*}; cmd=${spec#*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; }
}
