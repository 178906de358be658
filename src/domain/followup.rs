//! The follow-up's life: its states, the actions on it, and which action leads where.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Follow-up states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpStatus {
    Open,
    InReview,
    Decided,
    Closed,
    Dismissed,
}

impl FollowUpStatus {
    pub const ALL: [FollowUpStatus; 5] = [
        Self::Open,
        Self::InReview,
        Self::Decided,
        Self::Closed,
        Self::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InReview => "in_review",
            Self::Decided => "decided",
            Self::Closed => "closed",
            Self::Dismissed => "dismissed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_active(self) -> bool {
        matches!(self, Self::Open | Self::InReview)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Assign,
    StartReview,
    Decide,
    Dismiss,
    Reopen,
    Close,
    Comment,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assign => "assign",
            Self::StartReview => "start_review",
            Self::Decide => "decide",
            Self::Dismiss => "dismiss",
            Self::Reopen => "reopen",
            Self::Close => "close",
            Self::Comment => "comment",
        }
    }
}

/// The state an action leads to from `from`, or `None` when the state does not allow it.
pub fn transition(from: FollowUpStatus, action: Action) -> Option<FollowUpStatus> {
    use Action as A;
    use FollowUpStatus as S;
    match (from, action) {
        (_, A::Comment) => Some(from),
        (S::Open | S::InReview, A::Assign) => Some(from),
        (S::Open, A::StartReview) => Some(S::InReview),
        (S::InReview, A::Decide) => Some(S::Decided),
        (S::Open | S::InReview, A::Dismiss) => Some(S::Dismissed),
        (S::Decided, A::Close) => Some(S::Closed),
        (S::Dismissed | S::Decided, A::Reopen) => Some(S::Open),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        use Action as A;
        use FollowUpStatus as S;
        assert_eq!(transition(S::Open, A::StartReview), Some(S::InReview));
        assert_eq!(transition(S::InReview, A::Decide), Some(S::Decided));
        assert_eq!(transition(S::Decided, A::Close), Some(S::Closed));
        assert_eq!(transition(S::Open, A::Dismiss), Some(S::Dismissed));
        assert_eq!(transition(S::Dismissed, A::Reopen), Some(S::Open));
        assert_eq!(transition(S::Decided, A::Reopen), Some(S::Open));
        assert_eq!(transition(S::Open, A::Decide), None);
        assert_eq!(transition(S::Closed, A::Reopen), None);
        assert_eq!(transition(S::Closed, A::Comment), Some(S::Closed));
        assert_eq!(transition(S::Decided, A::Dismiss), None);
        assert_eq!(transition(S::InReview, A::StartReview), None);
    }
}
