/**
 * Branding of the hosted pages: product name, logo and primary colour (BRAND_* settings).
 *
 * The colour reaches the pages through CSS custom properties appended to the one served
 * stylesheet (`/assets/stamp.css`), never through inline styles, so the pages' CSP stays
 * `style-src 'self'`. Colours derived from it are chosen for contrast (WCAG 2.2 §1.4.3: 4.5:1 for
 * text: button labels on the colour, links and focused borders on the card), in light and dark
 * colour schemes alike, so a brand colour cannot make a page fail an accessibility check.
 *
 * @module
 */
import { createHash } from 'node:crypto'

export interface BrandSettings {
  /** Shown in titles, the header and mails. */
  productName: string
  /** An absolute http(s) URL of the logo, or undefined. */
  logoUrl?: string
  /** A logo file served at /assets/logo: its bytes and media type. */
  logoFile?: { body: Buffer, type: string }
  /** `#rrggbb`. */
  primaryColor?: string
}

export interface StaticAsset {
  type: string
  body: Buffer
  /** Strong validator and cache-busting version (a prefix of the SHA-256 of the body). */
  etag: string
}

export interface Branding {
  productName: string
  /** The logo's URL relative to the issuer (`/assets/logo?v=…`) or absolute; undefined: the initial of the name. */
  logo?: string
  /** Origins the CSP must allow in `img-src` for the logo (besides 'self'). */
  imageOrigins: string[]
  /** The stylesheet's path relative to the issuer, versioned by its hash. */
  stylesheet: string
  /** Files served under /assets/ by name. */
  assets: Map<string, StaticAsset>
}

/** Media types accepted for BRAND_LOGO_FILE, by extension. */
export const LOGO_TYPES: Record<string, string> = {
  '.png': 'image/png', '.svg': 'image/svg+xml', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif',
}

export function asset (type: string, body: Buffer | string): StaticAsset {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  return { type, body: bytes, etag: createHash('sha256').update(bytes).digest('base64url').slice(0, 16) }
}

type RGB = [number, number, number]

function parseHex (hex: string): RGB {
  const n = Number.parseInt(hex.slice(1), 16)
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255]
}

function toHex ([r, g, b]: RGB): string {
  return '#' + [r, g, b].map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')
}

/** WCAG 2.2 relative luminance. */
function luminance (rgb: RGB): number {
  const [r, g, b] = rgb.map((c) => {
    const s = c / 255
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
  })
  return 0.2126 * r + 0.7152 * g + 0.0722 * b
}

export function contrast (a: string, b: string): number {
  const [x, y] = [luminance(parseHex(a)), luminance(parseHex(b))].sort((p, q) => q - p)
  return (x + 0.05) / (y + 0.05)
}

function mix (color: RGB, toward: RGB, amount: number): RGB {
  return color.map((c, i) => c + (toward[i] - c) * amount) as RGB
}

/** `color`, moved toward black or white in small steps until it has `ratio` against `background`. */
export function withContrast (color: string, background: string, ratio: number): string {
  const target: RGB = luminance(parseHex(background)) > 0.5 ? [0, 0, 0] : [255, 255, 255]
  for (let step = 0; step <= 20; step++) {
    const candidate = toHex(mix(parseHex(color), target, step / 20))
    if (contrast(candidate, background) >= ratio) return candidate
  }
  return toHex(target)
}

/** Pages' card backgrounds in the light and dark schemes (assets/pages/stamp.css). */
const CARD = { light: '#ffffff', dark: '#181c22' }

function palette (primary: string, card: string): string {
  // Button text: whichever of white and near-black reads better on the colour; the button's
  // colour then moves away from the text until the pair has 4.5:1.
  const ink = contrast('#ffffff', primary) >= contrast('#0b0d10', primary) ? '#ffffff' : '#0b0d10'
  const accent = withContrast(primary, ink, 4.5)
  const rgb = parseHex(accent)
  const hover = toHex(mix(rgb, ink === '#ffffff' ? [0, 0, 0] : [255, 255, 255], 0.15))
  // Links and focused borders sit on the card: 4.5:1 against it.
  return `--accent:${accent};--accent-ink:${ink};--accent-hover:${hover};--focus:rgba(${rgb.join(',')},.4);--link:${withContrast(primary, card, 4.5)}`
}

/** The custom properties that put `primary` on the pages (light and dark schemes). */
export function brandCSS (primary: string): string {
  return `\n/* BRAND_PRIMARY_COLOR ${primary} */\n:root{${palette(primary, CARD.light)}}\n` +
    `@media (prefers-color-scheme:dark){:root{${palette(primary, CARD.dark)}}}\n`
}

export function buildBranding (settings: BrandSettings, baseCSS: string): Branding {
  const assets = new Map<string, StaticAsset>()
  const css = asset('text/css; charset=utf-8', baseCSS + (settings.primaryColor ? brandCSS(settings.primaryColor) : ''))
  assets.set('stamp.css', css)
  let logo: string | undefined
  const imageOrigins: string[] = []
  if (settings.logoFile) {
    const file = asset(settings.logoFile.type, settings.logoFile.body)
    assets.set('logo', file)
    logo = `/assets/logo?v=${file.etag}`
  } else if (settings.logoUrl) {
    logo = settings.logoUrl
    imageOrigins.push(new URL(settings.logoUrl).origin)
  }
  return { productName: settings.productName, logo, imageOrigins, stylesheet: `/assets/stamp.css?v=${css.etag}`, assets }
}
