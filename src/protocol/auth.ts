// Authentication plugin math: mysql_native_password and caching_sha2_password.
import { createHash, privateDecrypt, constants as cryptoConstants, randomBytes, type KeyObject } from 'node:crypto';

export function sha1(...parts: Buffer[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i % b.length]!;
  return out;
}

/** 20 random bytes without NUL (some clients treat the scramble as a C string) . */
export function newScramble(): Buffer {
  const b = randomBytes(20);
  for (let i = 0; i < b.length; i++) {
    b[i] = (b[i]! & 0x7f) || 0x41;
    if (b[i] === 0x24) b[i] = 0x25; // avoid '$' (caching_sha2 separator in some stored formats)
  }
  return b;
}

/** SHA1(password): what mysql_native_password needs to answer a challenge. */
export function nativeStage1(password: string): Buffer {
  return sha1(Buffer.from(password, 'utf8'));
}

/** SHA1(SHA1(password)): what the server stores ('*' + hex in mysql.user). */
export function nativeStage2FromStage1(stage1: Buffer): Buffer {
  return sha1(stage1);
}

/** Parses '*HEX40' into the 20-byte stage-2 hash; null when not in that form. */
export function parseNativeHash(hash: string): Buffer | null {
  const m = /^\*([0-9A-Fa-f]{40})$/.exec(hash);
  return m ? Buffer.from(m[1]!, 'hex') : null;
}

export function formatNativeHash(stage2: Buffer): string {
  return '*' + stage2.toString('hex').toUpperCase();
}

/** Client-side token: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))). Empty password → empty token. */
export function nativeToken(stage1: Buffer | null, scramble: Buffer): Buffer {
  if (stage1 === null) return Buffer.alloc(0);
  return xor(stage1, sha1(scramble.subarray(0, 20), sha1(stage1)));
}

/**
 * Server-side check of a native token against the stored stage-2 hash. Returns SHA1(password) (which lets
 * the proxy log in to the backend as the same user) when the token is right, else null.
 */
export function verifyNativeToken(token: Buffer, scramble: Buffer, stage2: Buffer): Buffer | null {
  if (token.length !== 20) return null;
  const stage1 = xor(token, sha1(scramble.subarray(0, 20), stage2));
  return sha1(stage1).equals(stage2) ? stage1 : null;
}

/** caching_sha2_password client token: XOR(SHA256(pw), SHA256(SHA256(SHA256(pw)) + nonce)). */
export function sha2Token(password: string, nonce: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const p1 = sha256(Buffer.from(password, 'utf8'));
  const p2 = sha256(p1);
  return xor(p1, sha256(p2, nonce.subarray(0, 20)));
}

/** SHA256(SHA256(pw)): what a server keeps to verify fast caching_sha2 auth. */
export function sha2Stage2(password: string): Buffer {
  return sha256(sha256(Buffer.from(password, 'utf8')));
}

export function verifySha2Token(token: Buffer, nonce: Buffer, stage2: Buffer): boolean {
  if (token.length !== 32) return false;
  const p1 = xor(token, sha256(stage2, nonce.subarray(0, 20)));
  return sha256(p1).equals(stage2);
}

/** Decrypts a caching_sha2 full-auth password sent with the server's RSA public key (OAEP). */
export function decryptRsaPassword(encrypted: Buffer, privateKey: KeyObject, nonce: Buffer): string {
  const plain = privateDecrypt({ key: privateKey, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING }, encrypted);
  const unx = xor(plain, nonce.subarray(0, 20));
  const end = unx.indexOf(0);
  return unx.subarray(0, end < 0 ? unx.length : end).toString('utf8');
}

/** Plaintext password as sent in caching_sha2 full auth over TLS (NUL-terminated). */
export function cleartextPassword(data: Buffer): string {
  const end = data.indexOf(0);
  return data.subarray(0, end < 0 ? data.length : end).toString('utf8');
}
