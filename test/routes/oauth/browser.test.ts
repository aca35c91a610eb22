import t from 'tap'
import type { FastifyReply } from 'fastify'
import { CookieJar, parseCookies } from '../../../src/routes/oauth/browser.js'

function fakeReply () {
  const set: string[] = []
  return { set, reply: { header: (name: string, value: string) => { if (name === 'set-cookie') set.push(value) } } as unknown as FastifyReply }
}

t.test('cookies are Secure on an https issuer and scoped to its path', async (t) => {
  const { set, reply } = fakeReply()
  new CookieJar('https://id.example.com/auth').set(reply, 'stamp_session', 'v')
  t.same(set, ['stamp_session=v; Path=/auth; HttpOnly; SameSite=Lax; Secure'])
})

t.test('http issuer: no Secure; clearing sets Max-Age=0', async (t) => {
  const { set, reply } = fakeReply()
  const jar = new CookieJar('http://localhost:4000')
  jar.set(reply, 'a', 'b')
  jar.clear(reply, 'a')
  t.same(set, ['a=b; Path=/; HttpOnly; SameSite=Lax', 'a=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax'])
})

t.test('parseCookies', async (t) => {
  t.same({ ...parseCookies('a=1; b="2"; a=3; junk; =x') }, { a: '1', b: '2' })
  t.same({ ...parseCookies(undefined) }, {})
})
