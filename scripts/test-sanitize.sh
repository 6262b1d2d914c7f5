#!/usr/bin/env bash
# npm run test:sanitize [vitest args...]: builds the addon with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs the test suite on it; fails on any sanitizer report.
#
# Node itself is not instrumented, so the run uses a copy of this Node that loads the sanitizer
# runtimes first (patchelf --add-needed; Debian's patchelf package), first on PATH: every Node
# process of the run, the test workers and the Node children they start, is that copy, while the
# other programs the tests run stay as they are (LD_PRELOAD would reach them too, and `ps` hangs
# under ASan). Leak detection is off: Node frees little at exit by design. The child side of the
# spawn (native/spawn_child.cc and what it calls) runs on a stack ASan does not know and is
# excluded from instrumentation (POSIX_PROCESS_CHILD_SIDE). The normal build in build/ is put
# back afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v patchelf >/dev/null; then
  echo "test:sanitize needs patchelf (apt-get install patchelf)" >&2
  exit 1
fi

saved=""
if [ -d build ]; then
  saved=$(mktemp -d "${TMPDIR:-/tmp}/posix-process-build.XXXXXX")
  mv build "$saved/build"
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/posix-process-sanitize.XXXXXX")
chmod 0755 "$scratch" # tests run some Node processes as nobody
mkdir -m 0777 "$scratch/logs"
mkdir "$scratch/bin"
restore() {
  rm -rf build "$scratch"
  if [ -n "$saved" ]; then mv "$saved/build" build && rmdir "$saved"; fi
}
trap restore EXIT

cp "$(command -v node)" "$scratch/bin/node"
soname() { readelf -d "$(g++ -print-file-name="$1")" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
patchelf --add-needed "$(soname libubsan.so)" --add-needed "$(soname libasan.so)" "$scratch/bin/node"

flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
CFLAGS="$flags" CXXFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
  npx node-gyp rebuild -j 2 >/dev/null
# A run that passes must have run instrumented code.
# (Read whole: with pipefail, grep -q ending the pipe early would fail nm with SIGPIPE.)
symbols=$(nm -D --undefined-only build/Release/posix_process.node)
if [[ "$symbols" != *__asan_init* ]]; then
  echo "test:sanitize: the addon was built without AddressSanitizer" >&2
  exit 1
fi

status=0
env PATH="$scratch/bin:$PATH" \
  ASAN_OPTIONS="detect_leaks=0:log_path=$scratch/logs/asan:allow_user_segv_handler=1:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0" \
  UBSAN_OPTIONS="print_stacktrace=1:log_path=$scratch/logs/ubsan" \
  node scripts/contain.mjs vitest run "$@" || status=$?

reports=$(find "$scratch/logs" -type f | sort)
if [ -n "$reports" ]; then
  echo "sanitizer reports:" >&2
  for report in $reports; do
    echo "--- $report" >&2
    cat "$report" >&2
  done
  status=1
fi
exit "$status"
