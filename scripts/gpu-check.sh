#!/usr/bin/env bash
# GPU check of the webgpu backend, for a machine with a real GPU and its Vulkan driver (NVIDIA, AMD, Intel). Run it
# from a checkout with `npm ci` done (which installs the optional dependency webgpu, Dawn's Node bindings):
#
#   scripts/gpu-check.sh                    # adapter, parity tests, bench step: about 5 minutes (see below)
#   scripts/gpu-check.sh --full             # also cifar-ddpm on wasm: each step takes minutes on one CPU core
#   scripts/gpu-check.sh --adapter-only     # only step 1: which adapter does a webgpu worker get here?
#   scripts/gpu-check.sh --allow-software   # go on with a software adapter (lavapipe): tries the script, not a GPU
#
# 1. Adapter: prints the WebGPU adapter Dawn gives `--backend webgpu` (high-performance preference, as the backend
#    asks) and `vulkaninfo --summary`'s devices when vulkaninfo is installed. Stops with exit status 2 when there is
#    no adapter, or when it is a software one (Mesa's lavapipe/llvmpipe, SwiftShader): this check is about a GPU.
# 2. Parity: the tests matched by PARITY_TESTS, at full size (PARITY_ENV), through ava.
# 3. Speed: `npx ddpm bench step` for each entry of WEBGPU_BENCHES on webgpu and of WASM_BENCHES on wasm, for a
#    comparison on the same machine. The default set is cut to fit about 5 minutes: cifar-ddpm on wasm (minutes per
#    step on one core; a cold batch-1 step took 42.6 s, docs/performance.md) runs only with --full, and is recorded
#    as skipped otherwise. On the GPU, the four webgpu runs should take well under a minute each (not measured yet).
# 4. Prints ONE JSON line on stdout, last: adapter, parity, every bench run (its JSON line or its error), webgpu/wasm
#    throughput ratios and the list of errors. Progress goes to stderr; each step's output stays in the log
#    directory (runs/gpu-check-<time>/, DDPM_GPU_CHECK_LOG_DIR), with the summary in summary.json.
#
# A step that fails (non-zero exit, over its time limit, no JSON line) is recorded in the JSON and the next one
# runs. Exit status: 0 when every step passed; 1 when one failed; 2 with no usable adapter or a bad argument.
set -euo pipefail

# ---- what runs: edit here -----------------------------------------------------------------------------------------
# The webgpu parity tests (a glob, relative to the repository root) and the environment that runs them at full size.
PARITY_TESTS='libs/backend/src/*parity*.test.ts'
PARITY_ENV=(DDPM_PARITY_FULL=1)
# `ddpm bench step` runs, "preset batch [more bench flags]" (ddpm's defaults: --warmup 2 --repeats 5).
WEBGPU_BENCHES=("mnist-bench 32" "mnist-bench 128" "cifar-ddpm 8" "cifar-ddpm 32")
WASM_BENCHES=("mnist-bench 32" "mnist-bench 128")
# Only with --full (35.7M parameters on one wasm core: minutes per step), one cold step each.
WASM_FULL_BENCHES=("cifar-ddpm 8 --warmup 0 --repeats 1" "cifar-ddpm 32 --warmup 0 --repeats 1")
# Time limits in seconds; a step over its limit is recorded as timed out and the next one runs.
ADAPTER_TIMEOUT="${DDPM_GPU_CHECK_ADAPTER_TIMEOUT:-60}"
PARITY_TIMEOUT="${DDPM_GPU_CHECK_PARITY_TIMEOUT:-900}"
BENCH_TIMEOUT="${DDPM_GPU_CHECK_BENCH_TIMEOUT:-300}"
FULL_BENCH_TIMEOUT="${DDPM_GPU_CHECK_FULL_BENCH_TIMEOUT:-7200}"
# -------------------------------------------------------------------------------------------------------------------

