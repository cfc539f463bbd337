#!/usr/bin/env bash
# `npm run native:install`: gives this machine the native TensorFlow backend (TF_BACKEND=tensorflow,
# picked by TF_BACKEND=auto), in .native/ beside node_modules/, where a later `npm install` does not
# touch it (docs/operations.md#the-native-tensorflow-backend).
#
#   .native/node_modules/@tensorflow/tfjs-node   the package, its binding built here with
#                                                 -Wl,-z,nodelete, libtensorflow in its deps/lib
#   .native/installed.json                       what was built, from what
#
# libtensorflow comes from tfjs-node's own download (storage.googleapis.com, libtensorflow 2.9.1)
# where that is reachable (tried, time-boxed), else from the tensorflow-cpu wheel of the configured
# pip index (its TF C API: libtensorflow_cc.so.2, libtensorflow_framework.so.2 and the C headers,
# stripped, cached in ~/.cache/docbatch-native so that a second clone builds in a minute). The
# binding is always compiled here: tfjs-node's prebuilt one lacks `nodelete`, and Node would unload
# it when the last worker thread that loaded it ends (a crash at exit).
#
# Options: --gpu (tfjs-node-gpu against the CUDA-enabled `tensorflow` wheel), --offline or --pip
# (skip the download attempt: libtensorflow from the pip index), --force (rebuild). Environment: NATIVE_TF_VERSION (wheel version, default
# 2.21.0), NATIVE_DOWNLOAD_TIMEOUT_S (default 300), DOCBATCH_NATIVE_CACHE (cache directory).
# Exit 0 when the backend loads; otherwise one line saying why (wasm stays in use) and exit 3 when
# no libtensorflow source is reachable (neither download nor pip index), 1 for any other failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NATIVE=$ROOT/.native
LOG=$NATIVE/install.log

gpu=0 offline=0 force=0
for arg in "$@"; do
  case $arg in
    --gpu) gpu=1 ;;
    --offline | --pip) offline=1 ;;
    --force) force=1 ;;
    *) echo "native:install: unknown option $arg (use --gpu, --offline, --pip, --force)" >&2; exit 2 ;;
  esac
done

if ((gpu)); then PKG=@tensorflow/tfjs-node-gpu WHEEL=tensorflow LIBTYPE=gpu; else
  PKG=@tensorflow/tfjs-node WHEEL=tensorflow-cpu LIBTYPE=cpu; fi
TF_VERSION=${NATIVE_TF_VERSION:-2.21.0}
CACHE=${DOCBATCH_NATIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docbatch-native}/$WHEEL-$TF_VERSION
PKGDIR=$NATIVE/node_modules/$PKG
started=$(date +%s)

fail() { echo "native:install: $*; the wasm backend stays in use (log: ${LOG#"$ROOT"/})" >&2; exit 1; }
unreachable() { echo "native:install: $*; the wasm backend stays in use (log: ${LOG#"$ROOT"/})" >&2; exit 3; }
step() { echo "native:install: $*"; echo "== $*" >>"$LOG"; }

# The version the project's @tensorflow/tfjs must have: tfjs-node requires exactly its own, and it
# resolves @tensorflow/tfjs to the project's copy (one tfjs-core, one kernel registry).
want=$(node -p "require('./package.json').peerDependencies['$PKG']") || exit 1
have=$(node -p "require('@tensorflow/tfjs/package.json').version" 2>/dev/null) ||
  { echo "native:install: run npm install first (@tensorflow/tfjs is not in node_modules)" >&2; exit 1; }

# The exact check backend.ts makes: the package loads from .native, registers `tensorflow`, runs a matmul.
check() {
  node -e "
    const path = require('path');
    const tf = require('@tensorflow/tfjs');
    const dir = path.join('$NATIVE', 'node_modules', '$PKG');
    const core = require.resolve('@tensorflow/tfjs-core', { paths: [dir] });
    if (core !== require.resolve('@tensorflow/tfjs-core')) throw new Error('a second tfjs-core at ' + core);
    require(dir);
    tf.setBackend('tensorflow').then(() => {
      const y = tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync()[0];
      if (tf.getBackend() !== 'tensorflow' || y !== 64) throw new Error('tensorflow backend does not compute');
    });" >>"$LOG" 2>&1
}

