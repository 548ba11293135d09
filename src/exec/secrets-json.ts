// The JSON object exec writes on fd 3: {name: value}. A value that is UTF-8 text is a JSON string;
// any other value is {"base64": "<its bytes in base64>"} (docs/RECIPES.md), so a binary secret never
// breaks exec and every byte survives. Pure.

/** The key of the tagged form of a value that is not UTF-8 text. */
export const BINARY_TAG = 'base64';

/** The UTF-8 text of `bytes` (a leading BOM kept), or null when they are not valid UTF-8. */
export function utf8OrNull(bytes: Uint8Array): string | null {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = view.toString('utf8');
  return Buffer.byteLength(text, 'utf8') === view.length && Buffer.from(text, 'utf8').equals(view) ? text : null;
}

/** fd 3's JSON for the given names (every name must be in `values`), as UTF-8 bytes. */
export function secretsJson(names: readonly string[], values: ReadonlyMap<string, Uint8Array>): Buffer {
  const object: Record<string, string | { [BINARY_TAG]: string }> = {};
  for (const name of names) {
    const bytes = values.get(name)!;
    const text = utf8OrNull(bytes);
    object[name] = text ?? { [BINARY_TAG]: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
  }
  return Buffer.from(JSON.stringify(object), 'utf8');
}