usage() {
  sed -n '2,/^set -euo pipefail$/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

FULL=0
ALLOW_SOFTWARE=0
ADAPTER_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --full) FULL=1 ;;
    --allow-software) ALLOW_SOFTWARE=1 ;;
    --adapter-only) ADAPTER_ONLY=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "gpu-check.sh: unknown argument '$arg'" >&2
      usage >&2
      exit 2
      ;;
  esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
for tool in node npx; do
  command -v "$tool" >/dev/null || {
    echo "gpu-check.sh: $tool is not on PATH (Node >= 20, see package.json)" >&2
    exit 2
  }
done
LOG_DIR="${DDPM_GPU_CHECK_LOG_DIR:-runs/gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$LOG_DIR"
# one row per step: id, kind, backend, preset, batch, exit status (or "skipped"), seconds, time limit
STEPS="$LOG_DIR/steps.tsv"
: >"$STEPS"

say() { echo "gpu-check.sh: $*" >&2; }

record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$STEPS"
}

# run_logged ID LIMIT COMMAND...: runs COMMAND for at most LIMIT seconds with its stdout and stderr in
# $LOG_DIR/ID.out and ID.err; sets RUN_EXIT (124 or 137: over the limit) and RUN_SECONDS. Never fails, so that
# set -e does not end the check at the first failing step.
run_logged() {
  local id="$1" limit="$2" started=$SECONDS
  shift 2
  RUN_EXIT=0
  if command -v timeout >/dev/null; then
    timeout --kill-after=30 "$limit" "$@" >"$LOG_DIR/$id.out" 2>"$LOG_DIR/$id.err" </dev/null || RUN_EXIT=$?
  else
    "$@" >"$LOG_DIR/$id.out" 2>"$LOG_DIR/$id.err" </dev/null || RUN_EXIT=$?
  fi
  RUN_SECONDS=$((SECONDS - started))
}

# Prints the JSON summary on stdout (and to summary.json) and exits with its status: 0 passed, 1 failed, 2 aborted.
finish() {
  local status=0
  GPU_CHECK_LOG_DIR="$LOG_DIR" GPU_CHECK_FULL="$FULL" GPU_CHECK_ALLOW_SOFTWARE="$ALLOW_SOFTWARE" \
    GPU_CHECK_ABORTED="${1:-}" GPU_CHECK_SECONDS="$SECONDS" GPU_CHECK_PARITY_ENV="${PARITY_ENV[*]}" \
    GPU_CHECK_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || true)" \
    node --input-type=module -e "$SUMMARY_JS" || status=$?
  exit "$status"
}

# Step 1's probe: the same call as the backend (libs/backend/src/webgpu-adapter.ts). Line 1: JSON; line 2: for
# people. Exit status 0: hardware adapter; 3: software adapter; 4: none, or webgpu does not load.
PROBE_JS=$(
  cat <<'EOF'
const out = (json, text, code) => {
  console.log(JSON.stringify(json));
  console.log(text);
  process.exit(code);
};
let webgpu;
try {
  webgpu = await import('webgpu');
} catch (error) {
  out(
    {
      error: `cannot load the npm package webgpu (Dawn's Node bindings, an optional dependency: run npm ci): ${error.message}`,
    },
    '',
    4,
  );
}
let adapter = null;
try {
  adapter = await webgpu.create([]).requestAdapter({ powerPreference: 'high-performance' });
} catch (error) {
  out({ error: `requestAdapter failed: ${error.message}` }, '', 4);
}
if (adapter === null || adapter === undefined) out({ error: 'Dawn found no WebGPU adapter' }, '', 4);
const info = adapter.info ?? {};
const fallback = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
const software =
  fallback ||
  info.architecture === 'software' ||
  /llvmpipe|lavapipe|swiftshader/i.test(`${info.device} ${info.description}`);
const limits = {
  maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  maxBufferSize: adapter.limits.maxBufferSize,
};
const summary = {
  vendor: info.vendor ?? '',
  architecture: info.architecture ?? '',
  device: info.device ?? '',
  description: info.description ?? '',
  software,
  limits,
};
const mib = (bytes) => `${Math.round(bytes / 2 ** 20)} MiB`;
out(
  summary,
  `${summary.vendor} ${summary.architecture} ${summary.device} (${summary.description}): ` +
    `${software ? 'SOFTWARE adapter' : 'hardware adapter'}, maxStorageBufferBindingSize ${mib(limits.maxStorageBufferBindingSize)}, ` +
    `maxBufferSize ${mib(limits.maxBufferSize)}`,
  software ? 3 : 0,
);
EOF
)

