/**
 * Prints the README's configuration table from the environment schema, so the documentation
 * cannot drift from what the server validates (`npm run docs:config`).
 *
 * @module
 */
import { envSchemaDefinition } from '../src/config/env.js'

export function configTable (): string {
  const rows = Object.entries(envSchemaDefinition.properties).map(([name, prop]) => {
    const p = prop as { default?: unknown, description: string }
    const value = p.default === undefined ? '—' : `\`${String(p.default)}\``
    return `| \`${name}\` | ${value} | ${p.description} |`
  })
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(configTable())
