/**
 * Crash-safe refresh under load (issue 11 item 18): two real Stamp processes (`node dist/server.js`)
 * on one database, 32 refresh clients rotating their families against both, one instance SIGKILLed
 * mid-load; each client whose request died retries the same token on the other instance.
 * Expected: 0 families lost (every family still refreshes at the end), 0 forks (every family has
 * exactly one live token, and every consumed row has exactly one successor), 0 reuse events and
 * nothing revoked. Refreshes that the killed instance committed but never answered are counted
 * from the database (consumed before the kill, answer never received): their retry must have
 * returned exactly the recorded successor. Kills repeat (the killed instance restarts) until at
 * least one such refresh was caught.
 *
 * Runs against dist/ (`npm run build` after changing src).
 *
 * @module
 */
import t from 'tap'
import { decodeJwt } from 'jose'
import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import pg from 'pg'
import { createTestDatabase } from '../helper.js'
import { freePort, ROOT } from '../fixtures/process.js'
import { generateKEKValue } from '../../src/crypto/kek.js'
import { generateClientSecret, hashClientSecret } from '../../src/domain/client_auth.js'
import { PasswordHasher } from '../../src/domain/passwords.js'
import { defaults } from '../../src/config/defaults.js'

const CHAINS = 32
const ROUNDS = 4
const LOAD_MS = 1200 // load on both instances before a kill
const AFTER_KILL_MS = 600 // load on the survivor after it
const ISSUER = 'http://stamp.crash'

const jtiOf = (token: string) => decodeJwt(token).jti as string
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Instance { base: string, proc: ChildProcess, log: () => string, up: boolean }

