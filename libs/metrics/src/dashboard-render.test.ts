import test from 'ava';
import { dashboardExpressions } from './dashboard.ts';
import { rateIntervalFor, renderExpression } from './dashboard-render.ts';

const values = { rateInterval: '4m', run: 'r-1' };

test('substitutes $__rate_interval, $run and $worker (bare and braced) as Grafana would', (t) => {
  t.is(
    renderExpression('sum(rate(x{run_id="$run", worker=~"${worker}"}[$__rate_interval]))', values),
    'sum(rate(x{run_id="r-1", worker=~".*"}[4m]))',
  );
  t.is(renderExpression('y{worker=~"$worker"}', { ...values, worker: 'a|b' }), 'y{worker=~"a|b"}');
  t.is(renderExpression('z{run_id="$run"}', { ...values, run: 'a"b' }), 'z{run_id="a\\"b"}');
});

test('an unknown variable is an error naming it', (t) => {
  t.throws(() => renderExpression('x[$__range]', values), { message: /\$__range.*DashboardValues/ });
  t.throws(() => renderExpression('x{job="$job"}', values), { message: /\$job/ });
});

test('every dashboard expression renders without a variable left over', (t) => {
  for (const { panel, expr } of dashboardExpressions()) {
    const rendered = renderExpression(expr, values);
    t.false(rendered.includes('$'), `${panel}: ${rendered}`);
  }
});

test('$__rate_interval for an instant query is four scrape intervals', (t) => {
  t.is(rateIntervalFor(60), '240s');
  t.is(rateIntervalFor(5), '20s');
});
