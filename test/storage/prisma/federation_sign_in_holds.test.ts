/**
 * What federation picks up after every sign-in (a pending link of the request, an upstream ID
 * Token held for its session), taken in one statement on the pool or through Prisma: single use,
 * expired ones taken but not returned, neither found: nothing.
 *
 * @module
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { spiedStoreDatabase } from '../../helper.js'
import { prismaFederationStore } from '../../../src/storage/prisma/federation.js'
import { prismaUserStore } from '../../../src/storage/prisma/users.js'
import { USERNAME_FORMS } from '../../../src/domain/usernames.js'

t.test('a sign-in takes its pending link and its held upstream token in one statement', async (t) => {
  const { pool, prisma, spy, seen } = await spiedStoreDatabase(t)
  const user = await prismaUserStore(prisma, spy, USERNAME_FORMS).create({ username: 'gina', passwordHash: 'h', scopes: ['read'], email: 'g@example.com' } as never)
  const providerId = randomUUID()
  await pool.query(`INSERT INTO identity_providers (id, slug, display_name, kind, client_id, auth_method, scope, updated_at)
    VALUES ($1, 'up', 'Upstream', 'oidc', 'c', 'client_secret_basic', 'openid', now())`, [providerId])
  const soon = new Date(Date.now() + 600_000)
  const past = new Date(Date.now() - 1_000)
  const link = (requestId: string, expiresAt = soon) => ({ id: randomUUID(), browserHash: 'b'.repeat(43), requestId, providerId, subject: 'sub-1', email: 'g@example.com', userId: user.id, expiresAt })
  const state = (stateHash: string, requestId: string, expiresAt = soon) => ({ stateHash, purpose: 'session' as const, browserHash: 'b'.repeat(43), requestId, providerId, nonce: null, codeVerifier: null, returnTo: null, idTokenEnc: 'sealed', expiresAt })
  const left = async () => (await pool.query('SELECT (SELECT count(*)::int FROM federation_pending_links) AS links, (SELECT count(*)::int FROM federation_states) AS states')).rows[0]

  for (const [via, store] of [['pool', prismaFederationStore(prisma, spy)], ['Prisma', prismaFederationStore(prisma)]] as const) {
    const before = seen.length
    const both = randomUUID()
    const pending = link(both)
    await store.createPendingLink(pending)
    await store.createState(state(`h-${both}`, both))
    const now = new Date()
    t.same(await store.takeSignInHolds(both, 'b'.repeat(43), `h-${both}`, now), { pendingLink: pending, held: state(`h-${both}`, both) }, `${via}: both, as stored`)
    if (via === 'pool') t.equal(seen.length - before, 1, 'one statement on the pool')
    t.same(await left(), { links: 0, states: 0 }, `${via}: both taken`)
    t.same(await store.takeSignInHolds(both, 'b'.repeat(43), `h-${both}`, now), { pendingLink: null, held: null }, `${via}: single use`)

    const other = randomUUID()
    await store.createPendingLink(link(other))
    t.same(await store.takeSignInHolds(other, 'c'.repeat(43), `h-${other}`, now), { pendingLink: null, held: null }, `${via}: another browser's link is not taken`)
    t.same(await left(), { links: 1, states: 0 })
    t.match(await store.takeSignInHolds(other, 'b'.repeat(43), `h-${other}`, now), { pendingLink: { requestId: other }, held: null }, `${via}: the link alone`)
    await store.createState(state(`h-${other}`, other))
    t.match(await store.takeSignInHolds(other, 'b'.repeat(43), `h-${other}`, now), { pendingLink: null, held: { stateHash: `h-${other}`, idTokenEnc: 'sealed' } }, `${via}: the held token alone`)

    const stale = randomUUID()
    await store.createPendingLink(link(stale, past))
    await store.createState(state(`h-${stale}`, stale, past))
    t.same(await store.takeSignInHolds(stale, 'b'.repeat(43), `h-${stale}`, now), { pendingLink: null, held: null }, `${via}: expired ones count as none`)
    t.same(await left(), { links: 0, states: 0 }, `${via}: and are taken all the same`)
  }
})
