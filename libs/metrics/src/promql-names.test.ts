import test from 'ava';
import { selectedNames } from './promql-names.ts';

const cases: Array<[string, string[]]> = [
  ['ddpm_loss', ['ddpm_loss']],
  [
    'sum by (worker, phase) (rate(ddpm_worker_phase_duration_seconds_sum[1m]))',
    ['ddpm_worker_phase_duration_seconds_sum'],
  ],
  ['histogram_quantile(0.9, sum by (le) (rate(x_bucket{job="a b", phase=~"c|d"}[5m:30s])))', ['x_bucket']],
  ['time() - (ddpm_last_checkpoint_timestamp_seconds > 0)', ['ddpm_last_checkpoint_timestamp_seconds']],
  ['a:b:rate1m{phase="compute"} / on (worker) group_left (backend) c offset 5m', ['a:b:rate1m', 'c']],
  ['sum(rate(a_total[1m])) by (le) and bool 1e3 > b', ['a_total', 'b']],
  ['count by (role, backend) (ddpm_backend_info)', ['ddpm_backend_info']],
];
for (const [expr, expected] of cases) {
  test(`selectedNames(${expr})`, (t) => {
    t.deepEqual(selectedNames(expr), expected);
  });
}
