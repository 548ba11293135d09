#!/bin/sh
# The whole of glassdome once, in a temporary home: agent, init, unlock, set, get, list, exec
# with a Python child reading its secrets from fd 3, status, rm, lock. Leaves nothing behind.
set -eu
cd "$(dirname "$0")/.."
demo=$(mktemp -d)
export GLASSDOME_HOME="$demo/home" XDG_RUNTIME_DIR="$demo/run"
mkdir -m 700 "$XDG_RUNTIME_DIR"
unset GLASSDOME_AUTH_SOCK GLASSDOME_AGENT_PID
glassdome() { node bin/run.js "$@"; }
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
cleanup() { glassdome agent -k >/dev/null 2>&1 || true; rm -rf "$demo"; }
trap cleanup EXIT

step 'eval "$(glassdome agent)"'
eval "$(glassdome agent)"
echo "agent pid $GLASSDOME_AGENT_PID on $GLASSDOME_AUTH_SOCK"

step "printf %s 'demo password' | glassdome init --password-stdin"
printf %s 'demo password' | glassdome init --password-stdin

step "printf %s 'demo password' | glassdome unlock --password-stdin"
printf %s 'demo password' | glassdome unlock --password-stdin

step "printf %s 'hunter2' | glassdome set proxmox_password"
printf %s 'hunter2' | glassdome set proxmox_password
printf %s 's3cr3t-t0ken' | glassdome set api_token

step 'glassdome get proxmox_password'
glassdome get proxmox_password

step 'glassdome list'
glassdome list

step 'glassdome exec -- python3 (reads fd 3; its environment holds no secret)'
glassdome exec -- /usr/bin/python3 -c '
import json, os
fd = int(os.environ["GLASSDOME_SECRETS_FD"])
with os.fdopen(fd) as f:
    secrets = json.load(f)
print("child got", sorted(secrets), "from fd", fd)
print("secret in env:", any("hunter2" in v for v in os.environ.values()))'

step 'glassdome exec -- cat {{glassdome:api_token}}'
glassdome exec -- cat '{{glassdome:api_token}}'
echo

step 'glassdome status'
glassdome status

step 'glassdome rm proxmox_password && glassdome lock'
glassdome rm proxmox_password
glassdome lock

step 'glassdome get api_token   # locked: exit 4'
glassdome get api_token || echo "exit status $?"
