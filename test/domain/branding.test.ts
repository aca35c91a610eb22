import t from 'tap'
import { brandCSS, buildBranding, contrast, withContrast } from '../../src/domain/branding.js'

t.test('derived colours keep WCAG contrast on the card in both schemes', async (t) => {
  for (const primary of ['#ffeb3b', '#00ff00', '#3d5afe', '#111111', '#ffffff', '#e91e63', '#808080', '#ff9800']) {
    const css = brandCSS(primary)
    const [light, dark] = [...css.matchAll(/:root\{([^}]*)\}/g)].map((m) => Object.fromEntries(m[1].split(';').map((d) => d.split(':'))))
    t.ok(contrast(light['--link'], '#ffffff') >= 4.5, `${primary}: link on light card`)
    t.ok(contrast(dark['--link'], '#181c22') >= 4.5, `${primary}: link on dark card`)
    t.ok(contrast(light['--accent-ink'], light['--accent']) >= 4.5, `${primary}: button text on the accent (light)`)
    t.ok(contrast(dark['--accent-ink'], dark['--accent']) >= 4.5, `${primary}: button text on the accent (dark)`)
  }
  t.equal(withContrast('#000000', '#ffffff', 4.5), '#000000', 'an already readable colour is kept')
})

t.test('the stylesheet and logo are versioned by content', async (t) => {
  const plain = buildBranding({ productName: 'Stamp' }, 'body{}')
  const branded = buildBranding({ productName: 'Acme', primaryColor: '#e91e63' }, 'body{}')
  t.not(plain.stylesheet, branded.stylesheet)
  t.match(branded.assets.get('stamp.css')!.body.toString(), /--accent:/)
  t.equal(plain.logo, undefined)
  const file = buildBranding({ productName: 'Acme', logoFile: { body: Buffer.from('<svg/>'), type: 'image/svg+xml' } }, '')
  t.match(file.logo!, /^\/assets\/logo\?v=/)
  t.same(file.imageOrigins, [])
  const remote = buildBranding({ productName: 'Acme', logoUrl: 'https://cdn.example/logo.png' }, '')
  t.equal(remote.logo, 'https://cdn.example/logo.png')
  t.same(remote.imageOrigins, ['https://cdn.example'])
})
