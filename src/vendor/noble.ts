// The parts of the audited @noble libraries glassdome uses, in one place. The build bundles this
// file alone into dist/vendor/noble.js (esbuild, tree-shaken, CommonJS): loading the packages
// module by module costs ~20 ms, the bundle ~4 ms, on every command that decrypts the vault.

export { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
export { randomBytes } from '@noble/ciphers/utils.js';
export { blake2b } from '@noble/hashes/blake2.js';
