#!/usr/bin/env node
// Runs tap, passes its output through, and ends with the plain "N passed, N failed" line CI reads.
// tap's own exit code is kept.
//
// First, tap's Test class is rebuilt when it was not built with package.json's plugin list (a
// fresh `npm ci` ships the default one, with @tapjs/typescript). tap rebuilds it itself, but only
// after its runner has loaded the old one, so on a clean clone every test process still got the
// ts-node loader besides tsx, and coverage was collected: the admin authorization suite took 27 s
// of CPU instead of 8.5 s, and the suite 1,500 s instead of ~700 s.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { TapConfig } from '@tapjs/config'

function npx (args, stdio) {
  return spawn('npx', args, { stdio })
}

const built = readFileSync(fileURLToPath(import.meta.resolve('@tapjs/test/test-built')), 'utf8')
const wanted = (await TapConfig.load()).pluginSignature
if (/export const signature = `([^`]*)`/.exec(built)?.[1].trim() !== wanted) {
  const code = await new Promise((resolve) => npx(['tap', 'build'], ['ignore', 'ignore', 'inherit']).on('close', resolve))
  if (code !== 0) {
    console.log('0 passed, 1 failed')
    process.exit(1)
  }
}

const child = npx(['tap', ...process.argv.slice(2)], ['ignore', 'pipe', 'inherit'])
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