if ((!force)) && [ -f "$NATIVE/installed.json" ]; then
  if [ "$(node -p "require('$NATIVE/installed.json').version" 2>/dev/null)" = "$want" ] && check; then
    echo "native:install: already installed ($(node -p "require('$NATIVE/installed.json').summary")); --force rebuilds"
    exit 0
  fi
  echo "native:install: .native/ is there but does not load; rebuilding"
fi

[ "$have" = "$want" ] ||
  fail "the project's @tensorflow/tfjs is $have but $PKG $want needs exactly $want (update both together)"
for tool in python3 make g++; do
  command -v $tool >/dev/null || fail "$tool is needed to build the binding (apt-get install python3 make g++)"
done

rm -rf "$NATIVE"
mkdir -p "$NATIVE"
: >"$LOG"
cat >"$NATIVE/package.json" <<EOF
{
  "name": "docbatch-native",
  "private": true,
  "description": "The native TensorFlow backend of docbatch (scripts/native-install.sh); not managed by the project's npm install",
  "dependencies": { "$PKG": "$want" }
}
EOF

step "fetching $PKG $want from the npm registry (install scripts off: they download libtensorflow)"
npm install --prefix "$NATIVE" --ignore-scripts --no-audit --no-fund --loglevel=error >>"$LOG" 2>&1 ||
  fail "could not install $PKG@$want from the npm registry"
