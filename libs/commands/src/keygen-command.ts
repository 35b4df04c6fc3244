import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { curveKeyPair } from 'zeromq';
import { writeKeyPair } from '@ddpm/protocol';

interface KeygenFlags {
  out: string;
  name: string;
}

/**
 * `ddpm keygen`: creates a CURVE key pair for a coordinator or a worker: OUT/NAME.key (public and secret key, mode 0600)
 * and OUT/NAME.pub (the public key, to put in the coordinator's --allow-keys file or hand to workers as
 * --coordinator-key). Refuses to overwrite existing files.
 */
export function keygenCommand(): Command {
  return new Command('keygen')
    .description('create a CURVE key pair (NAME.key, mode 0600, and NAME.pub) for coordinator or worker authentication')
    .option('--out <dir>', 'directory for the key files', 'keys')
    .option('--name <name>', 'file name stem, e.g. coordinator or worker-1', 'coordinator')
    .action((flags: KeygenFlags) => {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(flags.name))
        throw new Error(
          `--name ${JSON.stringify(flags.name)} is not a plain file stem; use letters, digits, _ . - only.`,
        );
      mkdirSync(flags.out, { recursive: true, mode: 0o700 });
      const secretPath = join(flags.out, `${flags.name}.key`);
      const publicPath = join(flags.out, `${flags.name}.pub`);
      try {
        writeKeyPair(secretPath, publicPath, curveKeyPair());
      } catch (error) {
        if ((error as { code?: string }).code === 'EEXIST')
          throw new Error(
            `${secretPath} or ${publicPath} already exists; pick another --name or delete the old keys first.`,
          );
        throw error;
      }
      process.stdout.write(`wrote ${secretPath} (secret, mode 0600) and ${publicPath}\n`);
    });
}
