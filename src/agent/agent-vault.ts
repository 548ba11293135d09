// The SecretStore the agent serves. It keeps every value sealed in memory (ChaCha20-Poly1305
// under a random session key held in the mlocked arena, the name as associated data), so the
// only long-lived plaintext is the keys. A stat of secrets.encrypted (one per event-loop turn)
// notices writes by other processes and reloads; the agent holds the loaded file open, so its
// inode number cannot be reused by a newer file. Writes go to disk first (read-modify-write under
// the lock). Every payload loaded or written also hands its sealed policy to `onPolicy`, so a
// policy sealed by another process (`policy apply` with the password) is in force from the next
// request on; every write refreshes the audit anchor through `anchor`.

import crypto from 'node:crypto';
import fs from 'node:fs';
import { fail, GlassdomeError } from '../errors.js';
import { loadVault, updateVault, type Commit, type WriteHooks } from '../store/vault-files.js';
import { checkVault, readMasterKeyText } from '../store/vault-text.js';
import type { VaultPaths } from '../store/paths.js';
import { openPrivate, sameSignature, signatureOf, type FileSignature } from '../store/secure-file.js';
import { secretCopy } from '../vault/bytes.js';
import { randomBytes } from '../vault/crypto.js';
import { wipeMap, type AuditAnchor, type SecretEntry, type VaultPayload } from '../vault/payload.js';
import { checkBatch, notFound, putSecret, removeSecret, type NewSecret, type SecretInfo, type SecretStore } from '../vault/store.js';
import { type VaultKeys } from '../vault/vault.js';
import { parseMasterKeyFile, vaultIdOf } from '../vault/format.js';
import type { AgentState } from './state.js';

const NONCE = 12;
const TAG = 16;

interface Sealed {
  box: Buffer; // nonce || ciphertext || tag
  created: number;
  updated: number;
}

/** What the agent does with each payload it loads or writes. */
export interface VaultHooks {
  /** Receives the sealed policy text (null: none sealed) of every payload loaded or written. */
  onPolicy(policy: string | null): void;
  /** The audit anchor to seal with a write (see WriteHooks.anchor). */
  anchor?: WriteHooks['anchor'];
}

/** The agent's vault: sealed in-memory entries kept in step with secrets.encrypted. */
export class AgentVault implements SecretStore {
  /** Set by the agent's server before the first unlock. */
  hooks: VaultHooks = { onPolicy: () => undefined };
  /** The audit anchor of the payload loaded or written last. */
  anchor: AuditAnchor | null = null;
  private entries = new Map<string, Sealed>();
  private sessionKey: Uint8Array | undefined;
  private signature: FileSignature | undefined;
  private heldFd: number | undefined;
  /** The checksum of master_key.enc when the keys were taken: a change means another key may seal the vault now. */
  private masterChecksum: string | undefined;
  /** True until the end of the current event-loop turn once secrets.encrypted was checked in it. */
  private checkedThisTurn = false;

  constructor(
    private readonly paths: VaultPaths,
    private readonly state: AgentState,
  ) {}

  /**
   * Takes the map the unlock just opened (the state must already hold its keys), so the vault is
   * decrypted once per unlock, not twice. The caller wipes the map.
   */
  adoptUnlock(payload: VaultPayload, signature: FileSignature): number {
    this.clear();
    this.masterChecksum = masterChecksumNow(this.paths);
    this.sessionKey = this.state.sessionKey(randomBytes);
    this.fill(payload);
    this.hold(signature);
    return this.entries.size;
  }

  /** Brings the cache up to date with secrets.encrypted (a stat; a reload when it changed). */
  refresh(): void {
    this.sync();
  }

  /** Seals a policy text into the vault (already validated by the caller). */
  async applyPolicy(text: string): Promise<void> {
    const keys = this.keys();
    await this.write(keys, (payload) => {
      payload.policy = text;
    }, []);
  }

