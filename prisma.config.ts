import { defineConfig } from 'prisma/config'

// Used by the prisma CLI only; the app passes its own adapter to PrismaClient.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/stamp' },
})
