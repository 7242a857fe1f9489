//! Who may call what. Every route is registered through [`Routes`] with an [`Access`] rule; one
//! middleware looks the matched route up, authenticates the caller (bearer token or
//! `X-Api-Key`), decides, and hands handlers a [`Caller`]. A route missing from the table is
//! refused for everyone, so a route cannot forget to ask.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderName, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use identity::{Permission, Principal, TokenError};
use schemas::TenantId;

use crate::context::{DEFAULT_TENANT, TENANT};
use crate::{ApiError, AppState};

/// The header an integration sends its API key in.
pub const API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; the tenant comes from `X-Tenant-Id` (default `default`).
    Public,
    /// A signed-in person, also while a password change is pending (me, change password).
    Session,
    /// Any authenticated caller: a person or an API key.
    Signed,
    /// Staff or an API key holding the permission.
    Staff(Permission),
    /// Staff or a key holding the permission, or a customer — whom the handler limits to their
    /// own records through [`Caller::customer_scope`].
    StaffOrCustomer(Permission),
}

impl Access {
    /// How the rule reads in documentation.
    pub fn describe(self) -> String {
        match self {
            Access::Public => "public".into(),
            Access::Session => "a signed-in user".into(),
            Access::Signed => "any authenticated caller".into(),
            Access::Staff(p) => format!("staff or API key with `{p}`"),
            Access::StaffOrCustomer(p) => {
                format!("staff or API key with `{p}`, or a customer for their own records")
            }
        }
    }
}

/// One route's rule.
#[derive(Debug, Clone)]
pub struct RouteAccess {
    /// Its method.
    pub method: Method,
    /// Its path pattern (`/v1/users/{user_id}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// One line about what it does.
    pub summary: &'static str,
}

/// Routes with their access rules. The only way routes enter the API.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    table: Vec<RouteAccess>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("table", &self.table)
            .finish()
    }
}

impl Routes {
    /// No routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `method path` with its rule.
    pub fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        summary: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        self.router = self.router.route(path, on(filter, handler));
        self.table.push(RouteAccess {
            method,
            path,
            access,
            summary,
        });
        self
    }

    /// Adds the routes of `other`.
    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// Every route and its rule.
    pub fn table(&self) -> &[RouteAccess] {
        &self.table
    }

    pub(crate) fn into_parts(self) -> (Router<AppState>, Vec<RouteAccess>) {
        (self.router, self.table)
    }
}

/// The rules by route, for the middleware.
#[derive(Debug, Default)]
pub(crate) struct Policy {
    /// By path pattern, then method.
    rules: HashMap<&'static str, HashMap<Method, Access>>,
}

impl Policy {
    pub(crate) fn new(table: &[RouteAccess]) -> Self {
        let mut rules: HashMap<&'static str, HashMap<Method, Access>> = HashMap::new();
        for route in table {
            rules
                .entry(route.path)
                .or_default()
                .insert(route.method.clone(), route.access);
        }
        Self { rules }
    }
}

/// The caller of a request, as the access middleware decided.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant the request acts in: the principal's, or `X-Tenant-Id` on public routes.
    pub tenant: TenantId,
    /// Who is calling; `None` on public routes.
    pub principal: Option<Principal>,
    /// The address the request came from.
    pub ip: Option<IpAddr>,
}

impl Caller {
    /// The authenticated caller (routes other than public ones always have one).
    pub fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal.as_ref().ok_or_else(|| {
            ApiError::refused(401, "AUTHENTICATION_REQUIRED", "sign in or send an API key")
        })
    }

    /// For a customer, the customer record they may see (their own); `None` for staff and
    /// keys, who see what their permission allows.
    pub fn customer_scope(&self) -> Option<Option<&str>> {
        match self.principal.as_ref().map(|p| &p.subject) {
            Some(identity::Subject::Customer { customer_id, .. }) => Some(customer_id.as_deref()),
            _ => None,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::Internal(
                "a handler asked for the caller on a route without an access rule".into(),
            )
        })
    }
}

#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) state: AppState,
    pub(crate) policy: Arc<Policy>,
}

/// The access middleware: runs on every matched route.
pub(crate) async fn authorize(
    State(gate): State<Gate>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(path) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(request).await;
    };
    let method = if request.method() == Method::HEAD {
        Method::GET
    } else {
        request.method().clone()
    };
    let methods = gate.policy.rules.get(path.as_str());
    let Some(access) = methods.and_then(|m| m.get(&method)).copied() else {
        if methods.is_some() {
            // Another method of a known route: axum answers 405.
            return next.run(request).await;
        }
        tracing::error!(%method, %path, "a route without an access rule was called; refused");
        return ApiError::refused(403, "ROUTE_NOT_AUTHORIZED", "this route has no access rule")
            .into_response();
    };
    let ip = client_ip(&request, &gate.state.trusted_proxies);
    match decide(&gate.state, access, request.headers(), ip).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}

