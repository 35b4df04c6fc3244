import { readFileSync, statSync, writeFileSync } from 'node:fs';

/** A CURVE key pair as Z85 text (40 characters each), as zeromq's curveKeyPair() returns it. */
export interface CurveKeyPair {
  readonly publicKey: string;
  readonly secretKey: string;
}

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(
      `Cannot read the ${what} ${path}: ${(error as Error).message}. Create keys with: ddpm keygen --out DIR --name NAME.`,
    );
  }
}

/** The non-empty lines of a key file that are not comments ("# ..."; a Z85 key may itself start with "#", never with "# "). */
function lines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && line !== '#' && !line.startsWith('# '));
}

function checkKey(key: string | undefined, path: string, what: string): string {
  if (key === undefined || !Z85_KEY.test(key))
    throw new Error(`${path} does not hold a valid ${what} (40 Z85 characters); regenerate it with ddpm keygen.`);
  return key;
}

/** Writes a key pair file (`public-key ...` / `secret-key ...` lines) with mode 0600, and the public key alone to `publicPath` (0644). */
export function writeKeyPair(secretPath: string, publicPath: string, pair: CurveKeyPair): void {
  const header = '# ddpm CURVE key pair (Z85). Keep this file secret: it authenticates its owner.\n';
  writeFileSync(secretPath, `${header}public-key ${pair.publicKey}\nsecret-key ${pair.secretKey}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  writeFileSync(
    publicPath,
    `# ddpm CURVE public key (Z85); add it to the coordinator's --allow-keys file or pass it as --coordinator-key.\n${pair.publicKey}\n`,
    { mode: 0o644, flag: 'wx' },
  );
}

/**
 * Reads a key pair file written by {@link writeKeyPair}. Throws when it is unreadable, malformed, or readable by group
 * or others (like ssh, a secret key other users can read is refused: chmod 600 it).
 */
export function readKeyPair(path: string): CurveKeyPair {
  const text = readText(path, 'CURVE key pair');
  const mode = statSync(path).mode & 0o077;
  if (mode !== 0)
    throw new Error(
      `The CURVE secret key file ${path} is readable by other users (mode ${(statSync(path).mode & 0o777).toString(8)}); run chmod 600 ${path}.`,
    );
  const fields = new Map(lines(text).map((line) => line.split(/\s+/, 2) as [string, string]));
  return {
    publicKey: checkKey(fields.get('public-key'), path, 'public key'),
    secretKey: checkKey(fields.get('secret-key'), path, 'secret key'),
  };
}

/** Reads a public key: a `.pub` file from ddpm keygen (or a key pair file, whose public key is used). */
export function readPublicKey(path: string): string {
  const found = lines(readText(path, 'CURVE public key'));
  const tagged = found.find((line) => line.startsWith('public-key '));
  return checkKey(tagged === undefined ? found[0] : tagged.split(/\s+/)[1], path, 'public key');
}

/** Reads an allowlist: one Z85 public key per line (`#` comments allowed); throws naming the first bad line. */
export function readAllowList(path: string): Set<string> {
  const keys = lines(readText(path, 'allowlist')).map((line) =>
    checkKey(line.split(/\s+/)[0], path, `public key on the line "${line}"`),
  );
  if (keys.length === 0)
    throw new Error(
      `The allowlist ${path} holds no public key, so no worker could join; add the workers' .pub keys, one per line.`,
    );
  return new Set(keys);
}
