// Public API of @ddpm/commands: the `ddpm` subcommands (flags, help, wiring onto the libs). Apps are entry points
// that run one of these programs.
export { buildProgram } from './program.ts';
export { coordinatorCommand } from './coordinator-command.ts';
export { workerCommand } from './worker-command.ts';
export { keygenCommand } from './keygen-command.ts';