/// The client's address: the socket peer, or — when the peer is a trusted proxy — the nearest
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
fn client_ip(request: &Request, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    forwarded_client(peer, request.headers(), trusted)
}

fn forwarded_client(
    peer: IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    // Right to left: each trusted hop vouches for the one before it; an unreadable hop ends
    // what can be believed.
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// The header proxies append the client address to.
const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

async fn decide(
    state: &AppState,
    access: Access,
    headers: &axum::http::HeaderMap,
    ip: Option<IpAddr>,
) -> Result<Caller, ApiError> {
    let text = |name: &HeaderName| -> Result<Option<&str>, ApiError> {
        headers
            .get(name)
            .map(|v| {
                v.to_str().map_err(|_| {
                    ApiError::bad_header("INVALID_HEADER", format!("{name} is not visible ASCII"))
                })
            })
            .transpose()
    };
    let named_tenant = text(&TENANT)?
        .map(|t| {
            TenantId::parse(t).map_err(|e| ApiError::bad_header("INVALID_TENANT", e.to_string()))
        })
        .transpose()?;
    if access == Access::Public {
        let tenant = match named_tenant {
            Some(t) => t,
            None => TenantId::parse(DEFAULT_TENANT).map_err(|e| ApiError::Internal(Box::new(e)))?,
        };
        return Ok(Caller {
            tenant,
            principal: None,
            ip,
        });
    }
    let bearer = text(&header::AUTHORIZATION)?.map(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or("")
            .trim()
    });
    let key = text(&API_KEY)?;
    let principal = match (bearer, key) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_header(
                "AMBIGUOUS_CREDENTIALS",
                "send either Authorization or X-Api-Key, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::refused(
                401,
                "AUTHENTICATION_REQUIRED",
                "sign in (Authorization: Bearer) or send an API key (X-Api-Key)",
            ));
        }
        (Some(token), None) => state.identity.verify_access(token).map_err(|e| match e {
            TokenError::Expired => {
                ApiError::refused(401, "TOKEN_EXPIRED", "the access token expired; refresh it")
            }
            TokenError::Invalid => {
                ApiError::refused(401, "INVALID_TOKEN", "the access token is not valid")
            }
        })?,
        (None, Some(key)) => state.identity.authenticate_api_key(key, ip).await?,
    };
    if let Some(named) = named_tenant
        && named != principal.tenant
    {
        return Err(ApiError::refused(
            403,
            "TENANT_MISMATCH",
            "X-Tenant-Id names another tenant than your credentials",
        ));
    }
    if principal.must_change_password && access != Access::Session {
        return Err(ApiError::refused(
            403,
            "PASSWORD_CHANGE_REQUIRED",
            "change your password (POST /v1/auth/password) before anything else",
        ));
    }
    let allowed = match access {
        Access::Public | Access::Signed => true,
        Access::Session => principal.user_id().is_some(),
        Access::Staff(p) => principal.can(p),
        Access::StaffOrCustomer(p) => principal.is_customer() || principal.can(p),
    };
    if !allowed {
        let message = match access {
            Access::Staff(p) | Access::StaffOrCustomer(p) => {
                format!("this needs the `{p}` permission")
            }
            _ => "only a signed-in user may do this".to_owned(),
        };
        return Err(ApiError::refused(403, "PERMISSION_DENIED", message));
    }
    Ok(Caller {
        tenant: principal.tenant.clone(),
        principal: Some(principal),
        ip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn forwarded(value: &str) -> axum::http::HeaderMap {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(FORWARDED_FOR, value.parse().expect("header"));
        headers
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted = ["10.0.0.0/8".parse().expect("cidr")];
        let spoofed = forwarded("203.0.113.9");
        // Straight from a client: its own address, whatever it claims.
        assert_eq!(
            forwarded_client(ip("198.51.100.1"), &spoofed, &trusted),
            Some(ip("198.51.100.1"))
        );
        // Through the proxy: the client the proxy saw.
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), &spoofed, &trusted),
            Some(ip("203.0.113.9"))
        );
        // A client that prepends a fake hop is still named by the proxy's own entry.
        let chain = forwarded("1.2.3.4, 203.0.113.9, 10.0.0.3");
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), &chain, &trusted),
            Some(ip("203.0.113.9"))
        );
        // Trusting nothing: the peer.
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), &spoofed, &[]),
            Some(ip("10.0.0.2"))
        );
    }
}