# Step 4: reads steps.tsv and the logs, prints the summary line, exits 0/1/2.
SUMMARY_JS=$(
  cat <<'EOF'
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
const dir = process.env.GPU_CHECK_LOG_DIR;
const read = (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
const lines = (text) => text.split('\n').filter((line) => line.trim() !== '');
const jsonLines = (text) =>
  lines(text).flatMap((line) => {
    try {
      const value = JSON.parse(line);
      return value !== null && typeof value === 'object' ? [value] : [];
    } catch {
      return [];
    }
  });
const tail = (text, n) => lines(text).slice(-n).join(' | ').slice(-1000);
const errors = [];
const why = (row) => {
  if (row.exit === 124 || row.exit === 137) return `timed out after ${row.limit} s`;
  const last = tail(read(`${row.id}.err`), 5);
  return `exit status ${row.exit}${last === '' ? '' : `: ${last}`}`;
};
const rows = lines(read('steps.tsv')).map((line) => {
  const [id, kind, backend, preset, batch, exit, seconds, limit] = line.split('\t');
  return {
    id,
    kind,
    backend,
    preset,
    batch: Number(batch),
    exit: exit === 'skipped' ? exit : Number(exit),
    seconds: Number(seconds),
    limit: Number(limit),
  };
});

let adapter = null;
const probe = rows.find((row) => row.kind === 'adapter');
if (probe !== undefined) {
  const [first] = jsonLines(read('adapter.out'));
  if (first === undefined) errors.push(`adapter: the probe printed nothing (${why(probe)})`);
  else if (typeof first.error === 'string') errors.push(`adapter: ${first.error}`);
  else adapter = first;
  if (adapter !== null && adapter.software && process.env.GPU_CHECK_ALLOW_SOFTWARE !== '1')
    errors.push(`adapter: software adapter (${adapter.device || adapter.description}), not a GPU`);
}

let parity = null;
const parityRow = rows.find((row) => row.kind === 'parity');
if (parityRow !== undefined) {
  const files = lines(read('parity.files'));
  parity = {
    ok: parityRow.exit === 0,
    files,
    env: process.env.GPU_CHECK_PARITY_ENV,
    seconds: parityRow.seconds,
    log: join(dir, 'parity.out'),
  };
  if (files.length === 0) {
    parity.ok = false;
    parity.error = 'no test file matches PARITY_TESTS';
  } else if (!parity.ok) parity.error = why(parityRow);
  if (!parity.ok) errors.push(`parity: ${parity.error}`);
}

const benches = rows
  .filter((row) => row.kind === 'bench')
  .map((row) => {
    const bench = { backend: row.backend, preset: row.preset, batch: row.batch };
    if (row.exit === 'skipped') return { ...bench, skipped: 'only with --full (minutes per step on wasm)' };
    const result = jsonLines(read(`${row.id}.out`))
      .filter((value) => value.bench === 'step')
      .at(-1);
    const entry = { ...bench, ok: row.exit === 0 && result !== undefined, seconds: row.seconds };
    if (entry.ok) return { ...entry, result };
    const error = row.exit === 0 ? 'no JSON line on stdout' : why(row);
    errors.push(`bench ${row.backend} ${row.preset} batch ${row.batch}: ${error}`);
    return { ...entry, error, log: join(dir, `${row.id}.err`) };
  });

const throughput = (backend, preset, batch) =>
  benches.find((b) => b.ok && b.backend === backend && b.preset === preset && b.batch === batch)?.result.imgs_per_s;
const webgpuVsWasm = {};
for (const b of benches.filter((b) => b.backend === 'webgpu')) {
  const gpu = throughput('webgpu', b.preset, b.batch);
  const cpu = throughput('wasm', b.preset, b.batch);
  if (gpu > 0 && cpu > 0) webgpuVsWasm[`${b.preset}/${b.batch}`] = Math.round((100 * gpu) / cpu) / 100;
}

const aborted = process.env.GPU_CHECK_ABORTED || undefined;
const ok = aborted === undefined && errors.length === 0;
const summary = {
  check: 'gpu-check',
  ok,
  ...(aborted === undefined ? {} : { aborted }),
  commit: process.env.GPU_CHECK_COMMIT || null,
  host: hostname(),
  node: process.version,
  full: process.env.GPU_CHECK_FULL === '1',
  seconds: Number(process.env.GPU_CHECK_SECONDS),
  adapter,
  parity,
  benches,
  webgpu_vs_wasm: webgpuVsWasm,
  errors,
  log_dir: dir,
};
const line = JSON.stringify(summary);
writeFileSync(join(dir, 'summary.json'), `${line}\n`);
for (const b of benches) {
  const what = `${b.backend.padEnd(6)} ${b.preset.padEnd(11)} batch ${String(b.batch).padEnd(4)}`;
  const how = b.skipped
    ? `skipped: ${b.skipped}`
    : b.ok
      ? `${b.result.ms_per_step} ms/step, ${b.result.imgs_per_s} images/s`
      : `FAILED: ${b.error}`;
  process.stderr.write(`gpu-check.sh: ${what} ${how}\n`);
}
for (const [key, ratio] of Object.entries(webgpuVsWasm))
  process.stderr.write(`gpu-check.sh: webgpu/wasm ${key}: x${ratio}\n`);
process.stderr.write(
  `gpu-check.sh: ${ok ? 'passed' : `FAILED (${aborted ?? `${errors.length} error(s)`})`}; logs in ${dir}\n`,
);
process.stdout.write(`${line}\n`);
process.exit(aborted !== undefined ? 2 : ok ? 0 : 1);
EOF
)

# ---- 1. adapter ----------------------------------------------------------------------------------------------------
say "log directory $LOG_DIR"
if command -v vulkaninfo >/dev/null; then
  say "Vulkan devices (vulkaninfo --summary):"
  { timeout 30 vulkaninfo --summary 2>/dev/null || true; } >"$LOG_DIR/vulkaninfo.out"
  grep -E '^GPU[0-9]+:|deviceName|deviceType|driverName|driverInfo' "$LOG_DIR/vulkaninfo.out" >&2 || say "  (none listed)"
fi
run_logged adapter "$ADAPTER_TIMEOUT" node --input-type=module -e "$PROBE_JS"
record adapter adapter webgpu - 0 "$RUN_EXIT" "$RUN_SECONDS" "$ADAPTER_TIMEOUT"
probe_exit=$RUN_EXIT
if ((probe_exit == 0 || probe_exit == 3)); then
  say "WebGPU adapter: $(sed -n 2p "$LOG_DIR/adapter.out")"
fi
if ((probe_exit == 3 && !ALLOW_SOFTWARE)); then
  say "the adapter is a software Vulkan driver, not a GPU: Dawn found no GPU with a Vulkan driver. Install the GPU's" \
    "Vulkan driver (NVIDIA: the driver's nvidia_icd.json under /usr/share/vulkan/icd.d or /etc/vulkan/icd.d; AMD," \
    "Intel: mesa-vulkan-drivers), check it with vulkaninfo --summary, or pass --allow-software to run on it anyway."
  finish "software adapter"
elif ((probe_exit == 3)); then
  say "going on with a software adapter (--allow-software): the figures below are not a GPU's"
elif ((probe_exit != 0)); then
  say "no WebGPU adapter: $(head -n 1 "$LOG_DIR/adapter.out" 2>/dev/null || true)" \
    "$(tail -n 3 "$LOG_DIR/adapter.err" 2>/dev/null || true)"
  say "this check needs a GPU with a Vulkan driver (NVIDIA: the proprietary driver ships one; AMD, Intel: Mesa's" \
    "mesa-vulkan-drivers) and the npm package webgpu (npm ci). vulkaninfo --summary lists what the Vulkan loader sees."
  finish "no adapter"
fi
if ((ADAPTER_ONLY)); then
  finish
fi

# ---- 2. parity tests at full size ------------------------------------------------------------------------------------
shopt -s nullglob
# shellcheck disable=SC2206 # PARITY_TESTS is a glob: expanded here on purpose
parity_files=($PARITY_TESTS)
shopt -u nullglob
printf '%s\n' "${parity_files[@]}" >"$LOG_DIR/parity.files"
if ((${#parity_files[@]} == 0)); then
  say "no parity test matches $PARITY_TESTS"
  record parity parity webgpu - 0 1 0 "$PARITY_TIMEOUT"
else
  say "parity: ${PARITY_ENV[*]} npx ava ${parity_files[*]} (limit ${PARITY_TIMEOUT}s)"
  run_logged parity "$PARITY_TIMEOUT" env "${PARITY_ENV[@]}" npx --no ava "${parity_files[@]}"
  record parity parity webgpu - 0 "$RUN_EXIT" "$RUN_SECONDS" "$PARITY_TIMEOUT"
  tail -n 5 "$LOG_DIR/parity.out" >&2 || true
  if ((RUN_EXIT != 0)); then
    say "parity tests FAILED (exit $RUN_EXIT), see $LOG_DIR/parity.out"
    tail -n 5 "$LOG_DIR/parity.err" >&2 || true
  fi
fi

# ---- 3. bench step: webgpu, then wasm for comparison ---------------------------------------------------------------
bench() { # bench BACKEND LIMIT "preset batch [flags]"
  local backend="$1" limit="$2" words
  read -r -a words <<<"$3"
  local preset="${words[0]}" batch="${words[1]}"
  local id="bench-$backend-$preset-$batch"
  say "npx ddpm bench step --backend $backend --preset $preset --batch $batch ${words[*]:2} (limit ${limit}s)"
  run_logged "$id" "$limit" npx --no ddpm bench step --backend "$backend" --preset "$preset" --batch "$batch" "${words[@]:2}"
  record "$id" bench "$backend" "$preset" "$batch" "$RUN_EXIT" "$RUN_SECONDS" "$limit"
  if ((RUN_EXIT == 0)); then
    tail -n 1 "$LOG_DIR/$id.out" >&2 || true
  else
    say "  FAILED (exit $RUN_EXIT):"
    tail -n 3 "$LOG_DIR/$id.err" >&2 || true
  fi
}

for entry in "${WEBGPU_BENCHES[@]}"; do bench webgpu "$BENCH_TIMEOUT" "$entry"; done
for entry in "${WASM_BENCHES[@]}"; do bench wasm "$BENCH_TIMEOUT" "$entry"; done
for entry in "${WASM_FULL_BENCHES[@]}"; do
  if ((FULL)); then
    bench wasm "$FULL_BENCH_TIMEOUT" "$entry"
  else
    read -r -a words <<<"$entry"
    record "bench-wasm-${words[0]}-${words[1]}" bench wasm "${words[0]}" "${words[1]}" skipped 0 0
  fi
done

# ---- 4. summary ----------------------------------------------------------------------------------------------------
finish
