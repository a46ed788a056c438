// Ids people read and type: a short prefix naming the kind, then lowercase base32 from the
// system's cryptographic randomness (`t_k3x9…`). 10 characters = 50 bits: collisions are
// negligible for any pool this server runs, and ids stay short enough to type.
import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** `n` lowercase base32 characters of cryptographic randomness. */
export function randomBase32(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += ALPHABET[nextByte() & 31];
  return out;
}

// Small randomBytes calls cost a system call each; draw from a pool refilled 4 KiB at a time.
let pool = Buffer.alloc(0);
let at = 0;
function nextByte(): number {
  if (at >= pool.length) {
    pool = randomBytes(4096);
    at = 0;
  }
  return pool[at++]!;
}

export type IdKind = 't' | 'vg' | 'n' | 'g' | 'tok' | 'srv' | 'jt' | 'nc';

/** A new id of `kind`, e.g. `newId('t')` → `t_k3x9q2m7ab`. */
export function newId(kind: IdKind): string {
  return `${kind}_${randomBase32(10)}`;
}

/** A new secret token (shown once, stored only as its hash). */
export function newSecret(): string {
  return `fgp_${randomBase32(40)}`;
}
