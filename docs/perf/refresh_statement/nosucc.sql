
  WITH target AS (
    SELECT t.ctid AS row_id, t.jti, t.family_id, t.user_id, t.client_id, t.scope, t.audience, t.kid, t.session_id,
           t.expires_at, t.created_at, t.consumed_at, t.revoked_at, t.family_created_at, t.successor_jti,
           (t.user_id IS NULL OR (u.id IS NOT NULL AND NOT u.disabled)) AS user_active,
           (c.client_id IS NOT NULL AND NOT c.disabled) AS client_active,
           (t.session_id IS NULL OR COALESCE(
             (SELECT s.ended_at IS NULL FROM sessions s WHERE s.id = t.session_id FOR KEY SHARE), false)) AS session_active,
           date_trunc('second', t.family_created_at) + $8::int * interval '1 second' AS family_ends_at,
           CASE WHEN string_to_array(t.scope, ' ') <@ c.scopes
                 AND (t.user_id IS NULL OR string_to_array(t.scope, ' ') <@ ($9::text[] || u.scopes))
                 AND (t.user_id IS NULL OR c.first_party OR string_to_array(t.scope, ' ') <@
                      (SELECT k.scopes FROM consents k WHERE k.user_id = t.user_id AND k.client_id = t.client_id))
             THEN t.scope
             ELSE array_to_string(ARRAY(
               SELECT g.s FROM unnest(string_to_array(t.scope, ' ')) WITH ORDINALITY AS g(s, i)
               WHERE g.s = ANY (c.scopes)
                 AND (t.user_id IS NULL OR g.s = ANY ($9::text[]) OR g.s = ANY (u.scopes))
                 AND (t.user_id IS NULL OR c.first_party OR ARRAY[g.s] <@
                      (SELECT k.scopes FROM consents k WHERE k.user_id = t.user_id AND k.client_id = t.client_id))
               ORDER BY g.i), ' ')
           END AS granted_scope
    FROM refresh_tokens t
    LEFT JOIN users u ON u.id = t.user_id
    LEFT JOIN clients c ON c.client_id = t.client_id
    WHERE t.jti = $1
  ), consumed AS (
    UPDATE refresh_tokens r SET consumed_at = $3, successor_jti = $4
    FROM target
    WHERE r.ctid = target.row_id AND r.jti = $1 AND target.client_id = $2 AND target.user_active AND target.client_active AND target.session_active
      AND (target.granted_scope <> '' OR target.scope = '') AND target.family_ends_at > $3
      AND ($7::text[] IS NULL OR target.audience @> $7::text[])
      AND r.consumed_at IS NULL AND r.revoked_at IS NULL AND r.expires_at > $3
    RETURNING r.jti, r.family_id, r.user_id, r.client_id, r.audience, r.session_id, r.family_created_at, target.granted_scope, target.family_ends_at
  ), successor AS (
    INSERT INTO refresh_tokens (jti, family_id, user_id, client_id, scope, audience, kid, session_id, expires_at, family_created_at, parent_jti)
    SELECT $4, family_id, user_id, client_id, granted_scope, audience, $5, session_id, LEAST($6, family_ends_at), family_created_at, jti FROM consumed
    RETURNING scope, expires_at
  )
  SELECT target.jti, target.family_id, target.user_id::text AS user_id, target.client_id, target.scope, target.audience, target.kid, target.session_id,
         extract(epoch FROM target.expires_at)::float8 AS expires_epoch, extract(epoch FROM target.created_at)::float8 AS created_epoch,
         extract(epoch FROM target.consumed_at)::float8 AS consumed_epoch, extract(epoch FROM target.revoked_at)::float8 AS revoked_epoch,
         target.user_active, target.client_active, target.session_active, target.granted_scope, target.family_ends_at <= $3 AS family_ended,
         target.successor_jti, n.kid AS successor_kid, n.scope AS successor_scope,
         extract(epoch FROM n.expires_at)::float8 AS successor_expires_epoch,
         (n.consumed_at IS NULL AND n.revoked_at IS NULL AND n.expires_at > $3) AS successor_live,
         s.scope AS new_scope, extract(epoch FROM s.expires_at)::float8 AS new_expires_epoch, (s.scope IS NOT NULL) AS rotated
  FROM target LEFT JOIN successor s ON TRUE LEFT JOIN (SELECT NULL::text kid, NULL::text scope, NULL::timestamptz expires_at, NULL::timestamptz consumed_at, NULL::timestamptz revoked_at) n ON true