//! priv_level checks: KAZOO has no built-in per-user restrictions except where a module
//! checks for an account admin (api key reset, impersonation, user-scoped storage).

use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::domain::ids::AccountId;

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
    ctx.state.priv_level(&acc, owner).await
}

pub async fn require_admin(ctx: &Ctx) -> ApiResult<()> {
    if ctx.auth()?.is_superduper() || priv_level(ctx).await? == "admin" {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}