  /** A write that changes nothing but the audit anchor (at lock and expiry). */
  async reanchor(): Promise<void> {
    const keys = this.keys();
    await this.write(keys, () => undefined, []);
  }

  /** Forgets every sealed entry and the file it came from (on lock and expiry). */
  clear(): void {
    this.checkedThisTurn = false;
    this.entries.clear();
    this.sessionKey = undefined;
    this.signature = undefined;
    this.release();
  }

  /** The number of secrets (keyed state only). */
  count(): number {
    this.sync();
    return this.entries.size;
  }

  async get(name: string): Promise<Uint8Array> {
    return this.getNow(name);
  }

  getNow(name: string): Uint8Array {
    this.sync();
    const sealed = this.entries.get(name) ?? notFound(name);
    return this.open(name, sealed);
  }

  /** A value's length in bytes, from its sealed box (nothing is opened); undefined when there is no such secret. */
  sizeOf(name: string): number | undefined {
    this.sync();
    const sealed = this.entries.get(name);
    return sealed && sealed.box.length - NONCE - TAG;
  }

  async list(): Promise<string[]> {
    this.sync();
    return [...this.entries.keys()].sort();
  }

  async set(name: string, value: Uint8Array): Promise<void> {
    const keys = this.keys();
    const copy = secretCopy(value);
    await this.write(keys, (payload) => putSecret(payload.map, name, copy, Date.now()), [name]);
  }

  async rm(name: string): Promise<void> {
    const keys = this.keys();
    await this.write(keys, (payload) => removeSecret(payload.map, name), [name]);
  }

  async infos(): Promise<SecretInfo[]> {
    this.sync();
    return [...this.entries.keys()].sort().map((name) => ({ name, created: this.entries.get(name)!.created, updated: this.entries.get(name)!.updated }));
  }

  async setMany(entries: readonly NewSecret[]): Promise<void> {
    checkBatch(entries);
    const keys = this.keys();
    const copies = entries.map(({ name, value }) => ({ name, value: secretCopy(value) }));
    const now = Date.now();
    await this.write(keys, (payload) => copies.forEach(({ name, value }) => putSecret(payload.map, name, value, now)), copies.map((c) => c.name));
  }

  /** A read-modify-write; `names` are the secrets it changes (none: the policy or anchor only). */
  private async write(keys: VaultKeys, mutate: (payload: VaultPayload) => void, names: readonly string[]): Promise<void> {
    await this.guard(keys, () =>
      updateVault(this.paths, keys, mutate, {
        anchor: this.hooks.anchor,
        observe: (payload, commit) => {
          if (this.state.current() !== keys) return; // locked while waiting for the lock
          this.afterCommit(payload, commit, names);
        },
      }),
    );
  }

  private afterCommit(payload: VaultPayload, commit: Commit, names: readonly string[]): void {
    this.checkedThisTurn = false;
    if (sameSignature(commit.before, this.signature)) {
      for (const name of names) {
        const entry = payload.map.get(name);
        if (entry) this.entries.set(name, this.seal(name, entry));
        else this.entries.delete(name);
      }
      this.anchor = payload.anchor;
      this.hooks.onPolicy(payload.policy);
    } else {
      this.fill(payload);
    }
    this.hold(commit.after);
  }

  /**
   * Reloads from disk when secrets.encrypted is not the version loaded last. One stat serves every
   * request handled in the same turn of the event loop (under load, many share it).
   */
  private sync(): void {
    const keys = this.keys();
    if (this.checkedThisTurn) return;
    checkVault(this.paths); // a directory opened to others since the unlock is refused, as the CLI refuses it
    if (!sameSignature(statSignature(this.paths.secrets), this.signature)) {
      const { payload, signature } = this.guardSync(keys, () => loadVault(this.paths, keys));
      try {
        this.fill(payload);
        this.hold(signature);
      } finally {
        wipeMap(payload.map);
      }
    }
    this.checkedThisTurn = true; // only after a successful check: a failed reload is tried again
    setImmediate(() => (this.checkedThisTurn = false));
  }