# Its own @tensorflow/tfjs (and tfjs-core, ...) would be a second engine and kernel registry: remove
# them, so that its require('@tensorflow/tfjs') resolves to the project's node_modules.
for dir in "$NATIVE"/node_modules/@tensorflow/*; do
  [ "$dir" = "$PKGDIR" ] || rm -rf "$dir"
done

# libtensorflow, way 1: tfjs-node's own download (libtensorflow + its prebuilt binding, rebuilt below).
source=
if ((!offline)); then
  step "trying tfjs-node's libtensorflow download (at most ${NATIVE_DOWNLOAD_TIMEOUT_S:-300} s)"
  if (cd "$PKGDIR" && PATH=$NATIVE/node_modules/.bin:$PATH timeout "${NATIVE_DOWNLOAD_TIMEOUT_S:-300}" \
    node scripts/install.js $LIBTYPE download) >>"$LOG" 2>&1 && ls "$PKGDIR"/deps/lib/libtensorflow.so* >/dev/null 2>&1; then
    lib=$(node -p "require('$PKGDIR/scripts/deps-constants.js').LIBTENSORFLOW_VERSION")
    source="libtensorflow $lib ($LIBTYPE, downloaded by tfjs-node's install script)"
  else
    echo "native:install: download not reachable; building against the $WHEEL wheel of the pip index"
    rm -rf "$PKGDIR/deps" "$PKGDIR/lib"
  fi
fi

# libtensorflow, way 2: the TF C API inside the tensorflow wheel of the configured pip index.
if [ -z "$source" ]; then
  if [ ! -f "$CACHE/lib/libtensorflow_cc.so.2" ]; then
    command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1 ||
      unreachable "tfjs-node's download failed and there is no pip (python3 -m pip) to fetch the $WHEEL wheel"
    # Without an index-url of its own, pip tries pypi.org first (for minutes where it is unreachable):
    # a configured extra index then becomes the index.
    pipargs=(--no-deps --only-binary=:all: --retries 1 --timeout 20)
    index=${PIP_INDEX_URL:-$(python3 -m pip config get global.index-url 2>/dev/null)}
    extra=${PIP_EXTRA_INDEX_URL:-$(python3 -m pip config get global.extra-index-url 2>/dev/null)}
    if [ -z "$index" ] && [ -n "$extra" ]; then
      read -r -a urls <<<"$extra"
      pipargs+=(--index-url "${urls[0]}")
      for u in "${urls[@]:1}"; do pipargs+=(--extra-index-url "$u"); done
    fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    step "fetching the $WHEEL==$TF_VERSION wheel from the pip index"
    timeout 900 python3 -m pip download "${pipargs[@]}" -d "$tmp/wheel" "$WHEEL==$TF_VERSION" >>"$LOG" 2>&1 ||
      unreachable "neither tfjs-node's libtensorflow download nor a $WHEEL==$TF_VERSION wheel from the pip index is reachable"
    step "extracting and stripping the TF C API (libtensorflow_cc, libtensorflow_framework, C headers)"
    python3 - "$tmp"/wheel/*.whl "$tmp/x" >>"$LOG" 2>&1 <<'EOF' || fail "the $WHEEL wheel has no TF C API (libtensorflow_cc.so.2)"
import re, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
want = re.compile(r'^tensorflow/(libtensorflow_cc\.so\.2|libtensorflow_framework\.so\.2|include/(tensorflow/c/.*\.h|xla/tsl/c/.*\.h|tsl/platform/ctstring.*\.h|tensorflow/core/platform/ctstring.*\.h))$')
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if want.match(n)]
    if not any(n.endswith('libtensorflow_cc.so.2') for n in names):
        sys.exit('no libtensorflow_cc.so.2 in ' + wheel)
    for n in names:
        z.extract(n, out)
print(len(names), 'files')
EOF
    mkdir -p "$(dirname "$CACHE")"
    rm -rf "$CACHE.partial"
    mkdir -p "$CACHE.partial/lib"
    for so in libtensorflow_cc.so.2 libtensorflow_framework.so.2; do
      strip --strip-unneeded -o "$CACHE.partial/lib/$so" "$tmp/x/tensorflow/$so" >>"$LOG" 2>&1 ||
        cp "$tmp/x/tensorflow/$so" "$CACHE.partial/lib/$so"
    done
    mv "$tmp/x/tensorflow/include" "$CACHE.partial/include"
    rm -rf "$CACHE" && mv "$CACHE.partial" "$CACHE"
    rm -rf "$tmp"
  else
    step "using the cached TF C API of $WHEEL $TF_VERSION (${CACHE/#$HOME/\~})"
  fi
  mkdir -p "$PKGDIR/deps/lib"
  for so in libtensorflow_cc.so.2 libtensorflow_framework.so.2; do
    ln -f "$CACHE/lib/$so" "$PKGDIR/deps/lib/$so" 2>/dev/null || cp "$CACHE/lib/$so" "$PKGDIR/deps/lib/$so"
  done
  # binding.gyp links -ltensorflow -ltensorflow_framework; the binding then needs the sonames above.
  ln -sf libtensorflow_cc.so.2 "$PKGDIR/deps/lib/libtensorflow.so"
  ln -sf libtensorflow_framework.so.2 "$PKGDIR/deps/lib/libtensorflow_framework.so"
  cp -r "$CACHE/include" "$PKGDIR/deps/include"
  source="libtensorflow $TF_VERSION (TF C API of the $WHEEL pip wheel)"
fi

# The binding: where tfjs-node's loader (node-pre-gyp) looks for it, linked with -z nodelete.
binding=$(cd "$PKGDIR" && node -p "require('@mapbox/node-pre-gyp').find(require('path').resolve('package.json'))") ||
  fail "cannot locate $PKG's binding path"
napi=$(basename "$(dirname "$binding")"); napi=${napi#napi-v}
gyp=${npm_config_node_gyp:-$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js}
[ -f "$gyp" ] || fail "node-gyp not found (npm's own copy, $gyp)"
nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
gypargs=()
# Node's headers ship with the distribution packages: then node-gyp needs no download.
[ -f "$nodedir/include/node/node_api.h" ] && gypargs+=(--nodedir="$nodedir")
step "compiling the N-API binding (napi $napi, -Wl,-z,nodelete; about a minute)"
rm -rf "$PKGDIR/lib" "$PKGDIR/build"
(cd "$PKGDIR" && LDFLAGS="-Wl,-z,nodelete" node "$gyp" rebuild "${gypargs[@]}" --jobs="$(nproc)" \
  --module_name=tfjs_binding --module_path="$(dirname "$binding")" --napi_build_version="$napi") >>"$LOG" 2>&1 ||
  fail "compiling the binding failed"
[ -f "$binding" ] || fail "the build wrote no $binding"
readelf -d "$binding" | grep -q NODELETE || fail "the binding was linked without -z nodelete"
rm -rf "$PKGDIR/build"

check || fail "the built binding does not load or compute"
size=$(du -sm "$NATIVE" | cut -f1)
summary="$PKG $want, $source, ${size} MB"
node -e "
  require('fs').writeFileSync('$NATIVE/installed.json', JSON.stringify({
    package: '$PKG', version: '$want', libtensorflow: '$source', binding: '${binding#"$ROOT"/}',
    linked: '-Wl,-z,nodelete', node: process.version, built_at: new Date().toISOString(),
    summary: '$summary',
  }, null, 2) + '\n');"
echo "native:install: done in $(($(date +%s) - started)) s: $summary; TF_BACKEND=auto now picks it"