t.test('SIGKILL one of two instances under refresh load: no family lost, no fork, no false reuse', async (t) => {
  const url = await createTestDatabase(t)
  const kek = generateKEKValue()
  const secret = generateClientSecret()
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  await db.query(`INSERT INTO clients (client_id, name, secret_hash, first_party, grant_types, scopes, audiences, updated_at)
    VALUES ('crash', 'crash', $1, true, '{password,refresh_token}', '{read}', '{https://api.example.com}', now())`, [hashClientSecret(secret)])
  const passwordHash = await new PasswordHasher(defaults.argon2).hash('correct horse battery staple')
  await db.query(`INSERT INTO users (id, username, password_hash, scopes, updated_at) VALUES (gen_random_uuid(), 'crash', $1, '{read}', now())`, [passwordHash])
  const basic = 'Basic ' + Buffer.from(`crash:${secret}`).toString('base64')

  const start = async (): Promise<Instance> => {
    const port = await freePort()
    let output = ''
    const proc = spawn(process.execPath, [resolve(ROOT, 'dist/server.js')], {
      env: {
        PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: url, KEY_ENCRYPTION_KEY: kek, ISSUER,
        LOG_LEVEL: process.env.STAMP_TEST_LOG_LEVEL ?? 'warn', RATE_LIMIT_ENABLED: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    proc.stdout!.on('data', (d) => { output += d })
    proc.stderr!.on('data', (d) => { output += d })
    t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
    const base = `http://127.0.0.1:${port}`
    for (let i = 0; i < 300; i++) {
      if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode}):\n${output}`)
      try { if ((await fetch(`${base}/jwks`)).ok) return { base, proc, log: () => output, up: true } } catch {}
      await sleep(100)
    }
    throw new Error(`server at ${base} did not start:\n${output}`)
  }
  // One after the other: the first creates the keys.
  const instances: Instance[] = [await start(), await start()]

  const post = (instance: Instance, form: Record<string, string>) => fetch(`${instance.base}/token`, {
    method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form),
  })
  const chains = await Promise.all(Array.from({ length: CHAINS }, async (_, i) => {
    const res = await post(instances[i % 2], { grant_type: 'password', username: 'crash', password: 'correct horse battery staple' })
    t.equal(res.status, 200)
    return { token: ((await res.json()) as { refresh_token: string }).refresh_token, home: i % 2 }
  }))

  const lost: string[] = []
  const anomalies: string[] = []
  /** Requests that died with their instance: the presented jti, what the retry got, and when. */
  const died: Array<{ presented: string, retried?: string }> = []
  let refreshes = 0
  let running = true

  // A client: refreshes its family in a loop; a request that dies is retried on the other instance.
  const client = async (chain: typeof chains[number]) => {
    // A death stays pending until the token is answered: when the retry dies too (the survivor
    // slow or killed in turn), the next attempt is still that death's retry.
    let death: typeof died[number] | undefined
    while (running) {
      const order = [chain.home, 1 - chain.home].filter((i) => instances[i].up)
      let done = false
      for (const index of order) {
        let res: Response
        try {
          res = await post(instances[index], { grant_type: 'refresh_token', refresh_token: chain.token })
        } catch {
          if (!death) { death = { presented: jtiOf(chain.token) }; died.push(death) }
          continue // the instance died under us: the same token, on the other one
        }
        const body = await res.json() as { refresh_token?: string, error?: string, error_description?: string }
        if (res.status === 200 && body.refresh_token) {
          if (death) death.retried = jtiOf(body.refresh_token)
          death = undefined
          chain.token = body.refresh_token
          refreshes++
          done = true
        } else {
          lost.push(`${res.status} ${body.error}: ${body.error_description}`)
          return
        }
        break
      }
      if (!done) {
        if (order.length === 0) anomalies.push('no instance up')
        await sleep(20)
      }
    }
  }

  const loops = chains.map(client)
  const caught = async (judge: boolean) => {
    // Killed with the answer lost: consumed in the database, yet the client saw the request die.
    // Retries are judged once every client has stopped: mid-run, on a busy machine, a retry may
    // still be waiting for the survivor's answer.
    let count = 0
    for (const d of died) {
      const { rows: [row] } = await db.query<{ consumed_at: Date | null, successor_jti: string | null }>('SELECT consumed_at, successor_jti FROM refresh_tokens WHERE jti = $1', [d.presented])
      if (!row.consumed_at) continue
      count++
      if (judge && d.retried !== row.successor_jti) anomalies.push(`retry of ${d.presented} got ${d.retried}, the recorded successor is ${row.successor_jti}`)
    }
    return count
  }
  let committedUnanswered = 0
  for (let round = 0; round < ROUNDS && committedUnanswered === 0; round++) {
    await sleep(LOAD_MS)
    const victim = round % 2
    instances[victim].up = false
    instances[victim].proc.kill('SIGKILL')
    await sleep(AFTER_KILL_MS)
    committedUnanswered = await caught(false)
    if (round + 1 < ROUNDS && committedUnanswered === 0) instances[victim] = await start()
  }
  running = false
  await Promise.all(loops)
  committedUnanswered = await caught(true)

  t.same(lost, [], '0 families lost during the run')
  t.same(anomalies, [], 'every retry of a committed refresh got the recorded successor')
  t.ok(refreshes > CHAINS, `${refreshes} refreshes, ${died.length} requests died with an instance`)
  t.ok(committedUnanswered > 0, `${committedUnanswered} refreshes were committed by the killed instance and never answered`)

  // Every family still refreshes on the survivor.
  const survivor = instances.find((i) => i.up)!
  for (const chain of chains) {
    const res = await post(survivor, { grant_type: 'refresh_token', refresh_token: chain.token })
    if (res.status !== 200) lost.push(`final refresh: ${res.status} ${await res.text()}`)
  }
  t.same(lost, [], '0 families lost')

  // No forks: one live token per family; each consumed row names exactly one successor, and every
  // token but the first is the successor of exactly one consumed row.
  const { rows: families } = await db.query<{ family_id: string, rows: number, live: number, consumed: number, named: number, orphans: number }>(`
    SELECT f.family_id, count(*)::int AS rows,
           count(*) FILTER (WHERE consumed_at IS NULL AND revoked_at IS NULL)::int AS live,
           count(*) FILTER (WHERE consumed_at IS NOT NULL)::int AS consumed,
           count(*) FILTER (WHERE successor_jti IS NOT NULL)::int AS named,
           count(*) FILTER (WHERE created_at > f.started AND jti NOT IN (SELECT successor_jti FROM refresh_tokens s WHERE s.family_id = f.family_id AND s.successor_jti IS NOT NULL))::int AS orphans
    FROM refresh_tokens JOIN (SELECT family_id, min(created_at) AS started FROM refresh_tokens GROUP BY family_id) f USING (family_id)
    GROUP BY f.family_id`)
  t.equal(families.length, CHAINS)
  t.same(families.filter((f) => f.live !== 1 || f.consumed !== f.rows - 1 || f.named !== f.consumed || f.orphans !== 0), [], '0 forks')
  const { rows: [reuse] } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events WHERE type = 'refresh_token_reuse'")
  t.equal(reuse.n, 0, '0 reuse events')
  const { rows: [revoked] } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM refresh_tokens WHERE revoked_at IS NOT NULL')
  t.equal(revoked.n, 0, 'nothing revoked')
  t.comment(`${refreshes} refreshes; ${died.length} requests died with an instance; ${committedUnanswered} of them had been committed`)
})
