/**
 * The console's pages: one file each under ./pages, listed here once. The navigation, the
 * document title and the router all read this table, so a new page (say, upstream identity
 * providers) is one file and one line.
 *
 * @module
 */
import type { FunctionComponent } from 'preact'
import type { Principal } from './auth.js'
import { OverviewPage } from './pages/overview.js'
import { ClientsPage } from './pages/clients.js'
import { UsersPage } from './pages/users.js'
import { InvitesPage } from './pages/invites.js'
import { IdentityProvidersPage } from './pages/identity_providers.js'
import { SessionsPage } from './pages/sessions.js'
import { KeysPage } from './pages/keys.js'
import { AuditPage } from './pages/audit.js'
import { ConfigPage } from './pages/config.js'

export interface PageProps {
  url: URL
  me: Principal
}

export interface Route {
  path: string
  title: string
  page: FunctionComponent<PageProps>
}

export const ROUTES: readonly Route[] = [
  { path: '/', title: 'Overview', page: OverviewPage },
  { path: '/clients', title: 'Clients', page: ClientsPage },
  { path: '/users', title: 'Users', page: UsersPage },
  { path: '/invites', title: 'Invitations', page: InvitesPage },
  { path: '/identity-providers', title: 'Identity providers', page: IdentityProvidersPage },
  { path: '/sessions', title: 'Sessions', page: SessionsPage },
  { path: '/keys', title: 'Signing keys', page: KeysPage },
  { path: '/audit', title: 'Audit trail', page: AuditPage },
  { path: '/config', title: 'Configuration', page: ConfigPage },
]