  private fill(payload: VaultPayload): void {
    this.entries.clear();
    for (const [name, entry] of payload.map) this.entries.set(name, this.seal(name, entry));
    this.anchor = payload.anchor;
    this.hooks.onPolicy(payload.policy);
  }

  /** Holds the loaded file open so its inode number stays unique while it is the one we know. */
  private hold(signature: FileSignature): void {
    this.release();
    try {
      const fd = openPrivate(this.paths.secrets, fs.constants.O_RDONLY);
      if (fs.fstatSync(fd, { bigint: true }).ino === signature.ino) this.heldFd = fd;
      else fs.closeSync(fd);
    } catch {
      // not fatal: the next request reloads
    }
    this.signature = signature;
  }

  private release(): void {
    if (this.heldFd !== undefined) fs.closeSync(this.heldFd);
    this.heldFd = undefined;
  }

  private keys(): VaultKeys {
    const keys = this.state.current();
    if (!keys) fail('locked', 'the agent is locked', 'glassdome unlock');
    return keys;
  }

  private seal(name: string, { value, created, updated }: SecretEntry): Sealed {
    const nonce = crypto.randomBytes(NONCE);
    const cipher = crypto.createCipheriv('chacha20-poly1305', this.sessionKey!, nonce, { authTagLength: TAG });
    cipher.setAAD(Buffer.from(name), { plaintextLength: value.length });
    const box = Buffer.concat([nonce, cipher.update(value), cipher.final(), cipher.getAuthTag()]);
    return { box, created, updated };
  }

  private open(name: string, sealed: Sealed): Uint8Array {
    const { box } = sealed;
    const decipher = crypto.createDecipheriv('chacha20-poly1305', this.sessionKey!, box.subarray(0, NONCE), { authTagLength: TAG });
    decipher.setAAD(Buffer.from(name), { plaintextLength: box.length - NONCE - TAG });
    decipher.setAuthTag(box.subarray(box.length - TAG));
    const out = decipher.update(box.subarray(NONCE, box.length - TAG));
    try {
      decipher.final();
    } catch (err) {
      out.fill(0); // decrypted, but not authentic: wiped all the same
      throw err;
    }
    return out;
  }

  /** A vault replaced (init --force) or removed no longer opens with our keys: lock, say so. */
  private guardSync<T>(keys: VaultKeys, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.explain(err, keys);
    }
  }

  private async guard<T>(keys: VaultKeys, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.explain(err, keys);
    }
  }

  private explain(err: unknown, keys: VaultKeys): unknown {
    if (!(err instanceof GlassdomeError) || !['corrupt', 'tampered', 'no_vault'].includes(err.code)) return err;
    let vaultId: string | undefined;
    try {
      vaultId = vaultIdOf(readMasterKeyText(this.paths));
    } catch {
      vaultId = undefined;
    }
    if (vaultId === keys.vaultId) {
      // Same vault, but sealed under another key: rotated or restored by another process.
      if (err.code !== 'tampered' || !this.masterChecksum || masterChecksumNow(this.paths) === this.masterChecksum) return err;
      this.state.lock('replaced');
      return new GlassdomeError('locked', 'the vault\'s master key changed since it was unlocked (rotated or restored elsewhere)', 'glassdome unlock');
    }
    this.state.lock('replaced');
    return new GlassdomeError('locked', 'the vault was replaced or removed since it was unlocked', 'glassdome unlock');
  }
}

function masterChecksumNow(paths: VaultPaths): string | undefined {
  try {
    return parseMasterKeyFile(readMasterKeyText(paths)).checksum;
  } catch {
    return undefined;
  }
}

function statSignature(file: string): FileSignature | undefined {
  try {
    return signatureOf(fs.statSync(file, { bigint: true }));
  } catch {
    return undefined;
  }
}
