//! The follow-up's life: its states, the actions on it, and which action leads where.

use super::vocab::vocabulary;

vocabulary!(
    /// Follow-up states.
    FollowUpStatus {
        Open => "open" ["Terbuka", "Open"],
        InReview => "in_review" ["Sedang ditinjau", "In review"],
        Decided => "decided" ["Diputuskan", "Decided"],
        Closed => "closed" ["Selesai", "Closed"],
        Dismissed => "dismissed" ["Dihentikan", "Dismissed"],
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
        Assign => "assign" ["Tugaskan", "Assign"],
        StartReview => "start_review" ["Mulai tinjauan", "Start review"],
        Decide => "decide" ["Putuskan", "Decide"],
        Dismiss => "dismiss" ["Hentikan", "Dismiss"],
        Reopen => "reopen" ["Buka kembali", "Reopen"],
        Close => "close" ["Tutup", "Close"],
        Comment => "comment" ["Komentar", "Comment"],
    }
);

vocabulary!(
    /// What an entry of a follow-up's history records: its raising, findings attached
    /// later, or an action.
    HistoryAction {
        Raise => "raise" ["Diajukan", "Raised"],
        AttachFindings => "attach_findings" ["Temuan ditambahkan", "Findings attached"],
        Assign => "assign" ["Ditugaskan", "Assigned"],
        StartReview => "start_review" ["Tinjauan dimulai", "Review started"],
        Decide => "decide" ["Diputuskan", "Decided"],
        Dismiss => "dismiss" ["Dihentikan", "Dismissed"],
        Reopen => "reopen" ["Dibuka kembali", "Reopened"],
        Close => "close" ["Ditutup", "Closed"],
        Comment => "comment" ["Komentar", "Comment"],
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
        Manual => "manual" ["Manual", "Manual"],
        Auto => "auto" ["Otomatis", "Automatic"],
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
