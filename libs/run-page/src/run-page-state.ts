/** One worker as the run page shows it. */
export interface RunPageWorker {
  readonly name: string;
  readonly backend: string;
  /** 'joining' until it gets the parameters at a step boundary, then 'training', or 'straggler' while flagged. */
  readonly state: 'joining' | 'training' | 'straggler';
  /** Its local batch over its recent median step time (StepStart sent to last gradient bucket received); null: none yet. */
  readonly imagesPerSecond: number | null;
  /** That median step time in milliseconds; null: none yet. */
  readonly stepMs: number | null;
}

/** What the training process publishes for the run page (MetricsServer.publishRunState): GET /api/state returns it. */
export interface RunPageState {
  /** The subcommand that runs the run: `train` or `coordinator` (also under `ddpm local`). */
  readonly command: string;
  /** ISO-8601 time the process started serving the page. */
  readonly startedAt: string;
  /** ISO-8601 time of this state. */
  readonly updatedAt: string;
  readonly step: number;
  readonly steps: number;
  readonly backend: string;
  /** The run's configuration (RunConfig and the command's other settings), shown as a table. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly workers: readonly RunPageWorker[];
}
