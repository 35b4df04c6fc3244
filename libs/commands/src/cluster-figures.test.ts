import test from 'ava';
import { clusterFigures } from './cluster-figures.ts';

test('star figures: the coordinator link carries N·S bytes each way; bound, comm time, bus bandwidth, efficiency', (t) => {
  const result = clusterFigures({
    topology: 'star',
    workers: 4,
    linkGbps: 1,
    params: 1_000_000,
    computeMs: 300,
    wireDtype: 'float32',
    stepMs: 500,
  });
  t.deepEqual(result, {
    bench: 'cluster',
    topology: 'star',
    workers: 4,
    link_gbps: 1,
    params: 1_000_000,
    wire_dtype: 'float32',
    compute_ms: 300,
    step_ms: 500,
    comm_ms: 200,
    // 4 workers × 4 MB
    bytes_max_link_per_step: 16_000_000,
    bytes_up_per_step: 16_000_000,
    bytes_down_per_step: 16_000_000,
    // 128 Mbit at 1 Gbit/s
    bound_ms: 128,
    // 32 Mbit / 0.2 s = 0.16 Gbit/s algorithm bandwidth, × 2·3/4
    bus_gbps: 0.24,
    scaling_efficiency: 0.6,
  });
});

test('bfloat16 halves the bytes both ways: gradients in, update deltas out', (t) => {
  const inputs = { topology: 'star', workers: 4, linkGbps: 1, params: 1_000_000, computeMs: 0, stepMs: 500 } as const;
  const result = clusterFigures({ ...inputs, wireDtype: 'bfloat16' });
  t.is(result.wire_dtype, 'bfloat16');
  t.is(result.bytes_up_per_step, 8_000_000);
  t.is(result.bytes_down_per_step, 8_000_000);
  t.is(result.bytes_max_link_per_step, 8_000_000);
  t.is(result.bound_ms, 64);
});
