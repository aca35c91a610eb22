#!/usr/bin/env node
// Runs tap, passes its output through, and ends with the plain "N passed, N failed" line CI reads.
// tap's own exit code is kept.
import { spawn } from 'node:child_process'

const child = spawn('npx', ['tap', ...process.argv.slice(2)], { stdio: ['ignore', 'pipe', 'inherit'] })
let tail = ''
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  tail = (tail + chunk.toString()).slice(-4096)
})
child.on('close', (code) => {
  const match = /# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/.exec(tail.replace(/\x1b\[[0-9;]*m/g, ''))
  const pass = match ? Number(match[2]) : 0
  const fail = match ? Number(match[3] ?? 0) : 1
  const failed = code !== 0 && fail === 0 ? 1 : fail
  console.log(`${pass} passed, ${failed} failed`)
  process.exit(code ?? 1)
})
