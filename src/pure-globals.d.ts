// The few runtime globals the pure core may use: UTF-8 text coding only. No I/O is declared here,
// so src/vault and src/protocol cannot reach the file system, the network or the clock.

declare class TextEncoder {
  encode(input?: string): Uint8Array;
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
