import { SingleBar, Presets } from 'cli-progress';

/** One step's figures as the progress display shows them. */
export interface ProgressFigures {
  readonly step: number;
  readonly loss: number;
  readonly imgsPerS: number;
}

/** Where training progress goes: a live bar on a terminal, plain lines elsewhere. */
export interface Progress {
  update(figures: ProgressFigures): void;
  /** Prints a line without tearing the bar. */
  note(line: string): void;
  stop(): void;
}

/**
 * A progress bar (step, loss, images/s, ETA) when `stream` is a TTY, otherwise one plain line every `every` steps
 * and on the last step, so logs in CI or `kubectl logs` stay readable.
 */
export function createProgress(total: number, stream: NodeJS.WriteStream = process.stdout, every = 10): Progress {
  if (stream.isTTY) {
    const bar = new SingleBar(
      {
        format: 'step {value}/{total} |{bar}| loss {loss} | {imgs} img/s | eta {eta_formatted}',
        stream,
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    bar.start(total, 0, { loss: '-', imgs: '-' });
    return {
      update: ({ step, loss, imgsPerS }) => bar.update(step, { loss: loss.toFixed(4), imgs: imgsPerS.toFixed(1) }),
      note: (line) => {
        stream.write(`\r\x1b[K${line}\n`);
        bar.render();
      },
      stop: () => bar.stop(),
    };
  }
  return {
    update: ({ step, loss, imgsPerS }) => {
      if (step % every === 0 || step === total)
        stream.write(`step ${step}/${total} loss ${loss.toFixed(4)} ${imgsPerS.toFixed(1)} img/s\n`);
    },
    note: (line) => stream.write(`${line}\n`),
    stop: () => undefined,
  };
}
