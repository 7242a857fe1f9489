//! `/v1/auth/*`: login, refresh, logout, me, password change, and password reset by code.

use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{Access, Caller, Routes};
use crate::body::JsonBody;
use crate::{ApiError, AppState, FieldError};

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct LoginBody {
    /// Email, username, phone or service number.
    identifier: String,
    /// The password.
    password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct RefreshBody {
    /// The refresh token of the session.
    refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ChangePasswordBody {
    /// The password now.
    current_password: String,
    /// The new password: 8 to 256 characters.
    new_password: String,
    /// The new password again.
    new_password_confirmation: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ForgotBody {
    /// Email, username, phone or service number.
    identifier: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct VerifyBody {
    /// Email, username, phone or service number.
    identifier: String,
    /// The 6-digit code.
    code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ResetBody {
    /// Email, username, phone or service number.
    identifier: String,
    /// The 6-digit code.
    code: String,
    /// The new password: 8 to 256 characters.
    password: String,
    /// The new password again.
    password_confirmation: String,
}

fn mismatch(field: &str) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.to_owned(),
        message: "does not match the new password".to_owned(),
    }])
}

fn ip_text(caller: &Caller) -> String {
    caller
        .ip
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// Log in with an identifier and a password.
#[utoipa::path(
    post,
    path = "/v1/auth/login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "access_token, refresh_token, token_type, expires_in, user, permissions"),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
        (status = 429, description = "LOGIN_LOCKED, with Retry-After", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Response, ApiError> {
    let session = state
        .identity
        .login(
            &caller.tenant,
            &body.identifier,
            &body.password,
            &ip_text(&caller),
        )
        .await?;
    Ok(Json(session).into_response())
}

/// Trade a refresh token for a new pair; each refresh token works once.
#[utoipa::path(
    post,
    path = "/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "access_token, refresh_token, token_type, expires_in, user, permissions"),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Response, ApiError> {
    Ok(Json(state.identity.refresh(&body.refresh_token).await?).into_response())
}

/// End the session a refresh token belongs to.
#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    tag = "auth",
    request_body = RefreshBody,
    responses(
        (status = 204, description = "The session is ended"),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<StatusCode, ApiError> {
    state.identity.logout(&body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(
    get,
    path = "/v1/auth/me",
    tag = "auth",
    responses(
        (status = 200, description = "user, permissions, tenant"),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let principal = caller.principal()?;
    let user = state.identity.me(principal).await?;
    let tenant = state.identity.tenant(&caller.tenant).await?;
    Ok(Json(json!({
        "user": user,
        "permissions": principal.permissions.to_strings(),
        "tenant": tenant,
    }))
    .into_response())
}

/// Change your password; other sessions end.
#[utoipa::path(
    post,
    path = "/v1/auth/password",
    tag = "auth",
    request_body = ChangePasswordBody,
    responses(
        (status = 200, description = "access_token, refresh_token, token_type, expires_in, user, permissions"),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ChangePasswordBody>,
) -> Result<Response, ApiError> {
    if body.new_password != body.new_password_confirmation {
        return Err(mismatch("new_password_confirmation"));
    }
    let session = state
        .identity
        .change_password(
            caller.principal()?,
            &body.current_password,
            &body.new_password,
        )
        .await?;
    Ok(Json(session).into_response())
}

/// Send a reset code to the user's phone or email.
#[utoipa::path(
    post,
    path = "/v1/auth/password/forgot",
    tag = "auth",
    request_body = ForgotBody,
    responses(
        (status = 202, description = "Accepted, whether or not the identifier exists"),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn forgot(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ForgotBody>,
) -> Result<Response, ApiError> {
    state
        .identity
        .request_password_reset(&caller.tenant, &body.identifier)
        .await?;
    // The same answer whether or not the identifier exists; the code is never in it.
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "status": "accepted",
            "detail": "if the identifier is registered, a code valid for 5 minutes was sent",
        })),
    )
        .into_response())
}

/// Check a reset code without using it.
#[utoipa::path(
    post,
    path = "/v1/auth/password/verify",
    tag = "auth",
    request_body = VerifyBody,
    responses(
        (status = 200, description = "{\"valid\": true}"),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<VerifyBody>,
) -> Result<Response, ApiError> {
    state
        .identity
        .verify_reset_code(&caller.tenant, &body.identifier, &body.code)
        .await?;
    Ok(Json(json!({"valid": true})).into_response())
}

/// Set a new password with a reset code.
#[utoipa::path(
    post,
    path = "/v1/auth/password/reset",
    tag = "auth",
    request_body = ResetBody,
    responses(
        (status = 204, description = "The password is set; sessions end"),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn reset(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ResetBody>,
) -> Result<StatusCode, ApiError> {
    if body.password != body.password_confirmation {
        return Err(mismatch("password_confirmation"));
    }
    state
        .identity
        .reset_password(&caller.tenant, &body.identifier, &body.code, &body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The auth routes.
pub(crate) fn routes() -> Routes {
    use Access::{Public, Session};
    Routes::new()
        .add(
            Method::POST,
            "/v1/auth/login",
            Public,
            "Log in with an identifier (email, username, phone or service number) and a password",
            login,
        )
        .add(
            Method::POST,
            "/v1/auth/refresh",
            Public,
            "Trade a refresh token for a new pair (each refresh token works once)",
            refresh,
        )
        .add(
            Method::POST,
            "/v1/auth/logout",
            Public,
            "End the session a refresh token belongs to",
            logout,
        )
        .add(
            Method::GET,
            "/v1/auth/me",
            Session,
            "The signed-in user and their permissions",
            me,
        )
        .add(
            Method::POST,
            "/v1/auth/password",
            Session,
            "Change your password (the current one is required)",
            change_password,
        )
        .add(
            Method::POST,
            "/v1/auth/password/forgot",
            Public,
            "Send a 6-digit reset code to the user's phone or email",
            forgot,
        )
        .add(
            Method::POST,
            "/v1/auth/password/verify",
            Public,
            "Check a reset code without using it",
            verify,
        )
        .add(
            Method::POST,
            "/v1/auth/password/reset",
            Public,
            "Set a new password with a reset code",
            reset,
        )
}
