//! arrears on the message bus, NATS JetStream. A lender's systems send payments on a stream
//! ([`payments_in`]); the rest of the bank hears what arrears decides as events on NATS
//! subjects and webhooks ([`events_out`]). The bus is an edge: whether a payment is good and what it does to the
//! book is decided in `arrears-app`, exactly as for the API and the import.

pub mod events_out;
pub mod payments_in;

/// Why reading from or writing to the bus stopped.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The NATS server could not be reached or refused a JetStream call.
    #[error("NATS: {what}: {detail}")]
    Nats {
        /// What was being done.
        what: String,
        /// What the client or the server said.
        detail: String,
    },
    /// A payment could not be booked because the database failed (nothing of the batch was
    /// acknowledged: the stream delivers it again).
    #[error(transparent)]
    Payment(#[from] arrears_app::payments::PaymentError),
    /// The events file is wrong.
    #[error("{path}: {detail}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong, naming the setting.
        detail: String,
    },
    /// An audit entry could not be written (nor was its change).
    #[error(transparent)]
    Audit(#[from] arrears_app::audit::AuditError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] arrears_store::StoreError),
    /// Re-evaluating the paid loans failed after their payments were committed (their marks
    /// stay: the next re-evaluation or the batch does it).
    #[error("re-evaluating the paid loans: {0}")]
    Refresh(#[from] arrears_app::batch::BatchError),
}

/// Makes sure a JetStream stream keeps what is sent on `subject` (a stream of its own, `name`,
/// if none does), so that nothing sent there is dropped for want of a listener.
pub(crate) async fn keep(
    js: &async_nats::jetstream::Context,
    subject: &str,
    name: &str,
) -> Result<(), BusError> {
    if js.stream_by_subject(subject).await.is_ok() {
        return Ok(());
    }
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: name.to_string(),
        subjects: vec![subject.to_string()],
        ..Default::default()
    })
    .await
    .map_err(nats(format!("a stream {name} on {subject}")))?;
    Ok(())
}

/// Turns a client error into a [`BusError`] saying what was being done.
pub(crate) fn nats<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> BusError {
    let what = what.into();
    move |e| BusError::Nats { what, detail: e.to_string() }
}
