//! priv_level checks: KAZOO has no built-in per-user restrictions except where a module
//! checks for an account admin (api key reset, impersonation, user-scoped storage).

use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::domain::ids::AccountId;
use serde_json::Value;

/// The caller's priv_level: api_auth tokens (no owner) count as admin
/// (`crossbar_util:get_priv_level`).
pub async fn priv_level(ctx: &Ctx) -> ApiResult<String> {
    let auth = ctx.auth()?;
    let Some(owner) = auth.owner_id() else {
        return Ok("admin".into());
    };
    let Some(acc) = AccountId::parse(auth.account_id()) else {
        return Ok("user".into());
    };
    let user = ctx.state.couch.get(&acc.db(), owner).await?;
    Ok(user
        .as_ref()
        .and_then(|u| u.get("priv_level"))
        .and_then(Value::as_str)
        .unwrap_or("user")
        .to_string())
}

pub async fn require_admin(ctx: &Ctx) -> ApiResult<()> {
    if ctx.auth()?.is_superduper() || priv_level(ctx).await? == "admin" {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}
