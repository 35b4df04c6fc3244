/**
 * Runs async tasks one at a time, in the order they were submitted. The coordinator's state is changed by its receive
 * loop, its heartbeat timer and signal handlers; funnelling all three through one Serial means no handler ever sees
 * another one's half-finished change across an `await`.
 * Promises: a task starts only after the previous one settled; a failing task rejects its own promise and does not
 * stop later tasks. Does not: time out tasks.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
