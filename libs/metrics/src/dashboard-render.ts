/** Values for the dashboard's variables when a query is run outside Grafana (tests, scripts). */
export interface DashboardValues {
  /** What Grafana would put for `$__rate_interval`, e.g. `4m` at a 1 m scrape interval (4 scrape intervals). */
  readonly rateInterval: string;
  /** The run id for `$run`. */
  readonly run: string;
  /** A regex for `$worker`; default `.*` (Grafana's "All"). */
  readonly worker?: string;
}

const VARIABLE = /\$(__rate_interval|run|worker)\b|\$\{(__rate_interval|run|worker)\}/g;

/**
 * Substitutes the dashboard variables in a panel expression as Grafana does before it sends the query, so the
 * expression can be run against Prometheus directly. Throws on any other `$variable`, naming it, so a new variable
 * cannot slip past the tests that run every expression.
 */
export function renderExpression(expr: string, values: DashboardValues): string {
  const rendered = expr.replace(VARIABLE, (_match, bare?: string, braced?: string) => {
    const name = bare ?? braced;
    if (name === '__rate_interval') return values.rateInterval;
    if (name === 'run') return values.run.replace(/[\\"]/g, (c) => `\\${c}`);
    return values.worker ?? '.*';
  });
  const left = /\$\{?[A-Za-z_]\w*/.exec(rendered);
  if (left !== null) {
    throw new Error(
      `renderExpression: ${left[0]} in ${JSON.stringify(expr)} has no value; add it to DashboardValues and renderExpression.`,
    );
  }
  return rendered;
}

/** Grafana's `$__rate_interval` for an instant query at `scrapeSeconds`: four scrape intervals, in seconds. */
export function rateIntervalFor(scrapeSeconds: number): string {
  return `${4 * scrapeSeconds}s`;
}
