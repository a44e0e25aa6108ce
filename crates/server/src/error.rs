//! One error type for every handler. The API answers it as JSON, the pages as HTML; an
//! internal error is logged on stderr and never shown (it may hold SQL or paths).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

/// Why a request was not answered with what it asked for.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No valid session.
    #[error("请先登录 / log in first")]
    Unauthenticated,
    /// The role may not do this.
    #[error("您的角色无权执行此操作 / your role may not do this")]
    Forbidden,
    /// No such thing, or nothing the person may see.
    #[error("未找到 / not found")]
    NotFound,
    /// The request itself is wrong; the message says what and where.
    #[error("{0}")]
    BadRequest(String),
    /// One field of the request is wrong (422, the field named in the answer).
    #[error("{field}: {message}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The id is taken by something else (409, the first differing field named).
    #[error("{message}")]
    Conflict {
        /// The field that differs.
        field: &'static str,
        /// What the id already holds.
        message: String,
    },
    /// The form or call did not carry the session's CSRF token.
    #[error(
        "表单已过期，请刷新页面后重试 / the form has expired (CSRF token missing or wrong): reload the page and try again"
    )]
    Csrf,
    /// Too many failed logins.
    #[error("登录失败次数过多，请 {0} 秒后再试 / too many failed logins: try again in {0} s")]
    TooManyAttempts(u64),
    /// The contact policy refused a contact; the refusal was recorded.
    #[error("{}", .messages.join("\n"))]
    Refused {
        /// The recorded refusal.
        action_id: String,
        /// One line per rule.
        messages: Vec<String>,
    },
    /// Not now: the caller should send the same request again later.
    #[error("{0}")]
    Later(String),
    /// Something broke on our side.
    #[error("内部错误 / internal error")]
    Internal(String),
}

impl Error {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthenticated => StatusCode::UNAUTHORIZED,
            Error::Forbidden | Error::Csrf => StatusCode::FORBIDDEN,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::BadRequest(_) | Error::Field { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::Refused { .. } => StatusCode::CONFLICT,
            Error::Later(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Unauthenticated => "unauthenticated",
            Error::Forbidden => "forbidden",
            Error::NotFound => "not_found",
            Error::BadRequest(_) | Error::Field { .. } => "bad_request",
            Error::Conflict { .. } => "conflict",
            Error::Csrf => "csrf",
            Error::TooManyAttempts(_) => "too_many_attempts",
            Error::Refused { .. } => "refused",
            Error::Later(_) => "later",
            Error::Internal(_) => "internal",
        }
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> Error {
        Error::Internal(e.to_string())
    }

    fn log(&self) {
        if let Error::Internal(why) = self {
            eprintln!("arrears-server: internal error: {why}");
        }
    }
}

macro_rules! internal_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error::internal(e)
            }
        }
    )*};
}
internal_from!(
    arrears_store::StoreError,
    arrears_app::audit::AuditError,
    arrears_app::batch::treatment::TreatmentError,
    arrears_app::portfolio::ReportError,
    std::io::Error
);

impl From<arrears_app::personal::PersonalDataError> for Error {
    fn from(e: arrears_app::personal::PersonalDataError) -> Error {
        use arrears_app::personal::PersonalDataError as P;
        match e {
            P::Access(_)
            | P::UnknownRole(_)
            | P::UnknownAgency(_)
            | P::UnknownCollector(_)
            | P::People(_) => Error::BadRequest(e.to_string()),
            other => Error::internal(other),
        }
    }
}

/// The resolutions' use cases (arrangements, write-offs, transfers, legal) share one error:
/// an unknown case is 404, a closed case or bad input 422 with the reason, the rest internal.
impl From<arrears_app::arrangements::ArrangementError> for Error {
    fn from(e: arrears_app::arrangements::ArrangementError) -> Error {
        use arrears_app::arrangements::ArrangementError as A;
        match e {
            A::UnknownCase(_) => Error::NotFound,
            A::NotOpen(..) | A::Invalid(_) => Error::BadRequest(e.to_string()),
            other => Error::internal(other),
        }
    }
}

impl From<arrears_app::actions::ActionError> for Error {
    fn from(e: arrears_app::actions::ActionError) -> Error {
        use arrears_app::actions::ActionError as A;
        match e {
            A::Refused { action_id, messages } => Error::Refused { action_id, messages },
            A::UnknownCase(_) => Error::NotFound,
            A::Store(e) => Error::internal(e),
            A::Audit(e) => Error::internal(e),
            A::Policy(e) => Error::internal(e),
            // Reading the borrower's restrictions failed: the data, not the request, is wrong.
            A::Restrictions(e) => Error::internal(e),
            other => Error::BadRequest(other.to_string()),
        }
    }
}

impl From<arrears_app::channels::receipts::ReceiptError> for Error {
    fn from(e: arrears_app::channels::receipts::ReceiptError) -> Error {
        use arrears_app::channels::receipts::ReceiptError as R;
        match e {
            R::Invalid(_) => Error::BadRequest(e.to_string()),
            R::Unknown(_) => {
                // Logged: a provider reporting on messages we never sent is worth a look.
                eprintln!("arrears-server: receipt refused: {e}");
                Error::NotFound
            }
            R::NotYet(_) => Error::Later(e.to_string()),
            R::BadSignature => {
                eprintln!("arrears-server: receipt refused: {e}");
                Error::Unauthenticated
            }
            R::Store(e) => Error::internal(e),
            R::Audit(e) => Error::internal(e),
        }
    }
}

/// The error as the JSON API answers it: `{"error": code, "message": text}` (plus the
/// refusing rules of a refused contact).
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let mut body = json!({ "error": e.code(), "message": e.to_string() });
        if let Error::Refused { action_id, messages } = &e {
            body["action_id"] = json!(action_id);
            body["rules"] = json!(messages);
        }
        if let Error::Field { field, .. } | Error::Conflict { field, .. } = &e {
            body["field"] = json!(field);
        }
        let mut r = (e.status(), Json(body)).into_response();
        if let Error::TooManyAttempts(secs) = e
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// The error as a page: the login page for a missing session, else a short HTML page.
pub struct PageError(pub Error);

impl<E: Into<Error>> From<E> for PageError {
    fn from(e: E) -> PageError {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        if matches!(e, Error::Unauthenticated) {
            return Redirect::to("/login").into_response();
        }
        let markup = crate::pages::layout::error_page(e.status(), &e.to_string());
        (e.status(), markup).into_response()
    }
}
