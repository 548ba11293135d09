// Buffers for secret bytes. Pure. V8 keeps a typed array of up to 64 bytes inside its garbage-
// collected heap, where a collection may copy it and leave the old copy behind, out of reach of
// any wipe; the bytes of an explicit ArrayBuffer live outside that heap and never move. Every
// key and value glassdome decodes or derives goes into one of these.

/** A zeroed buffer of `length` bytes that the garbage collector never moves (so a wipe is final). */
export function secretBuffer(length: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(length));
}

/** A copy of `bytes` in a buffer that never moves. */
export function secretCopy(bytes: Uint8Array): Uint8Array {
  const out = secretBuffer(bytes.length);
  out.set(bytes);
  return out;
}
