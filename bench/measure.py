#!/usr/bin/python3
"""Whole-process timing for `npm run bench`: wall time and peak RSS of commands, run
interleaved (one run of each command per round, so machine drift hits every command alike),
after warm-up rounds. Peak RSS comes from wait4's rusage, which Node cannot read for a child.

Every command runs without NODE_EXTRA_CA_CERTS, as on a user's machine: the build machines set
it for npm, and it adds ~70 ms to every Node start, which would flatter every ratio to node -e 0.

Input (argv[1], JSON): {"rounds": N, "warmup": W, "commands": [{"name", "argv", "env"?, "stdin"?}]}
Output (stdout, JSON): {name: {"wall_ms": [...], "rss_kib": [...], "exit": [...]}}
"""
import json
import os
import sys
import time


def run(cmd):
    stdin = None
    if cmd.get("stdin") is not None:
        r, w = os.pipe()
        os.write(w, cmd["stdin"].encode())
        os.close(w)
        stdin = r
    env = dict(os.environ, **cmd.get("env", {}))
    env.pop("NODE_EXTRA_CA_CERTS", None)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open("/dev/null", os.O_RDWR)
            os.dup2(stdin if stdin is not None else devnull, 0)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.execvpe(cmd["argv"][0], cmd["argv"], env)
        finally:
            os._exit(127)
    if stdin is not None:
        os.close(stdin)
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter() - start) * 1000
    return wall, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def main():
    spec = json.loads(sys.argv[1])
    out = {c["name"]: {"wall_ms": [], "rss_kib": [], "exit": []} for c in spec["commands"]}
    for round_ in range(spec["warmup"] + spec["rounds"]):
        for cmd in spec["commands"]:
            wall, rss, code = run(cmd)
            if round_ >= spec["warmup"]:
                out[cmd["name"]]["wall_ms"].append(round(wall, 3))
                out[cmd["name"]]["rss_kib"].append(rss)
                out[cmd["name"]]["exit"].append(code)
    json.dump(out, sys.stdout)


main()
