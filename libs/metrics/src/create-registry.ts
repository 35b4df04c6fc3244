import { Registry } from 'prom-client';

/**
 * A fresh, empty prom-client registry for one process. Use it instead of prom-client's global `register`, so that
 * tests and in-process runs never share metrics. Does not: register anything (the factories do).
 */
export function createRegistry(): Registry {
  return new Registry();
}
