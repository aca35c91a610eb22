  WITH consumed AS (
    UPDATE refresh_tokens r SET consumed_at = $3, successor_jti = $4
    FROM (
      SELECT t.ctid AS row_id, COALESCE($10::text, t.scope) AS granted_scope,
             date_trunc('second', t.family_created_at) + $8::int * interval '1 second' AS family_ends_at
      FROM refresh_tokens t
      JOIN clients c ON c.client_id = t.client_id
      LEFT JOIN users u ON u.id = t.user_id
      LEFT JOIN consents k ON k.user_id = t.user_id AND k.client_id = CASE WHEN c.first_party THEN NULL ELSE t.client_id END
      WHERE t.jti = $1 AND t.client_id = $2 AND NOT c.disabled
        AND (t.user_id IS NULL OR NOT u.disabled)
        AND (t.session_id IS NULL OR EXISTS (SELECT FROM sessions s WHERE s.id = t.session_id AND s.ended_at IS NULL FOR KEY SHARE))
        AND string_to_array(COALESCE($10::text, t.scope), ' ') <@ string_to_array(t.scope, ' ')
        AND string_to_array(COALESCE($10::text, t.scope), ' ') <@ c.scopes
        AND (t.user_id IS NULL OR string_to_array(COALESCE($10::text, t.scope), ' ') <@ ($9::text[] || u.scopes))
        AND (t.user_id IS NULL OR c.first_party OR string_to_array(COALESCE($10::text, t.scope), ' ') <@ k.scopes)
        AND (COALESCE($10::text, t.scope) <> '' OR t.scope = '')
        AND date_trunc('second', t.family_created_at) + $8::int * interval '1 second' > $3
        AND ($7::text[] IS NULL OR t.audience @> $7::text[])
    ) g
    WHERE r.ctid = g.row_id AND r.jti = $1 AND r.consumed_at IS NULL AND r.revoked_at IS NULL AND r.expires_at > $3
    RETURNING r.jti, r.family_id, r.user_id, r.client_id, r.audience, r.session_id, r.family_created_at, g.granted_scope, g.family_ends_at
  )
  INSERT INTO refresh_tokens (jti, family_id, user_id, client_id, scope, audience, kid, session_id, expires_at, family_created_at, parent_jti)
  SELECT $4, family_id, user_id, client_id, granted_scope, audience, $5, session_id, LEAST($6, family_ends_at), family_created_at, jti FROM consumed
  RETURNING family_id, audience, session_id, scope, extract(epoch FROM expires_at)::float8 AS expires_epoch
