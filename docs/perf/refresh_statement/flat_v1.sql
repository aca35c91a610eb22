  WITH consumed AS (
    UPDATE refresh_tokens r SET consumed_at = $3, successor_jti = $4
    FROM clients c, users u
    WHERE r.jti = $1 AND r.client_id = $2 AND c.client_id = $2 AND u.id = r.user_id
      AND r.consumed_at IS NULL AND r.revoked_at IS NULL AND r.expires_at > $3
      AND NOT c.disabled AND c.first_party AND NOT u.disabled
      AND (r.session_id IS NULL OR EXISTS (SELECT FROM sessions s WHERE s.id = r.session_id AND s.ended_at IS NULL FOR KEY SHARE))
      AND string_to_array(r.scope, ' ') <@ c.scopes
      AND string_to_array(r.scope, ' ') <@ ($9::text[] || u.scopes)
      AND date_trunc('second', r.family_created_at) + $8::int * interval '1 second' > $3
      AND ($7::text[] IS NULL OR r.audience @> $7::text[])
    RETURNING r.jti, r.family_id, r.user_id, r.client_id, r.scope, r.audience, r.session_id, r.family_created_at, r.auth_time, r.acr, r.amr,
              date_trunc('second', r.family_created_at) + $8::int * interval '1 second' AS family_ends_at
  )
  INSERT INTO refresh_tokens (jti, family_id, user_id, client_id, scope, audience, kid, session_id, expires_at, family_created_at, parent_jti, auth_time, acr, amr)
  SELECT $4, family_id, user_id, client_id, scope, audience, $5, session_id, LEAST($6, family_ends_at), family_created_at, jti, auth_time, acr, amr FROM consumed
  RETURNING family_id, user_id::text AS user_id, client_id, scope, audience, session_id,
            extract(epoch FROM expires_at)::float8 AS expires_epoch, extract(epoch FROM auth_time)::float8 AS auth_epoch, acr, amr
