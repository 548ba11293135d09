import { Flags } from '@oclif/core';
import { serveAction } from '../actions/serve.js';
import { GlassdomeCommand } from '../cli/base.js';
import { parseLifetime } from '../cli/duration.js';

export default class Serve extends GlassdomeCommand {
  static override summary = 'Serve the vault to other hosts, containers and jobs over mutual TLS';
  static override description =
    'HTTPS (TLS 1.3) with client certificates of --client-ca, or tokens from glassdome token create; the JSON API of docs/API.md. Unlocked once by the master password (a prompt, --password-stdin, or the systemd credential glassdome-password); policy.yaml decides by certificate CN. Loopback unless --listen names another address.';
  static override examples = [
    'printf %s "$PW" | <%= config.bin %> serve --password-stdin --cert server.crt --key server.key --client-ca ~/.glassdome/ca/ca.crt --crl ~/.glassdome/ca/crl.pem',
    '<%= config.bin %> serve --listen 0.0.0.0:8443 --cert server.crt --key server.key --client-ca ca.crt',
  ];
  static override flags = {
    listen: Flags.string({ description: 'ADDRESS:PORT to listen on (default 127.0.0.1:8443; port 0 picks one)' }),
    cert: Flags.string({ description: 'the server certificate (PEM)', required: true }),
    key: Flags.string({ description: 'the server key (PEM)', required: true }),
    'client-ca': Flags.string({ description: 'the CA that signs client certificates (PEM)', required: true }),
    crl: Flags.string({ description: 'a CRL file of that CA, reloaded when it changes (repeatable)', multiple: true }),
    'password-stdin': Flags.boolean({ description: 'read the master password from stdin (one trailing newline stripped)' }),
    lifetime: Flags.string({ description: 'how long the key stays (8h, 30m, 2d; at most 30d)', default: '8h' }),
    tls12: Flags.boolean({ description: 'also accept TLS 1.2 (for old clients)' }),
    store: Flags.string({ description: 'etcd://HOST:PORT[,HOST:PORT...][/PREFIX]: serve the vault kept in etcd, shared by several replicas (docs/ETCD.md)' }),
    'replica-id': Flags.string({ description: 'with --store: this replica’s id, naming its audit head in etcd (default: the host name and a digest of $GLASSDOME_HOME)' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Serve);
    await serveAction(
      {
        listen: flags.listen,
        cert: flags.cert,
        key: flags.key,
        clientCa: flags['client-ca'],
        crl: flags.crl ?? [],
        passwordStdin: flags['password-stdin'],
        lifetimeS: parseLifetime(flags.lifetime),
        tls12: flags.tls12,
        store: flags.store,
        replicaId: flags['replica-id'],
      },
      this.paths,
    );
  }
}
