const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric (or recording-rule) names a PromQL expression selects, in order of first appearance.
 *
 * A lexical scan, not a parser: it drops string literals, label matchers `{...}`, range/subquery brackets `[...]` and
 * the label lists after by/without/on/ignoring/group_left/group_right, then keeps identifiers that are not function
 * calls, keywords, numbers or durations. Does not: resolve `__name__` matchers or Grafana variables (the dashboard uses neither).
 */
export function selectedNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = match[0];
    const after = stripped.slice((match.index ?? 0) + name.length).trimStart();
    // Right after a digit it is a number's exponent or a duration unit (1e3, 5m), never a name.
    const isNumberPart = /[0-9.]$/.test(stripped.slice(0, match.index ?? 0));
    if (after.startsWith('(') || KEYWORDS.has(name.toLowerCase()) || isNumberPart) continue;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}
