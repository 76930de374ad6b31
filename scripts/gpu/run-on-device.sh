#!/usr/bin/env bash
# Runs the prebuilt GPU bundle (artifacts/gpu-bundle, made by `dotnet cake --target=GpuBundle`) on a
# machine WITHOUT .NET: the GPU/kernel tests, then `nativenet info` and `nativenet bench`.
# Run from the repository root. Logs go to $OUT when set (the device tool brings them back),
# else to artifacts/gpu-logs.
#
# Environment knobs:
#   BUNDLE        bundle folder                      (default artifacts/gpu-bundle)
#   STEPS         which steps, space separated       (default "tests info bench")
#   TEST_FILTER   test filter (VSTest syntax)        (default "TestCategory=Gpu|TestCategory=Kernels")
#   TEST_TIMEOUT  test run timeout, e.g. 8m          (default none)
#   TEST_ARGS     extra test-app arguments           (default none)
#   BENCH_ARGS    arguments after `nativenet bench`  (default none)
#
# Exit status: non-zero when the tests failed or a step failed; every step runs regardless.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BUNDLE=${BUNDLE:-artifacts/gpu-bundle}
LOGS=${OUT:-artifacts/gpu-logs}
STEPS=${STEPS:-"tests info bench"}
TEST_FILTER=${TEST_FILTER:-"TestCategory=Gpu|TestCategory=Kernels"}
mkdir -p "$LOGS"

if [[ ! -x "$BUNDLE/tests/NativeNet.Tests" && ! -f "$BUNDLE/tests/NativeNet.Tests" ]]; then
  echo "error: no bundle at $BUNDLE; build it with: dotnet tool restore && dotnet cake --target=GpuBundle" >&2
  exit 2
fi
chmod +x "$BUNDLE/tests/NativeNet.Tests" "$BUNDLE/cli/NativeNet.Cli" 2>/dev/null || true

export DOTNET_CLI_TELEMETRY_OPTOUT=1 TESTINGPLATFORM_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1

# Make the CUDA libraries findable by NativeLibrary.Load: the driver (libcuda) is on the loader path
# already; NVRTC, cuBLAS and cuDNN may live in a CUDA toolkit or in Python wheels (nvidia/*/lib).
libdirs=()
for pattern in 'libcudnn.so*' 'libcublas.so*' 'libnvrtc.so*' 'libcublasLt.so*'; do
  while IFS= read -r f; do
    d=$(dirname "$f")
    [[ " ${libdirs[*]-} " == *" $d "* ]] || libdirs+=("$d")
  done < <(find /usr/local /usr/lib /usr/lib64 /opt /root/.local /home \
             \( -name "$pattern" \) \( -type f -o -type l \) 2>/dev/null | sort | head -n 20)
done
if ((${#libdirs[@]})); then
  export LD_LIBRARY_PATH="$(IFS=:; echo "${libdirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

{
  echo "== bundle: $(head -n 3 "$BUNDLE/BUNDLE.txt" 2>/dev/null | tr '\n' ' ')"
  echo "== host: $(uname -srm); $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi unavailable')"
  echo "== LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
} | tee "$LOGS/env.log"

status=0

if [[ " $STEPS " == *" tests "* ]]; then
  results="$LOGS/test-results"
  rm -rf "$results"
  args=(--settings "$BUNDLE/nunit.runsettings" --results-directory "$results" --no-ansi --progress off)
  [[ -n "$TEST_FILTER" ]] && args+=(--filter "$TEST_FILTER")
  [[ -n "${TEST_TIMEOUT:-}" ]] && args+=(--timeout "$TEST_TIMEOUT")
  # shellcheck disable=SC2206
  [[ -n "${TEST_ARGS:-}" ]] && args+=($TEST_ARGS)
  echo "== tests: $BUNDLE/tests/NativeNet.Tests ${args[*]}"
  "$BUNDLE/tests/NativeNet.Tests" "${args[@]}" 2>&1 | tee "$LOGS/tests.log"
  rc=${PIPESTATUS[0]}
  xml="$results/nunit/NativeNet.Tests.xml"
  if [[ -f "$xml" ]]; then
    run=$(grep -m1 -o '<test-run [^>]*>' "$xml")
    attr() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$run"; }
    passed=$(attr passed); failed=$(attr failed)
    skipped=$(( $(attr skipped) + $(attr inconclusive) + $(attr warnings) ))
  else
    passed=0; failed=1; skipped=0
    echo "error: no NUnit result file (exit code $rc): crash, timeout or bad arguments" | tee -a "$LOGS/tests.log"
  fi
  # rc 8 = no test matched the filter: not a failure here (the bundle may hold no GPU tests yet).
  if [[ $rc -ne 0 && $rc -ne 8 ]] || [[ ${failed:-1} -ne 0 ]]; then status=1; fi
  echo "$passed passed, $failed failed, $skipped skipped" | tee "$LOGS/test-summary.txt"
fi

if [[ " $STEPS " == *" info "* ]]; then
  echo "== nativenet info"
  "$BUNDLE/cli/NativeNet.Cli" info 2>&1 | tee "$LOGS/info.log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
fi

if [[ " $STEPS " == *" bench "* ]]; then
  # shellcheck disable=SC2086
  echo "== nativenet bench ${BENCH_ARGS:-}"
  # shellcheck disable=SC2086
  "$BUNDLE/cli/NativeNet.Cli" bench ${BENCH_ARGS:-} 2>&1 | tee "$LOGS/bench.log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
fi

echo "== logs in $LOGS; exit status $status"
exit $status
