//! Confirmation before a change: the human answers through MCP elicitation when the client can
//! ask them; otherwise the model must pass `confirm: true` after asking the user itself.
//!
//! Sessions of 2025-11-25 and earlier get a live `elicitation/create` request. Sessions of
//! 2026-07-28 forbid server-to-client requests, so the tool fails with
//! [`ToolError::InputRequired`], which the output layer turns into an `InputRequiredResult`;
//! the client asks the user and retries the call with the answer in `inputResponses`.

use rmcp::{
    RoleServer,
    handler::server::tool::InputResponses,
    model::{ElicitResult, ElicitationAction},
    service::{ElicitationError, RequestContext},
};
use serde::{Deserialize, Serialize};

use crate::error::ToolError;

/// The key of the confirmation in an MRTR round trip.
pub const INPUT_KEY: &str = "confirm";

/// The form the user fills in: one checkbox.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Confirm {
    /// Tick to go ahead.
    pub confirm: bool,
}
rmcp::elicit_safe!(Confirm);

/// Ok when the user (or, without elicitation, the model's `confirm: true`) agreed to `action`.
pub(crate) async fn confirmed(
    context: &RequestContext<RoleServer>,
    responses: InputResponses,
    confirm: bool,
    action: &str,
) -> Result<(), ToolError> {
    let can_elicit = context.client_capabilities().is_some_and(|c| c.elicitation.is_some());
    let modern = context.protocol_version().is_some_and(|v| !v.has_initialize());
    let declined = || ToolError::NotConfirmed { action: action.into() };
    if !can_elicit {
        return if confirm { Ok(()) } else { Err(ToolError::ConfirmationRequired { action: action.into() }) };
    }
    if modern {
        return match responses.0.as_ref().and_then(|r| r.get(INPUT_KEY)) {
            None => Err(ToolError::InputRequired { message: format!("{action}. Go ahead?") }),
            Some(answer) => match serde_json::from_value::<ElicitResult>(answer.clone()) {
                Ok(r) if accepted(&r) => Ok(()),
                _ => Err(declined()),
            },
        };
    }
    match context.peer.elicit::<Confirm>(format!("{action}. Go ahead?")).await {
        Ok(Some(Confirm { confirm: true })) => Ok(()),
        Ok(_) | Err(ElicitationError::UserDeclined) | Err(ElicitationError::UserCancelled) => Err(declined()),
        // The client said it could ask but failed to. The model's own `confirm: true` is no
        // stand-in for the user's answer: nothing runs.
        Err(e) => Err(ToolError::NotConfirmed { action: format!("{action} (asking the user failed: {e})") }),
    }
}

fn accepted(r: &ElicitResult) -> bool {
    matches!(r.action, ElicitationAction::Accept)
        && r.content.as_ref().and_then(|c| c.get(INPUT_KEY)).and_then(|v| v.as_bool()) == Some(true)
}
