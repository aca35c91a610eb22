/**
 * `stamp purge [--json]`, run as the real command (`node dist/cli/index.js`) against a test
 * database: one pass, rows removed per table, audited; refused while another instance purges.
 *
 * Runs against dist/ (build first, as for the other CLI tests).
 *
 * @module
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createTestDatabase } from '../helper.js'
import { generateKEKValue } from '../../src/crypto/kek.js'

const CLI = resolve(fileURLToPath(import.meta.url), '../../../dist/cli/index.js')

interface Result { code: number, stdout: string, stderr: string, json: any }

function stamp (args: string[], env: Record<string, string>): Promise<Result> {
  return new Promise((res) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) => {
      let json: unknown
      try { json = JSON.parse(stdout) } catch {}
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr, json })
    })
  })
}

t.test('stamp purge removes dead rows and reports them per table', async (t) => {
  const url = await createTestDatabase(t)
  const env = { DATABASE_URL: url, KEY_ENCRYPTION_KEY: generateKEKValue(), AUDIT_RETENTION_DAYS: '30' }
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  // One family rotated five times, as the refresh statement leaves it: each successor names its parent.
  await db.query(`INSERT INTO refresh_tokens (jti, family_id, client_id, scope, kid, expires_at, consumed_at, created_at, parent_jti)
                  SELECT 'c' || g, 'f', 'c', 'read', 'k', now() + interval '1 day',
                         CASE WHEN g <= 5 THEN now() - interval '2 hours' END,
                         now() - interval '3 hours' + g * interval '10 minutes', CASE WHEN g > 1 THEN 'c' || (g - 1) END
                  FROM generate_series(1, 6) g`)
  await db.query(`INSERT INTO audit_events (type, created_at) VALUES ('old', now() - interval '31 days'), ('new', now())`)

  const json = await stamp(['purge', '--json'], env)
  t.equal(json.code, 0, json.stderr)
  t.same(json.json, {
    removed: { refresh_tokens: 5, sessions: 0, authorization_codes: 0, authorization_requests: 0, pushed_authorization_requests: 0, used_jtis: 0, device_authorizations: 0, webauthn_challenges: 0, account_tokens: 0, federation_states: 0, federation_pending_links: 0, audit_events: 1 },
    batches: json.json?.batches, complete: true, duration_ms: json.json?.duration_ms,
  })
  t.ok(json.json.batches >= 8, 'one batch per kind at least')
  const { rows } = await db.query(`SELECT actor, detail FROM audit_events WHERE type = 'retention_purged'`)
  t.match(rows, [{ actor: 'cli', detail: { removed: { refresh_tokens: 5, audit_events: 1 } } }], 'the pass is audited as the CLI')
  t.equal((await db.query('SELECT count(*)::int AS n FROM refresh_tokens')).rows[0].n, 1, 'the live token stays')

  const text = await stamp(['purge'], env)
  t.equal(text.code, 0)
  t.match(text.stdout, /refresh_tokens\s+0/)
  t.match(text.stdout, /statements in \d+ ms/)

  // Another instance holds the purge lock: nothing is done, and the operator is told.
  await db.query('SELECT pg_advisory_lock($1)', [0x5354_5047])
  const busy = await stamp(['purge', '--json'], env)
  t.equal(busy.code, 1)
  t.match(busy.stderr, /another instance is running a retention pass/)
  t.equal(busy.stdout, '')
  await db.query('SELECT pg_advisory_unlock($1)', [0x5354_5047])
})
