//! The follow-up's life: its states, the actions on it, and which action leads where.

use super::vocab::vocabulary;

vocabulary!(
    /// Follow-up states.
    FollowUpStatus {
        Open => "open",
        InReview => "in_review",
        Decided => "decided",
        Closed => "closed",
        Dismissed => "dismissed",
    }
);

impl FollowUpStatus {
    pub fn is_active(self) -> bool {
        matches!(self, Self::Open | Self::InReview)
    }
}

vocabulary!(
    /// What a reviewer does to a follow-up.
    Action {
        Assign => "assign",
        StartReview => "start_review",
        Decide => "decide",
        Dismiss => "dismiss",
        Reopen => "reopen",
        Close => "close",
        Comment => "comment",
    }
);

vocabulary!(
    /// What an entry of a follow-up's history records: its raising, findings attached
    /// later, or an action.
    HistoryAction {
        Raise => "raise",
        AttachFindings => "attach_findings",
        Assign => "assign",
        StartReview => "start_review",
        Decide => "decide",
        Dismiss => "dismiss",
        Reopen => "reopen",
        Close => "close",
        Comment => "comment",
    }
);

impl From<Action> for HistoryAction {
    fn from(a: Action) -> Self {
        match a {
            Action::Assign => HistoryAction::Assign,
            Action::StartReview => HistoryAction::StartReview,
            Action::Decide => HistoryAction::Decide,
            Action::Dismiss => HistoryAction::Dismiss,
            Action::Reopen => HistoryAction::Reopen,
            Action::Close => HistoryAction::Close,
            Action::Comment => HistoryAction::Comment,
        }
    }
}

vocabulary!(
    /// Who raised a follow-up: a person (`manual`) or the flag rules on submission (`auto`).
    FollowUpSource {
        Manual => "manual",
        Auto => "auto",
    }
);

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
