import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_NAMES, parseBackendName, selectBackend } from './select-backend.ts';
import { wasmConvGradientsInstalled } from './install-wasm-conv-gradients.ts';

// Facts about this machine these tests rely on: neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is
// installed (their installs download libtensorflow), while the wasm and cpu backends are; the only WebGPU adapter is
// Mesa's software one, lavapipe (.ci/run installs it; webgpu-backend.test.ts tests --backend webgpu).

test.serial("'cpu' activates the cpu backend and logs why", async (t) => {
  const lines: string[] = [];
  const choice = await selectBackend('cpu', (line) => lines.push(line));
  t.is(choice.name, 'cpu');
  t.is(tf.getBackend(), 'cpu');
  t.deepEqual(
    choice.attempts.map((a) => [a.name, a.ok]),
    [['cpu', true]],
  );
  t.is(lines.length, 1);
  t.regex(lines[0], /using cpu .*requested explicitly/);
});

test.serial("'wasm' activates wasm with the fast conv gradients installed", async (t) => {
  const lines: string[] = [];
  const choice = await selectBackend('wasm', (line) => lines.push(line));
  t.is(choice.name, 'wasm');
  t.is(tf.getBackend(), 'wasm');
  t.true(wasmConvGradientsInstalled());
  t.regex(lines.join('\n'), /using wasm .*XNNPACK.*conv gradients installed/);
});

test.serial("'auto' falls through both native packages and a software WebGPU adapter to wasm", async (t) => {
  const lines: string[] = [];
  const choice = await selectBackend('auto', (line) => lines.push(line));
  t.is(choice.name, 'wasm');
  t.is(tf.getBackend(), 'wasm');
  t.deepEqual(
    choice.attempts.map((a) => [a.name, a.ok]),
    [
      ['tfjs-node-gpu', false],
      ['webgpu', false],
      ['tfjs-node', false],
      ['wasm', true],
    ],
  );
  t.regex(
    choice.attempts[0].reason,
    /tfjs-node-gpu not installed \(optional dependency; needs .*CUDA 11\.2 \+ cuDNN 8\.1\)/,
  );
  t.regex(
    choice.attempts[1].reason,
    /^only a software\/fallback adapter \(mesa software\), slower than wasm: it is used only when asked for by name \(--backend webgpu\)$/,
  );
  t.regex(choice.attempts[2].reason, /tfjs-node not installed/);
  t.is(lines.length, 4, 'one line per attempt');
  t.regex(lines[0], /skipped tfjs-node-gpu/);
  t.regex(lines[1], /skipped webgpu: only a software\/fallback adapter/);
  t.regex(lines[3], /using wasm/);
  t.is(choice.adapter, undefined);
});

test.serial("'tensorflow' requested explicitly rejects with how to fix it, without falling back", async (t) => {
  await tf.setBackend('cpu');
  const error = await t.throwsAsync(selectBackend('tensorflow'));
  t.regex(error?.message ?? '', /Backend 'tensorflow' could not be activated/);
  t.regex(
    error?.message ?? '',
    /Install @tensorflow\/tfjs-node-gpu \(NVIDIA GPU with CUDA 11\.2 \+ cuDNN 8\.1\) or @tensorflow\/tfjs-node/,
  );
  t.is(tf.getBackend(), 'cpu', 'the active backend is left alone');
});

const parses = test.macro({
  exec(t, input: string, expected: string) {
    const parsed: string = parseBackendName(input);
    t.is(parsed, expected);
  },
  title: (_provided, input: string, expected: string) => `parseBackendName('${input}') is '${expected}'`,
});
for (const name of BACKEND_NAMES) test(parses, name, name);
test(parses, ' WASM ', 'wasm');
test(parses, 'tfjs-node-gpu', 'tensorflow');

test('parseBackendName rejects unknown names and lists the valid ones', (t) => {
  const error = t.throws(() => parseBackendName('webgl'));
  t.regex(error?.message ?? '', /Unknown backend 'webgl'.*auto, tensorflow, webgpu, wasm, cpu/);
});
