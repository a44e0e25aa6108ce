//! The dispatcher's results in one statement: each column bound as an array and joined back
//! by `UNNEST`, instead of one UPDATE round trip per message (the round trips held a pass on
//! PostgreSQL under 2,000 messages a second).

use crate::StoreError;
use crate::outbox::{Finish, Finished};

/// Records every result whose lease is still `owner`'s; returns the ids written.
pub(crate) async fn finish_all(
    conn: &mut sqlx::PgConnection,
    owner: &str,
    results: &[&Finished],
) -> Result<Vec<String>, StoreError> {
    let n = results.len();
    let (mut ids, mut attempts, mut statuses) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut providers, mut provider_ids, mut sent_ats) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut next_ats, mut subjects, mut bodies) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut fields, mut bidxs, mut errors) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for f in results {
        let (status, provider, provider_id, sent_at, next_at) = crate::outbox::columns(&f.finish);
        if f.finish == Finish::Unsettled {
            continue;
        }
        ids.push(f.message_id.as_str());
        attempts.push(f.attempts);
        statuses.push(status.as_str());
        providers.push(provider);
        provider_ids.push(provider_id);
        sent_ats.push(sent_at);
        next_ats.push(next_at);
        subjects.push(f.subject.as_str());
        bodies.push(f.body.as_str());
        fields.push(f.address_field);
        bidxs.push(f.address_bidx.as_str());
        errors.push(f.error.as_str());
    }
    let written: Vec<String> = sqlx::query_scalar(
        "UPDATE outbox o SET status = v.status, provider = COALESCE(v.provider, o.provider), \
         provider_id = COALESCE(v.provider_id, o.provider_id), sent_at = COALESCE(v.sent_at, o.sent_at), \
         next_attempt_at = v.next_at, subject = v.subject, body = v.body, address_field = v.field, \
         address_bidx = v.bidx, error = v.error, lease_owner = NULL, lease_until = NULL \
         FROM UNNEST($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[], \
                     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]) \
              AS v(message_id, attempts, status, provider, provider_id, sent_at, next_at, subject, body, field, bidx, error) \
         WHERE o.message_id = v.message_id AND o.status = 'sending' AND o.attempts = v.attempts \
         AND o.lease_owner = $13 RETURNING o.message_id",
    )
    .bind(&ids)
    .bind(&attempts)
    .bind(&statuses)
    .bind(&providers)
    .bind(&provider_ids)
    .bind(&sent_ats)
    .bind(&next_ats)
    .bind(&subjects)
    .bind(&bodies)
    .bind(&fields)
    .bind(&bidxs)
    .bind(&errors)
    .bind(owner)
    .fetch_all(&mut *conn)
    .await?;
    Ok(written)
}
