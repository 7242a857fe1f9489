//! Staff administration: users, roles, lockouts, API keys, and the tenant's settings.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use identity::{Action, Module, NewApiKey, NewUser, Permission, TenantPatch, UserFilter, UserKind};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Access, Caller, Routes};
use crate::body::{JsonBody, PageQuery, Paging, Params};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
struct UserQuery {
    kind: Option<UserKind>,
    role: Option<String>,
    q: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct RolesBody {
    roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    #[serde(default)]
    password: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UnblockBody {
    identifier: String,
    #[serde(default)]
    ip: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RoleBody {
    #[serde(default)]
    description: String,
    permissions: Vec<String>,
}

async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<UserQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(query.page, query.per_page)?;
    let filter = UserFilter {
        kind: query.kind,
        role: query.role,
        q: query.q,
    };
    let (users, total) = state
        .identity
        .users(&caller.tenant, &filter, paging.limit(), paging.offset())
        .await?;
    Ok(Json(paging.page(users, total)).into_response())
}

async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<Response, ApiError> {
    let (user, password) = state
        .identity
        .create_user(caller.principal()?, body)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user": user, "temporary_password": password})),
    )
        .into_response())
}

async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.identity.user(&caller.tenant, &user_id).await?).into_response())
}

async fn set_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<RolesBody>,
) -> Result<Response, ApiError> {
    let user = state
        .identity
        .set_roles(caller.principal()?, &user_id, body.roles)
        .await?;
    Ok(Json(user).into_response())
}

async fn deactivate(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    let user = state
        .identity
        .set_active(caller.principal()?, &user_id, false)
        .await?;
    Ok(Json(user).into_response())
}

async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    let user = state
        .identity
        .set_active(caller.principal()?, &user_id, true)
        .await?;
    Ok(Json(user).into_response())
}

async fn reset_user_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<PasswordBody>,
) -> Result<Response, ApiError> {
    let generated = state
        .identity
        .admin_reset_password(caller.principal()?, &user_id, body.password)
        .await?;
    Ok(
        Json(json!({"must_change_password": true, "temporary_password": generated}))
            .into_response(),
    )
}

async fn lockouts(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    Ok(Json(json!({"data": state.identity.lockouts(&caller.tenant).await?})).into_response())
}

async fn unblock(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<UnblockBody>,
) -> Result<Response, ApiError> {
    let lifted = state
        .identity
        .unblock(caller.principal()?, &body.identifier, body.ip.as_deref())
        .await?;
    Ok(Json(json!({"unblocked": lifted})).into_response())
}

async fn list_roles(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    Ok(Json(json!({"data": state.identity.roles(&caller.tenant).await?})).into_response())
}

async fn put_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(role): Path<String>,
    JsonBody(body): JsonBody<RoleBody>,
) -> Result<Response, ApiError> {
    let role = state
        .identity
        .put_role(
            caller.principal()?,
            &role,
            &body.description,
            &body.permissions,
        )
        .await?;
    Ok(Json(role).into_response())
}

async fn delete_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(role): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .delete_role(caller.principal()?, &role)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<PageQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(query.page, query.per_page)?;
    let (keys, total) = state
        .identity
        .api_keys(&caller.tenant, paging.limit(), paging.offset())
        .await?;
    Ok(Json(paging.page(keys, total)).into_response())
}

async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewApiKey>,
) -> Result<Response, ApiError> {
    let (key, text) = state
        .identity
        .create_api_key(caller.principal()?, body)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"api_key": key, "key": text})),
    )
        .into_response())
}

async fn get_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.identity.api_key(&caller.tenant, &key_id).await?).into_response())
}

async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(
        state
            .identity
            .revoke_api_key(caller.principal()?, &key_id)
            .await?,
    )
    .into_response())
}

async fn get_tenant(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let tenant = state
        .identity
        .tenant(&caller.tenant)
        .await?
        .ok_or_else(|| ApiError::not_found("TENANT_NOT_FOUND", "no such tenant"))?;
    Ok(Json(tenant).into_response())
}

async fn update_tenant(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<TenantPatch>,
) -> Result<Response, ApiError> {
    let actor = caller.principal()?.actor();
    Ok(Json(
        state
            .identity
            .update_tenant(&caller.tenant, body, &actor)
            .await?,
    )
    .into_response())
}

/// The administration routes.
pub(crate) fn routes() -> Routes {
    use Access::{Signed, Staff};
    let users = |action| Staff(Permission::new(Module::Users, action));
    let settings = |action| Staff(Permission::new(Module::Settings, action));
    Routes::new()
        .add(
            Method::GET,
            "/v1/users",
            users(Action::View),
            "List users (filters: kind, role, q; paginated)",
            list_users,
        )
        .add(
            Method::POST,
            "/v1/users",
            users(Action::Create),
            "Create a staff or customer user",
            create_user,
        )
        .add(
            Method::GET,
            "/v1/users/{user_id}",
            users(Action::View),
            "One user",
            get_user,
        )
        .add(
            Method::POST,
            "/v1/users/{user_id}/roles",
            users(Action::Edit),
            "Replace a user's roles",
            set_roles,
        )
        .add(
            Method::POST,
            "/v1/users/{user_id}/deactivate",
            users(Action::Edit),
            "Deactivate a user and end their sessions",
            deactivate,
        )
        .add(
            Method::POST,
            "/v1/users/{user_id}/activate",
            users(Action::Edit),
            "Reactivate a user",
            activate,
        )
        .add(
            Method::POST,
            "/v1/users/{user_id}/password",
            users(Action::Edit),
            "Set a temporary password the user must change",
            reset_user_password,
        )
        .add(
            Method::GET,
            "/v1/auth/lockouts",
            users(Action::View),
            "Identifiers locked after failed logins",
            lockouts,
        )
        .add(
            Method::POST,
            "/v1/auth/lockouts/unblock",
            users(Action::Edit),
            "Lift a login lockout",
            unblock,
        )
        .add(
            Method::GET,
            "/v1/roles",
            users(Action::View),
            "Built-in and custom roles with their permissions",
            list_roles,
        )
        .add(
            Method::PUT,
            "/v1/roles/{role}",
            users(Action::Edit),
            "Define or replace a custom role",
            put_role,
        )
        .add(
            Method::DELETE,
            "/v1/roles/{role}",
            users(Action::Delete),
            "Delete a custom role no user holds",
            delete_role,
        )
        .add(
            Method::GET,
            "/v1/api-keys",
            settings(Action::View),
            "List API keys",
            list_keys,
        )
        .add(
            Method::POST,
            "/v1/api-keys",
            settings(Action::Create),
            "Create an API key (its text is shown once)",
            create_key,
        )
        .add(
            Method::GET,
            "/v1/api-keys/{key_id}",
            settings(Action::View),
            "One API key",
            get_key,
        )
        .add(
            Method::POST,
            "/v1/api-keys/{key_id}/revoke",
            settings(Action::Delete),
            "Revoke an API key",
            revoke_key,
        )
        .add(
            Method::GET,
            "/v1/tenant",
            Signed,
            "The caller's tenant",
            get_tenant,
        )
        .add(
            Method::PATCH,
            "/v1/tenant",
            settings(Action::Edit),
            "Change the tenant's settings: name, time zone, currency, locale, customer code pattern, billing due and suspension days (1-28, suspension after due)",
            update_tenant,
        )
}
