import { Command } from 'commander';
import { benchCommand } from './bench-command.ts';
import { coordinatorCommand } from './coordinator-command.ts';
import { evalCommand } from './eval-command.ts';
import { keygenCommand } from './keygen-command.ts';
import { localCommand } from './local-command.ts';
import { pageCommand } from './page-command.ts';
import { sampleCommand } from './sample-command.ts';
import { trainClassifierCommand } from './train-classifier-command.ts';
import { trainCommand } from './train-command.ts';
import { workerCommand } from './worker-command.ts';

/** The whole `ddpm` command tree. Tests and deploy checks parse flags through it. */
export function buildProgram(): Command {
  const program = new Command('ddpm').description('Distributed DDPM training: train, run a cluster, sample, benchmark');
  const commands = [
    trainCommand(),
    localCommand(),
    coordinatorCommand(),
    workerCommand(),
    keygenCommand(),
    sampleCommand(),
    evalCommand(),
    pageCommand(),
    benchCommand(),
    trainClassifierCommand(),
  ];
  for (const command of commands) program.addCommand(command);
  return program;
}
