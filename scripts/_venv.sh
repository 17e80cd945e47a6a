# Sourced by scripts/up and scripts/test: create or reuse .venv at the repository root with a
# Python 3.11+ and install the project into it (extras in $HYPERKUBE_EXTRAS, e.g. "[dev]").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "hyperkube needs Python 3.11 or newer; none found (set PYTHON=/path/to/python3.11)" >&2
  return 1
}
if [ ! -x .venv/bin/python ]; then
  "$(find_python)" -m venv .venv
fi
stamp=".venv/.installed${HYPERKUBE_EXTRAS:-}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing hyperkube${HYPERKUBE_EXTRAS:-} into .venv" >&2
  log=.venv/install.log
  if ! { .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip &&
         .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${HYPERKUBE_EXTRAS:-}"; } >"$log" 2>&1; then
    grep -v '^WARNING: Location' "$log" >&2
    echo "installing hyperkube into .venv failed (full log: $log)" >&2
    exit 1
  fi
  .venv/bin/python -c 'import hyperkube' && touch "$stamp"
fi
