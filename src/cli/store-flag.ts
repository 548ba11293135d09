// The `--store` flag of the admin commands that also work on a vault kept in etcd by serve
// replicas (token, ca revoke, audit verify): one definition, so they all say the same.

import { Flags } from '@oclif/core';

/** `--store etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`: work on the etcd store instead of $GLASSDOME_HOME. */
export const storeFlag = Flags.string({ description: 'the vault kept in etcd by serve replicas: etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (default: $GLASSDOME_HOME)' });
